/* The `topology:` section (design.md §8): on-premises networks, the VNets
 * they reach over VPN/ExpressRoute, their hosts and the external DNS servers
 * placed in them. Decoded here (shapes, unknown keys) and checked against
 * the whole graph after the rest of the deployment validated (T-1..T-6,
 * [privres], listed in topology/README.md). topology/privres-topo builds
 * namespaces from exactly what passes here, so every address it will put on
 * an interface is checked first. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "model/model_p.h"

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ALLOC(c, ptr, n) ((ptr) = pr_arena_alloc((c)->d->arena, ((n) ? (n) : 1) * sizeof(*(ptr))))

static const char *dup(model_ctx_t *c, const char *s)
{
	return pr_arena_strdup(c->d->arena, s);
}

static const char *path_of(model_ctx_t *c, const char *parent, const char *member, const char *name,
			   size_t index)
{
	char buf[1024];
	if (name)
		snprintf(buf, sizeof(buf), "%s%s%s[%s]", parent, *parent ? "." : "", member, name);
	else
		snprintf(buf, sizeof(buf), "%s%s%s[%zu]", parent, *parent ? "." : "", member,
			 index);
	return dup(c, buf);
}

static const char *get_str(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
			   bool required)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			model_report(c, obj, NULL, path, NULL, PR_ECONFIG, "'%s' is required", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		model_report(c, obj, key, path, NULL, PR_ECONFIG, "must be a string");
		return NULL;
	}
	return dup(c, json_string_value(v));
}

static const json_t *get_list(model_ctx_t *c, const json_t *obj, const char *key, const char *path)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_array(v)) {
		model_report(c, obj, key, path, NULL, PR_ECONFIG, "must be a list");
		return NULL;
	}
	return v;
}

/* A list of strings (names, prefixes or ARM ids); elements that are not
 * strings are reported and left out. */
static const char **get_strings(model_ctx_t *c, const json_t *obj, const char *key,
				const char *path, size_t *n)
{
	const json_t *l = get_list(c, obj, key, path);
	*n = 0;
	if (!l)
		return NULL;
	const char **out;
	ALLOC(c, out, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e = json_array_get(l, i);
		if (json_is_object(e) && json_is_string(json_object_get(e, "id")))
			e = json_object_get(e, "id");
		if (!json_is_string(e)) {
			model_report(c, e, NULL, path_of(c, path, key, NULL, i), NULL, PR_ECONFIG,
				     "each entry must be a name (string)");
			continue;
		}
		out[(*n)++] = dup(c, json_string_value(e));
	}
	return out;
}

/* T-7: one adapter of a host's dnsClient: {name, interfaceMetric,
 * dnsServers, network}. */
static bool decode_adapter(model_ctx_t *c, const json_t *e, const char *p,
			   model_client_adapter_t *ad)
{
	if (!json_is_object(e)) {
		model_report(c, e, NULL, p, "T-7", PR_ECONFIG,
			     "an adapter is {name, interfaceMetric, dnsServers, network}");
		return false;
	}
	model_check_keys(c, e, p,
			 KEYS("name", "interfaceMetric", "dnsServers", "network", "overlayNetwork"));
	ad->origin = (model_origin_t){e, p};
	ad->name = get_str(c, e, "name", p, true);
	ad->network_ref = get_str(c, e, "network", p, false);
	ad->network = -1;
	ad->overlay_ref = get_str(c, e, "overlayNetwork", p, false);
	ad->overlay = -1;
	const json_t *m = json_object_get(e, "interfaceMetric");
	if (!json_is_integer(m) || json_integer_value(m) < 1 ||
	    json_integer_value(m) > MODEL_CLIENT_MAX_METRIC)
		model_report(c, e, m ? "interfaceMetric" : NULL, p, "T-7", PR_ECONFIG,
			     "'interfaceMetric' is required: an integer from 1 to %d (lower is "
			     "preferred)",
			     MODEL_CLIENT_MAX_METRIC);
	else
		ad->metric = (uint32_t)json_integer_value(m);
	ad->server_refs = get_strings(c, e, "dnsServers", p, &ad->n_servers);
	if (ad->overlay_ref && (ad->n_servers || ad->network_ref))
		model_report(c, e, ad->n_servers ? "dnsServers" : "network", p, "T-10", PR_ECONFIG,
			     "an overlay agent's adapter has the agent as its DNS server: no "
			     "'dnsServers' or 'network'");
	else if (!ad->overlay_ref &&
		 (ad->n_servers == 0 || ad->n_servers > MODEL_CLIENT_MAX_ADAPTER_SERVERS))
		model_report(c, e, ad->n_servers ? "dnsServers" : NULL, p, "T-7", PR_ELIMIT,
			     "'dnsServers' needs 1 to %d servers (external DNS server names or "
			     "IPv4 addresses), has %zu",
			     MODEL_CLIENT_MAX_ADAPTER_SERVERS, ad->n_servers);
	ALLOC(c, ad->servers, ad->n_servers);
	ALLOC(c, ad->ports, ad->n_servers);
	return ad->name != NULL;
}

