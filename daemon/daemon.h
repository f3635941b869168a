/*
 * daemon — privresd's runtime: the control loop (signals, reload, the
 * management API, persistence, snapshot publishing) and the workers that
 * answer queries (design.md §3).
 *
 * Threads: daemon_* run on the main (control) thread. Workers get snapshots
 * through their own uv_async handles and hold one reference each; a query
 * holds its own, so a swap never disturbs a query in flight.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

typedef struct daemon_options {
	const char *config;      /* deployment file; NULL: the embedded default */
	const char *ready_file;  /* JSON of the listeners, written once all are bound */
	const char *state_dir;   /* overrides emulator.stateDir */
	const char *api_socket;  /* Unix socket of the API; NULL: <state dir>/privres.sock */
	const char *api_listen;  /* loopback TCP address of the API, or NULL */
	const char *api_token_file;
	const char *arm_listen;     /* ARM REST over HTTPS on this loopback address, or NULL */
	const char *arm_token_file; /* the one bearer token ARM accepts; NULL: any well-formed */
	const char *metrics_listen; /* /metrics, /healthz, /readyz, the live view (web/), or NULL */
	int workers;             /* 0: emulator.workers, else the number of cores */
	size_t compact_bytes;    /* journal size that calls for a snapshot; 0: control's default */
	bool quiet;              /* no listener table and examples on stdout */
} daemon_options_t;

/* Run until SIGTERM or SIGINT. Returns the process exit code (0 after a clean
 * stop, 1 when the deployment was refused or a listener could not be bound). */
int daemon_run(const daemon_options_t *opts);
