/* WASI confinement and fuzz-safety, through the real import path: a shim
 * module forwards each export to the wasi_snapshot_preview1 import of the
 * same name, and the test writes arguments into its memory and calls it.
 * The escape battery: "..", absolute paths, symlinks out (absolute,
 * relative, chains, to a parent), /proc/self/{root,cwd,fd/N}, hardlinks
 * and renames out, planting absolute links; read-only preopens refusing
 * writes; capped stdout; bad pointers, counts and lengths.
 */
#include "rt/rt_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tw/wasi.h"

enum { E_BADF = 8, E_EXIST = 20, E_FAULT = 21, E_INVAL = 28, E_LOOP = 32,
       E_NAMETOOLONG = 37, E_NOENT = 44, E_NOSPC = 51, E_NOTCAPABLE = 76 };

/* name, WAT params */
static const char *const shim_funcs[][2] = {
    {"path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32"},
    {"path_filestat_get", "i32 i32 i32 i32 i32"},
    {"path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32"},
    {"path_link", "i32 i32 i32 i32 i32 i32 i32"},
    {"path_rename", "i32 i32 i32 i32 i32 i32"},
    {"path_symlink", "i32 i32 i32 i32 i32"},
    {"path_readlink", "i32 i32 i32 i32 i32 i32"},
    {"path_create_directory", "i32 i32 i32"},
    {"path_unlink_file", "i32 i32 i32"},
    {"path_remove_directory", "i32 i32 i32"},
    {"fd_write", "i32 i32 i32 i32"},
    {"fd_read", "i32 i32 i32 i32"},
    {"fd_close", "i32"},
    {"fd_readdir", "i32 i32 i32 i64 i32"},
    {"poll_oneoff", "i32 i32 i32 i32"},
    {"args_get", "i32 i32"},
    {"random_get", "i32 i32"},
    {"sock_send", "i32 i32 i32 i32 i32"},
    {"sock_recv", "i32 i32 i32 i32 i32 i32"},
    {"sock_shutdown", "i32 i32"},
};
#define NSHIM (sizeof shim_funcs / sizeof shim_funcs[0])

static tw_engine_t *engine;
static tw_module_t *shim;
static char root[256], jail[300], secret[300];

static void build_shim(void) {
  static char wat[16384];
  size_t o = 0;
  o += (size_t)snprintf(wat + o, sizeof wat - o, "(module\n");
  for (size_t i = 0; i < NSHIM; i++)
    o += (size_t)snprintf(wat + o, sizeof wat - o,
                          "(import \"wasi_snapshot_preview1\" \"%s\" (func "
                          "$%s (param %s) (result i32)))\n",
                          shim_funcs[i][0], shim_funcs[i][0],
                          shim_funcs[i][1]);
  o += (size_t)snprintf(wat + o, sizeof wat - o,
                        "(memory (export \"memory\") 1)\n");
  for (size_t i = 0; i < NSHIM; i++) {
    o += (size_t)snprintf(wat + o, sizeof wat - o,
                          "(func (export \"%s\") (param %s) (result i32)",
                          shim_funcs[i][0], shim_funcs[i][1]);
    int n = 0;
    for (const char *p = shim_funcs[i][1]; *p; p++)
      if (*p == 'i') n++;
    for (int k = 0; k < n; k++)
      o += (size_t)snprintf(wat + o, sizeof wat - o, " local.get %d", k);
    o += (size_t)snprintf(wat + o, sizeof wat - o, " call $%s)\n",
                          shim_funcs[i][0]);
  }
  snprintf(wat + o, sizeof wat - o, ")\n");
  uint8_t *bin;
  size_t len;
  char err[256];
  if (tw_wat_to_wasm(wat, strlen(wat), &bin, &len, err, sizeof err))
    fail_msg("shim: %s", err);
  shim = rt_test_module(engine, bin, len);
  tw_free(bin);
}

