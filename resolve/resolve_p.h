/* Private to resolve/: the compiled snapshot and the query state machine. */
#pragma once

#include <stdatomic.h>

#include "linker/linker.h"
#include "policies/policies.h"
#include "resolve/resolve.h"
#include "rulesets/rulesets.h"
#include "zones/zones.h"

/* What an external server's name matcher hands back (the longest of its zones
 * and forwarders). */
typedef struct rs_ext_entry {
	bool is_zone;
	size_t index; /* into the server's zones[] or forwarders[] */
} rs_ext_entry_t;

typedef struct rs_external {
	zone_t **zones;                /* per model zone of the server */
	rs_ext_entry_t *entries;
	ruleset_matcher_t *matcher;    /* value: rs_ext_entry_t * */
} rs_external_t;

/* Where a listener's queries are answered. */
typedef struct rs_listener_target {
	int vnet;     /* INBOUND, AZURE_DNS: the view */
	int external; /* EXTERNAL: index into deployment external_servers */
} rs_listener_target_t;

struct resolve_snapshot {
	atomic_int refs;
	deployment_t *d;
	linker_t *linker;
	policy_set_t *policies;           /* every DNS security policy, compiled */
	zone_t **private_zones;           /* per deployment zone (Z-3 hosts included) */
	zone_t **public_zones;            /* per publicDns zone */
	ruleset_matcher_t *public_matcher; /* value: zone_t ** (an entry of public_zones) */
	rs_external_t *externals;         /* per external server */
	/* borrowed from listener_set, which snapshots of deployments with the
	 * same listeners share */
	resolve_listener_t *listeners;
	rs_listener_target_t *listener_targets;
	size_t n_listeners;
	pr_map_t *listener_index; /* listener name → index in listeners */
	struct rs_listener_set *listener_set;
};

/* The listener index of a name, or -1. */
int snapshot_listener_index(const resolve_snapshot_t *s, const char *name);
/* Run a query in a given view without sending anything (explain): like
 * resolve_start on the VNet's Azure DNS listener, but FORWARD stops there. */
resolve_status_t resolve_start_in_view(resolve_worker_t *w, const resolve_snapshot_t *s, int vnet,
				       const uint8_t *packet, size_t len, resolve_query_t *q,
				       const resolve_forward_t **fwd);

/* ---- Counters, cache and in-flight table (cache.c, inflight.c) -------------------- */

/* A worker's counters: written by its thread only, read by any (rs_count). */
typedef struct rs_counters {
	_Atomic uint64_t cache_hits, cache_misses, cache_inserts, cache_evictions, cache_expired;
	_Atomic uint64_t cache_entries, cache_bytes, loops;
} rs_counters_t;

void rs_count(_Atomic uint64_t *c, int64_t delta);

#define RS_CACHE_DO 1u
#define RS_CACHE_CD 2u

/* What a cached reply answers. name is lowercase wire (borrowed). */
typedef struct rs_cache_key {
	uint64_t scope; /* who forwards to which targets (query.c) */
	const uint8_t *name;
	uint16_t qtype;
	uint8_t flags; /* RS_CACHE_DO | RS_CACHE_CD */
} rs_cache_key_t;

typedef struct resolve_cache rs_cache_t;

rs_cache_t *cache_new(void);
void cache_destroy(rs_cache_t **cp);
uint64_t rs_cache_key_hash(const rs_cache_key_t *k);
/* A hit: the reply copied into arena with its TTLs counted down and ID 0,
 * *len set; NULL on a miss. capacity 0: disabled (and emptied). Any thread;
 * st: the calling worker's counters. */
uint8_t *cache_lookup(rs_cache_t *c, rs_counters_t *st, const rs_cache_key_t *k,
		      uint32_t capacity, uint64_t now_ms, pr_arena_t *arena, size_t *len);
/* Keep a target's reply (copied) when Q-6/RFC 2308 say it may be kept. */
void cache_insert(rs_cache_t *c, rs_counters_t *st, const rs_cache_key_t *k, uint32_t capacity,
		  uint64_t now_ms, const uint8_t *reply, size_t len);

uint64_t inflight_hash(const uint8_t *name_lower, uint16_t qtype);
uint32_t inflight_count(const resolve_inflight_t *t, uint64_t h);
void inflight_enter(resolve_inflight_t *t, uint64_t h);
void inflight_leave(resolve_inflight_t *t, uint64_t h);

/* the exchange of a question out to an outside target, that identical
 * questions join (inflight.c). The leader opens it, its reply closes it. */
/* The open exchange for k (h: rs_cache_key_hash) with a reference for the
 * caller: *leader false when one was open already (may_join: the caller takes
 * part in it), true when this call opened it. NULL when one is open and
 * may_join is false: the caller asks on its own, outside the table. */
resolve_exchange_t *exchange_open_or_join(resolve_inflight_t *t, const rs_cache_key_t *k,
					  uint64_t h, bool may_join, bool *leader);
/* The leader's reply (borrowed, copied; NULL: none): the exchange leaves the
 * table and every waiter is woken. */
void exchange_close(resolve_exchange_t *x, const uint8_t *reply, size_t len);
void exchange_unref(resolve_exchange_t **xp);
