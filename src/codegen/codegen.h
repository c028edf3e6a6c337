/* WebAssembly -> C, and the compilers that turn that C into running code.
 *
 * tw__codegen_c() writes one self-contained C translation unit for a
 * validated module: the prelude (src/rt/abi.h + src/codegen/prelude.h),
 * one C function per defined WebAssembly function (named f<index>), one
 * invoker per module type, one host thunk per imported function, and
 * `void twm_entry(struct twr_code *)` that fills the runtime's tables.
 * The C is free of undefined behaviour for every valid module; module
 * strings never become identifiers (only escaped literals).
 *
 * Tier 0 compiles that C in memory with libtcc (serialized: libtcc has
 * global state).
 */
#ifndef TW_CODEGEN_H
#define TW_CODEGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "wasm/wasm.h"

/* Bump when the generated C changes meaning (cached code is keyed on it). */
#define TW_CODEGEN_VERSION 12

/* The prelude text (embedded at build time). */
extern const char tw__prelude_text[];
extern const unsigned long tw__prelude_text_len;

/* Options of the generated C. */
struct tw__codegen_opts {
  /* Emit the deadline checks at loop headers (TWR_POLL). Without them a
   * guest is stopped only at function entries. */
  bool interruptible;
  /* ntus > 1: emit translation unit `tu` of ntus, holding the defined
   * functions i with tu_of[i] == tu (tu_of has m->nfuncs entries); unit 0
   * also holds the import thunks, the invokers and twm_entry. Defined
   * functions then have external linkage with hidden visibility, so the
   * objects link into one shared object. ntus <= 1: one whole unit. */
  uint32_t ntus, tu;
  const uint32_t *tu_of;
  /* tw__codegen_calls of the module, or NULL to have it computed: a
   * caller emitting several units computes it once. */
  const uint8_t *calls;
  /* Find the loads that a later access covers and emit them without the
   * keep (codegen/cover.c). Only an optimising compiler gains
   * from it (tcc keeps every load anyway), so tier 1 sets it. */
  bool cover_loads;
  /* Write scalar loads and stores as plain C, `*(T *)(m0_ + a + off)`,
   * rather than through the prelude's TWR_LOAD/TWR_ADDR/TWR_STORE: for
   * tcc only, which needs no keep or order and spends a sixth of its time
   * on a large module expanding those macros. tier 0 sets it. */
  bool plain_mem;
};

/* calls[i] = 1 when defined function i has a call or call_indirect
 * instruction (reachable or not), else 0; calls has m->nfuncs entries.
 * Codegen relies on it: every such function checks at its entry, so a
 * loop calling one on every iteration needs no check of its own. */
int tw__codegen_calls(const struct tw__module *m, uint8_t *calls, char *err,
                      size_t errlen);

/* Fills *o with the defaults: interruptible, one translation unit. */
void tw__codegen_opts_default(struct tw__codegen_opts *o);

/* Assigns each defined function of m to one of at most max_tus
 * translation units, in index order, so that each unit holds about
 * target_bytes of WebAssembly code (the C compiler's time grows with it).
 * Writes tu_of[0..m->nfuncs) and returns the number of units used. */
uint32_t tw__codegen_split(const struct tw__module *m, size_t target_bytes,
                           uint32_t max_tus, uint32_t *tu_of);

/* tw__codegen_c with options (the same errors; TW_EINVAL for a bad unit
 * selection). */
int tw__codegen_c_ex(const struct tw__module *m,
                     const struct tw__codegen_opts *o, struct tw__buf *out,
                     char *err, size_t errlen);

/* Appends the C for module m (which must have passed validation) to out.
 * Returns 0, TW_EUNSUPPORTED for instructions this tier cannot yet
 * translate (message names function and offset), TW_ELIMIT if the output
 * would exceed out's limit, or TW_ENOMEM. */
int tw__codegen_c(const struct tw__module *m, struct tw__buf *out, char *err,
                  size_t errlen);

/* Compiled code: owns the machine code until freed. */
struct tw__code;

/* Compiles C source (NUL-terminated, len bytes) in memory with libtcc.
 * On failure returns TW_ECOMPILE with the compiler's first message. */
int tw__tier0_compile(const char *csrc, size_t len, struct tw__code **out,
                      char *err, size_t errlen);

/* The module's twm_entry function (void (*)(struct twr_code *)). */
void *tw__code_entry(struct tw__code *code);

void tw__code_free(struct tw__code *code);

/* ---- Tier 1 (tier1.c) ----
 *
 * The same C compiled by the system C compiler (`cc`, or $TW_CC; gcc or
 * clang, told apart by `cc --version`) into a shared object, in a pool of
 * background threads (as many as online CPUs): large modules are split
 * into several translation units compiled in parallel and linked with
 * `cc -shared`. Each compiler run is capped (120 s, or $TW_CC_TIMEOUT_MS)
 * and killed with its process group past the cap. Shared objects are
 * kept in an on-disk code cache keyed by BLAKE3 of (module bytes, codegen
 * version, ABI version, compiler identity, flags); see tier1.c for the
 * entry format. Loaded with dlopen(RTLD_NOW | RTLD_LOCAL).
 */

/* Tier-1 service of one engine: compiler identity, cache, thread pool. */
struct tw__tier1;
/* One module's tier-1 compilation. */
struct tw__tier1_job;
/* Tier-1 machine code (a dlopen handle); owned until tw__tier1_code_free. */
struct tw__tier1_code;

struct tw__tier1_config {
  const char *cache_dir; /* NULL or "": no cache (copied) */
  bool interruptible;    /* emit deadline polls */
};

/* Creates the service; threads start with the first job, the compiler is
 * probed by the first job (a missing compiler fails jobs, it does not fail
 * this). Returns 0 or TW_ENOMEM. */
int tw__tier1_new(const struct tw__tier1_config *cfg, struct tw__tier1 **out);
/* Cancels every job, joins the threads, frees the service. */
void tw__tier1_free(struct tw__tier1 *t);

/* Called on a pool thread when a job ends: code is the loaded machine
 * code, handed over to the callee, or NULL when the job failed (msg says
 * why; it has already been logged to stderr). Not called for cancelled
 * jobs. */
typedef void (*tw__tier1_done_fn)(void *arg, struct tw__tier1_code *code,
                                  const char *msg);

/* Queues the tier-1 compilation of m (which must stay alive and unchanged
 * until the job is freed; its binary is part of the cache key). Returns 0
 * or TW_ENOMEM; *out is freed with tw__tier1_job_free. */
int tw__tier1_submit(struct tw__tier1 *t, const struct tw__module *m,
                     tw__tier1_done_fn done, void *arg,
                     struct tw__tier1_job **out);
/* Waits until the job has ended (its callback has returned), at most
 * timeout_ms (UINT64_MAX: forever). Returns true if it has ended. */
bool tw__tier1_job_wait(struct tw__tier1_job *j, uint64_t timeout_ms);
/* Cancels the job if it is still queued or running (killing its compiler
 * processes), waits for it to stop, and frees it. NULL is a no-op. */
void tw__tier1_job_free(struct tw__tier1_job *j);

/* The twm_entry function of tier-1 code. */
void *tw__tier1_code_entry(struct tw__tier1_code *code);
void tw__tier1_code_free(struct tw__tier1_code *code);

#endif
