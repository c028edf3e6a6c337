/* The verified restore-image cache (docs/SNAPSHOT-FORMAT.md, "Restore
 * cache"): decoded images of snapshots that passed every check once,
 * keyed by the BLAKE3 of the snapshot's whole bytes, so that restoring
 * the same bytes again maps the image instead of authenticating,
 * decompressing and decoding it. Process-wide, bounded by bytes (LRU).
 *
 * Lookup: the id is a BLAKE3 of the snapshot's length, header and trailer
 * (a few hundred bytes, so computing it costs nothing next to a restore);
 * it only picks the candidate. A hit is decided by comparing the whole
 * snapshot with the copy the entry keeps, byte for byte: exact equality,
 * not a hash, is what carries the earlier verification over, and a memcmp
 * of a 300 KB snapshot costs ~8 us where hashing it all cost ~70 us.
 *
 * Invariants: an entry is only ever added by a restore that passed every
 * check on exactly the bytes it keeps (structure, signature or CRC, frame,
 * payload against the module), so byte equality carries those results
 * over. Entries record with which key fingerprint
 * (if any) the signature was verified; the caller-dependent checks are
 * never cached. Images are immutable and reference-counted: an eviction
 * while a restore maps one only drops the cache's reference. One mutex
 * guards the table, the LRU list and the counters.
 */
#include "snap/snap_int.h"

#include "base/hash.h"

#include <pthread.h>
#include <string.h>

#define NBUCKETS 1024u
/* Entries beyond this count are evicted even under the byte limit (many
 * tiny snapshots would otherwise make long chains). */
#define MAX_ENTRIES 16384u

