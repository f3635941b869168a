/* Private to daemon/: the runtime's parts, one file each — the query path
 * (workers.c), listeners and the ready file (listeners.c), console output
 * (console.c), what only the data plane can tell the API (diagnostics.c), the
 * query log (querylog.c) — and serve.c, which runs them around the control
 * object (control/). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "api/api.h"
#include "arm/arm.h"
#include "base/base.h"
#include "control/control.h"
#include "daemon/daemon.h"
#include "endpoints/endpoints.h"
#include "resolve/resolve.h"
#include "web/web.h"

/*
 * One JSON object per query, written off the hot path: each worker formats
 * its entries into its own ring; one writer thread drains the rings to the
 * file. When a ring is full the entry is dropped and counted; a query is
 * never slowed by the log. querylog_reopen() (SIGHUP) reopens the file for
 * log rotation.
 */
typedef struct querylog querylog_t;

/* path: a file, "-" for stdout, or NULL (no file: the live view's stream
 * only); format: emulator.queryLog.format. Returns 0 and *out (owned), or
 * -errno. */
int querylog_open(const char *path, model_query_log_format_t format, unsigned workers,
		  querylog_t **out);
/* Should worker `worker` make an entry for the query it answers at now_ns:
 * always with a file; for the live view alone, while one watches, at most
 * 50 a second per worker (the view is a sample under load). Worker only. */
bool querylog_wanted(querylog_t *q, unsigned worker, uint64_t now_ns);
/* The live stream to feed too (borrowed; set before the first query). */
void querylog_set_web(querylog_t *q, web_t *web);
/* What the azure format names by ARM id (querylog_context(); transferred;
 * any thread): {region, vnets:{name:{id, policy, rules:{rule:listId}}},
 * listeners:{name:{address, port, endpoint}}}. */
void querylog_set_context(querylog_t *q, json_t *context);
/* Does its format use the context (azure)? */
bool querylog_wants_context(const querylog_t *q);
json_t *querylog_context(const deployment_t *d, const resolve_snapshot_t *s);
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

/* ---- tallies (tally.c) ------------------------------------------------------- */

/*
 * What the counter table can't hold, per worker: queries by listener,
 * transport and rcode with their latency, forwards by rule and target, policy
 * verdicts. tally_query() runs on the worker that owns the tally (no lock, no
 * atomic read-modify-write); tally_sum() may run on any thread.
 */
typedef struct tally tally_t;

enum { TALLY_UDP, TALLY_TCP, TALLY_DOT, TALLY_DOH, TALLY_TRANSPORTS };
enum { TALLY_RCODE_BADVERS = 12, TALLY_RCODE_DROPPED, TALLY_RCODE_OTHER, TALLY_RCODES };
#define TALLY_BUCKETS 15
typedef enum { TALLY_FORWARD, TALLY_POLICY } tally_kind_t;

typedef struct tally_query {
	const char *listener;
	int transport; /* TALLY_UDP … */
	int rcode;     /* extended; -1: dropped */
	uint64_t latency_us;
	const resolve_trace_t *trace;
} tally_query_t;

tally_t *tally_new(void);
void tally_destroy(tally_t **tp);
void tally_query(tally_t *t, const tally_query_t *q);

typedef struct tally_listener {
	char name[200];
	uint64_t queries[TALLY_TRANSPORTS][TALLY_RCODES];
	uint64_t latency[TALLY_BUCKETS + 1]; /* per bucket, not cumulative; the last: beyond */
	uint64_t latency_sum_us;
} tally_listener_t;

typedef struct tally_label {
	tally_kind_t kind;
	/* FORWARD: rule, target, "outside" | "in-process";
	 * POLICY: VNet, security rule (or ""), action */
	char values[3][200];
	uint64_t count;
} tally_label_t;

typedef struct tally_totals {
	tally_listener_t *listeners;
	size_t n_listeners;
	tally_label_t *labels;
	size_t n_labels;
	uint64_t overflow; /* queries not tallied: a table was full */
} tally_totals_t;

/* Sum n tallies (NULL ones skipped) into *out; free with tally_totals_free. */
void tally_sum(tally_t *const *tallies, size_t n, tally_totals_t *out);
void tally_totals_free(tally_totals_t *t);
/* Upper bound of latency bucket b, in microseconds. */
uint64_t tally_bucket_us(size_t b);
const char *tally_rcode_label(size_t r, char *buf, size_t cap);

/* ---- the runtime ----------------------------------------------------------- */

