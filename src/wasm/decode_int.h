/* Binary-format cursor primitives shared by the decoder (decode.c,
 * names.c) and the instruction reader (reader.c); private to src/wasm/.
 *
 * Every primitive takes a cursor and the end it may not pass, checks
 * before reading, and advances *p only on success. They return 0 or one
 * of the TW__RD_* failure kinds below; callers turn a kind into a
 * message with tw__rd_what(), adding where it happened.
 */
#ifndef TW_WASM_DECODE_INT_H
#define TW_WASM_DECODE_INT_H

#include <stddef.h>
#include <stdint.h>

enum tw__rd_status {
  TW__RD_OK = 0,
  TW__RD_EOF = 1,      /* ran into `end` */
  TW__RD_TOOLONG = 2,  /* LEB128 longer than its type allows */
  TW__RD_TOOLARGE = 3, /* LEB128 unused high bits not zero / sign */
};

/* Text for a failure kind: "unexpected end", "integer representation too
 * long", "integer too large". `eof_msg` replaces the first (callers pass
 * "unexpected end of section or function" inside a section). */
const char *tw__rd_what(int status, const char *eof_msg);

int tw__rd_u8(const uint8_t **p, const uint8_t *end, uint8_t *out);
int tw__rd_u32(const uint8_t **p, const uint8_t *end, uint32_t *out);
int tw__rd_s32(const uint8_t **p, const uint8_t *end, int32_t *out);
int tw__rd_s33(const uint8_t **p, const uint8_t *end, int64_t *out);
int tw__rd_s64(const uint8_t **p, const uint8_t *end, int64_t *out);
/* n raw bytes; *out points at them. */
int tw__rd_bytes(const uint8_t **p, const uint8_t *end, size_t n,
                 const uint8_t **out);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
int tw__utf8_valid(const uint8_t *s, size_t n);

/* True for the value-type bytes of 2.0 (numbers, v128, references). */
static inline int tw__is_valtype(uint8_t b) {
  return b == 0x7f || b == 0x7e || b == 0x7d || b == 0x7c || b == 0x7b ||
         b == 0x70 || b == 0x6f;
}
static inline int tw__is_reftype(uint8_t b) { return b == 0x70 || b == 0x6f; }

/* Parses the name custom section payload [p, end) into m's func_names and
 * module_name; malformed contents are ignored (names.c). */
struct tw__module;
void tw__names_parse(struct tw__module *m, const uint8_t *p,
                     const uint8_t *end);

#endif
