/* Diagnostics for the API: what only the data plane knows (explain, target
 * health, counters), in the shapes of privres.proto's responses. */
#include <arpa/inet.h>
#include <stddef.h>
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
	int rc = resolve_explain(daemon_snapshot(dm), vnet, name, qtype, &e);
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

/* ---- counters: declared once, each reported by stats --------------------- */

typedef enum { SRC_SERVER, SRC_FORWARD, SRC_RESOLVE } counter_source_t;

typedef struct counter {
	const char *name; /* as `stats` and the API report it */
	counter_source_t source;
	size_t offset;    /* of its uint64_t in the source's stats struct */
} counter_t;

#define SERVER(n, f) {n, SRC_SERVER, offsetof(ep_stats_t, f)}
#define FORWARD(n, f) {n, SRC_FORWARD, offsetof(ep_forward_stats_t, f)}
#define RESOLVE(n, f) {n, SRC_RESOLVE, offsetof(resolve_worker_stats_t, f)}
static const counter_t counters[] = {
	SERVER("udpQueries", udp_queries),
	SERVER("tcpQueries", tcp_queries),
	SERVER("tcpAccepted", tcp_accepted),
	SERVER("tcpOpen", tcp_open),
	SERVER("tcpClosedIdle", tcp_closed_idle),
	SERVER("tcpClosedCap", tcp_closed_cap),
	SERVER("tcpClosedSlow", tcp_closed_slow),
	SERVER("tcpClosedBadLength", tcp_closed_badlen),
	SERVER("answersSent", answers_sent),
	SERVER("droppedShort", dropped_short),
	SERVER("droppedBusy", dropped_busy),
	SERVER("sendErrors", send_errors),
	SERVER("recvErrors", recv_errors),
	FORWARD("forwardRequests", requests),
	FORWARD("forwardAnswered", answered),
	FORWARD("forwardFailed", failed),
	FORWARD("forwardUnmappedTargets", unmapped_targets),
	FORWARD("forwardUdpTries", udp_tries),
	FORWARD("forwardTcpRetries", tcp_tries),
	FORWARD("forwardTryTimeouts", try_timeouts),
	FORWARD("forwardTryErrors", try_errors),
	FORWARD("forwardSourceBindErrors", source_bind_errors),
	FORWARD("forwardDroppedWrongSource", dropped_wrong_source),
	FORWARD("forwardDroppedBadId", dropped_bad_id),
	FORWARD("forwardDroppedBadQuestion", dropped_bad_question),
	FORWARD("forwardDroppedMalformed", dropped_malformed),
	FORWARD("forwardCancelled", cancelled),
	FORWARD("forwardJoined", joined),
	FORWARD("forwardUdpSockets", udp_sockets),
	RESOLVE("cacheHits", cache_hits),
	RESOLVE("cacheMisses", cache_misses),
	RESOLVE("cacheInserts", cache_inserts),
	RESOLVE("cacheEvictions", cache_evictions),
	RESOLVE("cacheExpired", cache_expired),
	RESOLVE("cacheEntries", cache_entries),
	RESOLVE("cacheBytes", cache_bytes),
	RESOLVE("loopsEnded", loops),
};

/* Add every uint64_t of src into dst (stats structs hold nothing else). */
static void add_all(void *dst, const void *src, size_t size)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		d[i] += s[i];
}

static int diag_stats(void *ctx, json_t **out, char **why)
{
	(void)why;
	daemon_t *dm = ctx;
	ep_stats_t server;
	ep_forward_stats_t fwd = {0};
	resolve_worker_stats_t res = {0};
	ep_server_stats(dm->server, &server);
	for (unsigned i = 0; i < dm->n_workers; i++) {
		const worker_t *w = &dm->workers[i];
		ep_forward_stats_t f;
		resolve_worker_stats_t r;
		if (w->forwarder) {
			ep_forwarder_stats(w->forwarder, &f);
			add_all(&fwd, &f, sizeof(f));
		}
		if (w->rw) {
			resolve_worker_stats(w->rw, &r);
			add_all(&res, &r, sizeof(r));
		}
	}
	const void *sources[] = {[SRC_SERVER] = &server, [SRC_FORWARD] = &fwd,
				 [SRC_RESOLVE] = &res};
	json_t *c = json_object();
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		uint64_t v;
		memcpy(&v, (const char *)sources[counters[i].source] + counters[i].offset, sizeof(v));
		json_object_set_new(c, counters[i].name, json_integer((json_int_t)v));
	}
	json_object_set_new(c, "apiCalls",
			    json_integer(dm->api ? (json_int_t)api_server_calls(dm->api) : 0));
	json_object_set_new(c, "changesApplied",
			    json_integer((json_int_t)control_changes(dm->control)));
	json_object_set_new(c, "journalSequence",
			    json_integer((json_int_t)control_sequence(dm->control)));
	if (dm->qlog) {
		uint64_t written, dropped;
		querylog_counts(dm->qlog, &written, &dropped);
		json_object_set_new(c, "queryLogWritten", json_integer((json_int_t)written));
		json_object_set_new(c, "queryLogDropped", json_integer((json_int_t)dropped));
	}
	*out = json_pack("{s:o}", "counters", c);
	return 0;
}

const api_diagnostics_t daemon_diagnostics = {
	.explain = diag_explain,
	.target_health = diag_health,
	.stats = diag_stats,
};

