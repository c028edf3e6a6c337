;; Writes into the imported table and memory, then a data segment is out
;; of bounds: instantiation fails but the earlier writes stay.
(module
  (import "p" "tab" (table 4 funcref))
  (import "p" "mem" (memory 1))
  (func $seven (param i32) (result i32) (i32.const 7))
  (elem (i32.const 3) $seven)
  (data (i32.const 200) "\63")
  (data (i32.const 65535) "xy"))
