/* privresd's runtime: workers answering through resolve/, the control loop
 * with signals, reload and the management API, and snapshot publishing. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "dns/dns.h"
#include "daemon/daemon.h"
#include "daemon/daemon_p.h"
#include "endpoints/endpoints.h"
#include "linker/linker.h"
#include "model/model.h"
#include "resolve/resolve.h"

typedef struct daemon daemon_t;

/* One per worker thread; everything but `pending` is the worker's alone. */
typedef struct worker {
	daemon_t *dm;
	unsigned index;
	resolve_worker_t *rw;
	resolve_snapshot_t *snap;                /* the worker's reference */
	_Atomic(resolve_snapshot_t *) pending;   /* published, with a reference */
	uv_async_t swap;
	ep_forwarder_t *forwarder;
} worker_t;

/* A query waiting for an outside target. */
typedef struct inflight {
	worker_t *w;
	ep_query_t *eq;
	resolve_query_t *rq;
	uint64_t t0; /* when the query arrived, for the query log */
} inflight_t;

struct daemon {
	daemon_options_t opts;
	uv_loop_t loop; /* control loop */
	uv_signal_t sig_term, sig_int, sig_hup;
	resolve_snapshot_t *snap; /* current, control thread's reference */
	ep_server_t *server;
	ep_health_t *health; /* outlives snapshots (design.md §3) */
	resolve_inflight_t *inflight; /* questions out to outside targets, every worker (P-3) */
	worker_t *workers;
	unsigned n_workers;
	bool serving;
	char *state_dir;
	api_registry_t *registry;
	api_control_t *control;
	api_server_t *api;
	querylog_t *qlog; /* emulator.queryLog, or NULL */
	int exit_code;
};

/* ---- the query path (worker threads) ------------------------------------- */

static void drive(worker_t *w, ep_query_t *eq, resolve_query_t *rq, uint64_t t0,
		  resolve_status_t st, const resolve_forward_t *fwd);

