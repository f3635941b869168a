/*
 * resolve — the resolution pipeline of design.md §1 and semantics.md §6
 * (Q-1..Q-7), as a state machine that does no I/O.
 *
 * A snapshot is one immutable compilation of a deployment: per VNet its view
 * (linked zones compiled, ruleset matcher, policy), the public zones, the
 * external servers' zones and forwarders, and the listeners the deployment
 * asks for. Workers read a snapshot without locks; the control thread builds
 * a new one and publishes it; a snapshot is freed when its last reference
 * goes (resolve_snapshot_unref()).
 *
 * A query is driven by its listener's worker:
 *   resolve_start()  → RESOLVE_DONE (the answer is in the query's buffer)
 *                    or RESOLVE_FORWARD (send req to targets, outside privres)
 *   resolve_resume() with the target's reply (or none: every target failed)
 *                    → DONE or FORWARD again (a CNAME chased into another rule)
 * Forwarding to one of our own inbound endpoints or to an external server
 * answered in-process never leaves resolve/: it recurses with a hop count
 * (P-3).
 *
 * Threads: snapshot building on the control thread; resolve_* on a worker
 * thread with that worker's resolve_worker_t; a snapshot may be read by any
 * number of workers at once.
 * Input: query packets are untrusted; every outcome is a protocol-correct
 * answer or a drop, never an assertion.
 *
 * Views (I-4, design.md §4): an inbound endpoint's listener resolves in its
 * resolver's VNet; "azure-dns/<vnet>" in that VNet, except in `virtual` listen
 * mode, where 168.63.129.16 is one address shared by every VNet and the view is
 * the VNet whose addressPrefixes hold the client's source address (the
 * listener's own VNet when several or none do).
 *
 * External servers [privres]: "external/<name>" and rule targets that are an
 * external server are answered in-process, as that on-premises server would:
 * from the longest of its zones and forwarders that covers the name (a zone
 * answers authoritatively, AA set; a forwarder sends the question to its
 * targets, classified like rule targets: our own inbound endpoint in-process
 * with hops+1, anything else forwarded outside); names under none get REFUSED
 * (a server that does not recurse for us). A CNAME it meets is chased inside
 * that server.
 *
 * Security policy (Q-1, S-3): the policy linked to the view is asked first,
 * for the name asked and every name met along a CNAME chain; Block answers a
 * CNAME to blockpolicy.azuredns.invalid. (or SERVFAIL), Alert goes on and
 * sets the trace's alert flag.
 *
 * Forwarding (Q-3, design.md §4): a rule's targets are taken in order; the
 * first usable one decides. An inbound endpoint or external server of the
 * deployment is usable and resolved in-process (hops+1, P-3: more than the
 * hop limit gets SERVFAIL and a "loop" step). An outside target is usable in
 * `virtual` mode, and in `loopback` mode only when emulator.addressMap maps
 * "addr:port"; with no usable target the query gets SERVFAIL and an
 * "unmapped target" step. Public upstreams follow the same rules.
 *
 * Answers: the question's case is kept (W-5), RD copied, RA set, the client's
 * EDNS echoed (W-2), truncation to the client's size. A forwarded reply
 * is returned as the target sent it (its rcode, AA and sections), with the
 * client's ID, question and EDNS, unless it ends in a CNAME that must
 * be chased: then its answer records are kept and the chain continues
 * from Q-1 in the same view, at most RESOLVE_MAX_CNAME links [privres].
 * AA is the target's too, our own inbound endpoint's included (its private
 * zone's answer is authoritative, and Q-6 returns a forwarded answer as the
 * target sent it). A reply still truncated (the forwarder could not retry over
 * TCP, Q-7) keeps TC for a UDP client, so that it asks again over TCP.
 * Answers from public zones are recursive data: AA off, NXDOMAIN and
 * NODATA with the zone's SOA.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/base.h"
#include "model/model.h"

typedef struct resolve_snapshot resolve_snapshot_t;
typedef struct resolve_worker resolve_worker_t;
typedef struct resolve_query resolve_query_t;

/* ---- Snapshots ------------------------------------------------------------ */

