/* The snapshot container, v1 (docs/SNAPSHOT-FORMAT.md): a fixed 160-byte
 * header with its own CRC32, a zstd frame, and an optional HMAC-SHA256
 * trailer over everything before it. Readers check structure before
 * anything else, never trust a length before comparing it with the
 * bytes they hold, and decompress with a running total against a cap so
 * a compression bomb costs at most the cap (and is refused before any
 * work when the frame's own content size gives it away).
 */
#include "snap/snap_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>
/* ZSTD_WINDOWLOG_MIN and ZSTD_WINDOWLOG_MAX. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

const uint8_t tw__snap_magic[8] = {'T', 'W', 'S', 'N', 'A', 'P', '\r', '\n'};

static uint32_t crc32_of_more(uint32_t crc, const void *p, size_t n) {
  return (uint32_t)crc32_z(crc, p, n);
}

static uint32_t crc32_of(const void *p, size_t n) {
  return crc32_of_more((uint32_t)crc32_z(0, Z_NULL, 0), p, n);
}

int tw__snap_hmac(const uint8_t *key, size_t key_len, const uint8_t *b,
                  size_t n, uint8_t mac[32]) {
  unsigned int mlen = 0;
  if (key_len > INT32_MAX) return TW_EINVAL;
  if (!HMAC(EVP_sha256(), key, (int)key_len, b, n, mac, &mlen) ||
      mlen != 32)
    return TW_ENOMEM;
  return 0;
}

int tw__snap_parse_header(const uint8_t *b, size_t len,
                          tw_snapshot_info_t *info, char *err,
                          size_t errlen) {
  memset(info, 0, sizeof *info);
  if (!b && len) return tw__err(TW_EINVAL, err, errlen, "no bytes");
  if (len < 16 || memcmp(b, tw__snap_magic, 8) != 0) {
    if (len >= 8 && memcmp(b, tw__snap_magic, 8) != 0)
      return tw__err(TW_EMALFORMED, err, errlen,
                     "not a snapshot: bad magic at byte 0");
    return tw__err(TW_EMALFORMED, err, errlen,
                   "truncated snapshot: %zu bytes, a header needs %u", len,
                   TW__SNAP_HEADER_LEN);
  }
  info->format_version = snap_get16(b + SNAP_OFF_VERSION);
  if (info->format_version != TW_SNAPSHOT_FORMAT_VERSION)
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "unsupported snapshot format version %u (this build "
                   "reads %u)",
                   info->format_version, TW_SNAPSHOT_FORMAT_VERSION);
  if (len < TW__SNAP_HEADER_LEN)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "truncated snapshot: %zu bytes, a header needs %u", len,
                   TW__SNAP_HEADER_LEN);
  uint32_t hcrc = snap_get32(b + SNAP_OFF_HEADER_CRC);
  if (crc32_of(b, SNAP_OFF_HEADER_CRC) != hcrc)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "corrupt snapshot header: checksum mismatch over bytes "
                   "0-%u",
                   SNAP_OFF_HEADER_CRC - 1);
  info->flags = snap_get16(b + SNAP_OFF_FLAGS);
  if (info->flags & ~TW_SNAPSHOT_FLAG_SIGNED)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "snapshot header byte %u: unknown flag bits 0x%x",
                   SNAP_OFF_FLAGS,
                   (unsigned)(info->flags & ~TW_SNAPSHOT_FLAG_SIGNED));
  if (snap_get32(b + SNAP_OFF_HEADER_LEN) != TW__SNAP_HEADER_LEN)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "snapshot header byte %u: header length %u, v1 has %u",
                   SNAP_OFF_HEADER_LEN, snap_get32(b + SNAP_OFF_HEADER_LEN),
                   TW__SNAP_HEADER_LEN);
  memcpy(info->module_digest, b + SNAP_OFF_DIGEST, 32);
  const uint8_t *t = b + SNAP_OFF_TENANT;
  size_t tlen = 0;
  while (tlen < TW_SNAPSHOT_TENANT_MAX && t[tlen]) tlen++;
  for (size_t i = tlen; i < TW_SNAPSHOT_TENANT_MAX; i++)
    if (t[i])
      return tw__err(TW_EMALFORMED, err, errlen,
                     "snapshot header byte %zu: tenant id padding is not "
                     "zero",
                     SNAP_OFF_TENANT + i);
  if (tlen == 0)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "snapshot header byte %u: empty tenant id",
                   SNAP_OFF_TENANT);
  memcpy(info->tenant, t, tlen);
  info->tenant[tlen] = '\0';
  info->epoch = snap_get64(b + SNAP_OFF_EPOCH);
  memcpy(info->nonce, b + SNAP_OFF_NONCE, 16);
  info->payload_len = snap_get64(b + SNAP_OFF_PAYLOAD_LEN);
  info->compressed_len = snap_get64(b + SNAP_OFF_COMPRESSED_LEN);
  info->payload_crc32 = snap_get32(b + SNAP_OFF_PAYLOAD_CRC);
  uint64_t mac = info->flags & TW_SNAPSHOT_FLAG_SIGNED ? TW__SNAP_MAC_LEN : 0;
  uint64_t room = (uint64_t)len - TW__SNAP_HEADER_LEN;
  if (info->compressed_len > room || mac > room - info->compressed_len)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "truncated snapshot: %zu bytes, the header announces "
                   "%llu",
                   len,
                   info->compressed_len > UINT64_MAX - TW__SNAP_HEADER_LEN -
                                              mac
                       ? (unsigned long long)UINT64_MAX
                       : (unsigned long long)(TW__SNAP_HEADER_LEN +
                                              info->compressed_len + mac));
  info->total_len = TW__SNAP_HEADER_LEN + info->compressed_len + mac;
  if (info->total_len != len)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "snapshot of %zu bytes has %llu bytes after its end", len,
                   (unsigned long long)(len - info->total_len));
  return 0;
}

int tw__snap_seal(const uint8_t digest[32], const char *tenant,
                  uint64_t epoch, const uint8_t *payload, size_t payload_len,
                  int level, const uint8_t *key, size_t key_len,
                  uint8_t **out, size_t *out_len, char *err, size_t errlen) {
  *out = NULL;
  *out_len = 0;
  size_t tlen = tenant ? strlen(tenant) : 0;
  if (tlen == 0 || tlen > TW_SNAPSHOT_TENANT_MAX)
    return tw__err(TW_EINVAL, err, errlen,
                   "tenant id must have 1 to %d bytes",
                   TW_SNAPSHOT_TENANT_MAX);
  size_t bound = ZSTD_compressBound(payload_len);
  size_t mac = key ? TW__SNAP_MAC_LEN : 0;
  if (ZSTD_isError(bound) || bound > SIZE_MAX - TW__SNAP_HEADER_LEN - mac)
    return tw__err(TW_ELIMIT, err, errlen, "payload too large");
  uint8_t *b = tw__malloc(TW__SNAP_HEADER_LEN + bound + mac);
  if (!b) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  size_t clen = ZSTD_compress(b + TW__SNAP_HEADER_LEN, bound, payload,
                              payload_len, level ? level : 3);
  if (ZSTD_isError(clen)) {
    tw__free(b);
    return tw__err(TW_ENOMEM, err, errlen, "zstd: %s",
                   ZSTD_getErrorName(clen));
  }
  memset(b, 0, TW__SNAP_HEADER_LEN);
  memcpy(b + SNAP_OFF_MAGIC, tw__snap_magic, 8);
  snap_put16(b + SNAP_OFF_VERSION, TW_SNAPSHOT_FORMAT_VERSION);
  snap_put16(b + SNAP_OFF_FLAGS, key ? TW_SNAPSHOT_FLAG_SIGNED : 0);
  snap_put32(b + SNAP_OFF_HEADER_LEN, TW__SNAP_HEADER_LEN);
  memcpy(b + SNAP_OFF_DIGEST, digest, 32);
  memcpy(b + SNAP_OFF_TENANT, tenant, tlen);
  snap_put64(b + SNAP_OFF_EPOCH, epoch);
  if (getrandom(b + SNAP_OFF_NONCE, 16, 0) != 16) {
    tw__free(b);
    return tw__err(TW_EIO, err, errlen, "getrandom: %s", strerror(errno));
  }
  snap_put64(b + SNAP_OFF_PAYLOAD_LEN, payload_len);
  snap_put64(b + SNAP_OFF_COMPRESSED_LEN, clen);
  snap_put32(b + SNAP_OFF_PAYLOAD_CRC, crc32_of(payload, payload_len));
  snap_put32(b + SNAP_OFF_HEADER_CRC, crc32_of(b, SNAP_OFF_HEADER_CRC));
  size_t n = TW__SNAP_HEADER_LEN + clen;
  if (key && tw__snap_hmac(key, key_len, b, n, b + n)) {
    tw__free(b);
    return tw__err(TW_ENOMEM, err, errlen, "HMAC-SHA256 failed");
  }
  *out = b;
  *out_len = n + mac;
  return 0;
}

/* ---- Decompression ---- */

