/* Linear memories and the reservation registry.
 * Each memory is one 8 GiB + 64 KiB PROT_NONE reservation whose first
 * `size` bytes are read-write: any 32-bit address plus 32-bit offset plus
 * an access of up to 16 bytes lands inside it, so out-of-bounds accesses
 * fault. The registry lists live reservations for the fault handler,
 * which reads it without locks: slots hold (base, len) published with
 * release stores; len is written last on register and cleared first on
 * unregister, so the handler never sees a half-written slot as valid.
 * Below the reservation lies a 2 MiB readable gap (so base keeps the
 * alignment the kernel gave the mapping; nothing reads it but generated
 * code, and only its last byte, so it costs no memory and one mapping)
 * whose last 4 KiB is the memory's poll page: readable while no call of
 * the owning store is stopped, PROT_NONE while one is (abi.h). Arming
 * walks the registry under poll_mu, and a memory leaves the registry
 * under poll_mu before it is unmapped, so arming never touches an
 * address that was given back.
 * Copy-on-write: the start of a memory may be a MAP_PRIVATE mapping of a
 * sealed memfd (a module's initial image or a snapshot's memory); reset
 * discards private pages with MADV_DONTNEED, which on such a mapping
 * brings back the file's bytes and on anonymous memory brings zeros.
 */
#include "rt/rt.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE_BYTES 65536ull
#define RESERVE_BYTES ((8ull << 30) + PAGE_BYTES)
#define GAP_BYTES (2ull << 20)
#define POLL_BYTES 4096ull
/* 128 TiB of user address space holds at most ~16k reservations. */
#define MAX_RESERVATIONS 16384

struct reservation {
  _Atomic uintptr_t base;
  _Atomic size_t len;
  atomic_bool used; /* claimed by a registration (set before base/len) */
  /* A memory's: the store whose stopped calls arm its poll page (the
   * page below base). NULL for raw registrations, which have none. */
  _Atomic(const void *) owner;
};

static struct reservation registry[MAX_RESERVATIONS];
static atomic_int registry_hwm; /* slots [0, hwm) may be in use */
static pthread_mutex_t poll_mu = PTHREAD_MUTEX_INITIALIZER;

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
  atomic_store(&registry[slot].owner, NULL);
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

uintptr_t tw__rt_poll_page_at(uintptr_t addr) {
  int hwm = atomic_load_explicit(&registry_hwm, memory_order_acquire);
  for (int i = 0; i < hwm; i++) {
    if (!atomic_load_explicit(&registry[i].owner, memory_order_acquire))
      continue;
    uintptr_t base =
        atomic_load_explicit(&registry[i].base, memory_order_acquire);
    if (addr < base && base - addr <= POLL_BYTES) return base - POLL_BYTES;
  }
  return 0;
}

void tw__rt_polls_arm(const void *owner) {
  pthread_mutex_lock(&poll_mu);
  int hwm = atomic_load(&registry_hwm);
  for (int i = 0; i < hwm; i++) {
    const void *o = atomic_load(&registry[i].owner);
    if (!o || (owner && o != owner)) continue;
    uintptr_t base = atomic_load(&registry[i].base);
    /* Cannot fail on a page of our own mapping short of the kernel
     * running out of memory for the split; the call then stops at its
     * next function entry instead. */
    mprotect((void *)(base - POLL_BYTES), POLL_BYTES, PROT_NONE);
  }
  pthread_mutex_unlock(&poll_mu);
}

void tw__rt_poll_page_disarm(uintptr_t page) {
  mprotect((void *)page, POLL_BYTES, PROT_READ);
}

