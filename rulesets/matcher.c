/*
 * The forwarding-rule matcher (F-8, F-9): a label trie whose edges are one
 * open-addressing hash table. A match walks the query's labels from the right,
 * one probe per label, remembering the deepest node that holds a rule or a
 * reserved domain; its cost depends on the query's labels, not on how many
 * rules there are (F-8).
 *
 * An edge is found by the hash of the whole suffix it leads to (not of the
 * parent node and the label), so every probe address of a query is known
 * before the walk starts: the probes are prefetched together and their cache
 * misses overlap instead of queueing one behind the other (large rulesets).
 * The edge still records its parent and its label, and both are compared, so
 * a hash collision costs a probe, never a wrong answer.
 */
#include "rulesets/rulesets.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "dns/dns.h"
#include "rulesets/rulesets_p.h"

#define NO_RULE UINT32_MAX
#define NO_RESERVED UINT16_MAX
#define NO_NODE UINT32_MAX
#define NO_EDGE SIZE_MAX
#define ROOT 0u
/* A 255-octet wire name holds at most 127 labels (each takes two octets or more). */
#define MAX_LABELS 127
/* Word-wise comparison reads up to 7 octets past a label: keep them readable. */
#define SLACK 8
#define EDGES_MIN 16
/* Edge.child: the node, and whether that node holds a rule or a reserved
 * domain, so that a walk reads only edges until it has its answer. */
#define CHILD_DECIDES 0x80000000u
#define CHILD_NODE 0x7fffffffu

typedef struct node {
	uint32_t rule;     /* index into rules, or NO_RULE */
	uint16_t reserved; /* index into rulesets_reserved_table, or NO_RESERVED */
	uint16_t depth;    /* labels from the root: the matched domain's label count */
} node_t;

typedef struct edge {
	uint32_t hash;   /* of the child's whole name (suffix_step) */
	uint32_t parent;
	uint32_t child;  /* CHILD_NODE | CHILD_DECIDES; 0 marks an empty slot (the
			  * root is nobody's child) */
	uint32_t label;  /* offset into labels: a length octet, then lowercase octets */
} edge_t;

typedef struct rule {
	const void *value; /* the caller's, never dereferenced */
	uint32_t domain;   /* offset into text: canonical, NUL-terminated */
} rule_t;

/* Everything a builder and a matcher hold; a matcher is a copy of its builder's
 * table plus, optionally, the reserved domains. Offsets, not pointers, so a
 * copy is a handful of memcpy calls. */
typedef struct table {
	node_t *nodes;
	size_t nnodes, nodes_cap;
	edge_t *edges;
	size_t edges_len; /* a power of two, at most half full so probes end fast */
	size_t nedges;
	uint8_t *labels;  /* followed by SLACK zero octets */
	size_t labels_len, labels_cap;
	rule_t *rules;
	size_t nrules, rules_cap;
	char *text;
	size_t text_len, text_cap;
} table_t;

struct ruleset_matcher_builder {
	table_t t;
};

struct ruleset_matcher {
	table_t t;
	bool with_reserved;
	atomic_uint refs; /* snapshots sharing it (ruleset_matcher_share) */
};

/* A name prepared for a walk, on the stack of the caller. */
typedef struct qname {
	uint8_t wire[DNS_NAME_MAXLEN + SLACK]; /* lowercase wire form */
	uint8_t off[MAX_LABELS];               /* each label's length octet, left to right */
	uint32_t hash[MAX_LABELS];             /* hash of the suffix that starts at each label */
	int n;                                 /* labels */
} qname_t;

/* ---- Names -------------------------------------------------------------------- */

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}

/* A word whose first n octets (1..8) are 0xff, in memory order, whatever the
 * byte order of the machine. */