static void on_forward_done(void *arg, const ep_forward_result_t *res)
{
	inflight_t *f = arg;
	const resolve_forward_t *fwd = NULL;
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
	ep_forward_request_t req = {
		.packet = fwd->packet,
		.len = fwd->len,
		.n_targets = fwd->n_targets,
		.source_address = fwd->source_address,
		.deadline_ms = fwd->deadline_ms,
		.try_timeout_ms = fwd->try_timeout_ms,
	};
	for (size_t i = 0; i < fwd->n_targets && i < EP_FORWARD_MAX_TARGETS; i++)
		req.targets[i] = (ep_forward_target_t){fwd->targets[i].address, fwd->targets[i].port,
						       fwd->targets[i].real_address,
						       fwd->targets[i].real_port,
						       fwd->targets[i].mapped};
	inflight_t *f = pr_malloc(sizeof(*f));
	*f = (inflight_t){w, eq, rq, t0};
	if (w->forwarder && ep_forward_start(w->forwarder, &req, on_forward_done, f, NULL) == 0)
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
	if (w->dm->qlog)
		log_query(w, eq, rq, t0, answer, len);
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
	uint64_t t0 = w->dm->qlog ? pr_now_ns() : 0;
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
	w->dm = dm;
	w->index = index;
	const model_emulator_t *em = &resolve_snapshot_deployment(dm->snap)->emulator;
	w->rw = resolve_worker_new(em);
	resolve_worker_set_inflight(w->rw, dm->inflight);
	resolve_snapshot_ref(dm->snap);
	w->snap = dm->snap;
	atomic_init(&w->pending, NULL);
	uv_async_init(loop, &w->swap, on_swap);
	w->swap.data = w;
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

/* ---- listeners (design.md §4) --------------------------------------------- */

typedef struct bound {
	ep_listener_spec_t *specs;
	const resolve_listener_t **of; /* the resolve listener of each spec */
	size_t n;
} bound_t;

static void bound_free(bound_t *b)
{
	free(b->specs);
	free(b->of);
	*b = (bound_t){0};
}

/* Where each listener of the snapshot listens: its virtual address (virtual
 * mode), or a loopback address from emulator.listeners or basePort upward in
 * the snapshot's stable order (loopback mode). */
static void assign_listeners(const resolve_snapshot_t *s, bound_t *out)
{
	const deployment_t *d = resolve_snapshot_deployment(s);
	const model_emulator_t *em = &d->emulator;
	size_t n = resolve_snapshot_listener_count(s);
	/* W-6: a listener may add DoT and DoH specs to its plain one. */
	*out = (bound_t){pr_calloc(3 * n + 1, sizeof(*out->specs)),
			 pr_calloc(3 * n + 1, sizeof(*out->of)), 0};
	uint32_t loopback = 0x7f000001;
	uint16_t next_port = em->base_port;
	bool azure_bound = false;
	for (size_t i = 0; i < n; i++) {
		const resolve_listener_t *l = resolve_snapshot_listener(s, i);
		ep_listener_spec_t spec = {.name = l->name};
		if (em->listen == MODEL_LISTEN_VIRTUAL) {
			/* 168.63.129.16 is one address for every VNet: one socket,
			 * the view comes from the client's address. */
			if (l->kind == RESOLVE_LISTENER_AZURE_DNS) {
				if (azure_bound)
					continue;
				azure_bound = true;
			}
			spec.addr = l->virtual_address;
			spec.port = l->virtual_port;
		} else {
			const model_listener_map_t *m = NULL;
			for (size_t k = 0; k < em->n_listeners; k++)
				if (!strcmp(em->listeners[k].listener, l->name))
					m = &em->listeners[k];
			if (m) {
				spec.addr = m->address;
				spec.port = m->port;
			} else {
				spec.addr = loopback;
				spec.port = next_port ? next_port++ : 0; /* basePort 0: free ports */
			}
		}
		out->n += encrypted_specs(em, l, &spec, out->specs + out->n, out->of + out->n);
	}
}

static const char *kind_name(resolve_listener_kind_t k)
{
	switch (k) {
	case RESOLVE_LISTENER_INBOUND: return "inbound endpoint";
	case RESOLVE_LISTENER_AZURE_DNS: return "Azure DNS";
	default: return "external server";
	}
}

static json_t *listeners_json(const daemon_t *dm, const bound_t *b)
{
	json_t *arr = json_array();
	char va[16], ra[16];
	for (size_t i = 0; i < b->n; i++) {
		const resolve_listener_t *l = b->of[i];
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:i}", "name", l->name, "kind",
				       kind_name(l->kind), "protocol",
				       ep_protocol_name(b->specs[i].protocol), "virtualAddress",
				       pr_ipv4_format(l->virtual_address, va), "virtualPort",
				       l->virtual_port, "address",
				       pr_ipv4_format(b->specs[i].addr, ra), "port",
				       ep_server_listener_port(dm->server, i)));
	}
	return arr;
}

static void print_listeners(const daemon_t *dm, const bound_t *b)
{
	char va[16], ra[16];
	printf("%-32s %-18s %-22s %s\n", "listener", "kind", "virtual address", "listening on");
	for (size_t i = 0; i < b->n; i++) {
		const resolve_listener_t *l = b->of[i];
		char vbuf[32];
		snprintf(vbuf, sizeof(vbuf), "%s:%u", pr_ipv4_format(l->virtual_address, va),
			 l->virtual_port);
		printf("%-32s %-18s %-22s %s:%u%s%s\n", l->name, kind_name(l->kind), vbuf,
		       pr_ipv4_format(b->specs[i].addr, ra), ep_server_listener_port(dm->server, i),
		       b->specs[i].protocol ? " " : "", /* W-6: DoT, DoH */
		       b->specs[i].protocol ? ep_protocol_name(b->specs[i].protocol) : "");
	}
}

/* A few dig commands that work against this deployment: a private record
 * from each VNet's Azure DNS that can reach it. */
static void print_examples(const daemon_t *dm, const bound_t *b)
{
	const deployment_t *d = resolve_snapshot_deployment(dm->snap);
	const char *name = NULL;
	char buf[512];
	for (size_t z = 0; z < d->n_zones && !name; z++)
		for (size_t r = 0; r < d->zones[z].n_record_sets && !name; r++) {
			const model_record_set_t *rs = &d->zones[z].record_sets[r];
			if (rs->type == 1 && !strchr(rs->name, '*') && rs->name[0] != '@') {
				snprintf(buf, sizeof(buf), "%s.%s", rs->name, d->zones[z].name);
				name = buf;
			}
		}
	if (!name)
		return;
	printf("\ntry:\n");
	int shown = 0;
	char ra[16];
	for (size_t i = 0; i < b->n && shown < 3; i++) {
		if (b->of[i]->kind == RESOLVE_LISTENER_EXTERNAL || b->specs[i].protocol != EP_PLAIN)
			continue;
		printf("  dig @%s -p %u %s   # via %s\n", pr_ipv4_format(b->specs[i].addr, ra),
		       ep_server_listener_port(dm->server, i), name, b->of[i]->name);
		shown++;
	}
}

