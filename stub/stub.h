/*
 * stub — the host-side client stub of topologies (design.md §8), [privres]:
 * a small resolver a topology host runs on its loopback, its resolv.conf
 * pointing at it, so that client-side behaviour can be reproduced:
 *
 *  - the Windows DNS Client service's order (Windows Server "DNS Processes
 *    and Interactions", "Querying a DNS server"; DNSQueryTimeouts 1 2 2 4 8):
 *    hosts file, local cache of positive and negative answers, then the first
 *    server of the preferred adapter (1 s), the first server of every adapter
 *    still under consideration (2 s), all servers of those adapters (2 s, 4 s,
 *    8 s), a timeout after that. A negative answer removes its adapter's
 *    servers from the search; an adapter that answered nothing in a search
 *    that timed out is skipped for 30 s; servers that answer faster move up
 *    their adapter's list.
 *  - an overlay agent's stub (Enclave's DNS): the names it was given answered
 *    with one reachable system chosen at random, TTL 0; SERVFAIL for every
 *    other name, so the client falls through to its other adapters.
 *
 * The search is a pure state machine (search.c): given the time and the
 * replies it says which servers to ask and when the search ends; the daemon
 * (server.c) does the sockets on libuv. Every time is passed in by the
 * caller (milliseconds of a monotonic clock), so tests drive it with their
 * own clock.
 *
 * Threads: one loop thread owns everything here.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define STUB_MAX_ADAPTERS 16
#define STUB_MAX_SERVERS 64       /* over all adapters */
#define STUB_STEPS 5              /* DNSQueryTimeouts: five waits */
#define STUB_ADAPTER_SKIP_MS 30000 /* an adapter that answered nothing, skipped */
#define STUB_RANK_UNKNOWN_MS 1000 /* a server never measured ranks as one this slow */

/* The wait after each step, in ms (DNSQueryTimeouts default 1 2 2 4 8). */
extern const uint32_t STUB_STEP_MS[STUB_STEPS];

/* ---- The client: adapters and what it learnt of them (long-lived) ---------- */

typedef struct stub_client stub_client_t;

/* An empty client (owned). */
stub_client_t *stub_client_new(void);
void stub_client_destroy(stub_client_t **cp);

/* Add an adapter; name is copied. Adapters are preferred by lower metric,
 * then in the order added. Returns its index, or PR_ELIMIT / PR_EEXIST. */
int stub_client_add_adapter(stub_client_t *c, const char *name, uint32_t metric);
/* Add a DNS server (IPv4, host order) to adapter a, after its others.
 * Returns the server's id (stable), or PR_ELIMIT / -EINVAL. */
int stub_client_add_server(stub_client_t *c, int adapter, uint32_t addr, uint16_t port);

size_t stub_client_n_servers(const stub_client_t *c);
/* Server id's address, port and adapter index. */
void stub_client_server(const stub_client_t *c, int id, uint32_t *addr, uint16_t *port,
			int *adapter);
const char *stub_client_adapter_name(const stub_client_t *c, int adapter);
/* The id of the server at addr:port, or -1 (replies are matched by it). */
int stub_client_find_server(const stub_client_t *c, uint32_t addr, uint16_t port);
/* The i-th server of adapter a in its current order (faster first), or -1. */
int stub_client_rank(const stub_client_t *c, int adapter, size_t i);
/* Is adapter a skipped at now (it answered nothing in a search that timed
 * out less than STUB_ADAPTER_SKIP_MS ago)? */
bool stub_client_adapter_skipped(const stub_client_t *c, int adapter, uint64_t now_ms);

/* ---- One search (one question) -------------------------------------------- */

typedef struct stub_search stub_search_t;

/* What a server's reply is to the search. */
typedef enum stub_reply {
	STUB_REPLY_POSITIVE = 0, /* NOERROR with records for the question: the answer */
	STUB_REPLY_NEGATIVE,     /* NXDOMAIN, or NOERROR without them (NODATA) */
	STUB_REPLY_FAILURE,      /* SERVFAIL, REFUSED, anything else: try others */
} stub_reply_t;

