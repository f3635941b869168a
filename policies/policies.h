/*
 * policies — DNS security policy (semantics.md §8, S-1..S-3; Q-1).
 *
 * policy_set_build() compiles every policy of a validated deployment into a
 * matcher: one open-addressing hash table per policy, keyed by the lowercase
 * wire form of every domain of every list its enabled rules name, each domain
 * mapped to the best rule that holds it (the lowest priority number, S-3).
 * policy_evaluate() probes that table once per suffix of the query name (the
 * name itself, its parent, ... the root "."), so its cost grows with the
 * labels of the query and never with the size of the lists (lists of 100,000
 * domains are normal). The domain lists are compiled once per set and shared
 * by every policy whose rules name them.
 *
 * Block answers (S-3): policy_block_answer() writes a CNAME from the question
 * name to blockpolicy.azuredns.invalid. (TTL POLICY_BLOCK_TTL, rcode NOERROR),
 * or SERVFAIL when the rule's blockResponseCode says so.
 *
 * Threads: a set is built on one thread (the control thread) and is then
 * immutable: policy_evaluate() and every reader may run on any number of
 * threads at once, never allocate and never lock (it runs per query).
 * Ownership: a set copies what it needs from the deployment (names, domains);
 * the deployment may be destroyed before the set.
 * Input: query names are untrusted and validated (PR_EPARSE), never asserted;
 * the deployment is trusted (validated by model/), but a domain that does not
 * parse is still reported, not asserted. Missing pointers and policy indices
 * out of range are contract breaks (PR_REQUIRE).
 * Errors: 0 or a negative code of base/base.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "dns/dns.h"
#include "model/model.h"

/* [privres] TTL of the synthesized Block CNAME: the cloud answers with a short
 * TTL; 60 s keeps a lifted block from lingering in client caches. */
#define POLICY_BLOCK_TTL 60

typedef struct policy_set policy_set_t;

/* What a policy says about a name (S-3). */
typedef enum policy_action {
	POLICY_NONE = 0, /* no enabled rule covers the name: resolve normally (Q-2 on) */
	POLICY_ALLOW,    /* resolve normally */
	POLICY_ALERT,    /* resolve normally and record an alert */
	POLICY_BLOCK,    /* answer with policy_block_answer() */
	POLICY_WOULD_BLOCK, /* S-4: a Block rule of a policy in Audit mode: resolve
			     * normally, log the block it would have been */
} policy_action_t;

/* The outcome of one evaluation. Strings are borrowed from the set and live as
 * long as it does. */
typedef struct policy_verdict {
	policy_action_t action;
	/* BLOCK: CNAME to blockpolicy.azuredns.invalid. or SERVFAIL (S-3);
	 * MODEL_BLOCK_CNAME for the other actions. */
	model_block_response_t block_response;
	/* The deciding rule: its name, priority and index in the policy's
	 * dnsSecurityRules; NULL, 0 and -1 for NONE. */
	const char *rule;
	int priority;
	int rule_index;
	/* The matched domain in canonical text ("contoso.com.", "." for all), its
	 * labels, and the first list of the rule that holds it (name and index in
	 * the deployment's dnsResolverDomainLists); NULL / -1 for NONE. */
	const char *domain;
	int domain_labels;
	const char *list;
	int list_index;
} policy_verdict_t;

/* ---- Building ------------------------------------------------------------ */

/*
 * Compile every policy of d (borrowed; validated by model/) into a new set
 * (owned; policy_set_destroy()). Policy i of the set is d->policies[i].
 * Disabled rules are left out (S-1: a rule's state). A domain that does not
 * parse gets a finding in diag (may be NULL) and PR_ECONFIG. *out written
 * only on success.
 */
int policy_set_build(const deployment_t *d, policy_set_t **out, pr_diag_t *diag);

void policy_set_destroy(policy_set_t **sp);

/* ---- Evaluating (hot path: allocation-free, lock-free, thread-safe) ---------- */

/*
 * Evaluate qname_wire (uncompressed wire form, any case, borrowed) against
 * policy policy_index of the set (S-3): among the enabled rules whose lists
 * hold a domain the name falls under (by whole labels, case-insensitive,
 * W-5), the one with the lowest priority number decides. policy_index -1
 * means "no policy linked" (deployment_policy_for_vnet()) and gives NONE.
 * A Block rule of a policy in Audit mode gives WOULD_BLOCK (S-4).
 * Returns 0 with *out filled, or PR_EPARSE for a malformed wire name (*out
 * untouched).
 */
int policy_evaluate(const policy_set_t *s, int policy_index, const uint8_t *qname_wire,
		    policy_verdict_t *out);

/* The same for a name in presentation form, absolute or not ("Contoso.com"):
 * for tests, the CLI's explain and logs. PR_EPARSE if it does not parse. */
int policy_evaluate_text(const policy_set_t *s, int policy_index, const char *qname_text,
			 policy_verdict_t *out);

/* ---- Block answers (S-3) ----------------------------------------------------- */

/* blockpolicy.azuredns.invalid. in wire form (static storage). */
const uint8_t *policy_block_cname_target(void);

/*
 * Add the Block CNAME owner → blockpolicy.azuredns.invalid. (TTL
 * POLICY_BLOCK_TTL) to the answer section of a (begun with dns_answer_begin()).
 * owner (borrowed) is the blocked name: the question name keeps the question's
 * case (W-5); a name met along a CNAME chain (S-3, Q-5) is written as given.
 * Returns what dns_answer_add() returns.
 */
int policy_block_add_cname(dns_answer_t *a, const uint8_t *owner);

/*
 * The whole answer to q when v blocks its question name: NOERROR with the
 * Block CNAME, or SERVFAIL when the rule's blockResponseCode is SERVFAIL
 * (S-3). buf (cap octets) and q are borrowed; tcp as for dns_answer_begin().
 * Returns the answer's length, or 0 when cap cannot hold it (nothing to send).
 * v must be a BLOCK verdict (PR_REQUIRE).
 */
size_t policy_block_answer(uint8_t *buf, size_t cap, const dns_query_t *q, bool tcp,
			   const policy_verdict_t *v);

/* ---- Inspecting -------------------------------------------------------------- */

/* Policies in the set (the deployment's count). */
size_t policy_set_count(const policy_set_t *s);
/* Name of policy i (borrowed), or NULL when out of range. */
const char *policy_set_name(const policy_set_t *s, size_t i);
/* Distinct domains compiled into policy i (0 when out of range): every domain
 * of every list of its enabled rules, counted once. */
size_t policy_set_domain_count(const policy_set_t *s, size_t i);

/* "none", "allow", "alert", "block", "would-block"; never NULL. */
const char *policy_action_name(policy_action_t a);
