/* The content-addressed artifact store (format in store.h) and the data
 * directory's secret. Invariants: a file is visible under its final name
 * only once complete and synced (temp + fsync + rename + directory fsync),
 * and no byte of a file is returned unless its HMAC and digest verify.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "base/base.h"

/* ---- Crypto helpers ---- */

int tw__rand_bytes(void *buf, size_t n) {
  if (n > INT32_MAX) return TW_EINVAL;
  return RAND_bytes(buf, (int)n) == 1 ? 0 : TW_EIO;
}

void tw__sha256(const void *data, size_t len, uint8_t out[32]) {
  unsigned int n = 32;
  EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void tw__hmac_sha256(const uint8_t *key, size_t keylen, const void *data,
                     size_t len, uint8_t out[32]) {
  unsigned int n = 32;
  HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n);
}

void tw__hex(const uint8_t *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

bool tw__ct_equal(const void *a, const void *b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}

/* ---- Artifact store ---- */

struct tw__artifacts {
  char *dir;
  uint8_t key[32];
};

static const uint8_t trailer_magic[4] = {'T', 'W', 'A', 1};

static bool valid_digest(const char *d) {
  if (strlen(d) != 64) return false;
  for (int i = 0; i < 64; i++)
    if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
      return false;
  return true;
}

static int mkdir_p(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return ENAMETOOLONG;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return errno;
    buf[i] = c;
  }
  return 0;
}

int tw__art_open(const char *dir, const uint8_t key[32],
                 struct tw__artifacts **out, char *err, size_t errlen) {
  *out = NULL;
  int e = mkdir_p(dir);
  if (e) return tw__err(TW_EIO, err, errlen, "%s: %s", dir, strerror(e));
  struct tw__artifacts *a = tw__calloc(1, sizeof *a);
  if (!a || !(a->dir = tw__strndup(dir, strlen(dir)))) {
    tw__free(a);
    return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  }
  memcpy(a->key, key, 32);
  *out = a;
  return 0;
}

void tw__art_close(struct tw__artifacts *a) {
  if (!a) return;
  OPENSSL_cleanse(a->key, sizeof a->key);
  tw__free(a->dir);
  tw__free(a);
}

/* Trailer of a payload of len bytes: magic, reserved, length, HMAC. */
static void make_trailer(const struct tw__artifacts *a, const uint8_t *data,
                         size_t len, uint8_t t[TW_ARTIFACT_TRAILER]) {
  memset(t, 0, TW_ARTIFACT_TRAILER);
  memcpy(t, trailer_magic, 4);
  uint64_t n = len;
  for (int i = 0; i < 8; i++) t[8 + i] = (uint8_t)(n >> (8 * i));
  /* HMAC over payload || header (16 bytes): incremental so the payload is
   * never copied. */
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
      OSSL_PARAM_construct_end()};
  size_t outl = 0;
  if (!ctx || !EVP_MAC_init(ctx, a->key, 32, params) ||
      !EVP_MAC_update(ctx, data, len) || !EVP_MAC_update(ctx, t, 16) ||
      !EVP_MAC_final(ctx, t + 16, &outl, 32)) {
    /* Leave an all-zero MAC: it will never verify. */
    memset(t + 16, 0, 32);
  }
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
}

