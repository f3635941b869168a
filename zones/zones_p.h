/* Shared inside zones/ only. */
#pragma once

#include <libknot/libknot.h>

#include "zones/zones.h"

/* One record set as the builder holds it. */
typedef struct zb_entry {
	uint8_t *owner; /* lowercase wire (owned) */
	uint16_t type;
	uint32_t ttl;
	knot_rdataset_t rrs; /* owned, malloc */
	bool autoreg;        /* a Z-3 host record */
} zb_entry_t;

struct zone_builder {
	uint8_t origin[DNS_NAME_MAXLEN];
	char origin_text[DNS_NAME_TEXT_MAX];
	zb_entry_t *entries;
	size_t n, cap;
	bool has_soa;
};

/* Is this type served in zones (Z-1)? */
bool zone_type_allowed(uint16_t type);
