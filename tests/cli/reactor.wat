;; Fixture: a reactor. _initialize must run exactly once before "get".
(module
  (global $n (mut i32) (i32.const 0))
  (func (export "_initialize")
    (global.set $n (i32.add (global.get $n) (i32.const 1))))
  (func (export "get") (result i32) (global.get $n)))