typedef struct daemon daemon_t;
typedef struct updates updates_t;

/* One per worker thread; everything but `pending` is the worker's alone. */
typedef struct worker {
	daemon_t *dm;
	unsigned index;
	resolve_worker_t *rw;
	resolve_snapshot_t *snap;              /* the worker's reference */
	_Atomic(resolve_snapshot_t *) pending; /* published, with a reference */
	uv_async_t swap;
	ep_forwarder_t *forwarder;
	uv_async_t update_done;            /* update.c: answers from the control thread */
	struct update_job *updates_done;   /* under the updates' lock */
	tally_t *tally; /* metrics by listener, rule, target, policy; NULL: no metrics */
} worker_t;

struct daemon {
	daemon_options_t opts;
	uv_loop_t loop; /* control loop */
	uv_signal_t sig_term, sig_int, sig_hup;
	control_t *control;            /* the one owner of the deployment */
	ep_server_t *server;
	ep_health_t *health;           /* outlives snapshots (design.md §3) */
	resolve_inflight_t *inflight;  /* questions out to outside targets, every worker (P-3) */
	resolve_cache_t *cache;        /* one answer cache for every worker */
	worker_t *workers;
	unsigned n_workers;
	bool serving;
	api_registry_t *registry;
	api_control_t *api_control;
	api_server_t *api;
	arm_server_t *arm; /* ARM REST (--arm-listen), or NULL */
	updates_t *updates; /* E-2: UPDATE to external servers, applied by the control thread */
	querylog_t *qlog; /* emulator.queryLog, or the live view's stream, or NULL */
	web_t *web;       /* --metrics-listen / emulator.metrics.listen, or NULL */
	bool metrics_on;  /* workers keep tallies (web is on) */
	/* workers, health and the query log set: the web thread may read them */
	_Atomic bool data_ready;
	_Atomic bool api_ready;  /* api set and answering: the web thread may read it */
	uint64_t generation; /* deployments published */
	pthread_mutex_t targets_lock;
	json_t *targets; /* [{target, address, port}]: outside targets and where they are reached */
	json_t *policies; /* {vnet: its security policy's name} (S-2), under targets_lock */
	int exit_code;
};

/* The current snapshot (borrowed from the control object). */
resolve_snapshot_t *daemon_snapshot(const daemon_t *dm);

/* workers.c: the endpoints' configuration of the query path, and the hand-over
 * of a published snapshot to every worker (one reference transferred). */
void workers_config(daemon_t *dm, ep_config_t *cfg);
void workers_publish(daemon_t *dm, resolve_snapshot_t *next);

/* update.c: DNS UPDATE received by an external server's listener (E-2) goes
 * to the control thread; the answer comes back to the worker. open/close on
 * the control thread; the rest on the worker. updates_take() returns true when
 * it took the query (it answers it later). */
void updates_open(daemon_t *dm);
void updates_close(daemon_t *dm);
void updates_worker_init(worker_t *w, uv_loop_t *loop);
void updates_worker_stop(worker_t *w);
bool updates_take(worker_t *w, ep_query_t *eq);

/* listeners.c: where each listener of a snapshot listens (design.md §4). */
typedef struct bound {
	ep_listener_spec_t *specs;
	const resolve_listener_t **of; /* the resolve listener of each spec */
	size_t n;
} bound_t;
void listeners_assign(const resolve_snapshot_t *s, bound_t *out);
void listeners_free(bound_t *b);
/* The listeners as the ready file holds them (owned). */
json_t *listeners_json(const daemon_t *dm, const bound_t *b);
/* Write --ready-file atomically; 0 or PR_EIO. */
int listeners_write_ready_file(const daemon_t *dm, const bound_t *b);
const char *listeners_kind_name(resolve_listener_kind_t k);

/* console.c: what privresd prints for people. */
void console_print_diag(const pr_diag_t *diag);
void console_print_listeners(const daemon_t *dm, const bound_t *b);
void console_print_examples(const daemon_t *dm, const bound_t *b);

/* observe.c: hand a published snapshot (borrowed) to the web surfaces and the
 * query log; a refused change's findings to the view. Control thread. */
void observe_publish(daemon_t *dm, resolve_snapshot_t *s);
void observe_refused(daemon_t *dm, const pr_diag_t *diag);

/* diagnostics.c: explain, target health and counters for the API, and the
 * same counters for /metrics (ctx: the daemon; any thread). */
extern const api_diagnostics_t daemon_diagnostics;
extern const web_sources_t daemon_web_sources;

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
