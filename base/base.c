#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *pr_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case PR_ECONFIG: return "invalid configuration";
	case PR_ELIMIT: return "limit exceeded";
	case PR_ELOOP: return "forwarding loop";
	case PR_ENOTFOUND: return "not found";
	case PR_EEXIST: return "already exists";
	case PR_EPARSE: return "cannot be parsed";
	case PR_EIMMUTABLE: return "property cannot be changed";
	case PR_EINUSE: return "in use";
	case PR_EIO: return "input/output error";
	case PR_EUNMAPPED: return "unmapped target";
	case PR_ETIMEOUT: return "timed out";
	case PR_ECORRUPT: return "damaged state";
	default: break;
	}
	if (err < 0 && err > PR_EBASE)
		return strerror(-err);
	return "unknown error";
}

_Noreturn void pr_require_failed(const char *expr, const char *file, int line)
{
	fprintf(stderr, "privres: internal contract broken: %s (%s:%d)\n", expr, file, line);
	abort();
}

static void *out_of_memory(size_t n)
{
	fprintf(stderr, "privres: out of memory (%zu bytes)\n", n);
	abort();
}

void *pr_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	return p ? p : out_of_memory(n);
}

void *pr_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	return p ? p : out_of_memory(n * size);
}

void *pr_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	return q ? q : out_of_memory(n);
}

char *pr_strdup(const char *s)
{
	return s ? pr_strndup(s, strlen(s)) : NULL;
}

char *pr_strndup(const char *s, size_t n)
{
	char *d = pr_malloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *pr_asprintf(const char *fmt, ...)
{
	pr_buf_t b = {0};
	va_list ap;
	va_start(ap, fmt);
	pr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return pr_buf_take(&b);
}

void pr_grow(void *arr_ptr, size_t *cap, size_t n, size_t elem)
{
	void **arr = arr_ptr;
	if (n <= *cap)
		return;
	size_t ncap = *cap ? *cap * 2 : 4;
	while (ncap < n)
		ncap *= 2;
	*arr = pr_realloc(*arr, ncap * elem);
	memset((char *)*arr + *cap * elem, 0, (ncap - *cap) * elem);
	*cap = ncap;
}

struct pr_diag {
	pr_diag_entry_t *e;
	size_t n, cap;
};

pr_diag_t *pr_diag_new(void)
{
	return pr_calloc(1, sizeof(pr_diag_t));
}

void pr_diag_clear(pr_diag_t *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->e[i].file);
		free(d->e[i].path);
		free(d->e[i].rule);
		free(d->e[i].message);
	}
	d->n = 0;
}

void pr_diag_destroy(pr_diag_t **dp)
{
	if (!dp || !*dp)
		return;
	pr_diag_clear(*dp);
	free((*dp)->e);
	free(*dp);
	*dp = NULL;
}

void pr_diag_add(pr_diag_t *d, const char *file, int line, int column, const char *path,
		 const char *rule, int code, const char *fmt, ...)
{
	pr_grow(&d->e, &d->cap, d->n + 1, sizeof(*d->e));
	pr_diag_entry_t *e = &d->e[d->n++];
	pr_buf_t b = {0};
	va_list ap;
	va_start(ap, fmt);
	pr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*e = (pr_diag_entry_t){
		.file = pr_strdup(file),
		.line = line,
		.column = column,
		.path = pr_strdup(path),
		.rule = pr_strdup(rule),
		.code = code,
		.message = pr_buf_take(&b),
	};
}

size_t pr_diag_count(const pr_diag_t *d)
{
	return d ? d->n : 0;
}

const pr_diag_entry_t *pr_diag_get(const pr_diag_t *d, size_t i)
{
	PR_REQUIRE(i < d->n);
	return &d->e[i];
}

int pr_diag_first_code(const pr_diag_t *d)
{
	return d && d->n ? d->e[0].code : 0;
}

char *pr_diag_entry_format(const pr_diag_entry_t *e)
{
	pr_buf_t b = {0};
	if (e->file)
		pr_buf_printf(&b, "%s:", e->file);
	if (e->line)
		pr_buf_printf(&b, "%d:%d:", e->line, e->column);
	if (b.len)
		pr_buf_printf(&b, " ");
	if (e->path && *e->path)
		pr_buf_printf(&b, "%s: ", e->path);
	pr_buf_printf(&b, "%s", e->message);
	if (e->rule)
		pr_buf_printf(&b, " (%s)", e->rule);
	return pr_buf_take(&b);
}

char *pr_diag_format(const pr_diag_t *d)
{
	pr_buf_t b = {0};
	for (size_t i = 0; d && i < d->n; i++) {
		char *line = pr_diag_entry_format(&d->e[i]);
		pr_buf_printf(&b, "%s\n", line);
		free(line);
	}
	if (!b.data)
		return pr_strdup("");
	return pr_buf_take(&b);
}

