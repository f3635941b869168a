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
	resolve_listener_t *listeners;
	rs_listener_target_t *listener_targets;
	size_t n_listeners;
	uint32_t *listener_table; /* open addressing: listener index + 1; 0 empty */
	size_t listener_mask;
};

/* The listener index of a name, or -1. */
int snapshot_listener_index(const resolve_snapshot_t *s, const char *name);
/* Run a query in a given view without sending anything (explain): like
 * resolve_start on the VNet's Azure DNS listener, but FORWARD stops there. */
resolve_status_t resolve_start_in_view(resolve_worker_t *w, const resolve_snapshot_t *s, int vnet,
				       const uint8_t *packet, size_t len, resolve_query_t *q,
				       const resolve_forward_t **fwd);
