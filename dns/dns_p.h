/*
 * dns — private to the folder: walking the records of a received message with
 * libknot's wire helpers, without allocating (query.c, message.c).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "dns/dns.h"

/* One record as it stands on the wire; rdata points into the message. */
typedef struct dns_rr_wire {
	size_t owner;      /* offset of the owner name */
	int owner_len;     /* its octets here (a compression pointer counts 2) */
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata;
} dns_rr_wire_t;

/* Read the record at *pos of wire (len octets): NULL with *rr filled and *pos
 * past the record, or why it is malformed (static). Names may point back
 * (compression), never forward. */
const char *dns_record_read(const uint8_t *wire, size_t len, size_t *pos, dns_rr_wire_t *rr);

/* Step over the question section (qdcount questions from the header): the
 * offset of the first record, or 0 when a question is malformed. */
size_t dns_questions_skip(const uint8_t *wire, size_t len);
