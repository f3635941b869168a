/* A generated estate for benchmarks: the shape of the largest legal
 * deployment (semantics.md §1), scaled by its parameters. */
#pragma once

typedef struct bench_estate {
	int rulesets;          /* of rules_per_ruleset rules each (L-1) */
	int rules_per_ruleset;
	int links_per_ruleset; /* each to a VNet of its own (L-2, L-9) */
	int spare_vnets;       /* VNets linked to nothing */
	int zones;             /* private zones of two record sets (L-10) */
	int big_zone_records;  /* record sets in one more zone (L-11) */
} bench_estate_t;

/* The largest legal deployment: 15 resolvers × 5 + 5 endpoints, 30 rulesets ×
 * 1,000 rules × 500 links, 1,000 zones, 25,000 record sets in one. */
#define BENCH_ESTATE_LARGEST {30, 1000, 500, 0, 999, 25000}

/* The estate as YAML (owned). */
char *bench_estate_yaml(const bench_estate_t *e);