/* One guest: WASI state, store, instance, and its memory. */
struct guest {
  tw_wasi_t *wasi;
  tw_store_t *store;
  tw_linker_t *linker;
  tw_instance_t *inst;
  uint8_t *mem;
  uint64_t size;
};

static void guest_new(struct guest *g, const tw_wasi_config_t *cfg) {
  char err[256] = "";
  memset(g, 0, sizeof *g);
  if (tw_wasi_new(cfg, &g->wasi, err, sizeof err))
    fail_msg("tw_wasi_new: %s", err);
  assert_int_equal(tw_store_new(engine, &g->store), 0);
  assert_int_equal(tw_linker_new(engine, &g->linker), 0);
  assert_int_equal(tw_linker_define_wasi(g->linker, g->wasi), 0);
  if (tw_instance_new(g->store, shim, g->linker, &g->inst, err, sizeof err))
    fail_msg("instantiate: %s", err);
  assert_int_equal(tw_instance_memory(g->inst, NULL, &g->mem, &g->size), 0);
}

static void guest_free(struct guest *g) {
  tw_linker_free(g->linker);
  tw_store_free(g->store);
  tw_wasi_free(g->wasi);
}

/* Calls export `name` with i32/i64 arguments given as a type string. */
static int32_t call(struct guest *g, const char *name, const char *types,
                    ...) {
  tw_val_t args[12];
  va_list ap;
  va_start(ap, types);
  size_t n = 0;
  for (const char *p = types; *p; p++, n++) {
    memset(&args[n], 0, sizeof args[n]);
    if (*p == 'I') {
      args[n].type = TW_I64;
      args[n].of.i64 = va_arg(ap, uint64_t);
    } else {
      args[n].type = TW_I32;
      args[n].of.i32 = va_arg(ap, uint32_t);
    }
  }
  va_end(ap);
  tw_val_t r;
  char err[256] = "";
  int rc = tw_instance_call(g->inst, name, args, n, &r, 1, err, sizeof err);
  if (rc) fail_msg("%s: %s (%s)", name, tw_strerror(rc), err);
  return (int32_t)r.of.i32;
}

/* Guest memory layout of the tests: strings at 1024 and 2048, outputs at
 * 4096. */
#define P1 1024u
#define P2 2048u
#define OUT 4096u

static uint32_t put(struct guest *g, uint32_t at, const char *s) {
  memcpy(g->mem + at, s, strlen(s));
  return (uint32_t)strlen(s);
}

static int32_t open_(struct guest *g, uint32_t dirfd, uint32_t follow,
                     const char *path, uint32_t oflags, uint64_t rights) {
  uint32_t n = put(g, P1, path);
  return call(g, "path_open", "iiiiiIIii", dirfd, follow, P1, n, oflags,
              rights, (uint64_t)0, 0u, OUT);
}

static int32_t stat_(struct guest *g, uint32_t dirfd, uint32_t follow,
                     const char *path) {
  uint32_t n = put(g, P1, path);
  return call(g, "path_filestat_get", "iiiii", dirfd, follow, P1, n, OUT);
}

static int32_t two_paths(struct guest *g, const char *fn, uint32_t fd1,
                         const char *a, uint32_t fd2, const char *b) {
  uint32_t na = put(g, P1, a), nb = put(g, P2, b);
  return call(g, fn, "iiiiii", fd1, P1, na, fd2, P2, nb);
}

