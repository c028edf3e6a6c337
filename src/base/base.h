/* Shared basics: the error-code table, allocation wrappers with a single
 * place to account usage, bounded error-message formatting, and small
 * helpers every subsystem uses. Nothing here depends on another subsystem.
 */
#ifndef TW_BASE_H
#define TW_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tw/tw.h"

#if defined(__GNUC__) || defined(__clang__)
#define TW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TW_NORETURN __attribute__((noreturn))
#define TW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TW_PRINTF(f, a)
#define TW_NORETURN
#define TW_UNLIKELY(x) (x)
#endif

/* Allocation. All subsystems allocate through these so that usage can be
 * accounted in one place. tw__malloc and friends return NULL on failure
 * (never abort); sizes that overflow return NULL. */
void *tw__malloc(size_t n);
void *tw__calloc(size_t count, size_t size);
void *tw__realloc(void *p, size_t n);
/* realloc of count*size elements, NULL (leaving p intact) on overflow. */
void *tw__reallocarray(void *p, size_t count, size_t size);
void tw__free(void *p);
char *tw__strndup(const char *s, size_t n);

/* Formats into err (if non-NULL and errlen > 0), always NUL-terminated,
 * truncating. Returns `code` so callers can `return tw__err(...)`. */
int tw__err(int code, char *err, size_t errlen, const char *fmt, ...)
    TW_PRINTF(4, 5);
int tw__verr(int code, char *err, size_t errlen, const char *fmt,
             va_list ap);

/* Escapes arbitrary bytes for messages and C string literals: printable
 * ASCII except '"' and '\\' as-is, the rest as \ooo octal. Writes at most
 * outlen-1 chars plus NUL; returns out. */
char *tw__escape(const uint8_t *s, size_t n, char *out, size_t outlen);

/* A growable byte buffer (for generated C, messages...). Grows up to
 * `limit` bytes; past it, appends fail with TW_ELIMIT and the buffer
 * keeps what it had. */
struct tw__buf {
  char *data;
  size_t len;
  size_t cap;
  size_t limit;
  int error; /* sticky: first failure of an append */
};

void tw__buf_init(struct tw__buf *b, size_t limit);
void tw__buf_free(struct tw__buf *b);
int tw__buf_append(struct tw__buf *b, const void *p, size_t n);
int tw__buf_puts(struct tw__buf *b, const char *s);
int tw__buf_printf(struct tw__buf *b, const char *fmt, ...) TW_PRINTF(2, 3);
/* Ensures data is NUL-terminated (not counted in len). */
int tw__buf_cstr(struct tw__buf *b);

/* Monotonic clock in nanoseconds. */
uint64_t tw__now_ns(void);

#endif
