/* emulator.tls and emulator.encryptedListeners (W-6, [privres]): DNS over TLS
 * and over HTTPS on inbound endpoints and Azure DNS listeners, decoded from
 * the emulator mapping and checked against the graph. Every finding carries
 * rule W-6 and the key's path, line and column. */
#include <stdio.h>
#include <string.h>

#include "model/model_p.h"

static const char *const TLS_KEYS[] = {"certificate", "privateKey", "clientCa", NULL};
static const char *const LISTENER_KEYS[] = {"dot", "doh", "plainDns", "requireClientCertificate",
					    NULL};

static void unknown_keys(model_ctx_t *c, const json_t *obj, const char *path,
			 const char *const *allowed, const char *valid)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(*a, key);
		if (!ok)
			model_report(c, obj, key, path, "W-6", PR_ECONFIG,
				     "unknown property '%s'; valid here: %s", key, valid);
	}
}

static const char *str_of(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
			  bool required)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v)) {
		if (required)
			model_report(c, obj, NULL, path, "W-6", PR_ECONFIG, "'%s' is required",
				     key);
		return NULL;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		model_report(c, obj, key, path, "W-6", PR_ECONFIG, "must be a file name");
		return NULL;
	}
	return pr_arena_strdup(c->d->arena, json_string_value(v));
}

static bool bool_of(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
		    bool dflt)
{
	const json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return dflt;
	if (!json_is_boolean(v)) {
		model_report(c, obj, key, path, "W-6", PR_ECONFIG, "must be true or false");
		return dflt;
	}
	return json_is_true(v);
}

/* dot: / doh: — "host:port", true (the default address), or false (off). */
static bool endpoint_of(model_ctx_t *c, const json_t *obj, const char *key, const char *path,
			uint32_t *addr, uint16_t *port)
{
	const json_t *v = json_object_get(obj, key);
	*addr = 0;
	*port = 0;
	if (v == NULL || json_is_null(v) || json_is_false(v))
		return false;
	if (json_is_true(v))
		return true;
	if (json_is_string(v) && pr_hostport_parse(json_string_value(v), addr, port) == 0)
		return true;
	model_report(c, obj, key, path, "W-6", PR_ECONFIG,
		     "must be IPv4 address:port (e.g. 127.0.0.1:8853), true (the default: the "
		     "virtual address's %u in virtual mode, a free loopback port otherwise) "
		     "or false",
		     !strcmp(key, "dot") ? MODEL_DOT_PORT : MODEL_DOH_PORT);
	return false;
}

static void decode_tls(model_ctx_t *c, const json_t *e)
{
	const json_t *t = json_object_get(e, "tls");
	if (t == NULL || json_is_null(t))
		return;
	const char *p = "emulator.tls";
	if (!json_is_object(t)) {
		model_report(c, e, "tls", "emulator", "W-6", PR_ECONFIG,
			     "must be a mapping {certificate, privateKey, clientCa}");
		return;
	}
	unknown_keys(c, t, p, TLS_KEYS, "certificate, privateKey, clientCa");
	model_tls_t *tls = pr_arena_alloc(c->d->arena, sizeof(*tls));
	tls->origin = (model_origin_t){t, p};
	tls->certificate = str_of(c, t, "certificate", p, true);
	tls->private_key = str_of(c, t, "privateKey", p, true);
	tls->client_ca = str_of(c, t, "clientCa", p, false);
	c->d->emulator.tls = tls;
}

