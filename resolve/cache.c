/*
 * The answer cache (Q-6, RFC 2308): one for the whole process, shared by every
 * worker thread, so a name reaches its target once per TTL whatever the
 * number of workers and its TTLs count down the same on every answer.
 *
 * Sharded as Unbound's slabhash is: the key's hash picks one of CACHE_SHARDS
 * shards, each with its own read-write lock, hash table and LRU list.
 * Lookups share the lock: they find the entry, stamp its use and take a
 * reference, and the copy of the reply is made after the lock is released, so
 * readers never wait on each other (a worker descheduled in a lookup stalls
 * nobody). Writers (insert, expiry, eviction) hold it briefly, and the lock
 * prefers them so a steady stream of hits cannot starve an insert: an insert
 * checks and copies the reply before it takes the lock and only links the
 * entry in. Entries are immutable once linked and freed by their last
 * reference, so a reader copying an entry never waits on a writer replacing it.
 *
 * The bound (emulator.cacheEntries and its byte budget) is the whole cache's:
 * the count and bytes are atomics, and room is made by evicting the least
 * recently used entry of the process. A use is a ticket of a process-wide
 * counter, written to the entry (only when another entry was used since, so a
 * hot entry costs no write); the LRU list is ordered by when entries were put
 * at its head, and an evictor gives an entry used since then a second chance
 * at the head (CLOCK). Each shard publishes its tail's ticket and the evictor
 * takes the oldest across shards: exact LRU for one thread, the order of
 * tickets for many.
 *
 * An entry is one allocation: the key's name, the offsets of every TTL in the
 * reply, and the reply as the target sent it. A hit copies the reply into the
 * query's arena and writes each TTL counted down, so the rest of the pipeline
 * sees it exactly as a fresh reply (same parser, same W-5 case and Q-6 header
 * rules) and nothing cached is ever written to.
 *
 * Cached replies are checked by a bounded walk of the wire before they are
 * stored: outside input (W-3) must not make a later hit read out of bounds.
 *
 * Counters: each call counts into the calling worker's rs_counters_t (one
 * writer each). Entries and bytes are counted where they change, so one
 * worker's values may go below zero (it evicted what another inserted); their
 * sum over the workers is the cache's.
 */
#include <libknot/libknot.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "resolve/resolve_p.h"

#define CACHE_SHARDS 16 /* a power of two; shards are picked by the hash's top bits */
#define BUCKETS_MIN 64
#define BUDGET_SLACK 65536 /* room for one TCP-sized reply even in a tiny cache */
#define MAX_TTL_FIELDS 8192 /* RRs in one cached reply; a 64 KiB message holds fewer */
#define NO_TAIL UINT64_MAX

typedef struct centry {
	struct centry *hnext;       /* bucket chain */
	struct centry *prev, *next; /* LRU: head is the most recent */
	atomic_uint refs;           /* 1 while linked, +1 per reader copying it */
	uint64_t hash;
	uint64_t scope;
	uint64_t stored_ms;
	uint64_t expires_ms;
	uint64_t placed;        /* ticket when put at the LRU head (write lock) */
	_Atomic uint64_t used;  /* ticket of the last use (read lock suffices) */
	size_t bytes;  /* what the entry counts against the budget */
	uint16_t qtype;
	uint8_t flags;
	uint8_t name_len; /* ≤ 255 (RFC 1035) */
	uint16_t n_ttl;
	uint16_t len;
	uint8_t data[]; /* uint16_t ttl offsets[n_ttl], name, reply */
} centry_t;

struct walk {
	uint16_t offs[MAX_TTL_FIELDS];
	size_t n_offs;
	uint32_t answer_min;
	size_t answers;
	bool soa;
	uint32_t soa_neg; /* min(SOA TTL, SOA MINIMUM), RFC 2308 §5 */
};
typedef struct walk walk_t;

typedef struct shard {
	pthread_rwlock_t lock;
	centry_t **buckets;
	size_t mask;
	size_t count;
	centry_t *head, *tail;
	_Atomic uint64_t tail_used; /* the LRU tail's ticket, NO_TAIL when empty */
} __attribute__((aligned(64))) shard_t;