static int write_ready_file(const daemon_t *dm, const bound_t *b)
{
	json_t *j = json_pack("{s:i, s:o}", "pid", (int)getpid(), "listeners",
			      listeners_json(dm, b));
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", dm->opts.ready_file);
	int rc = json_dump_file(j, tmp, JSON_INDENT(2)) == 0 && rename(tmp, dm->opts.ready_file) == 0
			 ? 0
			 : PR_EIO;
	json_decref(j);
	return rc;
}

/* ---- snapshots ------------------------------------------------------------- */

static void print_diag(const pr_diag_t *diag)
{
	char *text = pr_diag_format(diag);
	fputs(text, stderr);
	free(text);
}

/* A snapshot from a deployment document: validate, link, compile. */
static int snapshot_from_doc(model_doc_t **doc, resolve_snapshot_t **out, pr_diag_t *diag)
{
	deployment_t *d = NULL;
	int rc = deployment_from_doc(doc, &d, diag);
	if (rc != 0)
		return rc;
	rc = resolve_snapshot_build(&d, out, diag);
	deployment_destroy(&d); /* still ours only when the build failed */
	return rc;
}

static int load_source(const daemon_t *dm, model_doc_t **doc, pr_diag_t *diag, bool *from_state)
{
	*from_state = false;
	if (dm->state_dir) {
		json_t *j = NULL;
		int rc = model_state_load(dm->state_dir, &j, diag);
		if (rc == 0) {
			/* design.md §7: a state directory wins over --config. */
			*doc = model_doc_from_json(j, "state");
			json_decref(j);
			*from_state = true;
			return 0;
		}
		if (rc != PR_ENOTFOUND)
			return rc;
	}
	if (dm->opts.config)
		return model_doc_load_file(dm->opts.config, doc, diag);
	const char *text = model_default_deployment_text();
	return model_doc_load_text(text, strlen(text), model_default_deployment_name(), doc, diag);
}

/* Hand a new snapshot to every worker; each drops its old one at its next
 * turn of the loop, queries in flight keep theirs. */
static void publish(daemon_t *dm, resolve_snapshot_t *next)
{
	resolve_snapshot_unref(&dm->snap);
	dm->snap = next;
	if (!dm->serving)
		return;
	for (unsigned i = 0; i < dm->n_workers; i++) {
		worker_t *w = &dm->workers[i];
		resolve_snapshot_ref(next);
		resolve_snapshot_t *old = atomic_exchange(&w->pending, next);
		resolve_snapshot_unref(&old);
		uv_async_send(&w->swap);
	}
}

/* Bind the listeners a new snapshot asks for, then publish it. */
static int switch_to(daemon_t *dm, resolve_snapshot_t *next, pr_diag_t *diag)
{
	bound_t b;
	assign_listeners(next, &b);
	int rc = ep_server_set_listeners(dm->server, b.specs, b.n, diag);
	if (rc == 0) {
		publish(dm, next);
		if (dm->opts.ready_file)
			write_ready_file(dm, &b);
	}
	bound_free(&b);
	return rc;
}

/* ---- the management API (design.md §6, §7) --------------------------------- */

static int persist(daemon_t *dm, const deployment_t *d, char **why)
{
	if (!dm->state_dir)
		return 0;
	pr_diag_t *diag = pr_diag_new();
	json_t *j = deployment_to_json(d);
	int rc = model_state_save(dm->state_dir, j, diag);
	json_decref(j);
	if (rc != 0)
		*why = pr_diag_format(diag);
	pr_diag_destroy(&diag);
	return rc;
}

/* A change accepted by the API (design.md §7): its listeners bound, then on
 * disk, then live. A change that can't be served is refused before it is
 * saved; one that can't be saved gets the old listeners back. */
