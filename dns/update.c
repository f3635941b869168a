/* DNS UPDATE messages (RFC 2136) and their TSIG signatures (RFC 8945), read
 * and answered with libknot's packet parser and TSIG operations. What an
 * update does to a zone is zones/' business; this file only reads the bytes
 * and writes the answer. */
#include "dns/dns.h"

#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

struct dns_update {
	knot_pkt_t *pkt;
	uint8_t *wire; /* our copy: libknot parses in place */
	uint8_t zone[DNS_NAME_MAXLEN];
	dns_update_rr_t *prereqs, *changes;
	size_t n_prereqs, n_changes;
	uint8_t key_name[DNS_NAME_MAXLEN]; /* lowercase; empty when unsigned */
	int key; /* the verified key's index, or -1 */
};

bool dns_message_is_update(const uint8_t *wire, size_t len)
{
	return wire && len >= DNS_HEADER_LEN && !knot_wire_get_qr(wire) &&
	       knot_wire_get_opcode(wire) == KNOT_OPCODE_UPDATE;
}

/* One section's records as dns_update_rr_t (rdata borrowed from the packet). */
static dns_update_rr_t *section_rrs(const knot_pkt_t *pkt, knot_section_t sec, size_t *n)
{
	const knot_pktsection_t *s = knot_pkt_section(pkt, sec);
	*n = s->count;
	dns_update_rr_t *out = pr_calloc(s->count ? s->count : 1, sizeof(*out));
	for (uint16_t i = 0; i < s->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(s, i);
		dns_update_rr_t *u = &out[i];
		memcpy(u->owner, rr->owner, knot_dname_size(rr->owner));
		dns_name_lower(u->owner);
		u->type = rr->type;
		u->rclass = rr->rclass;
		u->ttl = rr->ttl;
		if (rr->rrs.count) {
			u->rdata = rr->rrs.rdata->data;
			u->rdlen = rr->rrs.rdata->len;
		}
	}
	return out;
}

int dns_update_parse(const uint8_t *wire, size_t len, dns_update_t **out, const char **why)
{
	if (!dns_message_is_update(wire, len) || len > DNS_TCP_MESSAGE_MAX) {
		*why = "not an UPDATE message";
		return PR_EPARSE;
	}
	dns_update_t *u = pr_calloc(1, sizeof(*u));
	u->key = -1;
	u->wire = pr_malloc(len);
	memcpy(u->wire, wire, len);
	u->pkt = knot_pkt_new(u->wire, (uint16_t)len, NULL);
	if (!u->pkt || knot_pkt_parse(u->pkt, 0) != KNOT_EOK) {
		*why = "malformed records";
		goto fail;
	}
	/* RFC 2136 §3.1.1: exactly one zone, of type SOA, class IN. */
	if (knot_wire_get_qdcount(wire) != 1 || knot_pkt_qtype(u->pkt) != KNOT_RRTYPE_SOA ||
	    knot_pkt_qclass(u->pkt) != KNOT_CLASS_IN) {
		*why = "the zone section is not one SOA question of class IN (RFC 2136 §3.1.1)";
		goto fail;
	}
	memcpy(u->zone, knot_pkt_qname(u->pkt), knot_dname_size(knot_pkt_qname(u->pkt)));
	dns_name_lower(u->zone);
	u->prereqs = section_rrs(u->pkt, KNOT_ANSWER, &u->n_prereqs);
	u->changes = section_rrs(u->pkt, KNOT_AUTHORITY, &u->n_changes);
	if (u->pkt->tsig_rr) {
		memcpy(u->key_name, u->pkt->tsig_rr->owner, knot_dname_size(u->pkt->tsig_rr->owner));
		dns_name_lower(u->key_name);
	}
	*out = u;
	return 0;
fail:
	dns_update_free(&u);
	return PR_EPARSE;
}

void dns_update_free(dns_update_t **up)
{
	dns_update_t *u = up ? *up : NULL;
	if (!u)
		return;
	knot_pkt_free(u->pkt);
	free(u->wire);
	free(u->prereqs);
	free(u->changes);
	free(u);
	*up = NULL;
}

