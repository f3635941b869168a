/*
 * bench_rulesets — microbenchmark of the forwarding-rule matcher (F-8).
 *
 * Builds matchers of 10, 1,000 and 100,000 rules (the last far beyond the
 * L-1 limit of 1000, to show the cost curve: F-8 asks that match cost not grow
 * with the number of rules), with the reserved domains of F-9, and times
 * matches of a fixed mix of query names: hits one and four labels below a
 * rule, exact hits, near misses (a sibling of a rule), names under no rule
 * (the wildcard takes them) and names under reserved domains.
 *
 * Usage: bench_rulesets [matches per size]   (default 4,000,000)
 * Build without sanitizers for meaningful figures (-DPRIVRES_SANITIZE=OFF).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "dns/dns.h"
#include "rulesets/rulesets.h"

#define QUERIES 8192 /* a power of two: the loop indexes with a mask */
#define RUNS 3

static void rule_name(char *buf, size_t len, unsigned i)
{
	/* Rule domains of 2 to 4 labels that share parents, as real rulesets do
	 * (many rules under one corporate suffix). */
	switch (i % 3) {
	case 0:
		snprintf(buf, len, "app%u.contoso.com.", i);
		break;
	case 1:
		snprintf(buf, len, "svc%u.team%u.corp.contoso.com.", i, i % 50);
		break;
	default:
		snprintf(buf, len, "site%u.onprem.example.", i);
		break;
	}
}

/* A deterministic generator, so every run times the same mix. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The names packed one after the other, as small as a real query's working
 * set: what is timed is the matcher, not misses on the benchmark's own array. */
typedef struct names {
	uint8_t *wire;
	uint32_t off[QUERIES];
} names_t;

static void make_queries(names_t *names, unsigned nrules)
{
	pr_buf_t packed = {0};
	uint64_t s = 0x9E3779B97F4A7C15ull;
	for (unsigned q = 0; q < QUERIES; q++) {
		char rule[128], name[DNS_NAME_TEXT_MAX];
		unsigned r = (unsigned)(rng_next(&s) % nrules);
		unsigned pick = (unsigned)(rng_next(&s) % 10);
		rule_name(rule, sizeof(rule), r);
		switch (pick) {
		case 0: case 1: case 2: /* 30%: one label below a rule */
			snprintf(name, sizeof(name), "Host%u.%s", q, rule);
			break;
		case 3: case 4: /* 20%: four labels below a rule */
			snprintf(name, sizeof(name), "a.b.c.d%u.%s", q, rule);
			break;
		case 5: /* 10%: exactly a rule's domain */
			snprintf(name, sizeof(name), "%s", rule);
			break;
		case 6: /* 10%: a sibling of a rule, under its parent only */
			snprintf(name, sizeof(name), "www.x%s", rule);
			break;
		case 7: case 8: /* 20%: under no rule (the wildcard) */
			snprintf(name, sizeof(name), "www.shop%u.example.org.", q);
			break;
		default: /* 10%: under a reserved domain (F-9) */
			snprintf(name, sizeof(name), "acct%u.blob.core.windows.net.", q);
			break;
		}
		uint8_t wire[DNS_NAME_MAXLEN];
		dns_name_info_t info;
		if (dns_name_from_text(name, wire, &info, NULL) != 0) {
			fprintf(stderr, "bench_rulesets: bad generated name %s\n", name);
			exit(1);
		}
		names->off[q] = (uint32_t)packed.len;
		pr_buf_append(&packed, wire, info.wire_len);
	}
	names->wire = (uint8_t *)pr_buf_take(&packed);
}

static int run_size(unsigned nrules, uint64_t matches)
{
	int rc = 0;
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	ruleset_matcher_t *m = NULL;
	names_t *names = pr_calloc(1, sizeof(*names));

	int *values = pr_calloc(nrules, sizeof(*values));
	uint64_t t0 = pr_now_ns();
	for (unsigned i = 0; i < nrules; i++) {
		char name[128];
		rule_name(name, sizeof(name), i);
		rc = ruleset_matcher_add(b, name, &values[i], NULL);
		if (rc != 0)
			goto cleanup;
	}
	static const char WILDCARD[] = "wildcard";
	rc = ruleset_matcher_add(b, ".", WILDCARD, NULL);
	if (rc != 0)
		goto cleanup;
	rc = ruleset_matcher_build(b, true, &m);
	if (rc != 0)
		goto cleanup;
	uint64_t build_ns = pr_now_ns() - t0;

	make_queries(names, nrules);

	/* Warm up, and count what the mix gives. */
	unsigned kinds[3] = {0};
	for (unsigned q = 0; q < QUERIES; q++) {
		ruleset_match_t r;
		rc = ruleset_matcher_match(m, names->wire + names->off[q], &r);
		if (rc != 0)
			goto cleanup;
		kinds[r.kind]++;
	}

	uint64_t best = UINT64_MAX;
	volatile uint64_t sink = 0;
	for (int run = 0; run < RUNS; run++) {
		uint64_t acc = 0;
		uint64_t start = pr_now_ns();
		for (uint64_t i = 0; i < matches; i++) {
			ruleset_match_t r;
			ruleset_matcher_match(m, names->wire + names->off[i & (QUERIES - 1)], &r);
			acc += (uint64_t)r.kind + (uint64_t)r.labels;
		}
		uint64_t elapsed = pr_now_ns() - start;
		sink += acc;
		if (elapsed < best)
			best = elapsed;
	}
	(void)sink;

	printf("%7u rules  build %9.3f ms  match %6.1f ns  (best of %d x %llu; "
	       "user %u, reserved %u, none %u of %u names)\n",
	       nrules, (double)build_ns / 1e6, (double)best / (double)matches, RUNS,
	       (unsigned long long)matches, kinds[RULESET_MATCH_USER],
	       kinds[RULESET_MATCH_RESERVED], kinds[RULESET_MATCH_NONE], QUERIES);

cleanup:
	if (rc != 0)
		fprintf(stderr, "bench_rulesets: %s\n", pr_strerror(rc));
	ruleset_matcher_destroy(&m);
	ruleset_matcher_builder_destroy(&b);
	free(values);
	if (names)
		free(names->wire);
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t matches = 4000000;
	if (argc > 1) {
		char *end = NULL;
		unsigned long long v = strtoull(argv[1], &end, 10);
		if (!end || *end || v == 0) {
			fprintf(stderr, "usage: %s [matches per size]\n", argv[0]);
			return 2;
		}
		matches = v;
	}
	printf("ruleset matcher (F-8): %zu reserved domains (F-9), a \".\" rule, "
	       "mix: 30%% 1 below, 20%% 4 below, 10%% exact, 10%% sibling, 20%% unruled, "
	       "10%% reserved\n",
	       ruleset_reserved_count());
	static const unsigned sizes[] = {10, 1000, 100000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (run_size(sizes[i], matches) != 0)
			return 1;
	return 0;
}
