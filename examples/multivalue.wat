;; Multi-value: functions and blocks with more than one result.
;;   tensor-wasm run examples/multivalue.wat --invoke divmod --args '[17, 5]'   -> [3,2]
;;   tensor-wasm run examples/multivalue.wat --invoke swap --args '[1, 2.5]'    -> [2.5,1]
(module
  (func (export "divmod") (param $a i32) (param $b i32) (result i32 i32)
    (i32.div_u (local.get $a) (local.get $b))
    (i32.rem_u (local.get $a) (local.get $b)))

  ;; A block yields two values; a call consumes both and returns them
  ;; swapped.
  (func (export "swap") (param $x i64) (param $y f64) (result f64 i64)
    (block (result i64 f64)
      (local.get $x)
      (local.get $y))
    (call $flip))

  (func $flip (param $x i64) (param $y f64) (result f64 i64)
    (local.get $y)
    (local.get $x)))
