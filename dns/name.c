#include "dns/dns.h"

#include <ctype.h>
#include <libknot/libknot.h>
#include <string.h>

#include "base/base.h"

static int parse_escape(const char **pp, uint8_t *out)
{
	const char *p = *pp;
	if (isdigit((unsigned char)p[0])) {
		if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
			return -1;
		int v = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		if (v > 255)
			return -1;
		*out = (uint8_t)v;
		*pp = p + 3;
		return 0;
	}
	if (p[0] == '\0')
		return -1;
	*out = (uint8_t)p[0];
	*pp = p + 1;
	return 0;
}

int dns_name_from_text(const char *text, uint8_t *wire, dns_name_info_t *info, const char **why)
{
	const char *dummy;
	why = why ? why : &dummy;
	if (!text || !*text) {
		*why = "empty name";
		return PR_EPARSE;
	}
	uint8_t buf[DNS_NAME_MAXLEN];
	size_t len = 0;
	int labels = 0;
	if (strcmp(text, ".") == 0) {
		buf[len++] = 0;
		goto done;
	}
	const char *p = text;
	while (*p) {
		if (*p == '.') {
			*why = "empty label (two dots in a row, or a leading dot)";
			return PR_EPARSE;
		}
		size_t lpos = len++;
		size_t llen = 0;
		while (*p && *p != '.') {
			uint8_t c;
			if (*p == '\\') {
				p++;
				if (parse_escape(&p, &c) != 0) {
					*why = "bad escape sequence";
					return PR_EPARSE;
				}
			} else {
				c = (uint8_t)*p++;
				if (c <= ' ' || c >= 0x7f) {
					*why = "names may not hold spaces or control characters";
					return PR_EPARSE;
				}
			}
			if (++llen > DNS_LABEL_MAXLEN) {
				*why = "a label is longer than 63 octets";
				return PR_EPARSE;
			}
			if (len + 1 >= DNS_NAME_MAXLEN) {
				*why = "the name is longer than 255 octets on the wire";
				return PR_EPARSE;
			}
			buf[len++] = (uint8_t)tolower(c);
		}
		buf[lpos] = (uint8_t)llen;
		labels++;
		if (*p == '.')
			p++;
	}
	buf[len++] = 0;
done:
	if (wire)
		memcpy(wire, buf, len);
	if (info) {
		size_t tl = strlen(text);
		*info = (dns_name_info_t){
			.wire_len = len,
			.labels = labels,
			.absolute = text[tl - 1] == '.' && (tl < 2 || text[tl - 2] != '\\'),
		};
	}
	return 0;
}

int dns_name_to_text(const uint8_t *wire, char *out, size_t outlen)
{
	if (!knot_dname_to_str(out, wire, outlen))
		return PR_EPARSE;
	return (int)strlen(out);
}

int dns_name_label_count(const uint8_t *wire)
{
	return (int)knot_dname_labels(wire, NULL);
}

bool dns_name_is_under(const uint8_t *name, const uint8_t *suffix)
{
	int nl = dns_name_label_count(name), sl = dns_name_label_count(suffix);
	if (sl > nl)
		return false;
	for (int i = 0; i < nl - sl; i++)
		name += name[0] + 1;
	/* The remaining labels must be equal, case-insensitively. */
	while (*name && *suffix) {
		if (*name != *suffix)
			return false;
		for (int i = 1; i <= *name; i++)
			if (tolower(name[i]) != tolower(suffix[i]))
				return false;
		name += *name + 1;
		suffix += *suffix + 1;
	}
	return *name == 0 && *suffix == 0;
}

void dns_name_lower(uint8_t *wire)
{
	while (*wire) {
		for (int i = 1; i <= *wire; i++)
			wire[i] = (uint8_t)tolower(wire[i]);
		wire += *wire + 1;
	}
}

char *dns_name_canonical(const char *text)
{
	uint8_t wire[DNS_NAME_MAXLEN];
	char out[DNS_NAME_TEXT_MAX];
	if (dns_name_from_text(text, wire, NULL, NULL) != 0 ||
	    dns_name_to_text(wire, out, sizeof(out)) < 0)
		return NULL;
	return pr_strdup(out);
}

size_t dns_name_wire_length(const uint8_t *wire)
{
	return knot_dname_size(wire);
}

bool dns_name_equal(const uint8_t *a, const uint8_t *b)
{
	return dns_name_label_count(a) == dns_name_label_count(b) && dns_name_is_under(a, b);
}
