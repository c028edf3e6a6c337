/* The ABI between generated code and the runtime.
 *
 * This header is compiled twice: into the runtime (by the build) and at
 * the top of every generated translation unit (embedded as text, then
 * compiled by libtcc or cc). It therefore includes no system header and
 * uses only built-in C types. Changing a layout here changes the code
 * generator's output: bump TWR_ABI_VERSION so cached code is rebuilt.
 *
 * Calling convention of every WebAssembly function in generated C:
 *     RET fn(struct twr_exec *x, void *env, P1 p1, ..., Pn pn [, twr_val *ret])
 *   - env is the callee's struct twr_inst (or, for a host function bound
 *     to an import, the runtime's binding record);
 *   - 0 results: RET is void; 1 result: RET is that type; 2 or more
 *     results: RET is void and the results are written to ret[0..n-1];
 *   - i32 -> twr_u32, i64 -> twr_u64, f32 -> float, f64 -> double,
 *     v128 -> twr_v128, funcref/externref -> void *.
 */
#ifndef TW_RT_ABI_H
#define TW_RT_ABI_H

#define TWR_ABI_VERSION 5

typedef unsigned char twr_u8;
typedef unsigned short twr_u16;
typedef unsigned int twr_u32;
typedef unsigned long long twr_u64;
typedef signed char twr_i8;
typedef short twr_i16;
typedef int twr_i32;
typedef long long twr_i64;
typedef unsigned long twr_uptr;

typedef struct twr_v128 {
  twr_u64 lo, hi; /* little-endian lanes: byte 0 is the low byte of lo */
} twr_v128;

/* An untyped value slot (globals, invoke arguments, multi-value returns). */
typedef union twr_val {
  twr_u32 i32;
  twr_u64 i64;
  float f32;
  double f64;
  twr_v128 v128;
  void *ref;
} twr_val;

struct twr_exec;
struct twr_func;

/* Calls f (of the type this invoker was made for) with args, writing
 * results. Generated once per module type. */
typedef void (*twr_invoke_fn)(struct twr_exec *x, const struct twr_func *f,
                              const twr_val *args, twr_val *results);

/* A function reference: what funcref values point to and tables hold.
 * Owned by the store; never freed while the store lives, so pointer
 * equality is reference equality. */
struct twr_func {
  const void *fn;       /* typed entry, see the calling convention */
  void *env;            /* passed as env */
  twr_invoke_fn invoke; /* generic entry for the same function */
  twr_u32 type_id;      /* engine-wide canonical function type id */
};

/* A linear memory. base is fixed for the memory's life (an 8 GiB
 * reservation); only size changes. The 4 KiB below base is the memory's
 * poll page: loop headers of code on this memory read its last byte
 * (base[-1]); the runtime makes the page inaccessible to stop a call
 * (struct twr_exec) and turns the fault into the deadline trap. */
struct twr_memory {
  twr_u8 *base;
  twr_u64 size;      /* accessible bytes = pages * 65536 */
  twr_u64 pages;
  twr_u64 max_pages; /* declared maximum, capped by the engine's limit */
};

/* A table: elems[0..size) are funcref (struct twr_func *) or externref
 * pointers; NULL is the null reference. */
struct twr_table {
  void **elems;
  twr_u32 size;
  twr_u32 max;
  twr_u8 reftype;
};

/* A data segment as seen at run time; len becomes 0 after data.drop. */
struct twr_dataseg {
  const twr_u8 *bytes;
  twr_u32 len;
};

/* An element segment, evaluated at instantiation; len 0 after elem.drop. */
struct twr_elemseg {
  void **items;
  twr_u32 len;
};

/* An instance as generated code sees it (the runtime's struct embeds this
 * first). All arrays are indexed by the module's index spaces. */
struct twr_inst {
  twr_u8 *mem0; /* base of memory 0, NULL if none */
  struct twr_memory **memories;
  struct twr_table **tables;
  twr_val **globals;            /* storage of each global */
  const struct twr_func **funcs; /* every function, imports first */
  const twr_u32 *type_ids;       /* module type index -> canonical id */
  struct twr_dataseg *datas;
  struct twr_elemseg *elems;
};

/* Trap codes (equal to tw_trap_kind_t; the runtime asserts it). */
#define TWR_TRAP_UNREACHABLE 1
#define TWR_TRAP_MEMORY_OOB 2
#define TWR_TRAP_DIV_BY_ZERO 3
#define TWR_TRAP_INT_OVERFLOW 4
#define TWR_TRAP_BAD_CONVERSION 5
#define TWR_TRAP_UNDEFINED_ELEMENT 6
#define TWR_TRAP_UNINITIALIZED_ELEMENT 7
#define TWR_TRAP_INDIRECT_CALL_TYPE 8
#define TWR_TRAP_STACK_EXHAUSTED 9
#define TWR_TRAP_TABLE_OOB 10
#define TWR_TRAP_DEADLINE 11
/* Never raised by generated code: a stopped call (see struct twr_exec)
 * whose store was interrupted (tw_store_interrupt) is reported with this
 * code by the runtime. Listed here so the runtime's table of codes stays
 * checked against tw_trap_kind_t. */