void pr_buf_vprintf(pr_buf_t *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	pr_grow(&b->data, &b->cap, b->len + (size_t)n + 1, 1);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void pr_buf_printf(pr_buf_t *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pr_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void pr_buf_append(pr_buf_t *b, const void *data, size_t len)
{
	pr_grow(&b->data, &b->cap, b->len + len + 1, 1);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

char *pr_buf_take(pr_buf_t *b)
{
	char *s = b->data ? b->data : pr_strdup("");
	*b = (pr_buf_t){0};
	return s;
}

void pr_buf_free(pr_buf_t *b)
{
	free(b->data);
	*b = (pr_buf_t){0};
}

uint64_t pr_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t pr_now_ms(void)
{
	return pr_now_ns() / 1000000ull;
}

#include <arpa/inet.h>

int pr_ipv4_parse(const char *text, uint32_t *out)
{
	struct in_addr a;
	if (!text || inet_pton(AF_INET, text, &a) != 1)
		return PR_EPARSE;
	*out = ntohl(a.s_addr);
	return 0;
}

char *pr_ipv4_format(uint32_t addr, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
		 addr & 0xff);
	return buf;
}

uint32_t pr_prefix_mask(uint8_t len)
{
	return len == 0 ? 0 : (uint32_t)(0xffffffffu << (32 - len));
}

int pr_prefix_parse(const char *text, pr_prefix_t *out, const char **why)
{
	const char *dummy;
	why = why ? why : &dummy;
	const char *slash = text ? strchr(text, '/') : NULL;
	if (!slash) {
		*why = "expected an IPv4 prefix like 10.0.0.0/16";
		return PR_EPARSE;
	}
	char host[32];
	size_t hl = (size_t)(slash - text);
	if (hl >= sizeof(host)) {
		*why = "expected an IPv4 prefix like 10.0.0.0/16";
		return PR_EPARSE;
	}
	memcpy(host, text, hl);
	host[hl] = '\0';
	uint32_t addr;
	if (pr_ipv4_parse(host, &addr) != 0) {
		*why = "not an IPv4 address (the service has no IPv6)";
		return PR_EPARSE;
	}
	char *end;
	long len = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || len < 0 || len > 32) {
		*why = "prefix length must be 0..32";
		return PR_EPARSE;
	}
	if (addr & ~pr_prefix_mask((uint8_t)len)) {
		*why = "host bits are set (write the network address)";
		return PR_EPARSE;
	}
	*out = (pr_prefix_t){.addr = addr, .len = (uint8_t)len};
	return 0;
}

bool pr_prefix_contains(pr_prefix_t p, uint32_t addr)
{
	return (addr & pr_prefix_mask(p.len)) == p.addr;
}

bool pr_prefix_covers(pr_prefix_t p, pr_prefix_t q)
{
	return q.len >= p.len && pr_prefix_contains(p, q.addr);
}

bool pr_prefix_overlaps(pr_prefix_t p, pr_prefix_t q)
{
	return pr_prefix_covers(p, q) || pr_prefix_covers(q, p);
}

uint32_t pr_prefix_last(pr_prefix_t p)
{
	return p.addr | ~pr_prefix_mask(p.len);
}

int pr_hostport_parse(const char *text, uint32_t *addr, uint16_t *port)
{
	const char *colon = text ? strrchr(text, ':') : NULL;
	if (!colon || (size_t)(colon - text) >= 32)
		return PR_EPARSE;
	char host[32];
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	uint32_t a;
	if (pr_ipv4_parse(host, &a) != 0)
		return PR_EPARSE;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 1 || p > 65535)
		return PR_EPARSE;
	*addr = a;
	*port = (uint16_t)p;
	return 0;
}

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

struct pr_arena {
	struct arena_chunk *head;
	size_t chunk_size;
	size_t bytes; /* of every chunk */
};

pr_arena_t *pr_arena_new(size_t chunk_size)
{
	pr_arena_t *a = pr_calloc(1, sizeof(*a));
	a->chunk_size = chunk_size ? chunk_size : 16384;
	return a;
}

static void free_chunks(struct arena_chunk *c)
{
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
}

size_t pr_arena_bytes(const pr_arena_t *a)
{
	return a->bytes;
}

void pr_arena_destroy(pr_arena_t **ap)
{
	if (!ap || !*ap)
		return;
	free_chunks((*ap)->head);
	free(*ap);
	*ap = NULL;
}

