/* Diagnostics for the API: what only the data plane knows (explain, target
 * health, counters), in the shapes of privres.proto's responses. */
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
		f.joined += w.joined;
		f.udp_sockets += w.udp_sockets;
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
	COUNTER("forwardJoined", f.joined);
	COUNTER("forwardUdpSockets", f.udp_sockets);
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

const api_diagnostics_t daemon_diagnostics = {
	.explain = diag_explain,
	.target_health = diag_health,
	.stats = diag_stats,
};