static void artifact_path(const struct tw__artifacts *a, const char *digest,
                          char *buf, size_t len) {
  snprintf(buf, len, "%s/%.2s/%s", a->dir, digest, digest);
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

int tw__art_put(struct tw__artifacts *a, const uint8_t *data, size_t len,
                char digest[65], char *err, size_t errlen) {
  uint8_t d[32];
  tw__sha256(data, len, d);
  tw__hex(d, 32, digest);
  char path[4096], sub[4096], tmp[4096 + 32];
  artifact_path(a, digest, path, sizeof path);
  snprintf(sub, sizeof sub, "%s/%.2s", a->dir, digest);
  struct stat sb;
  if (stat(path, &sb) == 0 &&
      (uint64_t)sb.st_size == (uint64_t)len + TW_ARTIFACT_TRAILER)
    return 0; /* same content already stored */
  int e = mkdir_p(sub);
  if (e) return tw__err(TW_EIO, err, errlen, "%s: %s", sub, strerror(e));
  uint8_t rnd[8];
  char rhex[17];
  if (tw__rand_bytes(rnd, sizeof rnd))
    return tw__err(TW_EIO, err, errlen, "no randomness");
  tw__hex(rnd, sizeof rnd, rhex);
  snprintf(tmp, sizeof tmp, "%s.tmp-%s", path, rhex);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return tw__err(TW_EIO, err, errlen, "%s: %s", tmp, strerror(errno));
  uint8_t trailer[TW_ARTIFACT_TRAILER];
  make_trailer(a, data, len, trailer);
  e = write_all(fd, data, len);
  if (!e) e = write_all(fd, trailer, sizeof trailer);
  if (!e && fsync(fd) != 0) e = errno;
  if (close(fd) != 0 && !e) e = errno;
  if (!e && rename(tmp, path) != 0) e = errno;
  if (e) {
    unlink(tmp);
    return tw__err(TW_EIO, err, errlen, "%s: %s", path, strerror(e));
  }
  fsync_dir(sub);
  return 0;
}

int tw__art_get(struct tw__artifacts *a, const char *digest, size_t max,
                uint8_t **data, size_t *len, char *err, size_t errlen) {
  *data = NULL;
  *len = 0;
  if (!valid_digest(digest))
    return tw__err(TW_EINVAL, err, errlen, "not a digest: '%.70s'", digest);
  char path[4096];
  artifact_path(a, digest, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tw__err(errno == ENOENT ? TW_ENOTFOUND : TW_EIO, err, errlen,
                   "artifact %s: %s", digest, strerror(errno));
  struct stat sb;
  int rc = 0;
  uint8_t *buf = NULL;
  if (fstat(fd, &sb) != 0 || sb.st_size < TW_ARTIFACT_TRAILER ||
      (uint64_t)sb.st_size - TW_ARTIFACT_TRAILER > max) {
    rc = tw__err(TW_EIO, err, errlen, "artifact %s: bad size", digest);
    goto done;
  }
  size_t total = (size_t)sb.st_size;
  buf = tw__malloc(total ? total : 1);
  if (!buf) {
    rc = tw__err(TW_ENOMEM, err, errlen, "out of memory");
    goto done;
  }
  for (size_t got = 0; got < total;) {
    ssize_t r = read(fd, buf + got, total - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      rc = tw__err(TW_EIO, err, errlen, "artifact %s: short read", digest);
      goto done;
    }
    got += (size_t)r;
  }
  size_t n = total - TW_ARTIFACT_TRAILER;
  uint8_t want[TW_ARTIFACT_TRAILER], d[32];
  char dhex[65];
  make_trailer(a, buf, n, want);
  tw__sha256(buf, n, d);
  tw__hex(d, 32, dhex);
  if (memcmp(buf + n, want, 16) != 0 ||
      !tw__ct_equal(buf + n + 16, want + 16, 32)) {
    rc = tw__err(TW_EIO, err, errlen,
                 "artifact %s: trailer or HMAC does not verify", digest);
    goto done;
  }
  if (strcmp(dhex, digest) != 0) {
    rc = tw__err(TW_EIO, err, errlen, "artifact %s: content digest differs",
                 digest);
    goto done;
  }
  *data = buf;
  *len = n;
  buf = NULL;
done:
  tw__free(buf);
  close(fd);
  return rc;
}

int tw__art_remove(struct tw__artifacts *a, const char *digest) {
  if (!valid_digest(digest)) return TW_EINVAL;
  char path[4096];
  artifact_path(a, digest, path, sizeof path);
  if (unlink(path) != 0 && errno != ENOENT) return TW_EIO;
  return 0;
}

/* ---- Secret ---- */

int tw__secret_load(const char *data_dir, uint8_t secret[32], char *err,
                    size_t errlen) {
  char path[4096];
  int e = mkdir_p(data_dir);
  if (e) return tw__err(TW_EIO, err, errlen, "%s: %s", data_dir, strerror(e));
  snprintf(path, sizeof path, "%s/secret.key", data_dir);
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t r = read(fd, secret, 32);
      close(fd);
      if (r != 32)
        return tw__err(TW_EIO, err, errlen, "%s: not a 32-byte key", path);
      return 0;
    }
    if (errno != ENOENT)
      return tw__err(TW_EIO, err, errlen, "%s: %s", path, strerror(errno));
    /* Create it: write a temporary file, then link it into place so two
     * processes starting at once agree on one key. */
    uint8_t key[32];
    char tmp[4200];
    if (tw__rand_bytes(key, sizeof key))
      return tw__err(TW_EIO, err, errlen, "no randomness");
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
      return tw__err(TW_EIO, err, errlen, "%s: %s", tmp, strerror(errno));
    e = write_all(fd, key, sizeof key);
    if (!e && fsync(fd) != 0) e = errno;
    close(fd);
    if (!e && link(tmp, path) != 0 && errno != EEXIST) e = errno;
    unlink(tmp);
    OPENSSL_cleanse(key, sizeof key);
    if (e) return tw__err(TW_EIO, err, errlen, "%s: %s", path, strerror(e));
    fsync_dir(data_dir);
  }
  return tw__err(TW_EIO, err, errlen, "%s: cannot create", path);
}

void tw__secret_derive(const uint8_t secret[32], const char *label,
                       uint8_t out[32]) {
  tw__hmac_sha256(secret, 32, label, strlen(label), out);
}
