;; Fixture: well-formed text but an invalid module (the body leaves no i32
;; on the stack). The text converter does not validate; ours must refuse.
(module
  (func (export "f") (result i32)))
