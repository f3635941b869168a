/*
 * The DNS security policy matcher (S-1..S-3).
 *
 * Domain lists are compiled once per set into one blob of entries (the
 * lowercase wire name with what a verdict reports about it) and one text blob
 * of canonical names. Each policy then gets an open-addressing table from
 * domain to (entry, rule, priority): its enabled rules are visited in priority
 * order and a domain keeps the first rule that names it, i.e. the lowest
 * priority number (S-3), so at query time one probe per suffix of the name
 * says which rule, if any, that suffix triggers; the lowest number over all
 * suffixes decides.
 *
 * The hash of a name is built from its rightmost label to its leftmost, one
 * label at a time, so a query computes the hashes of all its suffixes in one
 * pass. Slots keep the full 64-bit hash and the name is compared exactly on a
 * hash hit, so a collision costs a comparison, never a wrong verdict.
 */
#include "policies/policies.h"

#include <stdlib.h>
#include <string.h>

#define SEED 0x243f6a8885a308d3ull
/* Labels are hashed eight octets at a time: the name buffer keeps this many
 * readable zero octets past its end. */
#define SLACK 8
/* A 255-octet wire name holds at most 127 labels. */
#define MAX_LABELS 127
#define EMPTY 0u
#define NOT_COMPILED UINT32_MAX

/*
 * A compiled domain is one entry of the entries blob: everything a query
 * reads about it in one place, so a hit costs one cache miss past its slot:
 *   u32 text (offset into the text blob), u32 list (index into the
 *   deployment's domain lists), u8 labels, u8 wire length (root octet
 *   included: 1 for "."), then the lowercase wire name.
 */
#define ENT_TEXT 0
#define ENT_LIST 4
#define ENT_LABELS 8
#define ENT_WIRE_LEN 9
#define ENT_WIRE 10

/* What building needs about a domain; dropped once the tables are filled. */
typedef struct domain {
	uint64_t hash;
	uint32_t ent; /* offset of its entry */
	uint8_t labels;
} domain_t;

typedef struct slot {
	uint64_t hash;
	uint32_t ent;      /* offset + 1 of its entry; EMPTY for a free slot */
	uint16_t rule;     /* index into the policy's rules */
	uint16_t priority; /* that rule's (S-1: 100..65000), so a probe that cannot
			    * win is decided within the slot */
} slot_t;

typedef struct rule {
	const char *name; /* in the set's arena */
	int priority;
	int index; /* in the policy's dnsSecurityRules */
	model_action_t action;
	model_block_response_t block_response;
} rule_t;

typedef struct policy {
	const char *name;
	bool audit; /* S-4: Block rules say WOULD_BLOCK */
	rule_t *rules; /* enabled rules only, by ascending priority */
	size_t n_rules;
	slot_t *slots;
	size_t mask; /* slots - 1; slots is a power of two, at most half full */
	size_t n_domains;
	int max_labels;   /* labels of its longest domain: longer suffixes can't hit */
	int min_priority; /* its best rule: a hit of it ends the walk */
} policy_t;

struct policy_set {
	policy_t *policies;
	size_t n_policies;
	domain_t *domains; /* while building only */
	size_t n_domains, domains_cap;
	uint8_t *ent; /* entries */
	size_t ent_len, ent_cap;
	char *text;
	size_t text_len, text_cap;
	const char **list_names; /* per deployment domain list, in the arena */
	uint32_t *list_first;    /* first domain record of a compiled list, or NOT_COMPILED */
	uint32_t *list_count;    /* its domain records (contiguous) */
	size_t n_lists;
	pr_arena_t *arena;
};

/* ---- hashing --------------------------------------------------------------- */

static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 31;
	return h;
}

/* The hash of label.parent from the hash of parent. p points to the label's
 * length octet, lowercase, with SLACK readable octets after the name. */
static inline uint64_t hash_label(uint64_t h, const uint8_t *p)
{
	size_t n = (size_t)p[0] + 1;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = mix(h, w);
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, p, 8);
		/* Only the label's own octets count: the rest belong to the next label. */
		w &= (~0ull) >> (64 - 8 * n);
		h = mix(h, w ^ ((uint64_t)n << 59));
	}
	return h;
}

