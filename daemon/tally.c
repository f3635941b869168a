/* Per-worker tallies of what the counter table can't hold: queries by
 * listener, transport and rcode, latency by listener, forwards by rule and
 * target, policy verdicts. Each worker writes only its own tally (relaxed
 * atomic loads and stores, no lock, no read-modify-write); a scrape sums the
 * workers' tallies. A full table counts the query in `overflow`. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_p.h"
#include "dns/dns.h"
#include "policies/policies.h"

#define LISTENER_SLOTS 128 /* a power of two */
#define LABEL_SLOTS 512    /* a power of two */
#define KEY_BYTES 200

/* Upper bounds of the latency buckets, in microseconds. */
static const uint64_t bucket_us[TALLY_BUCKETS] = {100,   250,    500,    1000,    2500,
						   5000,  10000,  25000,  50000,   100000,
						   250000, 500000, 1000000, 2500000, 5000000};

typedef struct listener_slot {
	_Atomic bool used;
	char name[KEY_BYTES];
	_Atomic uint64_t queries[TALLY_TRANSPORTS][TALLY_RCODES];
	_Atomic uint64_t latency[TALLY_BUCKETS + 1]; /* the last: over every bound */
	_Atomic uint64_t latency_sum_us;
} listener_slot_t;

typedef struct label_slot {
	_Atomic bool used;
	tally_kind_t kind;
	char key[KEY_BYTES]; /* label values, NUL-separated */
	_Atomic uint64_t count;
} label_slot_t;

struct tally {
	listener_slot_t *last; /* the slot of the worker's last query: most often the same */
	listener_slot_t listeners[LISTENER_SLOTS];
	label_slot_t labels[LABEL_SLOTS];
	_Atomic uint64_t overflow;
};

tally_t *tally_new(void)
{
	return pr_calloc(1, sizeof(tally_t));
}

void tally_destroy(tally_t **tp)
{
	if (tp) {
		free(*tp);
		*tp = NULL;
	}
}

/* One writer: a relaxed load and store is enough, and costs a plain add. */
static inline void bump(_Atomic uint64_t *c, uint64_t by)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
			      memory_order_relaxed);
}

static uint64_t hash_key(const char *k, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)k[i]) * 1099511628211ull;
	return h;
}

static listener_slot_t *listener_slot(tally_t *t, const char *name)
{
	size_t len = strlen(name);
	if (len >= KEY_BYTES)
		return NULL;
	uint64_t h = hash_key(name, len);
	for (size_t i = 0; i < LISTENER_SLOTS; i++) {
		listener_slot_t *s = &t->listeners[(h + i) & (LISTENER_SLOTS - 1)];
		if (!atomic_load_explicit(&s->used, memory_order_relaxed)) {
			memcpy(s->name, name, len + 1);
			atomic_store_explicit(&s->used, true, memory_order_release);
			return s;
		}
		if (!strcmp(s->name, name))
			return s;
	}
	return NULL;
}

static void count_label(tally_t *t, tally_kind_t kind, const char *key, size_t len)
{
	uint64_t h = hash_key(key, len) ^ (uint64_t)kind;
	for (size_t i = 0; i < LABEL_SLOTS; i++) {
		label_slot_t *s = &t->labels[(h + i) & (LABEL_SLOTS - 1)];
		if (!atomic_load_explicit(&s->used, memory_order_relaxed)) {
			memcpy(s->key, key, len);
			s->kind = kind;
			atomic_store_explicit(&s->used, true, memory_order_release);
		} else if (s->kind != kind || memcmp(s->key, key, len)) {
			continue;
		}
		bump(&s->count, 1);
		return;
	}
	bump(&t->overflow, 1);
}

/* Up to three label values into one key: "a\0b\0c\0". Returns its length, 0
 * when it does not fit. */
static size_t make_key(char *key, const char *a, const char *b, const char *c)
{
	int n = snprintf(key, KEY_BYTES, "%s%c%s%c%s", a, 0, b, 0, c);
	return n > 0 && n < KEY_BYTES ? (size_t)n + 1 : 0;
}

static int rcode_index(int rcode)
{
	if (rcode < 0)
		return TALLY_RCODE_DROPPED;
	if (rcode <= 11)
		return rcode;
	return rcode == 16 ? TALLY_RCODE_BADVERS : TALLY_RCODE_OTHER;
}

/* Forwards by rule and target, policy verdicts by VNet, rule and action. */
static void count_trace(tally_t *t, const resolve_trace_t *tr)
{
	const char *rule = "";
	char key[KEY_BYTES], target[24], ip[16];
	for (size_t i = 0; i < tr->n_steps; i++) {
		const resolve_step_t *st = &tr->steps[i];
		size_t len;
		switch (st->kind) {
		case RESOLVE_STEP_RULE:
			rule = st->rule && st->rule->name ? st->rule->name : "";
			break;
		case RESOLVE_STEP_FORWARD:
		case RESOLVE_STEP_IN_PROCESS:
			snprintf(target, sizeof(target), "%s:%u", pr_ipv4_format(st->address, ip),
				 st->port);
			len = make_key(key, rule, target,
				       st->kind == RESOLVE_STEP_FORWARD ? "outside" : "in-process");
			if (len)
				count_label(t, TALLY_FORWARD, key, len);
			break;
		case RESOLVE_STEP_POLICY:
			len = make_key(key, st->view ? st->view : "",
				       st->policy_rule ? st->policy_rule : "",
				       policy_action_name((policy_action_t)st->policy_action));
			if (len)
				count_label(t, TALLY_POLICY, key, len);
			break;
		default:
			break;
		}
	}
}

