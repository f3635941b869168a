/* What the Windows DNS Client service looks at before any server: the hosts
 * file and its local cache of positive and negative answers, each kept for
 * its TTL (negative ones per RFC 2308), capped as MaxCacheTtl and
 * MaxNegativeCacheTtl cap them. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/libknot.h>

#include "dns/dns.h"
#include "stub/stub.h"

typedef struct centry {
	uint8_t *reply;
	size_t len;
	uint64_t stored_ms, expires_ms;
} centry_t;

struct stub_cache {
	pr_map_t *index; /* name wire + type → entry */
	centry_t *entries;
	size_t n, cap;
};

stub_cache_t *stub_cache_new(void)
{
	stub_cache_t *c = pr_calloc(1, sizeof(*c));
	c->index = pr_map_new();
	return c;
}

static void cache_clear(stub_cache_t *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->entries[i].reply);
	c->n = 0;
	pr_map_destroy(&c->index);
	c->index = pr_map_new();
}

void stub_cache_destroy(stub_cache_t **cp)
{
	if (!cp || !*cp)
		return;
	cache_clear(*cp);
	pr_map_destroy(&(*cp)->index);
	free((*cp)->entries);
	free(*cp);
	*cp = NULL;
}

/* The key: the lowercase wire name followed by the type. */
static size_t cache_key(const uint8_t *qname_lower, uint16_t qtype, uint8_t *key)
{
	size_t n = dns_name_wire_length(qname_lower);
	memcpy(key, qname_lower, n);
	key[n] = (uint8_t)(qtype >> 8);
	key[n + 1] = (uint8_t)qtype;
	return n + 2;
}

void stub_cache_put(stub_cache_t *c, const uint8_t *qname_lower, uint16_t qtype,
		    const uint8_t *reply, size_t len, uint64_t now_ms)
{
	uint32_t ttl = dns_message_lifetime(reply, len, STUB_CACHE_MAX_TTL, STUB_CACHE_MAX_NEG_TTL);
	if (ttl == 0)
		return;
	uint8_t key[DNS_NAME_MAXLEN + 2];
	size_t klen = cache_key(qname_lower, qtype, key);
	int at = pr_map_get(c->index, key, klen);
	if (at < 0) {
		if (c->n >= STUB_CACHE_ENTRIES)
			cache_clear(c); /* a host's stub: starting over is enough */
		pr_grow(&c->entries, &c->cap, c->n + 1, sizeof(*c->entries));
		at = (int)c->n++;
		c->entries[at].reply = NULL;
		pr_map_put(c->index, key, klen, at, NULL);
	}
	centry_t *e = &c->entries[at];
	free(e->reply);
	e->reply = pr_malloc(len);
	memcpy(e->reply, reply, len);
	e->len = len;
	e->stored_ms = now_ms;
	e->expires_ms = now_ms + (uint64_t)ttl * 1000;
}

size_t stub_cache_get(stub_cache_t *c, const uint8_t *qname_lower, uint16_t qtype, uint16_t id,
		      uint64_t now_ms, uint8_t *out, size_t cap)
{
	uint8_t key[DNS_NAME_MAXLEN + 2];
	int at = pr_map_get(c->index, key, cache_key(qname_lower, qtype, key));
	if (at < 0)
		return 0;
	const centry_t *e = &c->entries[at];
	if (!e->reply || now_ms >= e->expires_ms || e->len > cap)
		return 0;
	memcpy(out, e->reply, e->len);
	dns_message_age(out, e->len, (uint32_t)((now_ms - e->stored_ms) / 1000));
	knot_wire_set_id(out, id);
	return e->len;
}

/* ---- The hosts file ------------------------------------------------------------ */

typedef struct hentry {
	uint8_t name[DNS_NAME_MAXLEN];
	uint32_t addr;
} hentry_t;

struct stub_hosts {
	hentry_t *entries;
	size_t n, cap;
};

/* The next blank-separated word of line (advanced), NUL-terminated in place. */
static char *word(char **line)
{
	char *p = *line;
	while (*p && isspace((unsigned char)*p))
		p++;
	if (!*p)
		return NULL;
	char *w = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = '\0';
	*line = p;
	return w;
}

stub_hosts_t *stub_hosts_parse(const char *text, size_t *bad)
{
	stub_hosts_t *h = pr_calloc(1, sizeof(*h));
	char *copy = pr_strdup(text ? text : "");
	*bad = 0;
	for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *addr_text = word(&line);
		uint32_t addr;
		if (!addr_text)
			continue;
		if (pr_ipv4_parse(addr_text, &addr) != 0) {
			(*bad)++; /* IPv6 and garbage alike: this stub is IPv4 (N-1) */
			continue;
		}
		for (char *name = word(&line); name; name = word(&line)) {
			hentry_t e = {.addr = addr};
			if (dns_name_from_text(name, e.name, NULL, NULL) != 0) {
				(*bad)++;
				continue;
			}
			pr_grow(&h->entries, &h->cap, h->n + 1, sizeof(*h->entries));
			h->entries[h->n++] = e;
		}
	}
	free(copy);
	return h;
}

void stub_hosts_destroy(stub_hosts_t **hp)
{
	if (!hp || !*hp)
		return;
	free((*hp)->entries);
	free(*hp);
	*hp = NULL;
}

size_t stub_hosts_lookup(const stub_hosts_t *h, const uint8_t *qname_lower, uint32_t *out,
			 size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; h && i < h->n && n < cap; i++)
		if (dns_name_equal(h->entries[i].name, qname_lower))
			out[n++] = h->entries[i].addr;
	return n;
}
