/* The WebAssembly 2.0 instruction set, written once.
 *
 * Each row: OP(SYM, ID, IMM, SIG, WIDTH)
 *   SYM   C suffix of the enum constant (TW_OP_SYM) and the source of its
 *         text name (tw__op_name): '_' before a lower-case word separates
 *         type from operation ("I32_ADD" prints "i32.add").
 *   ID    opcode number: one-byte opcodes as themselves, 0xFC-prefixed ones
 *         as 0x100 + sub-opcode, 0xFD-prefixed (SIMD) ones as 0x200 + sub.
 *   IMM   which immediates follow (enum tw_imm).
 *   SIG   for instructions whose typing is fixed, "PARAMS:RESULTS" with one
 *         letter per value (i=i32 l=i64 f=f32 d=f64 v=v128); NULL where the
 *         validator types the instruction itself (control, variables,
 *         references, tables, select, drop...).
 *   WIDTH bytes accessed by a memory instruction (its natural alignment is
 *         log2 of this); 0 for the rest.
 *
 * Adding an instruction means adding a row here and nothing else in the
 * decoder; the validator and the code generator switch on TW_OP_* where
 * the signature is NULL or the semantics need it.
 */
#ifndef TW_WASM_OPCODES_H
#define TW_WASM_OPCODES_H

