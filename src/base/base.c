/* Error table, allocation wrappers, bounded formatting and the growable
 * buffer. Everything here is thread-safe and allocation-failure-safe. */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *tw_strerror(int code) {
  switch (code) {
#define TW_STRERROR_CASE_(name, value, msg) \
  case value:                               \
    return msg;
    TW_ERRORS(TW_STRERROR_CASE_)
#undef TW_STRERROR_CASE_
  }
  return "unknown error";
}

void *tw__malloc(size_t n) { return malloc(n ? n : 1); }

void *tw__calloc(size_t count, size_t size) {
  if (count == 0 || size == 0) return calloc(1, 1);
  return calloc(count, size);
}

void *tw__realloc(void *p, size_t n) { return realloc(p, n ? n : 1); }

void *tw__reallocarray(void *p, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  return tw__realloc(p, count * size);
}

void tw__free(void *p) { free(p); }

char *tw__strndup(const char *s, size_t n) {
  char *d = tw__malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

int tw__verr(int code, char *err, size_t errlen, const char *fmt,
             va_list ap) {
  if (err && errlen > 0) vsnprintf(err, errlen, fmt, ap);
  return code;
}

int tw__err(int code, char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tw__verr(code, err, errlen, fmt, ap);
  va_end(ap);
  return code;
}

char *tw__escape(const uint8_t *s, size_t n, char *out, size_t outlen) {
  size_t o = 0;
  if (outlen == 0) return out;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = s[i];
    char tmp[5];
    size_t k;
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '?') {
      tmp[0] = (char)c;
      k = 1;
    } else {
      /* '?' is escaped too so no trigraph can form in generated C. */
      snprintf(tmp, sizeof tmp, "\\%03o", c);
      k = 4;
    }
    if (o + k >= outlen) break;
    memcpy(out + o, tmp, k);
    o += k;
  }
  out[o] = '\0';
  return out;
}

void tw__buf_init(struct tw__buf *b, size_t limit) {
  memset(b, 0, sizeof *b);
  b->limit = limit ? limit : SIZE_MAX;
}

void tw__buf_free(struct tw__buf *b) {
  tw__free(b->data);
  memset(b, 0, sizeof *b);
}

static int buf_reserve(struct tw__buf *b, size_t extra) {
  if (b->error) return b->error;
  if (extra > b->limit - b->len || b->len + extra == SIZE_MAX)
    return b->error = TW_ELIMIT;
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *d = tw__realloc(b->data, cap);
  if (!d) return b->error = TW_ENOMEM;
  b->data = d;
  b->cap = cap;
  return 0;
}

int tw__buf_append(struct tw__buf *b, const void *p, size_t n) {
  int rc = buf_reserve(b, n);
  if (rc) return rc;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int tw__buf_puts(struct tw__buf *b, const char *s) {
  return tw__buf_append(b, s, strlen(s));
}

int tw__buf_printf(struct tw__buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return b->error = TW_EINVAL;
  if ((size_t)n < sizeof small) return tw__buf_append(b, small, (size_t)n);
  int rc = buf_reserve(b, (size_t)n);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

int tw__buf_cstr(struct tw__buf *b) { return buf_reserve(b, 0); }

uint64_t tw__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
