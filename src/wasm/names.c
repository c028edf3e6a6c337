/* The "name" custom section: module and function names, for diagnostics
 * only. The spec says a malformed name section must not make the module
 * malformed, so every failure here just stops parsing and keeps what was
 * read; every name is bounded by TW_LIMIT_NAME_BYTES and every index by
 * the module's function count.
 */
#include <string.h>

#include "base/base.h"
#include "wasm/decode_int.h"
#include "wasm/wasm.h"

/* Reads a UTF-8 name of at most TW_LIMIT_NAME_BYTES; returns a copy or
 * NULL (malformed, too long or out of memory). */
static char *read_name(const uint8_t **p, const uint8_t *end) {
  uint32_t n;
  const uint8_t *s;
  if (tw__rd_u32(p, end, &n)) return NULL;
  if (n > TW_LIMIT_NAME_BYTES) return NULL;
  if (tw__rd_bytes(p, end, n, &s)) return NULL;
  if (!tw__utf8_valid(s, n)) return NULL;
  return tw__strndup((const char *)s, n);
}

static void function_names(struct tw__module *m, const uint8_t *p,
                           const uint8_t *end) {
  uint32_t nfuncs = tw__module_func_count(m);
  uint32_t n;
  if (tw__rd_u32(&p, end, &n) || nfuncs == 0) return;
  if (!m->func_names) {
    m->func_names = tw__calloc(nfuncs, sizeof *m->func_names);
    if (!m->func_names) return;
  }
  for (uint32_t i = 0; i < n; i++) {
    uint32_t idx;
    if (tw__rd_u32(&p, end, &idx)) return;
    char *name = read_name(&p, end);
    if (!name) return;
    if (idx >= nfuncs || m->func_names[idx]) {
      tw__free(name); /* out of range or duplicate: keep the first */
      continue;
    }
    m->func_names[idx] = name;
  }
}

void tw__names_parse(struct tw__module *m, const uint8_t *p,
                     const uint8_t *end) {
  int last = -1;
  while (p < end) {
    uint8_t id;
    uint32_t size;
    const uint8_t *sub;
    if (tw__rd_u8(&p, end, &id)) return;
    if (tw__rd_u32(&p, end, &size)) return;
    if (tw__rd_bytes(&p, end, size, &sub)) return;
    if ((int)id <= last) return; /* subsections in order, once each */
    last = id;
    if (id == 0 && !m->module_name) {
      const uint8_t *q = sub;
      m->module_name = read_name(&q, sub + size);
    } else if (id == 1) {
      function_names(m, sub, sub + size);
    }
  }
}
