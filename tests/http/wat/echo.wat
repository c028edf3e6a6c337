;; A WASI command for handler mode: copies stdin to stdout; when the input
;; is empty it writes "empty" and exits with status 404.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 512) "empty")
  (func (export "_start")
    (local $n i32) (local $total i32)
    (block $done
      (loop $again
        ;; iovec at 0: buffer at 1024, 64000 bytes
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 64000))
        (br_if $done (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1)
                                    (i32.const 16)))
        (local.set $n (i32.load (i32.const 16)))
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $total (i32.add (local.get $total) (local.get $n)))
        (i32.store (i32.const 32) (i32.const 1024))
        (i32.store (i32.const 36) (local.get $n))
        (drop (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1)
                              (i32.const 48)))
        (br $again)))
    (if (i32.eqz (local.get $total))
      (then
        (i32.store (i32.const 32) (i32.const 512))
        (i32.store (i32.const 36) (i32.const 5))
        (drop (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1)
                              (i32.const 48)))
        (call $proc_exit (i32.const 404))))))
