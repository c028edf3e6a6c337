/* Copy-on-write instances, reset and pools: instances share a module's
 * memory image without seeing each other's writes; a reset leaves no
 * byte of a secret anywhere in memory (also in pages the guest grew,
 * which become inaccessible again); globals, tables and dropped segments
 * come back; modules whose segment offsets depend on imported globals
 * fall back to copying when the values differ; pools reuse instances and
 * enforce their size.
 */
#include "snap/snap_test.h"

static tw_engine_t *engine;

static const char pool_wat[] =
    "(module (memory (export \"memory\") 2 10)"
    " (data (i32.const 100) \"initial data\")"
    " (data (i32.const 70000) \"page two\")"
    " (data $p \"passive\")"
    " (global $g (mut i32) (i32.const 5))"
    " (table 2 4 funcref) (elem (i32.const 0) $f)"
    " (func $f (result i32) i32.const 77)"
    " (func (export \"store\") (param i32 i32) local.get 0 local.get 1 i32.store8)"
    " (func (export \"load\") (param i32) (result i32) local.get 0 i32.load)"
    " (func (export \"grow\") (param i32) (result i32) local.get 0 memory.grow)"
    " (func (export \"msize\") (result i32) memory.size)"
    " (func (export \"tsize\") (result i32) table.size 0)"
    " (func (export \"tgrow\") (result i32) ref.null func i32.const 2 table.grow 0)"
    " (func (export \"setg\") (param i32) local.get 0 global.set $g)"
    " (func (export \"g\") (result i32) global.get $g)"
    " (func (export \"drop\") data.drop $p)"
    " (func (export \"init\") (result i32)"
    "   i32.const 0 i32.const 0 i32.const 7 memory.init $p i32.const 1))";

static const char secret[] = "S3CRET-tenant-key";

static void write_secret(tw_instance_t *in, uint32_t at) {
  for (size_t i = 0; i < sizeof secret - 1; i++) {
    tw_val_t a[2] = {st_i32(at + (uint32_t)i), st_i32((uint8_t)secret[i])};
    st_call(in, "store", a, 2, 0);
  }
}

/* No occurrence of the secret's first 6 bytes anywhere in memory. */
static void assert_no_secret(tw_instance_t *in) {
  uint8_t *base;
  uint64_t size;
  assert_int_equal(tw_instance_memory(in, NULL, &base, &size), 0);
  for (uint64_t i = 0; i + 6 <= size; i++)
    if (memcmp(base + i, secret, 6) == 0)
      fail_msg("secret visible at offset %llu", (unsigned long long)i);
}

static void reset_forgets(void **state) {
  (void)state;
  tw_module_t *m = st_module_wat(engine, pool_wat);
  tw_store_t *s;
  assert_int_equal(tw_store_new(engine, &s), 0);
  tw_instance_t *in, *other;
  char err[256] = "";
  assert_int_equal(tw_instance_new(s, m, NULL, &in, err, sizeof err), 0);
  assert_int_equal(tw_instance_new(s, m, NULL, &other, err, sizeof err), 0);
  for (int round = 0; round < 3; round++) {
    assert_int_equal(st_i32_of(in, "msize"), 2);
    assert_int_equal(st_load(in, 100), 0x74696e69); /* "init" */
    tw_val_t a = st_i32(3);
    assert_int_equal(st_call(in, "grow", &a, 1, 1).of.i32, 2);
    write_secret(in, 100);   /* over the data segment (image page) */
    write_secret(in, 40000); /* a zero page of the image */
    write_secret(in, 3 * 65536 + 5); /* a grown page */
    a = st_i32(999);
    st_call(in, "setg", &a, 1, 0);
    st_i32_of(in, "tgrow");
    st_call(in, "drop", NULL, 0, 0);
    /* the other instance of the same image does not see the writes */
    assert_int_equal(st_load(other, 100), 0x74696e69);
    assert_no_secret(other);
    assert_int_equal(tw_instance_reset(in, err, sizeof err), 0);
    assert_no_secret(in);
    assert_int_equal(st_i32_of(in, "msize"), 2);
    assert_int_equal(st_i32_of(in, "g"), 5);
    assert_int_equal(st_i32_of(in, "tsize"), 2);
    assert_int_equal(st_i32_of(in, "init"), 1); /* segment un-dropped */
    st_call(in, "drop", NULL, 0, 0);
    assert_int_equal(tw_instance_reset(in, err, sizeof err), 0);
    assert_int_equal(st_load(in, 70000), 0x65676170); /* "page" */
    /* grown pages come back as zeros */
    a = st_i32(8);
    assert_int_equal(st_call(in, "grow", &a, 1, 1).of.i32, 2);
    assert_no_secret(in);
    assert_int_equal(tw_instance_reset(in, err, sizeof err), 0);
  }
  /* a restored snapshot's memory is replaced by the image on reset */
  tw_snapshot_save_opts_t so;
  tw_snapshot_save_opts_default(&so);
  so.tenant = "t";
  write_secret(in, 500);
  uint8_t *b;
  size_t n;
  assert_int_equal(tw_snapshot_save(in, &so, &b, &n, err, sizeof err), 0);
  tw_snapshot_restore_opts_t ro;
  tw_snapshot_restore_opts_default(&ro);
  ro.tenant = "t";
  ro.allow_unsigned = true;
  tw_instance_t *r;
  assert_int_equal(
      tw_snapshot_restore(s, m, NULL, b, n, &ro, &r, err, sizeof err), 0);
  assert_int_equal(st_load(r, 500), 0x52433353); /* "S3CR" */
  assert_int_equal(tw_instance_reset(r, err, sizeof err), 0);
  assert_no_secret(r);
  assert_int_equal(st_load(r, 100), 0x74696e69);
  tw_free(b);
  tw_store_free(s);
  tw_module_free(m);
}

