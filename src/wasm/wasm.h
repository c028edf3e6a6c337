/* The module IR: what the decoder produces from .wasm bytes, the validator
 * checks, and the code generator and runtime read.
 *
 * Ownership: a struct tw__module owns every array hanging off it and a
 * private copy of the module bytes (code bodies and data segments point
 * into that copy). tw__module_free() releases all of it.
 *
 * Limits: every count read from the binary is checked against the
 * TW_LIMIT_* below before anything is allocated for it; docs/LIMITS.md
 * lists them with their reasons.
 */
#ifndef TW_WASM_H
#define TW_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wasm/opcodes.h"

/* Value types, as encoded in the binary format. */
enum tw_valtype_code {
  TW_T_I32 = 0x7f,
  TW_T_I64 = 0x7e,
  TW_T_F32 = 0x7d,
  TW_T_F64 = 0x7c,
  TW_T_V128 = 0x7b,
  TW_T_FUNCREF = 0x70,
  TW_T_EXTERNREF = 0x6f,
};

/* External kinds (import/export descriptors). */
enum tw__extern_kind { /* not tw_extern_kind: tw.h has that tag */
  TW_EXTERN_FUNC = 0,
  TW_EXTERN_TABLE = 1,
  TW_EXTERN_MEMORY = 2,
  TW_EXTERN_GLOBAL = 3,
};

/* Limits on what a module may declare. Chosen to be far above what real
 * toolchains emit while bounding memory use and codegen time; a module
 * over one is refused with TW_ELIMIT and a message naming it. */
#define TW_LIMIT_MODULE_BYTES (256u << 20)
#define TW_LIMIT_TYPES 100000u
#define TW_LIMIT_FUNC_PARAMS 1000u
#define TW_LIMIT_FUNC_RESULTS 1000u
#define TW_LIMIT_IMPORTS 100000u
#define TW_LIMIT_FUNCS 1000000u
#define TW_LIMIT_TABLES 100000u
#define TW_LIMIT_MEMORIES 1u /* 2.0: one memory */
#define TW_LIMIT_GLOBALS 1000000u
#define TW_LIMIT_EXPORTS 100000u
#define TW_LIMIT_ELEM_SEGMENTS 100000u
#define TW_LIMIT_ELEM_ITEMS 10000000u
#define TW_LIMIT_DATA_SEGMENTS 100000u
#define TW_LIMIT_LOCALS 50000u /* per function, params included */
#define TW_LIMIT_FUNC_BODY_BYTES (7654321u)
#define TW_LIMIT_BLOCK_DEPTH 1024u  /* nesting of block/loop/if */
#define TW_LIMIT_BR_TABLE 1000000u  /* labels in one br_table */
#define TW_LIMIT_NAME_BYTES 100000u /* one import/export/custom name */
#define TW_LIMIT_TABLE_ELEMS 10000000u
#define TW_LIMIT_MEMORY_PAGES 65536u /* 4 GiB, the 32-bit maximum */

struct tw__functype {
  uint32_t nparams;
  uint32_t nresults;
  uint8_t *types; /* nparams parameter types, then nresults result types */
};

struct tw__limits {
  uint64_t min;
  uint64_t max;
  bool has_max;
};

struct tw__tabletype {
  uint8_t reftype; /* TW_T_FUNCREF or TW_T_EXTERNREF */
  struct tw__limits limits;
};

struct tw__globaltype {
  uint8_t type;
  bool mutable_;
};

/* A constant expression: in 2.0 exactly one instruction before `end`. */
enum tw_init_kind {
  TW_INIT_CONST,      /* value.bits / value.v128 of type `type` */
  TW_INIT_REF_NULL,   /* null of reference type `type` */
  TW_INIT_REF_FUNC,   /* funcref to function `index` */
  TW_INIT_GLOBAL_GET, /* value of (imported) global `index` */
  /* Well-formed but not valid; the decoder records them and the
   * validator reports them (the spec classes these as invalid):
   * NONCONST: an instruction that is not constant ("constant expression
   * required"); ARITY: no value or more than one ("type mismatch").
   * `index` holds the byte offset of the offending instruction. */
  TW_INIT_NONCONST,
  TW_INIT_ARITY,
};

