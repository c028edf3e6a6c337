/* The public snapshot API (include/tw/snapshot.h): save = capture the
 * payload (state.c) and seal it (format.c); restore = check structure,
 * then trust (signature, module, tenant, epoch, replay), then decompress
 * under the cap, then instantiate bare and apply. Nothing from the bytes
 * reaches an instance before every check has passed.
 */
#include "snap/snap_int.h"

#include <string.h>

#include <openssl/crypto.h>

#include "base/hash.h"

void tw_snapshot_save_opts_default(tw_snapshot_save_opts_t *o) {
  memset(o, 0, sizeof *o);
}

void tw_snapshot_restore_opts_default(tw_snapshot_restore_opts_t *o) {
  memset(o, 0, sizeof *o);
}

int tw_module_digest(tw_module_t *module, uint8_t out[32]) {
  if (!module || !out) return TW_EINVAL;
  const uint8_t *d = tw__rt_module_digest(module);
  if (!d) return TW_ENOMEM;
  memcpy(out, d, 32);
  return 0;
}

/* Keys shorter than this are refused: HMAC-SHA256 wants >= 128 bits. */
#define MIN_KEY_LEN 16

static int check_key(const uint8_t *key, size_t key_len, char *err,
                     size_t errlen) {
  if (key && key_len < MIN_KEY_LEN)
    return tw__err(TW_EINVAL, err, errlen,
                   "snapshot key of %zu bytes is too short (at least %d)",
                   key_len, MIN_KEY_LEN);
  return 0;
}

int tw_snapshot_save(tw_instance_t *inst, const tw_snapshot_save_opts_t *o,
                     uint8_t **out, size_t *out_len, char *err,
                     size_t errlen) {
  if (out) *out = NULL;
  if (out_len) *out_len = 0;
  if (!inst || !o || !out || !out_len)
    return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  int rc = check_key(o->key, o->key_len, err, errlen);
  if (rc) return rc;
  const uint8_t *digest = tw__rt_module_digest(inst->module);
  if (!digest) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  struct tw__buf b;
  tw__buf_init(&b, SIZE_MAX / 4);
  rc = tw__snap_capture(inst, &b, err, errlen);
  if (!rc)
    rc = tw__snap_seal(digest, o->tenant, o->epoch, (const uint8_t *)b.data,
                       b.len, o->level, o->key, o->key_len, out, out_len,
                       err, errlen);
  tw__buf_free(&b);
  return rc;
}

int tw_snapshot_inspect(const uint8_t *bytes, size_t len,
                        tw_snapshot_info_t *info, char *err, size_t errlen) {
  if (!info) return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  return tw__snap_parse_header(bytes, len, info, err, errlen);
}

int tw_snapshot_verify(const uint8_t *bytes, size_t len, const uint8_t *key,
                       size_t key_len, char *err, size_t errlen) {
  tw_snapshot_info_t info;
  int rc = tw__snap_parse_header(bytes, len, &info, err, errlen);
  if (rc) return rc;
  if (!key) return tw__err(TW_EINVAL, err, errlen, "no key");
  if (!(info.flags & TW_SNAPSHOT_FLAG_SIGNED))
    return tw__err(TW_EAUTH, err, errlen, "the snapshot is unsigned");
  uint8_t mac[32];
  size_t n = len - TW__SNAP_MAC_LEN;
  if (tw__snap_hmac(key, key_len, bytes, n, mac))
    return tw__err(TW_ENOMEM, err, errlen, "HMAC-SHA256 failed");
  if (CRYPTO_memcmp(mac, bytes + n, 32) != 0)
    return tw__err(TW_EAUTH, err, errlen,
                   "bad snapshot signature: HMAC-SHA256 mismatch (wrong key "
                   "or modified bytes)");
  return 0;
}

static void short_hex(const uint8_t *d, char out[17]) {
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 8; i++) {
    out[2 * i] = hx[d[i] >> 4];
    out[2 * i + 1] = hx[d[i] & 15];
  }
  out[16] = '\0';
}

/* The cache's fingerprint of an HMAC key: a domain-separated BLAKE3, so
 * the cache records which key verified an entry without keeping it. */
static void key_fingerprint(const uint8_t *key, size_t key_len,
                            uint8_t fp[32]) {
  static const char domain[] = "tensor-wasm snapshot cache key v1";
  struct tw__hasher h;
  tw__hasher_init(&h);
  tw__hasher_field(&h, domain, sizeof domain - 1);
  tw__hasher_field(&h, key, key_len);
  tw__hasher_final(&h, fp);
}

/* Everything about trust, in a fixed order (the error tests rely on it).
 * mac_known: the bytes are identical to ones whose signature was verified
 * with this key (a cache hit), so the HMAC is not recomputed. *mac_ok is
 * set when the signature is known good with the caller's key. */