static int on_commit(void *ctx, const deployment_t *next, char **why)
{
	daemon_t *dm = ctx;
	pr_diag_t *diag = pr_diag_new();
	json_t *j = deployment_to_json(next);
	model_doc_t *doc = model_doc_from_json(j, "api");
	json_decref(j);
	resolve_snapshot_t *snap = NULL;
	bound_t nb = {0}, ob = {0};
	int rc = snapshot_from_doc(&doc, &snap, diag);
	if (rc != 0)
		goto cleanup;
	assign_listeners(snap, &nb);
	rc = ep_server_set_listeners(dm->server, nb.specs, nb.n, diag);
	if (rc != 0)
		goto cleanup;
	rc = persist(dm, next, why);
	if (rc != 0) {
		assign_listeners(dm->snap, &ob);
		ep_server_set_listeners(dm->server, ob.specs, ob.n, diag);
		goto cleanup;
	}
	publish(dm, snap);
	snap = NULL;
	if (dm->opts.ready_file)
		write_ready_file(dm, &nb);
cleanup:
	if (rc != 0 && !*why)
		*why = pr_diag_format(diag);
	resolve_snapshot_unref(&snap);
	bound_free(&nb);
	bound_free(&ob);
	pr_diag_destroy(&diag);
	return rc;
}

/* ---- diagnostics for the API: what only the data plane knows ---------------- */

static json_t *first_of_steps(const json_t *steps, const char *key)
{
	size_t i;
	json_t *st;
	json_array_foreach(steps, i, st) {
		json_t *v = json_object_get(st, key);
		if (v)
			return v;
	}
	return NULL;
}

/* resolve_explain's JSON in the shape of privres.proto's ExplainResponse. */
static int diag_explain(void *ctx, const deployment_t *d, const char *vnet, const char *name,
			const char *type, json_t **out, char **why)
{
	(void)d;
	daemon_t *dm = ctx;
	uint16_t qtype = 1;
	if (type && *type && dns_rrtype_from_text(type, &qtype) != 0) {
		*why = pr_asprintf("'%s' is not a record type", type);
		return PR_EPARSE;
	}
	json_t *e = NULL;
	int rc = resolve_explain(dm->snap, vnet, name, qtype, &e);
	if (rc != 0) {
		*why = pr_asprintf("cannot explain %s in '%s': %s", name, vnet, pr_strerror(rc));
		return rc;
	}
	const json_t *steps = json_object_get(e, "steps");
	const json_t *last = json_array_get(steps, json_array_size(steps) - 1);
	json_t *r = json_object();
	json_object_set(r, "view", json_object_get(e, "view"));
	if (json_object_get(last, "step"))
		json_object_set(r, "step", json_object_get(last, "step"));
	const char *keys[][2] = {{"zone", "zone"}, {"rule", "rule"}, {"target", "chosen"}};
	for (size_t k = 0; k < 3; k++) {
		json_t *v = first_of_steps(steps, keys[k][1]);
		if (json_is_string(v))
			json_object_set(r, keys[k][0], v);
		else if (v && !json_is_null(v)) {
			char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			json_object_set_new(r, keys[k][0], json_string(text));
			free(text);
		}
	}
	json_object_set(r, "text", json_object_get(e, "text"));
	const json_t *answer = json_object_get(e, "answer");
	if (json_is_object(answer)) {
		json_object_set(r, "rcode", json_object_get(answer, "rcode"));
		json_t *recs = json_array();
		size_t i;
		json_t *rec;
		json_array_foreach(json_object_get(answer, "records"), i, rec) {
			if (json_is_string(rec)) {
				json_array_append(recs, rec);
			} else {
				char *text = json_dumps(rec, JSON_COMPACT);
				json_array_append_new(recs, json_string(text));
				free(text);
			}
		}
		json_object_set_new(r, "answers", recs);
	}
	json_decref(e);
	*out = r;
	return 0;
}

static int diag_health(void *ctx, json_t **out, char **why)
{
	(void)why;
	daemon_t *dm = ctx;
	ep_health_entry_t entries[256];
	uint64_t now = pr_now_ms();
	size_t n = ep_health_list(dm->health, now, entries, 256);
	json_t *arr = json_array();
	char ip[16];
	for (size_t i = 0; i < n && i < 256; i++) {
		const ep_health_entry_t *e = &entries[i];
		json_array_append_new(
			arr, json_pack("{s:s, s:i, s:s, s:i, s:I, s:I}", "address",
				       pr_ipv4_format(e->address, ip), "port", e->port, "state",
				       ep_target_state_name(e->state), "failures",
				       (int)e->consecutive_failures, "lastFailureMs",
				       (json_int_t)e->last_failure_ms, "unresponsiveUntilMs",
				       (json_int_t)e->unresponsive_until_ms));
	}
	*out = json_pack("{s:o}", "targets", arr);
	return 0;
}

