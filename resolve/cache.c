/*
 * The answer cache (Q-6, RFC 2308): one shard per worker, no locks, LRU.
 *
 * An entry is one allocation: the key's name, the offsets of every TTL in the
 * reply, and the reply as the target sent it. A hit copies the reply into the
 * query's arena and writes each TTL counted down, so the rest of the pipeline
 * sees it exactly as a fresh reply (same parser, same W-5 case and Q-6 header
 * rules) and nothing cached is ever written to.
 *
 * Cached replies are checked by a bounded walk of the wire before they are
 * stored: outside input (W-3) must not make a later hit read out of bounds.
 */
#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>

#include "resolve/resolve_p.h"

#define BUCKETS_MIN 64
#define BUDGET_SLACK 65536 /* room for one TCP-sized reply even in a tiny cache */
#define MAX_TTL_FIELDS 8192 /* RRs in one cached reply; a 64 KiB message holds fewer */

typedef struct centry {
	struct centry *hnext;       /* bucket chain */
	struct centry *prev, *next; /* LRU: head is the most recent */
	uint64_t hash;
	uint64_t scope;
	uint64_t stored_ms;
	uint64_t expires_ms;
	size_t bytes; /* what the entry counts against the budget */
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

struct rs_cache {
	centry_t **buckets;
	size_t mask;
	size_t count;
	size_t bytes;
	centry_t *head, *tail;
	rs_counters_t *stats;
	walk_t *scratch; /* one reply's TTL offsets, reused (one thread) */
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

static uint64_t key_hash(const rs_cache_key_t *k)
{
	uint64_t h = PR_HASH_INIT;
	h = pr_hash_bytes(h, &k->scope, sizeof(k->scope));
	h = pr_hash_bytes(h, &k->qtype, sizeof(k->qtype));
	h = pr_hash_bytes(h, &k->flags, sizeof(k->flags));
	h = pr_hash_bytes(h, k->name, knot_dname_size(k->name));
	return pr_hash_final(h);
}

rs_cache_t *cache_new(rs_counters_t *stats)
{
	rs_cache_t *c = pr_calloc(1, sizeof(*c));
	c->stats = stats;
	c->scratch = pr_malloc(sizeof(*c->scratch));
	return c;
}

static void lru_unlink(rs_cache_t *c, centry_t *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(rs_cache_t *c, centry_t *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void entry_remove(rs_cache_t *c, centry_t *e)
{
	centry_t **pp = &c->buckets[e->hash & c->mask];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->count--;
	c->bytes -= e->bytes;
	bump(&c->stats->cache_entries, -1);
	bump(&c->stats->cache_bytes, -(int64_t)e->bytes);
	free(e);
}

static void cache_clear(rs_cache_t *c)
{
	while (c->tail)
		entry_remove(c, c->tail);
	free(c->buckets);
	c->buckets = NULL;
	c->mask = 0;
}

void cache_destroy(rs_cache_t **cp)
{
	if (!cp || !*cp)
		return;
	rs_cache_t *c = *cp;
	*cp = NULL;
	cache_clear(c);
	free(c->scratch);
	free(c);
}

/* Buckets as many as entries, grown by doubling: chains stay short. */
static void ensure_buckets(rs_cache_t *c, size_t want)
{
	size_t n = c->buckets ? c->mask + 1 : 0;
	if (n >= want && n)
		return;
	size_t size = n ? n : BUCKETS_MIN;
	while (size < want)
		size *= 2;
	centry_t **b = pr_calloc(size, sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		centry_t *e = c->buckets[i];
		while (e) {
			centry_t *nx = e->hnext;
			e->hnext = b[e->hash & (size - 1)];
			b[e->hash & (size - 1)] = e;
			e = nx;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->mask = size - 1;
}

static centry_t *find(const rs_cache_t *c, const rs_cache_key_t *k, uint64_t h)
{
	if (!c->buckets)
		return NULL;
	size_t nlen = knot_dname_size(k->name);
	for (centry_t *e = c->buckets[h & c->mask]; e; e = e->hnext)
		if (e->hash == h && e->scope == k->scope && e->qtype == k->qtype &&
		    e->flags == k->flags && e->name_len == nlen &&
		    memcmp(entry_name(e), k->name, nlen) == 0)
			return e;
	return NULL;
}

/* A capacity lowered by a reload applies at once; 0 empties the shard. */
static bool cache_enabled(rs_cache_t *c, uint32_t capacity)
{
	if (capacity == 0) {
		if (c->buckets)
			cache_clear(c);
		return false;
	}
	return true;
}

uint8_t *cache_lookup(rs_cache_t *c, const rs_cache_key_t *k, uint32_t capacity, uint64_t now_ms,
		      pr_arena_t *arena, size_t *len)
{
	if (!cache_enabled(c, capacity))
		return NULL;
	uint64_t h = key_hash(k);
	centry_t *e = find(c, k, h);
	if (e && now_ms >= e->expires_ms) {
		entry_remove(c, e);
		bump(&c->stats->cache_expired, 1);
		e = NULL;
	}
	if (!e) {
		bump(&c->stats->cache_misses, 1);
		return NULL;
	}
	lru_unlink(c, e);
	lru_push_front(c, e);
	bump(&c->stats->cache_hits, 1);
	/* TTLs count down by the whole seconds the entry has been kept. */
	uint32_t elapsed = (uint32_t)((now_ms - e->stored_ms) / 1000);
	uint8_t *w = pr_arena_alloc(arena, e->len);
	memcpy(w, entry_wire(e), e->len);
	const uint16_t *offs = entry_offsets(e);
	for (uint16_t i = 0; i < e->n_ttl; i++) {
		uint32_t ttl = knot_wire_read_u32(w + offs[i]);
		knot_wire_write_u32(w + offs[i], ttl > elapsed ? ttl - elapsed : 0);
	}
	knot_wire_set_id(w, 0);
	*len = e->len;
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

void cache_insert(rs_cache_t *c, const rs_cache_key_t *k, uint32_t capacity, uint64_t now_ms,
		  const uint8_t *reply, size_t len)
{
	if (!cache_enabled(c, capacity))
		return;
	walk_t *wk = c->scratch;
	uint32_t ttl = 0;
	if (walk_reply(k, reply, len, wk))
		ttl = reply_lifetime(reply, wk);
	size_t nlen = knot_dname_size(k->name);
	size_t need = sizeof(centry_t) + wk->n_offs * sizeof(uint16_t) + nlen + len;
	if (ttl == 0 || need > budget(capacity))
		return;
	uint64_t h = key_hash(k);
	centry_t *old = find(c, k, h);
	if (old)
		entry_remove(c, old); /* a fresher answer replaces it */
	while (c->tail && (c->count >= capacity || c->bytes + need > budget(capacity))) {
		entry_remove(c, c->tail);
		bump(&c->stats->cache_evictions, 1);
	}
	ensure_buckets(c, c->count + 1 < capacity ? c->count + 1 : capacity);
	centry_t *e = pr_malloc(need);
	*e = (centry_t){.hash = h, .scope = k->scope, .stored_ms = now_ms,
			.expires_ms = now_ms + (uint64_t)ttl * 1000, .bytes = need,
			.qtype = k->qtype, .flags = k->flags, .name_len = (uint8_t)nlen,
			.n_ttl = (uint16_t)wk->n_offs, .len = (uint16_t)len};
	memcpy(entry_offsets(e), wk->offs, wk->n_offs * sizeof(uint16_t));
	memcpy(entry_name(e), k->name, nlen);
	memcpy(entry_wire(e), reply, len);
	e->hnext = c->buckets[h & c->mask];
	c->buckets[h & c->mask] = e;
	lru_push_front(c, e);
	c->count++;
	c->bytes += need;
	bump(&c->stats->cache_entries, 1);
	bump(&c->stats->cache_bytes, (int64_t)need);
	bump(&c->stats->cache_inserts, 1);
}
