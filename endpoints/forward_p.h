/*
 * endpoints — private to the outbound half (forward.c, health.c) and its unit
 * tests: the reply matcher of W-4 and the per-forwarder random generator.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoints/endpoints.h"


/* The question of a try, as dns/ reads it (dns_question_read()). */
typedef dns_question_t ep_question_t;

/* What the matcher says of a received reply (W-4): the source check here, the
 * message's own checks by dns_reply_check(). */
typedef enum ep_reply_verdict {
	EP_REPLY_OK = DNS_REPLY_OK,
	EP_REPLY_MALFORMED = DNS_REPLY_MALFORMED,
	EP_REPLY_BAD_ID = DNS_REPLY_BAD_ID,
	EP_REPLY_BAD_QUESTION = DNS_REPLY_BAD_QUESTION,
	EP_REPLY_WRONG_SOURCE, /* not from the target's address and port */
} ep_reply_verdict_t;

/*
 * Is reply (borrowed) the answer to the try that sent question q with id to
 * target addr:port (host byte order)? from: the reply's source (NULL over
 * TCP, where the connection is the proof). The source first, then
 * dns_reply_check().
 */
ep_reply_verdict_t ep_reply_match(const uint8_t *reply, size_t len, const struct sockaddr *from,
				  uint32_t addr, uint16_t port, uint16_t id,
				  const ep_question_t *q);

/* ChaCha20 (RFC 8439 block function) as a generator: unpredictable IDs even
 * to someone who sees many of them (W-4), seeded from getrandom(2), one per
 * forwarder so no lock is needed. */
typedef struct ep_rng {
	uint32_t key[8];
	uint32_t counter;
	uint32_t nonce[3];
	uint8_t block[64];
	size_t used; /* octets of block already handed out */
} ep_rng_t;

/* Seed from getrandom(2): 0 or a negative errno. */
int ep_rng_seed(ep_rng_t *r);
/* Seed from a given key (tests: RFC 8439 §2.3.2 vector). */
void ep_rng_seed_with(ep_rng_t *r, const uint32_t key[8], uint32_t counter,
		      const uint32_t nonce[3]);
/* The next 64 octets of keystream as the generator hands them out. */
void ep_rng_bytes(ep_rng_t *r, void *out, size_t n);
uint16_t ep_rng_u16(ep_rng_t *r);