typedef enum resolve_listener_kind {
	RESOLVE_LISTENER_INBOUND,   /* "<resolver>/<endpoint>": the resolver VNet's view (I-4) */
	RESOLVE_LISTENER_AZURE_DNS, /* "azure-dns/<vnet>": 168.63.129.16 in that VNet's view */
	RESOLVE_LISTENER_EXTERNAL,  /* "external/<name>": an external server answered in-process */
} resolve_listener_kind_t;

/* A listener the deployment asks for (its virtual address); the daemon decides
 * the real address (design.md §4). */
typedef struct resolve_listener {
	const char *name; /* "hub-resolver/in", "azure-dns/spoke", "external/onprem-dns" */
	resolve_listener_kind_t kind;
	uint32_t virtual_address; /* IE address, 168.63.129.16, or the server's address */
	uint16_t virtual_port;    /* DNS_PORT, or the external server's port */
} resolve_listener_t;

/*
 * Compile a validated deployment (and its loop-checked views) into a snapshot
 * with one reference. The deployment is transferred on success (the snapshot
 * destroys it with itself); on failure diag says why and *dp is untouched.
 */
int resolve_snapshot_build(deployment_t **dp, resolve_snapshot_t **out, pr_diag_t *diag);
/* The same, sharing with prev (the snapshot being replaced, or NULL) each
 * private zone compiled from the very same part of the document: the edited
 * document of a change shares every part the change left alone. */
int resolve_snapshot_build_after(const resolve_snapshot_t *prev, deployment_t **dp,
				 resolve_snapshot_t **out, pr_diag_t *diag);
void resolve_snapshot_ref(resolve_snapshot_t *s);
/* Drop a reference; the last one frees the snapshot. Accepts NULL. */
void resolve_snapshot_unref(resolve_snapshot_t **sp);
const deployment_t *resolve_snapshot_deployment(const resolve_snapshot_t *s);
/* The linker's per-VNet views the snapshot was compiled from (borrowed). */
typedef struct linker linker_t;
const linker_t *resolve_snapshot_linker(const resolve_snapshot_t *s);
size_t resolve_snapshot_listener_count(const resolve_snapshot_t *s);
const resolve_listener_t *resolve_snapshot_listener(const resolve_snapshot_t *s, size_t i);
/* The listener named name (borrowed), or NULL. Constant time (a hash). */
const resolve_listener_t *resolve_snapshot_find_listener(const resolve_snapshot_t *s,
							 const char *name);

/* ---- Workers and queries ---------------------------------------------------- */

/* Per-worker state: a free list of query objects whose buffers are kept, so a
 * warm worker answers without heap allocation, and the answer cache it uses
 * (Q-6, see below: its own until resolve_worker_set_cache() gives it the
 * process's). Owned by one worker thread; free every query of a worker
 * before destroying it. settings may be NULL (each query follows its
 * snapshot's emulator settings, cacheEntries included). */
resolve_worker_t *resolve_worker_new(const model_emulator_t *settings);
void resolve_worker_destroy(resolve_worker_t **wp);
/* The worker keeps a reference to the snapshot its queries last read, which
 * they share without touching its count (that count is every worker's; one
 * per query would bounce it between the cores). Call this when the caller
 * moves to a newer snapshot: the worker lets the old one go as soon as no
 * query of its reads it, so that it is freed without waiting for the next
 * query. */
void resolve_worker_let_go(resolve_worker_t *w);

/*
 * The answer cache (Q-6, RFC 2308): one for the whole process, shared by every
 * worker (sharded by hash, a short lock per shard; readers copy outside it),
 * so a name reaches its target once per TTL whatever the number of workers
 * and its TTLs count down the same on every answer.
 *
 * What is cached: replies of targets outside privres (rule targets, external
 * servers' forwarder targets that leave privres, publicDns.upstreams), keyed by
 * (the view or external server that forwards, the targets and their mapping,
 * lowercase name, type, class, DO and CD). Answers made in-process (private and
 * public zones, our own inbound endpoints, external servers answered
 * in-process) are never cached: they change at once with the deployment.
 * Positive answers live for the smallest TTL of the answer section (at most
 * RESOLVE_CACHE_MAX_TTL); NXDOMAIN and NODATA for min(SOA TTL, SOA MINIMUM)
 * of the authority section (RFC 2308 §5), or RESOLVE_CACHE_NEGATIVE_TTL
 * without an SOA [privres]. SERVFAIL, REFUSED, other rcodes, truncated
 * replies and TTL 0 are not cached [privres].
 * The lookup is made where the pipeline would send the question outside, after
 * Q-1..Q-4 ran on the query's own snapshot, so a removed rule or a new zone
 * takes effect at once, and a changed rule (targets, mapping, outbound
 * endpoint) has another key. A CNAME chased after a reply goes through
 * the pipeline again and each link has its own entry.
 * A hit restores the client's ID, question case and EDNS as a forwarded reply
 * does, its TTLs count down (stored TTL minus the whole seconds elapsed), and
 * the trace has a RESOLVE_STEP_CACHE step.
 * Bounds: at most emulator.cacheEntries entries in the process (0 disables
 * and empties the cache) and RESOLVE_CACHE_BYTES_PER_ENTRY octets per entry on
 * average; the least recently used entry is evicted first.
 *
 * What the daemon calls: resolve_cache_new() once at start;
 * resolve_worker_set_cache(rw, cache) on each worker after
 * resolve_worker_new(); resolve_cache_destroy() after every worker is
 * destroyed. A worker left alone keeps a cache of its own (tests, explain).
 */
