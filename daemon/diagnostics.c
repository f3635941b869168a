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
		if (e->last_failure_reason) /* [privres] a DNS over TLS target's, … */
			json_object_set_new(json_array_get(arr, json_array_size(arr) - 1),
					    "lastFailureReason",
					    json_string(e->last_failure_reason));
	}
	*out = json_pack("{s:o}", "targets", arr);
	return 0;
}

/* ---- counters: declared once, each reported by stats --------------------- */

typedef enum { SRC_SERVER, SRC_FORWARD, SRC_RESOLVE } counter_source_t;

typedef struct counter {
	const char *name; /* as `stats` and the API report it; /metrics: privres_<snake_case> */
	counter_source_t source;
	size_t offset;    /* of its uint64_t in the source's stats struct */
	bool gauge;       /* a value now, not a count since start */
	const char *help; /* /metrics' HELP */
} counter_t;

#define SERVER(n, f, g, h) {n, SRC_SERVER, offsetof(ep_stats_t, f), g, h}
#define FORWARD(n, f, g, h) {n, SRC_FORWARD, offsetof(ep_forward_stats_t, f), g, h}
#define RESOLVE(n, f, g, h) {n, SRC_RESOLVE, offsetof(resolve_worker_stats_t, f), g, h}
static const counter_t counters[] = {
	SERVER("udpQueries", udp_queries, 0, "UDP queries received."),
	SERVER("tcpQueries", tcp_queries, 0, "TCP queries received."),
	SERVER("dotQueries", dot_queries, 0, "DNS-over-TLS queries received (W-6)."),
	SERVER("dohQueries", doh_queries, 0, "DNS-over-HTTPS queries received (W-6)."),
	SERVER("tcpAccepted", tcp_accepted, 0, "TCP connections accepted."),
	SERVER("tcpOpen", tcp_open, 1, "TCP connections open now."),
	SERVER("tcpClosedIdle", tcp_closed_idle, 0, "TCP connections closed idle (RFC 7766)."),
	SERVER("tcpClosedCap", tcp_closed_cap, 0, "TCP connections closed by the connection cap."),
	SERVER("tcpClosedSlow", tcp_closed_slow, 0, "TCP connections closed: client not reading."),
	SERVER("tcpClosedBadLength", tcp_closed_badlen, 0, "TCP closed: bad length (W-3)."),
	SERVER("tlsAccepted", tls_accepted, 0, "TLS handshakes completed (W-6)."),
	SERVER("tlsFailed", tls_failed, 0, "TLS handshakes refused or failed (W-6)."),
	SERVER("tlsClientCertRefused", tls_client_cert_refused, 0,
	       "TLS handshakes refused for a missing or untrusted client certificate (W-6)."),
	SERVER("dohBadRequests", doh_bad_requests, 0, "DoH requests answered with an HTTP error."),
	SERVER("answersSent", answers_sent, 0, "Answers sent."),
	SERVER("droppedShort", dropped_short, 0, "UDP messages without a full header (W-3)."),
	SERVER("droppedBusy", dropped_busy, 0, "Queries dropped: worker at its limit."),
	SERVER("sendErrors", send_errors, 0, "Answers that could not be sent."),
	SERVER("recvErrors", recv_errors, 0, "Socket receive and accept errors."),
	FORWARD("forwardRequests", requests, 0, "Questions forwarded outside privres."),
	FORWARD("forwardAnswered", answered, 0, "Forwarded questions answered."),
	FORWARD("forwardFailed", failed, 0, "Forwarded questions no target answered (F-10)."),
	FORWARD("forwardUnmappedTargets", unmapped_targets, 0, "Targets left out: not mapped."),
	FORWARD("forwardUdpTries", udp_tries, 0, "UDP tries at targets."),
	FORWARD("forwardTcpRetries", tcp_tries, 0, "TCP retries after TC."),
	FORWARD("forwardTryTimeouts", try_timeouts, 0, "Tries that timed out."),
	FORWARD("forwardTryErrors", try_errors, 0, "Tries that failed."),
	FORWARD("forwardSourceBindErrors", source_bind_errors, 0, "Source address bind errors."),
	FORWARD("forwardDroppedWrongSource", dropped_wrong_source, 0, "Wrong source (W-4)."),
	FORWARD("forwardDroppedBadId", dropped_bad_id, 0, "Replies with a wrong ID (W-4)."),
	FORWARD("forwardDroppedBadQuestion", dropped_bad_question, 0, "Wrong question (W-4)."),
	FORWARD("forwardDroppedMalformed", dropped_malformed, 0, "Malformed replies."),
	FORWARD("forwardCancelled", cancelled, 0, "Forwards cancelled."),
	FORWARD("forwardJoined", joined, 0, "Questions joined to one in flight (Q-6)."),
	FORWARD("forwardUdpSockets", udp_sockets, 1, "UDP sockets of the forwarders now (W-4)."),
	FORWARD("forwardDotTries", dot_tries, 0, "DNS over TLS tries to targets ([privres])."),
	FORWARD("forwardDotConnections", dot_connections, 0,
		"DNS over TLS connections opened to targets."),
	FORWARD("forwardDotHandshakeFailures", dot_handshake_failures, 0,
		"TLS handshakes with targets that failed (a certificate refused, ...)."),
	RESOLVE("cacheHits", cache_hits, 0, "Answers from the cache (Q-6)."),
	RESOLVE("cacheMisses", cache_misses, 0, "Cache lookups not answered (Q-6)."),
	RESOLVE("cacheInserts", cache_inserts, 0, "Answers put in the cache."),
	RESOLVE("cacheEvictions", cache_evictions, 0, "Cache entries dropped for room."),
	RESOLVE("cacheExpired", cache_expired, 0, "Cache entries dropped past their TTL."),
	RESOLVE("cacheEntries", cache_entries, 1, "Answers in the cache now."),
	RESOLVE("cacheBytes", cache_bytes, 1, "Bytes of the cache now."),
	RESOLVE("loopsEnded", loops, 0, "Queries ended by the hop limit (P-3)."),
};

