;; One function per trap kind.
(module
  (type $v (func))
  (type $i (func (param i32) (result i32)))
  (memory 1)
  (table $t 3 funcref)
  (table $e 1 externref)
  (elem (table $t) (i32.const 0) func $nop $idi)
  (func $nop)
  (func $idi (param i32) (result i32) (local.get 0))
  (func (export "unreachable") (unreachable))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store_off") (param i32) (i64.store offset=4294967295 (local.get 0) (i64.const 1)))
  (func (export "div0") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "overflow") (param i32) (result i32) (i32.div_s (local.get 0) (i32.const -1)))
  (func (export "conv") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func (export "call_ind") (param i32) (call_indirect (type $v) (local.get 0)))
  (func (export "table_get") (param i32) (result externref) (table.get $e (local.get 0)))
  (func (export "fill") (param i32 i32) (memory.fill (local.get 0) (i32.const 0) (local.get 1)))
  (func $rec (export "recurse") (param i32) (result i32)
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "spin") (loop $l (br $l)))
  ;; 1 + 2 + ... + n through memory: a loop on memory 0, whose header
  ;; reads the poll page; after a deadline trap it must run as before.
  (func (export "count") (param i32) (result i32)
    (i32.store (i32.const 64) (i32.const 0))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get 0)))
        (i32.store (i32.const 64)
          (i32.add (i32.load (i32.const 64)) (local.get 0)))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $l)))
    (i32.load (i32.const 64)))
  ;; Loops whose every iteration calls: $calls checks at its entry, so the
  ;; loop has no header check of its own; $nop has none, so the loop does.
  (func $calls (call $nop))
  (func (export "spin_call") (loop $l (call $calls) (br $l)))
  (func (export "spin_leaf") (loop $l (call $nop) (br $l)))
  ;; A branch back before the call: the header check stays.
  (func (export "spin_branch_first") (param i32)
    (loop $l (br_if $l (local.get 0)) (call $calls) (br $l)))
  (func (export "ok") (result i32) (i32.const 42)))
