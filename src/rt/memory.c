/* Linear memories and the reservation registry.
 * Each memory is one 8 GiB + 64 KiB PROT_NONE reservation whose first
 * `size` bytes are read-write: any 32-bit address plus 32-bit offset plus
 * an access of up to 16 bytes lands inside it, so out-of-bounds accesses
 * fault. The registry lists live reservations for the fault handler,
 * which reads it without locks: slots hold (base, len) published with
 * release stores; len is written last on register and cleared first on
 * unregister, so the handler never sees a half-written slot as valid.
 */
#include "rt/rt.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE_BYTES 65536ull
#define RESERVE_BYTES ((8ull << 30) + PAGE_BYTES)
/* 128 TiB of user address space holds at most ~16k reservations. */
#define MAX_RESERVATIONS 16384

struct reservation {
  _Atomic uintptr_t base;
  _Atomic size_t len;
  atomic_bool used; /* claimed by a registration (set before base/len) */
};

static struct reservation registry[MAX_RESERVATIONS];
static atomic_int registry_hwm; /* slots [0, hwm) may be in use */

int tw__rt_reservation_register(void *base, size_t len) {
  for (int i = 0; i < MAX_RESERVATIONS; i++) {
    bool expect = false;
    if (!atomic_compare_exchange_strong(&registry[i].used, &expect, true))
      continue;
    atomic_store_explicit(&registry[i].base, (uintptr_t)base,
                          memory_order_release);
    atomic_store_explicit(&registry[i].len, len, memory_order_release);
    int hwm = atomic_load(&registry_hwm);
    while (hwm < i + 1 &&
           !atomic_compare_exchange_weak(&registry_hwm, &hwm, i + 1)) {
    }
    return i;
  }
  return TW_ELIMIT;
}

void tw__rt_reservation_unregister(int slot) {
  if (slot < 0 || slot >= MAX_RESERVATIONS) return;
  atomic_store_explicit(&registry[slot].len, 0, memory_order_release);
  atomic_store_explicit(&registry[slot].base, 0, memory_order_release);
  atomic_store(&registry[slot].used, false);
}

bool tw__rt_reservation_contains(uintptr_t addr) {
  int hwm = atomic_load_explicit(&registry_hwm, memory_order_acquire);
  for (int i = 0; i < hwm; i++) {
    size_t len = atomic_load_explicit(&registry[i].len, memory_order_acquire);
    if (!len) continue;
    uintptr_t base =
        atomic_load_explicit(&registry[i].base, memory_order_acquire);
    if (addr >= base && addr - base < len) return true;
  }
  return false;
}

int tw__rt_memory_new(uint64_t min, uint64_t max, bool has_max,
                      uint64_t cap_bytes, struct tw__rt_memory **out,
                      char *err, size_t errlen) {
  *out = NULL;
  uint64_t cap_pages = cap_bytes / PAGE_BYTES;
  if (cap_pages > TW_LIMIT_MEMORY_PAGES) cap_pages = TW_LIMIT_MEMORY_PAGES;
  if (min > cap_pages)
    return tw__err(TW_ELIMIT, err, errlen,
                   "memory of %llu pages exceeds the limit of %llu pages",
                   (unsigned long long)min, (unsigned long long)cap_pages);
  struct tw__rt_memory *mem = tw__calloc(1, sizeof *mem);
  if (!mem) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  void *base = mmap(NULL, RESERVE_BYTES, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    tw__free(mem);
    return tw__err(TW_ENOMEM, err, errlen,
                   "cannot reserve address space for a memory: %s",
                   strerror(errno));
  }
  if (min && mprotect(base, min * PAGE_BYTES, PROT_READ | PROT_WRITE)) {
    int e = errno;
    munmap(base, RESERVE_BYTES);
    tw__free(mem);
    return tw__err(TW_ENOMEM, err, errlen,
                   "cannot commit %llu pages of memory: %s",
                   (unsigned long long)min, strerror(e));
  }
  int slot = tw__rt_reservation_register(base, RESERVE_BYTES);
  if (slot < 0) {
    munmap(base, RESERVE_BYTES);
    tw__free(mem);
    return tw__err(TW_ELIMIT, err, errlen, "too many live memories");
  }
  mem->m.base = base;
  mem->m.pages = min;
  mem->m.size = min * PAGE_BYTES;
  mem->m.max_pages = has_max && max < cap_pages ? max : cap_pages;
  mem->reserve_len = RESERVE_BYTES;
  mem->slot = slot;
  mem->decl_max = max;
  mem->has_max = has_max;
  *out = mem;
  return 0;
}

void tw__rt_memory_free(struct tw__rt_memory *mem) {
  if (!mem) return;
  tw__rt_reservation_unregister(mem->slot);
  munmap(mem->m.base, mem->reserve_len);
  tw__free(mem);
}

uint32_t tw__rt_memory_grow(struct twr_memory *m, uint32_t delta) {
  uint64_t old = m->pages;
  if (delta == 0) return (uint32_t)old;
  if ((uint64_t)delta > m->max_pages - old) return UINT32_MAX;
  if (mprotect(m->base + m->size, (uint64_t)delta * PAGE_BYTES,
               PROT_READ | PROT_WRITE))
    return UINT32_MAX;
  m->pages = old + delta;
  m->size = m->pages * PAGE_BYTES;
  return (uint32_t)old;
}