void model_decode_encrypted(model_ctx_t *c, const json_t *e)
{
	model_emulator_t *em = &c->d->emulator;
	decode_tls(c, e);
	const json_t *m = json_object_get(e, "encryptedListeners");
	if (m == NULL || json_is_null(m))
		return;
	if (!json_is_object(m)) {
		model_report(c, e, "encryptedListeners", "emulator", "W-6", PR_ECONFIG,
			     "must be a mapping of listener names to {dot, doh, plainDns, "
			     "requireClientCertificate}");
		return;
	}
	em->encrypted = pr_arena_alloc(c->d->arena, (json_object_size(m) + 1) * sizeof(*em->encrypted));
	const char *name;
	json_t *v;
	json_object_foreach((json_t *)m, name, v) {
		char buf[512];
		snprintf(buf, sizeof(buf), "emulator.encryptedListeners[%s]", name);
		const char *p = pr_arena_strdup(c->d->arena, buf);
		if (!json_is_object(v)) {
			model_report(c, v, NULL, p, "W-6", PR_ECONFIG,
				     "must be a mapping {dot, doh, plainDns, "
				     "requireClientCertificate}");
			continue;
		}
		unknown_keys(c, v, p, LISTENER_KEYS, "dot, doh, plainDns, requireClientCertificate");
		model_encrypted_listener_t *l = &em->encrypted[em->n_encrypted++];
		l->origin = (model_origin_t){v, p};
		l->listener = pr_arena_strdup(c->d->arena, name);
		l->dot = endpoint_of(c, v, "dot", p, &l->dot_address, &l->dot_port);
		l->doh = endpoint_of(c, v, "doh", p, &l->doh_address, &l->doh_port);
		l->plain_dns = bool_of(c, v, "plainDns", p, true);
		l->require_client_certificate = bool_of(c, v, "requireClientCertificate", p, false);
	}
}

const model_encrypted_listener_t *model_encrypted_listener(const model_emulator_t *em,
							  const char *name)
{
	for (size_t i = 0; i < em->n_encrypted; i++)
		if (!strcmp(em->encrypted[i].listener, name))
			return &em->encrypted[i];
	return NULL;
}

/* Does another explicit address (encrypted, or emulator.listeners) take a:p? */
static const char *taken_by(const model_emulator_t *em, size_t upto, uint32_t a, uint16_t p)
{
	for (size_t i = 0; i < em->n_listeners; i++)
		if (em->listeners[i].address == a && em->listeners[i].port == p)
			return em->listeners[i].listener;
	for (size_t i = 0; i < upto; i++) {
		const model_encrypted_listener_t *l = &em->encrypted[i];
		if ((l->dot && l->dot_port && l->dot_address == a && l->dot_port == p) ||
		    (l->doh && l->doh_port && l->doh_address == a && l->doh_port == p))
			return l->listener;
	}
	return NULL;
}

static void check_address(model_ctx_t *c, const model_encrypted_listener_t *l, size_t i,
			  const char *key, uint32_t a, uint16_t p)
{
	const model_emulator_t *em = &c->d->emulator;
	if (p == 0)
		return;
	const char *other = taken_by(em, i, a, p);
	bool self = !strcmp(key, "doh") && l->dot && l->dot_address == a && l->dot_port == p;
	char ip[16];
	if (other || self)
		model_report(c, l->origin.node, key, l->origin.path, "W-6", PR_EEXIST,
			     "%s:%u is already listener '%s'", pr_ipv4_format(a, ip), p,
			     self ? l->listener : other);
}

void model_validate_encrypted(model_ctx_t *c)
{
	const model_emulator_t *em = &c->d->emulator;
	for (size_t i = 0; i < em->n_encrypted; i++) {
		const model_encrypted_listener_t *l = &em->encrypted[i];
		const json_t *n = l->origin.node;
		const char *p = l->origin.path;
		if (!strncmp(l->listener, "external/", 9))
			model_report(c, n, NULL, p, "W-6", PR_ECONFIG,
				     "'%s': DNS over TLS and HTTPS are for inbound endpoints and "
				     "Azure DNS listeners, not external servers",
				     l->listener);
		else if (!listener_exists(c->d, l->listener))
			model_report(c, n, NULL, p, "W-6", PR_ENOTFOUND,
				     "no listener '%s'; listeners are <resolver>/<inbound "
				     "endpoint> and azure-dns/<virtual network>",
				     l->listener);
		if (!l->dot && !l->doh)
			model_report(c, n, NULL, p, "W-6", PR_ECONFIG,
				     "an encrypted listener needs dot, doh or both");
		if (l->require_client_certificate && em->tls && !em->tls->client_ca)
			model_report(c, n, "requireClientCertificate", p, "W-6", PR_ECONFIG,
				     "client certificates are required but emulator.tls has no "
				     "clientCa to verify them with");
		if (l->dot)
			check_address(c, l, i, "dot", l->dot_address, l->dot_port);
		if (l->doh)
			check_address(c, l, i, "doh", l->doh_address, l->doh_port);
	}
}
