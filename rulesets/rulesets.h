/*
 * rulesets — the compiled forwarding-rule matcher of a DNS forwarding ruleset
 * (semantics.md F-8, F-9).
 *
 * A builder collects (domain, value) pairs; ruleset_matcher_build() compiles
 * them into an immutable matcher: a label trie whose edges live in one hash
 * table (keyed by the suffix each edge leads to, checked against its parent
 * node and label), walked from the rightmost label of the query, so that the
 * cost of a match grows with the labels of the query and not with the number
 * of rules (F-8). The value is an opaque pointer the
 * caller attaches to each rule (the linker attaches its compiled rule); the
 * matcher never reads it.
 *
 * Reserved domains (F-9): the platform's reserved names (the data file
 * rulesets/reserved_domains, compiled into the binary) can be inserted as
 * implicit "resolve with Azure DNS" rules in the same longest-suffix match.
 * A user rule with as many or more labels wins; a reserved domain longer than
 * the longest matching user rule wins over it, so a "." or "windows.net." rule
 * never captures x.blob.core.windows.net.
 *
 * Threads: a builder belongs to one thread. A built matcher is immutable;
 * ruleset_matcher_match() and every other reader may run on any number of
 * threads at once, never allocate and never lock (it runs per query).
 * Input: domain text and query names are untrusted and validated (PR_EPARSE),
 * never asserted. Missing pointers are contract breaks (PR_REQUIRE).
 * Errors: 0 or a negative code of base/base.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ruleset_matcher_builder ruleset_matcher_builder_t;
typedef struct ruleset_matcher ruleset_matcher_t;

typedef enum ruleset_match_kind {
	RULESET_MATCH_NONE = 0, /* no rule and no reserved domain covers the name (Q-4 follows) */
	RULESET_MATCH_USER,     /* an explicit forwarding rule wins */
	RULESET_MATCH_RESERVED, /* a reserved domain wins: resolve with Azure DNS (F-9) */
} ruleset_match_kind_t;

/* The outcome of one match. Pointers are borrowed from the matcher and live
 * as long as it does. */
typedef struct ruleset_match {
	ruleset_match_kind_t kind;
	/* USER: the value given to ruleset_matcher_add(); NULL otherwise. */
	const void *value;
	/* USER and RESERVED: the matched domain in canonical text ("contoso.com.",
	 * "." for the wildcard); NULL for NONE. */
	const char *domain;
	/* USER and RESERVED: labels of the matched domain ("." has 0); -1 for NONE. */
	int labels;
	/* USER: the rule's position in insertion order (as ruleset_matcher_get());
	 * RESERVED: the position in the reserved list (ruleset_reserved_domain());
	 * SIZE_MAX for NONE. */
	size_t index;
} ruleset_match_t;

/* ---- Building ------------------------------------------------------------ */

/* A new, empty builder (owned; ruleset_matcher_builder_destroy()). */
ruleset_matcher_builder_t *ruleset_matcher_builder_new(void);
void ruleset_matcher_builder_destroy(ruleset_matcher_builder_t **bp);

/*
 * Add a rule for domain_text: a dot-terminated name in presentation form,
 * compared case-insensitively by whole labels (F-2, W-5); "." is the wildcard
 * that matches every name (F-8). The text is copied; value is borrowed and
 * handed back by matches, never dereferenced (it may be NULL).
 * Returns 0; PR_EPARSE for a name that does not parse or is not
 * dot-terminated (*why, if given, says why: a static string); PR_EEXIST for a
 * second rule of the same domain (F-3, also checked by the model validator:
 * this is defence). On failure the builder is unchanged.
 */
int ruleset_matcher_add(ruleset_matcher_builder_t *b, const char *domain_text, const void *value,
			const char **why);
/* The same with the domain in wire form (any case; copied). */
int ruleset_matcher_add_wire(ruleset_matcher_builder_t *b, const uint8_t *domain_wire,
			     const void *value);
/* Rules added so far. */
size_t ruleset_matcher_builder_count(const ruleset_matcher_builder_t *b);

/*
 * Compile the rules added so far into an immutable matcher (owned;
 * ruleset_matcher_destroy()). When with_reserved is true, every reserved
 * domain (F-9) is inserted as an implicit rule; a user rule for exactly a
 * reserved domain keeps precedence over it. The builder is borrowed and stays
 * usable (it may be built again, with or without reserved domains).
 * Returns 0. *out written only on success.
 */
int ruleset_matcher_build(const ruleset_matcher_builder_t *b, bool with_reserved,
			  ruleset_matcher_t **out);

/* One more holder of m (returned): a matcher is freed by the last
 * ruleset_matcher_destroy(), from any thread. */
ruleset_matcher_t *ruleset_matcher_share(ruleset_matcher_t *m);
void ruleset_matcher_destroy(ruleset_matcher_t **mp);

/* ---- Matching (hot path: allocation-free, thread-safe) ---------------------- */

/*
 * Longest-suffix match of qname_wire (uncompressed wire form, any case; at
 * most 255 octets) against the rules and, if built with them, the reserved
 * domains (F-8, F-9). qname_wire is borrowed.
 * Returns 0 with *out filled, or PR_EPARSE for a malformed wire name (*out
 * untouched).
 */
int ruleset_matcher_match(const ruleset_matcher_t *m, const uint8_t *qname_wire,
			  ruleset_match_t *out);

/* The same for a name in presentation form, absolute or not ("Contoso.com"):
 * for tests, the CLI's explain and logs. PR_EPARSE if it does not parse. */
int ruleset_matcher_match_text(const ruleset_matcher_t *m, const char *qname_text,
			       ruleset_match_t *out);

/* ---- Inspecting -------------------------------------------------------------- */

/* User rules in the matcher (reserved domains not counted). */
size_t ruleset_matcher_count(const ruleset_matcher_t *m);
/* Was the matcher built with the reserved domains? */
bool ruleset_matcher_has_reserved(const ruleset_matcher_t *m);
/* Rule i (0 <= i < count), in insertion order: its canonical domain text and
 * value (both borrowed from the matcher). 0, or PR_ENOTFOUND when i is out of
 * range; outputs written only on success. */
int ruleset_matcher_get(const ruleset_matcher_t *m, size_t i, const char **domain,
			const void **value);

/* The reserved domains of F-9, as compiled from rulesets/reserved_domains,
 * in file order and canonical text (static storage). */
size_t ruleset_reserved_count(void);
/* Domain i, or NULL when i is out of range. */
const char *ruleset_reserved_domain(size_t i);

/* A short name of a match kind ("none", "user", "reserved"); never NULL. */
const char *ruleset_match_kind_name(ruleset_match_kind_t kind);
