;; Linear memory: stores and loads, memory.size / memory.grow, and a loop
;; that fills an array of i32s and sums it.
;;   tensor-wasm run examples/memory.wat --invoke store_load --args '[1024, 42]'  -> [42]
;;   tensor-wasm run examples/memory.wat --invoke grow --args '[2]'               -> [1]   (old size in pages)
;;   tensor-wasm run examples/memory.wat --invoke sum --args '[1000]'             -> [499500]
;;   tensor-wasm run examples/memory.wat --invoke sum --args '[100000]'           -> [4999950000]  (grows memory first)
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "Hello, TensorWasm!")

  ;; Stores val at addr, reads it back.
  (func (export "store_load") (param $addr i32) (param $val i32) (result i32)
    (i32.store (local.get $addr) (local.get $val))
    (i32.load (local.get $addr)))

  ;; The first byte of the greeting placed by the data segment ('H' = 72).
  (func (export "first_byte") (result i32)
    (i32.load8_u (i32.const 0)))

  (func (export "size") (result i32)
    (memory.size))

  ;; Returns the previous size in pages, or -1 when the memory cannot grow.
  (func (export "grow") (param $pages i32) (result i32)
    (memory.grow (local.get $pages)))

  ;; Writes 0, 1, ..., n-1 as i32s from address 0 (growing memory when the
  ;; array does not fit), then sums them into an i64.
  (func (export "sum") (param $n i32) (result i64)
    (local $i i32) (local $need i32) (local $acc i64)
    ;; pages needed = ceil(n * 4 / 65536)
    (local.set $need
      (i32.shr_u (i32.add (i32.shl (local.get $n) (i32.const 2))
                          (i32.const 65535))
                 (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size)))
                    (i32.const -1))
          (then (unreachable)))))
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.shl (local.get $i) (i32.const 2)) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (local.set $i (i32.const 0))
    (block $summed
      (loop $add
        (br_if $summed (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc
          (i64.add (local.get $acc)
                   (i64.extend_i32_u
                     (i32.load (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $add)))
    (local.get $acc)))
