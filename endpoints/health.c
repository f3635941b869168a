/*
 * Target health (F-10): one process-wide table, keyed by a target's real
 * address and port, shared by every worker's forwarder and every rule, and
 * kept outside the snapshots so that a rule edit does not forget that a
 * target is down (design.md §3).
 *
 * The table is open addressing over a fixed array of atomic slots: a slot's
 * key is claimed once with a compare-and-swap and never released, so readers
 * need no lock and never see a slot move. Fields of one entry are separate
 * atomics; two workers reporting at the same moment may interleave their
 * stores, which costs at most one try's worth of accuracy, never safety.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "endpoints/endpoints.h"

typedef struct slot {
	_Atomic uint64_t key; /* 0: free; else slot_key() */
	_Atomic uint32_t failures;
	_Atomic uint64_t last_failure_ms;
	_Atomic uint64_t backoff_until_ms;
	_Atomic uint64_t unresponsive_until_ms;
	_Atomic(const char *) reason; /* static words of the last failure, or NULL */
} slot_t;

struct ep_health {
	uint32_t unresponsive_ms;
	uint32_t backoff_base_ms, backoff_max_ms;
	_Atomic uint64_t overflow; /* failures not recorded: table full */
	slot_t slots[EP_HEALTH_CAPACITY];
};

_Static_assert((EP_HEALTH_CAPACITY & (EP_HEALTH_CAPACITY - 1)) == 0, "power of two");

#define RLX memory_order_relaxed

static uint64_t slot_key(uint32_t addr, uint16_t port)
{
	/* Bit 48 keeps 0.0.0.0:0 distinct from a free slot. */
	return (1ull << 48) | ((uint64_t)addr << 16) | port;
}

static size_t slot_home(uint64_t key)
{
	/* Fibonacci hashing: consecutive addresses and ports spread out. */
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & (EP_HEALTH_CAPACITY - 1);
}

static slot_t *slot_find(const ep_health_t *h, uint64_t key)
{
	size_t i = slot_home(key);
	for (size_t probes = 0; probes < EP_HEALTH_CAPACITY; probes++) {
		const slot_t *s = &h->slots[i];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == key)
			return (slot_t *)s;
		if (k == 0)
			return NULL;
		i = (i + 1) & (EP_HEALTH_CAPACITY - 1);
	}
	return NULL;
}

static slot_t *slot_claim(ep_health_t *h, uint64_t key)
{
	size_t i = slot_home(key);
	for (size_t probes = 0; probes < EP_HEALTH_CAPACITY; probes++) {
		slot_t *s = &h->slots[i];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
		if (k == 0) {
			uint64_t expect = 0;
			if (atomic_compare_exchange_strong_explicit(&s->key, &expect, key,
								    memory_order_acq_rel,
								    memory_order_acquire))
				return s;
			k = expect; /* another thread claimed it first: maybe for us */
		}
		if (k == key)
			return s;
		i = (i + 1) & (EP_HEALTH_CAPACITY - 1);
	}
	return NULL;
}

const char *ep_target_state_name(ep_target_state_t s)
{
	switch (s) {
	case EP_TARGET_HEALTHY:
		return "healthy";
	case EP_TARGET_BACKOFF:
		return "backoff";
	case EP_TARGET_FAILING:
		return "failing";
	case EP_TARGET_UNRESPONSIVE:
		return "unresponsive";
	}
	return "unknown";
}

ep_health_t *ep_health_new(uint32_t unresponsive_ms)
{
	ep_health_t *h = pr_calloc(1, sizeof(*h));
	h->unresponsive_ms = unresponsive_ms;
	h->backoff_base_ms = EP_HEALTH_BACKOFF_BASE_MS;
	h->backoff_max_ms = EP_HEALTH_BACKOFF_MAX_MS;
	return h;
}

void ep_health_destroy(ep_health_t **hp)
{
	if (hp == NULL || *hp == NULL)
		return;
	free(*hp);
	*hp = NULL;
}

void ep_health_set_backoff(ep_health_t *h, uint32_t base_ms, uint32_t max_ms)
{
	PR_REQUIRE(h != NULL);
	h->backoff_base_ms = base_ms;
	h->backoff_max_ms = max_ms < base_ms ? base_ms : max_ms;
}

void ep_health_record_failure(ep_health_t *h, uint32_t address, uint16_t port, uint64_t now_ms)
{
	PR_REQUIRE(h != NULL);
	slot_t *s = slot_claim(h, slot_key(address, port));
	if (s == NULL) {
		/* More distinct targets than the table holds: the target is
		 * simply not tracked (tried in rule order, never skipped). */
		atomic_fetch_add_explicit(&h->overflow, 1, RLX);
		return;
	}
	uint32_t n = atomic_fetch_add_explicit(&s->failures, 1, RLX) + 1;
	/* F-10: exponential backoff, base * 2^(n-1), capped. */
	uint64_t backoff = 0;
	if (h->backoff_base_ms > 0) {
		unsigned shift = n - 1 > 20 ? 20 : n - 1;
		backoff = (uint64_t)h->backoff_base_ms << shift;
		if (backoff > h->backoff_max_ms)
			backoff = h->backoff_max_ms;
	}
	atomic_store_explicit(&s->last_failure_ms, now_ms, RLX);
	atomic_store_explicit(&s->reason, NULL, RLX); /* ep_health_note_reason() may follow */
	atomic_store_explicit(&s->backoff_until_ms, now_ms + backoff, RLX);
	/* F-10: after repeated failures, skipped for unresponsive_ms; a target
	 * tried again after that and failing once more goes straight back. */
	if (n >= EP_HEALTH_UNRESPONSIVE_AFTER)
		atomic_store_explicit(&s->unresponsive_until_ms, now_ms + h->unresponsive_ms, RLX);
}

