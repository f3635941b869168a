/*
 * Questions in flight outside privres, process-wide (P-3 through outside
 * servers). Queries come back on any worker (SO_REUSEPORT), so the count is
 * shared: a fixed table of atomic counters, no locks, no allocation per
 * question. Each question counts in two slots chosen by independent halves of
 * its hash and is read as the smaller (a count-min sketch): another question
 * must collide in both slots to make it look busier than it is, so distinct
 * names in flight at once almost never add up to a false loop.
 */
#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>

#include "resolve/resolve_p.h"

#define INFLIGHT_BITS 16
#define INFLIGHT_SLOTS (1u << INFLIGHT_BITS)

struct resolve_inflight {
	atomic_uint slots[INFLIGHT_SLOTS];
};

resolve_inflight_t *resolve_inflight_new(void)
{
	resolve_inflight_t *t = pr_malloc(sizeof(*t));
	for (size_t i = 0; i < INFLIGHT_SLOTS; i++)
		atomic_init(&t->slots[i], 0);
	return t;
}

void resolve_inflight_destroy(resolve_inflight_t **tp)
{
	if (!tp || !*tp)
		return;
	free(*tp);
	*tp = NULL;
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
