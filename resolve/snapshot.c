/* Snapshots: one immutable compilation of a deployment that every worker reads
 * without locks (design.md §1, §3): the linker's views, every zone compiled
 * (private ones with their Z-3 hosts, public ones, external servers' ones), the
 * external servers' name matchers, and the listeners with a name hash. */
#include <stdlib.h>
#include <string.h>

#include "resolve/resolve_p.h"

/* The cloud gives automatically registered VM records a TTL of 10 seconds. */
#define AUTOREG_TTL 10

static void zone_fail(pr_diag_t *diag, const deployment_t *d, const model_origin_t *o, int rc,
		      char *why)
{
	int line = 0, col = 0;
	deployment_locate(d, o->node, NULL, &line, &col);
	pr_diag_add(diag, d->file, line, col, o->path, "Z-1", rc, "%s",
		    why ? why : pr_strerror(rc));
	free(why);
}

/*
 * Compile one zone of the model. registered_vnets: for a private zone, the
 * hosts of every VNet linked with registration get an A record (Z-3); a manual
 * record set of the same name hides it (the builder sees to that).
 */
static int compile_zone(const deployment_t *d, const model_zone_t *mz, bool private_zone,
			zone_t **out, pr_diag_t *diag)
{
	zone_builder_t *zb = NULL;
	char *why = NULL;
	int rc = zone_builder_new(mz->name, &zb, &why);
	if (rc != 0) {
		zone_fail(diag, d, &mz->origin, rc, why);
		return rc;
	}
	bool manual_soa = false;
	for (size_t i = 0; i < mz->n_record_sets; i++) {
		const model_record_set_t *rs = &mz->record_sets[i];
		manual_soa |= rs->type == KNOT_RRTYPE_SOA;
		rc = zone_builder_add_rrset(zb, rs->name, rs->type, rs->ttl, rs->records,
					    rs->n_records, &why);
		if (rc != 0) {
			zone_fail(diag, d, &rs->origin, rc, why);
			goto cleanup;
		}
	}
	if (!manual_soa) {
		/* Z-2: the model filled the defaults in. */
		rc = zone_builder_set_soa(zb, &mz->soa, &why);
		if (rc != 0) {
			zone_fail(diag, d, &mz->origin, rc, why);
			goto cleanup;
		}
	}
	for (size_t l = 0; private_zone && l < mz->n_links; l++) {
		if (!mz->links[l].registration)
			continue;
		for (size_t v = 0; v < d->n_vms; v++) {
			if (d->vms[v].vnet != mz->links[l].vnet)
				continue;
			/* Z-3: a VM whose name is no host name is not registered, as in
			 * the cloud; it is no error of the deployment. */
			if (zone_builder_add_host_a(zb, d->vms[v].name, d->vms[v].address,
						    AUTOREG_TTL, &why) != 0) {
				free(why);
				why = NULL;
			}
		}
	}
	rc = zone_build(zb, out);
	if (rc != 0)
		pr_diag_add(diag, d->file, 0, 0, mz->origin.path, NULL, rc, "%s", pr_strerror(rc));
cleanup:
	zone_builder_destroy(&zb);
	return rc;
}

static void free_zones(zone_t **zones, size_t n)
{
	for (size_t i = 0; zones && i < n; i++)
		zone_destroy(&zones[i]);
	free(zones);
}

/* The longest of an external server's zones and forwarders that covers a name
 * wins; a zone and a forwarder of the same name: the zone. */