/* One decompression context per thread, kept between restores: a fresh
 * one costs its tables and, on first use, a window buffer the size of the
 * payload, whose first touch is most of a small restore's time. Contexts
 * that grew past KEEP_DCTX_PAYLOAD are freed instead of kept. */
#define KEEP_DCTX_PAYLOAD (16ull << 20)

static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static pthread_key_t dctx_key;
static bool dctx_key_ok;

static void dctx_destroy(void *d) { ZSTD_freeDCtx(d); }
static void dctx_key_init(void) {
  dctx_key_ok = pthread_key_create(&dctx_key, dctx_destroy) == 0;
}

static ZSTD_DCtx *dctx_take(void) {
  pthread_once(&dctx_once, dctx_key_init);
  ZSTD_DCtx *d = dctx_key_ok ? pthread_getspecific(dctx_key) : NULL;
  if (!d) return ZSTD_createDCtx();
  pthread_setspecific(dctx_key, NULL);
  ZSTD_DCtx_reset(d, ZSTD_reset_session_and_parameters);
  return d;
}

static void dctx_give(ZSTD_DCtx *d, bool keep) {
  if (keep && dctx_key_ok && !pthread_getspecific(dctx_key) &&
      pthread_setspecific(dctx_key, d) == 0)
    return;
  ZSTD_freeDCtx(d);
}