static void sh(const char *fmt, ...) {
  char cmd[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  if (system(cmd) != 0) fail_msg("setup failed: %s", cmd);
}

static int setup(void **state) {
  (void)state;
  assert_int_equal(tw_engine_new(NULL, &engine), 0);
  rt_test_save_handlers();
  build_shim();
  snprintf(root, sizeof root, "/tmp/tw-wasi-escape-XXXXXX");
  if (!mkdtemp(root)) fail_msg("mkdtemp");
  snprintf(jail, sizeof jail, "%s/jail", root);
  snprintf(secret, sizeof secret, "%s/outside/secret", root);
  sh("mkdir -p %s/outside %s/sub && echo top-secret > %s && "
     "echo inside > %s/file && "
     "ln -s %s %s/abs && ln -s ../outside/secret %s/rel && "
     "ln -s chain2 %s/chain1 && ln -s ../outside %s/chain2 && "
     "ln -s .. %s/up && ln -s sub/../.. %s/up2 && "
     "ln -s /proc/self/root %s/procroot && ln -s /proc/self/cwd %s/proccwd "
     "&& ln -s /proc/self/fd/3 %s/procfd && ln -s /etc %s/etc",
     root, jail, secret, jail, secret, jail, jail, jail, jail, jail, jail,
     jail, jail, jail, jail);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sh("rm -rf %s", root);
  tw_module_free(shim);
  tw_engine_free(engine);
  return 0;
}

static void jail_guest(struct guest *g, bool ro) {
  tw_wasi_preopen_t pre[2] = {{jail, "/jail", ro}, {"/proc", "/proc", true}};
  tw_wasi_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.preopens = pre;
  cfg.npreopens = 2;
  guest_new(g, &cfg);
}

#define RIGHTS_RW ((uint64_t)0x42) /* fd_read | fd_write */
#define RIGHTS_R ((uint64_t)0x2)

static void escapes_by_lookup(void **state) {
  (void)state;
  rt_test_handlers();
  struct guest g;
  jail_guest(&g, false);
  /* Sanity: inside works. */
  assert_int_equal(open_(&g, 3, 1, "file", 0, RIGHTS_R), 0);
  assert_int_equal(stat_(&g, 3, 1, "sub/../file"), 0);
  static const char *const outs[] = {
      "..",           "../outside/secret", "/etc/passwd",   "/",
      "abs",          "rel",               "chain1/secret", "up/outside/secret",
      "up2",          "up2/outside",       "sub/../../outside/secret",
      "procroot/etc/passwd", "proccwd",    "procfd",        "etc/passwd",
      "./../jail/file",
  };
  for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
    for (uint32_t follow = 0; follow <= 1; follow++) {
      int32_t e = open_(&g, 3, follow, outs[i], 0, RIGHTS_R);
      if (e == 0) fail_msg("path_open escaped with %s", outs[i]);
      e = open_(&g, 3, follow, outs[i], 1 /* creat */, RIGHTS_RW);
      if (e == 0) fail_msg("path_open(creat) escaped with %s", outs[i]);
    }
    /* Stat follows: only the link itself may be seen. */
    int32_t e = stat_(&g, 3, 1, outs[i]);
    if (e == 0) fail_msg("path_filestat_get escaped with %s", outs[i]);
  }
  /* Absolute and ".." escapes are `notcapable`. */
  assert_int_equal(open_(&g, 3, 1, "/etc/passwd", 0, RIGHTS_R), E_NOTCAPABLE);
  assert_int_equal(open_(&g, 3, 1, "../outside/secret", 0, RIGHTS_R),
                   E_NOTCAPABLE);
  assert_int_equal(open_(&g, 3, 1, "abs", 0, RIGHTS_R), E_NOTCAPABLE);
  /* Not following a final symlink: ELOOP, never the target. */
  assert_int_equal(open_(&g, 3, 0, "rel", 0, RIGHTS_R), E_LOOP);
  /* /proc magic links stay closed even with /proc preopened. */
  static const char *const magic[] = {"self/root/etc/passwd", "self/cwd",
                                      "self/fd/3", "thread-self/root",
                                      "self/exe"};
  for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++) {
    int32_t e = open_(&g, 4, 1, magic[i], 0, RIGHTS_R);
    if (e == 0) fail_msg("magic link %s was followed", magic[i]);
  }
  guest_free(&g);
}

