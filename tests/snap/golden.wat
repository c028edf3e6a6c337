;; The module of the golden snapshots (tests/snap/golden_v1_*.twsnap).
;; golden.wasm is this file through wat2wasm, committed: the snapshots
;; carry the BLAKE3 digest of exactly those bytes, so never regenerate it
;; (a new module needs new goldens next to the old ones).
(module
  (type $r (func (result i32)))
  (memory (export "memory") 3 16)
  (data (i32.const 0) "hello, snapshot")
  (data (i32.const 70000) "second page")
  (data $p "passive")
  (global $g (mut i32) (i32.const 7))
  (global $h (mut i64) (i64.const 100))
  (global $f (mut f64) (f64.const 1.5))
  (global $fr (mut funcref) (ref.null func))
  (global (export "k") i32 (i32.const 42))
  (table $t (export "table") 4 8 funcref)
  (elem (i32.const 0) $one $two)
  (elem declare func $three)
  (func $one (result i32) i32.const 1)
  (func $two (result i32) i32.const 2)
  (func $three (result i32) i32.const 3)
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load)
  (func (export "g") (result i32) global.get $g)
  (func (export "h") (result i64) global.get $h)
  (func (export "f") (result f64) global.get $f)
  (func (export "call") (param i32) (result i32)
    local.get 0 call_indirect $t (type $r))
  (func (export "call_fr") (result i32)
    (table.set $t (i32.const 3) (global.get $fr))
    (call_indirect $t (type $r) (i32.const 3)))
  (func (export "tsize") (result i32) table.size $t)
  (func (export "msize") (result i32) memory.size)
  (func (export "init") (param i32) (result i32)
    ;; memory.init of the passive segment: traps once it was dropped
    local.get 0 i32.const 0 i32.const 7 memory.init $p i32.const 1)
  ;; The state the golden snapshots hold.
  (func (export "setup")
    (drop (memory.grow (i32.const 1)))           ;; 4 pages
    (i32.store (i32.const 8192) (i32.const 0x11223344))
    (i32.store (i32.const 200000) (i32.const 0x55667788)) ;; page 4 (grown)
    (global.set $g (i32.const 1234))
    (global.set $h (i64.const -5))
    (global.set $f (f64.const 2.75))
    (global.set $fr (ref.func $three))
    (table.set $t (i32.const 2) (ref.func $three))
    (drop (table.grow $t (ref.func $two) (i32.const 2))) ;; 6 elements
    (data.drop $p))
)
