/* libFuzzer target: decode, validate, and read every instruction of
 * arbitrary bytes, then generate tier 1's C for the modules that
 * validate (the code generator and its covered-load analysis). Invariants
 * checked: no crash, no sanitizer report, no leak, and every failure
 * comes with a non-empty message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/base.h"
#include "codegen/codegen.h"
#include "wasm/wasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tw__module *m = NULL;
  char err[512];
  err[0] = '\0';
  int rc = tw__module_decode(data, size, &m, err, sizeof err);
  if (rc != 0) {
    if (m || err[0] == '\0') abort();
    return 0;
  }
  /* the reader on its own over every body, as codegen would use it */
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    struct tw__reader r;
    struct tw__instr in;
    tw__reader_init(&r, m->bytes, m->funcs[i].code, m->funcs[i].end);
    while (r.p < r.end) {
      const uint8_t *before = r.p;
      if (tw__reader_next(&r, &in, err, sizeof err) != 0) break;
      if (r.p <= before || r.p > r.end) abort(); /* always progresses */
      (void)tw__op_name(in.op);
    }
    tw__reader_close(&r);
  }
  err[0] = '\0';
  rc = tw__module_validate(m, err, sizeof err);
  if (rc != 0 && err[0] == '\0') abort();
  /* The C of both tiers: tier 1's (covered loads) and tier 0's (plain
   * memory accesses), alternating by the input's last byte. */
  if (rc == 0) {
    struct tw__codegen_opts o;
    tw__codegen_opts_default(&o);
    o.cover_loads = data[size - 1] & 1; /* valid: size >= 8 */
    o.plain_mem = !o.cover_loads;
    struct tw__buf c;
    tw__buf_init(&c, 16u << 20);
    err[0] = '\0';
    if (tw__codegen_c_ex(m, &o, &c, err, sizeof err) != 0 && err[0] == '\0' &&
        !c.error)
      abort();
    tw__buf_free(&c);
  }
  for (uint32_t i = 0; i < tw__module_func_count(m); i++)
    (void)tw__module_func_name(m, i);
  tw__module_free(m);
  return 0;
}
