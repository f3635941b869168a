/* Dynamic update and scavenging of the emulated on-premises servers' zones
 * (E-2..E-5). An accepted update is a change of the external server resource
 * like any other: it goes through control_apply(), so it is validated,
 * journaled and fsync'ed before the answer, and published to every worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/control.h"
#include "dns/dns.h"
#include "zones/zones.h"

/* The server's TSIG keys, copied: an accepted change frees the deployment
 * they came from before the answer is signed. */
typedef struct keys {
	dns_tsig_key_spec_t *spec;
	size_t n;
} keys_t;

static keys_t keys_copy(const model_external_server_t *x)
{
	keys_t k = {pr_calloc(x->n_tsig_keys + 1, sizeof(dns_tsig_key_spec_t)), x->n_tsig_keys};
	for (size_t i = 0; i < k.n; i++)
		k.spec[i] = (dns_tsig_key_spec_t){pr_strdup(x->tsig_keys[i].name),
						  pr_strdup(x->tsig_keys[i].algorithm),
						  pr_strdup(x->tsig_keys[i].secret)};
	return k;
}

static void keys_free(keys_t *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free((char *)k->spec[i].name);
		free((char *)k->spec[i].algorithm);
		free((char *)k->spec[i].secret);
	}
	free(k->spec);
}

static const model_external_server_t *find_server(const deployment_t *d, const char *name)
{
	for (size_t i = 0; i < d->n_external_servers; i++)
		if (!strcasecmp(d->external_servers[i].name, name))
			return &d->external_servers[i];
	return NULL;
}

/* The server's resource as the document holds it (a copy, owned). Its zones
 * line up with the model's (decode order). */
static json_t *server_json(const deployment_t *d, const model_external_server_t *x)
{
	const json_t *l = json_object_get(deployment_source_json(d), "externalDnsServers");
	return json_deep_copy(json_array_get(l, (size_t)(x - d->external_servers)));
}

static json_t *zone_json(json_t *server, size_t zi)
{
	return json_array_get(json_object_get(server, "zones"), zi);
}

/* E-5: "d.c.b.a.in-addr.arpa." of an IPv4 address in rdata. */
static void reverse_name(const uint8_t *a, uint8_t *wire)
{
	char text[64];
	snprintf(text, sizeof(text), "%u.%u.%u.%u.in-addr.arpa.", a[3], a[2], a[1], a[0]);
	dns_name_from_text(text, wire, NULL, NULL);
}

/* The longest zone of x holding name, or -1. */
static int zone_holding(const model_external_server_t *x, const uint8_t *name)
{
	int best = -1;
	for (size_t i = 0; i < x->n_zones; i++)
		if (dns_name_is_under(name, x->zones[i].name_wire) &&
		    (best < 0 || x->zones[i].labels > x->zones[best].labels))
			best = (int)i;
	return best;
}

/* E-5: the DHCP server's behaviour: each A record an update adds gets its PTR
 * in a reverse zone this server holds. */
static bool register_ptrs(const model_external_server_t *x, json_t *server, const dns_update_t *u,
			  uint64_t now)
{
	size_t n;
	const dns_update_rr_t *chg = dns_update_changes(u, &n);
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		if (chg[i].rclass != DNS_CLASS_IN || chg[i].type != 1 || chg[i].rdlen != 4)
			continue;
		uint8_t rev[DNS_NAME_MAXLEN];
		reverse_name(chg[i].rdata, rev);
		int zi = zone_holding(x, rev);
		if (zi < 0)
			continue;
		char target[DNS_NAME_TEXT_MAX];
		dns_name_to_text(chg[i].owner, target, sizeof(target));
		bool changed = false;
		zone_add_ptr(zone_json(server, (size_t)zi), x->zones[zi].name_wire, rev, target,
			     chg[i].ttl, now, &changed);
		any |= changed;
	}
	return any;
}

/* Put the server's edited resource through the one path. */
static int put_server(control_t *c, json_t *server, pr_diag_t *diag)
{
	control_change_t ch = {.op = CONTROL_PUT, .kind = model_kind(MODEL_KIND_EXTERNAL),
			       .resource = server};
	return control_apply(c, &ch, NULL, diag);
}

