/* Record types and record values in presentation form, read with libzscanner
 * so that values mean exactly what they mean in a zone file (design.md §5). */
#include "dns/dns.h"

#include <libknot/libknot.h>
#include <pthread.h>
#include <libzscanner/scanner.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

int dns_rrtype_from_text(const char *text, uint16_t *type)
{
	uint16_t t = 0;
	if (!text || !*text || knot_rrtype_from_string(text, &t) != 0)
		return PR_EPARSE;
	*type = t;
	return 0;
}

const char *dns_rrtype_to_text(uint16_t type, char *out, size_t outlen)
{
	if (knot_rrtype_to_string(type, out, outlen) < 0)
		snprintf(out, outlen, "TYPE%u", type);
	return out;
}

/* What a value of each type looks like: the second half of every message, so
 * the person reading the validator's report knows what to write instead. */
static const char *type_hint(uint16_t type)
{
	switch (type) {
	case KNOT_RRTYPE_A:
		return "A needs an IPv4 address, e.g. \"10.10.2.5\"";
	case KNOT_RRTYPE_AAAA:
		return "AAAA needs an IPv6 address, e.g. \"fd00:10::5\"";
	case KNOT_RRTYPE_CNAME:
		return "CNAME needs one domain name, e.g. \"web.contoso.com.\"";
	case KNOT_RRTYPE_PTR:
		return "PTR needs one domain name, e.g. \"vm1.contoso.com.\"";
	case KNOT_RRTYPE_NS:
		return "NS needs one domain name, e.g. \"ns1.contoso.com.\"";
	case KNOT_RRTYPE_MX:
		return "MX needs 'preference exchange', e.g. \"10 mail.contoso.com.\"";
	case KNOT_RRTYPE_SRV:
		return "SRV needs 'priority weight port target', "
		       "e.g. \"0 5 5060 sip.contoso.com.\"";
	case KNOT_RRTYPE_TXT:
		return "TXT needs text, e.g. v=spf1 -all, or quoted strings, e.g. "
		       "\"\\\"part one\\\" \\\"part two\\\"\"";
	case KNOT_RRTYPE_SOA:
		return "SOA needs 'mname rname serial refresh retry expire minimum', e.g. "
		       "\"ns1.contoso.com. hostmaster.contoso.com. 1 3600 300 2419200 300\"";
	default:
		return "the value must be written as in a zone file (RFC 1035 §5)";
	}
}

/* A TXT value that is not quoted is one string, taken literally: quote it for
 * the scanner, in pieces of at most 255 octets (RFC 1035 §3.3.14). */
static void txt_quote(pr_buf_t *b, const char *text)
{
	size_t n = strlen(text);
	for (size_t start = 0; start < n || (n == 0 && start == 0); start += 255) {
		pr_buf_append(b, "\"", 1);
		for (size_t i = start; i < n && i < start + 255; i++) {
			unsigned char c = (unsigned char)text[i];
			if (c == '"' || c == '\\')
				pr_buf_printf(b, "\\%c", c);
			else if (c < 0x20 || c >= 0x7f)
				pr_buf_printf(b, "\\%03u", c);
			else
				pr_buf_append(b, &text[i], 1);
		}
		pr_buf_append(b, "\" ", 2);
		if (n == 0)
			break;
	}
}

/* An address as the scanner would read it, without the scanner's ~200 KB
 * set-up: most values of a large zone are addresses. false: let the scanner
 * read it (and explain what is wrong). */
static bool address_from_text(uint16_t type, const char *text, uint8_t *rdata, size_t rdata_cap,
			      size_t *rdata_len)
{
	size_t len = type == KNOT_RRTYPE_A ? 4 : type == KNOT_RRTYPE_AAAA ? 16 : 0;
	uint8_t buf[16];
	if (!len || !text || len > rdata_cap ||
	    inet_pton(len == 4 ? AF_INET : AF_INET6, text, buf) != 1)
		return false;
	memcpy(rdata, buf, len);
	*rdata_len = len;
	return true;
}