#define TW_FOR_EACH_OP(OP)                                                  \
  /* control */                                                             \
  OP(UNREACHABLE, 0x00, TW_IMM_NONE, NULL, 0)                               \
  OP(NOP, 0x01, TW_IMM_NONE, NULL, 0)                                       \
  OP(BLOCK, 0x02, TW_IMM_BLOCKTYPE, NULL, 0)                                \
  OP(LOOP, 0x03, TW_IMM_BLOCKTYPE, NULL, 0)                                 \
  OP(IF, 0x04, TW_IMM_BLOCKTYPE, NULL, 0)                                   \
  OP(ELSE, 0x05, TW_IMM_NONE, NULL, 0)                                      \
  OP(END, 0x0b, TW_IMM_NONE, NULL, 0)                                       \
  OP(BR, 0x0c, TW_IMM_LABEL, NULL, 0)                                       \
  OP(BR_IF, 0x0d, TW_IMM_LABEL, NULL, 0)                                    \
  OP(BR_TABLE, 0x0e, TW_IMM_BR_TABLE, NULL, 0)                              \
  OP(RETURN, 0x0f, TW_IMM_NONE, NULL, 0)                                    \
  OP(CALL, 0x10, TW_IMM_FUNC, NULL, 0)                                      \
  OP(CALL_INDIRECT, 0x11, TW_IMM_CALL_INDIRECT, NULL, 0)                    \
  /* parametric */                                                          \
  OP(DROP, 0x1a, TW_IMM_NONE, NULL, 0)                                      \
  OP(SELECT, 0x1b, TW_IMM_NONE, NULL, 0)                                    \
  OP(SELECT_T, 0x1c, TW_IMM_SELECT_T, NULL, 0)                              \
  /* variables */                                                           \
  OP(LOCAL_GET, 0x20, TW_IMM_LOCAL, NULL, 0)                                \
  OP(LOCAL_SET, 0x21, TW_IMM_LOCAL, NULL, 0)                                \
  OP(LOCAL_TEE, 0x22, TW_IMM_LOCAL, NULL, 0)                                \
  OP(GLOBAL_GET, 0x23, TW_IMM_GLOBAL, NULL, 0)                              \
  OP(GLOBAL_SET, 0x24, TW_IMM_GLOBAL, NULL, 0)                              \
  OP(TABLE_GET, 0x25, TW_IMM_TABLE, NULL, 0)                                \
  OP(TABLE_SET, 0x26, TW_IMM_TABLE, NULL, 0)                                \
  /* memory */                                                              \
  OP(I32_LOAD, 0x28, TW_IMM_MEMARG, "i:i", 4)                               \
  OP(I64_LOAD, 0x29, TW_IMM_MEMARG, "i:l", 8)                               \
  OP(F32_LOAD, 0x2a, TW_IMM_MEMARG, "i:f", 4)                               \
  OP(F64_LOAD, 0x2b, TW_IMM_MEMARG, "i:d", 8)                               \
  OP(I32_LOAD8_S, 0x2c, TW_IMM_MEMARG, "i:i", 1)                            \
  OP(I32_LOAD8_U, 0x2d, TW_IMM_MEMARG, "i:i", 1)                            \
  OP(I32_LOAD16_S, 0x2e, TW_IMM_MEMARG, "i:i", 2)                           \
  OP(I32_LOAD16_U, 0x2f, TW_IMM_MEMARG, "i:i", 2)                           \
  OP(I64_LOAD8_S, 0x30, TW_IMM_MEMARG, "i:l", 1)                            \
  OP(I64_LOAD8_U, 0x31, TW_IMM_MEMARG, "i:l", 1)                            \
  OP(I64_LOAD16_S, 0x32, TW_IMM_MEMARG, "i:l", 2)                           \
  OP(I64_LOAD16_U, 0x33, TW_IMM_MEMARG, "i:l", 2)                           \
  OP(I64_LOAD32_S, 0x34, TW_IMM_MEMARG, "i:l", 4)                           \
  OP(I64_LOAD32_U, 0x35, TW_IMM_MEMARG, "i:l", 4)                           \
  OP(I32_STORE, 0x36, TW_IMM_MEMARG, "ii:", 4)                              \
  OP(I64_STORE, 0x37, TW_IMM_MEMARG, "il:", 8)                              \
  OP(F32_STORE, 0x38, TW_IMM_MEMARG, "if:", 4)                              \
  OP(F64_STORE, 0x39, TW_IMM_MEMARG, "id:", 8)                              \
  OP(I32_STORE8, 0x3a, TW_IMM_MEMARG, "ii:", 1)                             \
  OP(I32_STORE16, 0x3b, TW_IMM_MEMARG, "ii:", 2)                            \
  OP(I64_STORE8, 0x3c, TW_IMM_MEMARG, "il:", 1)                             \
  OP(I64_STORE16, 0x3d, TW_IMM_MEMARG, "il:", 2)                            \
  OP(I64_STORE32, 0x3e, TW_IMM_MEMARG, "il:", 4)                            \
  OP(MEMORY_SIZE, 0x3f, TW_IMM_MEMORY, ":i", 0)                             \
  OP(MEMORY_GROW, 0x40, TW_IMM_MEMORY, "i:i", 0)                            \
  /* constants */                                                           \
  OP(I32_CONST, 0x41, TW_IMM_I32, ":i", 0)                                  \
  OP(I64_CONST, 0x42, TW_IMM_I64, ":l", 0)                                  \
  OP(F32_CONST, 0x43, TW_IMM_F32, ":f", 0)                                  \
  OP(F64_CONST, 0x44, TW_IMM_F64, ":d", 0)                                  \
  /* i32 comparisons */                                                     \
  OP(I32_EQZ, 0x45, TW_IMM_NONE, "i:i", 0)                                  \
  OP(I32_EQ, 0x46, TW_IMM_NONE, "ii:i", 0)                                  \
  OP(I32_NE, 0x47, TW_IMM_NONE, "ii:i", 0)                                  \
  OP(I32_LT_S, 0x48, TW_IMM_NONE, "ii:i", 0)                                \
  OP(I32_LT_U, 0x49, TW_IMM_NONE, "ii:i", 0)                                \
  OP(I32_GT_S, 0x4a, TW_IMM_NONE, "ii:i", 0)                                \
  OP(I32_GT_U, 0x4b, TW_IMM_NONE, "ii:i", 0)                                \
  OP(I32_LE_S, 0x4c, TW_IMM_NONE, "ii:i", 0)                                \
  OP(I32_LE_U, 0x4d, TW_IMM_NONE, "ii:i", 0)                                \
  OP(I32_GE_S, 0x4e, TW_IMM_NONE, "ii:i", 0)                                \
  OP(I32_GE_U, 0x4f, TW_IMM_NONE, "ii:i", 0)                                \
  /* i64 comparisons */                                                     \
  OP(I64_EQZ, 0x50, TW_IMM_NONE, "l:i", 0)                                  \
  OP(I64_EQ, 0x51, TW_IMM_NONE, "ll:i", 0)                                  \
  OP(I64_NE, 0x52, TW_IMM_NONE, "ll:i", 0)                                  \
  OP(I64_LT_S, 0x53, TW_IMM_NONE, "ll:i", 0)                                \
  OP(I64_LT_U, 0x54, TW_IMM_NONE, "ll:i", 0)                                \
  OP(I64_GT_S, 0x55, TW_IMM_NONE, "ll:i", 0)                                \
  OP(I64_GT_U, 0x56, TW_IMM_NONE, "ll:i", 0)                                \
  OP(I64_LE_S, 0x57, TW_IMM_NONE, "ll:i", 0)                                \
  OP(I64_LE_U, 0x58, TW_IMM_NONE, "ll:i", 0)                                \
  OP(I64_GE_S, 0x59, TW_IMM_NONE, "ll:i", 0)                                \
  OP(I64_GE_U, 0x5a, TW_IMM_NONE, "ll:i", 0)                                \
  /* float comparisons */                                                   \
  OP(F32_EQ, 0x5b, TW_IMM_NONE, "ff:i", 0)                                  \
  OP(F32_NE, 0x5c, TW_IMM_NONE, "ff:i", 0)                                  \
  OP(F32_LT, 0x5d, TW_IMM_NONE, "ff:i", 0)                                  \
  OP(F32_GT, 0x5e, TW_IMM_NONE, "ff:i", 0)                                  \
  OP(F32_LE, 0x5f, TW_IMM_NONE, "ff:i", 0)                                  \
  OP(F32_GE, 0x60, TW_IMM_NONE, "ff:i", 0)                                  \
  OP(F64_EQ, 0x61, TW_IMM_NONE, "dd:i", 0)                                  \
  OP(F64_NE, 0x62, TW_IMM_NONE, "dd:i", 0)                                  \
  OP(F64_LT, 0x63, TW_IMM_NONE, "dd:i", 0)                                  \
  OP(F64_GT, 0x64, TW_IMM_NONE, "dd:i", 0)                                  \
  OP(F64_LE, 0x65, TW_IMM_NONE, "dd:i", 0)                                  \
  OP(F64_GE, 0x66, TW_IMM_NONE, "dd:i", 0)                                  \
  /* i32 arithmetic */                                                      \
  OP(I32_CLZ, 0x67, TW_IMM_NONE, "i:i", 0)                                  \
  OP(I32_CTZ, 0x68, TW_IMM_NONE, "i:i", 0)                                  \
  OP(I32_POPCNT, 0x69, TW_IMM_NONE, "i:i", 0)                               \
  OP(I32_ADD, 0x6a, TW_IMM_NONE, "ii:i", 0)                                 \
  OP(I32_SUB, 0x6b, TW_IMM_NONE, "ii:i", 0)                                 \
  OP(I32_MUL, 0x6c, TW_IMM_NONE, "ii:i", 0)                                 \
  OP(I32_DIV_S, 0x6d, TW_IMM_NONE, "ii:i", 0)                               \
  OP(I32_DIV_U, 0x6e, TW_IMM_NONE, "ii:i", 0)                               \
  OP(I32_REM_S, 0x6f, TW_IMM_NONE, "ii:i", 0)                               \
  OP(I32_REM_U, 0x70, TW_IMM_NONE, "ii:i", 0)                               \
  OP(I32_AND, 0x71, TW_IMM_NONE, "ii:i", 0)                                 \
  OP(I32_OR, 0x72, TW_IMM_NONE, "ii:i", 0)                                  \
  OP(I32_XOR, 0x73, TW_IMM_NONE, "ii:i", 0)                                 \
  OP(I32_SHL, 0x74, TW_IMM_NONE, "ii:i", 0)                                 \
  OP(I32_SHR_S, 0x75, TW_IMM_NONE, "ii:i", 0)                               \
  OP(I32_SHR_U, 0x76, TW_IMM_NONE, "ii:i", 0)                               \
  OP(I32_ROTL, 0x77, TW_IMM_NONE, "ii:i", 0)                                \
  OP(I32_ROTR, 0x78, TW_IMM_NONE, "ii:i", 0)                                \
  /* i64 arithmetic */                                                      \
  OP(I64_CLZ, 0x79, TW_IMM_NONE, "l:l", 0)                                  \
  OP(I64_CTZ, 0x7a, TW_IMM_NONE, "l:l", 0)                                  \
  OP(I64_POPCNT, 0x7b, TW_IMM_NONE, "l:l", 0)                               \
  OP(I64_ADD, 0x7c, TW_IMM_NONE, "ll:l", 0)                                 \
  OP(I64_SUB, 0x7d, TW_IMM_NONE, "ll:l", 0)                                 \
  OP(I64_MUL, 0x7e, TW_IMM_NONE, "ll:l", 0)                                 \
  OP(I64_DIV_S, 0x7f, TW_IMM_NONE, "ll:l", 0)                               \
  OP(I64_DIV_U, 0x80, TW_IMM_NONE, "ll:l", 0)                               \
  OP(I64_REM_S, 0x81, TW_IMM_NONE, "ll:l", 0)                               \
  OP(I64_REM_U, 0x82, TW_IMM_NONE, "ll:l", 0)                               \
  OP(I64_AND, 0x83, TW_IMM_NONE, "ll:l", 0)                                 \
  OP(I64_OR, 0x84, TW_IMM_NONE, "ll:l", 0)                                  \
  OP(I64_XOR, 0x85, TW_IMM_NONE, "ll:l", 0)                                 \
  OP(I64_SHL, 0x86, TW_IMM_NONE, "ll:l", 0)                                 \
  OP(I64_SHR_S, 0x87, TW_IMM_NONE, "ll:l", 0)                               \
  OP(I64_SHR_U, 0x88, TW_IMM_NONE, "ll:l", 0)                               \
  OP(I64_ROTL, 0x89, TW_IMM_NONE, "ll:l", 0)                                \
  OP(I64_ROTR, 0x8a, TW_IMM_NONE, "ll:l", 0)                                \
  /* f32 arithmetic */                                                      \
  OP(F32_ABS, 0x8b, TW_IMM_NONE, "f:f", 0)                                  \
  OP(F32_NEG, 0x8c, TW_IMM_NONE, "f:f", 0)                                  \
  OP(F32_CEIL, 0x8d, TW_IMM_NONE, "f:f", 0)                                 \
  OP(F32_FLOOR, 0x8e, TW_IMM_NONE, "f:f", 0)                                \
  OP(F32_TRUNC, 0x8f, TW_IMM_NONE, "f:f", 0)                                \
  OP(F32_NEAREST, 0x90, TW_IMM_NONE, "f:f", 0)                              \
  OP(F32_SQRT, 0x91, TW_IMM_NONE, "f:f", 0)                                 \
  OP(F32_ADD, 0x92, TW_IMM_NONE, "ff:f", 0)                                 \
  OP(F32_SUB, 0x93, TW_IMM_NONE, "ff:f", 0)                                 \
  OP(F32_MUL, 0x94, TW_IMM_NONE, "ff:f", 0)                                 \
  OP(F32_DIV, 0x95, TW_IMM_NONE, "ff:f", 0)                                 \
  OP(F32_MIN, 0x96, TW_IMM_NONE, "ff:f", 0)                                 \
  OP(F32_MAX, 0x97, TW_IMM_NONE, "ff:f", 0)                                 \
  OP(F32_COPYSIGN, 0x98, TW_IMM_NONE, "ff:f", 0)                            \
  /* f64 arithmetic */                                                      \
  OP(F64_ABS, 0x99, TW_IMM_NONE, "d:d", 0)                                  \
  OP(F64_NEG, 0x9a, TW_IMM_NONE, "d:d", 0)                                  \
  OP(F64_CEIL, 0x9b, TW_IMM_NONE, "d:d", 0)                                 \
  OP(F64_FLOOR, 0x9c, TW_IMM_NONE, "d:d", 0)                                \
  OP(F64_TRUNC, 0x9d, TW_IMM_NONE, "d:d", 0)                                \
  OP(F64_NEAREST, 0x9e, TW_IMM_NONE, "d:d", 0)                              \
  OP(F64_SQRT, 0x9f, TW_IMM_NONE, "d:d", 0)                                 \
  OP(F64_ADD, 0xa0, TW_IMM_NONE, "dd:d", 0)                                 \
  OP(F64_SUB, 0xa1, TW_IMM_NONE, "dd:d", 0)                                 \
  OP(F64_MUL, 0xa2, TW_IMM_NONE, "dd:d", 0)                                 \
  OP(F64_DIV, 0xa3, TW_IMM_NONE, "dd:d", 0)                                 \
  OP(F64_MIN, 0xa4, TW_IMM_NONE, "dd:d", 0)                                 \
  OP(F64_MAX, 0xa5, TW_IMM_NONE, "dd:d", 0)                                 \
  OP(F64_COPYSIGN, 0xa6, TW_IMM_NONE, "dd:d", 0)                            \
  /* conversions */                                                         \
  OP(I32_WRAP_I64, 0xa7, TW_IMM_NONE, "l:i", 0)                             \
  OP(I32_TRUNC_F32_S, 0xa8, TW_IMM_NONE, "f:i", 0)                          \
  OP(I32_TRUNC_F32_U, 0xa9, TW_IMM_NONE, "f:i", 0)                          \
  OP(I32_TRUNC_F64_S, 0xaa, TW_IMM_NONE, "d:i", 0)                          \
  OP(I32_TRUNC_F64_U, 0xab, TW_IMM_NONE, "d:i", 0)                          \
  OP(I64_EXTEND_I32_S, 0xac, TW_IMM_NONE, "i:l", 0)                         \
  OP(I64_EXTEND_I32_U, 0xad, TW_IMM_NONE, "i:l", 0)                         \
  OP(I64_TRUNC_F32_S, 0xae, TW_IMM_NONE, "f:l", 0)                          \
  OP(I64_TRUNC_F32_U, 0xaf, TW_IMM_NONE, "f:l", 0)                          \
  OP(I64_TRUNC_F64_S, 0xb0, TW_IMM_NONE, "d:l", 0)                          \
  OP(I64_TRUNC_F64_U, 0xb1, TW_IMM_NONE, "d:l", 0)                          \
  OP(F32_CONVERT_I32_S, 0xb2, TW_IMM_NONE, "i:f", 0)                        \
  OP(F32_CONVERT_I32_U, 0xb3, TW_IMM_NONE, "i:f", 0)                        \
  OP(F32_CONVERT_I64_S, 0xb4, TW_IMM_NONE, "l:f", 0)                        \
  OP(F32_CONVERT_I64_U, 0xb5, TW_IMM_NONE, "l:f", 0)                        \
  OP(F32_DEMOTE_F64, 0xb6, TW_IMM_NONE, "d:f", 0)                           \
  OP(F64_CONVERT_I32_S, 0xb7, TW_IMM_NONE, "i:d", 0)                        \
  OP(F64_CONVERT_I32_U, 0xb8, TW_IMM_NONE, "i:d", 0)                        \
  OP(F64_CONVERT_I64_S, 0xb9, TW_IMM_NONE, "l:d", 0)                        \
  OP(F64_CONVERT_I64_U, 0xba, TW_IMM_NONE, "l:d", 0)                        \
  OP(F64_PROMOTE_F32, 0xbb, TW_IMM_NONE, "f:d", 0)                          \
  OP(I32_REINTERPRET_F32, 0xbc, TW_IMM_NONE, "f:i", 0)                      \
  OP(I64_REINTERPRET_F64, 0xbd, TW_IMM_NONE, "d:l", 0)                      \
  OP(F32_REINTERPRET_I32, 0xbe, TW_IMM_NONE, "i:f", 0)                      \
  OP(F64_REINTERPRET_I64, 0xbf, TW_IMM_NONE, "l:d", 0)                      \
  /* sign extension */                                                      \
  OP(I32_EXTEND8_S, 0xc0, TW_IMM_NONE, "i:i", 0)                            \
  OP(I32_EXTEND16_S, 0xc1, TW_IMM_NONE, "i:i", 0)                           \
  OP(I64_EXTEND8_S, 0xc2, TW_IMM_NONE, "l:l", 0)                            \
  OP(I64_EXTEND16_S, 0xc3, TW_IMM_NONE, "l:l", 0)                           \
  OP(I64_EXTEND32_S, 0xc4, TW_IMM_NONE, "l:l", 0)                           \
  /* reference types */                                                     \
  OP(REF_NULL, 0xd0, TW_IMM_REFTYPE, NULL, 0)                               \
  OP(REF_IS_NULL, 0xd1, TW_IMM_NONE, NULL, 0)                               \
  OP(REF_FUNC, 0xd2, TW_IMM_FUNC, NULL, 0)                                  \
  /* 0xFC: saturating truncation, bulk memory, tables */                    \
  OP(I32_TRUNC_SAT_F32_S, 0x100, TW_IMM_NONE, "f:i", 0)                     \
  OP(I32_TRUNC_SAT_F32_U, 0x101, TW_IMM_NONE, "f:i", 0)                     \
  OP(I32_TRUNC_SAT_F64_S, 0x102, TW_IMM_NONE, "d:i", 0)                     \
  OP(I32_TRUNC_SAT_F64_U, 0x103, TW_IMM_NONE, "d:i", 0)                     \
  OP(I64_TRUNC_SAT_F32_S, 0x104, TW_IMM_NONE, "f:l", 0)                     \
  OP(I64_TRUNC_SAT_F32_U, 0x105, TW_IMM_NONE, "f:l", 0)                     \
  OP(I64_TRUNC_SAT_F64_S, 0x106, TW_IMM_NONE, "d:l", 0)                     \
  OP(I64_TRUNC_SAT_F64_U, 0x107, TW_IMM_NONE, "d:l", 0)                     \
  OP(MEMORY_INIT, 0x108, TW_IMM_DATA_MEMORY, "iii:", 0)                     \
  OP(DATA_DROP, 0x109, TW_IMM_DATA, ":", 0)                                 \
  OP(MEMORY_COPY, 0x10a, TW_IMM_MEMORY_MEMORY, "iii:", 0)                   \
  OP(MEMORY_FILL, 0x10b, TW_IMM_MEMORY, "iii:", 0)                          \
  OP(TABLE_INIT, 0x10c, TW_IMM_ELEM_TABLE, "iii:", 0)                       \
  OP(ELEM_DROP, 0x10d, TW_IMM_ELEM, ":", 0)                                 \
  OP(TABLE_COPY, 0x10e, TW_IMM_TABLE_TABLE, "iii:", 0)                      \
  OP(TABLE_GROW, 0x10f, TW_IMM_TABLE, NULL, 0)                              \
  OP(TABLE_SIZE, 0x110, TW_IMM_TABLE, ":i", 0)                              \
  OP(TABLE_FILL, 0x111, TW_IMM_TABLE, NULL, 0)                              \
  TW_FOR_EACH_SIMD_OP(OP)

