;; Functions that trap: the CLI prints "trap: <the spec's message>" on
;; stderr and exits 1; the process survives every one of them.
;;   tensor-wasm run examples/trap.wat --invoke div --args '[7, 0]'   -> trap: integer divide by zero
;;   tensor-wasm run examples/trap.wat --invoke div --args '[-2147483648, -1]'  -> trap: integer overflow
;;   tensor-wasm run examples/trap.wat --invoke unreachable           -> trap: unreachable
;;   tensor-wasm run examples/trap.wat --invoke oob                   -> trap: out of bounds memory access
;;   tensor-wasm run examples/trap.wat --invoke recurse               -> trap: call stack exhausted
(module
  (memory 1)
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "unreachable")
    (unreachable))
  (func (export "oob") (result i32)
    (i32.load (i32.const 65536)))
  (func $recurse (export "recurse")
    (call $recurse)))
