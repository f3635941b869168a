/*
 * The forwarding-rule matcher (F-8, F-9): a label trie whose edges are one
 * open-addressing hash table keyed by (parent node, lowercase label). A match
 * walks the query's labels from the right, one probe per label, remembering
 * the deepest node that holds a rule or a reserved domain; its cost depends on
 * the query's labels, not on how many rules there are (F-8).
 */
#include "rulesets/rulesets.h"

#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "dns/dns.h"
#include "rulesets/rulesets_p.h"

#define NO_RULE UINT32_MAX
#define NO_RESERVED UINT16_MAX
#define NO_NODE UINT32_MAX
#define ROOT 0u
/* A 255-octet wire name holds at most 127 labels (each takes two octets or more). */
#define MAX_LABELS 127
/* A label and the zero padding the word-wise hash reads past its end. */
#define LABEL_BUF (DNS_LABEL_MAXLEN + 8)
#define EDGES_MIN 16

typedef struct node {
	uint32_t rule;     /* index into rules, or NO_RULE */
	uint16_t reserved; /* index into rulesets_reserved_table, or NO_RESERVED */
	uint16_t depth;    /* labels from the root: the matched domain's label count */
} node_t;

typedef struct edge {
	uint32_t hash;
	uint32_t parent;
	uint32_t child; /* 0 marks an empty slot: the root is nobody's child */
	uint32_t label; /* offset into labels: a length octet, then lowercase octets */
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
	uint8_t *labels;
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
};

/* ---- Names -------------------------------------------------------------------- */

/* Split an uncompressed wire name into label pointers (left to right). Returns
 * the label count or PR_EPARSE. Reads no octet past the 255th, so a query name
 * handed over unchecked cannot take the hot path out of bounds (W-3). */
static int split_labels(const uint8_t *wire, const uint8_t **offs)
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
		offs[n++] = wire + pos;
		pos += (size_t)len + 1;
	}
	return n;
}

static inline uint8_t lower_octet(uint8_t c)
{
	/* W-5: ASCII case folding only (RFC 4343); other octets compare as they are. */
	return (uint8_t)(c + (((unsigned)c - 'A' < 26u) << 5));
}

/* Lowercase label l (length octet first) into buf, zero-padded for the hash,
 * and hash it together with its parent node. Returns the label length. */
static inline uint8_t lower_and_hash(const uint8_t *l, uint32_t parent, uint8_t *buf,
				     uint32_t *hash)
{
	uint8_t len = l[0];
	for (uint8_t i = 0; i < len; i++)
		buf[i] = lower_octet(l[1 + i]);
	memset(buf + len, 0, 8);
	uint64_t h = ((uint64_t)parent + 1) * 0x9E3779B97F4A7C15ull ^ len;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t w;
		memcpy(&w, buf + i, 8);
		h ^= w;
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	h *= 0xc4ceb9fe1a85ec53ull;
	*hash = (uint32_t)(h >> 32);
	return len;
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
	if (n == 0)
		return NULL;
	void *p = pr_malloc(n * elem);
	memcpy(p, src, n * elem);
	return p;
}

/* dst gets its own copy of src, sized exactly (a matcher never grows). */
static void table_copy(table_t *dst, const table_t *src)
{
	*dst = (table_t){
		.nodes = copy_array(src->nodes, src->nnodes, sizeof(*src->nodes)),
		.nnodes = src->nnodes,
		.nodes_cap = src->nnodes,
		.edges = copy_array(src->edges, src->edges_len, sizeof(*src->edges)),
		.edges_len = src->edges_len,
		.nedges = src->nedges,
		.labels = copy_array(src->labels, src->labels_len, 1),
		.labels_len = src->labels_len,
		.labels_cap = src->labels_len,
		.rules = copy_array(src->rules, src->nrules, sizeof(*src->rules)),
		.nrules = src->nrules,
		.rules_cap = src->nrules,
		.text = copy_array(src->text, src->text_len, 1),
		.text_len = src->text_len,
		.text_cap = src->text_len,
	};
}

/* The child of parent by the lowercase label buf/len, or 0. */
static inline uint32_t table_find(const table_t *t, uint32_t parent, const uint8_t *buf,
				  uint8_t len, uint32_t hash)
{
	size_t mask = t->edges_len - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		const edge_t *e = &t->edges[i];
		if (e->child == 0)
			return 0;
		if (e->hash == hash && e->parent == parent) {
			const uint8_t *l = t->labels + e->label;
			if (l[0] == len && memcmp(l + 1, buf, len) == 0)
				return e->child;
		}
	}
}

static void table_place(edge_t *edges, size_t edges_len, const edge_t *e)
{
	size_t mask = edges_len - 1;
	size_t i = e->hash & mask;
	while (edges[i].child != 0)
		i = (i + 1) & mask;
	edges[i] = *e;
}

static void table_rehash(table_t *t, size_t edges_len)
{
	edge_t *edges = pr_calloc(edges_len, sizeof(*edges));
	for (size_t i = 0; i < t->edges_len; i++)
		if (t->edges[i].child != 0)
			table_place(edges, edges_len, &t->edges[i]);
	free(t->edges);
	t->edges = edges;
	t->edges_len = edges_len;
}

