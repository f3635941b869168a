/*
 * linker — the links of rulesets, private zones and policies to virtual
 * networks, compiled into one view per VNet (design.md §1), and the loop
 * detector of semantics.md §7 (P-1, P-2).
 *
 * A view is what a query arriving in a VNet reads: the private zones linked
 * to it, the ruleset linked to it compiled into a longest-suffix matcher
 * with the reserved domains of F-9, and the policy linked to it.
 *
 * Threads: linker_build() runs on the control thread; a built linker_t is
 * immutable and may be read from any number of threads.
 * Ownership: a linker_t borrows the deployment it was built from; destroy it
 * before the deployment.
 */
#pragma once

#include "base/base.h"
#include "model/model.h"
#include "rulesets/rulesets.h"

typedef struct linker linker_t;

/* A private zone linked to a view. */
typedef struct linker_zone_link {
	int zone;                       /* index into deployment zones */
	const model_vnet_link_t *link;  /* the link (registration, resolution policy) */
} linker_zone_link_t;

typedef struct linker_view {
	int vnet;                        /* index into deployment vnets */
	const char *name;                /* the VNet's name */
	const linker_zone_link_t *zones; /* linked private zones */
	size_t n_zones;
	const uint8_t **zone_wires;       /* the linked zones' names, as zones[] */
	const ruleset_matcher_t *zone_matcher; /* longest linked zone (value: linker_zone_link_t *);
						NULL when no zone is linked */
	int ruleset;                     /* linked ruleset, or -1 (L-9) */
	const ruleset_matcher_t *rules;  /* enabled rules + reserved domains (value: model_rule_t *),
					  shared by the ruleset's VNets; NULL without ruleset */
	int policy;                      /* linked security policy, or -1 (S-2) */
} linker_view_t;

/*
 * Compile the views of a validated deployment and check it for forwarding
 * loops (P-1, P-2). Findings go to diag; returns 0 and *out (owned) only when
 * there is none, else PR_ELOOP (or another error).
 */
int linker_build(const deployment_t *d, linker_t **out, pr_diag_t *diag);

/*
 * Same for d after prev (built from the deployment before a change of one
 * resource, may be NULL; it must outlive the call only): a ruleset whose
 * rules d shares with prev's deployment (deployment_from_doc_after) keeps
 * prev's matcher; and when only rulesets' rules and links and zones' links
 * differ, the loop search (P-1, P-2) starts from the views those change, as a
 * loop that was not there before passes through one of them.
 */
int linker_build_after(const linker_t *prev, const deployment_t *d, linker_t **out,
		       pr_diag_t *diag);
void linker_destroy(linker_t **lp);

/* Only the loop checks (P-1, P-2), for callers that need no views. */
int linker_check_loops(const deployment_t *d, pr_diag_t *diag);

size_t linker_view_count(const linker_t *l);
/* The view of VNet vnet (index into deployment vnets); borrowed. */
const linker_view_t *linker_view(const linker_t *l, int vnet);
const deployment_t *linker_deployment(const linker_t *l);

/* Where a forwarding target leads: one of our inbound endpoints (the view of
 * its resolver's VNet), one of the external servers, or outside. */
typedef enum linker_target_kind {
	LINKER_TARGET_OUTSIDE,
	LINKER_TARGET_INBOUND,
	LINKER_TARGET_EXTERNAL,
} linker_target_kind_t;

typedef struct linker_target {
	linker_target_kind_t kind;
	int resolver, endpoint; /* INBOUND */
	int vnet;               /* INBOUND: the view a query there is resolved in (I-4) */
	int external;           /* EXTERNAL: index into deployment external_servers */
} linker_target_t;

void linker_classify_target(const deployment_t *d, uint32_t address, uint16_t port,
			    linker_target_t *out);

/* A human summary for `privresd --check`: resources by kind, each inbound
 * endpoint with its address, each VNet's view (owned). */
char *linker_summary(const linker_t *l);