struct resolve_cache {
	shard_t shards[CACHE_SHARDS];
	_Atomic uint64_t count; /* entries, every shard */
	_Atomic uint64_t bytes;
	_Atomic uint64_t ticket; /* LRU order across shards */
};

static uint16_t *entry_offsets(centry_t *e)
{
	return (uint16_t *)e->data;
}

static uint8_t *entry_name(centry_t *e)
{
	return e->data + (size_t)e->n_ttl * sizeof(uint16_t);
}

static uint8_t *entry_wire(centry_t *e)
{
	return entry_name(e) + e->name_len;
}

/* One writer per counter (its worker): a relaxed load and store, no lock
 * prefix on the hot path; readers on other threads see whole values. */
static void bump(_Atomic uint64_t *c, int64_t d)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d,
			      memory_order_relaxed);
}

void rs_count(_Atomic uint64_t *c, int64_t d)
{
	bump(c, d);
}

uint64_t rs_cache_key_hash(const rs_cache_key_t *k)
{
	uint64_t h = PR_HASH_INIT;
	h = pr_hash_bytes(h, &k->scope, sizeof(k->scope));
	h = pr_hash_bytes(h, &k->qtype, sizeof(k->qtype));
	h = pr_hash_bytes(h, &k->flags, sizeof(k->flags));
	h = pr_hash_bytes(h, k->name, knot_dname_size(k->name));
	return pr_hash_final(h);
}

static shard_t *shard_of(rs_cache_t *c, uint64_t h)
{
	return &c->shards[h >> 60 & (CACHE_SHARDS - 1)]; /* buckets use the low bits */
}

rs_cache_t *cache_new(void)
{
	rs_cache_t *c = pr_calloc(1, sizeof(*c));
	pthread_rwlockattr_t attr;
	PR_REQUIRE(pthread_rwlockattr_init(&attr) == 0);
	/* Writers first: hits never starve an insert or an eviction. */
	PR_REQUIRE(pthread_rwlockattr_setkind_np(
			   &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) == 0);
	for (size_t i = 0; i < CACHE_SHARDS; i++) {
		PR_REQUIRE(pthread_rwlock_init(&c->shards[i].lock, &attr) == 0);
		atomic_init(&c->shards[i].tail_used, NO_TAIL);
	}
	pthread_rwlockattr_destroy(&attr);
	return c;
}

resolve_cache_t *resolve_cache_new(void)
{
	return cache_new();
}

static void entry_put(centry_t *e)
{
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
		free(e);
}

/* Under the shard's lock: the LRU tail's ticket for evictors in other threads. */
static uint64_t used_of(centry_t *e)
{
	return atomic_load_explicit(&e->used, memory_order_relaxed);
}

static void publish_tail(shard_t *s)
{
	atomic_store_explicit(&s->tail_used, s->tail ? used_of(s->tail) : NO_TAIL,
			      memory_order_relaxed);
}

