/*
 * registry — "/package.Service/Method" to handler, as the server dispatches it.
 * A sorted array with binary search: lookups happen once per call, and the
 * set is built once at start.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_p.h"
#include "base/base.h"

struct api_registry {
	api_method_t *methods;
	size_t n, cap;
};

api_registry_t *api_registry_new(void)
{
	return pr_calloc(1, sizeof(api_registry_t));
}

void api_registry_destroy(api_registry_t **rp)
{
	if (!rp || !*rp)
		return;
	api_registry_t *r = *rp;
	for (size_t i = 0; i < r->n; i++)
		free(r->methods[i].path);
	free(r->methods);
	free(r);
	*rp = NULL;
}

static int path_cmp(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Index of the first method whose path is >= (path, len). */
static size_t lower_bound(const api_registry_t *r, const char *path, size_t len)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (path_cmp(path, len, r->methods[mid].path) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int api_registry_add(api_registry_t *reg, const char *path, const ProtobufCMessageDescriptor *in,
		     const ProtobufCMessageDescriptor *out, api_handler_fn fn, void *ctx)
{
	PR_REQUIRE(reg && path && in && out && fn);
	/* the :path of a gRPC call: "/" Service "/" Method, both non-empty */
	const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	if (!slash || slash == path + 1 || !slash[1] || strchr(slash + 1, '/'))
		return PR_ECONFIG;
	size_t len = strlen(path);
	size_t at = lower_bound(reg, path, len);
	if (at < reg->n && path_cmp(path, len, reg->methods[at].path) == 0)
		return PR_EEXIST;
	pr_grow(&reg->methods, &reg->cap, reg->n + 1, sizeof(api_method_t));
	memmove(&reg->methods[at + 1], &reg->methods[at], (reg->n - at) * sizeof(api_method_t));
	reg->methods[at] = (api_method_t){
		.path = pr_strdup(path), .in = in, .out = out, .fn = fn, .ctx = ctx};
	reg->n++;
	return 0;
}

const api_method_t *api_registry_find(const api_registry_t *reg, const char *path, size_t len)
{
	size_t at = lower_bound(reg, path, len);

	if (at < reg->n && path_cmp(path, len, reg->methods[at].path) == 0)
		return &reg->methods[at];
	return NULL;
}