/* The rcode of an update to zone zi of x, applied when it changes anything. */
static int apply_update(control_t *c, const model_external_server_t *x, size_t zi,
			const dns_update_t *u, uint64_t now)
{
	const model_zone_t *z = &x->zones[zi];
	json_t *server = server_json(control_deployment(c), x);
	zone_update_result_t res;
	int rcode = zone_update_apply(zone_json(server, zi), z->name_wire, u, now, &z->aging, &res);
	bool ptr = rcode == 0 && z->register_ptr && register_ptrs(x, server, u, now);
	if (rcode == 0 && (res.changed || res.refreshed || ptr)) {
		pr_diag_t *diag = pr_diag_new();
		int rc = put_server(c, server, diag);
		/* a change the deployment can't hold (Z-1 types, limits) is refused;
		 * a disk that can't keep it is the server's failure */
		if (rc != 0 && getenv("PRIVRES_DEBUG_UPDATE"))
			for (size_t i = 0; i < pr_diag_count(diag); i++)
				fprintf(stderr, "update: %s\n", pr_diag_get(diag, i)->message);
		if (rc != 0)
			rcode = control_error_is_io(rc) ? DNS_RCODE_SERVFAIL : DNS_RCODE_REFUSED;
		pr_diag_destroy(&diag);
	}
	json_decref(server);
	return rcode;
}

/* E-2, E-3: may this update touch zone z? 0, or the rcode that refuses it. */
static int allowed(const model_zone_t *z, const dns_update_t *u)
{
	if (z->dynamic_update == MODEL_UPDATE_NONE)
		return DNS_RCODE_REFUSED;
	if (z->dynamic_update == MODEL_UPDATE_SECURE && !dns_update_signed(u))
		return DNS_RCODE_REFUSED;
	return 0;
}

size_t control_dns_update(control_t *c, const char *server, const uint8_t *msg, size_t len,
			  uint64_t now, uint8_t *buf, size_t cap)
{
	dns_update_t *u = NULL;
	const char *why = NULL;
	if (dns_update_parse(msg, len, &u, &why) != 0)
		return dns_update_error(msg, len, DNS_RCODE_FORMERR, buf, cap);
	const model_external_server_t *x = find_server(control_deployment(c), server);
	keys_t keys = x ? keys_copy(x) : (keys_t){0};
	int tsig = dns_update_verify(u, keys.spec, keys.n);
	int rcode = DNS_RCODE_REFUSED;
	if (x && !tsig) {
		int zi = -1;
		for (size_t i = 0; i < x->n_zones && zi < 0; i++)
			if (dns_name_equal(x->zones[i].name_wire, dns_update_zone(u)))
				zi = (int)i;
		/* RFC 2136 §3.1.1: not a zone this server is authoritative for */
		rcode = zi < 0 ? DNS_RCODE_NOTAUTH : allowed(&x->zones[zi], u);
		if (zi >= 0 && rcode == 0)
			rcode = apply_update(c, x, (size_t)zi, u, now);
	}
	size_t n = dns_update_answer(u, (uint16_t)rcode, keys.spec, (uint16_t)tsig, buf, cap);
	keys_free(&keys);
	dns_update_free(&u);
	return n;
}

/* E-4: scavenge every zone of x with aging on; one change for the server. */
static int scavenge_server(control_t *c, const model_external_server_t *x, uint64_t now,
			   size_t *removed, pr_diag_t *diag)
{
	json_t *server = server_json(control_deployment(c), x);
	size_t total = 0;
	for (size_t zi = 0; zi < x->n_zones; zi++) {
		size_t n = 0;
		zone_scavenge(zone_json(server, zi), x->zones[zi].name_wire, now,
			      &x->zones[zi].aging, &n);
		total += n;
	}
	int rc = total ? put_server(c, server, diag) : 0;
	json_decref(server);
	if (rc == 0)
		*removed += total;
	return rc;
}

int control_scavenge(control_t *c, const char *server, uint64_t now, size_t *removed,
		     pr_diag_t *diag)
{
	*removed = 0;
	const deployment_t *d = control_deployment(c);
	if (server && !find_server(d, server)) {
		pr_diag_add(diag, NULL, 0, 0, "externalDnsServers", "E-4", PR_ENOTFOUND,
			    "externalDnsServers[%s] does not exist", server);
		return PR_ENOTFOUND;
	}
	/* by name: an accepted change replaces the deployment */
	size_t n = d->n_external_servers;
	char **names = pr_calloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		names[i] = pr_strdup(d->external_servers[i].name);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (server && strcasecmp(server, names[i]))
			continue;
		const model_external_server_t *x = find_server(control_deployment(c), names[i]);
		if (x)
			rc = scavenge_server(c, x, now, removed, diag);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