static inline size_t slot_of(uint64_t h, size_t mask)
{
	return (size_t)((h * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/*
 * Copy a wire name into buf (DNS_NAME_MAXLEN + SLACK octets) in lowercase
 * (W-5), recording where each label starts. Returns the label count (root not
 * counted) with *len the wire length, or -1 for a malformed name (a label
 * length with the compression bits, or a name past 255 octets).
 */
static int name_load(const uint8_t *wire, uint8_t *buf, uint8_t *offs, size_t *len)
{
	size_t pos = 0;
	int labels = 0;
	for (;;) {
		uint8_t l = wire[pos];
		buf[pos] = l;
		if (l == 0)
			break;
		/* Room for the label and the root octet after it: a read never
		 * goes past 255 octets. */
		if (l > DNS_LABEL_MAXLEN || pos + 1 + l + 1 > DNS_NAME_MAXLEN)
			return -1;
		offs[labels++] = (uint8_t)pos;
		for (size_t i = 1; i <= l; i++) {
			uint8_t c = wire[pos + i];
			buf[pos + i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
		}
		pos += 1 + (size_t)l;
	}
	*len = pos + 1;
	memset(buf + *len, 0, SLACK);
	return labels;
}

/* The hash of a whole name, as the walk of policy_evaluate() computes it. */
static uint64_t hash_name(const uint8_t *buf, const uint8_t *offs, int labels)
{
	uint64_t h = SEED;
	for (int i = labels - 1; i >= 0; i--)
		h = hash_label(h, buf + offs[i]);
	return h;
}

/* ---- building -------------------------------------------------------------- */

static int compile_list(policy_set_t *s, const deployment_t *d, int li, pr_diag_t *diag)
{
	const model_domain_list_t *dl = &d->domain_lists[li];
	pr_grow(&s->domains, &s->domains_cap, s->n_domains + dl->n_domains, sizeof(domain_t));
	s->list_first[li] = (uint32_t)s->n_domains;
	int ret = 0;
	for (size_t j = 0; j < dl->n_domains; j++) {
		uint8_t buf[DNS_NAME_MAXLEN + SLACK], offs[MAX_LABELS];
		uint8_t wire[DNS_NAME_MAXLEN];
		dns_name_info_t info;
		const char *why = NULL;
		size_t len = 0;
		int labels = -1;
		if (dns_name_from_text(dl->domains[j], wire, &info, &why) == 0)
			labels = name_load(wire, buf, offs, &len);
		if (labels < 0) {
			/* The validator canonicalised every domain (S-1); a name that
			 * does not parse here is reported, not trusted. */
			if (diag)
				pr_diag_add(diag, d->file, 0, 0, dl->origin.path, "S-1",
					    PR_ECONFIG, "domain '%s' is not a domain name: %s",
					    dl->domains[j], why ? why : "malformed");
			ret = PR_ECONFIG;
			continue;
		}
		char text[DNS_NAME_TEXT_MAX];
		int tl = dns_name_to_text(buf, text, sizeof(text));
		if (tl < 0)
			return tl;
		/* Slots address entries in 32 bits (offset + 1). */
		if (s->ent_len + ENT_WIRE + len >= UINT32_MAX ||
		    s->text_len + (size_t)tl >= UINT32_MAX)
			return PR_ELIMIT;
		domain_t *dom = &s->domains[s->n_domains++];
		dom->hash = hash_name(buf, offs, labels);
		dom->ent = (uint32_t)s->ent_len;
		dom->labels = (uint8_t)labels;
		uint32_t text_off = (uint32_t)s->text_len, list = (uint32_t)li;
		pr_grow(&s->ent, &s->ent_cap, s->ent_len + ENT_WIRE + len, 1);
		uint8_t *e = s->ent + s->ent_len;
		memcpy(e + ENT_TEXT, &text_off, 4);
		memcpy(e + ENT_LIST, &list, 4);
		e[ENT_LABELS] = (uint8_t)labels;
		e[ENT_WIRE_LEN] = (uint8_t)len;
		memcpy(e + ENT_WIRE, buf, len);
		s->ent_len += ENT_WIRE + len;
		pr_grow(&s->text, &s->text_cap, s->text_len + (size_t)tl + 1, 1);
		memcpy(s->text + s->text_len, text, (size_t)tl + 1);
		s->text_len += (size_t)tl + 1;
		s->list_count[li]++;
	}
	return ret;
}

static int by_priority(const void *a, const void *b)
{
	const rule_t *x = a, *y = b;
	return (x->priority > y->priority) - (x->priority < y->priority);
}

/* Does (non-empty) slot sl hold exactly this name? */
static inline bool slot_is(const policy_set_t *s, const slot_t *sl, const uint8_t *name,
			   size_t len)
{
	const uint8_t *e = s->ent + sl->ent - 1;
	return e[ENT_WIRE_LEN] == len && memcmp(e + ENT_WIRE, name, len) == 0;
}

/* The slot that holds dom's name in p, or the free slot where it goes. */
static slot_t *find_slot(const policy_set_t *s, const policy_t *p, uint64_t h,
			 const uint8_t *name, size_t len)
{
	for (size_t i = slot_of(h, p->mask);; i = (i + 1) & p->mask) {
		slot_t *sl = &p->slots[i];
		if (sl->ent == EMPTY || (sl->hash == h && slot_is(s, sl, name, len)))
			return sl;
	}
}

static void compile_policy(policy_set_t *s, const deployment_t *d, const model_policy_t *mp,
			   policy_t *p)
{
	p->name = pr_arena_strdup(s->arena, mp->name);
	p->audit = mp->mode == MODEL_POLICY_AUDIT;
	p->rules = pr_arena_alloc(s->arena, (mp->n_rules ? mp->n_rules : 1) * sizeof(rule_t));
	size_t candidates = 0;
	for (size_t j = 0; j < mp->n_rules; j++) {
		const model_security_rule_t *mr = &mp->rules[j];
		if (!mr->enabled)
			continue; /* S-1: a disabled rule takes no part */
		rule_t *r = &p->rules[p->n_rules++];
		r->name = pr_arena_strdup(s->arena, mr->name);
		r->priority = mr->priority;
		r->index = (int)j;
		r->action = mr->action;
		r->block_response = mr->block_response;
		for (size_t k = 0; k < mr->n_lists; k++)
			if (mr->lists[k] >= 0)
				candidates += d->domain_lists[mr->lists[k]].n_domains;
	}
	qsort(p->rules, p->n_rules, sizeof(rule_t), by_priority);
	p->min_priority = p->n_rules ? p->rules[0].priority : 0;

	size_t n = 16;
	while (n < 2 * candidates)
		n *= 2;
	p->slots = pr_calloc(n, sizeof(slot_t));
	p->mask = n - 1;
	/* S-3: rules by ascending priority, first rule to name a domain keeps it. */
	for (size_t r = 0; r < p->n_rules; r++) {
		const model_security_rule_t *mr = &mp->rules[p->rules[r].index];
		for (size_t k = 0; k < mr->n_lists; k++) {
			int li = mr->lists[k];
			if (li < 0 || s->list_first[li] == NOT_COMPILED)
				continue;
			uint32_t first = s->list_first[li];
			for (uint32_t di = first; di < first + s->list_count[li]; di++) {
				const domain_t *dom = &s->domains[di];
				const uint8_t *e = s->ent + dom->ent;
				slot_t *sl = find_slot(s, p, dom->hash, e + ENT_WIRE,
						       e[ENT_WIRE_LEN]);
				if (sl->ent != EMPTY)
					continue;
				sl->hash = dom->hash;
				sl->ent = dom->ent + 1;
				sl->rule = (uint16_t)r;
				sl->priority = (uint16_t)p->rules[r].priority;
				p->n_domains++;
				if (dom->labels > p->max_labels)
					p->max_labels = dom->labels;
			}
		}
	}
}

int policy_set_build(const deployment_t *d, policy_set_t **out, pr_diag_t *diag)
{
	PR_REQUIRE(d && out);
	policy_set_t *s = pr_calloc(1, sizeof(*s));
	int ret = 0;
	s->arena = pr_arena_new(4096);
	s->n_lists = d->n_domain_lists;
	s->list_first = pr_malloc((s->n_lists ? s->n_lists : 1) * sizeof(uint32_t));
	s->list_count = pr_calloc(s->n_lists ? s->n_lists : 1, sizeof(uint32_t));
	s->list_names = pr_arena_alloc(s->arena, (s->n_lists ? s->n_lists : 1) * sizeof(char *));
	for (size_t i = 0; i < s->n_lists; i++) {
		s->list_first[i] = NOT_COMPILED;
		s->list_names[i] = pr_arena_strdup(s->arena, d->domain_lists[i].name);
	}
	/* Only the lists an enabled rule names are compiled, each once, whatever
	 * the number of rules and policies naming it. */
	for (size_t i = 0; i < d->n_policies; i++)
		for (size_t j = 0; j < d->policies[i].n_rules; j++) {
			const model_security_rule_t *r = &d->policies[i].rules[j];
			if (!r->enabled)
				continue;
			for (size_t k = 0; k < r->n_lists; k++) {
				int li = r->lists[k];
				if (li < 0 || (size_t)li >= s->n_lists)
					continue;
				if (s->list_first[li] != NOT_COMPILED)
					continue;
				int err = compile_list(s, d, li, diag);
				if (err && !ret)
					ret = err;
			}
		}
	if (ret)
		goto cleanup;

	/* Slots hold a rule index and a priority in 16 bits each: far above the
	 * contract's 1000 rules (S-1) and 65000, but a limits: override or an
	 * unvalidated deployment must not wrap them. */
	for (size_t i = 0; i < d->n_policies; i++) {
		const model_policy_t *mp = &d->policies[i];
		bool bad = mp->n_rules > UINT16_MAX;
		for (size_t j = 0; !bad && j < mp->n_rules; j++)
			bad = mp->rules[j].priority < 0 || mp->rules[j].priority > UINT16_MAX;
		if (bad) {
			if (diag)
				pr_diag_add(diag, d->file, 0, 0, mp->origin.path, "S-1", PR_ELIMIT,
					    "%zu rules with priorities %d..%d are what a policy "
					    "can hold",
					    (size_t)UINT16_MAX, MODEL_POLICY_PRIORITY_MIN,
					    MODEL_POLICY_PRIORITY_MAX);
			ret = PR_ELIMIT;
			goto cleanup;
		}
	}
	s->n_policies = d->n_policies;
	s->policies = pr_calloc(s->n_policies ? s->n_policies : 1, sizeof(policy_t));
	for (size_t i = 0; i < d->n_policies; i++)
		compile_policy(s, d, &d->policies[i], &s->policies[i]);
	free(s->domains);
	s->domains = NULL;
	s->n_domains = s->domains_cap = 0;
	*out = s;
	s = NULL;
cleanup:
	policy_set_destroy(&s);
	return ret;
}

void policy_set_destroy(policy_set_t **sp)
{
	if (!sp || !*sp)
		return;
	policy_set_t *s = *sp;
	for (size_t i = 0; i < s->n_policies; i++)
		free(s->policies[i].slots);
	free(s->policies);
	free(s->domains);
	free(s->ent);
	free(s->text);
	free(s->list_first);
	free(s->list_count);
	pr_arena_destroy(&s->arena);
	free(s);
	*sp = NULL;
}

/* ---- evaluating ------------------------------------------------------------ */

static void verdict_none(policy_verdict_t *v)
{
	*v = (policy_verdict_t){
		.action = POLICY_NONE,
		.block_response = MODEL_BLOCK_CNAME,
		.rule_index = -1,
		.domain_labels = -1,
		.list_index = -1,
	};
}

int policy_evaluate(const policy_set_t *s, int policy_index, const uint8_t *qname_wire,
		    policy_verdict_t *out)
{
	PR_REQUIRE(s && qname_wire && out);
	PR_REQUIRE(policy_index >= -1 && policy_index < (int)s->n_policies);
	if (policy_index < -1 || policy_index >= (int)s->n_policies)
		return -EINVAL;
	uint8_t buf[DNS_NAME_MAXLEN + SLACK], offs[MAX_LABELS];
	size_t len = 0;
	int labels = name_load(qname_wire, buf, offs, &len);
	if (labels < 0)
		return PR_EPARSE;
	if (policy_index < 0 || s->policies[policy_index].n_domains == 0) {
		verdict_none(out);
		return 0;
	}
	const policy_t *p = &s->policies[policy_index];

	/* The hashes of every suffix that can hit (none longer than the longest
	 * domain); their slots are prefetched together so that with large lists
	 * the cache misses overlap instead of queueing. */
	int depth = labels < p->max_labels ? labels : p->max_labels;
	uint64_t hs[MAX_LABELS + 1];
	hs[0] = SEED;
	for (int k = 1; k <= depth; k++)
		hs[k] = hash_label(hs[k - 1], buf + offs[labels - k]);
	for (int k = 0; k <= depth; k++)
		__builtin_prefetch(&p->slots[slot_of(hs[k], p->mask)]);

	/* S-3: the lowest priority number over all suffixes wins. Longest suffix
	 * first, so on a tie (one rule, two of its domains) the longer domain is
	 * the one reported, and a hit of the policy's best rule ends the walk. A
	 * name is compared only when its slot would improve the verdict. */
	const slot_t *best = NULL;
	for (int k = depth; k >= 0; k--) {
		const uint8_t *name = k ? buf + offs[labels - k] : buf + len - 1;
		size_t nlen = (size_t)(buf + len - name);
		for (size_t i = slot_of(hs[k], p->mask);; i = (i + 1) & p->mask) {
			const slot_t *sl = &p->slots[i];
			if (sl->ent == EMPTY)
				break;
			if (sl->hash != hs[k] || (best && sl->priority >= best->priority))
				continue;
			if (slot_is(s, sl, name, nlen)) {
				best = sl;
				break;
			}
		}
		if (best && best->priority == p->min_priority)
			break; /* nothing can beat the policy's best rule */
	}
	if (!best) {
		verdict_none(out);
		return 0;
	}
	const rule_t *r = &p->rules[best->rule];
	const uint8_t *e = s->ent + best->ent - 1;
	uint32_t text_off, list;
	memcpy(&text_off, e + ENT_TEXT, 4);
	memcpy(&list, e + ENT_LIST, 4);
	static const policy_action_t actions[] = {
		[MODEL_ACTION_ALLOW] = POLICY_ALLOW,
		[MODEL_ACTION_ALERT] = POLICY_ALERT,
		[MODEL_ACTION_BLOCK] = POLICY_BLOCK,
	};
	policy_action_t action = actions[r->action];
	if (action == POLICY_BLOCK && p->audit)
		action = POLICY_WOULD_BLOCK; /* S-4 */
	*out = (policy_verdict_t){
		.action = action,
		.block_response = r->action == MODEL_ACTION_BLOCK ? r->block_response
								  : MODEL_BLOCK_CNAME,
		.rule = r->name,
		.priority = r->priority,
		.rule_index = r->index,
		.domain = s->text + text_off,
		.domain_labels = e[ENT_LABELS],
		.list = s->list_names[list],
		.list_index = (int)list,
	};
	return 0;
}

int policy_evaluate_text(const policy_set_t *s, int policy_index, const char *qname_text,
			 policy_verdict_t *out)
{
	PR_REQUIRE(qname_text);
	uint8_t wire[DNS_NAME_MAXLEN];
	if (dns_name_from_text(qname_text, wire, NULL, NULL) != 0)
		return PR_EPARSE;
	return policy_evaluate(s, policy_index, wire, out);
}

/* ---- inspecting ------------------------------------------------------------ */

size_t policy_set_count(const policy_set_t *s)
{
	PR_REQUIRE(s);
	return s->n_policies;
}

const char *policy_set_name(const policy_set_t *s, size_t i)
{
	PR_REQUIRE(s);
	return i < s->n_policies ? s->policies[i].name : NULL;
}

size_t policy_set_domain_count(const policy_set_t *s, size_t i)
{
	PR_REQUIRE(s);
	return i < s->n_policies ? s->policies[i].n_domains : 0;
}

const char *policy_action_name(policy_action_t a)
{
	switch (a) {
	case POLICY_ALLOW:
		return "allow";
	case POLICY_ALERT:
		return "alert";
	case POLICY_BLOCK:
		return "block";
	case POLICY_WOULD_BLOCK:
		return "would-block";
	case POLICY_NONE:
		break;
	}
	return "none";
}
