;; A second module for tests/snap/corrupt_wrong_module.twsnap (same shape
;; as golden.wat, different bytes). other.wasm is committed with it.
(module
  (memory (export "memory") 3 16)
  (data (i32.const 0) "another module")
  (func (export "load") (param i32) (result i32) local.get 0 i32.load))