void *pr_arena_alloc(pr_arena_t *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct arena_chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t size = n > a->chunk_size ? n : a->chunk_size;
		struct arena_chunk *nc = pr_malloc(sizeof(*nc) + size);
		a->bytes += size;
		nc->size = size;
		nc->used = 0;
		/* A big one-off block goes behind the current chunk so the
		 * current one keeps serving small requests. */
		if (c && n > a->chunk_size) {
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			a->head = nc;
		}
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *pr_arena_strndup(pr_arena_t *a, const char *s, size_t n)
{
	char *d = pr_arena_alloc(a, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *pr_arena_concat(pr_arena_t *a, const char *const *parts, size_t n)
{
	size_t lens[16], len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = parts[i] ? strlen(parts[i]) : 0;
		if (i < 16)
			lens[i] = l;
		len += l;
	}
	char *d = pr_arena_alloc(a, len + 1), *p = d;
	for (size_t i = 0; i < n; i++) {
		size_t l = i < 16 ? lens[i] : parts[i] ? strlen(parts[i]) : 0;
		if (l)
			memcpy(p, parts[i], l);
		p += l;
	}
	*p = '\0';
	return d;
}

char *pr_arena_strdup(pr_arena_t *a, const char *s)
{
	return s ? pr_arena_strndup(a, s, strlen(s)) : NULL;
}

void pr_arena_reset(pr_arena_t *a)
{
	if (!a->head)
		return;
	struct arena_chunk *last = a->head;
	struct arena_chunk *prev = NULL;
	while (last->next) {
		prev = last;
		last = last->next;
	}
	(void)prev;
	/* Keep the oldest chunk (the first allocated), free the rest. */
	struct arena_chunk *c = a->head;
	while (c != last) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	last->used = 0;
	a->head = last;
	a->bytes = last->size;
}

struct map_slot {
	char *key;
	size_t len;
	uint64_t hash;
	int value;
};

struct pr_map {
	struct map_slot *slots;
	size_t cap, n;
};

uint64_t pr_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull; /* FNV-1a 64 prime */
	return h;
}

uint64_t pr_hash_final(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

uint64_t pr_hash(const void *p, size_t n)
{
	return pr_hash_final(pr_hash_bytes(PR_HASH_INIT, p, n));
}

pr_map_t *pr_map_new(void)
{
	pr_map_t *m = pr_calloc(1, sizeof(*m));
	m->cap = 64;
	m->slots = pr_calloc(m->cap, sizeof(*m->slots));
	return m;
}

void pr_map_destroy(pr_map_t **mp)
{
	if (!mp || !*mp)
		return;
	for (size_t i = 0; i < (*mp)->cap; i++)
		free((*mp)->slots[i].key);
	free((*mp)->slots);
	free(*mp);
	*mp = NULL;
}

static struct map_slot *map_find(const pr_map_t *m, const void *key, size_t len, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);
	while (m->slots[i].key) {
		struct map_slot *s = &m->slots[i];
		if (s->hash == h && s->len == len && !memcmp(s->key, key, len))
			return s;
		i = (i + 1) & (m->cap - 1);
	}
	return &m->slots[i];
}

bool pr_map_put(pr_map_t *m, const void *key, size_t len, int value, int *existing)
{
	uint64_t h = pr_hash(key, len);
	struct map_slot *s = map_find(m, key, len, h);
	if (s->key) {
		if (existing)
			*existing = s->value;
		return false;
	}
	if (2 * (m->n + 1) > m->cap) {
		pr_map_t big = {.cap = m->cap * 2};
		big.slots = pr_calloc(big.cap, sizeof(*big.slots));
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].key)
				*map_find(&big, m->slots[i].key, m->slots[i].len, m->slots[i].hash) =
					m->slots[i];
		free(m->slots);
		*m = (pr_map_t){big.slots, big.cap, m->n};
		s = map_find(m, key, len, h);
	}
	*s = (struct map_slot){pr_strndup(key, len), len, h, value};
	m->n++;
	return true;
}

int pr_map_get(const pr_map_t *m, const void *key, size_t len)
{
	struct map_slot *s = map_find(m, key, len, pr_hash(key, len));
	return s->key ? s->value : -1;
}

bool pr_map_put_ci(pr_map_t *m, const char *key, int value, int *existing)
{
	size_t len = strlen(key);
	char small[256] = {0};
	char *low = len < sizeof(small) ? small : pr_malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		low[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] + 32 : key[i]);
	bool ok = pr_map_put(m, low, len, value, existing);
	if (low != small)
		free(low);
	return ok;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t sub = prev + ((a[i - 1] | 32) != (b[j - 1] | 32));
			size_t del = row[j] + 1, ins = row[j - 1] + 1;
			row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			prev = cur;
		}
	}
	return row[lb];
}

const char *pr_closest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = 99, len = strlen(word);
	for (const char *const *a = candidates; *a; a++) {
		size_t d = edit_distance(word, *a);
		if (d < best_d) {
			best_d = d;
			best = *a;
		}
	}
	size_t limit = len / 3 > 3 ? len / 3 : 3; /* longer words bear more typos */
	if (best && best_d <= limit && best_d * 2 < len + 1)
		return best;
	/* an abbreviation keeps the start: connectedVnets → connectedVirtualNetworks */
	size_t best_n = 0;
	best = NULL;
	for (const char *const *a = candidates; *a; a++) {
		size_t n = 0;
		while (word[n] && (*a)[n] && (word[n] | 32) == ((*a)[n] | 32))
			n++;
		if (n > best_n) {
			best_n = n;
			best = *a;
		}
	}
	return best_n >= 6 && best_n * 2 >= len ? best : NULL;
}

int pr_read_file(const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	pr_buf_t b = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		pr_buf_append(&b, chunk, n);
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (err) {
		pr_buf_free(&b);
		return err;
	}
	*len = b.len;
	*text = pr_buf_take(&b);
	return 0;
}
