/* What the snapshot fixtures of tests/snap/ were made with: shared by the
 * generator (make_fixtures.c) and the tests. The key is a test key, not a
 * secret. */
#ifndef TW_TESTS_SNAP_FIXTURE_PARAMS_H
#define TW_TESTS_SNAP_FIXTURE_PARAMS_H

#define FIXTURE_KEY ((const uint8_t *)"tensorwasm-snapshot-test-key-v1!")
#define FIXTURE_KEY_LEN 32
#define FIXTURE_TENANT "tenant-a"
#define FIXTURE_EPOCH 5

#endif