/* 0xFD: fixed-width SIMD. */
#define TW_FOR_EACH_SIMD_OP(OP)                                             \
  OP(V128_LOAD, 0x200, TW_IMM_MEMARG, "i:v", 16)                            \
  OP(V128_LOAD8X8_S, 0x201, TW_IMM_MEMARG, "i:v", 8)                        \
  OP(V128_LOAD8X8_U, 0x202, TW_IMM_MEMARG, "i:v", 8)                        \
  OP(V128_LOAD16X4_S, 0x203, TW_IMM_MEMARG, "i:v", 8)                       \
  OP(V128_LOAD16X4_U, 0x204, TW_IMM_MEMARG, "i:v", 8)                       \
  OP(V128_LOAD32X2_S, 0x205, TW_IMM_MEMARG, "i:v", 8)                       \
  OP(V128_LOAD32X2_U, 0x206, TW_IMM_MEMARG, "i:v", 8)                       \
  OP(V128_LOAD8_SPLAT, 0x207, TW_IMM_MEMARG, "i:v", 1)                      \
  OP(V128_LOAD16_SPLAT, 0x208, TW_IMM_MEMARG, "i:v", 2)                     \
  OP(V128_LOAD32_SPLAT, 0x209, TW_IMM_MEMARG, "i:v", 4)                     \
  OP(V128_LOAD64_SPLAT, 0x20a, TW_IMM_MEMARG, "i:v", 8)                     \
  OP(V128_STORE, 0x20b, TW_IMM_MEMARG, "iv:", 16)                           \
  OP(V128_CONST, 0x20c, TW_IMM_V128, ":v", 0)                               \
  OP(I8X16_SHUFFLE, 0x20d, TW_IMM_SHUFFLE, "vv:v", 0)                       \
  OP(I8X16_SWIZZLE, 0x20e, TW_IMM_NONE, "vv:v", 0)                          \
  OP(I8X16_SPLAT, 0x20f, TW_IMM_NONE, "i:v", 0)                             \
  OP(I16X8_SPLAT, 0x210, TW_IMM_NONE, "i:v", 0)                             \
  OP(I32X4_SPLAT, 0x211, TW_IMM_NONE, "i:v", 0)                             \
  OP(I64X2_SPLAT, 0x212, TW_IMM_NONE, "l:v", 0)                             \
  OP(F32X4_SPLAT, 0x213, TW_IMM_NONE, "f:v", 0)                             \
  OP(F64X2_SPLAT, 0x214, TW_IMM_NONE, "d:v", 0)                             \
  OP(I8X16_EXTRACT_LANE_S, 0x215, TW_IMM_LANE, "v:i", 16)                   \
  OP(I8X16_EXTRACT_LANE_U, 0x216, TW_IMM_LANE, "v:i", 16)                   \
  OP(I8X16_REPLACE_LANE, 0x217, TW_IMM_LANE, "vi:v", 16)                    \
  OP(I16X8_EXTRACT_LANE_S, 0x218, TW_IMM_LANE, "v:i", 8)                    \
  OP(I16X8_EXTRACT_LANE_U, 0x219, TW_IMM_LANE, "v:i", 8)                    \
  OP(I16X8_REPLACE_LANE, 0x21a, TW_IMM_LANE, "vi:v", 8)                     \
  OP(I32X4_EXTRACT_LANE, 0x21b, TW_IMM_LANE, "v:i", 4)                      \
  OP(I32X4_REPLACE_LANE, 0x21c, TW_IMM_LANE, "vi:v", 4)                     \
  OP(I64X2_EXTRACT_LANE, 0x21d, TW_IMM_LANE, "v:l", 2)                      \
  OP(I64X2_REPLACE_LANE, 0x21e, TW_IMM_LANE, "vl:v", 2)                     \
  OP(F32X4_EXTRACT_LANE, 0x21f, TW_IMM_LANE, "v:f", 4)                      \
  OP(F32X4_REPLACE_LANE, 0x220, TW_IMM_LANE, "vf:v", 4)                     \
  OP(F64X2_EXTRACT_LANE, 0x221, TW_IMM_LANE, "v:d", 2)                      \
  OP(F64X2_REPLACE_LANE, 0x222, TW_IMM_LANE, "vd:v", 2)                     \
  OP(I8X16_EQ, 0x223, TW_IMM_NONE, "vv:v", 0)                               \
  OP(I8X16_NE, 0x224, TW_IMM_NONE, "vv:v", 0)                               \
  OP(I8X16_LT_S, 0x225, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I8X16_LT_U, 0x226, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I8X16_GT_S, 0x227, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I8X16_GT_U, 0x228, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I8X16_LE_S, 0x229, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I8X16_LE_U, 0x22a, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I8X16_GE_S, 0x22b, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I8X16_GE_U, 0x22c, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I16X8_EQ, 0x22d, TW_IMM_NONE, "vv:v", 0)                               \
  OP(I16X8_NE, 0x22e, TW_IMM_NONE, "vv:v", 0)                               \
  OP(I16X8_LT_S, 0x22f, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I16X8_LT_U, 0x230, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I16X8_GT_S, 0x231, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I16X8_GT_U, 0x232, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I16X8_LE_S, 0x233, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I16X8_LE_U, 0x234, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I16X8_GE_S, 0x235, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I16X8_GE_U, 0x236, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I32X4_EQ, 0x237, TW_IMM_NONE, "vv:v", 0)                               \
  OP(I32X4_NE, 0x238, TW_IMM_NONE, "vv:v", 0)                               \
  OP(I32X4_LT_S, 0x239, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I32X4_LT_U, 0x23a, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I32X4_GT_S, 0x23b, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I32X4_GT_U, 0x23c, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I32X4_LE_S, 0x23d, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I32X4_LE_U, 0x23e, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I32X4_GE_S, 0x23f, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I32X4_GE_U, 0x240, TW_IMM_NONE, "vv:v", 0)                             \
  OP(F32X4_EQ, 0x241, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F32X4_NE, 0x242, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F32X4_LT, 0x243, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F32X4_GT, 0x244, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F32X4_LE, 0x245, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F32X4_GE, 0x246, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F64X2_EQ, 0x247, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F64X2_NE, 0x248, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F64X2_LT, 0x249, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F64X2_GT, 0x24a, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F64X2_LE, 0x24b, TW_IMM_NONE, "vv:v", 0)                               \
  OP(F64X2_GE, 0x24c, TW_IMM_NONE, "vv:v", 0)                               \
  OP(V128_NOT, 0x24d, TW_IMM_NONE, "v:v", 0)                                \
  OP(V128_AND, 0x24e, TW_IMM_NONE, "vv:v", 0)                               \
  OP(V128_ANDNOT, 0x24f, TW_IMM_NONE, "vv:v", 0)                            \
  OP(V128_OR, 0x250, TW_IMM_NONE, "vv:v", 0)                                \
  OP(V128_XOR, 0x251, TW_IMM_NONE, "vv:v", 0)                               \
  OP(V128_BITSELECT, 0x252, TW_IMM_NONE, "vvv:v", 0)                        \
  OP(V128_ANY_TRUE, 0x253, TW_IMM_NONE, "v:i", 0)                           \
  OP(V128_LOAD8_LANE, 0x254, TW_IMM_MEMARG_LANE, "iv:v", 1)                 \
  OP(V128_LOAD16_LANE, 0x255, TW_IMM_MEMARG_LANE, "iv:v", 2)                \
  OP(V128_LOAD32_LANE, 0x256, TW_IMM_MEMARG_LANE, "iv:v", 4)                \
  OP(V128_LOAD64_LANE, 0x257, TW_IMM_MEMARG_LANE, "iv:v", 8)                \
  OP(V128_STORE8_LANE, 0x258, TW_IMM_MEMARG_LANE, "iv:", 1)                 \
  OP(V128_STORE16_LANE, 0x259, TW_IMM_MEMARG_LANE, "iv:", 2)                \
  OP(V128_STORE32_LANE, 0x25a, TW_IMM_MEMARG_LANE, "iv:", 4)                \
  OP(V128_STORE64_LANE, 0x25b, TW_IMM_MEMARG_LANE, "iv:", 8)                \
  OP(V128_LOAD32_ZERO, 0x25c, TW_IMM_MEMARG, "i:v", 4)                      \
  OP(V128_LOAD64_ZERO, 0x25d, TW_IMM_MEMARG, "i:v", 8)                      \
  OP(F32X4_DEMOTE_F64X2_ZERO, 0x25e, TW_IMM_NONE, "v:v", 0)                 \
  OP(F64X2_PROMOTE_LOW_F32X4, 0x25f, TW_IMM_NONE, "v:v", 0)                 \
  OP(I8X16_ABS, 0x260, TW_IMM_NONE, "v:v", 0)                               \
  OP(I8X16_NEG, 0x261, TW_IMM_NONE, "v:v", 0)                               \
  OP(I8X16_POPCNT, 0x262, TW_IMM_NONE, "v:v", 0)                            \
  OP(I8X16_ALL_TRUE, 0x263, TW_IMM_NONE, "v:i", 0)                          \
  OP(I8X16_BITMASK, 0x264, TW_IMM_NONE, "v:i", 0)                           \
  OP(I8X16_NARROW_I16X8_S, 0x265, TW_IMM_NONE, "vv:v", 0)                   \
  OP(I8X16_NARROW_I16X8_U, 0x266, TW_IMM_NONE, "vv:v", 0)                   \
  OP(F32X4_CEIL, 0x267, TW_IMM_NONE, "v:v", 0)                              \
  OP(F32X4_FLOOR, 0x268, TW_IMM_NONE, "v:v", 0)                             \
  OP(F32X4_TRUNC, 0x269, TW_IMM_NONE, "v:v", 0)                             \
  OP(F32X4_NEAREST, 0x26a, TW_IMM_NONE, "v:v", 0)                           \
  OP(I8X16_SHL, 0x26b, TW_IMM_NONE, "vi:v", 0)                              \
  OP(I8X16_SHR_S, 0x26c, TW_IMM_NONE, "vi:v", 0)                            \
  OP(I8X16_SHR_U, 0x26d, TW_IMM_NONE, "vi:v", 0)                            \
  OP(I8X16_ADD, 0x26e, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I8X16_ADD_SAT_S, 0x26f, TW_IMM_NONE, "vv:v", 0)                        \
  OP(I8X16_ADD_SAT_U, 0x270, TW_IMM_NONE, "vv:v", 0)                        \
  OP(I8X16_SUB, 0x271, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I8X16_SUB_SAT_S, 0x272, TW_IMM_NONE, "vv:v", 0)                        \
  OP(I8X16_SUB_SAT_U, 0x273, TW_IMM_NONE, "vv:v", 0)                        \
  OP(F64X2_CEIL, 0x274, TW_IMM_NONE, "v:v", 0)                              \
  OP(F64X2_FLOOR, 0x275, TW_IMM_NONE, "v:v", 0)                             \
  OP(I8X16_MIN_S, 0x276, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I8X16_MIN_U, 0x277, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I8X16_MAX_S, 0x278, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I8X16_MAX_U, 0x279, TW_IMM_NONE, "vv:v", 0)                            \
  OP(F64X2_TRUNC, 0x27a, TW_IMM_NONE, "v:v", 0)                             \
  OP(I8X16_AVGR_U, 0x27b, TW_IMM_NONE, "vv:v", 0)                           \
  OP(I16X8_EXTADD_PAIRWISE_I8X16_S, 0x27c, TW_IMM_NONE, "v:v", 0)           \
  OP(I16X8_EXTADD_PAIRWISE_I8X16_U, 0x27d, TW_IMM_NONE, "v:v", 0)           \
  OP(I32X4_EXTADD_PAIRWISE_I16X8_S, 0x27e, TW_IMM_NONE, "v:v", 0)           \
  OP(I32X4_EXTADD_PAIRWISE_I16X8_U, 0x27f, TW_IMM_NONE, "v:v", 0)           \
  OP(I16X8_ABS, 0x280, TW_IMM_NONE, "v:v", 0)                               \
  OP(I16X8_NEG, 0x281, TW_IMM_NONE, "v:v", 0)                               \
  OP(I16X8_Q15MULR_SAT_S, 0x282, TW_IMM_NONE, "vv:v", 0)                    \
  OP(I16X8_ALL_TRUE, 0x283, TW_IMM_NONE, "v:i", 0)                          \
  OP(I16X8_BITMASK, 0x284, TW_IMM_NONE, "v:i", 0)                           \
  OP(I16X8_NARROW_I32X4_S, 0x285, TW_IMM_NONE, "vv:v", 0)                   \
  OP(I16X8_NARROW_I32X4_U, 0x286, TW_IMM_NONE, "vv:v", 0)                   \
  OP(I16X8_EXTEND_LOW_I8X16_S, 0x287, TW_IMM_NONE, "v:v", 0)                \
  OP(I16X8_EXTEND_HIGH_I8X16_S, 0x288, TW_IMM_NONE, "v:v", 0)               \
  OP(I16X8_EXTEND_LOW_I8X16_U, 0x289, TW_IMM_NONE, "v:v", 0)                \
  OP(I16X8_EXTEND_HIGH_I8X16_U, 0x28a, TW_IMM_NONE, "v:v", 0)               \
  OP(I16X8_SHL, 0x28b, TW_IMM_NONE, "vi:v", 0)                              \
  OP(I16X8_SHR_S, 0x28c, TW_IMM_NONE, "vi:v", 0)                            \
  OP(I16X8_SHR_U, 0x28d, TW_IMM_NONE, "vi:v", 0)                            \
  OP(I16X8_ADD, 0x28e, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I16X8_ADD_SAT_S, 0x28f, TW_IMM_NONE, "vv:v", 0)                        \
  OP(I16X8_ADD_SAT_U, 0x290, TW_IMM_NONE, "vv:v", 0)                        \
  OP(I16X8_SUB, 0x291, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I16X8_SUB_SAT_S, 0x292, TW_IMM_NONE, "vv:v", 0)                        \
  OP(I16X8_SUB_SAT_U, 0x293, TW_IMM_NONE, "vv:v", 0)                        \
  OP(F64X2_NEAREST, 0x294, TW_IMM_NONE, "v:v", 0)                           \
  OP(I16X8_MUL, 0x295, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I16X8_MIN_S, 0x296, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I16X8_MIN_U, 0x297, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I16X8_MAX_S, 0x298, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I16X8_MAX_U, 0x299, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I16X8_AVGR_U, 0x29b, TW_IMM_NONE, "vv:v", 0)                           \
  OP(I16X8_EXTMUL_LOW_I8X16_S, 0x29c, TW_IMM_NONE, "vv:v", 0)               \
  OP(I16X8_EXTMUL_HIGH_I8X16_S, 0x29d, TW_IMM_NONE, "vv:v", 0)              \
  OP(I16X8_EXTMUL_LOW_I8X16_U, 0x29e, TW_IMM_NONE, "vv:v", 0)               \
  OP(I16X8_EXTMUL_HIGH_I8X16_U, 0x29f, TW_IMM_NONE, "vv:v", 0)              \
  OP(I32X4_ABS, 0x2a0, TW_IMM_NONE, "v:v", 0)                               \
  OP(I32X4_NEG, 0x2a1, TW_IMM_NONE, "v:v", 0)                               \
  OP(I32X4_ALL_TRUE, 0x2a3, TW_IMM_NONE, "v:i", 0)                          \
  OP(I32X4_BITMASK, 0x2a4, TW_IMM_NONE, "v:i", 0)                           \
  OP(I32X4_EXTEND_LOW_I16X8_S, 0x2a7, TW_IMM_NONE, "v:v", 0)                \
  OP(I32X4_EXTEND_HIGH_I16X8_S, 0x2a8, TW_IMM_NONE, "v:v", 0)               \
  OP(I32X4_EXTEND_LOW_I16X8_U, 0x2a9, TW_IMM_NONE, "v:v", 0)                \
  OP(I32X4_EXTEND_HIGH_I16X8_U, 0x2aa, TW_IMM_NONE, "v:v", 0)               \
  OP(I32X4_SHL, 0x2ab, TW_IMM_NONE, "vi:v", 0)                              \
  OP(I32X4_SHR_S, 0x2ac, TW_IMM_NONE, "vi:v", 0)                            \
  OP(I32X4_SHR_U, 0x2ad, TW_IMM_NONE, "vi:v", 0)                            \
  OP(I32X4_ADD, 0x2ae, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I32X4_SUB, 0x2b1, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I32X4_MUL, 0x2b5, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I32X4_MIN_S, 0x2b6, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I32X4_MIN_U, 0x2b7, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I32X4_MAX_S, 0x2b8, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I32X4_MAX_U, 0x2b9, TW_IMM_NONE, "vv:v", 0)                            \
  OP(I32X4_DOT_I16X8_S, 0x2ba, TW_IMM_NONE, "vv:v", 0)                      \
  OP(I32X4_EXTMUL_LOW_I16X8_S, 0x2bc, TW_IMM_NONE, "vv:v", 0)               \
  OP(I32X4_EXTMUL_HIGH_I16X8_S, 0x2bd, TW_IMM_NONE, "vv:v", 0)              \
  OP(I32X4_EXTMUL_LOW_I16X8_U, 0x2be, TW_IMM_NONE, "vv:v", 0)               \
  OP(I32X4_EXTMUL_HIGH_I16X8_U, 0x2bf, TW_IMM_NONE, "vv:v", 0)              \
  OP(I64X2_ABS, 0x2c0, TW_IMM_NONE, "v:v", 0)                               \
  OP(I64X2_NEG, 0x2c1, TW_IMM_NONE, "v:v", 0)                               \
  OP(I64X2_ALL_TRUE, 0x2c3, TW_IMM_NONE, "v:i", 0)                          \
  OP(I64X2_BITMASK, 0x2c4, TW_IMM_NONE, "v:i", 0)                           \
  OP(I64X2_EXTEND_LOW_I32X4_S, 0x2c7, TW_IMM_NONE, "v:v", 0)                \
  OP(I64X2_EXTEND_HIGH_I32X4_S, 0x2c8, TW_IMM_NONE, "v:v", 0)               \
  OP(I64X2_EXTEND_LOW_I32X4_U, 0x2c9, TW_IMM_NONE, "v:v", 0)                \
  OP(I64X2_EXTEND_HIGH_I32X4_U, 0x2ca, TW_IMM_NONE, "v:v", 0)               \
  OP(I64X2_SHL, 0x2cb, TW_IMM_NONE, "vi:v", 0)                              \
  OP(I64X2_SHR_S, 0x2cc, TW_IMM_NONE, "vi:v", 0)                            \
  OP(I64X2_SHR_U, 0x2cd, TW_IMM_NONE, "vi:v", 0)                            \
  OP(I64X2_ADD, 0x2ce, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I64X2_SUB, 0x2d1, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I64X2_MUL, 0x2d5, TW_IMM_NONE, "vv:v", 0)                              \
  OP(I64X2_EQ, 0x2d6, TW_IMM_NONE, "vv:v", 0)                               \
  OP(I64X2_NE, 0x2d7, TW_IMM_NONE, "vv:v", 0)                               \
  OP(I64X2_LT_S, 0x2d8, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I64X2_GT_S, 0x2d9, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I64X2_LE_S, 0x2da, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I64X2_GE_S, 0x2db, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I64X2_EXTMUL_LOW_I32X4_S, 0x2dc, TW_IMM_NONE, "vv:v", 0)               \
  OP(I64X2_EXTMUL_HIGH_I32X4_S, 0x2dd, TW_IMM_NONE, "vv:v", 0)              \
  OP(I64X2_EXTMUL_LOW_I32X4_U, 0x2de, TW_IMM_NONE, "vv:v", 0)               \
  OP(I64X2_EXTMUL_HIGH_I32X4_U, 0x2df, TW_IMM_NONE, "vv:v", 0)              \
  OP(F32X4_ABS, 0x2e0, TW_IMM_NONE, "v:v", 0)                               \
  OP(F32X4_NEG, 0x2e1, TW_IMM_NONE, "v:v", 0)                               \
  OP(F32X4_SQRT, 0x2e3, TW_IMM_NONE, "v:v", 0)                              \
  OP(F32X4_ADD, 0x2e4, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F32X4_SUB, 0x2e5, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F32X4_MUL, 0x2e6, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F32X4_DIV, 0x2e7, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F32X4_MIN, 0x2e8, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F32X4_MAX, 0x2e9, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F32X4_PMIN, 0x2ea, TW_IMM_NONE, "vv:v", 0)                             \
  OP(F32X4_PMAX, 0x2eb, TW_IMM_NONE, "vv:v", 0)                             \
  OP(F64X2_ABS, 0x2ec, TW_IMM_NONE, "v:v", 0)                               \
  OP(F64X2_NEG, 0x2ed, TW_IMM_NONE, "v:v", 0)                               \
  OP(F64X2_SQRT, 0x2ef, TW_IMM_NONE, "v:v", 0)                              \
  OP(F64X2_ADD, 0x2f0, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F64X2_SUB, 0x2f1, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F64X2_MUL, 0x2f2, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F64X2_DIV, 0x2f3, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F64X2_MIN, 0x2f4, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F64X2_MAX, 0x2f5, TW_IMM_NONE, "vv:v", 0)                              \
  OP(F64X2_PMIN, 0x2f6, TW_IMM_NONE, "vv:v", 0)                             \
  OP(F64X2_PMAX, 0x2f7, TW_IMM_NONE, "vv:v", 0)                             \
  OP(I32X4_TRUNC_SAT_F32X4_S, 0x2f8, TW_IMM_NONE, "v:v", 0)                 \
  OP(I32X4_TRUNC_SAT_F32X4_U, 0x2f9, TW_IMM_NONE, "v:v", 0)                 \
  OP(F32X4_CONVERT_I32X4_S, 0x2fa, TW_IMM_NONE, "v:v", 0)                   \
  OP(F32X4_CONVERT_I32X4_U, 0x2fb, TW_IMM_NONE, "v:v", 0)                   \
  OP(I32X4_TRUNC_SAT_F64X2_S_ZERO, 0x2fc, TW_IMM_NONE, "v:v", 0)            \
  OP(I32X4_TRUNC_SAT_F64X2_U_ZERO, 0x2fd, TW_IMM_NONE, "v:v", 0)            \
  OP(F64X2_CONVERT_LOW_I32X4_S, 0x2fe, TW_IMM_NONE, "v:v", 0)               \
  OP(F64X2_CONVERT_LOW_I32X4_U, 0x2ff, TW_IMM_NONE, "v:v", 0)

