/* Snapshots (src/snap/) for the rest of the project: the public API is
 * include/tw/snapshot.h; this header adds nothing the other subsystems
 * need yet beyond the header size, for tools that lay out fixtures.
 * Dependencies: snap -> rt -> codegen -> wasm -> base.
 */
#ifndef TW_SNAP_SNAP_H
#define TW_SNAP_SNAP_H

#include "tw/snapshot.h"

/* Bytes in a v1 header, and in the HMAC-SHA256 trailer. */
#define TW__SNAP_HEADER_LEN 160u
#define TW__SNAP_MAC_LEN 32u

#endif