int tw__rt_memory_new(const void *owner, uint64_t min, uint64_t max,
                      bool has_max, uint64_t cap_bytes,
                      struct tw__rt_memory **out, char *err, size_t errlen) {
  *out = NULL;
  uint64_t cap_pages = cap_bytes / PAGE_BYTES;
  if (cap_pages > TW_LIMIT_MEMORY_PAGES) cap_pages = TW_LIMIT_MEMORY_PAGES;
  if (min > cap_pages)
    return tw__err(TW_ELIMIT, err, errlen,
                   "memory of %llu pages exceeds the limit of %llu pages",
                   (unsigned long long)min, (unsigned long long)cap_pages);
  struct tw__rt_memory *mem = tw__calloc(1, sizeof *mem);
  if (!mem) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  uint8_t *start = mmap(NULL, GAP_BYTES + RESERVE_BYTES, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (start == MAP_FAILED) {
    tw__free(mem);
    return tw__err(TW_ENOMEM, err, errlen,
                   "cannot reserve address space for a memory: %s",
                   strerror(errno));
  }
  uint8_t *base = start + GAP_BYTES;
  if (mprotect(start, GAP_BYTES, PROT_READ) ||
      (min && mprotect(base, min * PAGE_BYTES, PROT_READ | PROT_WRITE))) {
    int e = errno;
    munmap(start, GAP_BYTES + RESERVE_BYTES);
    tw__free(mem);
    return tw__err(TW_ENOMEM, err, errlen,
                   "cannot commit %llu pages of memory: %s",
                   (unsigned long long)min, strerror(e));
  }
  int slot = tw__rt_reservation_register(base, RESERVE_BYTES);
  if (slot < 0) {
    munmap(start, GAP_BYTES + RESERVE_BYTES);
    tw__free(mem);
    return tw__err(TW_ELIMIT, err, errlen, "too many live memories");
  }
  atomic_store(&registry[slot].owner, owner);
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
  pthread_mutex_lock(&poll_mu);
  tw__rt_reservation_unregister(mem->slot);
  pthread_mutex_unlock(&poll_mu);
  munmap(mem->m.base - GAP_BYTES, GAP_BYTES + mem->reserve_len);
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

int tw__rt_memory_map_file(struct tw__rt_memory *mem, int fd, uint64_t len,
                           const void *backing) {
  struct twr_memory *m = &mem->m;
  if (len % PAGE_BYTES || len / PAGE_BYTES > m->max_pages) return TW_EINVAL;
  if (len == 0) return 0;
  void *p = mmap(m->base, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                 fd, 0);
  if (p == MAP_FAILED) {
    /* MAP_FIXED may have unmapped the old pages before failing: put the
     * reservation back, inaccessible, so the base stays ours. */
    mmap(m->base, m->size > len ? m->size : len, PROT_NONE,
         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    m->pages = m->size = 0;
    mem->backing = NULL;
    mem->backing_len = 0;
    return TW_ENOMEM;
  }
  if (len > m->size) {
    m->pages = len / PAGE_BYTES;
    m->size = len;
  }
  mem->backing = backing;
  mem->backing_len = len;
  return 0;
}

int tw__rt_memory_reset(struct tw__rt_memory *mem, uint64_t pages,
                        const struct tw__rt_image *image) {
  struct twr_memory *m = &mem->m;
  uint64_t keep = pages * PAGE_BYTES;
  bool same = image ? mem->backing == image && mem->backing_len == image->len
                    : mem->backing == NULL;
  if (same && m->size >= keep) {
    /* Fast path: the right file (or none) is mapped already. Shrink, then
     * drop every private page: the kernel reads the file (or zeros) on
     * the next touch. */
    if (m->size > keep) {
      if (mprotect(m->base + keep, m->size - keep, PROT_NONE)) goto remap;
      madvise(m->base + keep, m->size - keep, MADV_DONTNEED);
    }
    m->pages = pages;
    m->size = keep;
    if (keep && madvise(m->base, keep, MADV_DONTNEED)) goto remap;
    return 0;
  }
remap:
  /* A different backing (a snapshot's file, or anonymous memory where an
   * image is wanted): replace the whole committed part with a fresh
   * inaccessible reservation, then map or commit the initial pages. */
  if (m->size &&
      mmap(m->base, m->size, PROT_NONE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
           0) == MAP_FAILED)
    return TW_ENOMEM;
  m->pages = m->size = 0;
  mem->backing = NULL;
  mem->backing_len = 0;
  if (image) return tw__rt_memory_map_file(mem, image->fd, image->len, image);
  if (keep && mprotect(m->base, keep, PROT_READ | PROT_WRITE))
    return TW_ENOMEM;
  m->pages = pages;
  m->size = keep;
  return 0;
}
