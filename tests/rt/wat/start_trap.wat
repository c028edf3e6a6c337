(module
  (import "p" "mem" (memory 1))
  (func $s (i32.store8 (i32.const 300) (i32.const 5)) (unreachable))
  (start $s))