/* dnsClient: the client stub on the host (topology/README.md). */
static void decode_dns_client(model_ctx_t *c, const json_t *he, const char *hp,
			      model_onprem_host_t *h)
{
	const json_t *dc = json_object_get(he, "dnsClient");
	if (!dc || json_is_null(dc))
		return;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s.dnsClient", hp);
	const char *p = dup(c, buf);
	if (!json_is_object(dc)) {
		model_report(c, he, "dnsClient", hp, "T-7", PR_ECONFIG,
			     "must be a mapping (adapters: …)");
		return;
	}
	model_check_keys(c, dc, p, KEYS("adapters"));
	h->dns_client = true;
	const json_t *l = get_list(c, dc, "adapters", p);
	size_t n = l ? json_array_size(l) : 0;
	if (n == 0 || n > MODEL_CLIENT_MAX_ADAPTERS)
		model_report(c, dc, l ? "adapters" : NULL, p, "T-7", PR_ELIMIT,
			     "'adapters' needs 1 to %d adapters, has %zu", MODEL_CLIENT_MAX_ADAPTERS,
			     n);
	ALLOC(c, h->adapters, n);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(l, i);
		const json_t *nm = json_is_object(e) ? json_object_get(e, "name") : NULL;
		const char *ap =
			path_of(c, p, "adapters", json_is_string(nm) ? json_string_value(nm) : NULL, i);
		if (decode_adapter(c, e, ap, &h->adapters[h->n_adapters]))
			h->n_adapters++;
	}
}

static void decode_hosts(model_ctx_t *c, const json_t *e, const char *p,
			 model_onprem_network_t *net)
{
	const json_t *l = get_list(c, e, "hosts", p);
	if (!l)
		return;
	ALLOC(c, net->hosts, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *he = json_array_get(l, i);
		const json_t *n = json_is_object(he) ? json_object_get(he, "name") : NULL;
		const char *hp =
			path_of(c, p, "hosts", json_is_string(n) ? json_string_value(n) : NULL, i);
		if (!json_is_object(he)) {
			model_report(c, he, NULL, hp, NULL, PR_ECONFIG,
				     "a host is {name: …, privateIpAddress: …}");
			continue;
		}
		model_check_keys(c, he, hp, KEYS("name", "privateIpAddress", "dnsClient"));
		const char *name = get_str(c, he, "name", hp, true);
		const char *ip = get_str(c, he, "privateIpAddress", hp, true);
		uint32_t addr;
		if (!name || !ip)
			continue;
		if (pr_ipv4_parse(ip, &addr) != 0) {
			model_report(c, he, "privateIpAddress", hp, "T-3", PR_ECONFIG,
				     "'%s' is not an IPv4 address", ip);
			continue;
		}
		model_onprem_host_t *h = &net->hosts[net->n_hosts++];
		*h = (model_onprem_host_t){.origin = {he, hp}, .name = name, .address = addr};
		decode_dns_client(c, he, hp, h);
	}
}

static void decode_network(model_ctx_t *c, const json_t *e, const char *p,
			   model_onprem_network_t *net)
{
	model_check_keys(
		c, e, p,
		KEYS("name", "addressPrefixes", "connectedVirtualNetworks", "hosts", "dnsServers"));
	net->origin = (model_origin_t){e, p};
	net->name = get_str(c, e, "name", p, true);
	size_t np;
	const char **prefixes = get_strings(c, e, "addressPrefixes", p, &np);
	ALLOC(c, net->prefixes, np);
	for (size_t j = 0; j < np; j++) {
		const char *why;
		if (pr_prefix_parse(prefixes[j], &net->prefixes[net->n_prefixes], &why) != 0) {
			model_report(c, e, "addressPrefixes", p, "T-1", PR_ECONFIG, "'%s': %s",
				     prefixes[j], why);
			continue;
		}
		net->n_prefixes++;
	}
	if (!json_object_get(e, "addressPrefixes"))
		model_report(c, e, NULL, p, "T-1", PR_ECONFIG,
			     "'addressPrefixes' is required (one or more IPv4 prefixes)");
	net->vnet_refs = get_strings(c, e, "connectedVirtualNetworks", p, &net->n_vnets);
	ALLOC(c, net->vnets, net->n_vnets);
	for (size_t j = 0; j < net->n_vnets; j++)
		net->vnets[j] = -1;
	net->dns_server_refs = get_strings(c, e, "dnsServers", p, &net->n_dns_servers);
	ALLOC(c, net->dns_servers, net->n_dns_servers);
	for (size_t j = 0; j < net->n_dns_servers; j++)
		net->dns_servers[j] = -1;
	decode_hosts(c, e, p, net);
}

/* T-9: a system of an overlay network. */
static void decode_system(model_ctx_t *c, const json_t *e, const char *p,
			  model_overlay_system_t *s)
{
	model_check_keys(c, e, p, KEYS("systemId", "hostname", "host", "address", "tags"));
	s->origin = (model_origin_t){e, p};
	s->system_id = get_str(c, e, "systemId", p, true);
	s->hostname = get_str(c, e, "hostname", p, false);
	s->host = get_str(c, e, "host", p, false);
	s->tags = get_strings(c, e, "tags", p, &s->n_tags);
	const char *ip = get_str(c, e, "address", p, true);
	if (ip && pr_ipv4_parse(ip, &s->address) != 0)
		model_report(c, e, "address", p, "T-9", PR_ECONFIG,
			     "'%s' is not an IPv4 address", ip);
}

