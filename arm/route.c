/* The resource providers' paths (reference/azure.md §4), read from the
 * schema's ARM types and id segments (design.md §6a):
 *
 *   /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/
 *       {type}/{name}[/{segment}/{child}]        a resource
 *       {type}[/{name}/{segment}]                a list
 *       privateDnsZones/{zone}/{TYPE}[/{name}]   record sets (TYPE: A … TXT, ALL)
 *       virtualNetworks/{vnet}/listDnsResolvers  a by-VNet list (POST)
 *   /subscriptions/{s}/providers/Microsoft.Network/{type}     a subscription's list
 *   /subscriptions/{s}/providers/Microsoft.Network/locations/{l}/{ops}/{id}
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arm/arm_p.h"

#define PROVIDER "Microsoft.Network"
#define MAX_SEGMENTS 16

static int hex(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

char *arm_pct_decode(const char *s, size_t n)
{
	char *out = pr_calloc(1, n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2])) {
			free(out);
			return NULL;
		}
		char c = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
		if (!c) {
			free(out);
			return NULL;
		}
		*o++ = c;
		i += 2;
	}
	return out;
}

static size_t split(const char *path, char **seg, size_t max, bool *bad)
{
	size_t n = 0;
	*bad = false;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, "/");
		if (n == max) {
			*bad = true;
			break;
		}
		if (!(seg[n] = arm_pct_decode(p, len)) || !*seg[n]) {
			free(seg[n]);
			*bad = true;
			break;
		}
		n++;
		p += len;
	}
	return n;
}

static bool eq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

/* The top-level kind whose ARM type is Microsoft.Network/<type>. */
static const model_kind_t *top_kind(const char *type)
{
	for (size_t i = 0; i < MODEL_KIND_COUNT; i++) {
		const model_kind_t *k = model_kind((model_kind_id_t)i);
		const char *slash = strchr(k->arm_type, '/');
		if (k->parent < 0 && slash && eq(slash + 1, type) &&
		    strncasecmp(k->arm_type, PROVIDER "/", strlen(PROVIDER) + 1) == 0)
			return k;
	}
	return NULL;
}

static const model_kind_t *child_kind(const model_kind_t *p, const char *segment)
{
	for (size_t i = 0; i < MODEL_KIND_COUNT; i++) {
		const model_kind_t *k = model_kind((model_kind_id_t)i);
		if (k->parent == (int)p->id && k->segment && eq(k->segment, segment))
			return k;
	}
	for (size_t i = 0; i < MODEL_KIND_COUNT; i++) {
		const model_kind_t *k = model_kind((model_kind_id_t)i);
		if (k->parent == (int)p->id && k->keyed_by_type)
			return k;
	}
	return NULL;
}

/* Segments after ".../providers/Microsoft.Network/". */
static int route_provider(char **s, size_t n, arm_route_t *r)
{
	const model_kind_t *k = n ? top_kind(s[0]) : NULL;
	if (!k || n > 5)
		return PR_EPARSE;
	r->kind = k;
	if (n == 1) {
		r->target = ARM_COLLECTION;
		return 0;
	}
	if (n == 2) {
		r->target = ARM_RESOURCE;
		r->name = pr_strdup(s[1]);
		return 0;
	}
	if (n == 3 && k->id == MODEL_KIND_VNET && !strncasecmp(s[2], "list", 4)) {
		r->target = ARM_ACTION;
		r->name = pr_strdup(s[1]);
		r->action = pr_strdup(s[2]);
		return 0;
	}
	const model_kind_t *c = child_kind(k, s[2]);
	if (!c)
		return PR_EPARSE;
	r->kind = c;
	r->parent = pr_strdup(s[1]);
	if (c->keyed_by_type) {
		bool all = eq(s[2], "ALL") || eq(s[2], "recordsets");
		if (!all && !model_arm_record_key(s[2]))
			return PR_EPARSE;
		if (!all) {
			r->type = pr_strdup(s[2]);
			for (char *t = r->type; *t; t++)
				*t = (char)toupper((unsigned char)*t);
		}
		if (all && n == 4)
			return PR_EPARSE;
	}
	r->target = n == 3 ? ARM_COLLECTION : ARM_RESOURCE;
	if (n == 4)
		r->name = pr_strdup(s[3]);
	return n == 5 ? PR_EPARSE : 0;
}