struct tw__init {
  uint8_t kind; /* enum tw_init_kind */
  uint8_t type; /* the expression's value type */
  uint32_t index;
  union {
    uint64_t bits; /* i32/f32 in the low 32 bits; i64/f64 whole */
    uint8_t v128[16];
  } value;
};

struct tw__import {
  char *module; /* NUL-terminated copies; may contain NULs: use *_len */
  uint32_t module_len;
  char *name;
  uint32_t name_len;
  uint8_t kind; /* enum tw__extern_kind */
  union {
    uint32_t func_type; /* type index */
    struct tw__tabletype table;
    struct tw__limits memory;
    struct tw__globaltype global;
  } desc;
};

struct tw__export {
  char *name; /* NUL-terminated copy; use name_len */
  uint32_t name_len;
  uint8_t kind;
  uint32_t index;
};

struct tw__global {
  struct tw__globaltype type;
  struct tw__init init;
};

/* A function defined in the module (imports are not in this array). */
struct tw__func {
  uint32_t type;         /* type index */
  uint32_t nlocals;      /* declared locals, params excluded */
  uint8_t *local_types;  /* nlocals types, expanded */
  const uint8_t *code;   /* first instruction (after the locals) */
  const uint8_t *end;    /* one past the function's final `end` */
  uint32_t body_offset;  /* byte offset of the body size field, for errors */
};

enum tw_seg_mode {
  TW_SEG_ACTIVE,
  TW_SEG_PASSIVE,
  TW_SEG_DECLARATIVE, /* elements only */
};

struct tw__elem {
  uint8_t mode;
  uint8_t reftype;
  uint32_t table;        /* active only */
  struct tw__init offset; /* active only: an i32 expression */
  uint32_t count;
  struct tw__init *items; /* count expressions of type reftype */
};

struct tw__data {
  uint8_t mode; /* active or passive */
  uint32_t memory;
  struct tw__init offset; /* active only */
  const uint8_t *bytes;   /* points into the module's copy of the binary */
  uint32_t len;
};

struct tw__module {
  uint8_t *bytes; /* owned copy of the binary */
  size_t size;

  struct tw__functype *types;
  uint32_t ntypes;

  struct tw__import *imports;
  uint32_t nimports;
  /* counts of imports by kind; imported entities come first in each
   * index space */
  uint32_t nfunc_imports, ntable_imports, nmemory_imports, nglobal_imports;

  struct tw__func *funcs; /* defined functions */
  uint32_t nfuncs;

  struct tw__tabletype *tables; /* defined tables */
  uint32_t ntables;

  struct tw__limits *memories; /* defined memories */
  uint32_t nmemories;

  struct tw__global *globals; /* defined globals */
  uint32_t nglobals;

  struct tw__export *exports;
  uint32_t nexports;

  bool has_start;
  uint32_t start;

  struct tw__elem *elems;
  uint32_t nelems;

  struct tw__data *datas;
  uint32_t ndatas;

  bool has_datacount;
  uint32_t datacount;

  /* From the "name" custom section, for diagnostics only; NULL entries
   * where the module gives none. Indexed by function index (imports
   * included). Malformed name sections are ignored, as the spec asks. */
  char **func_names;
  char *module_name;
};

/* Whole-index-space helpers (imports first, then definitions). */
uint32_t tw__module_func_count(const struct tw__module *m);
uint32_t tw__module_func_type(const struct tw__module *m, uint32_t funcidx);
uint32_t tw__module_table_count(const struct tw__module *m);
const struct tw__tabletype *tw__module_table(const struct tw__module *m,
                                             uint32_t tableidx);
uint32_t tw__module_memory_count(const struct tw__module *m);
const struct tw__limits *tw__module_memory(const struct tw__module *m,
                                           uint32_t memidx);
uint32_t tw__module_global_count(const struct tw__module *m);
const struct tw__globaltype *tw__module_global(const struct tw__module *m,
                                               uint32_t globalidx);