static int diag_stats(void *ctx, json_t **out, char **why)
{
	(void)why;
	daemon_t *dm = ctx;
	ep_stats_t s;
	ep_server_stats(dm->server, &s);
	ep_forward_stats_t f = {0};
	for (unsigned i = 0; i < dm->n_workers; i++) {
		ep_forward_stats_t w;
		if (!dm->workers[i].forwarder)
			continue;
		ep_forwarder_stats(dm->workers[i].forwarder, &w);
		f.requests += w.requests;
		f.answered += w.answered;
		f.failed += w.failed;
		f.unmapped_targets += w.unmapped_targets;
		f.udp_tries += w.udp_tries;
		f.tcp_tries += w.tcp_tries;
		f.try_timeouts += w.try_timeouts;
		f.dropped_wrong_source += w.dropped_wrong_source;
		f.dropped_bad_id += w.dropped_bad_id;
		f.dropped_bad_question += w.dropped_bad_question;
	}
	json_t *c = json_object();
#define COUNTER(name, v) json_object_set_new(c, name, json_integer((json_int_t)(v)))
	COUNTER("udpQueries", s.udp_queries);
	COUNTER("tcpQueries", s.tcp_queries);
	COUNTER("tcpAccepted", s.tcp_accepted);
	COUNTER("tcpOpen", s.tcp_open);
	COUNTER("answersSent", s.answers_sent);
	COUNTER("droppedShort", s.dropped_short);
	COUNTER("droppedBusy", s.dropped_busy);
	COUNTER("forwardRequests", f.requests);
	COUNTER("forwardAnswered", f.answered);
	COUNTER("forwardFailed", f.failed);
	COUNTER("forwardUnmappedTargets", f.unmapped_targets);
	COUNTER("forwardUdpTries", f.udp_tries);
	COUNTER("forwardTcpRetries", f.tcp_tries);
	COUNTER("forwardTryTimeouts", f.try_timeouts);
	COUNTER("forwardDroppedWrongSource", f.dropped_wrong_source);
	COUNTER("forwardDroppedBadId", f.dropped_bad_id);
	COUNTER("forwardDroppedBadQuestion", f.dropped_bad_question);
	resolve_worker_stats_t rs = {0};
	for (unsigned i = 0; i < dm->n_workers; i++) {
		resolve_worker_stats_t w;
		if (!dm->workers[i].rw)
			continue;
		resolve_worker_stats(dm->workers[i].rw, &w);
		rs.cache_hits += w.cache_hits;
		rs.cache_misses += w.cache_misses;
		rs.cache_inserts += w.cache_inserts;
		rs.cache_evictions += w.cache_evictions;
		rs.cache_entries += w.cache_entries;
		rs.loops += w.loops;
	}
	COUNTER("cacheHits", rs.cache_hits);
	COUNTER("cacheMisses", rs.cache_misses);
	COUNTER("cacheInserts", rs.cache_inserts);
	COUNTER("cacheEvictions", rs.cache_evictions);
	COUNTER("cacheEntries", rs.cache_entries);
	COUNTER("loopsEnded", rs.loops);
	COUNTER("apiCalls", dm->api ? api_server_calls(dm->api) : 0);
	if (dm->qlog) {
		uint64_t written, dropped;
		querylog_counts(dm->qlog, &written, &dropped);
		COUNTER("queryLogWritten", written);
		COUNTER("queryLogDropped", dropped);
	}
#undef COUNTER
	*out = json_pack("{s:o}", "counters", c);
	return 0;
}

static const api_diagnostics_t diagnostics = {
	.explain = diag_explain,
	.target_health = diag_health,
	.stats = diag_stats,
};

