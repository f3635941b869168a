/*
 * web — privresd's plain-HTTP surfaces on one loopback port (design.md §2,
 * §10): /metrics (OpenMetrics text), /healthz, /readyz, and the live view of
 * the estate at / with its JSON and server-sent events under /api/.
 *
 * Threads: the server runs on its own thread (libmicrohttpd, one thread per
 * connection, at most WEB_MAX_CONNECTIONS), so a slow browser or scraper never
 * touches a query or the control loop. What it shows comes in three ways:
 *   - web_publish() (control thread) hands over each published deployment:
 *     a snapshot reference, for explain, and the estate as JSON;
 *   - the sources' callbacks (called on the web thread) read counters and
 *     target health, which are atomics summed at scrape time;
 *   - web_stream_line() (the query log's writer thread) feeds the live stream.
 * Nothing here is on the query path: a worker never waits for the web thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "control/control.h"

#define WEB_MAX_CONNECTIONS 64

typedef struct web web_t;
/* The metrics text being written by a scrape. */
typedef struct web_text web_text_t;

typedef struct web_sources {
	/* Write the daemon's metrics with web_metric_*() (web thread). */
	void (*metrics)(void *ctx, web_text_t *t);
	/* Outside targets and their F-10 state as privresctl health prints
	 * them: {"targets":[…]} (owned; web thread). */
	json_t *(*targets)(void *ctx);
	void *ctx;
} web_sources_t;

/* Serve on listen ("127.0.0.1:PORT"; port 0: a free one). src is copied.
 * Returns 0 and *out (owned), or an error with *why (owned) saying why. */
int web_start(const char *listen, const web_sources_t *src, web_t **out, char **why);
/* The port served (useful with port 0). */
uint16_t web_port(const web_t *w);
/* Stop serving, end every stream, release the snapshot. Accepts NULL. */
void web_stop(web_t **wp);

/* /readyz: what is ready so far (any thread). */
void web_set_ready(web_t *w, bool listeners_bound, bool api_answering);

/* A deployment was published (control thread): snap gets a reference of its
 * own, estate (transferred) is the deployment as the view draws it;
 * generation counts publications and when_ms is when it happened (wall
 * clock). Makes the deployment part of /readyz true. */
void web_publish(web_t *w, resolve_snapshot_t *snap, json_t *estate, uint64_t generation,
		 uint64_t when_ms);
/* A change was refused; findings (transferred) is its list of
 * {path, rule, message} for the view. The deployment keeps serving. */
void web_refused(web_t *w, json_t *findings);

/* Does anyone watch the live stream (any thread, one atomic load)? */
bool web_stream_wanted(const web_t *w);
/* One query-log line (JSON, no newline) for the live stream; copied. */
void web_stream_line(web_t *w, const char *line, size_t len);

/* ---- OpenMetrics text (web/metrics.c) ------------------------------------ */

typedef enum { WEB_COUNTER, WEB_GAUGE, WEB_HISTOGRAM } web_metric_type_t;

/* A family: its name (without _total), type, unit (or NULL) and help. */
void web_metric_family(web_text_t *t, const char *name, web_metric_type_t type, const char *unit,
		       const char *help);
/* One sample: family name + suffix ("_total", "_bucket", "" …), labels as
 * NULL-terminated name, value pairs (label values are escaped), the value. */
void web_metric_u64(web_text_t *t, const char *name, const char *suffix,
		    const char *const *labels, uint64_t value);
void web_metric_double(web_text_t *t, const char *name, const char *suffix,
		       const char *const *labels, double value);
