/* The query path: each worker thread drives resolve/ for the queries its
 * listeners receive, performs the forwards it asks for, answers and logs. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "daemon/daemon_p.h"
#include "dns/dns.h"
#include "linker/linker.h"
#include "model/model.h"

/* A query waiting for an outside target. */
typedef struct inflight {
	worker_t *w;
	ep_query_t *eq;
	resolve_query_t *rq;
	uint64_t t0; /* when the query arrived, for the query log */
} inflight_t;


static void drive(worker_t *w, ep_query_t *eq, resolve_query_t *rq, uint64_t t0,
		  resolve_status_t st, const resolve_forward_t *fwd);

static void on_forward_done(void *arg, const ep_forward_result_t *res)
{
	inflight_t *f = arg;
	const resolve_forward_t *fwd = NULL;
	if (res->status != 0 && res->reason)
		resolve_query_note_failure(f->rq, res->reason);
	resolve_status_t st = resolve_resume(f->w->rw, f->rq, res->status == 0 ? res->reply : NULL,
					     res->status == 0 ? res->len : 0, &fwd);
	worker_t *w = f->w;
	ep_query_t *eq = f->eq;
	resolve_query_t *rq = f->rq;
	uint64_t t0 = f->t0;
	free(f);
	drive(w, eq, rq, t0, st, fwd);
}

static resolve_status_t forward(worker_t *w, ep_query_t *eq, resolve_query_t *rq, uint64_t t0,
				const resolve_forward_t *fwd, const resolve_forward_t **next)
{
	inflight_t *f = pr_malloc(sizeof(*f));
	*f = (inflight_t){w, eq, rq, t0};
	if (w->forwarder && ep_forward_start(w->forwarder, fwd, on_forward_done, f, NULL) == 0)
		return RESOLVE_FORWARD;
	/* Nothing could be sent: the pipeline answers SERVFAIL (F-10). */
	free(f);
	return resolve_resume(w->rw, rq, NULL, 0, next);
}

static void log_query(worker_t *w, ep_query_t *eq, resolve_query_t *rq, uint64_t t0,
		      const uint8_t *answer, size_t len)
{
	querylog_entry_t e = {
		.listener = ep_query_listener_name(eq),
		.client = ep_query_peer(eq),
		.tcp = ep_query_transport(eq) == EP_TCP,
		.transport = ep_query_protocol(eq) ? ep_protocol_name(ep_query_protocol(eq)) : NULL,
		.client_subject = ep_query_client_subject(eq),
		.query = ep_query_data(eq),
		.query_len = ep_query_len(eq),
		.answer = answer,
		.answer_len = len,
		.trace = resolve_query_trace(rq),
		.latency_us = (pr_now_ns() - t0) / 1000,
	};
	querylog_write(w->dm->qlog, w->index, &e);
}

/* The per-listener metrics (tally.c): a few adds into the worker's own table. */
static void tally_answer(worker_t *w, ep_query_t *eq, resolve_query_t *rq, uint64_t t0,
			 const uint8_t *answer, size_t len)
{
	static const int of_protocol[] = {[EP_PLAIN] = TALLY_UDP, [EP_DOT] = TALLY_DOT,
					  [EP_DOH] = TALLY_DOH};
	ep_protocol_t p = ep_query_protocol(eq);
	int transport = of_protocol[p];
	if (p == EP_PLAIN && ep_query_transport(eq) == EP_TCP)
		transport = TALLY_TCP;
	tally_query_t q = {.listener = ep_query_listener_name(eq),
			   .transport = transport,
			   .rcode = len ? dns_message_rcode(answer, len) : -1,
			   .latency_us = (pr_now_ns() - t0) / 1000,
			   .trace = resolve_query_trace(rq)};
	tally_query(w->tally, &q);
}

static void drive(worker_t *w, ep_query_t *eq, resolve_query_t *rq, uint64_t t0,
		  resolve_status_t st, const resolve_forward_t *fwd)
{
	while (st == RESOLVE_FORWARD) {
		const resolve_forward_t *next = NULL;
		st = forward(w, eq, rq, t0, fwd, &next);
		if (st == RESOLVE_FORWARD && !next)
			return; /* in flight; on_forward_done continues */
		fwd = next;
	}
	size_t len = 0;
	const uint8_t *answer = resolve_query_answer(rq, &len);
	if (w->dm->qlog && querylog_wanted(w->dm->qlog, w->index, t0))
		log_query(w, eq, rq, t0, answer, len);
	if (w->tally)
		tally_answer(w, eq, rq, t0, answer, len);
	if (len)
		ep_query_answer(eq, answer, len);
	else
		ep_query_drop(eq);
	resolve_query_free(&rq);
}