/* One scanner per thread, kept: a scanner is ~200 KB, and allocating (and
 * faulting in) a fresh one per value made zones of thousands of records, and
 * updates that add them, slow. Freed when the thread ends. */
static pthread_key_t scanner_key;
static pthread_once_t scanner_once = PTHREAD_ONCE_INIT;

static void scanner_key_make(void)
{
	pthread_key_create(&scanner_key, free);
}

static zs_scanner_t *thread_scanner(void)
{
	pthread_once(&scanner_once, scanner_key_make);
	zs_scanner_t *s = pthread_getspecific(scanner_key);
	if (!s) {
		s = pr_malloc(sizeof(*s)); /* never on a stack */
		pthread_setspecific(scanner_key, s);
	}
	return s;
}

int dns_rdata_from_text(uint16_t type, const char *text, const uint8_t *origin_wire,
			uint8_t *rdata, size_t rdata_cap, size_t *rdata_len, char **why)
{
	int ret = PR_EPARSE;
	char *msg = NULL;
	pr_buf_t line = {0};
	zs_scanner_t *s = NULL;
	bool scanner_ready = false;
	char tname[32], origin[DNS_NAME_TEXT_MAX] = ".";

	if (address_from_text(type, text, rdata, rdata_cap, rdata_len))
		return 0;
	dns_rrtype_to_text(type, tname, sizeof(tname));
	if (!text) {
		msg = pr_asprintf("no value: %s", type_hint(type));
		goto cleanup;
	}
	/* One value is one line: a newline would let a value smuggle in a second
	 * record or a directive. */
	for (const char *p = text; *p; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\0') {
			msg = pr_asprintf("a value can't span lines: %s", type_hint(type));
			goto cleanup;
		}
	}
	if (origin_wire && !knot_dname_to_str(origin, origin_wire, sizeof(origin))) {
		msg = pr_strdup("the origin is not a valid name");
		goto cleanup;
	}

	pr_buf_printf(&line, "@ 0 IN %s ", tname);
	if (type == KNOT_RRTYPE_TXT && text[0] != '"')
		txt_quote(&line, text);
	else
		pr_buf_printf(&line, "%s", text);
	pr_buf_append(&line, "\n", 1);

	s = thread_scanner();
	if (zs_init(s, origin, KNOT_CLASS_IN, 0) != 0) {
		msg = pr_strdup("the origin is not a valid name");
		goto cleanup;
	}
	scanner_ready = true;
	if (zs_set_input_string(s, line.data, line.len) != 0) {
		msg = pr_strdup("cannot read the value");
		goto cleanup;
	}
	int records = 0;
	size_t len = 0;
	while (zs_parse_record(s) == 0 && s->state == ZS_STATE_DATA) {
		records++;
		len = s->r_data_length;
	}
	if (s->state == ZS_STATE_ERROR || s->error.code != ZS_OK) {
		msg = pr_asprintf("\"%s\" is not a valid %s value (%s): %s", text, tname,
				  zs_strerror(s->error.code), type_hint(type));
		goto cleanup;
	}
	if (records != 1 || s->r_type != type) {
		msg = pr_asprintf("\"%s\" is not one %s value: %s", text, tname, type_hint(type));
		goto cleanup;
	}
	if (len > rdata_cap) {
		ret = -ENOSPC;
		msg = pr_asprintf("the %s value is %zu octets, more than %zu", tname, len,
				  rdata_cap);
		goto cleanup;
	}
	memcpy(rdata, s->r_data, len);
	*rdata_len = len;
	ret = 0;
cleanup:
	if (scanner_ready)
		zs_deinit(s);
	pr_buf_free(&line);
	if (ret != 0 && why)
		*why = msg;
	else
		free(msg);
	return ret;
}

/* Character-strings (RFC 1035 §3.3) filling [p, end): each a length octet
 * and that many octets. */
