;; The smallest useful module: one exported function adding two i32s.
;;   tensor-wasm run examples/add.wat --invoke add --args '[2,3]'   -> [5]
(module
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    local.get $a
    local.get $b
    i32.add))