void ep_health_note_reason(ep_health_t *h, uint32_t address, uint16_t port, const char *why)
{
	PR_REQUIRE(h != NULL);
	slot_t *s = slot_claim(h, slot_key(address, port));
	if (s != NULL)
		atomic_store_explicit(&s->reason, why, RLX);
}

void ep_health_record_success(ep_health_t *h, uint32_t address, uint16_t port)
{
	PR_REQUIRE(h != NULL);
	slot_t *s = slot_find(h, slot_key(address, port));
	/* A healthy target is read-only on the hot path: no store, no shared
	 * cache line bouncing between workers. */
	if (s == NULL || atomic_load_explicit(&s->failures, RLX) == 0)
		return;
	atomic_store_explicit(&s->unresponsive_until_ms, 0, RLX);
	atomic_store_explicit(&s->backoff_until_ms, 0, RLX);
	atomic_store_explicit(&s->failures, 0, RLX);
}

static ep_target_state_t slot_read(const slot_t *s, uint64_t now_ms, ep_health_entry_t *e)
{
	ep_health_entry_t v = {0};
	if (s != NULL) {
		uint64_t key = atomic_load_explicit(&s->key, RLX);
		v.address = (uint32_t)(key >> 16);
		v.port = (uint16_t)key;
		v.consecutive_failures = atomic_load_explicit(&s->failures, RLX);
		v.last_failure_ms = atomic_load_explicit(&s->last_failure_ms, RLX);
		v.backoff_until_ms = atomic_load_explicit(&s->backoff_until_ms, RLX);
		v.unresponsive_until_ms = atomic_load_explicit(&s->unresponsive_until_ms, RLX);
		v.last_failure_reason = atomic_load_explicit(&s->reason, RLX);
	}
	if (v.consecutive_failures == 0)
		v.state = EP_TARGET_HEALTHY;
	else if (now_ms < v.unresponsive_until_ms)
		v.state = EP_TARGET_UNRESPONSIVE;
	else if (now_ms < v.backoff_until_ms)
		v.state = EP_TARGET_BACKOFF;
	else
		v.state = EP_TARGET_FAILING;
	if (e != NULL)
		*e = v;
	return v.state;
}

ep_target_state_t ep_health_get(const ep_health_t *h, uint32_t address, uint16_t port,
				uint64_t now_ms, ep_health_entry_t *out)
{
	PR_REQUIRE(h != NULL);
	ep_health_entry_t e;
	ep_target_state_t st = slot_read(slot_find(h, slot_key(address, port)), now_ms, &e);
	e.address = address;
	e.port = port;
	if (out != NULL)
		*out = e;
	return st;
}

int ep_health_choose(const ep_health_t *h, const ep_forward_target_t *targets, size_t n,
		     uint32_t tried_mask, uint64_t now_ms)
{
	PR_REQUIRE(h != NULL && n <= EP_FORWARD_MAX_TARGETS);
	ep_health_entry_t e[EP_FORWARD_MAX_TARGETS];
	bool all_unresponsive = true, any_mapped = false;
	for (size_t i = 0; i < n; i++) {
		if (!targets[i].mapped)
			continue;
		any_mapped = true;
		ep_health_get(h, targets[i].real_address, targets[i].real_port, now_ms, &e[i]);
		if (e[i].state != EP_TARGET_UNRESPONSIVE)
			all_unresponsive = false;
	}
	if (!any_mapped)
		return -1;
	int fallback = -1;
	for (size_t i = 0; i < n; i++) {
		if (!targets[i].mapped || (tried_mask & (1u << i)))
			continue;
		if (all_unresponsive) {
			/* [privres] F-10: every target unresponsive, try the one
			 * that failed longest ago anyway. */
			if (fallback < 0 || e[i].last_failure_ms < e[fallback].last_failure_ms)
				fallback = (int)i;
			continue;
		}
		if (e[i].state == EP_TARGET_UNRESPONSIVE)
			continue;
		if (e[i].state != EP_TARGET_BACKOFF)
			return (int)i; /* F-10: the first in order that may be tried */
		if (fallback < 0)
			fallback = (int)i; /* backing off, but maybe the only choice */
	}
	return fallback;
}

size_t ep_health_list(const ep_health_t *h, uint64_t now_ms, ep_health_entry_t *out, size_t cap)
{
	PR_REQUIRE(h != NULL);
	size_t count = 0;
	for (size_t i = 0; i < EP_HEALTH_CAPACITY; i++) {
		const slot_t *s = &h->slots[i];
		if (atomic_load_explicit(&s->key, memory_order_acquire) == 0)
			continue;
		if (count < cap)
			slot_read(s, now_ms, &out[count]);
		count++;
	}
	return count;
}