static int bomb(const struct tw__snap_src *s, char *err, size_t errlen) {
  return tw__err(TW_ELIMIT, err, errlen,
                 "compressed payload expands past its declared %llu bytes "
                 "(compression bomb?)",
                 (unsigned long long)s->len);
}

static int short_frame(uint64_t got, uint64_t want, char *err,
                       size_t errlen) {
  return tw__err(TW_EMALFORMED, err, errlen,
                 "corrupt compressed payload: %llu bytes, the header says "
                 "%llu",
                 (unsigned long long)got, (unsigned long long)want);
}

int tw__snap_src_open(struct tw__snap_src *s, const uint8_t *b,
                      const tw_snapshot_info_t *info, uint64_t cap,
                      bool check_crc, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  if (info->payload_len > cap)
    return tw__err(TW_ELIMIT, err, errlen,
                   "payload of %llu bytes exceeds the decompression cap of "
                   "%llu bytes",
                   (unsigned long long)info->payload_len,
                   (unsigned long long)cap);
  if (info->payload_len > SIZE_MAX)
    return tw__err(TW_ELIMIT, err, errlen, "payload too large");
  s->frame = b + TW__SNAP_HEADER_LEN;
  s->frame_len = (size_t)info->compressed_len;
  s->len = info->payload_len;
  s->check_crc = check_crc;
  s->crc = crc32_of(NULL, 0);
  s->want_crc = info->payload_crc32;
  /* The frame's own content size, when it has one (this writer always
   * records it), must be the declared length: larger is a bomb, refused
   * before any work, whatever the cap (the declared length is within it);
   * smaller cannot fill the payload. A frame without one is held to the
   * declared length as it decompresses (and its window to the smallest
   * power of two that covers the payload). */
  unsigned long long fcs = ZSTD_getFrameContentSize(s->frame, s->frame_len);
  bool known = fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != ZSTD_CONTENTSIZE_ERROR;
  if (known && fcs > s->len) return bomb(s, err, errlen);
  if (known && fcs < s->len) return short_frame(fcs, s->len, err, errlen);
  ZSTD_DCtx *d = dctx_take();
  if (!d) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  if (!known) {
    int wlog = ZSTD_WINDOWLOG_MIN;
    while (wlog < ZSTD_WINDOWLOG_MAX && (1ull << wlog) < s->len) wlog++;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, wlog))) {
      ZSTD_freeDCtx(d);
      return tw__err(TW_ENOMEM, err, errlen, "zstd: cannot configure");
    }
  }
  s->zstd = d;
  return 0;
}

void tw__snap_src_buffer(struct tw__snap_src *s, const uint8_t *p, size_t n) {
  memset(s, 0, sizeof *s);
  s->buf = p;
  s->len = n;
}

void tw__snap_src_close(struct tw__snap_src *s) {
  if (s->zstd) dctx_give(s->zstd, s->len <= KEEP_DCTX_PAYLOAD);
  s->zstd = NULL;
}