const uint8_t *dns_update_zone(const dns_update_t *u)
{
	return u->zone;
}

const dns_update_rr_t *dns_update_prereqs(const dns_update_t *u, size_t *n)
{
	*n = u->n_prereqs;
	return u->prereqs;
}

const dns_update_rr_t *dns_update_changes(const dns_update_t *u, size_t *n)
{
	*n = u->n_changes;
	return u->changes;
}

bool dns_update_signed(const dns_update_t *u)
{
	return u->pkt->tsig_rr != NULL;
}

int dns_tsig_key_check(const dns_tsig_key_spec_t *k, const char **why)
{
	knot_tsig_key_t key;
	if (!k->name || dns_name_from_text(k->name, NULL, NULL, why) != 0) {
		*why = "the key name is not a domain name";
		return PR_EPARSE;
	}
	if (!k->algorithm || dnssec_tsig_algorithm_from_name(k->algorithm) ==
				     DNSSEC_TSIG_UNKNOWN) {
		*why = "unknown algorithm; valid: hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, "
		       "hmac-sha384, hmac-sha512";
		return PR_EPARSE;
	}
	if (!k->secret || !*k->secret ||
	    knot_tsig_key_init(&key, k->algorithm, k->name, k->secret) != KNOT_EOK) {
		*why = "the secret is not base64";
		return PR_EPARSE;
	}
	knot_tsig_key_deinit(&key);
	return 0;
}

int dns_update_verify(dns_update_t *u, const dns_tsig_key_spec_t *keys, size_t n)
{
	const knot_rrset_t *tsig = u->pkt->tsig_rr;
	if (!tsig)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t name[DNS_NAME_MAXLEN];
		if (dns_name_from_text(keys[i].name, name, NULL, NULL) != 0 ||
		    !dns_name_equal(name, u->key_name))
			continue;
		knot_tsig_key_t key;
		if (knot_tsig_key_init(&key, keys[i].algorithm, keys[i].name, keys[i].secret) !=
		    KNOT_EOK)
			continue;
		/* RFC 8945 §5.2.1: the algorithm is part of the key's identity. */
		const knot_dname_t *alg = knot_tsig_rdata_alg_name(tsig);
		if (!alg || dnssec_tsig_algorithm_from_dname(alg) != key.algorithm) {
			knot_tsig_key_deinit(&key);
			continue;
		}
		int rc = knot_tsig_server_check(tsig, u->pkt->wire, u->pkt->size, &key);
		knot_tsig_key_deinit(&key);
		u->key = (int)i;
		if (rc == KNOT_EOK)
			return 0;
		if (rc == KNOT_TSIG_EBADTIME)
			return DNS_TSIG_BADTIME;
		u->key = -1;
		return DNS_TSIG_BADSIG;
	}
	return DNS_TSIG_BADKEY;
}

/* RFC 8945 §5.3: answers to a verified request (and BADTIME) are signed with
 * the request's key and MAC; BADSIG and BADKEY get an unsigned TSIG that
 * carries the error. */
static int add_tsig(const dns_update_t *u, const dns_tsig_key_spec_t *keys, uint16_t tsig_error,
		    uint8_t *buf, size_t *len, size_t cap)
{
	const knot_rrset_t *tsig = u->pkt->tsig_rr;
	if (tsig_error == DNS_TSIG_BADSIG || tsig_error == DNS_TSIG_BADKEY || u->key < 0)
		return knot_tsig_add(buf, len, cap, tsig_error, tsig) == KNOT_EOK ? 0 : -ENOSPC;
	knot_tsig_key_t key;
	const dns_tsig_key_spec_t *k = &keys[u->key];
	if (knot_tsig_key_init(&key, k->algorithm, k->name, k->secret) != KNOT_EOK)
		return PR_EPARSE;
	uint8_t digest[64];
	size_t digest_len = sizeof(digest);
	int rc = knot_tsig_sign(buf, len, cap, knot_tsig_rdata_mac(tsig),
				knot_tsig_rdata_mac_length(tsig), digest, &digest_len, &key,
				tsig_error, knot_tsig_rdata_time_signed(tsig));
	knot_tsig_key_deinit(&key);
	return rc == KNOT_EOK ? 0 : -ENOSPC;
}