void tally_query(tally_t *t, const tally_query_t *q)
{
	const char *name = q->listener ? q->listener : "";
	listener_slot_t *s = t->last && !strcmp(t->last->name, name) ? t->last
								    : listener_slot(t, name);
	t->last = s;
	if (!s) {
		bump(&t->overflow, 1);
		return;
	}
	bump(&s->queries[q->transport][rcode_index(q->rcode)], 1);
	size_t b = 0;
	while (b < TALLY_BUCKETS && q->latency_us > bucket_us[b])
		b++;
	bump(&s->latency[b], 1);
	bump(&s->latency_sum_us, q->latency_us);
	if (q->trace)
		count_trace(t, q->trace);
}

/* ---- at scrape time: sum the workers' tallies ----------------------------------- */

static tally_listener_t *merged_listener(tally_totals_t *o, const char *name)
{
	for (size_t i = 0; i < o->n_listeners; i++)
		if (!strcmp(o->listeners[i].name, name))
			return &o->listeners[i];
	o->listeners = pr_realloc(o->listeners, (o->n_listeners + 1) * sizeof(*o->listeners));
	tally_listener_t *l = &o->listeners[o->n_listeners++];
	*l = (tally_listener_t){0};
	snprintf(l->name, sizeof(l->name), "%s", name);
	return l;
}

static void add_listener(tally_totals_t *o, const listener_slot_t *s)
{
	tally_listener_t *l = merged_listener(o, s->name);
	for (size_t x = 0; x < TALLY_TRANSPORTS; x++)
		for (size_t r = 0; r < TALLY_RCODES; r++)
			l->queries[x][r] += atomic_load_explicit(&s->queries[x][r],
								 memory_order_relaxed);
	for (size_t b = 0; b <= TALLY_BUCKETS; b++)
		l->latency[b] += atomic_load_explicit(&s->latency[b], memory_order_relaxed);
	l->latency_sum_us += atomic_load_explicit(&s->latency_sum_us, memory_order_relaxed);
}

static void add_label(tally_totals_t *o, const label_slot_t *s)
{
	const char *a = s->key, *b = a + strlen(a) + 1, *c = b + strlen(b) + 1;
	uint64_t n = atomic_load_explicit(&s->count, memory_order_relaxed);
	for (size_t i = 0; i < o->n_labels; i++) {
		tally_label_t *l = &o->labels[i];
		if (l->kind == s->kind && !strcmp(l->values[0], a) && !strcmp(l->values[1], b) &&
		    !strcmp(l->values[2], c)) {
			l->count += n;
			return;
		}
	}
	o->labels = pr_realloc(o->labels, (o->n_labels + 1) * sizeof(*o->labels));
	tally_label_t *l = &o->labels[o->n_labels++];
	*l = (tally_label_t){.kind = s->kind, .count = n};
	snprintf(l->values[0], sizeof(l->values[0]), "%s", a);
	snprintf(l->values[1], sizeof(l->values[1]), "%s", b);
	snprintf(l->values[2], sizeof(l->values[2]), "%s", c);
}

void tally_sum(tally_t *const *tallies, size_t n, tally_totals_t *out)
{
	*out = (tally_totals_t){0};
	for (size_t w = 0; w < n; w++) {
		const tally_t *t = tallies[w];
		if (!t)
			continue;
		out->overflow += atomic_load_explicit(&t->overflow, memory_order_relaxed);
		for (size_t i = 0; i < LISTENER_SLOTS; i++)
			if (atomic_load_explicit(&t->listeners[i].used, memory_order_acquire))
				add_listener(out, &t->listeners[i]);
		for (size_t i = 0; i < LABEL_SLOTS; i++)
			if (atomic_load_explicit(&t->labels[i].used, memory_order_acquire))
				add_label(out, &t->labels[i]);
	}
}

void tally_totals_free(tally_totals_t *t)
{
	free(t->listeners);
	free(t->labels);
	*t = (tally_totals_t){0};
}

uint64_t tally_bucket_us(size_t b)
{
	return b < TALLY_BUCKETS ? bucket_us[b] : 0;
}

/* The rcode's name as the query log words it (dns/), or dropped / other. */
const char *tally_rcode_label(size_t r, char *buf, size_t cap)
{
	if (r == TALLY_RCODE_DROPPED)
		return "dropped";
	if (r == TALLY_RCODE_OTHER)
		return "other";
	return dns_rcode_name(r == TALLY_RCODE_BADVERS ? 16 : (int)r, buf, cap);
}