static void imported_offsets(void **state) {
  (void)state;
  tw_module_t *m = st_module_wat(
      engine, "(module (import \"env\" \"base\" (global i32)) (memory 1)"
              " (data (global.get 0) \"xyzw\")"
              " (func (export \"load\") (param i32) (result i32)"
              "   local.get 0 i32.load))");
  for (uint32_t base = 16; base <= 32; base += 16) {
    for (int twice = 0; twice < 2; twice++) {
      tw_store_t *s;
      tw_linker_t *l;
      assert_int_equal(tw_store_new(engine, &s), 0);
      assert_int_equal(tw_linker_new(engine, &l), 0);
      tw_val_t v = st_i32(base);
      assert_int_equal(tw_linker_define_global(l, s, "env", "base", &v, false),
                       0);
      tw_instance_t *in;
      char err[256] = "";
      assert_int_equal(tw_instance_new(s, m, l, &in, err, sizeof err), 0);
      assert_int_equal(st_load(in, base), 0x777a7978);
      assert_int_equal(st_load(in, base == 16 ? 32 : 16), 0);
      tw_linker_free(l);
      tw_store_free(s);
    }
  }
  tw_module_free(m);
}

static void pool_reuses(void **state) {
  (void)state;
  tw_module_t *m = st_module_wat(engine, pool_wat);
  tw_pool_config_t cfg;
  tw_pool_config_default(&cfg);
  cfg.size = 2;
  cfg.prewarm = 1;
  tw_pool_t *p;
  char err[256] = "";
  assert_int_equal(tw_pool_new(engine, m, NULL, &cfg, &p, err, sizeof err), 0);
  uint32_t live, idle;
  tw_pool_stats(p, &live, &idle);
  assert_int_equal(live, 1);
  assert_int_equal(idle, 1);
  tw_instance_t *a, *b, *c;
  assert_int_equal(tw_pool_acquire(p, &a, err, sizeof err), 0);
  assert_int_equal(tw_pool_acquire(p, &b, err, sizeof err), 0);
  assert_int_equal(tw_pool_acquire(p, &c, err, sizeof err), TW_ELIMIT);
  assert_string_equal(err, "all 2 instances of the pool are in use");
  write_secret(a, 1000);
  uint8_t *base_a;
  assert_int_equal(tw_instance_memory(a, NULL, &base_a, NULL), 0);
  assert_int_equal(tw_pool_release(p, a), 0);
  assert_int_equal(tw_pool_acquire(p, &c, err, sizeof err), 0);
  assert_ptr_equal(c, a); /* same instance, same reservation */
  uint8_t *base_c;
  assert_int_equal(tw_instance_memory(c, NULL, &base_c, NULL), 0);
  assert_ptr_equal(base_a, base_c);
  assert_no_secret(c);
  assert_non_null(tw_pool_instance_store(c));
  assert_int_equal(tw_pool_release(p, c), 0);
  assert_int_equal(tw_pool_release(p, b), 0);
  tw_pool_free(p);
  /* modules importing a memory are refused */
  tw_module_t *im = st_module_wat(engine, "(module (import \"e\" \"m\" (memory 1)))");
  assert_int_equal(tw_pool_new(engine, im, NULL, NULL, &p, err, sizeof err),
                   TW_EUNSUPPORTED);
  tw_module_free(im);
  tw_module_free(m);
}

int main(void) {
  if (tw_engine_new(NULL, &engine)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reset_forgets),
      cmocka_unit_test(imported_offsets),
      cmocka_unit_test(pool_reuses),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tw_engine_free(engine);
  return rc;
}