#define TWR_TRAP_INTERRUPTED 14

/* Services generated code calls. Every function that can trap does so by
 * not returning (it unwinds to the protected call). Indexes are the
 * module's. */
struct twr_rt {
  void (*trap)(struct twr_exec *x, int code);
  /* Called by import thunks: runs the host function bound in `binding`. */
  void (*call_host)(struct twr_exec *x, void *binding, const twr_val *args,
                    twr_val *results);
  twr_u32 (*memory_grow)(struct twr_exec *x, struct twr_inst *in,
                         twr_u32 mem, twr_u32 delta_pages);
  void (*memory_fill)(struct twr_exec *x, struct twr_inst *in, twr_u32 mem,
                      twr_u32 dst, twr_u32 val, twr_u32 n);
  void (*memory_copy)(struct twr_exec *x, struct twr_inst *in,
                      twr_u32 dst_mem, twr_u32 src_mem, twr_u32 dst,
                      twr_u32 src, twr_u32 n);
  void (*memory_init)(struct twr_exec *x, struct twr_inst *in, twr_u32 mem,
                      twr_u32 seg, twr_u32 dst, twr_u32 src, twr_u32 n);
  void (*data_drop)(struct twr_exec *x, struct twr_inst *in, twr_u32 seg);
  void *(*table_get)(struct twr_exec *x, struct twr_inst *in, twr_u32 tab,
                     twr_u32 i);
  void (*table_set)(struct twr_exec *x, struct twr_inst *in, twr_u32 tab,
                    twr_u32 i, void *ref);
  twr_u32 (*table_grow)(struct twr_exec *x, struct twr_inst *in,
                        twr_u32 tab, void *init, twr_u32 delta);
  void (*table_fill)(struct twr_exec *x, struct twr_inst *in, twr_u32 tab,
                     twr_u32 i, void *ref, twr_u32 n);
  void (*table_copy)(struct twr_exec *x, struct twr_inst *in,
                     twr_u32 dst_tab, twr_u32 src_tab, twr_u32 dst,
                     twr_u32 src, twr_u32 n);
  void (*table_init)(struct twr_exec *x, struct twr_inst *in, twr_u32 tab,
                     twr_u32 seg, twr_u32 dst, twr_u32 src, twr_u32 n);
  void (*elem_drop)(struct twr_exec *x, struct twr_inst *in, twr_u32 seg);
};

/* Per-call execution state, one per protected call on a thread. The
 * runtime's struct embeds this first; generated code reads only these
 * fields.
 *
 * stack_limit is also the deadline: to stop a call, the runtime (the
 * engine's timer thread once the deadline passes, or tw_store_interrupt)
 * stores TWR_STOPPED here and arms the poll pages of the memories of the
 * call's store (struct twr_memory). Every function entry that checks the
 * stack then fails its check, so one word serves both checks and a
 * deadline costs no separate poll at entry; every loop header reads the
 * poll page of memory 0 (one load, no branch) or, in a module without
 * memory, compares the word with TWR_STOPPED. The trap handler tells the
 * causes apart by the word's value. The word is read with a volatile
 * access (or an asm memory operand) at every check, since another thread
 * may store to it while the call runs; an
 * aligned pointer-sized store is single-copy atomic on x86-64 and
 * aarch64, so a check sees the old limit or TWR_STOPPED, never a mix.
 * (Version 3: was an epoch pointer and a deadline polled separately;
 * version 4 adds the poll pages, version 5 TWR_FRAME_SLACK.) */
#define TWR_STOPPED (~(twr_uptr)0)
/* stack_limit already counts this many bytes of frame: a function whose
 * frame is estimated at most TWR_FRAME_SLACK checks `sp < stack_limit`,
 * a larger one `sp - (frame - TWR_FRAME_SLACK) < stack_limit`. */
#define TWR_FRAME_SLACK 4096
struct twr_exec {
  const struct twr_rt *rt;
  volatile twr_uptr stack_limit; /* trap if the stack would grow below */
};

/* What a compiled module provides: twm_entry(struct twr_code *) fills the
 * arrays the runtime allocated (sized by the module's counts). */
struct twr_code {
  twr_u32 abi_version;      /* set by twm_entry to TWR_ABI_VERSION */
  const void **funcs;       /* [nfuncs] typed entries of defined funcs */
  twr_invoke_fn *invokers;  /* [ntypes] one invoker per module type */
  const void **import_thunks; /* [nfunc_imports] typed thunks that call
                                 x->rt->call_host(x, env, ...) */
};

#define TWR_ENTRY_SYMBOL "twm_entry"

#endif
