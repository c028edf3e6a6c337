;; Fixture: a syntax error on line 4, column 5.
(module
  (func (export "f") (result i32)
    i32.konst 1))
