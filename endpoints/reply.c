/*
 * The W-4 reply matcher (the source here; the message is read by dns/) and the
 * forwarder's random generator: the pieces of the outbound half that do no
 * I/O, so unit tests can drive them directly.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/random.h>

#include "endpoints/forward_p.h"

ep_reply_verdict_t ep_reply_match(const uint8_t *reply, size_t len, const struct sockaddr *from,
				  uint32_t addr, uint16_t port, uint16_t id,
				  const ep_question_t *q)
{
	if (from != NULL) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)from;
		if (from->sa_family != AF_INET || sin->sin_addr.s_addr != htonl(addr) ||
		    sin->sin_port != htons(port))
			return EP_REPLY_WRONG_SOURCE;
	}
	return (ep_reply_verdict_t)dns_reply_check(reply, len, id, q);
}

/* --- ChaCha20 (RFC 8439 §2.3) --- */

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d)                                                      \
	do {                                                                \
		a += b; d ^= a; d = ROTL(d, 16);                            \
		c += d; b ^= c; b = ROTL(b, 12);                            \
		a += b; d ^= a; d = ROTL(d, 8);                             \
		c += d; b ^= c; b = ROTL(b, 7);                             \
	} while (0)

static void chacha_block(ep_rng_t *r)
{
	uint32_t in[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
	memcpy(in + 4, r->key, sizeof(r->key));
	in[12] = r->counter++;
	memcpy(in + 13, r->nonce, sizeof(r->nonce));
	uint32_t x[16];
	memcpy(x, in, sizeof(x));
	for (int i = 0; i < 10; i++) {
		QR(x[0], x[4], x[8], x[12]);
		QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]);
		QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]);
		QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]);
		QR(x[3], x[4], x[9], x[14]);
	}
	for (int i = 0; i < 16; i++) {
		uint32_t v = x[i] + in[i];
		r->block[4 * i] = (uint8_t)v;
		r->block[4 * i + 1] = (uint8_t)(v >> 8);
		r->block[4 * i + 2] = (uint8_t)(v >> 16);
		r->block[4 * i + 3] = (uint8_t)(v >> 24);
	}
	if (r->counter == 0)
		r->nonce[0]++; /* 2^32 blocks: move to a fresh stream */
	r->used = 0;
}

void ep_rng_seed_with(ep_rng_t *r, const uint32_t key[8], uint32_t counter,
		      const uint32_t nonce[3])
{
	memcpy(r->key, key, sizeof(r->key));
	memcpy(r->nonce, nonce, sizeof(r->nonce));
	r->counter = counter;
	r->used = sizeof(r->block); /* generate on first use */
}

int ep_rng_seed(ep_rng_t *r)
{
	uint32_t seed[11];
	uint8_t *p = (uint8_t *)seed;
	size_t got = 0;
	while (got < sizeof(seed)) {
		ssize_t n = getrandom(p + got, sizeof(seed) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	ep_rng_seed_with(r, seed, 0, seed + 8);
	return 0;
}

void ep_rng_bytes(ep_rng_t *r, void *out, size_t n)
{
	uint8_t *o = out;
	while (n > 0) {
		if (r->used == sizeof(r->block))
			chacha_block(r);
		size_t take = sizeof(r->block) - r->used;
		if (take > n)
			take = n;
		memcpy(o, r->block + r->used, take);
		/* Erase what was handed out: a later memory disclosure does
		 * not reveal past IDs. */
		memset(r->block + r->used, 0, take);
		r->used += take;
		o += take;
		n -= take;
	}
}

uint16_t ep_rng_u16(ep_rng_t *r)
{
	uint8_t b[2];
	ep_rng_bytes(r, b, sizeof(b));
	return (uint16_t)((b[0] << 8) | b[1]);
}
