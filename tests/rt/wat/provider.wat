;; Exports one of each kind; the start function records that it ran.
(module
  (memory (export "mem") 1 4)
  (table (export "tab") 4 8 funcref)
  (global $started (export "started") (mut i32) (i32.const 0))
  (global (export "k") f64 (f64.const 2.5))
  (func $double (export "double") (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 2)))
  (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "call_tab") (param i32 i32) (result i32)
    (call_indirect (param i32) (result i32) (local.get 1) (local.get 0)))
  (elem (i32.const 0) $double)
  (func $start (global.set $started (i32.const 1)))
  (start $start))