typedef enum stub_outcome {
	STUB_PENDING = 0,
	STUB_ANSWERED, /* a positive reply: return it */
	STUB_NEGATIVE, /* every adapter said no, or time ran out after a no: return it */
	STUB_FAILED,   /* every server under consideration failed */
	STUB_TIMEOUT,  /* nothing came back (or every adapter is skipped) */
} stub_outcome_t;

/* A search of client c (borrowed; it learns from the search) started at
 * now_ms (owned). */
stub_search_t *stub_search_new(stub_client_t *c, uint64_t now_ms);
void stub_search_destroy(stub_search_t **sp);

/*
 * Advance to now_ms: start the steps that are due and write the ids of the
 * servers to send the question to now into ask (cap entries; cap of
 * STUB_MAX_SERVERS is always enough). Returns how many. Call it at the start,
 * after every reply and whenever stub_search_deadline() has come.
 */
size_t stub_search_poll(stub_search_t *s, uint64_t now_ms, int *ask, size_t cap);
/* When poll must be called next (the end of the current step), or
 * UINT64_MAX once the search has ended. */
uint64_t stub_search_deadline(const stub_search_t *s);
/* A reply of server id at now_ms. Replies of servers not asked, of servers
 * whose adapter was removed, and any after the end, are recorded and ignored. */
void stub_search_reply(stub_search_t *s, uint64_t now_ms, int id, stub_reply_t kind,
		       int rcode);
/* The outcome; *server (may be NULL) gets the id whose reply decides it
 * (ANSWERED, NEGATIVE, FAILED), else -1. */
stub_outcome_t stub_search_outcome(const stub_search_t *s, int *server);
const char *stub_outcome_name(stub_outcome_t o);

/* The search's events as JSON array members (no brackets), times relative
 * to its start: {"atMs":0,"ask":"10.10.0.4:53","adapter":"vpn","step":1} and
 * {"atMs":12,"from":"…","adapter":"…","rcode":"NXDOMAIN","reply":"negative"}
 * — appended to b. */
void stub_search_format_events(const stub_search_t *s, pr_buf_t *b);
/* Number of events and event i's fields (for tests): ask (true) or reply. */
size_t stub_search_n_events(const stub_search_t *s);
void stub_search_event(const stub_search_t *s, size_t i, uint64_t *at_ms, bool *ask, int *server,
		       int *step);

/* ---- The local cache and the hosts file (cache.c) -------------------------- */

#define STUB_CACHE_MAX_TTL 86400   /* MaxCacheTtl */
#define STUB_CACHE_MAX_NEG_TTL 900 /* MaxNegativeCacheTtl */
#define STUB_CACHE_ENTRIES 4096    /* then the cache starts over */
#define STUB_HOSTS_TTL 86400       /* answers from the hosts file [privres] */

typedef struct stub_cache stub_cache_t;
stub_cache_t *stub_cache_new(void);
void stub_cache_destroy(stub_cache_t **cp);
/* Keep a reply (copied) for the question (lowercase wire name, type) for its
 * lifetime (RFC 2308 for negative ones, capped above). Replies that are not
 * NOERROR/NXDOMAIN, truncated ones and ones with lifetime 0 are not kept. */
void stub_cache_put(stub_cache_t *c, const uint8_t *qname_lower, uint16_t qtype,
		    const uint8_t *reply, size_t len, uint64_t now_ms);
/* The kept reply into out (cap octets), TTLs counted down by the seconds it
 * was kept and the ID set to id; its length, or 0 when none (or expired). */
size_t stub_cache_get(stub_cache_t *c, const uint8_t *qname_lower, uint16_t qtype, uint16_t id,
		      uint64_t now_ms, uint8_t *out, size_t cap);

typedef struct stub_hosts stub_hosts_t;
/* A hosts file's text ("address name…" lines, '#' comments; IPv4) into a
 * table (owned). Lines that do not parse are skipped and counted in *bad. */
stub_hosts_t *stub_hosts_parse(const char *text, size_t *bad);
void stub_hosts_destroy(stub_hosts_t **hp);
/* Addresses of name (lowercase wire) into out (cap); how many (0: none). */
size_t stub_hosts_lookup(const stub_hosts_t *h, const uint8_t *qname_lower, uint32_t *out,
			 size_t cap);

