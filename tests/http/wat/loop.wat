;; Guests that misbehave, for the service's tests.
(module
  (memory 1)
  ;; Never returns: only the deadline stops it.
  (func (export "spin") (loop $l (br $l)))
  ;; Grows memory a page at a time until memory.grow fails, then traps.
  (func (export "hog") (result i32)
    (loop $l
      (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable)
  ;; Keeps state between calls if instances were reused without reset.
  (global $calls (mut i32) (i32.const 0))
  (func (export "count") (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (global.get $calls))
  ;; Sums 0..n-1 (wrapping): slow for a large n, and pure.
  (func (export "slow") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $s))
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1))))