/* Objects of list key of e, each decoded by fn into out[] of size elem. */
static size_t decode_objects(model_ctx_t *c, const json_t *e, const char *p, const char *key,
			     const char *name_key, void *out, size_t elem,
			     void (*fn)(model_ctx_t *, const json_t *, const char *, void *))
{
	const json_t *l = get_list(c, e, key, p);
	size_t n = 0;
	for (size_t i = 0; l && i < json_array_size(l); i++) {
		const json_t *x = json_array_get(l, i);
		const json_t *nm = json_is_object(x) ? json_object_get(x, name_key) : NULL;
		const char *xp =
			path_of(c, p, key, json_is_string(nm) ? json_string_value(nm) : NULL, i);
		if (!json_is_object(x)) {
			model_report(c, x, NULL, xp, "T-9", PR_ECONFIG, "must be a mapping");
			continue;
		}
		fn(c, x, xp, (char *)out + n++ * elem);
	}
	return n;
}

static void decode_system_cb(model_ctx_t *c, const json_t *e, const char *p, void *out)
{
	decode_system(c, e, p, out);
}

static void decode_record_cb(model_ctx_t *c, const json_t *e, const char *p, void *out)
{
	model_overlay_record_t *r = out;
	model_check_keys(c, e, p, KEYS("name", "systems", "tags"));
	r->origin = (model_origin_t){e, p};
	r->name = get_str(c, e, "name", p, true);
	r->systems = get_strings(c, e, "systems", p, &r->n_systems);
	r->tags = get_strings(c, e, "tags", p, &r->n_tags);
}

static void decode_policy_cb(model_ctx_t *c, const json_t *e, const char *p, void *out)
{
	model_overlay_policy_t *pol = out;
	model_check_keys(c, e, p, KEYS("name", "senders", "receivers"));
	pol->origin = (model_origin_t){e, p};
	pol->name = get_str(c, e, "name", p, true);
	pol->senders = get_strings(c, e, "senders", p, &pol->n_senders);
	pol->receivers = get_strings(c, e, "receivers", p, &pol->n_receivers);
}

static void decode_overlay(model_ctx_t *c, const json_t *e, const char *p,
			   model_overlay_network_t *o)
{
	model_check_keys(c, e, p, KEYS("name", "zone", "systems", "dnsRecords", "policies"));
	o->origin = (model_origin_t){e, p};
	o->name = get_str(c, e, "name", p, true);
	o->zone = get_str(c, e, "zone", p, false);
	if (!o->zone)
		o->zone = MODEL_OVERLAY_ZONE;
	size_t cap;
	const json_t *l;
#define DECODE_LIST(key, name_key, field, n_field, cb)                                           \
	l = json_object_get(e, key);                                                               \
	cap = json_is_array(l) ? json_array_size(l) : 0;                                           \
	ALLOC(c, o->field, cap);                                                                   \
	o->n_field = decode_objects(c, e, p, key, name_key, o->field, sizeof(*o->field), cb)
	DECODE_LIST("systems", "systemId", systems, n_systems, decode_system_cb);
	DECODE_LIST("dnsRecords", "name", records, n_records, decode_record_cb);
	DECODE_LIST("policies", "name", policies, n_policies, decode_policy_cb);
#undef DECODE_LIST
}

static void decode_overlays(model_ctx_t *c, const json_t *t, model_topology_t *topo)
{
	const json_t *l = get_list(c, t, "overlayNetworks", "topology");
	ALLOC(c, topo->overlays, l ? json_array_size(l) : 0);
	for (size_t i = 0; l && i < json_array_size(l); i++) {
		const json_t *e = json_array_get(l, i);
		const json_t *n = json_is_object(e) ? json_object_get(e, "name") : NULL;
		const char *p = path_of(c, "topology", "overlayNetworks",
					json_is_string(n) ? json_string_value(n) : NULL, i);
		if (!json_is_object(e)) {
			model_report(c, e, NULL, p, "T-9", PR_ECONFIG,
				     "an overlay network is {name, zone, systems, dnsRecords, "
				     "policies}");
			continue;
		}
		decode_overlay(c, e, p, &topo->overlays[topo->n_overlays++]);
	}
}

void model_decode_topology(model_ctx_t *c, const json_t *root)
{
	const json_t *t = json_object_get(root, "topology");
	if (!t || json_is_null(t))
		return;
	if (!json_is_object(t)) {
		model_report(c, root, "topology", "", NULL, PR_ECONFIG,
			     "must be a mapping (onPremisesNetworks: …)");
		return;
	}
	model_check_keys(c, t, "topology", KEYS("onPremisesNetworks", "overlayNetworks"));
	model_topology_t *topo = pr_arena_alloc(c->d->arena, sizeof(*topo));
	topo->origin = (model_origin_t){t, "topology"};
	c->d->topology = topo;
	decode_overlays(c, t, topo);
	const json_t *l = get_list(c, t, "onPremisesNetworks", "topology");
	if (!l)
		return;
	ALLOC(c, topo->networks, json_array_size(l));
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *e = json_array_get(l, i);
		const json_t *n = json_is_object(e) ? json_object_get(e, "name") : NULL;
		const char *p = path_of(c, "topology", "onPremisesNetworks",
					json_is_string(n) ? json_string_value(n) : NULL, i);
		if (!json_is_object(e)) {
			model_report(c, e, NULL, p, NULL, PR_ECONFIG,
				     "an on-premises network is {name, addressPrefixes, …}");
			continue;
		}
		decode_network(c, e, p, &topo->networks[topo->n_networks++]);
	}
}