/* ---- The overlay agent (agent.c) ------------------------------------------- */

typedef struct stub_agent stub_agent_t;
/* An agent that knows no names yet (owned); seed for its random choice. */
stub_agent_t *stub_agent_new(uint64_t seed);
void stub_agent_destroy(stub_agent_t **ap);
/* name (text) answers with addr among its systems. Returns 0 or PR_EPARSE. */
int stub_agent_add(stub_agent_t *a, const char *name, uint32_t addr);
/* One of name's addresses at random into *addr: true, or false when the
 * agent has no such name (it answers SERVFAIL then). */
bool stub_agent_pick(stub_agent_t *a, const uint8_t *qname_lower, uint32_t *addr);
/* Does the agent know name (any type: AAAA and others get NODATA)? */
bool stub_agent_knows(const stub_agent_t *a, const uint8_t *qname_lower);

/* ---- Answers built here (answer.c) ------------------------------------------ */

/* The answer to query (wire, len) with A records addrs (n of them, maybe 0
 * for NODATA) of ttl, into out (cap). Returns its length, or 0 when the
 * query is not one to answer. */
size_t stub_answer_a(const uint8_t *query, size_t len, const uint32_t *addrs, size_t n,
		     uint32_t ttl, uint8_t *out, size_t cap);
/* An error answer (SERVFAIL …) to the query; its length or 0. */
size_t stub_answer_error(const uint8_t *query, size_t len, int rcode, uint8_t *out, size_t cap);
/* How a reply reads for the search: positive, negative or failure. */
stub_reply_t stub_classify_reply(const uint8_t *reply, size_t len, int *rcode);

/* A JSON string (quoted, escaped) appended to b. */
void stub_json_string(pr_buf_t *b, const char *s);

/* ---- Configuration (config.c) ------------------------------------------------ */

/*
 * The stub's configuration file, one directive a line ('#' comments), as
 * privres-topo writes it for a host (topology/README.md):
 *
 *   listen 127.0.0.1:53                  where the host's resolv.conf points
 *   log /run/privres-topo/stub-laptop.log   one JSON line per query ("-": stdout)
 *   hosts /etc/netns/prt-h-laptop/hosts  the hosts file (optional)
 *   adapter vpn 5 192.168.10.4 192.168.10.5:53   name, interface metric, servers
 *   adapter wifi 25 192.168.1.4
 *   agent 127.0.0.2:53                   an overlay agent's stub listens here
 *   agent-name db.enclave. 100.64.0.5    a name it answers, one system a line
 */
typedef struct stub_config {
	uint32_t listen_addr;
	uint16_t listen_port;
	char *log_path;   /* NULL: no log */
	char *hosts_path; /* NULL: no hosts file */
	stub_client_t *client;
	bool agent;
	uint32_t agent_addr;
	uint16_t agent_port;
	stub_agent_t *names;
} stub_config_t;

/* Parse text (file is its name, for messages) into *cfg (owned; free with
 * stub_config_free). Returns 0, or PR_ECONFIG with *why (owned) naming the
 * line and what is wrong. Outputs written only on success. */
int stub_config_parse(const char *file, const char *text, uint64_t seed, stub_config_t *cfg,
		      char **why);
void stub_config_free(stub_config_t *cfg);

/* ---- The daemon (server.c): the search and the agent on libuv --------------- */

#include <uv.h>

typedef struct stub_server stub_server_t;

/* Serve cfg (borrowed until stopped) on loop: UDP on its listen address (and
 * the agent's). now_ms is the clock (NULL: pr_now_ms), for tests. Returns 0
 * and *out, or a negative error with *why (owned). */
int stub_server_start(uv_loop_t *loop, const stub_config_t *cfg, uint64_t (*now_ms)(void),
		      stub_server_t **out, char **why);
/* Close every handle; the server frees itself once the loop has run the
 * close callbacks. Queries in flight are dropped. */
void stub_server_stop(stub_server_t **sp);
/* Reopen the log file (SIGHUP, for rotation). */
void stub_server_reopen_log(stub_server_t *s);