/* Immediate shapes. */
enum tw_imm {
  TW_IMM_NONE,
  TW_IMM_BLOCKTYPE,     /* s33: empty (0x40), a value type, or a type index */
  TW_IMM_LABEL,         /* u32 label depth -> idx */
  TW_IMM_BR_TABLE,      /* vec(u32) labels + default -> targets, idx */
  TW_IMM_FUNC,          /* u32 function index -> idx */
  TW_IMM_CALL_INDIRECT, /* u32 type index -> idx, u32 table index -> idx2 */
  TW_IMM_SELECT_T,      /* vec(valtype) -> select_count, reftype */
  TW_IMM_LOCAL,         /* u32 -> idx */
  TW_IMM_GLOBAL,        /* u32 -> idx */
  TW_IMM_TABLE,         /* u32 -> idx */
  TW_IMM_MEMARG,        /* u32 align, u32 offset -> align, offset */
  TW_IMM_MEMARG_LANE,   /* memarg then a lane byte -> align, offset, lane */
  TW_IMM_MEMORY,        /* a memory index (must be 0 in 2.0) -> idx */
  TW_IMM_MEMORY_MEMORY, /* two memory indexes (both 0) -> idx, idx2 */
  TW_IMM_DATA_MEMORY,   /* u32 data index -> idx, memory index -> idx2 */
  TW_IMM_DATA,          /* u32 data index -> idx */
  TW_IMM_ELEM_TABLE,    /* u32 elem index -> idx, u32 table index -> idx2 */
  TW_IMM_ELEM,          /* u32 elem index -> idx */
  TW_IMM_TABLE_TABLE,   /* u32 dst table -> idx, u32 src table -> idx2 */
  TW_IMM_REFTYPE,       /* a reference type byte -> reftype */
  TW_IMM_I32,           /* s32 -> i32 */
  TW_IMM_I64,           /* s64 -> i64 */
  TW_IMM_F32,           /* 4 bytes, kept as bits -> i32 */
  TW_IMM_F64,           /* 8 bytes, kept as bits -> i64 */
  TW_IMM_V128,          /* 16 bytes -> bytes */
  TW_IMM_LANE,          /* one lane byte -> lane */
  TW_IMM_SHUFFLE,       /* 16 lane bytes -> bytes */
};

enum tw_op {
#define TW_OP_ENUM_(sym, id, imm, sig, width) TW_OP_##sym = id,
  TW_FOR_EACH_OP(TW_OP_ENUM_)
#undef TW_OP_ENUM_
  TW_OP_LIMIT_ = 0x300
};

#endif