/* ---- Lookups --------------------------------------------------------------- */

int deployment_topology_network_of_server(const deployment_t *d, int server)
{
	if (!d->topology)
		return -1;
	for (size_t i = 0; i < d->topology->n_networks; i++) {
		const model_onprem_network_t *net = &d->topology->networks[i];
		for (size_t j = 0; j < net->n_dns_servers; j++)
			if (net->dns_servers[j] == server)
				return (int)i;
	}
	return -1;
}

bool deployment_topology_connects(const deployment_t *d, int network, int vnet)
{
	if (!d->topology || network < 0 || (size_t)network >= d->topology->n_networks)
		return false;
	const model_onprem_network_t *net = &d->topology->networks[network];
	for (size_t j = 0; j < net->n_vnets; j++)
		if (net->vnets[j] == vnet && vnet >= 0)
			return true;
	return false;
}

/* ---- Checks ---------------------------------------------------------------- */

static const char *ip_text(uint32_t a, char *buf)
{
	return pr_ipv4_format(a, buf);
}

static const char *prefix_text(pr_prefix_t p, char *buf, size_t size)
{
	char ip[16];
	snprintf(buf, size, "%s/%u", pr_ipv4_format(p.addr, ip), (unsigned)p.len);
	return buf;
}

/* The prefix of net that holds addr, or NULL. */
static const pr_prefix_t *prefix_holding(const model_onprem_network_t *net, uint32_t addr)
{
	for (size_t i = 0; i < net->n_prefixes; i++)
		if (pr_prefix_contains(net->prefixes[i], addr))
			return &net->prefixes[i];
	return NULL;
}

/* T-3: an address of a network's member lies in one of its prefixes and is
 * not the network, gateway (the fabric router) or broadcast address. */
static bool check_member_address(model_ctx_t *c, const model_onprem_network_t *net,
				 const json_t *node, const char *key, const char *path,
				 const char *rule, uint32_t addr)
{
	char ip[16], pb[32];
	const pr_prefix_t *p = prefix_holding(net, addr);
	if (!p) {
		pr_buf_t in = {0};
		for (size_t i = 0; i < net->n_prefixes; i++)
			pr_buf_printf(&in, "%s%s", i ? ", " : "",
				      prefix_text(net->prefixes[i], pb, sizeof(pb)));
		model_report(c, node, key, path, rule, PR_ECONFIG,
			     "%s is outside on-premises network '%s' (%s)", ip_text(addr, ip),
			     net->name ? net->name : "?", in.data ? in.data : "no prefixes");
		pr_buf_free(&in);
		return false;
	}
	if (addr == p->addr || addr == p->addr + 1 || addr == pr_prefix_last(*p)) {
		model_report(c, node, key, path, "T-3", PR_ECONFIG,
			     "%s is reserved in %s (network, gateway and broadcast addresses); "
			     "valid: %s..%s",
			     ip_text(addr, ip), prefix_text(*p, pb, sizeof(pb)),
			     ip_text(p->addr + 2, (char[16]){0}),
			     ip_text(pr_prefix_last(*p) - 1, (char[16]){0}));
		return false;
	}
	return true;
}

/* T-1: prefixes leave room for a gateway and hosts, and overlap neither a
 * VNet's address space, nor another on-premises prefix, nor Azure DNS. */
static void check_prefixes(model_ctx_t *c, size_t ni)
{
	const deployment_t *d = c->d;
	const model_onprem_network_t *net = &d->topology->networks[ni];
	const char *p = net->origin.path;
	char a[32], b[32];
	if (net->n_prefixes == 0)
		return;
	for (size_t i = 0; i < net->n_prefixes; i++) {
		pr_prefix_t x = net->prefixes[i];
		prefix_text(x, a, sizeof(a));
		if (x.len > 29)
			model_report(c, net->origin.node, "addressPrefixes", p, "T-1", PR_ECONFIG,
				     "%s is too small: a network needs /29 or larger (gateway and "
				     "hosts)",
				     a);
		if (pr_prefix_contains(x, MODEL_AZURE_DNS_ADDR))
			model_report(c, net->origin.node, "addressPrefixes", p, "T-1", PR_ECONFIG,
				     "%s holds 168.63.129.16 (Azure DNS)", a);
		for (size_t v = 0; v < d->n_vnets; v++)
			for (size_t k = 0; k < d->vnets[v].n_prefixes; k++)
				if (pr_prefix_overlaps(x, d->vnets[v].prefixes[k]))
					model_report(
						c, net->origin.node, "addressPrefixes", p, "T-1",
						PR_ECONFIG,
						"%s overlaps virtual network '%s' (%s); "
						"on-premises "
						"and cloud address spaces must be disjoint to be "
						"routed",
						a, d->vnets[v].name ? d->vnets[v].name : "?",
						prefix_text(d->vnets[v].prefixes[k], b, sizeof(b)));
		for (size_t j = 0; j <= ni; j++) {
			const model_onprem_network_t *o = &d->topology->networks[j];
			size_t until = j == ni ? i : o->n_prefixes;
			for (size_t k = 0; k < until; k++)
				if (pr_prefix_overlaps(x, o->prefixes[k]))
					model_report(c, net->origin.node, "addressPrefixes", p,
						     "T-1", PR_ECONFIG,
						     "%s overlaps %s of on-premises network '%s'",
						     a, prefix_text(o->prefixes[k], b, sizeof(b)),
						     o->name ? o->name : "?");
		}
	}
}