#define RESOLVE_CACHE_MAX_TTL 86400      /* [privres] one day */
#define RESOLVE_CACHE_NEGATIVE_TTL 60    /* [privres] a negative answer without an SOA */
#define RESOLVE_CACHE_BYTES_PER_ENTRY 512 /* budget: entries × this + 64 KiB */

typedef struct resolve_cache resolve_cache_t;

resolve_cache_t *resolve_cache_new(void);
/* Accepts NULL; clears *cp. No worker may still use it. */
void resolve_cache_destroy(resolve_cache_t **cp);
/* c is borrowed and must outlive the worker; NULL: back to its own cache. */
void resolve_worker_set_cache(resolve_worker_t *w, resolve_cache_t *c);

/* Counters of one worker. Written by the worker thread with relaxed atomics;
 * resolve_worker_stats() may be called from any thread, and the daemon sums
 * the workers' values. cache_entries and cache_bytes count what this worker's
 * inserts and removals changed in a shared cache (one worker may evict what
 * another inserted, so one worker's value may wrap below zero): their sum
 * over the workers is the cache's. */
typedef struct resolve_worker_stats {
	uint64_t cache_hits;
	uint64_t cache_misses;    /* lookups while the cache is enabled, not answered */
	uint64_t cache_inserts;
	uint64_t cache_evictions; /* entries dropped for room (count or bytes) */
	uint64_t cache_expired;   /* entries dropped when found past their TTL */
	uint64_t cache_entries;   /* now */
	uint64_t cache_bytes;     /* now */
	uint64_t loops;           /* P-3: queries ended by a hop limit, in-process or outside */
} resolve_worker_stats_t;

void resolve_worker_stats(const resolve_worker_t *w, resolve_worker_stats_t *out);

/* The cache's clock, in milliseconds (default pr_now_ms). For tests that make
 * time pass; call before the worker's first query. */
void resolve_worker_set_clock(resolve_worker_t *w, uint64_t (*now_ms)(void *ctx), void *ctx);

/*
 * Questions in flight outside privres, process-wide (P-3 through outside
 * servers). A hop count cannot travel with a question that leaves on a real
 * socket, so the daemon keeps one table for the whole process: every question
 * sent to an outside target counts in it (lowercase name, type) until its reply
 * comes back or the query is freed. When the pipeline is about to send a
 * question outside and hopLimit copies of it are already out there, the
 * question is coming back to us through an outside server (an on-premises
 * server forwarding to one of our inbound endpoints): SERVFAIL at once and a
 * RESOLVE_STEP_LOOP step, instead of spinning until the deadlines.
 * [privres] The table counts copies, it cannot see causes: hopLimit copies of
 * one question sent out at once by independent clients of inbound endpoints
 * look like a loop for as long as they are all out (one round trip; after the
 * first reply the cache answers the others). Clients of a VNet's Azure DNS
 * join the question already out (below) and send no copy.
 * The counters are lock-free (atomics) and shared by every worker; the table
 * must outlive them.
 *
 * The same table merges identical questions in flight: a question about
 * to leave privres with the cache key of one already out (same forwarding
 * view or server, targets and mapping, outbound endpoint, name, type, DO and
 * CD) joins that exchange instead of being sent again: resolve_start() or
 * resolve_resume() returns RESOLVE_FORWARD with fwd->join set, and the driver
 * waits for the exchange (resolve_exchange_wait()) instead of sending, then
 * hands its reply to resolve_resume() as any reply; each client is answered
 * with its own ID, case and EDNS. [privres] A question that arrived at an
 * inbound endpoint never joins: it may be our own question coming back through
 * an outside server, which must go out again to be counted (P-3) rather than
 * wait for itself.
 *
 * What the daemon calls: resolve_inflight_new() once at start;
 * resolve_worker_set_inflight(rw, table) on each worker after
 * resolve_worker_new(); resolve_inflight_destroy() after every worker is
 * destroyed. A worker without a table does no outside loop check.
 */