static bool strings_are_whole(const uint8_t *p, const uint8_t *end)
{
	size_t at = 0, len = (size_t)(end - p);
	while (at < len)
		at += 1 + (size_t)p[at];
	return at == len;
}

/* A type bitmap (RFC 4034 §4.1.2) filling [p, end): windows of 1-32 octets. */
static bool bitmap_is_whole(const uint8_t *p, const uint8_t *end)
{
	size_t at = 0, len = (size_t)(end - p);
	while (at < len) {
		if (len - at < 2 || p[at + 1] == 0 || p[at + 1] > 32)
			return false;
		at += 2 + (size_t)p[at + 1];
	}
	return at == len;
}

/* libknot checks the inside of a value only where the type's descriptor says
 * so; for the types below it reads an opaque remainder whose own lengths and
 * names its dumper then follows without a bound (an outside answer's NSEC3
 * with a salt length past its end was read beyond it). A value that does not
 * come from our own parser is checked here first. */
static bool rdata_layout_is_whole(uint16_t type, const uint8_t *data, uint16_t len)
{
	const uint8_t *end = data + len;
	switch (type) {
	case KNOT_RRTYPE_SVCB:
	case KNOT_RRTYPE_HTTPS:
		return len > 2 && knot_dname_wire_check(data + 2, end, NULL) > 0;
	case KNOT_RRTYPE_IPSECKEY:
		if (len < 3)
			return false;
		return data[1] != 3 || knot_dname_wire_check(data + 3, end, NULL) > 0;
	case KNOT_RRTYPE_NSEC3: { /* alg flags iterations(2) salt hash bitmap */
		if (len < 6 || 5 + (size_t)data[4] + 1 > len)
			return false;
		size_t hash = 5 + (size_t)data[4];
		return hash + 1 + data[hash] <= len &&
		       bitmap_is_whole(data + hash + 1 + data[hash], end);
	}
	case KNOT_RRTYPE_NSEC3PARAM:
		return len >= 5 && 5 + (size_t)data[4] == len;
	case KNOT_RRTYPE_NSEC: {
		int n = knot_dname_wire_check(data, end, NULL);
		return n > 0 && bitmap_is_whole(data + n, end);
	}
	case KNOT_RRTYPE_CSYNC: /* serial(4) flags(2) bitmap */
		return len >= 6 && bitmap_is_whole(data + 6, end);
	case KNOT_RRTYPE_CAA: /* flags, tag length, tag, value */
		return len >= 2 && 2 + (size_t)data[1] <= len;
	case KNOT_RRTYPE_TXT:
	case KNOT_RRTYPE_SPF:
	case KNOT_RRTYPE_HINFO:
		return strings_are_whole(data, end);
	default:
		return true;
	}
}

/* RFC 3597's generic form, for a value whose own form cannot be trusted. */
static int rdata_generic_text(const uint8_t *data, uint16_t len, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "\\# %u%s", len, len ? " " : "");
	if (n < 0 || (size_t)n >= outlen)
		return -ENOSPC;
	for (uint16_t k = 0; k < len; k++) {
		if ((size_t)n + 3 > outlen)
			return -ENOSPC;
		n += snprintf(out + n, outlen - (size_t)n, "%02x", data[k]);
	}
	return n;
}

int dns_rdata_to_text(const knot_rrset_t *rr, uint16_t i, char *out, size_t outlen)
{
	if (!rr || i >= rr->rrs.count)
		return -EINVAL;
	const knot_rdata_t *rd = knot_rdataset_at(&rr->rrs, i);
	if (!rdata_layout_is_whole(rr->type, rd->data, rd->len))
		return rdata_generic_text(rd->data, rd->len, out, outlen);
	int n = knot_rrset_txt_dump_data(rr, i, out, outlen, &KNOT_DUMP_STYLE_DEFAULT);
	if (n == KNOT_ESPACE)
		return -ENOSPC;
	return n < 0 ? PR_EPARSE : n;
}
