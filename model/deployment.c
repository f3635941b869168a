/* Loading a deployment: document → decode → validate, refused whole on any
 * finding; lookups over a validated graph. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_p.h"

/* An arena several deployments may hold (deployment_from_doc_after). */
struct model_kept_arena {
	atomic_size_t refs;
	pr_arena_t *arena;
};

/* A deployment that shares parts of one which shares parts of another...
 * holds every arena on the way, and with them what later changes replaced.
 * Once those arenas hold more than the largest of them (about one whole
 * decode), or there are this many, the next change decodes the whole document
 * again, which lets the chain go: a whole decode per whole decode's worth of
 * changed parts, O(1) per part changed. */
#define MAX_KEPT_ARENAS 1024

static bool may_share_with(const deployment_t *prev)
{
	if (!prev || !prev->validated || prev->n_kept >= MAX_KEPT_ARENAS)
		return false;
	size_t total = 0, largest = 0;
	for (size_t i = 0; i < prev->n_kept; i++) {
		size_t b = pr_arena_bytes(prev->kept[i]->arena);
		total += b;
		largest = b > largest ? b : largest;
	}
	return total - largest <= largest;
}

static void kept_unref(struct model_kept_arena *k)
{
	if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) != 1)
		return;
	pr_arena_destroy(&k->arena);
	free(k);
}

/* d holds prev's arenas besides its own. */
static void keep_arenas_of(deployment_t *d, const deployment_t *prev)
{
	d->kept = pr_realloc(d->kept, (1 + prev->n_kept) * sizeof(*d->kept));
	for (size_t i = 0; i < prev->n_kept; i++) {
		atomic_fetch_add_explicit(&prev->kept[i]->refs, 1, memory_order_relaxed);
		d->kept[d->n_kept++] = prev->kept[i];
	}
}

static deployment_t *deployment_alloc(void)
{
	deployment_t *d = pr_calloc(1, sizeof(*d));
	d->arena = pr_arena_new(65536);
	d->kept = pr_calloc(1, sizeof(*d->kept));
	d->kept[0] = pr_calloc(1, sizeof(**d->kept));
	atomic_init(&d->kept[0]->refs, 1);
	d->kept[0]->arena = d->arena;
	d->n_kept = 1;
	return d;
}

/* Who is at an address is asked for every forwarding target of every view
 * the linker builds: a map instead of a walk over every inbound endpoint.
 * Built once the addresses are final (validation allocates dynamic ones). */
static void index_inbound_addresses(deployment_t *d)
{
	for (size_t i = 0; i < d->n_resolvers; i++)
		if (d->resolvers[i].n_inbound > 0xffff || i > 0x7fff)
			return; /* beyond any limit: the walk below answers */
	d->inbound_index = pr_map_new();
	for (size_t i = 0; i < d->n_resolvers; i++)
		for (size_t j = 0; j < d->resolvers[i].n_inbound; j++) {
			const model_inbound_endpoint_t *ie = &d->resolvers[i].inbound[j];
			/* I-3 keeps addresses unique; the first keeps its place */
			if (ie->has_address)
				(void)pr_map_put(d->inbound_index, &ie->address, sizeof(ie->address),
						 (int)(i << 16 | j), NULL);
		}
}

int deployment_from_doc(model_doc_t **docp, deployment_t **out, pr_diag_t *diag)
{
	return deployment_from_doc_after(NULL, docp, out, diag);
}

int deployment_from_doc_after(const deployment_t *prev, model_doc_t **docp, deployment_t **out,
			      pr_diag_t *diag)
{
	model_doc_t *doc = *docp;
	*docp = NULL;
	deployment_t *d = deployment_alloc();
	d->doc = doc->root;
	d->marks = doc->marks;
	d->file = pr_arena_strdup(d->arena, doc->name);
	free(doc->name);
	free(doc);
	model_ctx_t c = {.d = d, .diag = diag};
	if (may_share_with(prev))
		c.prev = prev;
	size_t before = pr_diag_count(diag);
	model_decode(&c);
	model_validate(&c);
	pr_map_destroy(&c.vnet_index);
	free(c.shared_rulesets);
	free(c.shared_zones);
	if (c.shared_any)
		keep_arenas_of(d, prev);
	if (pr_diag_count(diag) > before) {
		int code = pr_diag_get(diag, before)->code;
		deployment_destroy(&d);
		return code ? code : PR_ECONFIG;
	}
	d->validated = true;
	index_inbound_addresses(d);
	*out = d;
	return 0;
}

int deployment_load_file(const char *path, deployment_t **out, pr_diag_t *diag)
{
	model_doc_t *doc = NULL;
	int rc = model_doc_load_file(path, &doc, diag);
	if (rc != 0)
		return rc;
	return deployment_from_doc(&doc, out, diag);
}

int deployment_load_text(const char *text, size_t len, const char *name, deployment_t **out,
			 pr_diag_t *diag)
{
	model_doc_t *doc = NULL;
	int rc = model_doc_load_text(text, len, name, &doc, diag);
	if (rc != 0)
		return rc;
	return deployment_from_doc(&doc, out, diag);
}

void deployment_destroy(deployment_t **dp)
{
	if (!dp || !*dp)
		return;
	deployment_t *d = *dp;
	json_decref(d->doc);
	pr_map_destroy(&d->inbound_index);
	marks_destroy(&d->marks);
	for (size_t i = 0; i < d->n_kept; i++)
		kept_unref(d->kept[i]);
	free(d->kept);
	free(d);
	*dp = NULL;
}

const json_t *deployment_source_json(const deployment_t *d)
{
	return d->doc;
}

const model_inbound_endpoint_t *deployment_find_inbound_by_address(const deployment_t *d,
								   uint32_t addr,
								   const model_resolver_t **resolver)
{
	if (d->inbound_index) {
		int v = pr_map_get(d->inbound_index, &addr, sizeof(addr));
		if (v < 0)
			return NULL;
		if (resolver)
			*resolver = &d->resolvers[v >> 16];
		return &d->resolvers[v >> 16].inbound[v & 0xffff];
	}
	for (size_t i = 0; i < d->n_resolvers; i++)
		for (size_t j = 0; j < d->resolvers[i].n_inbound; j++) {
			const model_inbound_endpoint_t *ie = &d->resolvers[i].inbound[j];
			if (ie->has_address && ie->address == addr) {
				if (resolver)
					*resolver = &d->resolvers[i];
				return ie;
			}
		}
	return NULL;
}

const model_external_server_t *deployment_find_external(const deployment_t *d, uint32_t addr,
							uint16_t port)
{
	for (size_t i = 0; i < d->n_external_servers; i++)
		if (d->external_servers[i].address == addr && d->external_servers[i].port == port)
			return &d->external_servers[i];
	return NULL;
}

int deployment_find_vnet(const deployment_t *d, const char *name)
{
	for (size_t i = 0; name && i < d->n_vnets; i++)
		if (d->vnets[i].name && !strcmp(d->vnets[i].name, name))
			return (int)i;
	return -1;
}

int deployment_ruleset_for_vnet(const deployment_t *d, int vnet)
{
	for (size_t i = 0; i < d->n_rulesets; i++)
		for (size_t k = 0; k < d->rulesets[i].n_links; k++)
			if (d->rulesets[i].links[k].vnet == vnet)
				return (int)i;
	return -1;
}

int deployment_policy_for_vnet(const deployment_t *d, int vnet)
{
	for (size_t i = 0; i < d->n_policies; i++)
		for (size_t k = 0; k < d->policies[i].n_links; k++)
			if (d->policies[i].links[k].vnet == vnet)
				return (int)i;
	return -1;
}
