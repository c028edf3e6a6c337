/* Reading just enough of PTX text: that it looks like PTX (.version,
 * .target, no NUL bytes) and the parameter list of one `.entry`, whose
 * count and sizes typed argv is checked against before any launch (the
 * driver reads as many parameter values as the kernel declares, so a
 * short argument array would make it read past our buffer). The real
 * compiler (driver JIT or nvJitLink) is the authority on validity.
 */
#include <stdio.h>
#include <string.h>

#include "gpu/gpu_int.h"

static bool ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == '$';
}
static bool ident_char(char c) {
  return ident_start(c) || (c >= '0' && c <= '9');
}
static bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool tw__gpu_ptx_ident(const char *s, size_t n) {
  if (n == 0 || n > 255 || !ident_start(s[0])) return false;
  for (size_t i = 1; i < n; i++)
    if (!ident_char(s[i])) return false;
  return true;
}

/* Finds directive `d` as a whole token in p[0..n), from `from`. */
static const char *find_token(const char *p, size_t n, size_t from,
                              const char *d) {
  size_t dl = strlen(d);
  for (size_t i = from; i + dl <= n; i++) {
    if (p[i] != d[0] || memcmp(p + i, d, dl) != 0) continue;
    if (i > 0 && !space(p[i - 1])) continue;
    if (i + dl < n && !space(p[i + dl])) continue;
    return p + i;
  }
  return NULL;
}

static uint32_t type_size(const char *t, size_t n) {
  static const struct {
    const char *name;
    uint32_t size;
  } types[] = {{".u32", 4}, {".s32", 4}, {".b32", 4}, {".f32", 4},
               {".u64", 8}, {".s64", 8}, {".b64", 8}, {".f64", 8},
               {".u8", 1},  {".s8", 1},  {".b8", 1},  {".u16", 2},
               {".s16", 2}, {".b16", 2}, {".f16", 2}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strlen(types[i].name) == n && memcmp(types[i].name, t, n) == 0)
      return types[i].size;
  return 0;
}

/* Parses one ".param TYPE [.ptr ...] [.align N] name[[K]]" declaration. */
static int parse_param(const char *p, size_t n, uint32_t index,
                       struct tw__gpu_param *out, const char *entry,
                       char *err, size_t errlen) {
  uint32_t elem = 0, count = 1;
  const char *tname = NULL;
  size_t tlen = 0;
  bool saw_param = false;
  size_t i = 0;
  while (i < n) {
    while (i < n && space(p[i])) i++;
    size_t s = i;
    while (i < n && !space(p[i])) i++;
    if (i == s) break;
    const char *tok = p + s;
    size_t tl = i - s;
    if (tl == 6 && memcmp(tok, ".param", 6) == 0) {
      saw_param = true;
    } else if (tok[0] == '.' && type_size(tok, tl)) {
      elem = type_size(tok, tl);
      tname = tok;
      tlen = tl;
    } else if (tok[0] != '.' && !(tok[0] >= '0' && tok[0] <= '9')) {
      /* the name, maybe with [K] */
      const char *br = memchr(tok, '[', tl);
      if (br) {
        unsigned long k = 0;
        for (const char *q = br + 1; q < tok + tl && *q != ']'; q++) {
          if (*q < '0' || *q > '9' || k > 1u << 20) {
            k = 0;
            break;
          }
          k = k * 10 + (unsigned long)(*q - '0');
        }
        count = (uint32_t)k;
      }
    }
  }
  if (!saw_param || !elem || !count)
    return tw__err(TW_EINVAL, err, errlen,
                   "cannot read parameter %u of .entry %s", index, entry);
  uint64_t size = (uint64_t)elem * count;
  if (size != 4 && size != 8)
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "parameter %u of .entry %s is %llu bytes; wasi:cuda "
                   "passes 4- and 8-byte scalars and pointers only",
                   index, entry, (unsigned long long)size);
  out->size = (uint32_t)size;
  snprintf(out->type, sizeof out->type, "%.*s", (int)(tlen < 7 ? tlen : 7),
           tname);
  return 0;
}

int tw__gpu_ptx_entry(const char *ptx, size_t len, const char *entry,
                      struct tw__gpu_param *params, uint32_t *nparams,
                      char *err, size_t errlen) {
  if (memchr(ptx, '\0', len))
    return tw__err(TW_EINVAL, err, errlen,
                   "PTX contains a NUL byte at offset %zu",
                   (size_t)((const char *)memchr(ptx, '\0', len) - ptx));
  if (!find_token(ptx, len, 0, ".version"))
    return tw__err(TW_EINVAL, err, errlen,
                   "not PTX: no .version directive");
  if (!find_token(ptx, len, 0, ".target"))
    return tw__err(TW_EINVAL, err, errlen, "not PTX: no .target directive");
  size_t elen = strlen(entry);
  char names[256] = "";
  size_t nnames = 0;
  size_t from = 0;
  const char *e;
  while ((e = find_token(ptx, len, from, ".entry")) != NULL) {
    size_t i = (size_t)(e - ptx) + 6;
    from = i;
    while (i < len && space(ptx[i])) i++;
    size_t s = i;
    while (i < len && ident_char(ptx[i])) i++;
    size_t nl = i - s;
    if (nl == 0) continue;
    if (nl != elen || memcmp(ptx + s, entry, elen) != 0) {
      if (nnames < 8) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%.*s",
                 nnames ? ", " : "", (int)(nl > 40 ? 40 : nl), ptx + s);
      }
      nnames++;
      continue;
    }
    while (i < len && space(ptx[i])) i++;
    *nparams = 0;
    if (i >= len || ptx[i] != '(') return 0; /* no parameter list */
    const char *close = memchr(ptx + i, ')', len - i);
    if (!close)
      return tw__err(TW_EINVAL, err, errlen,
                     "unterminated parameter list of .entry %s", entry);
    const char *p = ptx + i + 1;
    while (p < close) {
      const char *comma = memchr(p, ',', (size_t)(close - p));
      const char *end = comma ? comma : close;
      const char *q = p;
      while (q < end && space(*q)) q++;
      if (q == end) { /* empty list "()" */
        if (comma || *nparams)
          return tw__err(TW_EINVAL, err, errlen,
                         "empty parameter in .entry %s", entry);
        break;
      }
      if (*nparams >= TW__GPU_MAX_PARAMS)
        return tw__err(TW_EUNSUPPORTED, err, errlen,
                       ".entry %s has more than %d parameters", entry,
                       TW__GPU_MAX_PARAMS);
      int rc = parse_param(p, (size_t)(end - p), *nparams,
                           &params[*nparams], entry, err, errlen);
      if (rc) return rc;
      (*nparams)++;
      p = comma ? comma + 1 : close;
    }
    return 0;
  }
  return tw__err(TW_ENOTFOUND, err, errlen,
                 "no .entry named '%s' in the PTX (entries: %s%s)", entry,
                 nnames ? names : "none", nnames > 8 ? ", ..." : "");
}