static int compile_external(const deployment_t *d, const model_external_server_t *x,
			    rs_external_t *out, pr_diag_t *diag)
{
	ruleset_matcher_builder_t *b = ruleset_matcher_builder_new();
	int rc = 0;
	out->zones = pr_calloc(x->n_zones ? x->n_zones : 1, sizeof(zone_t *));
	out->entries = pr_calloc(x->n_zones + x->n_forwarders + 1, sizeof(rs_ext_entry_t));
	size_t n = 0;
	for (size_t i = 0; i < x->n_zones; i++) {
		rc = compile_zone(d, &x->zones[i], false, &out->zones[i], diag);
		if (rc != 0)
			goto cleanup;
		out->entries[n] = (rs_ext_entry_t){.is_zone = true, .index = i};
		if (ruleset_matcher_add_wire(b, x->zones[i].name_wire, &out->entries[n]) == 0)
			n++;
	}
	for (size_t i = 0; i < x->n_forwarders; i++) {
		out->entries[n] = (rs_ext_entry_t){.is_zone = false, .index = i};
		if (ruleset_matcher_add_wire(b, x->forwarders[i].domain_wire, &out->entries[n]) == 0)
			n++;
	}
	rc = ruleset_matcher_build(b, false, &out->matcher);
cleanup:
	ruleset_matcher_builder_destroy(&b);
	return rc;
}

/* The listeners of a snapshot, shared by the next one when its deployment
 * has the same ones (a change of a rule, a link, a zone). */
struct rs_listener_set {
	atomic_int refs;
	resolve_listener_t *listeners;
	rs_listener_target_t *targets;
	size_t n;
	pr_map_t *index;
};

static void listener_set_unref(struct rs_listener_set **lp)
{
	struct rs_listener_set *l = *lp;
	*lp = NULL;
	if (!l || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->listeners[i].name);
	free(l->listeners);
	free(l->targets);
	pr_map_destroy(&l->index);
	free(l);
}

/* Do a and b have the same listeners: inbound endpoints of the same names at
 * the same addresses in the same VNets, the same VNets, the same external
 * servers at the same addresses? */
static bool same_listeners(const deployment_t *a, const deployment_t *b)
{
	if (a->vnets != b->vnets || a->n_vnets != b->n_vnets || a->n_resolvers != b->n_resolvers ||
	    a->n_external_servers != b->n_external_servers)
		return false;
	for (size_t r = 0; r < a->n_resolvers; r++) {
		const model_resolver_t *x = &a->resolvers[r], *y = &b->resolvers[r];
		if (x->vnet != y->vnet || x->n_inbound != y->n_inbound || strcmp(x->name, y->name))
			return false;
		for (size_t e = 0; e < x->n_inbound; e++)
			if (x->inbound[e].address != y->inbound[e].address ||
			    strcmp(x->inbound[e].name, y->inbound[e].name))
				return false;
	}
	for (size_t i = 0; i < a->n_external_servers; i++) {
		const model_external_server_t *x = &a->external_servers[i], *y = &b->external_servers[i];
		if (x->address != y->address || x->port != y->port || strcmp(x->name, y->name))
			return false;
	}
	return true;
}

static void use_listeners(resolve_snapshot_t *s, struct rs_listener_set *l)
{
	s->listener_set = l;
	s->listeners = l->listeners;
	s->listener_targets = l->targets;
	s->n_listeners = l->n;
	s->listener_index = l->index;
}

static void add_listener(struct rs_listener_set *l, char *name, resolve_listener_kind_t kind,
			 uint32_t addr, uint16_t port, int vnet, int external)
{
	l->listeners[l->n] = (resolve_listener_t){
		.name = name, .kind = kind, .virtual_address = addr, .virtual_port = port};
	l->targets[l->n] = (rs_listener_target_t){vnet, external};
	l->n++;
}

/* The listeners in deployment order: inbound endpoints, then each VNet's
 * Azure DNS address, then the external servers; prev's when the same. */
