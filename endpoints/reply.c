/*
 * The W-4 reply matcher and the forwarder's random generator: the pieces of
 * the outbound half that do no I/O, so unit tests can drive them directly.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/random.h>

#include "endpoints/forward_p.h"

int ep_question_read(const uint8_t *msg, size_t len, ep_question_t *q)
{
	if (len < EP_DNS_HEADER_LEN || ((msg[4] << 8) | msg[5]) == 0)
		return PR_EPARSE;
	size_t pos = EP_DNS_HEADER_LEN, name_len = 0;
	for (;;) {
		if (pos >= len)
			return PR_EPARSE;
		uint8_t l = msg[pos];
		/* A question name is the first name of a message: nothing
		 * before it to point at, so a pointer is malformed. */
		if (l & 0xC0)
			return PR_EPARSE;
		if (name_len + 1u + l > DNS_NAME_MAXLEN || pos + 1u + l > len)
			return PR_EPARSE;
		name_len += 1u + l;
		pos += 1u + l;
		if (l == 0)
			break;
	}
	if (pos + 4 > len)
		return PR_EPARSE;
	ep_question_t v;
	memcpy(v.name, msg + EP_DNS_HEADER_LEN, name_len);
	v.name_len = name_len;
	v.qtype = (uint16_t)((msg[pos] << 8) | msg[pos + 1]);
	v.qclass = (uint16_t)((msg[pos + 2] << 8) | msg[pos + 3]);
	*q = v;
	return 0;
}

static bool name_equal_nocase(const uint8_t *a, const uint8_t *b, size_t len)
{
	/* W-5: names compare case-insensitively. Label length octets are
	 * at most 63, below 'A', so folding every octet is safe. */
	for (size_t i = 0; i < len; i++) {
		uint8_t x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

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
	if (len < EP_DNS_HEADER_LEN || !(reply[2] & 0x80))
		return EP_REPLY_MALFORMED;
	if (((reply[0] << 8) | reply[1]) != id)
		return EP_REPLY_BAD_ID;
	if (((reply[4] << 8) | reply[5]) != 1)
		return EP_REPLY_BAD_QUESTION;
	ep_question_t got;
	if (ep_question_read(reply, len, &got) != 0)
		return EP_REPLY_MALFORMED;
	if (got.name_len != q->name_len || !name_equal_nocase(got.name, q->name, q->name_len) ||
	    got.qtype != q->qtype || got.qclass != q->qclass)
		return EP_REPLY_BAD_QUESTION;
	return EP_REPLY_OK;
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
