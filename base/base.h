/*
 * base — what every folder shares: the one error space, contract assertions
 * and validation diagnostics as data.
 *
 * Threads: everything here is safe from any thread; a pr_diag_t is owned by
 * one thread at a time.
 * Errors: 0 is success; failures are negative: errno values passed through
 * (-ENOMEM), project codes at or below PR_EBASE. pr_strerror() names them all.
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PR_EBASE = -1000,
	PR_ECONFIG = -1001,   /* a deployment or request breaks a rule of the contract */
	PR_ELIMIT = -1002,    /* a limit of semantics.md §1 */
	PR_ELOOP = -1003,     /* a forwarding loop (P-1..P-3) */
	PR_ENOTFOUND = -1004, /* a referenced resource does not exist */
	PR_EEXIST = -1005,    /* a resource of that name exists already */
	PR_EPARSE = -1006,    /* input that cannot be read (YAML, JSON, wire) */
	PR_EIMMUTABLE = -1007, /* a property that can't change after creation */
	PR_EINUSE = -1008,    /* deletion order (O-4) */
	PR_EIO = -1009,       /* a file or socket failed */
	PR_EUNMAPPED = -1010, /* a target with no loopback mapping (design.md §4) */
	PR_ETIMEOUT = -1011,
	PR_ECORRUPT = -1012,  /* a damaged state file */
};

/* Human text for any error of the space; never NULL. */
const char *pr_strerror(int err);

/* PR_REQUIRE: a broken contract inside our own code. Stops the process even in
 * release builds; under UNIT_TESTING it is cmocka's mock_assert so tests can
 * check it. Never use it on input from the network, the API or a file. */
#ifdef UNIT_TESTING
void mock_assert(const int result, const char *const expression, const char *const file,
		 const int line);