/* Decodes `size` bytes into *out (allocated here; freed with
 * tw__module_free). Structural checks only: section order and sizes,
 * LEB128 encodings, counts against the limits, UTF-8 names, function and
 * code section counts agreeing, data count agreeing. Function bodies are
 * split into locals and code here; their instructions are checked by
 * tw__module_validate. On failure returns TW_EMALFORMED or TW_ELIMIT (or
 * TW_ENOMEM), fills err with a message naming the section and byte offset,
 * and leaves *out NULL. */
int tw__module_decode(const uint8_t *bytes, size_t size,
                      struct tw__module **out, char *err, size_t errlen);

/* Type-checks everything: function bodies (every instruction, 2.0 with
 * SIMD), constant expressions, indexes, limits, start function, export
 * name uniqueness, ref.func declarations. Returns 0, or TW_EINVALID with a
 * message naming the function index and byte offset. Some malformations are
 * only discoverable while reading instructions (an unknown opcode, a bad
 * LEB128, a missing `end`): those return TW_EMALFORMED. */
int tw__module_validate(const struct tw__module *m, char *err, size_t errlen);

void tw__module_free(struct tw__module *m);

/* Returns the function's name from the name section, or NULL. */
const char *tw__module_func_name(const struct tw__module *m, uint32_t funcidx);

/* ---- Instruction reader ----
 * One decoder of instruction encodings, shared by the validator and the
 * code generator (nothing else decodes instruction bytes). */

enum tw_blocktype_kind {
  TW_BLOCK_EMPTY, /* [] -> [] */
  TW_BLOCK_VAL,   /* [] -> [valtype] */
  TW_BLOCK_TYPE,  /* a function type index */
};

struct tw__instr {
  uint16_t op;     /* enum tw_op */
  uint32_t offset; /* byte offset of the opcode within the module */
  /* immediates, filled according to the opcode's enum tw_imm */
  uint8_t bt_kind; /* blocktype */
  uint8_t bt_val;  /* TW_BLOCK_VAL: the value type */
  uint32_t idx;    /* TW_BLOCK_TYPE: type index; see enum tw_imm */
  uint32_t idx2;
  uint32_t align; /* memarg: log2 alignment as encoded */
  uint32_t offs;  /* memarg: static offset */
  uint8_t lane;
  uint8_t reftype;      /* ref.null; select t: the one type */
  uint32_t select_count; /* select t: number of types given */
  uint32_t ntargets;     /* br_table: labels before the default */
  const uint32_t *targets; /* br_table: reader-owned, valid until next read */
  uint64_t i64; /* i32/i64/f32/f64 constants as bits (i32 sign-extended) */
  uint8_t bytes[16]; /* v128.const, i8x16.shuffle lanes */
};

struct tw__reader {
  const uint8_t *base; /* module start, for offsets in messages */
  const uint8_t *p;
  const uint8_t *end;
  uint32_t *targets; /* br_table scratch, grown as needed, bounded */
  uint32_t targets_cap;
};

void tw__reader_init(struct tw__reader *r, const uint8_t *base,
                     const uint8_t *p, const uint8_t *end);
void tw__reader_close(struct tw__reader *r);

/* Reads one instruction at r->p and advances past it. Returns 0, or
 * TW_EMALFORMED / TW_ELIMIT / TW_ENOMEM with err naming the offset and the
 * problem ("byte 0x4f2: unknown opcode 0xfd 0x99"). */
int tw__reader_next(struct tw__reader *r, struct tw__instr *in, char *err,
                    size_t errlen);

/* Static facts about an opcode; NULL / 0 for ids that are not opcodes. */
const char *tw__op_name(unsigned op); /* "i32.add" */
const char *tw__op_sig(unsigned op);  /* "ii:i" or NULL; see opcodes.h */
unsigned tw__op_imm(unsigned op);     /* enum tw_imm */
unsigned tw__op_width(unsigned op);   /* bytes accessed; 0 if none */
bool tw__op_valid(unsigned op);

const char *tw__valtype_name(uint8_t t); /* "i32", ... , "?" */

#endif
