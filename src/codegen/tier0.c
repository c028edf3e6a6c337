/* Tier 0: compiles generated C in memory with libtcc.
 *
 * libtcc keeps global state, so one mutex serialises every use of it. A
 * struct tw__code owns its TCCState (which owns the machine code) until
 * tw__code_free. The generated C includes no header: the few libc/libm
 * functions it (or tcc's struct copies) may call are bound here by
 * tcc_add_symbol, and tcc's own helper library (libtcc1.a) is linked from
 * TW_TCC_LIB_PATH (overridable by the environment variable of that name).
 */
#include <libtcc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "rt/abi.h"

#define TW_TCC_LIB_PATH "/usr/lib/x86_64-linux-gnu/tcc"

struct tw__code {
  TCCState *s;
  void *entry;
};

static pthread_mutex_t tcc_lock = PTHREAD_MUTEX_INITIALIZER;

/* Collects the first error message tcc reports. */
struct tcc_errs {
  char *err;
  size_t errlen;
  int seen;
};

static void on_tcc_error(void *opaque, const char *msg) {
  struct tcc_errs *e = opaque;
  if (e->seen) return;
  e->seen = 1;
  tw__err(TW_ECOMPILE, e->err, e->errlen, "tier0 (tcc): %s", msg);
}

static const struct {
  const char *name;
  const void *fn;
} k_symbols[] = {
    {"sqrt", (const void *)sqrt},   {"sqrtf", (const void *)sqrtf},
    {"ceil", (const void *)ceil},   {"ceilf", (const void *)ceilf},
    {"floor", (const void *)floor}, {"floorf", (const void *)floorf},
    {"trunc", (const void *)trunc}, {"truncf", (const void *)truncf},
    {"rint", (const void *)rint},   {"rintf", (const void *)rintf},
    /* tcc emits calls to these for struct copies and initialisers */
    {"memcpy", (const void *)memcpy},
    {"memmove", (const void *)memmove},
    {"memset", (const void *)memset},
};

int tw__tier0_compile(const char *csrc, size_t len, struct tw__code **out,
                      char *err, size_t errlen) {
  *out = NULL;
  if (!csrc || csrc[len] != '\0' || strlen(csrc) != len)
    return tw__err(TW_EINVAL, err, errlen,
                   "tier0: source must be NUL-terminated without inner NULs");
  struct tw__code *code = tw__calloc(1, sizeof *code);
  if (!code) return tw__err(TW_ENOMEM, err, errlen, "tier0: out of memory");

  const char *libpath = getenv("TW_TCC_LIB_PATH");
  if (!libpath || !*libpath) libpath = TW_TCC_LIB_PATH;
  char libtcc1[4096];
  snprintf(libtcc1, sizeof libtcc1, "%s/libtcc1.a", libpath);

  struct tcc_errs errs = {err, errlen, 0};
  int rc = 0;
  pthread_mutex_lock(&tcc_lock);
  TCCState *s = tcc_new();
  if (!s) {
    rc = tw__err(TW_ENOMEM, err, errlen, "tier0: tcc_new failed");
    goto fail_unlock;
  }
  tcc_set_error_func(s, &errs, on_tcc_error);
  tcc_set_lib_path(s, libpath);
  tcc_set_options(s, "-nostdlib -w");
  if (tcc_set_output_type(s, TCC_OUTPUT_MEMORY) < 0) goto fail_tcc;
  for (size_t i = 0; i < sizeof k_symbols / sizeof k_symbols[0]; i++)
    tcc_add_symbol(s, k_symbols[i].name, k_symbols[i].fn);
  if (tcc_compile_string(s, csrc) < 0) goto fail_tcc;
  if (access(libtcc1, R_OK) == 0 && tcc_add_file(s, libtcc1) < 0)
    goto fail_tcc;
  if (tcc_relocate(s, TCC_RELOCATE_AUTO) < 0) goto fail_tcc;
  code->entry = tcc_get_symbol(s, TWR_ENTRY_SYMBOL);
  if (!code->entry) {
    rc = tw__err(TW_ECOMPILE, err, errlen, "tier0: no %s in generated code",
                 TWR_ENTRY_SYMBOL);
    goto fail_delete;
  }
  pthread_mutex_unlock(&tcc_lock);
  code->s = s;
  *out = code;
  return 0;

fail_tcc:
  if (!errs.seen)
    tw__err(TW_ECOMPILE, err, errlen, "tier0: tcc failed without a message");
  rc = TW_ECOMPILE;
fail_delete:
  tcc_delete(s);
fail_unlock:
  pthread_mutex_unlock(&tcc_lock);
  tw__free(code);
  return rc;
}

void *tw__code_entry(struct tw__code *code) { return code ? code->entry : NULL; }

void tw__code_free(struct tw__code *code) {
  if (!code) return;
  pthread_mutex_lock(&tcc_lock);
  tcc_delete(code->s);
  pthread_mutex_unlock(&tcc_lock);
  tw__free(code);
}