static void escapes_by_change(void **state) {
  (void)state;
  rt_test_handlers();
  struct guest g;
  jail_guest(&g, false);
  struct stat before, after;
  assert_int_equal(stat(secret, &before), 0);
  /* Hard links to outside: by "..", through links, following links. */
  assert_int_not_equal(two_paths(&g, "path_rename", 3, "file", 3,
                                 "../outside/moved"), 0);
  assert_int_not_equal(two_paths(&g, "path_rename", 3, "file", 3,
                                 "up/outside/moved"), 0);
  assert_int_not_equal(two_paths(&g, "path_rename", 3, "chain1/secret", 3,
                                 "stolen"), 0);
  uint32_t na = put(&g, P1, "rel"), nb = put(&g, P2, "hl");
  assert_int_not_equal(call(&g, "path_link", "iiiiiii", 3u, 1u, P1, na, 3u,
                            P2, nb), 0);
  na = put(&g, P1, "../outside/secret");
  assert_int_not_equal(call(&g, "path_link", "iiiiiii", 3u, 0u, P1, na, 3u,
                            P2, nb), 0);
  na = put(&g, P1, "file");
  nb = put(&g, P2, "../outside/hl2");
  assert_int_not_equal(call(&g, "path_link", "iiiiiii", 3u, 0u, P1, na, 3u,
                            P2, nb), 0);
  /* Linking a symlink without following links the symlink, not the
   * target: the secret keeps one link. */
  na = put(&g, P1, "abs");
  nb = put(&g, P2, "abs-hl");
  call(&g, "path_link", "iiiiiii", 3u, 0u, P1, na, 3u, P2, nb);
  assert_int_equal(stat(secret, &after), 0);
  assert_int_equal(after.st_nlink, 1);
  /* Creating, removing and touching outside. */
  na = put(&g, P1, "../outside/newdir");
  assert_int_not_equal(call(&g, "path_create_directory", "iii", 3u, P1, na),
                       0);
  na = put(&g, P1, "up/outside/secret");
  assert_int_not_equal(call(&g, "path_unlink_file", "iii", 3u, P1, na), 0);
  na = put(&g, P1, "..");
  assert_int_not_equal(call(&g, "path_remove_directory", "iii", 3u, P1, na),
                       0);
  na = put(&g, P1, "abs");
  assert_int_not_equal(call(&g, "path_filestat_set_times", "iiiiIIi", 3u, 1u,
                            P1, na, (uint64_t)1, (uint64_t)1, 5u),
                       0);
  assert_int_equal(stat(secret, &after), 0);
  assert_int_equal(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  /* No absolute links planted for the host to follow. */
  na = put(&g, P1, "/etc/passwd");
  nb = put(&g, P2, "planted");
  assert_int_equal(call(&g, "path_symlink", "iiiii", P1, na, 3u, P2, nb),
                   E_NOTCAPABLE);
  /* A relative link out may exist, but following it stays refused. */
  na = put(&g, P1, "../outside");
  nb = put(&g, P2, "planted2");
  assert_int_equal(call(&g, "path_symlink", "iiiii", P1, na, 3u, P2, nb), 0);
  assert_int_not_equal(open_(&g, 3, 1, "planted2/secret", 0, RIGHTS_R), 0);
  assert_int_equal(access(secret, F_OK), 0);
  char p[400];
  snprintf(p, sizeof p, "%s/outside/newdir", root);
  assert_int_not_equal(access(p, F_OK), 0);
  snprintf(p, sizeof p, "%s/outside/moved", root);
  assert_int_not_equal(access(p, F_OK), 0);
  guest_free(&g);
}

static void read_only_preopen(void **state) {
  (void)state;
  rt_test_handlers();
  struct guest g;
  jail_guest(&g, true);
  assert_int_equal(open_(&g, 3, 1, "file", 0, RIGHTS_R), 0);
  int32_t fd = (int32_t)(g.mem[OUT] | g.mem[OUT + 1] << 8);
  assert_int_equal(open_(&g, 3, 1, "file", 0, RIGHTS_RW), E_NOTCAPABLE);
  assert_int_equal(open_(&g, 3, 1, "new", 1, RIGHTS_R), E_NOTCAPABLE);
  assert_int_equal(open_(&g, 3, 1, "file", 8 /* trunc */, RIGHTS_R),
                   E_NOTCAPABLE);
  uint32_t n = put(&g, P1, "d");
  assert_int_equal(call(&g, "path_create_directory", "iii", 3u, P1, n),
                   E_NOTCAPABLE);
  n = put(&g, P1, "file");
  assert_int_equal(call(&g, "path_unlink_file", "iii", 3u, P1, n),
                   E_NOTCAPABLE);
  assert_int_equal(two_paths(&g, "path_rename", 3, "file", 3, "f2"),
                   E_NOTCAPABLE);
  /* Writing through the read-only descriptor. */
  memcpy(g.mem + P2, "\x00\x04\x00\x00\x04\x00\x00\x00", 8);
  assert_int_equal(call(&g, "fd_write", "iiii", (uint32_t)fd, P2, 1u, OUT),
                   E_NOTCAPABLE);
  char p[400];
  snprintf(p, sizeof p, "%s/new", jail);
  assert_int_not_equal(access(p, F_OK), 0);
  guest_free(&g);
}

static void stdout_cap(void **state) {
  (void)state;
  rt_test_handlers();
  tw_wasi_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.stdout_.mode = TW_WASI_STDIO_BUFFER;
  cfg.stdout_.cap = 100;
  cfg.stdin_.mode = TW_WASI_STDIO_BUFFER;
  cfg.stdin_.data = (const uint8_t *)"hello";
  cfg.stdin_.len = 5;
  struct guest g;
  guest_new(&g, &cfg);
  /* iovec {P1, 60} at P2 */
  memset(g.mem + P1, 'x', 60);
  memcpy(g.mem + P2, "\x00\x04\x00\x00\x3c\x00\x00\x00", 8);
  assert_int_equal(call(&g, "fd_write", "iiii", 1u, P2, 1u, OUT), 0);
  assert_int_equal(g.mem[OUT], 60);
  assert_int_equal(call(&g, "fd_write", "iiii", 1u, P2, 1u, OUT), 0);
  assert_int_equal(g.mem[OUT], 40);
  for (int i = 0; i < 1000; i++)
    assert_int_equal(call(&g, "fd_write", "iiii", 1u, P2, 1u, OUT), E_NOSPC);
  const uint8_t *data;
  size_t len;
  assert_int_equal(tw_wasi_output(g.wasi, 1, &data, &len), 0);
  assert_int_equal(len, 100);
  /* stdin from the buffer, then EOF */
  assert_int_equal(call(&g, "fd_read", "iiii", 0u, P2, 1u, OUT), 0);
  assert_int_equal(g.mem[OUT], 5);
  assert_memory_equal(g.mem + P1, "hello", 5);
  assert_int_equal(call(&g, "fd_read", "iiii", 0u, P2, 1u, OUT), 0);
  assert_int_equal(g.mem[OUT], 0);
  guest_free(&g);
}

static void hostile_arguments(void **state) {
  (void)state;
  rt_test_handlers();
  struct guest g;
  jail_guest(&g, false);
  uint32_t end = (uint32_t)g.size;
  /* Paths and outputs past the end of memory, wrapping pointers. */
  assert_int_equal(call(&g, "path_open", "iiiiiIIii", 3u, 0u, end - 2, 10u,
                        0u, RIGHTS_R, (uint64_t)0, 0u, OUT),
                   E_FAULT);
  assert_int_equal(call(&g, "path_open", "iiiiiIIii", 3u, 0u, 0xfffffff0u,
                        0x20u, 0u, RIGHTS_R, (uint64_t)0, 0u, OUT),
                   E_FAULT);
  put(&g, P1, "file");
  assert_int_equal(call(&g, "path_open", "iiiiiIIii", 3u, 0u, P1, 4u, 0u,
                        RIGHTS_R, (uint64_t)0, 0u, end - 3),
                   E_FAULT);
  assert_int_equal(call(&g, "path_filestat_get", "iiiii", 3u, 0u, P1, 4u,
                        end - 63),
                   E_FAULT);
  /* Path length cap and embedded NUL. */
  assert_int_equal(call(&g, "path_open", "iiiiiIIii", 3u, 0u, 0u, 5000u, 0u,
                        RIGHTS_R, (uint64_t)0, 0u, OUT),
                   E_NAMETOOLONG);
  memcpy(g.mem + P1, "fi\0le", 5);
  assert_int_equal(call(&g, "path_open", "iiiiiIIii", 3u, 0u, P1, 5u, 0u,
                        RIGHTS_R, (uint64_t)0, 0u, OUT),
                   E_INVAL);
  /* iovec counts and ranges. */
  assert_int_equal(call(&g, "fd_write", "iiii", 1u, P2, 2000u, OUT), E_INVAL);
  assert_int_equal(call(&g, "fd_write", "iiii", 1u, end - 4, 1u, OUT),
                   E_FAULT);
  memcpy(g.mem + P2, "\xf0\xff\xff\xff\x20\x00\x00\x00", 8);
  assert_int_equal(call(&g, "fd_write", "iiii", 1u, P2, 1u, OUT), E_FAULT);
  /* Bad descriptors anywhere in the 32-bit range. */
  static const uint32_t bad[] = {5, 1023, 1024, 0x7fffffff, 0xffffffff};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(call(&g, "fd_close", "i", bad[i]), 8);
    assert_int_equal(call(&g, "path_create_directory", "iii", bad[i], P1,
                          4u),
                     8);
  }
  /* readdir into a buffer at the very end; random into a wrapping one. */
  assert_int_equal(call(&g, "fd_readdir", "iiiIi", 3u, end - 10, 10u,
                        (uint64_t)0, OUT),
                   0);
  assert_int_equal(call(&g, "fd_readdir", "iiiIi", 3u, end - 10, 11u,
                        (uint64_t)0, OUT),
                   E_FAULT);
  assert_int_equal(call(&g, "random_get", "ii", end - 1, 2u), E_FAULT);
  assert_int_equal(call(&g, "args_get", "ii", end, end), 0);
  /* poll_oneoff: zero and absurd subscription counts. */
  assert_int_equal(call(&g, "poll_oneoff", "iiii", 0u, 0u, 0u, OUT), E_INVAL);
  assert_int_not_equal(call(&g, "poll_oneoff", "iiii", 0u, 0u, 1u << 30,
                            OUT),
                       0);
  /* The descriptor table is bounded: opening more than it holds fails
   * with `mfile`, and the host keeps working. */
  int32_t last = 0;
  for (int i = 0; i < 1100 && last == 0; i++)
    last = open_(&g, 3, 1, "file", 0, RIGHTS_R);
  assert_int_equal(last, 33);
  guest_free(&g);
}