static void build_listeners(resolve_snapshot_t *s, const resolve_snapshot_t *prev)
{
	const deployment_t *d = s->d;
	if (prev && same_listeners(prev->d, d)) {
		atomic_fetch_add_explicit(&prev->listener_set->refs, 1, memory_order_relaxed);
		use_listeners(s, prev->listener_set);
		return;
	}
	size_t n = d->n_vnets + d->n_external_servers;
	for (size_t r = 0; r < d->n_resolvers; r++)
		n += d->resolvers[r].n_inbound;
	struct rs_listener_set *l = pr_calloc(1, sizeof(*l));
	atomic_init(&l->refs, 1);
	l->listeners = pr_calloc(n + 1, sizeof(*l->listeners));
	l->targets = pr_calloc(n + 1, sizeof(*l->targets));
	for (size_t r = 0; r < d->n_resolvers; r++)
		for (size_t e = 0; e < d->resolvers[r].n_inbound; e++)
			add_listener(l,
				     pr_asprintf("%s/%s", d->resolvers[r].name,
						 d->resolvers[r].inbound[e].name),
				     RESOLVE_LISTENER_INBOUND, d->resolvers[r].inbound[e].address,
				     DNS_PORT,
				     d->resolvers[r].vnet, -1);
	for (size_t v = 0; v < d->n_vnets; v++)
		add_listener(l, pr_asprintf("azure-dns/%s", d->vnets[v].name),
			     RESOLVE_LISTENER_AZURE_DNS, MODEL_AZURE_DNS_ADDR, DNS_PORT, (int)v,
			     -1);
	for (size_t x = 0; x < d->n_external_servers; x++)
		add_listener(l, pr_asprintf("external/%s", d->external_servers[x].name),
			     RESOLVE_LISTENER_EXTERNAL, d->external_servers[x].address,
			     d->external_servers[x].port, -1, (int)x);

	l->index = pr_map_new();
	for (size_t i = 0; i < l->n; i++)
		pr_map_put(l->index, l->listeners[i].name, strlen(l->listeners[i].name), (int)i,
			   NULL);
	use_listeners(s, l);
}

int snapshot_listener_index(const resolve_snapshot_t *s, const char *name)
{
	if (!name)
		return -1;
	return pr_map_get(s->listener_index, name, strlen(name));
}

/* Free everything compiled from d; the deployment itself only when owned. */
static void snapshot_free(resolve_snapshot_t *s, deployment_t *d, bool owned)
{
	free_zones(s->private_zones, d->n_zones);
	free_zones(s->public_zones, d->public_dns.n_zones);
	ruleset_matcher_destroy(&s->public_matcher);
	for (size_t x = 0; s->externals && x < d->n_external_servers; x++) {
		free_zones(s->externals[x].zones, d->external_servers[x].n_zones);
		free(s->externals[x].entries);
		ruleset_matcher_destroy(&s->externals[x].matcher);
	}
	free(s->externals);
	listener_set_unref(&s->listener_set);
	policy_set_destroy(&s->policies);
	linker_destroy(&s->linker);
	if (owned)
		deployment_destroy(&d);
	free(s);
}

static bool registers_hosts(const model_zone_t *mz)
{
	for (size_t l = 0; l < mz->n_links; l++)
		if (mz->links[l].registration)
			return true;
	return false;
}

/* The hosts Z-3 registers are the same in a and b: the same VMs, each with
 * the same address in a VNet of the same name. */
static bool same_hosts(const deployment_t *a, const deployment_t *b)
{
	if (a->n_vms != b->n_vms || a->n_vnets != b->n_vnets)
		return false;
	for (size_t v = 0; v < a->n_vms; v++) {
		const model_vm_t *x = &a->vms[v], *y = &b->vms[v];
		if (x->address != y->address || x->vnet != y->vnet || strcmp(x->name, y->name))
			return false;
	}
	for (size_t n = 0; n < a->n_vnets; n++)
		if (strcmp(a->vnets[n].name, b->vnets[n].name))
			return false;
	return true;
}

/* prev's compiled zone i when the zone was decoded from the same JSON node
 * (so the same records, SOA and links) and registers the same hosts. A change
 * adds or deletes at most one zone, so the zone is where it was or next to it. */
static zone_t *shared_zone(const resolve_snapshot_t *prev, const deployment_t *d, size_t i)
{
	const model_zone_t *mz = &d->zones[i];
	if (!prev || !mz->origin.node)
		return NULL;
	const deployment_t *pd = prev->d;
	for (size_t k = i ? i - 1 : 0; k <= i + 1 && k < pd->n_zones; k++) {
		if (pd->zones[k].origin.node != mz->origin.node || !prev->private_zones[k])
			continue;
		if (registers_hosts(mz) && !same_hosts(pd, d))
			return NULL;
		return zone_share(prev->private_zones[k]);
	}
	return NULL;
}