static int start_api(daemon_t *dm)
{
	json_t *j = deployment_to_json(resolve_snapshot_deployment(dm->snap));
	model_doc_t *doc = model_doc_from_json(j, "api");
	json_decref(j);
	pr_diag_t *diag = pr_diag_new();
	deployment_t *d = NULL;
	int rc = deployment_from_doc(&doc, &d, diag);
	pr_diag_destroy(&diag);
	if (rc != 0)
		return rc;
	rc = api_control_new(d, on_commit, dm, &dm->control);
	if (rc != 0) {
		deployment_destroy(&d);
		return rc;
	}
	dm->registry = api_registry_new();
	api_control_register(dm->control, dm->registry);
	api_control_set_diagnostics(dm->control, &diagnostics, dm);
	char path[4096];
	const char *sock = dm->opts.api_socket;
	if (!sock) {
		const char *dir = dm->state_dir ? dm->state_dir : "privres-state";
		mkdir(dir, 0700);
		snprintf(path, sizeof(path), "%s/privres.sock", dir);
		sock = path;
	}
	api_server_options_t o = {.unix_path = sock,
				  .tcp_address = dm->opts.api_listen,
				  .token_file = dm->opts.api_token_file};
	char *why = NULL;
	rc = api_server_start(&dm->loop, &o, dm->registry, &dm->api, &why);
	if (rc != 0) {
		fprintf(stderr, "privresd: management API: %s\n", why ? why : pr_strerror(rc));
		free(why);
		return rc;
	}
	if (!dm->opts.quiet) {
		printf("management API on %s", sock);
		if (dm->opts.api_listen)
			printf(" and 127.0.0.1:%d", api_server_tcp_port(dm->api));
		printf("\n");
	}
	return 0;
}

/* ---- signals ---------------------------------------------------------------- */

