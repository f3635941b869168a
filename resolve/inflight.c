/*
 * Questions in flight outside privres, process-wide: the P-3 counts and the
 * exchanges identical questions join.
 *
 * P-3 through outside servers. Queries come back on any worker (SO_REUSEPORT), so the count is
 * shared: a fixed table of atomic counters, no locks, no allocation per
 * question. Each question counts in two slots chosen by independent halves of
 * its hash and is read as the smaller (a count-min sketch): another question
 * must collide in both slots to make it look busier than it is, so distinct
 * names in flight at once almost never add up to a false loop.
 */
#include <libknot/libknot.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "resolve/resolve_p.h"

#define INFLIGHT_BITS 16
#define INFLIGHT_SLOTS (1u << INFLIGHT_BITS)
#define EXCHANGE_BUCKETS 4096 /* open exchanges are hashed into these … */
#define EXCHANGE_LOCKS 64     /* … guarded by these, bucket modulo */

typedef struct waiter {
	struct waiter *next;
	void (*wake)(void *arg);
	void *arg;
} waiter_t;

/*
 * One question out to an outside target and the queries waiting for its
 * reply. References: the table's while open, the leader's, one per joined
 * query. Fields below `lock` change under the bucket's lock; the key never
 * changes; reply and len are written once, before open turns false, and read
 * by waiters after they were woken (the lock orders both).
 */
struct resolve_exchange {
	atomic_uint refs;
	resolve_inflight_t *t;
	resolve_exchange_t *next; /* bucket chain while open */
	uint64_t hash;
	uint64_t scope;
	uint16_t qtype;
	uint8_t flags;
	uint8_t name_len;
	uint8_t name[DNS_NAME_MAXLEN];
	bool open;
	waiter_t *waiters;
	uint8_t *reply; /* closed: the leader's reply, or NULL */
	size_t len;
};

struct resolve_inflight {
	atomic_uint slots[INFLIGHT_SLOTS];
	pthread_mutex_t locks[EXCHANGE_LOCKS];
	resolve_exchange_t *buckets[EXCHANGE_BUCKETS];
};

resolve_inflight_t *resolve_inflight_new(void)
{
	resolve_inflight_t *t = pr_calloc(1, sizeof(*t));
	for (size_t i = 0; i < INFLIGHT_SLOTS; i++)
		atomic_init(&t->slots[i], 0);
	for (size_t i = 0; i < EXCHANGE_LOCKS; i++)
		PR_REQUIRE(pthread_mutex_init(&t->locks[i], NULL) == 0);
	return t;
}

void resolve_inflight_destroy(resolve_inflight_t **tp)
{
	if (!tp || !*tp)
		return;
	resolve_inflight_t *t = *tp;
	*tp = NULL;
	/* Every query is freed by now, and a query closes what it leads. */
	for (size_t i = 0; i < EXCHANGE_BUCKETS; i++)
		PR_REQUIRE(t->buckets[i] == NULL);
	for (size_t i = 0; i < EXCHANGE_LOCKS; i++)
		pthread_mutex_destroy(&t->locks[i]);
	free(t);
}

uint64_t inflight_hash(const uint8_t *name_lower, uint16_t qtype)
{
	uint64_t h = PR_HASH_INIT;
	h = pr_hash_bytes(h, &qtype, sizeof(qtype));
	h = pr_hash_bytes(h, name_lower, knot_dname_size(name_lower));
	return pr_hash_final(h);
}

static size_t slot_a(uint64_t h)
{
	return (size_t)(h & (INFLIGHT_SLOTS - 1));
}

/* Never slot_a's: one question must not count twice in one slot. */
static size_t slot_b(uint64_t h)
{
	size_t b = (size_t)((h >> 32) & (INFLIGHT_SLOTS - 1));
	return b == slot_a(h) ? b ^ 1 : b;
}

uint32_t inflight_count(const resolve_inflight_t *t, uint64_t h)
{
	/* The table is only ever changed through atomics; reading needs no write. */
	atomic_uint *slots = (atomic_uint *)t->slots;
	unsigned a = atomic_load_explicit(&slots[slot_a(h)], memory_order_relaxed);
	unsigned b = atomic_load_explicit(&slots[slot_b(h)], memory_order_relaxed);
	return a < b ? a : b;
}

