;; Fixture: a WASI-style command with a _start that returns nothing.
(module
  (func (export "_start")))
