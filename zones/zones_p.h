/* Shared inside zones/ only. */
#pragma once

#include <libknot/libknot.h>

#include "base/base.h"
#include "zones/zones.h"

/* One record set as the builder holds it. */
typedef struct zb_entry {
	uint8_t *owner; /* lowercase wire (owned) */
	uint16_t type;
	uint32_t ttl;
	knot_rdataset_t rrs; /* owned, malloc */
	bool autoreg;        /* a Z-3 host record */
	uint32_t next;       /* next entry (index + 1) in its owner-hash bucket */
} zb_entry_t;

struct zone_builder {
	uint8_t origin[DNS_NAME_MAXLEN];
	char origin_text[DNS_NAME_TEXT_MAX];
	zb_entry_t *entries;
	size_t n, cap;
	bool has_soa;
	/* Entries by owner: a zone may hold 25000 sets (L-11), so the Z-1 checks
	 * of each new set must not scan them all. Chains are LIFO so that the
	 * last entries can be taken back (a refused set or file). */
	uint32_t *buckets; /* entry index + 1; 0 ends a chain */
	size_t mask;
};

/* The hash of a lowercase wire name. */
static inline uint32_t zone_name_hash(const uint8_t *name)
{
	return (uint32_t)pr_hash(name, knot_dname_size(name));
}

/* First entry (index + 1) of the chain that owner hashes to; 0 if none. */
static inline uint32_t zb_chain(const struct zone_builder *zb, const uint8_t *owner)
{
	return zb->buckets ? zb->buckets[zone_name_hash(owner) & zb->mask] : 0;
}

/* Is this type served in zones (Z-1)? */
/* The SOA's record value as in a zone file (owned). */
char *zone_soa_text(const zone_soa_spec_t *s);