/* T-2: connected VNets exist, once each. */
static void resolve_vnets(model_ctx_t *c, model_onprem_network_t *net)
{
	for (size_t j = 0; j < net->n_vnets; j++) {
		const char *name = model_ref_name(c, net->vnet_refs[j], "virtualNetworks");
		int v = deployment_find_vnet(c->d, name);
		if (v < 0) {
			pr_buf_t known = {0};
			for (size_t k = 0; k < c->d->n_vnets; k++)
				pr_buf_printf(&known, "%s%s", k ? ", " : "",
					      c->d->vnets[k].name ? c->d->vnets[k].name : "?");
			model_report(c, net->origin.node, "connectedVirtualNetworks",
				     net->origin.path, "T-2", PR_ENOTFOUND,
				     "virtual network '%s' does not exist; known: %s",
				     net->vnet_refs[j], known.data ? known.data : "none");
			pr_buf_free(&known);
			continue;
		}
		for (size_t k = 0; k < j; k++)
			if (net->vnets[k] == v)
				model_report(c, net->origin.node, "connectedVirtualNetworks",
					     net->origin.path, "T-2", PR_EEXIST,
					     "virtual network '%s' is listed twice", name);
		net->vnets[j] = v;
	}
}

static int find_external(const deployment_t *d, const char *name)
{
	for (size_t i = 0; name && i < d->n_external_servers; i++)
		if (d->external_servers[i].name && !strcmp(d->external_servers[i].name, name))
			return (int)i;
	return -1;
}

/* Is addr already used by a member (host or DNS server) of a network placed
 * before it? Reports and returns true when so. */
typedef struct member {
	uint32_t addr;
	const char *what;
	const char *name;
} member_t;

static bool taken(model_ctx_t *c, member_t *seen, size_t n, const json_t *node, const char *key,
		  const char *path, uint32_t addr)
{
	char ip[16];
	for (size_t i = 0; i < n; i++)
		if (seen[i].addr == addr) {
			model_report(c, node, key, path, "T-3", PR_EEXIST, "%s is already %s '%s'",
				     ip_text(addr, ip), seen[i].what,
				     seen[i].name ? seen[i].name : "?");
			return true;
		}
	return false;
}

/* T-4: dnsServers name external servers, each placed once, inside. */
static void place_servers(model_ctx_t *c, size_t ni, member_t *seen, size_t *n_seen)
{
	deployment_t *d = c->d;
	model_onprem_network_t *net = &d->topology->networks[ni];
	for (size_t j = 0; j < net->n_dns_servers; j++) {
		const char *ref = net->dns_server_refs[j];
		int x = find_external(d, ref);
		if (x < 0) {
			model_report(c, net->origin.node, "dnsServers", net->origin.path, "T-4",
				     PR_ENOTFOUND,
				     "'%s' is not one of externalDnsServers; dnsServers places "
				     "external DNS servers by name",
				     ref);
			continue;
		}
		int other = deployment_topology_network_of_server(d, x);
		if (other >= 0) {
			model_report(c, net->origin.node, "dnsServers", net->origin.path, "T-4",
				     PR_EEXIST,
				     "external DNS server '%s' is already placed in on-premises "
				     "network '%s'",
				     ref, d->topology->networks[other].name);
			continue;
		}
		const model_external_server_t *s = &d->external_servers[x];
		if (!check_member_address(c, net, net->origin.node, "dnsServers", net->origin.path,
					  "T-4", s->address))
			continue;
		if (taken(c, seen, *n_seen, net->origin.node, "dnsServers", net->origin.path,
			  s->address))
			continue;
		seen[(*n_seen)++] = (member_t){s->address, "external DNS server", s->name};
		net->dns_servers[j] = x;
	}
}

/* T-3: hosts inside, at unique addresses, with names unique among every
 * host of the topology (VMs included: `privres-topo exec HOST` names one). */
static void check_hosts(model_ctx_t *c, size_t ni, member_t *seen, size_t *n_seen)
{
	const deployment_t *d = c->d;
	const model_onprem_network_t *net = &d->topology->networks[ni];
	for (size_t j = 0; j < net->n_hosts; j++) {
		const model_onprem_host_t *h = &net->hosts[j];
		const char *hp = h->origin.path;
		for (size_t v = 0; v < d->n_vms; v++)
			if (d->vms[v].name && !strcmp(d->vms[v].name, h->name))
				model_report(c, h->origin.node, "name", hp, "T-3", PR_EEXIST,
					     "host name '%s' is already virtual machine '%s'",
					     h->name, d->vms[v].origin.path);
		for (size_t k = 0; k <= ni; k++) {
			const model_onprem_network_t *o = &d->topology->networks[k];
			size_t until = k == ni ? j : o->n_hosts;
			for (size_t m = 0; m < until; m++)
				if (!strcmp(o->hosts[m].name, h->name))
					model_report(c, h->origin.node, "name", hp, "T-3",
						     PR_EEXIST, "host name '%s' is already %s",
						     h->name, o->hosts[m].origin.path);
		}
		if (!check_member_address(c, net, h->origin.node, "privateIpAddress", hp, "T-3",
					  h->address))
			continue;
		if (taken(c, seen, *n_seen, h->origin.node, "privateIpAddress", hp, h->address))
			continue;
		seen[(*n_seen)++] = (member_t){h->address, "host", h->name};
	}
}

