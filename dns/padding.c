/* EDNS(0) padding (RFC 7830) with the block-length policy of RFC 8467 for
 * answers over DoT and DoH (W-6). */
#include <string.h>

#include "dns/dns.h"

#define OPT_TYPE 41
#define OPT_PADDING 12

bool dns_query_wants_padding(const uint8_t *wire, size_t len)
{
	dns_query_t q;
	dns_query_parse(wire, len, &q);
	if (!q.edns)
		return false;
	const uint8_t *p = q.edns_options, *end = p + q.edns_options_len;
	while (end - p >= 4) {
		uint16_t code = (uint16_t)(p[0] << 8 | p[1]);
		uint16_t olen = (uint16_t)(p[2] << 8 | p[3]);
		if (code == OPT_PADDING)
			return true;
		if ((size_t)(end - p) < 4u + olen)
			break;
		p += 4 + olen;
	}
	return false;
}

/* The octets a (possibly compressed) name takes at off, or 0 if it runs out. */
static size_t skip_name(const uint8_t *w, size_t len, size_t off)
{
	size_t start = off;
	while (off < len) {
		uint8_t l = w[off];
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 - start : 0;
		if (l & 0xc0)
			return 0;
		off += 1u + l;
		if (l == 0)
			return off <= len ? off - start : 0;
	}
	return 0;
}

/* Where the OPT record's RDATA begins (*rdata) and its length, or false. */
static bool find_opt(const uint8_t *w, size_t len, size_t *rdata, uint16_t *rdlen)
{
	if (len < 12)
		return false;
	unsigned qd = (unsigned)(w[4] << 8 | w[5]);
	unsigned rrs = (unsigned)(w[6] << 8 | w[7]) + (unsigned)(w[8] << 8 | w[9]) +
		       (unsigned)(w[10] << 8 | w[11]);
	unsigned an_ns = rrs - (unsigned)(w[10] << 8 | w[11]);
	size_t off = 12;
	for (unsigned i = 0; i < qd; i++) {
		size_t n = skip_name(w, len, off);
		if (n == 0 || off + n + 4 > len)
			return false;
		off += n + 4;
	}
	for (unsigned i = 0; i < rrs; i++) {
		size_t n = skip_name(w, len, off);
		if (n == 0 || off + n + 10 > len)
			return false;
		const uint8_t *rr = w + off + n;
		uint16_t type = (uint16_t)(rr[0] << 8 | rr[1]);
		uint16_t rl = (uint16_t)(rr[8] << 8 | rr[9]);
		if (off + n + 10 + rl > len)
			return false;
		if (i >= an_ns && type == OPT_TYPE && n == 1 && w[off] == 0) {
			*rdata = off + n + 10;
			*rdlen = rl;
			return true;
		}
		off += n + 10 + rl;
	}
	return false;
}

size_t dns_pad_answer(const uint8_t *ans, size_t len, uint16_t block, uint8_t *out, size_t cap)
{
	size_t rdata;
	uint16_t rdlen;
	if (block == 0 || !find_opt(ans, len, &rdata, &rdlen))
		return 0;
	/* The options but any padding the answer carries already (an echo of
	 * the query's), then ours, sized so the whole message fills blocks. */
	if (rdata + rdlen + 4 + block > cap)
		return 0;
	memcpy(out, ans, rdata);
	size_t o = rdata;
	const uint8_t *p = ans + rdata, *end = p + rdlen;
	while (end - p >= 4) {
		uint16_t olen = (uint16_t)(p[2] << 8 | p[3]);
		if ((size_t)(end - p) < 4u + olen)
			return 0;
		if ((uint16_t)(p[0] << 8 | p[1]) != OPT_PADDING) {
			memcpy(out + o, p, 4u + olen);
			o += 4u + olen;
		}
		p += 4 + olen;
	}
	if (p != end)
		return 0;
	size_t rest = len - (rdata + rdlen);
	size_t base = o + 4 + rest;
	size_t pad = (block - base % block) % block;
	size_t total = base + pad;
	if (total > cap || total > DNS_TCP_MESSAGE_MAX)
		return 0;
	uint8_t *po = out + o;
	po[0] = 0;
	po[1] = OPT_PADDING;
	po[2] = (uint8_t)(pad >> 8);
	po[3] = (uint8_t)pad;
	memset(po + 4, 0, pad);
	memcpy(po + 4 + pad, ans + rdata + rdlen, rest);
	size_t newrd = o - rdata + 4 + pad;
	out[rdata - 2] = (uint8_t)(newrd >> 8);
	out[rdata - 1] = (uint8_t)newrd;
	return total;
}