/* Preopened sockets: send, receive, shut down; errors on non-sockets. */
static void sockets(void **state) {
  (void)state;
  rt_test_handlers();
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  tw_wasi_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.sockets = &sv[0];
  cfg.nsockets = 1;
  struct guest g;
  guest_new(&g, &cfg);
  close(sv[0]); /* the guest holds its own duplicate */
  memcpy(g.mem + P1, "ping", 4);
  memcpy(g.mem + P2, "\x00\x04\x00\x00\x04\x00\x00\x00", 8);
  assert_int_equal(call(&g, "sock_send", "iiiii", 3u, P2, 1u, 0u, OUT), 0);
  assert_int_equal(g.mem[OUT], 4);
  char buf[8];
  assert_int_equal(read(sv[1], buf, sizeof buf), 4);
  assert_memory_equal(buf, "ping", 4);
  assert_int_equal(write(sv[1], "pong", 4), 4);
  memset(g.mem + P1, 0, 4);
  assert_int_equal(call(&g, "sock_recv", "iiiiii", 3u, P2, 1u, 0u, OUT,
                        OUT + 8),
                   0);
  assert_int_equal(g.mem[OUT], 4);
  assert_memory_equal(g.mem + P1, "pong", 4);
  assert_int_equal(call(&g, "sock_shutdown", "ii", 3u, 0u), E_INVAL);
  assert_int_equal(call(&g, "sock_shutdown", "ii", 3u, 2u), 0);
  assert_int_equal(read(sv[1], buf, sizeof buf), 0); /* EOF */
  assert_int_equal(call(&g, "sock_shutdown", "ii", 1u, 3u), 57);
  assert_int_equal(call(&g, "sock_shutdown", "ii", 9u, 3u), 8);
  guest_free(&g);
  close(sv[1]);
}

