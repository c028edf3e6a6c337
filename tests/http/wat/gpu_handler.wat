;; A handler-mode (WASI command) function that imports wasi:cuda: it runs
;; in the tenant's GPU worker. Syncs (nothing launched: 0), then writes
;; "gpu ok: " and echoes stdin (up to 1 KiB); exits 1 if the sync failed.
(module
  (import "wasi:cuda/host@0.2.0" "wasi_cuda_sync" (func $sync (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "gpu ok: ")
  (func (export "_start")
    (local $n i32)
    (if (call $sync) (then (call $exit (i32.const 1))))
    ;; read stdin into [256, 1280): iovec at 64, count at 80
    (i32.store (i32.const 64) (i32.const 256))
    (i32.store (i32.const 68) (i32.const 1024))
    (drop (call $fd_read (i32.const 0) (i32.const 64) (i32.const 1)
                         (i32.const 80)))
    (local.set $n (i32.load (i32.const 80)))
    ;; write the prefix and what was read: two iovecs at 96
    (i32.store (i32.const 96) (i32.const 0))
    (i32.store (i32.const 100) (i32.const 8))
    (i32.store (i32.const 104) (i32.const 256))
    (i32.store (i32.const 108) (local.get $n))
    (drop (call $fd_write (i32.const 1) (i32.const 96) (i32.const 2)
                          (i32.const 120)))))