/* T-5: an on-premises server that forwards to an inbound endpoint reaches it
 * only over its network's connection to the endpoint's VNet. */
static void check_server_forwarders(model_ctx_t *c, int x)
{
	const deployment_t *d = c->d;
	const model_external_server_t *s = &d->external_servers[x];
	int ni = deployment_topology_network_of_server(d, x);
	if (ni < 0)
		return;
	const model_onprem_network_t *net = &d->topology->networks[ni];
	for (size_t f = 0; f < s->n_forwarders; f++) {
		const model_forwarder_t *fw = &s->forwarders[f];
		for (size_t t = 0; t < fw->n_targets; t++) {
			const model_resolver_t *r = NULL;
			const model_inbound_endpoint_t *ie =
				deployment_find_inbound_by_address(d, fw->targets[t].address, &r);
			if (!ie || !r || r->vnet < 0)
				continue;
			if (deployment_topology_connects(d, ni, r->vnet))
				continue;
			char ip[16];
			model_report(
				c, fw->targets[t].origin.node, NULL, fw->targets[t].origin.path,
				"T-5", PR_ECONFIG,
				"external DNS server '%s' forwards to inbound endpoint %s/%s "
				"(%s) in virtual network '%s', but its on-premises network '%s' "
				"is not connected to it; add '%s' to %s.connectedVirtualNetworks",
				s->name, r->name, ie->name, ip_text(ie->address, ip),
				d->vnets[r->vnet].name, net->name, d->vnets[r->vnet].name,
				net->origin.path);
		}
	}
}

/* T-6: a forwarding rule's target placed on premises is reached from the
 * outbound endpoint's VNet (O-1), so that network must be connected to it. */
static void check_rule_targets(model_ctx_t *c)
{
	const deployment_t *d = c->d;
	for (size_t i = 0; i < d->n_rulesets; i++) {
		const model_ruleset_t *rs = &d->rulesets[i];
		for (size_t r = 0; r < rs->n_rules; r++) {
			const model_rule_t *rule = &rs->rules[r];
			for (size_t t = 0; t < rule->n_targets; t++) {
				const model_target_t *tg = &rule->targets[t];
				const model_external_server_t *s =
					deployment_find_external(d, tg->address, tg->port);
				if (!s)
					continue;
				int ni = deployment_topology_network_of_server(
					d, (int)(s - d->external_servers));
				if (ni < 0)
					continue;
				bool reached = false;
				int vnet = -1;
				for (size_t o = 0; o < rs->n_outbound && !reached; o++) {
					int ri = rs->outbound[o].resolver;
					if (ri < 0 || (size_t)ri >= d->n_resolvers)
						continue;
					vnet = d->resolvers[ri].vnet;
					reached = deployment_topology_connects(d, ni, vnet);
				}
				if (reached || vnet < 0)
					continue;
				const model_onprem_network_t *net = &d->topology->networks[ni];
				model_report(
					c, tg->origin.node, NULL, tg->origin.path, "T-6",
					PR_ECONFIG,
					"rule '%s' targets external DNS server '%s' in "
					"on-premises network '%s', which is not connected to "
					"virtual network '%s' of the ruleset's outbound endpoint "
					"(O-1); add '%s' to %s.connectedVirtualNetworks",
					rule->name, s->name, net->name, d->vnets[vnet].name,
					d->vnets[vnet].name, net->origin.path);
			}
		}
	}
}

static int find_network(const deployment_t *d, const char *name)
{
	for (size_t i = 0; name && i < d->topology->n_networks; i++)
		if (d->topology->networks[i].name && !strcmp(d->topology->networks[i].name, name))
			return (int)i;
	return -1;
}

/* T-8: one DNS server of an adapter, by external server name or address:
 * a server placed in the adapter's network, or an inbound endpoint of a VNet
 * that network is connected to. Fills the address and port. */
static void resolve_adapter_server(model_ctx_t *c, model_client_adapter_t *ad, size_t j)
{
	const deployment_t *d = c->d;
	const char *ref = ad->server_refs[j];
	const model_onprem_network_t *net = &d->topology->networks[ad->network];
	uint32_t addr;
	const model_external_server_t *s = NULL;
	if (pr_ipv4_parse(ref, &addr) == 0) {
		const model_resolver_t *r = NULL;
		const model_inbound_endpoint_t *ie =
			deployment_find_inbound_by_address(d, addr, &r);
		if (ie && r && deployment_topology_connects(d, ad->network, r->vnet)) {
			ad->servers[j] = addr;
			ad->ports[j] = DNS_PORT;
			return;
		}
		for (size_t x = 0; x < d->n_external_servers && !s; x++)
			if (d->external_servers[x].address == addr)
				s = &d->external_servers[x];
	} else {
		int x = find_external(d, ref);
		s = x >= 0 ? &d->external_servers[x] : NULL;
	}
	if (s && deployment_topology_network_of_server(d, (int)(s - d->external_servers)) ==
			 ad->network) {
		ad->servers[j] = s->address;
		ad->ports[j] = s->port;
		return;
	}
	model_report(c, ad->origin.node, "dnsServers", ad->origin.path, "T-8", PR_ECONFIG,
		     "'%s' is not reachable over adapter '%s': a DNS server is an external DNS "
		     "server placed in its network '%s', or an inbound endpoint's address in a "
		     "virtual network '%s' is connected to",
		     ref, ad->name, net->name, net->name);
}

