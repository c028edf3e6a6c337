(module
  (import "p" "tab" (table 4 funcref))
  (func $f (param i32) (result i32) (i32.const 9))
  (elem (i32.const 2) $f)
  (elem (i32.const 3) $f $f))