static int route_segments(char **s, size_t n, arm_route_t *r)
{
	if (n == 0 || !eq(s[0], "subscriptions"))
		return PR_EPARSE;
	if (n == 1) {
		r->target = ARM_SUBSCRIPTIONS;
		return 0;
	}
	r->subscription = pr_strdup(s[1]);
	if (n == 2) {
		r->target = ARM_SUBSCRIPTION;
		return 0;
	}
	if (eq(s[2], "providers") && n >= 4 && eq(s[3], PROVIDER)) {
		if (n == 8 && eq(s[4], "locations")) {
			r->target = ARM_OPERATION;
			r->location = pr_strdup(s[5]);
			r->action = pr_strdup(s[6]);
			r->name = pr_strdup(s[7]);
			return 0;
		}
		if (n != 5 || !top_kind(s[4]))
			return PR_EPARSE;
		r->by_subscription = true;
		return route_provider(s + 4, 1, r);
	}
	if (!eq(s[2], "resourceGroups"))
		return PR_EPARSE;
	if (n == 3) {
		r->target = ARM_GROUPS;
		return 0;
	}
	r->group = pr_strdup(s[3]);
	if (n == 4) {
		r->target = ARM_GROUP;
		return 0;
	}
	if (n < 6 || !eq(s[4], "providers") || !eq(s[5], PROVIDER))
		return PR_EPARSE;
	return route_provider(s + 6, n - 6, r);
}

int arm_route_parse(const char *path, arm_route_t *r)
{
	char *seg[MAX_SEGMENTS] = {0};
	bool bad = false;
	memset(r, 0, sizeof(*r));
	size_t n = split(path ? path : "", seg, MAX_SEGMENTS, &bad);
	int rc = bad ? PR_EPARSE : route_segments(seg, n, r);
	for (size_t i = 0; i < n; i++)
		free(seg[i]);
	if (rc != 0) {
		arm_route_clear(r);
		r->target = ARM_NOWHERE;
	}
	return rc;
}

void arm_route_clear(arm_route_t *r)
{
	free(r->subscription);
	free(r->group);
	free(r->parent);
	free(r->name);
	free(r->type);
	free(r->action);
	free(r->location);
	memset(r, 0, sizeof(*r));
}

bool arm_kind_is_lro(const model_kind_t *k)
{
	/* forwarding rules and record sets answer at once (reference/azure.md §4.3) */
	return !(k->id == MODEL_KIND_RULE || k->id == MODEL_KIND_RECORD_SET);
}

const char *arm_api_versions(const model_kind_t *k)
{
	if (!k)
		return NULL; /* Microsoft.Resources: any */
	if (k->id == MODEL_KIND_ZONE || (k->parent == MODEL_KIND_ZONE))
		return "2018-09-01,2020-01-01,2020-06-01,2024-06-01";
	if (k->id == MODEL_KIND_VNET || k->id == MODEL_KIND_SUBNET)
		/* what Debian's azure-mgmt-network and azure-cli 2.45 send, and later */
		return "2021-08-01,2022-01-01,2022-05-01,2022-07-01,2022-09-01,2022-11-01,"
		       "2023-02-01,2023-04-01,2023-05-01,2023-06-01,2023-09-01,2023-11-01,"
		       "2024-01-01,2024-03-01,2024-05-01,2024-07-01,2024-10-01";
	return "2020-04-01-preview,2022-07-01,2023-07-01-preview,2025-05-01,2025-10-01-preview";
}

bool arm_api_version_ok(const model_kind_t *k, const char *v)
{
	const char *list = arm_api_versions(k);
	if (!list)
		return true;
	size_t n = strlen(v);
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && !strncmp(p, v, n))
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}