typedef struct resolve_inflight resolve_inflight_t;

resolve_inflight_t *resolve_inflight_new(void);
void resolve_inflight_destroy(resolve_inflight_t **tp);
/* t is borrowed and must outlive the worker; NULL turns the check off. */
void resolve_worker_set_inflight(resolve_worker_t *w, resolve_inflight_t *t);
/* How many copies of (name, type) are out now (an upper bound: two counters
 * hashed differently, the smaller wins). name: wire, any case. */
uint32_t resolve_inflight_count(const resolve_inflight_t *t, const uint8_t *name, uint16_t qtype);

/* An exchange with an outside target that identical questions joined. */
typedef struct resolve_exchange resolve_exchange_t;

/*
 * Wait for the reply of exchange x (a fwd->join; borrowed, valid while its
 * query waits). Returns 1 when the reply is in already (nothing registered),
 * or 0: wake(arg) will be called exactly once, from any thread, under the
 * exchange's lock (it must only hand the news to the waiter's own thread),
 * unless resolve_exchange_leave() removes the registration first. *token
 * names the registration for resolve_exchange_leave().
 */
int resolve_exchange_wait(resolve_exchange_t *x, void (*wake)(void *arg), void *arg,
			  void **token);
/* Withdraw a registration. true: removed, wake will never be called; false:
 * wake has been called already (it returned before this call did). */
bool resolve_exchange_leave(resolve_exchange_t *x, void *token);
/* Once the reply is in: the leader's reply (borrowed, valid while the
 * waiting query lives), or NULL when none came (the query gets SERVFAIL). */
const uint8_t *resolve_exchange_reply(const resolve_exchange_t *x, size_t *len);

/* What the listener saw. */
typedef struct resolve_input {
	const char *listener; /* the listener's name (as in resolve_listener_t) */
	const struct sockaddr *client;
	bool tcp;
	const uint8_t *packet;
	size_t len;
	size_t max_answer; /* transport ceiling: 65535 on TCP */
	int hops;          /* 0 for a client's query; P-3 */
} resolve_input_t;

/* A target of a forwarded question, as the rule names it and where it really
 * is (design.md §4: loopback mode maps it, virtual mode uses it as is). */
typedef struct resolve_target {
	uint32_t address; /* as in the rule */
	uint16_t port;
	uint32_t real_address; /* where to send; valid when mapped */
	uint16_t real_port;
	bool mapped; /* false: an unmapped outside target, never contacted */
	/* [privres] DNS over TLS (RFC 7858): the rule's protocol, tlsHostname
	 * and tlsCa, borrowed from the snapshot. */
	bool tls;
	const char *tls_hostname;
	const char *tls_ca;
} resolve_target_t;

/* A question to send outside privres. */
typedef struct resolve_forward {
	const uint8_t *packet; /* the question to send (ID to be replaced by the forwarder) */
	size_t len;
	resolve_target_t targets[MODEL_MAX_TARGETS_PER_RULE]; /* in rule order (F-10, L-5) */
	size_t n_targets;
	uint32_t source_address; /* virtual mode: the outbound endpoint's address (O-1); 0: any */
	uint32_t deadline_ms;    /* the whole query */
	uint32_t try_timeout_ms; /* one try at one target */
	resolve_exchange_t *join; /* send nothing; wait for this exchange's reply */
} resolve_forward_t;

typedef enum resolve_status {
	RESOLVE_DONE,    /* answer ready (resolve_query_answer), or drop it when empty */
	RESOLVE_FORWARD, /* perform *fwd, then call resolve_resume() */
} resolve_status_t;