static void take_pending(worker_t *w)
{
	resolve_snapshot_t *next = atomic_exchange(&w->pending, NULL);
	if (!next)
		return;
	resolve_snapshot_unref(&w->snap);
	resolve_worker_let_go(w->rw);
	w->snap = next;
}

static void on_query(void *ctx, ep_query_t *eq)
{
	(void)ctx;
	worker_t *w = ep_query_worker_state(eq);
	/* A change is acknowledged after it is published: a query that arrives
	 * after the acknowledgement must see it, even before the worker's loop
	 * has run the wake-up (one load per query). */
	if (atomic_load_explicit(&w->pending, memory_order_acquire))
		take_pending(w);
	if (updates_take(w, eq))
		return;
	uint64_t t0 = w->dm->qlog || w->tally ? pr_now_ns() : 0;
	resolve_query_t *rq = resolve_query_new(w->rw);
	resolve_input_t in = {
		.listener = ep_query_listener_name(eq),
		.client = ep_query_peer(eq),
		.tcp = ep_query_transport(eq) == EP_TCP,
		.packet = ep_query_data(eq),
		.len = ep_query_len(eq),
		.max_answer = ep_query_max_answer(eq),
	};
	const resolve_forward_t *fwd = NULL;
	resolve_status_t st = resolve_start(w->rw, w->snap, &in, rq, &fwd);
	drive(w, eq, rq, t0, st, fwd);
}

static void on_swap(uv_async_t *h)
{
	take_pending(h->data);
}

static int worker_init(void *ctx, unsigned index, uv_loop_t *loop, void **state)
{
	daemon_t *dm = ctx;
	worker_t *w = &dm->workers[index];
	resolve_snapshot_t *snap = daemon_snapshot(dm);
	w->dm = dm;
	w->index = index;
	w->rw = resolve_worker_new(&resolve_snapshot_deployment(snap)->emulator);
	resolve_worker_set_inflight(w->rw, dm->inflight);
	resolve_worker_set_cache(w->rw, dm->cache);
	resolve_snapshot_ref(snap);
	w->snap = snap;
	atomic_init(&w->pending, NULL);
	uv_async_init(loop, &w->swap, on_swap);
	w->swap.data = w;
	updates_worker_init(w, loop);
	int rc = ep_forwarder_new(loop, dm->health, &w->forwarder);
	if (rc != 0)
		return rc;
	*state = w;
	return 0;
}

static void worker_stop(void *ctx, void *state)
{
	(void)ctx;
	worker_t *w = state;
	ep_forwarder_close(&w->forwarder);
	uv_close((uv_handle_t *)&w->swap, NULL);
	updates_worker_stop(w);
}

static void worker_fini(void *ctx, void *state)
{
	(void)ctx;
	worker_t *w = state;
	resolve_snapshot_t *p = atomic_exchange(&w->pending, NULL);
	resolve_snapshot_unref(&p);
	resolve_snapshot_unref(&w->snap);
	resolve_worker_destroy(&w->rw);
}

void workers_config(daemon_t *dm, ep_config_t *cfg)
{
	cfg->handler = on_query;
	cfg->ctx = dm;
	cfg->worker_init = worker_init;
	cfg->worker_stop = worker_stop;
	cfg->worker_fini = worker_fini;
}

/* Each worker drops its old snapshot at its next turn of the loop (or at its
 * next query); queries in flight keep theirs. */
void workers_publish(daemon_t *dm, resolve_snapshot_t *next)
{
	for (unsigned i = 0; dm->serving && i < dm->n_workers; i++) {
		worker_t *w = &dm->workers[i];
		resolve_snapshot_ref(next);
		resolve_snapshot_t *old = atomic_exchange(&w->pending, next);
		resolve_snapshot_unref(&old);
		uv_async_send(&w->swap);
	}
	resolve_snapshot_unref(&next);
}