/* ---- Overlay networks (T-9, T-10) ----------------------------------------------- */

static const model_overlay_system_t *find_system(const model_overlay_network_t *o, const char *id)
{
	for (size_t i = 0; id && i < o->n_systems; i++)
		if (o->systems[i].system_id && !strcasecmp(o->systems[i].system_id, id))
			return &o->systems[i];
	return NULL;
}

static bool has_tag(const model_overlay_network_t *o, const char *tag)
{
	for (size_t i = 0; i < o->n_systems; i++)
		for (size_t t = 0; t < o->systems[i].n_tags; t++)
			if (!strcmp(o->systems[i].tags[t], tag))
				return true;
	return false;
}

static bool is_host(const deployment_t *d, const char *name)
{
	for (size_t i = 0; i < d->topology->n_networks; i++)
		for (size_t j = 0; j < d->topology->networks[i].n_hosts; j++)
			if (!strcmp(d->topology->networks[i].hosts[j].name, name))
				return true;
	return false;
}

/* T-9: systems have unique alphanumeric ids and unique addresses, and run on
 * a topology host at most one each. */
static void check_systems(model_ctx_t *c, const model_overlay_network_t *o)
{
	for (size_t i = 0; i < o->n_systems; i++) {
		const model_overlay_system_t *s = &o->systems[i];
		const char *p = s->origin.path;
		if (!s->system_id)
			continue;
		for (const char *q = s->system_id; *q; q++)
			if (!isalnum((unsigned char)*q) || q - s->system_id > 62) {
				model_report(c, s->origin.node, "systemId", p, "T-9", PR_ECONFIG,
					     "'%s': a system id is 1-63 letters and digits",
					     s->system_id);
				break;
			}
		for (size_t k = 0; k < i; k++) {
			const model_overlay_system_t *t = &o->systems[k];
			if (t->system_id && !strcasecmp(t->system_id, s->system_id))
				model_report(c, s->origin.node, "systemId", p, "T-9", PR_EEXIST,
					     "system id '%s' is used twice", s->system_id);
			if (t->address == s->address && s->address)
				model_report(c, s->origin.node, "address", p, "T-9", PR_EEXIST,
					     "address %s is already system '%s'",
					     ip_text(s->address, (char[16]){0}), t->system_id);
			if (s->host && t->host && !strcmp(s->host, t->host))
				model_report(c, s->origin.node, "host", p, "T-9", PR_EEXIST,
					     "host '%s' already runs system '%s' of this network",
					     s->host, t->system_id);
		}
		if (s->host && !is_host(c->d, s->host))
			model_report(c, s->origin.node, "host", p, "T-9", PR_ENOTFOUND,
				     "'%s' is not a host of topology.onPremisesNetworks", s->host);
	}
}

/* T-9: records and policies name systems (by id) and tags that exist, and
 * records make valid names in the zone. */
static void check_refs(model_ctx_t *c, const model_overlay_network_t *o, const json_t *node,
		       const char *path, const char *key, const char **refs, size_t n,
		       bool tags_too)
{
	for (size_t i = 0; i < n; i++)
		if (!find_system(o, refs[i]) && !(tags_too && has_tag(o, refs[i])))
			model_report(c, node, key, path, "T-9", PR_ENOTFOUND,
				     "'%s' is no system id%s of overlay network '%s'", refs[i],
				     tags_too ? " or tag" : "", o->name ? o->name : "?");
}

static void check_overlay(model_ctx_t *c, size_t oi)
{
	const model_topology_t *topo = c->d->topology;
	const model_overlay_network_t *o = &topo->overlays[oi];
	for (size_t j = 0; j < oi && o->name; j++)
		if (topo->overlays[j].name && !strcmp(topo->overlays[j].name, o->name))
			model_report(c, o->origin.node, "name", o->origin.path, "T-9", PR_EEXIST,
				     "overlay network '%s' is defined twice", o->name);
	const char *why = NULL;
	if (dns_name_from_text(o->zone, NULL, NULL, &why) != 0)
		model_report(c, o->origin.node, "zone", o->origin.path, "T-9", PR_ECONFIG,
			     "'%s' is not a DNS name: %s", o->zone, why);
	check_systems(c, o);
	for (size_t i = 0; i < o->n_records; i++) {
		const model_overlay_record_t *r = &o->records[i];
		char full[DNS_NAME_TEXT_MAX];
		snprintf(full, sizeof(full), "%s.%s", r->name ? r->name : "", o->zone);
		if (r->name && dns_name_from_text(full, NULL, NULL, &why) != 0)
			model_report(c, r->origin.node, "name", r->origin.path, "T-9", PR_ECONFIG,
				     "'%s' is not a DNS name: %s", full, why);
		check_refs(c, o, r->origin.node, r->origin.path, "systems", r->systems,
			   r->n_systems, false);
	}
	for (size_t i = 0; i < o->n_policies; i++) {
		const model_overlay_policy_t *pol = &o->policies[i];
		check_refs(c, o, pol->origin.node, pol->origin.path, "senders", pol->senders,
			   pol->n_senders, true);
		check_refs(c, o, pol->origin.node, pol->origin.path, "receivers", pol->receivers,
			   pol->n_receivers, true);
	}
}

