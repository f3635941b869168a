/*
 * dns — the wire format, over libknot: domain names (text and wire, lowercase,
 * label counts, suffix tests), and (as the data plane grows) parsing queries
 * and building answers, referrals and errors with EDNS.
 *
 * Threads: every function is reentrant; no global state.
 * Input: text and wire input is untrusted and validated; nothing here asserts
 * on it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAXLEN 255 /* octets on the wire, RFC 1035 */
#define DNS_LABEL_MAXLEN 63
#define DNS_NAME_TEXT_MAX 1024 /* enough for any name in presentation form */

/* A name parsed from text. */
typedef struct dns_name_info {
	size_t wire_len; /* octets on the wire, root label included */
	int labels;      /* labels, the root not counted ("." has 0) */
	bool absolute;   /* the text ended with a dot */
} dns_name_info_t;

/*
 * Parse a name in presentation form into lowercase wire form.
 * wire: at least DNS_NAME_MAXLEN bytes (may be NULL to only check).
 * Accepts "." for the root; "\DDD" and "\X" escapes. Returns 0, or PR_EPARSE
 * with *why set to a static explanation. Outputs written only on success.
 */
int dns_name_from_text(const char *text, uint8_t *wire, dns_name_info_t *info, const char **why);

/* Presentation form of a wire name into out (lowercase kept as is), always
 * absolute ("a.b."). Returns the length or a negative error. */
int dns_name_to_text(const uint8_t *wire, char *out, size_t outlen);

/* Labels in a wire name, root not counted. */
int dns_name_label_count(const uint8_t *wire);

/* Does name fall under (or equal) suffix, by whole labels, case-insensitive? */
bool dns_name_is_under(const uint8_t *name, const uint8_t *suffix);

/* Lowercase a wire name in place. */
void dns_name_lower(uint8_t *wire);

/* Canonical text of a name: lowercase, absolute, as a new string (owned), or
 * NULL if it does not parse. */
char *dns_name_canonical(const char *text);
