/* The HTTP API server (libmicrohttpd) in front of the service layer:
 * routing, authentication, limits, trace context, metrics, access logs.
 * Routes and their JSON are described in docs/openapi.yaml.
 */
#ifndef TW_HTTP_H
#define TW_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "svc/svc.h"

struct tw__http;

/* Starts listening on the service's configured address (port 0 picks an
 * ephemeral one: see *port). The svc must outlive the server. */
int tw__http_start(struct tw__svc *svc, struct tw__http **out,
                   uint16_t *port, char *err, size_t errlen);
/* Stops accepting new connections (in-flight requests go on). */
void tw__http_quiesce(struct tw__http *h);
/* Waits until no request is in flight, at most ms; true when drained. */
bool tw__http_drain(struct tw__http *h, uint32_t ms);
/* Stops the server. With `wait` false (drain ran out of time) threads
 * still inside a request are left to the process's exit. */
void tw__http_stop(struct tw__http *h, bool wait);

#endif
