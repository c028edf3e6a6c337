/* The snapshot container, v1 (docs/SNAPSHOT-FORMAT.md): a fixed 160-byte
 * header with its own CRC32, a zstd frame, and an optional HMAC-SHA256
 * trailer over everything before it. Readers check structure before
 * anything else, never trust a length before comparing it with the
 * bytes they hold, and decompress with a running total against a cap so
 * a compression bomb costs at most the cap.
 */
#include "snap/snap_int.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>
/* ZSTD_d_stableOutBuffer: decompress straight into our buffer, without
 * zstd's own window buffer (a stable parameter value since 1.4.0). */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

const uint8_t tw__snap_magic[8] = {'T', 'W', 'S', 'N', 'A', 'P', '\r', '\n'};

static uint32_t crc32_of(const uint8_t *p, size_t n) {
  return (uint32_t)crc32_z(crc32_z(0, Z_NULL, 0), p, n);
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

int tw__snap_decompress(const uint8_t *b, const tw_snapshot_info_t *info,
                        uint64_t cap, uint8_t **out, char *err,
                        size_t errlen) {
  *out = NULL;
  if (info->payload_len > cap)
    return tw__err(TW_ELIMIT, err, errlen,
                   "payload of %llu bytes exceeds the decompression cap of "
                   "%llu bytes",
                   (unsigned long long)info->payload_len,
                   (unsigned long long)cap);
  size_t want = (size_t)info->payload_len;
  uint8_t *p = tw__malloc(want ? want : 1);
  ZSTD_DCtx *d = ZSTD_createDCtx();
  int rc = 0;
  if (!p || !d) {
    rc = tw__err(TW_ENOMEM, err, errlen, "out of memory");
    goto done;
  }
  ZSTD_inBuffer in = {b + TW__SNAP_HEADER_LEN, (size_t)info->compressed_len,
                      0};
  ZSTD_outBuffer o = {p, want, 0};
  /* The running total is o.pos, bounded by the buffer: the declared
   * length, itself within the cap. The output buffer is stable (zstd
   * writes into it directly), so a frame that wants to write past it
   * fails with dstSize_tooSmall, or stops making progress: that is a
   * frame expanding past what the header declared. */
  if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_stableOutBuffer, 1))) {
    rc = tw__err(TW_ENOMEM, err, errlen, "zstd: cannot configure");
    goto done;
  }
  size_t r = 1;
  while (r != 0) {
    size_t in_before = in.pos, out_before = o.pos;
    r = ZSTD_decompressStream(d, &o, &in);
    if (ZSTD_isError(r)) {
      if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) goto bomb;
      goto corrupt;
    }
    if (r != 0 && in.pos == in_before && o.pos == out_before) {
      if (o.pos == o.size) goto bomb;
      rc = tw__err(TW_EMALFORMED, err, errlen,
                   "corrupt compressed payload: the frame ends early");
      goto done;
    }
  }
  if (in.pos != in.size) {
    rc = tw__err(TW_EMALFORMED, err, errlen,
                 "corrupt compressed payload: %llu bytes after the frame",
                 (unsigned long long)(in.size - in.pos));
    goto done;
  }
  if (o.pos != want) {
    rc = tw__err(TW_EMALFORMED, err, errlen,
                 "corrupt compressed payload: %zu bytes, the header says "
                 "%llu",
                 o.pos, (unsigned long long)info->payload_len);
    goto done;
  }
  uint32_t crc = crc32_of(p, want);
  if (crc != info->payload_crc32) {
    rc = tw__err(TW_EMALFORMED, err, errlen,
                 "payload checksum mismatch: CRC32 0x%08x, the header says "
                 "0x%08x",
                 crc, info->payload_crc32);
    goto done;
  }
  goto done;
bomb:
  rc = tw__err(TW_ELIMIT, err, errlen,
               "compressed payload expands past its declared %llu bytes "
               "(compression bomb?)",
               (unsigned long long)info->payload_len);
  goto done;
corrupt:
  rc = tw__err(TW_EMALFORMED, err, errlen,
               "corrupt compressed payload at byte %llu: %s",
               (unsigned long long)(TW__SNAP_HEADER_LEN + in.pos),
               ZSTD_getErrorName(r));
done:
  ZSTD_freeDCtx(d);
  if (rc) {
    tw__free(p);
    return rc;
  }
  *out = p;
  return 0;
}