static void lru_unlink(shard_t *s, centry_t *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(shard_t *s, centry_t *e)
{
	e->prev = NULL;
	e->next = s->head;
	if (s->head)
		s->head->prev = e;
	s->head = e;
	if (!s->tail)
		s->tail = e;
}

/* Under the shard's lock: out of the table; freed by its last reference. */
static void entry_remove(rs_cache_t *c, shard_t *s, centry_t *e, rs_counters_t *st)
{
	centry_t **pp = &s->buckets[e->hash & s->mask];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(s, e);
	s->count--;
	atomic_fetch_sub_explicit(&c->count, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&c->bytes, e->bytes, memory_order_relaxed);
	bump(&st->cache_entries, -1);
	bump(&st->cache_bytes, -(int64_t)e->bytes);
	entry_put(e);
}

static void shard_clear(rs_cache_t *c, shard_t *s, rs_counters_t *st)
{
	pthread_rwlock_wrlock(&s->lock);
	while (s->tail)
		entry_remove(c, s, s->tail, st);
	free(s->buckets);
	s->buckets = NULL;
	s->mask = 0;
	publish_tail(s);
	pthread_rwlock_unlock(&s->lock);
}

void cache_destroy(rs_cache_t **cp)
{
	if (!cp || !*cp)
		return;
	rs_cache_t *c = *cp;
	*cp = NULL;
	rs_counters_t none = {0}; /* nobody reads counters of a cache going away */
	for (size_t i = 0; i < CACHE_SHARDS; i++) {
		shard_clear(c, &c->shards[i], &none);
		pthread_rwlock_destroy(&c->shards[i].lock);
	}
	free(c);
}

void resolve_cache_destroy(resolve_cache_t **cp)
{
	cache_destroy(cp);
}

/* Buckets as many as entries, grown by doubling: chains stay short. */
static void ensure_buckets(shard_t *s, size_t want)
{
	size_t n = s->buckets ? s->mask + 1 : 0;
	if (n >= want && n)
		return;
	size_t size = n ? n : BUCKETS_MIN;
	while (size < want)
		size *= 2;
	centry_t **b = pr_calloc(size, sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		centry_t *e = s->buckets[i];
		while (e) {
			centry_t *nx = e->hnext;
			e->hnext = b[e->hash & (size - 1)];
			b[e->hash & (size - 1)] = e;
			e = nx;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->mask = size - 1;
}

static centry_t *find(const shard_t *s, const rs_cache_key_t *k, uint64_t h)
{
	if (!s->buckets)
		return NULL;
	size_t nlen = knot_dname_size(k->name);
	for (centry_t *e = s->buckets[h & s->mask]; e; e = e->hnext)
		if (e->hash == h && e->scope == k->scope && e->qtype == k->qtype &&
		    e->flags == k->flags && e->name_len == nlen &&
		    memcmp(entry_name(e), k->name, nlen) == 0)
			return e;
	return NULL;
}

/* A capacity lowered by a reload applies at once; 0 empties the cache. */
static bool cache_enabled(rs_cache_t *c, uint32_t capacity, rs_counters_t *st)
{
	if (capacity == 0) {
		if (atomic_load_explicit(&c->count, memory_order_relaxed) > 0)
			for (size_t i = 0; i < CACHE_SHARDS; i++)
				shard_clear(c, &c->shards[i], st);
		return false;
	}
	return true;
}

/* Under the shard's read lock: e is the most recently used entry of the
 * process — unless it is already, then nothing is written. */
static void touch(rs_cache_t *c, centry_t *e)
{
	uint64_t last = atomic_load_explicit(&c->ticket, memory_order_relaxed);
	if (used_of(e) + 1 < last)
		atomic_store_explicit(&e->used,
				      atomic_fetch_add_explicit(&c->ticket, 1, memory_order_relaxed),
				      memory_order_relaxed);
}

/* Under the shard's write lock: e goes to the head, newest. */
static void place(rs_cache_t *c, shard_t *s, centry_t *e)
{
	e->placed = atomic_fetch_add_explicit(&c->ticket, 1, memory_order_relaxed);
	atomic_store_explicit(&e->used, e->placed, memory_order_relaxed);
	lru_push_front(s, e);
	publish_tail(s);
}

/* An entry found past its TTL leaves, under the write lock (a rare path). */
static void expire(rs_cache_t *c, shard_t *s, const rs_cache_key_t *k, uint64_t h,
		   uint64_t now_ms, rs_counters_t *st)
{
	pthread_rwlock_wrlock(&s->lock);
	centry_t *e = find(s, k, h);
	if (e && now_ms >= e->expires_ms) {
		entry_remove(c, s, e, st);
		publish_tail(s);
		bump(&st->cache_expired, 1);
	}
	pthread_rwlock_unlock(&s->lock);
}

/* The entry's reply into the arena, TTLs counted down and ID 0. */
static uint8_t *entry_copy(centry_t *e, uint64_t now_ms, pr_arena_t *arena)
{
	uint32_t elapsed = (uint32_t)((now_ms - e->stored_ms) / 1000);
	uint8_t *w = pr_arena_alloc(arena, e->len);
	memcpy(w, entry_wire(e), e->len);
	const uint16_t *offs = entry_offsets(e);
	for (uint16_t i = 0; i < e->n_ttl; i++) {
		uint32_t ttl = knot_wire_read_u32(w + offs[i]);
		knot_wire_write_u32(w + offs[i], ttl > elapsed ? ttl - elapsed : 0);
	}
	knot_wire_set_id(w, 0);
	return w;
}

uint8_t *cache_lookup(rs_cache_t *c, rs_counters_t *st, const rs_cache_key_t *k,
		      uint32_t capacity, uint64_t now_ms, pr_arena_t *arena, size_t *len)
{
	if (!cache_enabled(c, capacity, st))
		return NULL;
	uint64_t h = rs_cache_key_hash(k);
	shard_t *s = shard_of(c, h);
	pthread_rwlock_rdlock(&s->lock);
	centry_t *e = find(s, k, h);
	bool expired = e && now_ms >= e->expires_ms;
	if (e && !expired) {
		touch(c, e);
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	}
	pthread_rwlock_unlock(&s->lock);
	if (expired)
		expire(c, s, k, h, now_ms, st);
	if (!e || expired) {
		bump(&st->cache_misses, 1);
		return NULL;
	}
	bump(&st->cache_hits, 1);
	/* TTLs count down by the whole seconds the entry has been kept;
	 * the copy is made outside the lock, the entry kept by our reference. */
	uint8_t *w = entry_copy(e, now_ms, arena);
	*len = e->len;
	entry_put(e);
	return w;
}
/* ---- Checking a reply and finding its lifetime (RFC 2308) ---------------------- */

/* The offset after the name at off, or 0 when it runs out of the message. */
static size_t skip_name(const uint8_t *w, size_t len, size_t off)
{
	for (int labels = 0; labels < 128 && off < len; labels++) {
		uint8_t b = w[off];
		if (b == 0)
			return off + 1;
		if ((b & 0xC0) == 0xC0)
			return off + 2 <= len ? off + 2 : 0;
		if (b & 0xC0)
			return 0;
		off += 1u + b;
	}
	return 0;
}


/* Walk the reply for the key's question: false when it is not one to cache. */
static bool walk_reply(const rs_cache_key_t *k, const uint8_t *w, size_t len, walk_t *out)
{
	if (len < KNOT_WIRE_HEADER_SIZE || len > UINT16_MAX || !knot_wire_get_qr(w) ||
	    knot_wire_get_tc(w) || knot_wire_get_opcode(w) != KNOT_OPCODE_QUERY ||
	    knot_wire_get_qdcount(w) != 1)
		return false;
	uint8_t rcode = knot_wire_get_rcode(w);
	if (rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN)
		return false; /* SERVFAIL and the rest: never cached [privres] */
	/* The question must be ours (W-4 is the forwarder's; this guards the key). */
	size_t off = KNOT_WIRE_HEADER_SIZE;
	size_t end = skip_name(w, len, off);
	size_t nlen = knot_dname_size(k->name);
	if (end == 0 || end - off != nlen || end + 4 > len)
		return false;
	uint8_t lower[DNS_NAME_MAXLEN];
	memcpy(lower, w + off, nlen);
	if (knot_dname_wire_check(lower, lower + nlen, NULL) != (int)nlen)
		return false;
	dns_name_lower(lower);
	if (memcmp(lower, k->name, nlen) != 0 || knot_wire_read_u16(w + end) != k->qtype ||
	    knot_wire_read_u16(w + end + 2) != KNOT_CLASS_IN)
		return false;
	off = end + 4;
	uint16_t counts[3] = {knot_wire_get_ancount(w), knot_wire_get_nscount(w),
			      knot_wire_get_arcount(w)};
	out->n_offs = 0;
	out->answer_min = UINT32_MAX;
	out->answers = 0;
	out->soa = false;
	for (int s = 0; s < 3; s++) {
		for (uint16_t i = 0; i < counts[s]; i++) {
			off = skip_name(w, len, off);
			if (off == 0 || off + 10 > len)
				return false;
			uint16_t type = knot_wire_read_u16(w + off);
			uint32_t ttl = knot_wire_read_u32(w + off + 4);
			uint16_t rdlen = knot_wire_read_u16(w + off + 8);
			size_t rdata = off + 10;
			if (rdata + rdlen > len)
				return false;
			if (type == KNOT_RRTYPE_OPT) {
				if (ttl >> 24)
					return false; /* an extended rcode: not an answer to keep */
			} else if (type == KNOT_RRTYPE_TSIG) {
				return false;
			} else {
				if (out->n_offs >= MAX_TTL_FIELDS)
					return false;
				out->offs[out->n_offs++] = (uint16_t)(off + 4);
				if (ttl > INT32_MAX)
					ttl = 0; /* RFC 2181 §8 */
				if (s == 0) {
					out->answers++;
					if (ttl < out->answer_min)
						out->answer_min = ttl;
				} else if (s == 1 && type == KNOT_RRTYPE_SOA && !out->soa &&
					   rdlen >= 22) {
					/* MINIMUM ends the RDATA, whatever the names before. */
					uint32_t min = knot_wire_read_u32(w + rdata + rdlen - 4);
					out->soa = true;
					out->soa_neg = ttl < min ? ttl : min;
				}
			}
			off = rdata + rdlen;
		}
	}
	return true;
}

/* How long a reply may be kept, in seconds; 0: not at all. */
static uint32_t reply_lifetime(const uint8_t *w, const walk_t *wk)
{
	uint32_t neg = wk->soa ? wk->soa_neg : RESOLVE_CACHE_NEGATIVE_TTL;
	uint32_t ttl;
	if (knot_wire_get_rcode(w) == KNOT_RCODE_NXDOMAIN || wk->answers == 0)
		/* RFC 2308 §5: NXDOMAIN and NODATA live as the SOA says; a CNAME
		 * before them lives no longer than itself. */
		ttl = wk->answers ? (wk->answer_min < neg ? wk->answer_min : neg) : neg;
	else if (wk->soa)
		ttl = wk->answer_min < neg ? wk->answer_min : neg; /* CNAME, then NODATA */
	else
		ttl = wk->answer_min;
	return ttl < RESOLVE_CACHE_MAX_TTL ? ttl : RESOLVE_CACHE_MAX_TTL;
}

static size_t budget(uint32_t capacity)
{
	return (size_t)capacity * RESOLVE_CACHE_BYTES_PER_ENTRY + BUDGET_SLACK;
}

/* The shard whose published tail is oldest; its ticket in *oldest and
 * the next oldest of the others in *second. NULL when every shard is empty. */
static shard_t *oldest_tail(rs_cache_t *c, uint64_t *oldest, uint64_t *second)
{
	shard_t *victim = NULL;
	*oldest = *second = NO_TAIL;
	for (size_t i = 0; i < CACHE_SHARDS; i++) {
		uint64_t t = atomic_load_explicit(&c->shards[i].tail_used, memory_order_relaxed);
		if (t < *oldest) {
			*second = *oldest;
			*oldest = t;
			victim = &c->shards[i];
		} else if (t < *second) {
			*second = t;
		}
	}
	return victim;
}

/* Under the write lock: entries used since they were placed get a second
 * chance at the head (CLOCK); the tail is then the shard's least recent. */
static centry_t *second_chance(shard_t *s)
{
	for (size_t n = s->count; s->tail && n > 0; n--) {
		centry_t *e = s->tail;
		if (used_of(e) == e->placed)
			return e;
		lru_unlink(s, e);
		lru_push_front(s, e);
		e->placed = used_of(e);
	}
	return s->tail;
}

/* Evict the least recently used entry of the process: the oldest of the
 * shards' tails once second chances are given. False when every shard is
 * empty. */
static bool evict_one(rs_cache_t *c, rs_counters_t *st)
{
	for (int attempt = 0; attempt < 2 * CACHE_SHARDS; attempt++) {
		uint64_t oldest, second;
		shard_t *victim = oldest_tail(c, &oldest, &second);
		if (!victim)
			return false;
		pthread_rwlock_wrlock(&victim->lock);
		centry_t *e = second_chance(victim);
		/* Still older than every other shard's tail (or we looked long
		 * enough): it goes. Otherwise its shard's news is out; look again. */
		bool go = e && (used_of(e) <= second || attempt >= CACHE_SHARDS);
		if (go) {
			entry_remove(c, victim, e, st);
			bump(&st->cache_evictions, 1);
		}
		publish_tail(victim);
		pthread_rwlock_unlock(&victim->lock);
		if (go)
			return true;
	}
	return false;
}

static bool over_bound(rs_cache_t *c, uint32_t capacity)
{
	return atomic_load_explicit(&c->count, memory_order_relaxed) > capacity ||
	       atomic_load_explicit(&c->bytes, memory_order_relaxed) > budget(capacity);
}

/* A new entry for the reply, or NULL when Q-6/RFC 2308 say not to keep it. */
static centry_t *entry_make(const rs_cache_key_t *k, uint32_t capacity, uint64_t now_ms,
			    const uint8_t *reply, size_t len)
{
	/* Per thread: one reply's TTL offsets, too large for a worker's stack. */
	static _Thread_local walk_t scratch;
	walk_t *wk = &scratch;
	centry_t *e = NULL;
	uint32_t ttl = 0;
	if (walk_reply(k, reply, len, wk))
		ttl = reply_lifetime(reply, wk);
	size_t nlen = knot_dname_size(k->name);
	size_t need = sizeof(centry_t) + wk->n_offs * sizeof(uint16_t) + nlen + len;
	if (ttl == 0 || need > budget(capacity))
		goto cleanup;
	e = pr_malloc(need);
	*e = (centry_t){.scope = k->scope, .stored_ms = now_ms,
			.expires_ms = now_ms + (uint64_t)ttl * 1000, .bytes = need,
			.qtype = k->qtype, .flags = k->flags, .name_len = (uint8_t)nlen,
			.n_ttl = (uint16_t)wk->n_offs, .len = (uint16_t)len};
	atomic_init(&e->refs, 1);
	memcpy(entry_offsets(e), wk->offs, wk->n_offs * sizeof(uint16_t));
	memcpy(entry_name(e), k->name, nlen);
	memcpy(entry_wire(e), reply, len);
cleanup:
	return e;
}

void cache_insert(rs_cache_t *c, rs_counters_t *st, const rs_cache_key_t *k, uint32_t capacity,
		  uint64_t now_ms, const uint8_t *reply, size_t len)
{
	if (!cache_enabled(c, capacity, st))
		return;
	/* Checked and copied before any lock is taken. */
	centry_t *e = entry_make(k, capacity, now_ms, reply, len);
	if (!e)
		return;
	e->hash = rs_cache_key_hash(k);
	shard_t *s = shard_of(c, e->hash);
	pthread_rwlock_wrlock(&s->lock);
	centry_t *old = find(s, k, e->hash);
	if (old)
		entry_remove(c, s, old, st); /* a fresher answer replaces it */
	ensure_buckets(s, s->count + 1 < capacity ? s->count + 1 : capacity);
	e->hnext = s->buckets[e->hash & s->mask];
	s->buckets[e->hash & s->mask] = e;
	s->count++;
	place(c, s, e);
	atomic_fetch_add_explicit(&c->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->bytes, e->bytes, memory_order_relaxed);
	bump(&st->cache_entries, 1);
	bump(&st->cache_bytes, (int64_t)e->bytes);
	bump(&st->cache_inserts, 1);
	pthread_rwlock_unlock(&s->lock);
	/* Room is made after linking: every inserter evicts until the bound holds,
	 * so concurrent inserts never leave the cache above it. The new entry is
	 * the most recent: it goes last. */
	while (over_bound(c, capacity) && evict_one(c, st))
		;
}