/*
 * Start a query. q is owned by the caller (resolve_query_new()) and holds the
 * snapshot reference for the query's life, so a swap mid-query is harmless.
 */
resolve_query_t *resolve_query_new(resolve_worker_t *w);
void resolve_query_free(resolve_query_t **qp);
resolve_status_t resolve_start(resolve_worker_t *w, const resolve_snapshot_t *s,
			       const resolve_input_t *in, resolve_query_t *q,
			       const resolve_forward_t **fwd);
/* The reply of a target (borrowed), or reply == NULL when none answered in
 * time (the client gets SERVFAIL, F-10). */
resolve_status_t resolve_resume(resolve_worker_t *w, resolve_query_t *q, const uint8_t *reply,
				size_t len, const resolve_forward_t **fwd);
/* [privres] Before resolve_resume() without a reply: why the forwarder got
 * none, in words (static: a DNS over TLS target's certificate refused, a
 * connection refused), for the trace's NO_REPLY step. */
void resolve_query_note_failure(resolve_query_t *q, const char *why);
/* The answer (borrowed, valid until the query is freed); len 0 means drop. */
const uint8_t *resolve_query_answer(const resolve_query_t *q, size_t *len);

/* ---- Trace and explain ------------------------------------------------------ */

#define RESOLVE_MAX_CNAME 16  /* Q-5 [privres] */
#define RESOLVE_MAX_DEPTH 16  /* in-process dispatches kept at once; beyond: P-3 */
#define RESOLVE_TRACE_MAX 48  /* steps kept per query; later ones are counted */

typedef enum resolve_step_kind {
	RESOLVE_STEP_INVALID,     /* FORMERR/BADVERS/REFUSED/drop of the query itself (W-3) */
	RESOLVE_STEP_VIEW,        /* a view starts answering (its name in .view) */
	RESOLVE_STEP_EXTERNAL,    /* an external server starts answering (.view: its name) */
	RESOLVE_STEP_POLICY,      /* the security policy's verdict (.policy_rule, .policy_action) */
	RESOLVE_STEP_ZONE,        /* a linked private zone answered (.zone, .rcode) */
	RESOLVE_STEP_REDIRECT,    /* NXDOMAIN passed on by NxDomainRedirect (.zone) */
	RESOLVE_STEP_RULE,        /* a forwarding rule matched (.rule, .domain) */
	RESOLVE_STEP_RESERVED,    /* F-9: a reserved domain sends the name to Azure DNS (.domain) */
	RESOLVE_STEP_FORWARDER,   /* an external server's forwarder matched (.domain) */
	RESOLVE_STEP_IN_PROCESS,  /* a target answered in-process (.address, .port) */
	RESOLVE_STEP_FORWARD,     /* asked outside privres (.address, .port: the first usable) */
	RESOLVE_STEP_UNMAPPED,    /* no usable target: SERVFAIL (design.md §4) */
	RESOLVE_STEP_PUBLIC_ZONE, /* a public zone answered (.zone, .rcode) */
	RESOLVE_STEP_UPSTREAM,    /* sent to publicDns.upstreams */
	RESOLVE_STEP_REFUSED,     /* Q-4 (nothing answers the name) or an external server's REFUSED */
	RESOLVE_STEP_CNAME,       /* a CNAME followed (.cname: index into cnames) */
	RESOLVE_STEP_CNAME_LIMIT, /* more than RESOLVE_MAX_CNAME links: SERVFAIL */
	RESOLVE_STEP_LOOP,        /* P-3: the hop limit was passed (in-process, outside): SERVFAIL */
	RESOLVE_STEP_REPLY,       /* a forwarded reply arrived (.rcode) */
	RESOLVE_STEP_NO_REPLY,    /* no target answered in time: SERVFAIL (F-10) */
	RESOLVE_STEP_CACHE,       /* a cached reply answered (.address, .port, .rcode) */
	RESOLVE_STEP_JOINED,      /* joined the same question in flight (.address, .port) */
} resolve_step_kind_t;