/* A guest sleeping in poll_oneoff past its call's deadline traps with
 * "deadline exceeded" at the deadline instead of sleeping on. */
static void poll_deadline(void **state) {
  (void)state;
  rt_test_handlers();
  tw_engine_config_t ec;
  tw_engine_config_default(&ec);
  ec.deadline_ms = 200;
  tw_engine_t *saved_engine = engine;
  tw_module_t *saved_shim = shim;
  assert_int_equal(tw_engine_new(&ec, &engine), 0);
  build_shim();
  tw_wasi_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  struct guest g;
  guest_new(&g, &cfg);
  /* One relative monotonic clock subscription of 10 s at P1. */
  uint8_t *sub = g.mem + P1;
  memset(sub, 0, 48);
  sub[16] = 1;                                  /* monotonic */
  uint64_t ten_s = 10000000000ull;
  memcpy(sub + 24, &ten_s, 8);                  /* little-endian host */
  tw_val_t args[4];
  uint32_t v[4] = {P1, P2, 1, OUT};
  for (int i = 0; i < 4; i++) {
    memset(&args[i], 0, sizeof args[i]);
    args[i].type = TW_I32;
    args[i].of.i32 = v[i];
  }
  tw_val_t r;
  char err[256];
  uint64_t t0 = (uint64_t)time(NULL);
  int rc = tw_instance_call(g.inst, "poll_oneoff", args, 4, &r, 1, err,
                            sizeof err);
  assert_int_equal(rc, TW_ETRAP);
  assert_true((uint64_t)time(NULL) - t0 < 5);
  tw_trap_info_t ti;
  tw_store_last_trap(g.store, &ti);
  assert_true(ti.kind == TW_TRAP_DEADLINE ||
              strstr(ti.message, "deadline") != NULL);
  /* A short sleep inside the deadline returns its clock event. */
  uint64_t ten_ms = 10000000ull;
  memcpy(sub + 24, &ten_ms, 8);
  rc = tw_instance_call(g.inst, "poll_oneoff", args, 4, &r, 1, err,
                        sizeof err);
  assert_int_equal(rc, 0);
  assert_int_equal(r.of.i32, 0);
  assert_int_equal(g.mem[OUT], 1);
  guest_free(&g);
  tw_module_free(shim);
  tw_engine_free(engine);
  engine = saved_engine;
  shim = saved_shim;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(escapes_by_lookup),
      cmocka_unit_test(escapes_by_change),
      cmocka_unit_test(read_only_preopen),
      cmocka_unit_test(stdout_cap),
      cmocka_unit_test(hostile_arguments),
      cmocka_unit_test(sockets),
      cmocka_unit_test(poll_deadline),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
