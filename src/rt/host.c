/* What a host function can do with its caller: find the calling instance
 * and its memory 0, copy bytes in and out with bounds checks, and stop the
 * guest with a trap or an exit. A tw_caller_t lives on the runtime's stack
 * only for the duration of one host call.
 */
#include "rt/rt.h"

#include <stdio.h>
#include <string.h>

tw_instance_t *tw_caller_instance(tw_caller_t *caller) {
  return caller ? caller->instance : NULL;
}

static struct twr_memory *caller_mem(tw_caller_t *caller) {
  if (!caller || !caller->instance) return NULL;
  const struct tw__module *m = caller->instance->module->m;
  if (tw__module_memory_count(m) == 0) return NULL;
  return caller->instance->in.memories[0];
}

uint8_t *tw_caller_memory(tw_caller_t *caller, uint64_t *size) {
  struct twr_memory *mem = caller_mem(caller);
  if (size) *size = mem ? mem->size : 0;
  return mem ? mem->base : NULL;
}

int tw_caller_read(tw_caller_t *caller, uint64_t ptr, void *dst,
                   size_t len) {
  struct twr_memory *mem = caller_mem(caller);
  if (!mem || ptr > mem->size || len > mem->size - ptr) return TW_EINVAL;
  if (len) memcpy(dst, mem->base + ptr, len);
  return 0;
}

int tw_caller_write(tw_caller_t *caller, uint64_t ptr, const void *src,
                    size_t len) {
  struct twr_memory *mem = caller_mem(caller);
  if (!mem || ptr > mem->size || len > mem->size - ptr) return TW_EINVAL;
  if (len) memcpy(mem->base + ptr, src, len);
  return 0;
}

int tw_caller_trap(tw_caller_t *caller, const char *fmt, ...) {
  if (!caller || !caller->instance) return TW_ETRAP;
  tw_store_t *s = caller->instance->store;
  s->last_trap.kind = TW_TRAP_HOST;
  s->last_trap.exit_code = 0;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_trap.message, sizeof s->last_trap.message, fmt, ap);
    va_end(ap);
  } else {
    snprintf(s->last_trap.message, sizeof s->last_trap.message, "%s",
             tw_trap_message(TW_TRAP_HOST));
  }
  caller->trapped = true;
  return TW_ETRAP;
}

int tw_caller_exit(tw_caller_t *caller, int32_t code) {
  if (!caller || !caller->instance) return TW_EEXIT;
  tw__rt_set_trap(caller->instance->store, TW_TRAP_EXIT, code,
                  "exit with code %d", (int)code);
  caller->trapped = true;
  return TW_EEXIT;
}

uint64_t tw_caller_deadline_ns(tw_caller_t *caller) {
  if (!caller || !caller->exec || !caller->instance) return UINT64_MAX;
  if (atomic_load(&caller->instance->store->interrupted)) return tw__now_ns();
  /* Atomic: tw_store_interrupt may be zeroing it on another thread. */
  uint64_t d = __atomic_load_n(&caller->exec->deadline, __ATOMIC_RELAXED);
  if (d == UINT64_MAX) return UINT64_MAX;
  /* The timer stops the call once the epoch (whole milliseconds since
   * the engine started) exceeds d, that is from start + (d + 1) ms on. */
  const tw_engine_t *e = caller->instance->store->engine;
  if (d + 1 > (UINT64_MAX - e->start_ns) / 1000000u) return UINT64_MAX;
  return e->start_ns + (d + 1) * 1000000u;
}

int tw_caller_deadline_trap(tw_caller_t *caller) {
  if (!caller || !caller->instance) return TW_ETRAP;
  tw_store_t *s = caller->instance->store;
  int kind = atomic_load(&s->interrupted) ? TW_TRAP_INTERRUPTED
                                          : TW_TRAP_DEADLINE;
  tw__rt_set_trap(s, kind, 0, NULL);
  caller->trapped = true;
  return TW_ETRAP;
}