void inflight_enter(resolve_inflight_t *t, uint64_t h)
{
	atomic_fetch_add_explicit(&t->slots[slot_a(h)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->slots[slot_b(h)], 1, memory_order_relaxed);
}

void inflight_leave(resolve_inflight_t *t, uint64_t h)
{
	atomic_fetch_sub_explicit(&t->slots[slot_a(h)], 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&t->slots[slot_b(h)], 1, memory_order_relaxed);
}

uint32_t resolve_inflight_count(const resolve_inflight_t *t, const uint8_t *name, uint16_t qtype)
{
	PR_REQUIRE(t && name);
	uint8_t lower[DNS_NAME_MAXLEN];
	size_t n = knot_dname_size(name);
	PR_REQUIRE(n > 0 && n <= sizeof(lower));
	memcpy(lower, name, n);
	dns_name_lower(lower);
	return inflight_count(t, inflight_hash(lower, qtype));
}

/* ---- Exchanges (Q-6) -------------------------------------------------------------- */

static size_t bucket_of(uint64_t h)
{
	return (size_t)(h >> 20) & (EXCHANGE_BUCKETS - 1);
}

static pthread_mutex_t *lock_of(resolve_inflight_t *t, uint64_t h)
{
	return &t->locks[bucket_of(h) % EXCHANGE_LOCKS];
}

static bool same_key(const resolve_exchange_t *x, const rs_cache_key_t *k, uint64_t h)
{
	size_t nlen = knot_dname_size(k->name);
	return x->hash == h && x->scope == k->scope && x->qtype == k->qtype &&
	       x->flags == k->flags && x->name_len == nlen && memcmp(x->name, k->name, nlen) == 0;
}

resolve_exchange_t *exchange_open_or_join(resolve_inflight_t *t, const rs_cache_key_t *k,
					  uint64_t h, bool may_join, bool *leader)
{
	PR_REQUIRE(t && k && leader);
	resolve_exchange_t **head = &t->buckets[bucket_of(h)];
	pthread_mutex_t *lock = lock_of(t, h);
	pthread_mutex_lock(lock);
	resolve_exchange_t *x = *head;
	while (x && !same_key(x, k, h))
		x = x->next;
	if (x) {
		if (may_join)
			atomic_fetch_add_explicit(&x->refs, 1, memory_order_relaxed);
		else
			x = NULL;
		pthread_mutex_unlock(lock);
		*leader = false;
		return x;
	}
	x = pr_calloc(1, sizeof(*x));
	atomic_init(&x->refs, 2); /* the table's and the leader's */
	x->t = t;
	x->hash = h;
	x->scope = k->scope;
	x->qtype = k->qtype;
	x->flags = k->flags;
	x->name_len = (uint8_t)knot_dname_size(k->name);
	memcpy(x->name, k->name, x->name_len);
	x->open = true;
	x->next = *head;
	*head = x;
	pthread_mutex_unlock(lock);
	*leader = true;
	return x;
}

void exchange_unref(resolve_exchange_t **xp)
{
	if (!xp || !*xp)
		return;
	resolve_exchange_t *x = *xp;
	*xp = NULL;
	if (atomic_fetch_sub_explicit(&x->refs, 1, memory_order_acq_rel) != 1)
		return;
	PR_REQUIRE(!x->open && !x->waiters);
	free(x->reply);
	free(x);
}

void exchange_close(resolve_exchange_t *x, const uint8_t *reply, size_t len)
{
	PR_REQUIRE(x);
	/* Copied before the lock: waiters only read it once woken. */
	uint8_t *copy = NULL;
	if (reply && len) {
		copy = pr_malloc(len);
		memcpy(copy, reply, len);
	}
	pthread_mutex_t *lock = lock_of(x->t, x->hash);
	pthread_mutex_lock(lock);
	PR_REQUIRE(x->open);
	resolve_exchange_t **pp = &x->t->buckets[bucket_of(x->hash)];
	while (*pp != x)
		pp = &(*pp)->next;
	*pp = x->next;
	x->next = NULL;
	x->open = false;
	x->reply = copy;
	x->len = copy ? len : 0;
	/* Woken under the lock: a waiter that leaves at the same time learns
	 * afterwards that its news has been handed over (resolve_exchange_leave). */
	waiter_t *w = x->waiters;
	x->waiters = NULL;
	while (w) {
		waiter_t *next = w->next;
		w->wake(w->arg);
		free(w);
		w = next;
	}
	pthread_mutex_unlock(lock);
	exchange_unref(&x); /* the table's */
}

int resolve_exchange_wait(resolve_exchange_t *x, void (*wake)(void *arg), void *arg,
			  void **token)
{
	PR_REQUIRE(x && wake && token);
	waiter_t *w = pr_malloc(sizeof(*w));
	*w = (waiter_t){.wake = wake, .arg = arg};
	pthread_mutex_t *lock = lock_of(x->t, x->hash);
	pthread_mutex_lock(lock);
	bool open = x->open;
	if (open) {
		w->next = x->waiters;
		x->waiters = w;
	}
	pthread_mutex_unlock(lock);
	if (!open) {
		free(w);
		return 1;
	}
	*token = w;
	return 0;
}

bool resolve_exchange_leave(resolve_exchange_t *x, void *token)
{
	PR_REQUIRE(x);
	pthread_mutex_t *lock = lock_of(x->t, x->hash);
	pthread_mutex_lock(lock);
	bool found = false;
	for (waiter_t **pp = &x->waiters; *pp; pp = &(*pp)->next)
		if (*pp == token) {
			*pp = ((waiter_t *)token)->next;
			found = true;
			break;
		}
	pthread_mutex_unlock(lock);
	if (found)
		free(token);
	return found;
}

const uint8_t *resolve_exchange_reply(const resolve_exchange_t *x, size_t *len)
{
	PR_REQUIRE(x && len);
	pthread_mutex_t *lock = lock_of(x->t, x->hash);
	pthread_mutex_lock(lock);
	bool open = x->open;
	pthread_mutex_unlock(lock);
	PR_REQUIRE(!open);
	*len = x->len;
	return x->reply;
}