#define PR_REQUIRE(expr) mock_assert((int)(!!(expr)), #expr, __FILE__, __LINE__)
#else
#define PR_REQUIRE(expr) \
	((expr) ? (void)0 : pr_require_failed(#expr, __FILE__, __LINE__))
#endif
_Noreturn void pr_require_failed(const char *expr, const char *file, int line);

/* Allocation that cannot fail quietly: out of memory stops the process (as
 * Redis' zmalloc does); every caller would otherwise carry an untestable path. */
void *pr_malloc(size_t n);
void *pr_calloc(size_t n, size_t size);
void *pr_realloc(void *p, size_t n);
char *pr_strdup(const char *s);
char *pr_strndup(const char *s, size_t n);
/* printf into a new string (owned). */
char *pr_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow an array *arr of *cap elements of size elem so it holds at least n. */
void pr_grow(void *arr_ptr, size_t *cap, size_t n, size_t elem);

/* A validation finding, as data (style.md §4). */
typedef struct pr_diag_entry {
	char *file;    /* may be NULL (API input) */
	int line;      /* 1-based; 0 when unknown */
	int column;    /* 1-based; 0 when unknown */
	char *path;    /* resource path, e.g. dnsForwardingRulesets[hub-rules].forwardingRules[x] */
	char *rule;    /* contract rule id, e.g. "F-5"; may be NULL */
	int code;      /* PR_E* of the finding */
	char *message; /* what is wrong and what would be valid */
} pr_diag_entry_t;

typedef struct pr_diag pr_diag_t;

/* A new, empty list (owned). */
pr_diag_t *pr_diag_new(void);
void pr_diag_destroy(pr_diag_t **dp);
/* Add a finding; strings are copied. */
void pr_diag_add(pr_diag_t *d, const char *file, int line, int column, const char *path,
		 const char *rule, int code, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
size_t pr_diag_count(const pr_diag_t *d);
/* Entry i (borrowed; valid until the list changes). */
const pr_diag_entry_t *pr_diag_get(const pr_diag_t *d, size_t i);
/* The code of the first entry, or 0. */
int pr_diag_first_code(const pr_diag_t *d);
/* One line per entry: "file:line:col: path: message (RULE)" into a new string (owned). */
char *pr_diag_format(const pr_diag_t *d);
/* Format one entry into a new string (owned). */
char *pr_diag_entry_format(const pr_diag_entry_t *e);
void pr_diag_clear(pr_diag_t *d);

/* Bytes appended to a growable string. */
typedef struct pr_buf {
	char *data;
	size_t len, cap;
} pr_buf_t;
void pr_buf_printf(pr_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pr_buf_vprintf(pr_buf_t *b, const char *fmt, va_list ap);
void pr_buf_append(pr_buf_t *b, const void *data, size_t len);
/* Hand the string over (owned by the caller) and reset b. */
char *pr_buf_take(pr_buf_t *b);
void pr_buf_free(pr_buf_t *b);

/* "Did you mean": the candidate (NULL-terminated list) closest to word by
 * edit distance, ignoring case, when close enough to be a typo (at most 3
 * edits or a third of word's length, and fewer than half of it), else the
 * one sharing the longest start with word when that is at least 6 characters
 * and half of word (an abbreviation); else NULL. The one
 * suggestion of every surface (style.md §12). */
const char *pr_closest(const char *word, const char *const *candidates);

/* A whole file into *text (owned, NUL-terminated; *len without the NUL).
 * Returns 0, or -errno (-ENOENT for a missing file); outputs written only on
 * success. The one file reader of every surface. */
int pr_read_file(const char *path, char **text, size_t *len);

/* Monotonic clock in milliseconds / nanoseconds. */
uint64_t pr_now_ms(void);
uint64_t pr_now_ns(void);

/* IPv4 addresses in host byte order (the service has no IPv6, N-1). */
typedef struct pr_prefix {
	uint32_t addr;
	uint8_t len;
} pr_prefix_t;

/* Parse dotted-quad text; 0 or PR_EPARSE. *out written only on success. */
int pr_ipv4_parse(const char *text, uint32_t *out);
/* Format into buf (at least 16 bytes); returns buf. */
char *pr_ipv4_format(uint32_t addr, char *buf);
/* Parse "a.b.c.d/len"; rejects host bits set. 0 or PR_EPARSE (*why says why). */
int pr_prefix_parse(const char *text, pr_prefix_t *out, const char **why);
uint32_t pr_prefix_mask(uint8_t len);
bool pr_prefix_contains(pr_prefix_t p, uint32_t addr);
/* Does p hold all of q? */
bool pr_prefix_covers(pr_prefix_t p, pr_prefix_t q);
bool pr_prefix_overlaps(pr_prefix_t p, pr_prefix_t q);
/* Last address of the prefix (broadcast). */
uint32_t pr_prefix_last(pr_prefix_t p);
/* Parse "host:port" (IPv4 host); port must be 1..65535. */
int pr_hostport_parse(const char *text, uint32_t *addr, uint16_t *port);

/* An arena: many allocations freed at once (Unbound's regions, NSD's region
 * allocator). Not thread-safe; one owner. */
typedef struct pr_arena pr_arena_t;
pr_arena_t *pr_arena_new(size_t chunk_size);
void pr_arena_destroy(pr_arena_t **ap);
/* Zeroed memory, 16-byte aligned, valid until the arena is reset or destroyed. */
void *pr_arena_alloc(pr_arena_t *a, size_t n);
char *pr_arena_strdup(pr_arena_t *a, const char *s);
char *pr_arena_strndup(pr_arena_t *a, const char *s, size_t n);
/* The n strings one after the other (NULL ones as empty), in one allocation:
 * for the many ids and paths a deployment is decoded with, where snprintf's
 * formatting cost more than the copying. */
char *pr_arena_concat(pr_arena_t *a, const char *const *parts, size_t n);
#define PR_ARENA_CONCAT(a, ...) \
	pr_arena_concat((a), (const char *const[]){__VA_ARGS__}, \
			sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
/* The memory the arena holds. */
size_t pr_arena_bytes(const pr_arena_t *a);
/* Forget every allocation but keep the first chunk for reuse. */
void pr_arena_reset(pr_arena_t *a);

/* The one hash of privres: FNV-1a 64 over bytes, fed piece by piece from
 * PR_HASH_INIT, then mixed by pr_hash_final() (MurmurHash3's fmix64: FNV's low
 * bits alone spread badly) wherever the low bits pick a slot. The unmixed
 * value is stable across releases (state files keep it as a checksum). */
#define PR_HASH_INIT 0xcbf29ce484222325ull
uint64_t pr_hash_bytes(uint64_t h, const void *p, size_t n);
uint64_t pr_hash_final(uint64_t h);
/* pr_hash_final(pr_hash_bytes(PR_HASH_INIT, p, n)): a slot hash in one call. */
uint64_t pr_hash(const void *p, size_t n);

/* A map from byte strings (copied) to ints: the one name→index map, for
 * uniqueness checks and indexes built once. Not thread-safe to change; once
 * built, pr_map_get() may be called from any number of threads at once. */
typedef struct pr_map pr_map_t;
pr_map_t *pr_map_new(void);
void pr_map_destroy(pr_map_t **mp);
/* Insert key → value unless key is present; returns true when inserted, false
 * (and *existing, when non-NULL, set to the present value) otherwise. */
bool pr_map_put(pr_map_t *m, const void *key, size_t len, int value, int *existing);
/* The value of key, or -1. */
int pr_map_get(const pr_map_t *m, const void *key, size_t len);
/* Case-insensitive (ASCII) string keys: lowercase into a scratch copy first. */
bool pr_map_put_ci(pr_map_t *m, const char *key, int value, int *existing);