/* T-10: an overlay agent's adapter names an overlay network that has a
 * system on this host; one such adapter a host. */
static void check_overlay_adapter(model_ctx_t *c, const model_onprem_host_t *h,
				  model_client_adapter_t *ad, bool *seen)
{
	const model_topology_t *topo = c->d->topology;
	for (size_t i = 0; i < topo->n_overlays && ad->overlay < 0; i++)
		if (topo->overlays[i].name && !strcmp(topo->overlays[i].name, ad->overlay_ref))
			ad->overlay = (int)i;
	if (ad->overlay < 0) {
		model_report(c, ad->origin.node, "overlayNetwork", ad->origin.path, "T-10",
			     PR_ENOTFOUND, "overlay network '%s' does not exist (one of "
			     "topology.overlayNetworks)", ad->overlay_ref);
		return;
	}
	const model_overlay_network_t *o = &topo->overlays[ad->overlay];
	bool runs = false;
	for (size_t i = 0; i < o->n_systems; i++)
		runs |= o->systems[i].host && !strcmp(o->systems[i].host, h->name);
	if (!runs)
		model_report(c, ad->origin.node, "overlayNetwork", ad->origin.path, "T-10",
			     PR_ECONFIG,
			     "host '%s' runs no system of overlay network '%s' (a system with "
			     "host: %s)", h->name, o->name, h->name);
	if (*seen)
		model_report(c, ad->origin.node, "overlayNetwork", ad->origin.path, "T-10",
			     PR_EEXIST, "host '%s' has one overlay agent's adapter already",
			     h->name);
	*seen = true;
}

/* T-7/T-8: a host's adapters have unique names, networks that exist and DNS
 * servers they can reach. */
static void check_dns_client(model_ctx_t *c, int ni, model_onprem_host_t *h)
{
	const deployment_t *d = c->d;
	bool overlay_seen = false;
	for (size_t i = 0; i < h->n_adapters; i++) {
		model_client_adapter_t *ad = &h->adapters[i];
		for (size_t k = 0; k < i; k++)
			if (!strcmp(h->adapters[k].name, ad->name))
				model_report(c, ad->origin.node, "name", ad->origin.path, "T-7",
					     PR_EEXIST, "adapter '%s' is defined twice on host '%s'",
					     ad->name, h->name);
		if (ad->overlay_ref) {
			check_overlay_adapter(c, h, ad, &overlay_seen);
			continue;
		}
		ad->network = ad->network_ref ? find_network(d, ad->network_ref) : ni;
		if (ad->network < 0) {
			model_report(c, ad->origin.node, "network", ad->origin.path, "T-8",
				     PR_ENOTFOUND,
				     "on-premises network '%s' does not exist (an adapter's network "
				     "is one of topology.onPremisesNetworks)",
				     ad->network_ref);
			continue;
		}
		for (size_t j = 0; j < ad->n_servers; j++)
			resolve_adapter_server(c, ad, j);
	}
}

void model_validate_topology(model_ctx_t *c)
{
	deployment_t *d = c->d;
	model_topology_t *topo = d->topology;
	if (!topo)
		return;
	size_t cap = d->n_external_servers;
	for (size_t i = 0; i < topo->n_networks; i++)
		cap += topo->networks[i].n_hosts;
	member_t *seen = pr_arena_alloc(d->arena, (cap ? cap : 1) * sizeof(*seen));
	size_t n_seen = 0;
	for (size_t i = 0; i < topo->n_networks; i++) {
		model_onprem_network_t *net = &topo->networks[i];
		if (!net->name)
			continue;
		/* T-1: one name space for networks, VNets included, so that a
		 * network of the compose export or a bridge is named once. */
		for (size_t j = 0; j < i; j++)
			if (topo->networks[j].name && !strcmp(topo->networks[j].name, net->name))
				model_report(c, net->origin.node, "name", net->origin.path, "T-1",
					     PR_EEXIST, "on-premises network '%s' is defined twice",
					     net->name);
		if (deployment_find_vnet(d, net->name) >= 0)
			model_report(c, net->origin.node, "name", net->origin.path, "T-1",
				     PR_EEXIST, "'%s' is already a virtual network's name",
				     net->name);
		check_prefixes(c, i);
		resolve_vnets(c, net);
		place_servers(c, i, seen, &n_seen);
		check_hosts(c, i, seen, &n_seen);
	}
	for (size_t x = 0; x < d->n_external_servers; x++)
		check_server_forwarders(c, (int)x);
	check_rule_targets(c);
	for (size_t i = 0; i < topo->n_overlays; i++)
		check_overlay(c, i);
	for (size_t i = 0; i < topo->n_networks; i++)
		for (size_t j = 0; j < topo->networks[i].n_hosts; j++)
			if (topo->networks[i].hosts[j].dns_client)
				check_dns_client(c, (int)i, &topo->networks[i].hosts[j]);
}