static inline uint64_t head_mask(size_t n)
{
	static const uint8_t ones[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	return load64(ones + 8 - n);
}

static inline uint8_t lower_octet(uint8_t c)
{
	/* W-5: ASCII case folding only (RFC 4343); other octets compare as they
	 * are. Length octets (at most 63) are below 'A' and pass unchanged. */
	return (uint8_t)(c + (((unsigned)c - 'A' < 26u) << 5));
}

/* lower_octet on eight octets at once (the query path lowercases every name). */
static inline uint64_t lower_word(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t seven = w & ~high; /* low seven bits of each octet: sums below never carry */
	uint64_t above_z = seven + (0x7f - 'Z') * ones;
	uint64_t from_a = seven + (0x80 - 'A') * ones;
	uint64_t upper = (above_z ^ from_a) & ~w & high; /* 'A'..'Z', high bit clear */
	return w | (upper >> 2);                          /* 0x80 >> 2 is the case bit */
}

/* Hash of one label (length octet first) of a prepared name. */
static inline uint64_t label_hash(const uint8_t *l)
{
	size_t total = (size_t)l[0] + 1;
	uint64_t h = 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < total; i += 8) {
		uint64_t w = load64(l + i);
		if (total - i < 8)
			w &= head_mask(total - i);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	return h;
}

/* The hash of a name from the hash of its parent and of its first label. */
static inline uint64_t suffix_step(uint64_t parent, uint64_t label)
{
	uint64_t h = ((parent << 23) | (parent >> 41)) ^ label;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 32);
}

#define SUFFIX_ROOT 0x2545F4914F6CDD1Dull

/*
 * Validate an uncompressed wire name and prepare it: lowercase copy, label
 * offsets, suffix hashes. Returns 0 or PR_EPARSE. Reads no octet past the
 * 255th, so a query name handed over unchecked cannot take the hot path out
 * of bounds (W-3).
 */
static int qname_prepare(const uint8_t *wire, qname_t *q)
{
	size_t pos = 0;
	int n = 0;
	while (wire[pos] != 0) {
		uint8_t len = wire[pos];
		/* Compression pointers (0xC0) and extended label types are above 63. */
		if (len > DNS_LABEL_MAXLEN)
			return PR_EPARSE;
		/* The label and the root octet after it must fit in 255 octets. */
		if (pos + len + 2 > DNS_NAME_MAXLEN)
			return PR_EPARSE;
		q->off[n++] = (uint8_t)pos;
		pos += (size_t)len + 1;
	}
	size_t total = pos + 1;
	size_t i = 0;
	for (; i + 8 <= total; i += 8) {
		uint64_t w = lower_word(load64(wire + i));
		memcpy(q->wire + i, &w, 8);
	}
	for (; i < total; i++)
		q->wire[i] = lower_octet(wire[i]);
	memset(q->wire + total, 0, SLACK);
	q->n = n;

	uint64_t h = SUFFIX_ROOT;
	for (int k = n - 1; k >= 0; k--) {
		h = suffix_step(h, label_hash(q->wire + q->off[k]));
		q->hash[k] = (uint32_t)h;
	}
	return 0;
}

/* Labels a (stored, zero-padded) and b (in a prepared name) are equal, length
 * octets included. */
static inline bool label_equal(const uint8_t *a, const uint8_t *b)
{
	size_t total = (size_t)b[0] + 1;
	for (size_t i = 0; i < total; i += 8) {
		uint64_t diff = load64(a + i) ^ load64(b + i);
		if (total - i < 8)
			diff &= head_mask(total - i);
		if (diff)
			return false;
	}
	return true;
}

/* ---- The table ------------------------------------------------------------------ */

static void table_init(table_t *t)
{
	*t = (table_t){0};
	pr_grow(&t->nodes, &t->nodes_cap, 1, sizeof(*t->nodes));
	t->nodes[ROOT] = (node_t){.rule = NO_RULE, .reserved = NO_RESERVED, .depth = 0};
	t->nnodes = 1;
	t->edges_len = EDGES_MIN;
	t->edges = pr_calloc(t->edges_len, sizeof(*t->edges));
}

static void table_free(table_t *t)
{
	free(t->nodes);
	free(t->edges);
	free(t->labels);
	free(t->rules);
	free(t->text);
	*t = (table_t){0};
}

static void *copy_array(const void *src, size_t n, size_t elem)
{
	if (n == 0 || !src)
		return NULL;
	void *p = pr_malloc(n * elem);
	memcpy(p, src, n * elem);
	return p;
}

/* dst gets its own copy of src, sized exactly (the slack of labels included). */
static void table_copy(table_t *dst, const table_t *src)
{
	size_t labels_size = src->labels ? src->labels_len + SLACK : 0;
	*dst = (table_t){
		.nodes = copy_array(src->nodes, src->nnodes, sizeof(*src->nodes)),
		.nnodes = src->nnodes,
		.nodes_cap = src->nnodes,
		.edges = copy_array(src->edges, src->edges_len, sizeof(*src->edges)),
		.edges_len = src->edges_len,
		.nedges = src->nedges,
		.labels = copy_array(src->labels, labels_size, 1),
		.labels_len = src->labels_len,
		.labels_cap = labels_size,
		.rules = copy_array(src->rules, src->nrules, sizeof(*src->rules)),
		.nrules = src->nrules,
		.rules_cap = src->nrules,
		.text = copy_array(src->text, src->text_len, 1),
		.text_len = src->text_len,
		.text_cap = src->text_len,
	};
}