int tw__snap_src_read(struct tw__snap_src *s, void *dst, size_t n, char *err,
                      size_t errlen) {
  if (n > s->len - s->pos) return TW_EINVAL; /* the reader checks first */
  if (!n) return 0;
  if (!s->zstd) {
    memcpy(dst, s->buf + s->pos, n);
    s->pos += n;
    return 0;
  }
  /* zstd decodes into its own window and copies out as asked, so dst can
   * be anywhere (a memfd mapping for memory runs, a small field); it
   * never writes more than n bytes, so the declared length bounds the
   * output and whatever the frame would add past it is found by finish. */
  ZSTD_outBuffer o = {dst, n, 0};
  ZSTD_inBuffer in = {s->frame, s->frame_len, s->frame_pos};
  while (o.pos < o.size) {
    if (s->ended) return short_frame(s->pos + o.pos, s->len, err, errlen);
    size_t in_before = in.pos, out_before = o.pos;
    size_t r = ZSTD_decompressStream(s->zstd, &o, &in);
    if (ZSTD_isError(r))
      return tw__err(TW_EMALFORMED, err, errlen,
                     "corrupt compressed payload at byte %llu: %s",
                     (unsigned long long)(TW__SNAP_HEADER_LEN + in.pos),
                     ZSTD_getErrorName(r));
    if (r == 0)
      s->ended = true;
    else if (in.pos == in_before && o.pos == out_before)
      return tw__err(TW_EMALFORMED, err, errlen,
                     "corrupt compressed payload: the frame ends early");
  }
  s->frame_pos = in.pos;
  if (s->check_crc) s->crc = crc32_of_more(s->crc, dst, n);
  s->pos += n;
  return 0;
}

int tw__snap_src_finish(struct tw__snap_src *s, char *err, size_t errlen) {
  uint8_t sink[4096];
  int rc;
  while (s->pos < s->len) {
    size_t k = s->len - s->pos < sizeof sink ? (size_t)(s->len - s->pos)
                                             : sizeof sink;
    if ((rc = tw__snap_src_read(s, sink, k, err, errlen))) return rc;
  }
  if (s->zstd) {
    /* All declared bytes are out: the frame must end here. One more byte
     * of output is a frame expanding past the declared length. */
    ZSTD_inBuffer in = {s->frame, s->frame_len, s->frame_pos};
    while (!s->ended) {
      ZSTD_outBuffer o = {sink, 1, 0};
      size_t in_before = in.pos;
      size_t r = ZSTD_decompressStream(s->zstd, &o, &in);
      if (ZSTD_isError(r))
        return tw__err(TW_EMALFORMED, err, errlen,
                       "corrupt compressed payload at byte %llu: %s",
                       (unsigned long long)(TW__SNAP_HEADER_LEN + in.pos),
                       ZSTD_getErrorName(r));
      if (o.pos) return bomb(s, err, errlen);
      if (r == 0)
        s->ended = true;
      else if (in.pos == in_before)
        return tw__err(TW_EMALFORMED, err, errlen,
                       "corrupt compressed payload: the frame ends early");
    }
    s->frame_pos = in.pos;
    if (s->frame_pos != s->frame_len)
      return tw__err(TW_EMALFORMED, err, errlen,
                     "corrupt compressed payload: %llu bytes after the "
                     "frame",
                     (unsigned long long)(s->frame_len - s->frame_pos));
  }
  if (s->check_crc && s->crc != s->want_crc)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "payload checksum mismatch: CRC32 0x%08x, the header "
                   "says 0x%08x",
                   s->crc, s->want_crc);
  return 0;
}

int tw__snap_decompress(const uint8_t *b, const tw_snapshot_info_t *info,
                        uint64_t cap, uint8_t **out, char *err,
                        size_t errlen) {
  *out = NULL;
  struct tw__snap_src s;
  int rc = tw__snap_src_open(&s, b, info, cap, true, err, errlen);
  if (rc) return rc;
  uint8_t *p = tw__malloc(s.len ? (size_t)s.len : 1);
  if (!p)
    rc = tw__err(TW_ENOMEM, err, errlen, "out of memory");
  else if (!(rc = tw__snap_src_read(&s, p, (size_t)s.len, err, errlen)))
    rc = tw__snap_src_finish(&s, err, errlen);
  tw__snap_src_close(&s);
  if (rc) {
    tw__free(p);
    return rc;
  }
  *out = p;
  return 0;
}
