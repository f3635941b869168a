/* Private to daemon/: the query log (emulator.queryLog). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "resolve/resolve.h"

/*
 * One JSON object per query, written off the hot path: each worker formats
 * its entries into its own ring; one writer thread drains the rings to the
 * file. When a ring is full the entry is dropped and counted; a query is
 * never slowed by the log. querylog_reopen() (SIGHUP) reopens the file for
 * log rotation.
 */
typedef struct querylog querylog_t;

/* path: a file, or "-" for stdout. Returns 0 and *out (owned), or -errno. */
int querylog_open(const char *path, unsigned workers, querylog_t **out);
/* Drain, stop the writer and close. Accepts NULL. */
void querylog_close(querylog_t **qp);
void querylog_reopen(querylog_t *q);

typedef struct querylog_entry {
	const char *listener;
	const struct sockaddr *client;
	bool tcp;
	const uint8_t *query; /* the client's packet */
	size_t query_len;
	const uint8_t *answer; /* NULL or empty: dropped */
	size_t answer_len;
	const resolve_trace_t *trace;
	uint64_t latency_us;
} querylog_entry_t;

/* From worker `worker` only (one producer per ring). */
void querylog_write(querylog_t *q, unsigned worker, const querylog_entry_t *e);

/* Entries written and dropped so far (any thread). */
void querylog_counts(const querylog_t *q, uint64_t *written, uint64_t *dropped);