/* The edge from parent by label i of q, or NULL. */
static inline const edge_t *table_find(const table_t *t, uint32_t parent, const qname_t *q, int i)
{
	size_t mask = t->edges_len - 1;
	uint32_t hash = q->hash[i];
	const uint8_t *label = q->wire + q->off[i];
	for (size_t k = hash & mask;; k = (k + 1) & mask) {
		const edge_t *e = &t->edges[k];
		if (e->child == 0)
			return NULL;
		if (e->hash == hash && e->parent == parent &&
		    label_equal(t->labels + e->label, label))
			return e;
	}
}

static size_t table_place(edge_t *edges, size_t edges_len, const edge_t *e)
{
	size_t mask = edges_len - 1;
	size_t k = e->hash & mask;
	while (edges[k].child != 0)
		k = (k + 1) & mask;
	edges[k] = *e;
	return k;
}

static void table_rehash(table_t *t, size_t edges_len)
{
	edge_t *edges = pr_calloc(edges_len, sizeof(*edges));
	for (size_t k = 0; k < t->edges_len; k++)
		if (t->edges[k].child != 0)
			table_place(edges, edges_len, &t->edges[k]);
	free(t->edges);
	t->edges = edges;
	t->edges_len = edges_len;
}

/* Add the child of parent by label i of q; returns its edge's slot. */
static size_t table_add_child(table_t *t, uint32_t parent, const qname_t *q, int i)
{
	/* Load factor at most 1/2: linear probing stays short and always ends. */
	if ((t->nedges + 1) * 2 > t->edges_len)
		table_rehash(t, t->edges_len * 2);
	const uint8_t *l = q->wire + q->off[i];
	size_t size = (size_t)l[0] + 1;
	PR_REQUIRE(t->nnodes < CHILD_NODE && t->labels_len + size + SLACK < UINT32_MAX);

	uint32_t label = (uint32_t)t->labels_len;
	pr_grow(&t->labels, &t->labels_cap, t->labels_len + size + SLACK, 1);
	memcpy(t->labels + t->labels_len, l, size);
	t->labels_len += size;
	memset(t->labels + t->labels_len, 0, SLACK);

	uint32_t child = (uint32_t)t->nnodes;
	pr_grow(&t->nodes, &t->nodes_cap, t->nnodes + 1, sizeof(*t->nodes));
	t->nodes[child] = (node_t){
		.rule = NO_RULE,
		.reserved = NO_RESERVED,
		.depth = (uint16_t)(t->nodes[parent].depth + 1),
	};
	t->nnodes++;

	edge_t e = {.hash = q->hash[i], .parent = parent, .child = child, .label = label};
	t->nedges++;
	return table_place(t->edges, t->edges_len, &e);
}

/* The node of a well-formed wire name, created with its ancestors as needed;
 * *edge is the slot of the edge that leads to it (NO_EDGE for the root). */
static uint32_t table_insert_path(table_t *t, const uint8_t *wire, size_t *edge)
{
	qname_t q;
	int rc = qname_prepare(wire, &q);
	PR_REQUIRE(rc == 0);
	uint32_t node = ROOT;
	size_t slot = NO_EDGE;
	for (int i = q.n - 1; i >= 0; i--) {
		const edge_t *e = table_find(t, node, &q, i);
		slot = e ? (size_t)(e - t->edges) : table_add_child(t, node, &q, i);
		node = t->edges[slot].child & CHILD_NODE;
	}
	*edge = slot;
	return node;
}

/* The node at the end of edge slot now holds a rule or a reserved domain. */
static void table_mark_decides(table_t *t, size_t slot)
{
	if (slot != NO_EDGE)
		t->edges[slot].child |= CHILD_DECIDES;
}