static void on_stop_signal(uv_signal_t *h, int signum)
{
	daemon_t *dm = h->data;
	if (!dm->opts.quiet)
		fprintf(stderr, "privresd: %s, stopping\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
	uv_stop(&dm->loop);
}

/* SIGHUP re-reads the deployment file; a file with errors is refused and the
 * old deployment keeps serving. */
static void on_reload(uv_signal_t *h, int signum)
{
	(void)signum;
	daemon_t *dm = h->data;
	querylog_reopen(dm->qlog); /* log rotation */
	pr_diag_t *diag = pr_diag_new();
	model_doc_t *doc = NULL;
	resolve_snapshot_t *snap = NULL;
	int rc = dm->opts.config ? model_doc_load_file(dm->opts.config, &doc, diag) : 0;
	if (rc == 0 && !dm->opts.config) {
		const char *text = model_default_deployment_text();
		rc = model_doc_load_text(text, strlen(text), model_default_deployment_name(), &doc,
					 diag);
	}
	if (rc == 0)
		rc = snapshot_from_doc(&doc, &snap, diag);
	if (rc == 0)
		rc = switch_to(dm, snap, diag);
	if (rc != 0) {
		print_diag(diag);
		fprintf(stderr, "privresd: reload refused; the previous deployment keeps serving\n");
		resolve_snapshot_unref(&snap);
	} else {
		fprintf(stderr, "privresd: reloaded %s\n",
			dm->opts.config ? dm->opts.config : model_default_deployment_name());
	}
	model_doc_destroy(&doc);
	pr_diag_destroy(&diag);
}

/* ---- run ---------------------------------------------------------------------- */

/* --workers, else emulator.workers, else one per core. */
static unsigned worker_count(const daemon_t *dm)
{
	const model_emulator_t *em = &resolve_snapshot_deployment(dm->snap)->emulator;
	int n = dm->opts.workers ? dm->opts.workers : em->workers;
	return n > 0 ? (unsigned)n : (unsigned)uv_available_parallelism();
}

static int start_workers(daemon_t *dm)
{
	const deployment_t *d = resolve_snapshot_deployment(dm->snap);
	const model_emulator_t *em = &d->emulator;
	ep_config_t cfg = {.handler = on_query,
			   .ctx = dm,
			   .worker_init = worker_init,
			   .worker_stop = worker_stop,
			   .worker_fini = worker_fini};
	ep_options_default(&cfg.options);
	cfg.options.tcp_idle_timeout_ms = em->tcp_idle_timeout_ms;
	unsigned n = worker_count(dm);
	cfg.options.workers = n;
	dm->n_workers = n;
	dm->workers = pr_calloc(n, sizeof(*dm->workers));
	dm->health = ep_health_new(em->unresponsive_seconds * 1000u);
	dm->inflight = resolve_inflight_new();
	int rc = ep_server_new(&cfg, &dm->server);
	if (rc != 0)
		return rc;
	bound_t b;
	assign_listeners(dm->snap, &b);
	pr_diag_t *diag = pr_diag_new();
	rc = ep_server_start(dm->server, b.specs, b.n, diag);
	if (rc != 0) {
		print_diag(diag);
		fprintf(stderr, "privresd: cannot listen; nothing is served\n");
	} else {
		dm->serving = true;
		if (!dm->opts.quiet) {
			print_listeners(dm, &b);
			print_examples(dm, &b);
			fflush(stdout);
		}
	}
	pr_diag_destroy(&diag);
	bound_free(&b);
	return rc;
}

/* Ready means every socket bound and the API answering: scripts wait for it. */
static void announce_ready(daemon_t *dm)
{
	if (!dm->opts.ready_file)
		return;
	bound_t b;
	assign_listeners(dm->snap, &b);
	if (write_ready_file(dm, &b) != 0)
		fprintf(stderr, "privresd: cannot write %s\n", dm->opts.ready_file);
	bound_free(&b);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int daemon_run(const daemon_options_t *opts)
{
	daemon_t dm = {.opts = *opts, .exit_code = 1};
	signal(SIGPIPE, SIG_IGN); /* libuv writes TCP answers with write(2) */
	pr_diag_t *diag = pr_diag_new();
	model_doc_t *doc = NULL;
	bool from_state = false;
	int rc;

	uv_loop_init(&dm.loop);
	/* Where state lives: --state-dir, else the deployment's emulator.stateDir
	 * (read from the file first). */
	if (opts->state_dir)
		dm.state_dir = pr_strdup(opts->state_dir);
	rc = load_source(&dm, &doc, diag, &from_state);
	if (rc == 0 && !dm.state_dir) {
		const json_t *em = json_object_get(model_doc_json(doc), "emulator");
		const json_t *sd = json_object_get(em, "stateDir");
		if (json_is_string(sd)) {
			dm.state_dir = pr_strdup(json_string_value(sd));
			model_doc_destroy(&doc);
			rc = load_source(&dm, &doc, diag, &from_state);
		}
	}
	if (rc == 0)
		rc = snapshot_from_doc(&doc, &dm.snap, diag);
	if (rc != 0) {
		print_diag(diag);
		fprintf(stderr, "privresd: %zu error%s; the deployment was refused, nothing is served\n",
			pr_diag_count(diag), pr_diag_count(diag) == 1 ? "" : "s");
		goto cleanup;
	}
	if (!opts->quiet)
		printf("privresd: serving %s\n",
		       from_state ? "the saved state"
				  : (opts->config ? opts->config : model_default_deployment_name()));
	const char *qlog = resolve_snapshot_deployment(dm.snap)->emulator.query_log;
	if (qlog) {
		int qrc = querylog_open(qlog, worker_count(&dm), &dm.qlog);
		if (qrc != 0) {
			fprintf(stderr, "privresd: query log %s: %s\n", qlog, pr_strerror(qrc));
			goto cleanup;
		}
	}
	if (encrypted_open(dm.snap, dm.state_dir, diag) != 0) {
		print_diag(diag);
		goto cleanup;
	}
	if (start_workers(&dm) != 0)
		goto cleanup;
	if (start_api(&dm) != 0)
		goto cleanup;
	announce_ready(&dm);
	uv_signal_init(&dm.loop, &dm.sig_term);
	uv_signal_init(&dm.loop, &dm.sig_int);
	uv_signal_init(&dm.loop, &dm.sig_hup);
	dm.sig_term.data = dm.sig_int.data = dm.sig_hup.data = &dm;
	uv_signal_start(&dm.sig_term, on_stop_signal, SIGTERM);
	uv_signal_start(&dm.sig_int, on_stop_signal, SIGINT);
	uv_signal_start(&dm.sig_hup, on_reload, SIGHUP);
	uv_run(&dm.loop, UV_RUN_DEFAULT);
	dm.exit_code = 0;
cleanup:
	if (dm.server) {
		ep_server_stop(dm.server);
		ep_server_destroy(&dm.server);
	}
	api_server_close(&dm.api);
	api_control_destroy(&dm.control);
	api_registry_destroy(&dm.registry);
	uv_walk(&dm.loop, close_walk, NULL);
	uv_run(&dm.loop, UV_RUN_DEFAULT);
	uv_loop_close(&dm.loop);
	querylog_close(&dm.qlog);
	encrypted_close();
	ep_health_destroy(&dm.health);
	resolve_inflight_destroy(&dm.inflight); /* after every worker's resolve_worker_destroy */
	free(dm.workers);
	resolve_snapshot_unref(&dm.snap);
	model_doc_destroy(&doc);
	free(dm.state_dir);
	pr_diag_destroy(&diag);
	return dm.exit_code;
}