int resolve_snapshot_build(deployment_t **dp, resolve_snapshot_t **out, pr_diag_t *diag)
{
	return resolve_snapshot_build_after(NULL, dp, out, diag);
}

int resolve_snapshot_build_after(const resolve_snapshot_t *prev, deployment_t **dp,
				 resolve_snapshot_t **out, pr_diag_t *diag)
{
	PR_REQUIRE(dp && *dp && out && diag);
	deployment_t *d = *dp;
	resolve_snapshot_t *s = pr_calloc(1, sizeof(*s));
	ruleset_matcher_builder_t *pb = NULL;
	s->d = d;
	/* Loops (P-1, P-2) are refused here with the linker's findings. */
	int rc = linker_build_after(prev ? prev->linker : NULL, d, &s->linker, diag);
	if (rc != 0)
		goto cleanup;
	if ((rc = policy_set_build(d, &s->policies, diag)) != 0)
		goto cleanup;

	s->private_zones = pr_calloc(d->n_zones + 1, sizeof(zone_t *));
	for (size_t i = 0; i < d->n_zones; i++) {
		if ((s->private_zones[i] = shared_zone(prev, d, i)))
			continue;
		if ((rc = compile_zone(d, &d->zones[i], true, &s->private_zones[i], diag)) != 0)
			goto cleanup;
	}

	s->public_zones = pr_calloc(d->public_dns.n_zones + 1, sizeof(zone_t *));
	pb = ruleset_matcher_builder_new();
	for (size_t i = 0; i < d->public_dns.n_zones; i++) {
		const model_zone_t *mz = &d->public_dns.zones[i];
		if ((rc = compile_zone(d, mz, false, &s->public_zones[i], diag)) != 0)
			goto cleanup;
		/* A second zone of one name is the validator's to refuse; keep the first. */
		(void)ruleset_matcher_add_wire(pb, mz->name_wire, &s->public_zones[i]);
	}
	if ((rc = ruleset_matcher_build(pb, false, &s->public_matcher)) != 0)
		goto cleanup;

	s->externals = pr_calloc(d->n_external_servers + 1, sizeof(rs_external_t));
	for (size_t x = 0; x < d->n_external_servers; x++)
		if ((rc = compile_external(d, &d->external_servers[x], &s->externals[x], diag)) !=
		    0)
			goto cleanup;

	build_listeners(s, prev);
	atomic_init(&s->refs, 1);
	*dp = NULL;
	*out = s;
	s = NULL;
cleanup:
	ruleset_matcher_builder_destroy(&pb);
	if (s)
		snapshot_free(s, d, false); /* *dp untouched on failure */
	return rc;
}

void resolve_snapshot_ref(resolve_snapshot_t *s)
{
	PR_REQUIRE(s);
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void resolve_snapshot_unref(resolve_snapshot_t **sp)
{
	if (!sp || !*sp)
		return;
	resolve_snapshot_t *s = *sp;
	*sp = NULL;
	/* The last reader frees (style.md §11); acq_rel orders its reads before. */
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		snapshot_free(s, s->d, true);
}

const linker_t *resolve_snapshot_linker(const resolve_snapshot_t *s)
{
	return s->linker;
}

const deployment_t *resolve_snapshot_deployment(const resolve_snapshot_t *s)
{
	return s->d;
}

size_t resolve_snapshot_listener_count(const resolve_snapshot_t *s)
{
	return s->n_listeners;
}

const resolve_listener_t *resolve_snapshot_listener(const resolve_snapshot_t *s, size_t i)
{
	return i < s->n_listeners ? &s->listeners[i] : NULL;
}

const resolve_listener_t *resolve_snapshot_find_listener(const resolve_snapshot_t *s,
							 const char *name)
{
	int i = snapshot_listener_index(s, name);
	return i < 0 ? NULL : &s->listeners[i];
}
