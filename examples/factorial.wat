;; Factorial three ways: recursive over i64 (wraps modulo 2^64 past 20!),
;; iterative over i64, and over f64 (approximate, overflows to inf past
;; 170!).
;;   tensor-wasm run examples/factorial.wat --invoke fac --args '[20]'      -> [2432902008176640000]
;;   tensor-wasm run examples/factorial.wat --invoke fac_f64 --args '[25]'  -> [1.5511210043330984e+25]
(module
  (func $fac (export "fac") (param $n i64) (result i64)
    (if (result i64) (i64.le_u (local.get $n) (i64.const 1))
      (then (i64.const 1))
      (else
        (i64.mul (local.get $n)
                 (call $fac (i64.sub (local.get $n) (i64.const 1)))))))

  (func (export "fac_iter") (param $n i64) (result i64)
    (local $acc i64)
    (local.set $acc (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i64.le_u (local.get $n) (i64.const 1)))
        (local.set $acc (i64.mul (local.get $acc) (local.get $n)))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $next)))
    (local.get $acc))

  (func (export "fac_f64") (param $n f64) (result f64)
    (local $acc f64)
    (local.set $acc (f64.const 1))
    (block $done
      (loop $next
        (br_if $done (f64.le (local.get $n) (f64.const 1)))
        (local.set $acc (f64.mul (local.get $acc) (local.get $n)))
        (local.set $n (f64.sub (local.get $n) (f64.const 1)))
        (br $next)))
    (local.get $acc)))