#define N_COUNTERS (sizeof(counters) / sizeof(counters[0]))

/* Add every uint64_t of src into dst (stats structs hold nothing else). */
static void add_all(void *dst, const void *src, size_t size)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		d[i] += s[i];
}

/* Every counter of the table, summed over the workers, into values[]. */
static void read_counters(const daemon_t *dm, uint64_t *values)
{
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
	for (size_t i = 0; i < N_COUNTERS; i++)
		memcpy(&values[i], (const char *)sources[counters[i].source] + counters[i].offset,
		       sizeof(uint64_t));
}

static int diag_stats(void *ctx, json_t **out, char **why)
{
	(void)why;
	daemon_t *dm = ctx;
	uint64_t values[N_COUNTERS];
	read_counters(dm, values);
	json_t *c = json_object();
	for (size_t i = 0; i < N_COUNTERS; i++)
		json_object_set_new(c, counters[i].name, json_integer((json_int_t)values[i]));
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


/* ---- /metrics (web/): the same counters, and the tallies ----------------------- */

/* "forwardUdpTries" → "privres_forward_udp_tries" */
static void metric_name(const char *stat, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "privres_");
	for (const char *p = stat; *p && n + 2 < cap; p++) {
		if (*p >= 'A' && *p <= 'Z') {
			out[n++] = '_';
			out[n++] = (char)(*p - 'A' + 'a');
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static void metric_one(web_text_t *t, const char *name, bool gauge, const char *help,
		       uint64_t value)
{
	web_metric_family(t, name, gauge ? WEB_GAUGE : WEB_COUNTER, NULL, help);
	web_metric_u64(t, name, gauge ? "" : "_total", NULL, value);
}

static const char *const transport_names[TALLY_TRANSPORTS] = {"udp", "tcp", "dot", "doh"};

static void metric_listeners(web_text_t *t, const tally_totals_t *tt)
{
	char rc[16], le[32];
	web_metric_family(t, "privres_queries", WEB_COUNTER, NULL,
			  "Queries answered (or dropped) by listener, transport and rcode.");
	for (size_t i = 0; i < tt->n_listeners; i++)
		for (size_t x = 0; x < TALLY_TRANSPORTS; x++)
			for (size_t r = 0; r < TALLY_RCODES; r++) {
				uint64_t v = tt->listeners[i].queries[x][r];
				if (!v)
					continue;
				const char *labels[] = {"listener", tt->listeners[i].name,
							"transport", transport_names[x], "rcode",
							tally_rcode_label(r, rc, sizeof(rc)), NULL};
				web_metric_u64(t, "privres_queries", "_total", labels, v);
			}
	web_metric_family(t, "privres_query_duration_seconds", WEB_HISTOGRAM, "seconds",
			  "Time from a query's arrival to its answer, by listener.");
	for (size_t i = 0; i < tt->n_listeners; i++) {
		const tally_listener_t *l = &tt->listeners[i];
		uint64_t cumulative = 0;
		for (size_t b = 0; b <= TALLY_BUCKETS; b++) {
			cumulative += l->latency[b];
			if (b < TALLY_BUCKETS)
				snprintf(le, sizeof(le), "%g", (double)tally_bucket_us(b) / 1e6);
			else
				snprintf(le, sizeof(le), "+Inf");
			const char *labels[] = {"listener", l->name, "le", le, NULL};
			web_metric_u64(t, "privres_query_duration_seconds", "_bucket", labels,
				       cumulative);
		}
		const char *labels[] = {"listener", l->name, NULL};
		web_metric_u64(t, "privres_query_duration_seconds", "_count", labels, cumulative);
		web_metric_double(t, "privres_query_duration_seconds", "_sum", labels,
				  (double)l->latency_sum_us / 1e6);
	}
}

static void metric_labels(web_text_t *t, const tally_totals_t *tt, tally_kind_t kind,
			  const char *name, const char *help, const char *const keys[3])
{
	web_metric_family(t, name, WEB_COUNTER, NULL, help);
	for (size_t i = 0; i < tt->n_labels; i++) {
		const tally_label_t *l = &tt->labels[i];
		if (l->kind != kind)
			continue;
		const char *labels[] = {keys[0], l->values[0], keys[1], l->values[1],
					keys[2], l->values[2], NULL};
		web_metric_u64(t, name, "_total", labels, l->count);
	}
}

/* Q-1, S-3: verdicts by policy (the one linked to the VNet, S-2), VNet,
 * deciding rule and action. */
static void metric_policies(daemon_t *dm, web_text_t *t, const tally_totals_t *tt)
{
	const char *name = "privres_policy_verdicts";
	pthread_mutex_lock(&dm->targets_lock);
	json_t *policies = json_incref(dm->policies);
	pthread_mutex_unlock(&dm->targets_lock);
	web_metric_family(t, name, WEB_COUNTER, NULL,
			  "Security policy verdicts by policy, VNet, rule and action (S-3).");
	for (size_t i = 0; i < tt->n_labels; i++) {
		const tally_label_t *l = &tt->labels[i];
		if (l->kind != TALLY_POLICY)
			continue;
		const char *policy = json_string_value(json_object_get(policies, l->values[0]));
		const char *labels[] = {"policy", policy ? policy : "", "vnet", l->values[0],
					"rule", l->values[1], "action", l->values[2], NULL};
		web_metric_u64(t, name, "_total", labels, l->count);
	}
	json_decref(policies);
}

/* F-10: each outside target of the rules, one gauge per state (1: the
 * current one), labelled with the target as the rule names it and the
 * address it is really reached at (where health tracks it). */
#define MAX_TARGETS 128

static void metric_targets(daemon_t *dm, web_text_t *t)
{
	uint64_t now = pr_now_ms();
	pthread_mutex_lock(&dm->targets_lock);
	json_t *targets = json_incref(dm->targets);
	pthread_mutex_unlock(&dm->targets_lock);
	static const ep_target_state_t states[] = {EP_TARGET_HEALTHY, EP_TARGET_BACKOFF,
						   EP_TARGET_FAILING, EP_TARGET_UNRESPONSIVE};
	const char *g = "privres_forward_target_state";
	const char *f = "privres_forward_target_consecutive_failures";
	web_metric_family(t, g, WEB_GAUGE, NULL,
			  "F-10 state of each outside target: 1 for its current state.");
	ep_health_entry_t h[MAX_TARGETS];
	ep_target_state_t now_state[MAX_TARGETS];
	char real[MAX_TARGETS][24], ip[16];
	size_t n = json_array_size(targets) < MAX_TARGETS ? json_array_size(targets) : MAX_TARGETS;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(targets, i);
		uint32_t addr = (uint32_t)json_integer_value(json_object_get(e, "address"));
		uint16_t port = (uint16_t)json_integer_value(json_object_get(e, "port"));
		snprintf(real[i], sizeof(real[i]), "%s:%u", pr_ipv4_format(addr, ip), port);
		now_state[i] = ep_health_get(dm->health, addr, port, now, &h[i]);
		const char *target = json_string_value(json_object_get(e, "target"));
		for (size_t s = 0; s < sizeof(states) / sizeof(states[0]); s++) {
			const char *labels[] = {"target", target, "address", real[i], "state",
						ep_target_state_name(states[s]), NULL};
			web_metric_u64(t, g, "", labels, now_state[i] == states[s]);
		}
	}
	web_metric_family(t, f, WEB_GAUGE, NULL,
			  "Failures of each outside target since its last answer (F-10).");
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(targets, i);
		const char *labels[] = {"target", json_string_value(json_object_get(e, "target")),
					"address", real[i], NULL};
		web_metric_u64(t, f, "", labels,
			       now_state[i] == EP_TARGET_HEALTHY ? 0 : h[i].consecutive_failures);
	}
	json_decref(targets);
}

/* On the web thread: counters are atomics, tallies are summed here. */
static void metrics_write(void *ctx, web_text_t *t)
{
	daemon_t *dm = ctx;
	if (!atomic_load(&dm->data_ready))
		return; /* still starting: own_metrics of web/ only */
	uint64_t values[N_COUNTERS];
	char name[128];
	read_counters(dm, values);
	for (size_t i = 0; i < N_COUNTERS; i++) {
		metric_name(counters[i].name, name, sizeof(name));
		metric_one(t, name, counters[i].gauge, counters[i].help, values[i]);
	}
	tally_t *tallies[dm->n_workers ? dm->n_workers : 1];
	for (unsigned i = 0; i < dm->n_workers; i++)
		tallies[i] = dm->workers[i].tally;
	tally_totals_t tt;
	tally_sum(tallies, dm->n_workers, &tt);
	metric_listeners(t, &tt);
	static const char *const fwd_keys[3] = {"rule", "target", "via"};
	metric_labels(t, &tt, TALLY_FORWARD, "privres_forwards",
		      "Questions sent to a target, by forwarding rule and target (Q-3).", fwd_keys);
	metric_policies(dm, t, &tt);
	metric_one(t, "privres_metrics_untallied", false,
		   "Queries not in the tallies above (a table was full).", tt.overflow);
	tally_totals_free(&tt);
	metric_targets(dm, t);
	metric_one(t, "privres_api_calls", false, "Management API calls answered.",
		   atomic_load(&dm->api_ready) ? api_server_calls(dm->api) : 0);
	uint64_t written = 0, dropped = 0;
	if (dm->qlog)
		querylog_counts(dm->qlog, &written, &dropped);
	metric_one(t, "privres_query_log_entries", false, "Query log entries written.", written);
	metric_one(t, "privres_query_log_dropped", false,
		   "Query log entries dropped: the writer fell behind.", dropped);
}

static json_t *targets_json(void *ctx)
{
	if (!atomic_load(&((daemon_t *)ctx)->data_ready))
		return NULL;
	json_t *out = NULL;
	diag_health(ctx, &out, NULL);
	return out;
}

const web_sources_t daemon_web_sources = {.metrics = metrics_write, .targets = targets_json};