/* One step of a query's way; pointers are borrowed from the snapshot. */
typedef struct resolve_step {
	resolve_step_kind_t kind;
	uint8_t depth;   /* 0: the client's view; +1 per in-process dispatch */
	uint8_t hops;    /* P-3 */
	const char *view; /* the VNet or external server answering at this depth */
	const char *zone; /* ZONE, REDIRECT, PUBLIC_ZONE: the zone's name */
	const model_rule_t *rule; /* RULE */
	const char *domain; /* RULE, RESERVED, FORWARDER: the matched domain */
	uint32_t address;   /* IN_PROCESS, FORWARD: the target */
	uint16_t port;
	int rcode;          /* ZONE, PUBLIC_ZONE, REPLY, and final answers */
	int cname;          /* CNAME: index into resolve_trace_t.cnames */
	const char *policy_rule; /* POLICY: the deciding security rule (S-3), or NULL */
	const char *reason;      /* NO_REPLY: why the last try failed (static), or NULL */
	int policy_action;       /* POLICY: a policy_action_t of policies/policies.h */
} resolve_step_t;

typedef struct resolve_trace {
	resolve_step_t steps[RESOLVE_TRACE_MAX];
	size_t n_steps;
	size_t dropped_steps; /* steps past RESOLVE_TRACE_MAX */
	uint8_t cnames[RESOLVE_MAX_CNAME + 1][DNS_NAME_MAXLEN]; /* targets followed, lowercase wire */
	size_t n_cnames;
	bool loop;        /* P-3 ended the query */
	bool unmapped;    /* a target without a mapping was left out */
	bool alert;       /* S-3: an Alert rule matched a name of the query */
	bool blocked;     /* S-3: a Block rule answered */
	bool would_block; /* S-4: a Block rule of a policy in Audit mode matched */
} resolve_trace_t;

/* The steps a query took so far (borrowed; valid until the query is reused or
 * freed), for the query log. */
const resolve_trace_t *resolve_query_trace(const resolve_query_t *q);

/* Short names of steps ("Q-2", "Q-3", "P-3" … or "view", "reply"). Never NULL. */
const char *resolve_step_rule_id(resolve_step_kind_t kind);
const char *resolve_step_name(resolve_step_kind_t kind);

/* A step as plain values: what the query log keeps of it after the snapshot is
 * gone, and what resolve_step_words() words. Strings are borrowed. */
typedef struct resolve_step_facts {
	resolve_step_kind_t kind;
	const char *text;  /* the view or server, zone, rule, domain, policy rule, CNAME target */
	const char *text2; /* RULE: the matched domain */
	uint32_t address;  /* IN_PROCESS, FORWARD: the target */
	uint16_t port;
	int policy_action; /* POLICY: a policy_action_t */
} resolve_step_facts_t;

/* The facts of step i of t; a CNAME target's text is written into name (at
 * least DNS_NAME_TEXT_MAX bytes), the other strings borrow from the snapshot. */
resolve_step_facts_t resolve_step_facts(const resolve_trace_t *t, size_t i, char *name);

/* One step in words, the one wording of a trace that explain's text and the
 * query log's path share: "view hub", "Q-3 rule OnPrem (corp.contoso.com.)",
 * "in-process 10.10.0.4:53", "Q-2 zone azure.contoso.com.", "P-3 loop" …
 * Written into buf (cap bytes, always terminated); returns buf. */
const char *resolve_step_words(const resolve_step_facts_t *f, char *buf, size_t cap);

/* Where a forwarding target address:port of d is really reached (design.md
 * §4): true and *real_address, *real_port, or false when it is never
 * contacted (unmapped in loopback mode). For /metrics' target states. */
bool resolve_target_where(const deployment_t *d, uint32_t address, uint16_t port,
			  uint32_t *real_address, uint16_t *real_port);

/*
 * Explain how a question asked in VNet vnet (its Azure DNS address) is
 * answered, running the same step functions without sending anything:
 *   {view, question:{name,type}, steps:[{step:"Q-2", zone…}|{step:"Q-3", rule,
 *    domain, targets:[…], chosen}|{step:"Q-4", source:"public zone"|"upstream"|
 *    "refused"}|{step:"P-3"}…], answer:{rcode, records:[…]} (when known
 *    in-process; null when it would be forwarded), text: one line for people}
 * Returns 0 and *out (owned); PR_ENOTFOUND for an unknown VNet, PR_EPARSE for
 * a name that does not parse.
 */
int resolve_explain(const resolve_snapshot_t *s, const char *vnet, const char *qname,
		    uint16_t qtype, json_t **out);