/* Add a user rule for a validated wire name. */
static int table_add_rule(table_t *t, const uint8_t *wire, const void *value)
{
	char text[DNS_NAME_TEXT_MAX];
	int tl = dns_name_to_text(wire, text, sizeof(text));
	if (tl < 0)
		return PR_EPARSE;
	size_t slot;
	uint32_t node = table_insert_path(t, wire, &slot);
	/* F-3: one rule per domain. A node that holds a rule existed before, with
	 * all its ancestors, so refusing here leaves the table as it was. */
	if (t->nodes[node].rule != NO_RULE)
		return PR_EEXIST;
	PR_REQUIRE(t->nrules < NO_RULE && t->text_len + (size_t)tl + 1 < UINT32_MAX);

	uint32_t domain = (uint32_t)t->text_len;
	pr_grow(&t->text, &t->text_cap, t->text_len + (size_t)tl + 1, 1);
	memcpy(t->text + t->text_len, text, (size_t)tl + 1);
	t->text_len += (size_t)tl + 1;

	pr_grow(&t->rules, &t->rules_cap, t->nrules + 1, sizeof(*t->rules));
	t->rules[t->nrules] = (rule_t){.value = value, .domain = domain};
	t->nodes[node].rule = (uint32_t)t->nrules;
	t->nrules++;
	table_mark_decides(t, slot);
	return 0;
}

/* ---- Building ------------------------------------------------------------------ */

ruleset_matcher_builder_t *ruleset_matcher_builder_new(void)
{
	ruleset_matcher_builder_t *b = pr_calloc(1, sizeof(*b));
	table_init(&b->t);
	return b;
}

void ruleset_matcher_builder_destroy(ruleset_matcher_builder_t **bp)
{
	if (!bp || !*bp)
		return;
	table_free(&(*bp)->t);
	free(*bp);
	*bp = NULL;
}

int ruleset_matcher_add(ruleset_matcher_builder_t *b, const char *domain_text, const void *value,
			const char **why)
{
	PR_REQUIRE(b && domain_text);
	uint8_t wire[DNS_NAME_MAXLEN];
	dns_name_info_t info;
	const char *reason = NULL;
	if (dns_name_from_text(domain_text, wire, &info, &reason) != 0) {
		if (why)
			*why = reason;
		return PR_EPARSE;
	}
	/* F-2: a rule's domain is dot-terminated; "contoso.com" is refused rather
	 * than guessed, as the service does. */
	if (!info.absolute) {
		if (why)
			*why = "a rule's domain name must end with a dot (F-2)";
		return PR_EPARSE;
	}
	return table_add_rule(&b->t, wire, value);
}

int ruleset_matcher_add_wire(ruleset_matcher_builder_t *b, const uint8_t *domain_wire,
			     const void *value)
{
	PR_REQUIRE(b && domain_wire);
	/* The prepared copy is lowercase: the canonical text reported by matches
	 * is lowercase whatever case the caller used (W-5). */
	qname_t q;
	if (qname_prepare(domain_wire, &q) != 0)
		return PR_EPARSE;
	return table_add_rule(&b->t, q.wire, value);
}

size_t ruleset_matcher_builder_count(const ruleset_matcher_builder_t *b)
{
	PR_REQUIRE(b);
	return b->t.nrules;
}

int ruleset_matcher_build(const ruleset_matcher_builder_t *b, bool with_reserved,
			  ruleset_matcher_t **out)
{
	PR_REQUIRE(b && out);
	ruleset_matcher_t *m = pr_calloc(1, sizeof(*m));
	atomic_init(&m->refs, 1);
	table_copy(&m->t, &b->t);
	m->with_reserved = with_reserved;
	if (with_reserved) {
		PR_REQUIRE(rulesets_reserved_table_len < NO_RESERVED);
		for (size_t i = 0; i < rulesets_reserved_table_len; i++) {
			uint8_t wire[DNS_NAME_MAXLEN];
			/* Checked by rulesets/CMakeLists.txt: a failure is our bug. */
			int rc = dns_name_from_text(rulesets_reserved_table[i], wire, NULL, NULL);
			PR_REQUIRE(rc == 0);
			size_t slot;
			uint32_t node = table_insert_path(&m->t, wire, &slot);
			/* F-9: the reserved entry sits beside a user rule of the same
			 * domain; the user rule keeps precedence at match time. */
			if (m->t.nodes[node].reserved == NO_RESERVED)
				m->t.nodes[node].reserved = (uint16_t)i;
			table_mark_decides(&m->t, slot);
		}
	}
	*out = m;
	return 0;
}