static int check_trust(tw_module_t *module, const uint8_t *bytes, size_t len,
                       const tw_snapshot_info_t *info,
                       const tw_snapshot_restore_opts_t *o, bool mac_known,
                       bool *mac_ok, char *err, size_t errlen) {
  int rc;
  *mac_ok = false;
  if (info->flags & TW_SNAPSHOT_FLAG_SIGNED) {
    if (o->key) {
      if (!mac_known &&
          (rc = tw_snapshot_verify(bytes, len, o->key, o->key_len, err,
                                   errlen)))
        return rc;
      *mac_ok = true;
    } else if (!o->allow_unsigned) {
      return tw__err(TW_EAUTH, err, errlen,
                     "signed snapshot but no key to check it (pass a key, "
                     "or allow unsigned snapshots)");
    }
  } else if (!o->allow_unsigned) {
    return tw__err(TW_EAUTH, err, errlen,
                   "unsigned snapshot refused: signing is required");
  }
  const uint8_t *digest = tw__rt_module_digest(module);
  if (!digest) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  if (memcmp(digest, info->module_digest, 32) != 0) {
    char a[17], b[17];
    short_hex(info->module_digest, a);
    short_hex(digest, b);
    return tw__err(TW_EAUTH, err, errlen,
                   "snapshot is of another module (digest %s..., this "
                   "module %s...)",
                   a, b);
  }
  if (strcmp(o->tenant, info->tenant) != 0) {
    char a[2 * TW_SNAPSHOT_TENANT_MAX + 8], b[2 * TW_SNAPSHOT_TENANT_MAX + 8];
    tw__escape((const uint8_t *)info->tenant, strlen(info->tenant), a,
               sizeof a);
    tw__escape((const uint8_t *)o->tenant, strlen(o->tenant), b, sizeof b);
    return tw__err(TW_EAUTH, err, errlen,
                   "snapshot belongs to tenant \"%s\", not \"%s\"", a, b);
  }
  if (info->epoch < o->epoch)
    return tw__err(TW_EAUTH, err, errlen,
                   "snapshot epoch %llu is older than the tenant's current "
                   "epoch %llu (revoked)",
                   (unsigned long long)info->epoch,
                   (unsigned long long)o->epoch);
  if (o->replay_check && !o->replay_check(o->replay_user, info->nonce))
    return tw__err(TW_EAUTH, err, errlen,
                   "snapshot nonce refused by the replay check (already "
                   "used)");
  return 0;
}

/* Restore: structure, then (cache lookup by BLAKE3 of the bytes) trust,
 * then the cap, then a bare instance, then (on a miss) decompression and
 * decoding straight into sealed memfds, then apply. */
int tw_snapshot_restore(tw_store_t *store, tw_module_t *module,
                        tw_linker_t *linker, const uint8_t *bytes,
                        size_t len, tw_snapshot_restore_opts_t *o,
                        tw_instance_t **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!store || !module || !o || !out || !o->tenant)
    return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  int rc = check_key(o->key, o->key_len, err, errlen);
  if (rc) return rc;
  tw_snapshot_info_t info;
  if ((rc = tw__snap_parse_header(bytes, len, &info, err, errlen))) return rc;
  bool cached = !o->no_cache && tw__snap_cache_enabled();
  uint8_t id[32], fp[32];
  struct tw__snap_image *img = NULL;
  bool mac_known = false, mac_ok;
  if (cached) {
    tw__snap_cache_id(bytes, len, id);
    if (o->key) key_fingerprint(o->key, o->key_len, fp);
    img = tw__snap_cache_get(id, bytes, len, o->key ? fp : NULL,
                             &mac_known);
  }
  rc = check_trust(module, bytes, len, &info, o, mac_known, &mac_ok, err,
                   errlen);
  if (rc) {
    /* A revoked snapshot can never pass for this tenant again. */
    if (img && info.epoch < o->epoch) tw__snap_cache_drop(id, bytes, len);
    tw__snap_image_unref(img);
    return rc;
  }
  /* A signature this hit had not seen verified with this key was just
   * checked over the same bytes: remember it. */
  if (img && mac_ok && !mac_known)
    tw__snap_cache_put(id, bytes, len, fp, img);
  uint64_t cap =
      o->max_payload_bytes ? o->max_payload_bytes
                           : TW_SNAPSHOT_DEFAULT_MAX_PAYLOAD;
  if (img && info.payload_len > cap) {
    tw__snap_image_unref(img);
    return tw__err(TW_ELIMIT, err, errlen,
                   "payload of %llu bytes exceeds the decompression cap of "
                   "%llu bytes",
                   (unsigned long long)info.payload_len,
                   (unsigned long long)cap);
  }
  tw_instance_t *inst = NULL;
  bool fresh = !img;
  if (fresh) {
    /* The CRC32 guards unsigned snapshots; a signature verified over the
     * same bytes already proves them intact. */
    struct tw__snap_src src;
    if ((rc = tw__snap_src_open(&src, bytes, &info, cap, !mac_ok, err,
                                errlen)))
      return rc;
    rc = tw__rt_instance_new(store, module, linker, TW__RT_INST_BARE, &inst,
                             err, errlen);
    if (!rc) rc = tw__snap_decode(inst, &src, &img, err, errlen);
    tw__snap_src_close(&src);
  } else {
    rc = tw__rt_instance_new(store, module, linker, TW__RT_INST_BARE, &inst,
                             err, errlen);
  }
  if (!rc) rc = tw__snap_image_apply(inst, img, err, errlen);
  if (!rc && fresh && cached)
    tw__snap_cache_put(id, bytes, len, mac_ok ? fp : NULL, img);
  tw__snap_image_unref(img);
  if (rc) return rc;
  memcpy(o->nonce_out, info.nonce, 16);
  *out = inst;
  return 0;
}