static uint32_t table_add_child(table_t *t, uint32_t parent, const uint8_t *buf, uint8_t len,
				uint32_t hash)
{
	/* Load factor at most 1/2: linear probing stays short and always ends. */
	if ((t->nedges + 1) * 2 > t->edges_len)
		table_rehash(t, t->edges_len * 2);
	PR_REQUIRE(t->nnodes < UINT32_MAX && t->labels_len + 1 + len < UINT32_MAX);

	uint32_t label = (uint32_t)t->labels_len;
	pr_grow(&t->labels, &t->labels_cap, t->labels_len + 1 + len, 1);
	t->labels[t->labels_len] = len;
	memcpy(t->labels + t->labels_len + 1, buf, len);
	t->labels_len += 1 + (size_t)len;

	uint32_t child = (uint32_t)t->nnodes;
	pr_grow(&t->nodes, &t->nodes_cap, t->nnodes + 1, sizeof(*t->nodes));
	t->nodes[child] = (node_t){
		.rule = NO_RULE,
		.reserved = NO_RESERVED,
		.depth = (uint16_t)(t->nodes[parent].depth + 1),
	};
	t->nnodes++;

	edge_t e = {.hash = hash, .parent = parent, .child = child, .label = label};
	table_place(t->edges, t->edges_len, &e);
	t->nedges++;
	return child;
}

/* The node of a well-formed wire name, created with its ancestors as needed. */
static uint32_t table_insert_path(table_t *t, const uint8_t *wire)
{
	const uint8_t *offs[MAX_LABELS];
	int n = split_labels(wire, offs);
	PR_REQUIRE(n >= 0);
	uint32_t node = ROOT;
	for (int i = n - 1; i >= 0; i--) {
		uint8_t buf[LABEL_BUF];
		uint32_t hash;
		uint8_t len = lower_and_hash(offs[i], node, buf, &hash);
		uint32_t child = table_find(t, node, buf, len, hash);
		node = child ? child : table_add_child(t, node, buf, len, hash);
	}
	return node;
}

/* Add a user rule for a validated wire name. */
static int table_add_rule(table_t *t, const uint8_t *wire, const void *value)
{
	char text[DNS_NAME_TEXT_MAX];
	int tl = dns_name_to_text(wire, text, sizeof(text));
	if (tl < 0)
		return PR_EPARSE;
	uint32_t node = table_insert_path(t, wire);
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
	const uint8_t *offs[MAX_LABELS];
	int n = split_labels(domain_wire, offs);
	if (n < 0)
		return PR_EPARSE;
	/* Lowercase a copy: the canonical text reported by matches is lowercase
	 * whatever case the caller used (W-5). */
	size_t len = n == 0 ? 1 : (size_t)(offs[n - 1] - domain_wire) + offs[n - 1][0] + 2;
	uint8_t wire[DNS_NAME_MAXLEN];
	memcpy(wire, domain_wire, len);
	dns_name_lower(wire);
	return table_add_rule(&b->t, wire, value);
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
	table_copy(&m->t, &b->t);
	m->with_reserved = with_reserved;
	if (with_reserved) {
		PR_REQUIRE(rulesets_reserved_table_len < NO_RESERVED);
		for (size_t i = 0; i < rulesets_reserved_table_len; i++) {
			uint8_t wire[DNS_NAME_MAXLEN];
			/* Checked by rulesets/CMakeLists.txt: a failure is our bug. */
			int rc = dns_name_from_text(rulesets_reserved_table[i], wire, NULL, NULL);
			PR_REQUIRE(rc == 0);
			uint32_t node = table_insert_path(&m->t, wire);
			/* F-9: the reserved entry sits beside a user rule of the same
			 * domain; the user rule keeps precedence at match time. */
			if (m->t.nodes[node].reserved == NO_RESERVED)
				m->t.nodes[node].reserved = (uint16_t)i;
		}
	}
	*out = m;
	return 0;
}

void ruleset_matcher_destroy(ruleset_matcher_t **mp)
{
	if (!mp || !*mp)
		return;
	table_free(&(*mp)->t);
	free(*mp);
	*mp = NULL;
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
	const uint8_t *offs[MAX_LABELS];
	int n = split_labels(qname_wire, offs);
	if (n < 0)
		return n;

	/* F-8: the deepest node on the query's path that holds a rule wins; "."
	 * (the root) holds the wildcard, which matches every name. */
	uint32_t best = node_decides(&t->nodes[ROOT]) ? ROOT : NO_NODE;
	uint32_t node = ROOT;
	for (int i = n - 1; i >= 0; i--) {
		uint8_t buf[LABEL_BUF];
		uint32_t hash;
		uint8_t len = lower_and_hash(offs[i], node, buf, &hash);
		uint32_t child = table_find(t, node, buf, len, hash);
		if (child == 0)
			break;
		node = child;
		if (node_decides(&t->nodes[node]))
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