size_t dns_update_answer(const dns_update_t *u, uint16_t rcode, const dns_tsig_key_spec_t *keys,
			 uint16_t tsig_error, uint8_t *buf, size_t cap)
{
	size_t zlen = knot_dname_size(knot_pkt_qname(u->pkt));
	size_t len = DNS_HEADER_LEN + zlen + 4;
	if (cap < len)
		return 0;
	/* RFC 2136 §3.8: the header and the zone section of the request. */
	memcpy(buf, u->wire, DNS_HEADER_LEN);
	knot_wire_set_qr(buf);
	knot_wire_set_rcode(buf, tsig_error ? KNOT_RCODE_NOTAUTH : rcode);
	knot_wire_set_ancount(buf, 0);
	knot_wire_set_nscount(buf, 0);
	knot_wire_set_arcount(buf, 0);
	memcpy(buf + DNS_HEADER_LEN, u->wire + DNS_HEADER_LEN, zlen + 4);
	if (u->pkt->tsig_rr && add_tsig(u, keys, tsig_error, buf, &len, cap) != 0)
		return 0;
	return len;
}

size_t dns_update_error(const uint8_t *wire, size_t len, uint16_t rcode, uint8_t *buf, size_t cap)
{
	if (len < DNS_HEADER_LEN || cap < DNS_HEADER_LEN)
		return 0;
	/* The header only: a zone section we could not read is not echoed. */
	memcpy(buf, wire, DNS_HEADER_LEN);
	knot_wire_set_qr(buf);
	knot_wire_set_rcode(buf, rcode);
	knot_wire_set_qdcount(buf, 0);
	knot_wire_set_ancount(buf, 0);
	knot_wire_set_nscount(buf, 0);
	knot_wire_set_arcount(buf, 0);
	return DNS_HEADER_LEN;
}

int dns_rdata_canonical(uint16_t type, const uint8_t *rdata, uint16_t len, uint8_t *out,
			uint16_t *out_len)
{
	/* Read as a record of its own (root owner, IN, TTL 0) so that libknot
	 * checks the rdata against the type's layout before it lowers the names
	 * in it: its canonical conversion alone trusts the layout, and walked a
	 * label length of 255 in rdata of another type without end. */
	enum { HEAD = 11 };
	uint8_t *wire = pr_malloc(HEAD + (size_t)len);
	uint8_t *p = wire;
	*p++ = 0;
	knot_wire_write_u16(p, type);
	knot_wire_write_u16(p + 2, KNOT_CLASS_IN);
	knot_wire_write_u32(p + 4, 0);
	knot_wire_write_u16(p + 8, len);
	memcpy(wire + HEAD, rdata, len);
	knot_rrset_t rr;
	knot_rrset_init_empty(&rr);
	size_t pos = 0;
	int rc = knot_rrset_rr_from_wire(wire, &pos, HEAD + (size_t)len, &rr, NULL, true) ==
				 KNOT_EOK && pos == HEAD + (size_t)len && rr.rrs.count == 1
			 ? 0
			 : PR_EPARSE;
	if (rc == 0) {
		memcpy(out, rr.rrs.rdata->data, rr.rrs.rdata->len);
		*out_len = rr.rrs.rdata->len;
	}
	knot_rrset_clear(&rr, NULL);
	free(wire);
	return rc;
}

int dns_rdata_text(uint16_t type, const uint8_t *rdata, uint16_t len, char *out, size_t outlen)
{
	uint8_t owner[1] = {0};
	knot_rrset_t rr;
	knot_rrset_init(&rr, owner, type, KNOT_CLASS_IN, 0);
	if (knot_rrset_add_rdata(&rr, rdata, len, NULL) != KNOT_EOK)
		return -ENOMEM;
	int rc = dns_rdata_to_text(&rr, 0, out, outlen);
	knot_rdataset_clear(&rr.rrs, NULL);
	return rc;
}