struct entry {
  uint8_t id[32];      /* tw__snap_cache_id of the snapshot */
  uint8_t *snap;       /* the snapshot's bytes, verified */
  size_t snap_len;
  bool keyed;          /* the signature was verified with key_fp's key */
  uint8_t key_fp[32];
  struct tw__snap_image *img;
  uint64_t bytes;
  struct entry *chain;       /* next in the bucket */
  struct entry *prev, *next; /* LRU list, most recent first */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *buckets[NBUCKETS];
static struct entry *lru_head, *lru_tail;
static uint64_t limit = TW_SNAPSHOT_CACHE_DEFAULT_BYTES;
static uint64_t used, count;
static uint64_t hits, misses, insertions, evictions;

static uint32_t bucket_of(const uint8_t id[32]) {
  uint32_t h;
  memcpy(&h, id, sizeof h);
  return h % NBUCKETS;
}

void tw__snap_cache_id(const uint8_t *bytes, size_t len, uint8_t id[32]) {
  enum { HEAD = 128, TAIL = 64 };
  uint8_t buf[8 + HEAD + TAIL];
  size_t n = 0;
  for (int i = 0; i < 8; i++) buf[n++] = (uint8_t)((uint64_t)len >> (8 * i));
  size_t h = len < HEAD ? len : HEAD;
  memcpy(buf + n, bytes, h);
  n += h;
  size_t t = len < TAIL ? len : TAIL;
  memcpy(buf + n, bytes + len - t, t);
  n += t;
  tw__blake3(buf, n, id);
}

/* The entry holding exactly these bytes (caller holds mu). */
static struct entry *find(const uint8_t id[32], const uint8_t *bytes,
                          size_t len) {
  for (struct entry *e = buckets[bucket_of(id)]; e; e = e->chain)
    if (memcmp(e->id, id, 32) == 0 && e->snap_len == len &&
        memcmp(e->snap, bytes, len) == 0)
      return e;
  return NULL;
}

static void lru_unlink(struct entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    lru_head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    lru_tail = e->prev;
  e->prev = e->next = NULL;
}

static void lru_push_front(struct entry *e) {
  e->prev = NULL;
  e->next = lru_head;
  if (lru_head) lru_head->prev = e;
  lru_head = e;
  if (!lru_tail) lru_tail = e;
}

/* Takes e out of the table and the list (caller holds mu); the caller
 * releases it with entry_free after unlocking. */
static void unlink_entry(struct entry *e) {
  struct entry **pp = &buckets[bucket_of(e->id)];
  while (*pp != e) pp = &(*pp)->chain;
  *pp = e->chain;
  lru_unlink(e);
  used -= e->bytes;
  count--;
}

static void entry_free(struct entry *e) {
  tw__snap_image_unref(e->img);
  tw__free(e->snap);
  tw__free(e);
}

/* Unlinks least recently used entries until the limits hold, chaining
 * them through ->chain into *victims (caller holds mu). */
static void evict(struct entry **victims) {
  while (lru_tail && (used > limit || count > MAX_ENTRIES)) {
    struct entry *e = lru_tail;
    unlink_entry(e);
    evictions++;
    e->chain = *victims;
    *victims = e;
  }
}

static void free_victims(struct entry *v) {
  while (v) {
    struct entry *n = v->chain;
    entry_free(v);
    v = n;
  }
}

bool tw__snap_cache_enabled(void) {
  pthread_mutex_lock(&mu);
  bool on = limit != 0;
  pthread_mutex_unlock(&mu);
  return on;
}

struct tw__snap_image *tw__snap_cache_get(const uint8_t id[32],
                                          const uint8_t *bytes, size_t len,
                                          const uint8_t *key_fp,
                                          bool *mac_ok) {
  *mac_ok = false;
  struct tw__snap_image *img = NULL;
  pthread_mutex_lock(&mu);
  struct entry *e = find(id, bytes, len);
  if (e) {
    hits++;
    lru_unlink(e);
    lru_push_front(e);
    img = e->img;
    tw__snap_image_ref(img);
    *mac_ok = key_fp && e->keyed && memcmp(e->key_fp, key_fp, 32) == 0;
  } else {
    misses++;
  }
  pthread_mutex_unlock(&mu);
  return img;
}

void tw__snap_cache_put(const uint8_t id[32], const uint8_t *bytes,
                        size_t len, const uint8_t *key_fp,
                        struct tw__snap_image *img) {
  struct entry *victims = NULL;
  pthread_mutex_lock(&mu);
  struct entry *e = find(id, bytes, len);
  if (e) {
    /* Another restore of the same bytes got here first (or this one
     * verified a signature its entry had not): keep the entry's image,
     * which is the same state, and note the key. */
    if (key_fp) {
      e->keyed = true;
      memcpy(e->key_fp, key_fp, 32);
    }
    pthread_mutex_unlock(&mu);
    return;
  }
  uint64_t size = img->bytes + len + sizeof *e;
  if (size > limit) {
    pthread_mutex_unlock(&mu);
    return;
  }
  e = tw__calloc(1, sizeof *e);
  uint8_t *copy = e ? tw__malloc(len) : NULL;
  if (!copy) {
    tw__free(e);
    pthread_mutex_unlock(&mu);
    return;
  }
  memcpy(copy, bytes, len);
  e->snap = copy;
  e->snap_len = len;
  memcpy(e->id, id, 32);
  if (key_fp) {
    e->keyed = true;
    memcpy(e->key_fp, key_fp, 32);
  }
  tw__snap_image_ref(img);
  e->img = img;
  e->bytes = size;
  uint32_t b = bucket_of(id);
  e->chain = buckets[b];
  buckets[b] = e;
  lru_push_front(e);
  used += size;
  count++;
  insertions++;
  evict(&victims);
  pthread_mutex_unlock(&mu);
  free_victims(victims);
}

void tw__snap_cache_drop(const uint8_t id[32], const uint8_t *bytes,
                         size_t len) {
  pthread_mutex_lock(&mu);
  struct entry *e = find(id, bytes, len);
  if (e) unlink_entry(e);
  pthread_mutex_unlock(&mu);
  if (e) entry_free(e);
}

void tw_snapshot_cache_set_limit(uint64_t max_bytes) {
  struct entry *victims = NULL;
  pthread_mutex_lock(&mu);
  limit = max_bytes;
  evict(&victims);
  pthread_mutex_unlock(&mu);
  free_victims(victims);
}

void tw_snapshot_cache_clear(void) {
  struct entry *victims = NULL;
  pthread_mutex_lock(&mu);
  while (lru_tail) {
    struct entry *e = lru_tail;
    unlink_entry(e);
    e->chain = victims;
    victims = e;
  }
  pthread_mutex_unlock(&mu);
  free_victims(victims);
}

void tw_snapshot_cache_stats(tw_snapshot_cache_stats_t *out) {
  if (!out) return;
  pthread_mutex_lock(&mu);
  out->hits = hits;
  out->misses = misses;
  out->insertions = insertions;
  out->evictions = evictions;
  out->entries = count;
  out->bytes = used;
  out->limit_bytes = limit;
  pthread_mutex_unlock(&mu);
}
