/* Private to daemon/: the query log (emulator.queryLog). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "endpoints/endpoints.h"
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
	const char *transport;      /* "dot", "doh" (W-6), or NULL: tcp says */
	const char *client_subject; /* W-6: the verified client certificate's subject, or NULL */
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

/*
 * DoT and DoH listeners (W-6, [privres]; encrypted.c): the TLS credentials of
 * each encrypted listener — emulator.tls, or certificates the local CA in
 * <state dir>/tls issues — and the listener specs that go with a plain one.
 * Control thread only. Credentials live until encrypted_close(), so a
 * listener kept across a reload keeps its own.
 */
/* Read emulator.tls or open the local CA (state_dir may be NULL: a CA in
 * memory), and make the credentials of every encrypted listener of snap, so a
 * bad file stops the start. 0, or an error with diag filled. */
int encrypted_open(const resolve_snapshot_t *snap, const char *state_dir, pr_diag_t *diag);
void encrypted_close(void);
/* The specs for listener l whose plain spec is *plain: the plain one (unless
 * plainDns is false), then DoT and DoH as configured, into out (room for 3).
 * Returns how many; each `of` entry is l. */
size_t encrypted_specs(const model_emulator_t *em, const resolve_listener_t *l,
		       const ep_listener_spec_t *plain, ep_listener_spec_t *out,
		       const resolve_listener_t **of);