ruleset_matcher_t *ruleset_matcher_share(ruleset_matcher_t *m)
{
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void ruleset_matcher_destroy(ruleset_matcher_t **mp)
{
	if (!mp || !*mp)
		return;
	ruleset_matcher_t *m = *mp;
	*mp = NULL;
	/* the last holder frees; acq_rel orders the others' reads before */
	if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
		return;
	table_free(&m->t);
	free(m);
}

/* ---- Matching ------------------------------------------------------------------ */

static inline bool node_decides(const node_t *n)
{
	return n->rule != NO_RULE || n->reserved != NO_RESERVED;
}

int ruleset_matcher_match(const ruleset_matcher_t *m, const uint8_t *qname_wire,
			  ruleset_match_t *out)
{
	PR_REQUIRE(m && qname_wire && out);
	const table_t *t = &m->t;
	qname_t q;
	int rc = qname_prepare(qname_wire, &q);
	if (rc != 0)
		return rc;
	/* Every probe address is known now: start all the loads at once. */
	size_t mask = t->edges_len - 1;
	for (int i = 0; i < q.n; i++)
		__builtin_prefetch(&t->edges[q.hash[i] & mask]);

	/* F-8: the deepest node on the query's path that holds a rule wins; "."
	 * (the root) holds the wildcard, which matches every name. */
	uint32_t best = node_decides(&t->nodes[ROOT]) ? ROOT : NO_NODE;
	uint32_t node = ROOT;
	for (int i = q.n - 1; i >= 0; i--) {
		const edge_t *e = table_find(t, node, &q, i);
		if (!e)
			break;
		node = e->child & CHILD_NODE;
		if (e->child & CHILD_DECIDES)
			best = node;
	}

	if (best == NO_NODE) {
		*out = (ruleset_match_t){
			.kind = RULESET_MATCH_NONE, .labels = -1, .index = SIZE_MAX};
		return 0;
	}
	const node_t *bn = &t->nodes[best];
	if (bn->rule != NO_RULE) {
		/* F-9: an explicit rule for exactly a reserved domain beats it. */
		const rule_t *r = &t->rules[bn->rule];
		*out = (ruleset_match_t){
			.kind = RULESET_MATCH_USER,
			.value = r->value,
			.domain = t->text + r->domain,
			.labels = bn->depth,
			.index = bn->rule,
		};
	} else {
		/* F-9: a reserved domain longer than any matching user rule. */
		*out = (ruleset_match_t){
			.kind = RULESET_MATCH_RESERVED,
			.domain = rulesets_reserved_table[bn->reserved],
			.labels = bn->depth,
			.index = bn->reserved,
		};
	}
	return 0;
}

int ruleset_matcher_match_text(const ruleset_matcher_t *m, const char *qname_text,
			       ruleset_match_t *out)
{
	PR_REQUIRE(m && qname_text && out);
	uint8_t wire[DNS_NAME_MAXLEN];
	if (dns_name_from_text(qname_text, wire, NULL, NULL) != 0)
		return PR_EPARSE;
	return ruleset_matcher_match(m, wire, out);
}

/* ---- Inspecting -------------------------------------------------------------- */

size_t ruleset_matcher_count(const ruleset_matcher_t *m)
{
	PR_REQUIRE(m);
	return m->t.nrules;
}

bool ruleset_matcher_has_reserved(const ruleset_matcher_t *m)
{
	PR_REQUIRE(m);
	return m->with_reserved;
}

int ruleset_matcher_get(const ruleset_matcher_t *m, size_t i, const char **domain,
			const void **value)
{
	PR_REQUIRE(m);
	if (i >= m->t.nrules)
		return PR_ENOTFOUND;
	if (domain)
		*domain = m->t.text + m->t.rules[i].domain;
	if (value)
		*value = m->t.rules[i].value;
	return 0;
}

size_t ruleset_reserved_count(void)
{
	return rulesets_reserved_table_len;
}

const char *ruleset_reserved_domain(size_t i)
{
	return i < rulesets_reserved_table_len ? rulesets_reserved_table[i] : NULL;
}

const char *ruleset_match_kind_name(ruleset_match_kind_t kind)
{
	switch (kind) {
	case RULESET_MATCH_NONE:
		return "none";
	case RULESET_MATCH_USER:
		return "user";
	case RULESET_MATCH_RESERVED:
		return "reserved";
	}
	return "unknown";
}
