/* ARM template expressions ("[concat(parameters('a'), '-x')]"): a small
 * recursive-descent evaluator over known values. A function it does not know
 * is an error naming it; the caller adds the JSON path. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "terraform/arm_p.h"
#include "terraform/terraform_p.h"

typedef struct ep {
	arm_t *arm;
	const char *s;
	size_t pos;
	char *err;
} ep_t;

static json_t *expr(ep_t *p);

static json_t *efail(ep_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *efail(ep_t *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tf_first_error(&p->err, fmt, ap);
	va_end(ap);
	return NULL;
}

static void ws(ep_t *p)
{
	while (isspace((unsigned char)p->s[p->pos]))
		p->pos++;
}

static bool eat(ep_t *p, char c)
{
	ws(p);
	if (p->s[p->pos] != c)
		return false;
	p->pos++;
	return true;
}

const json_t *arm_iget(const json_t *o, const char *key)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) if (!strcasecmp(k, key)) return v;
	return NULL;
}

static char *text_of(const json_t *v)
{
	if (json_is_string(v))
		return pr_strdup(json_string_value(v));
	if (json_is_integer(v))
		return pr_asprintf("%lld", (long long)json_integer_value(v));
	if (json_is_boolean(v))
		return pr_strdup(json_is_true(v) ? "True" : "False");
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static json_t *str_new(char *owned)
{
	json_t *r = json_string(owned);
	free(owned);
	return r;
}

/* uniqueString/guid: deterministic, from the arguments' text (**[privres]**). */
static uint64_t hash_args(json_t **a, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		char *t = text_of(a[i]);
		for (const char *c = t; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;
		free(t);
	}
	return h;
}

static json_t *resource_id(ep_t *p, json_t **a, size_t n)
{
	size_t i = 0;
	const char *sub = p->arm->subscription, *rg = p->arm->resource_group;
	/* optional subscription id and resource group before the type */
	if (n >= 2 && json_is_string(a[0]) && !strchr(json_string_value(a[0]), '/') &&
	    json_is_string(a[1]) && strchr(json_string_value(a[1]), '/')) {
		rg = json_string_value(a[0]);
		i = 1;
	} else if (n >= 3 && json_is_string(a[1]) && !strchr(json_string_value(a[1]), '/') &&
		   json_is_string(a[2]) && strchr(json_string_value(a[2]), '/')) {
		sub = json_string_value(a[0]);
		rg = json_string_value(a[1]);
		i = 2;
	}
	if (i >= n || !json_is_string(a[i]))
		return efail(p, "resourceId(): needs a resource type");
	char *type = pr_strdup(json_string_value(a[i]));
	char *ns = pr_strndup(type, strcspn(type, "/"));
	pr_buf_t b = {0};
	pr_buf_printf(&b, "/subscriptions/%s/resourceGroups/%s/providers/%s", sub, rg, ns);
	char *save = NULL;
	size_t k = i + 1;
	for (char *t = strtok_r(type + strlen(ns), "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		char *name = k < n ? text_of(a[k]) : NULL;
		if (!name) {
			/* t points into type: the message first, then the frees */
			json_t *err = efail(p, "resourceId(): a name is missing for %s", t);
			free(type);
			free(ns);
			pr_buf_free(&b);
			return err;
		}
		pr_buf_printf(&b, "/%s/%s", t, name);
		free(name);
		k++;
	}
	free(type);
	free(ns);
	return str_new(pr_buf_take(&b));
}

/* The id of a resource of the template of full type and name (borrowed
 * strings): "Microsoft.Network/privateDnsZones/A" + "corp.example/web". */
static char *declared_id(const arm_t *arm, const char *type, const char *name)
{
	char *t = pr_strdup(type), *nm = pr_strdup(name), *st = NULL, *sn = NULL;
	pr_buf_t b = {0};
	char *ns = strtok_r(t, "/", &st), *seg = strtok_r(NULL, "/", &st);
	pr_buf_printf(&b, "/subscriptions/%s/resourceGroups/%s/providers/%s", arm->subscription,
		      arm->resource_group, ns ? ns : "");
	for (char *n = strtok_r(nm, "/", &sn); seg && n;
	     seg = strtok_r(NULL, "/", &st), n = strtok_r(NULL, "/", &sn))
		pr_buf_printf(&b, "/%s/%s", seg, n);
	free(t);
	free(nm);
	return pr_buf_take(&b);
}

static json_t *find_declared(ep_t *p, const json_t *list, const char *ptype, const char *pname,
			     const char *want);

/* Resource r (borrowed) of the template, under ptype/pname when nested, if its
 * id or name is want, evaluated at the current copy index: {id, name, type,
 * raw, copyIndex}; then its nested resources. NULL when neither is. */
static json_t *match_declared(ep_t *p, const json_t *r, const char *ptype, const char *pname,
			      const char *want)
{
	char *e1 = NULL, *e2 = NULL;
	json_t *type = arm_eval_string(p->arm, json_string_value(arm_iget(r, "type")) ?: "", &e1);
	json_t *name = arm_eval_string(p->arm, json_string_value(arm_iget(r, "name")) ?: "", &e2);
	free(e1);
	free(e2);
	const char *t = json_string_value(type), *n = json_string_value(name);
	json_t *found = NULL;
	if (t && n && *t && *n) {
		char *ft = ptype && !strchr(t, '.') ? pr_asprintf("%s/%s", ptype, t) : pr_strdup(t);
		char *fn = pname && !strchr(n, '/') ? pr_asprintf("%s/%s", pname, n) : pr_strdup(n);
		char *id = declared_id(p->arm, ft, fn);
		if (!strcasecmp(id, want) || !strcasecmp(fn, want))
			found = json_pack("{s:s, s:s, s:s, s:O, s:I}", "id", id, "name", fn, "type",
					  ft, "raw", r, "copyIndex",
					  (json_int_t)p->arm->copy_index);
		else
			found = find_declared(p, arm_iget(r, "resources"), ft, fn, want);
		free(id);
		free(ft);
		free(fn);
	}
	json_decref(type);
	json_decref(name);
	return found;
}

/* Resource r, or with a copy loop each of its instances in turn (ARM names
 * the instance by its evaluated name, as resourceId() does). */
static json_t *match_copies(ep_t *p, const json_t *r, const char *ptype, const char *pname,
			    const char *want)
{
	const json_t *copy = arm_iget(r, "copy");
	if (!copy)
		return match_declared(p, r, ptype, pname, want);
	const json_t *c = arm_iget(copy, "count");
	char *err = NULL;
	json_t *count = json_is_string(c) ? arm_eval_string(p->arm, json_string_value(c), &err)
					  : json_incref((json_t *)c);
	free(err);
	json_t *found = NULL;
	long saved = p->arm->copy_index;
	json_int_t n = json_is_integer(count) ? json_integer_value(count) : 0;
	for (json_int_t i = 0; i < n && i < ARM_COPY_MAX && !found; i++) {
		p->arm->copy_index = (long)i;
		found = match_declared(p, r, ptype, pname, want);
	}
	p->arm->copy_index = saved;
	json_decref(count);
	return found;
}

/* reference(): the resource of the template named by want, an id or a name
 * (an instance of a copy loop too): {id, name, type, raw, copyIndex}. What
 * only a deployment knows is not there. */
static json_t *find_declared(ep_t *p, const json_t *list, const char *ptype, const char *pname,
			     const char *want)
{
	size_t i;
	json_t *r, *found = NULL;
	long saved = p->arm->copy_index;
	json_array_foreach((json_t *)list, i, r) {
		if (found)
			break;
		/* a top-level resource outside a loop has no copy index; a nested
		 * one shares its parent's */
		if (!ptype)
			p->arm->copy_index = -1;
		found = match_copies(p, r, ptype, pname, want);
	}
	p->arm->copy_index = saved;
	return found;
}

static json_t *reference_fn(ep_t *p, json_t **a, size_t n)
{
	if (n < 1 || n > 3 || !json_is_string(a[0]))
		return efail(p, "reference(): a resource id or name");
	const char *want = json_string_value(a[0]);
	bool full = n == 3 && json_is_string(a[2]) && !strcasecmp(json_string_value(a[2]), "Full");
	char *key = pr_asprintf("reference(%s)", want);
	if (json_object_get(p->arm->resolving, key)) {
		free(key);
		return efail(p, "reference(): %s refers to itself", want);
	}
	/* marked first: a name that calls reference() is met while searching */
	json_object_set_new(p->arm->resolving, key, json_true());
	json_t *d = find_declared(p, arm_iget(p->arm->template, "resources"), NULL, NULL, want);
	if (!d) {
		json_object_del(p->arm->resolving, key);
		free(key);
		return efail(p, "reference(): %s is not a resource of the template", want);
	}
	/* its properties as that instance of its loop declares them */
	long saved = p->arm->copy_index;
	p->arm->copy_index = (long)json_integer_value(json_object_get(d, "copyIndex"));
	pr_diag_t *diag = pr_diag_new();
	int failed = 0;
	const json_t *raw = json_object_get(d, "raw");
	json_t *empty = json_object();
	const json_t *declared = arm_iget(raw, "properties");
	json_t *props = arm_eval(p->arm, declared ? declared : empty, "properties", diag, &failed);
	json_decref(empty);
	json_object_del(p->arm->resolving, key);
	free(key);
	json_t *out = NULL;
	if (failed || !props) {
		char *t = pr_diag_format(diag);
		efail(p, "reference(%s): %s", want, t);
		free(t);
	} else if (full) {
		out = json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(d, "id"), "name",
				json_object_get(d, "name"), "type", json_object_get(d, "type"),
				"properties", props);
		const json_t *loc = arm_iget(raw, "location");
		if (json_is_string(loc)) {
			char *e = NULL;
			json_t *l = arm_eval_string(p->arm, json_string_value(loc), &e);
			if (l)
				json_object_set_new(out, "location", l);
			free(e);
		}
	} else {
		out = json_incref(props);
	}
	p->arm->copy_index = saved;
	json_decref(props);
	json_decref(d);
	pr_diag_destroy(&diag);
	return out;
}

static json_t *format_fn(ep_t *p, json_t **a, size_t n)
{
	if (n < 1 || !json_is_string(a[0]))
		return efail(p, "format(): needs a format string");
	pr_buf_t b = {0};
	pr_buf_append(&b, "", 0);
	for (const char *f = json_string_value(a[0]); *f; f++) {
		if (*f == '{' && isdigit((unsigned char)f[1])) {
			size_t idx = (size_t)strtoul(f + 1, (char **)&f, 10) + 1;
			while (*f && *f != '}')
				f++;
			if (idx >= n) {
				pr_buf_free(&b);
				return efail(p, "format(): no argument {%zu}", idx - 1);
			}
			char *t = text_of(a[idx]);
			pr_buf_printf(&b, "%s", t);
			free(t);
			if (!*f)
				break;
		} else {
			pr_buf_append(&b, f, 1);
		}
	}
	return str_new(pr_buf_take(&b));
}

static json_t *call(ep_t *p, const char *fn, json_t **a, size_t n)
{
	arm_t *arm = p->arm;
	if (!strcasecmp(fn, "parameters") || !strcasecmp(fn, "variables")) {
		if (n != 1 || !json_is_string(a[0]))
			return efail(p, "%s(): needs a name", fn);
		bool par = tolower((unsigned char)fn[0]) == 'p';
		const json_t *v = par ? arm_iget(arm->params, json_string_value(a[0]))
				      : arm_variable(arm, json_string_value(a[0]), &p->err);
		if (!v && !p->err)
			return efail(p, "%s '%s' is not %s", par ? "parameter" : "variable",
				     json_string_value(a[0]), par ? "given" : "declared");
		return v ? json_incref((json_t *)v) : NULL;
	}
	if (!strcasecmp(fn, "resourceGroup"))
		return json_pack("{s:s, s:s, s:s++}", "name", arm->resource_group, "location",
				 arm->location, "id", "/subscriptions/", arm->subscription,
				 "/resourceGroups/");
	if (!strcasecmp(fn, "subscription"))
		return json_pack("{s:s, s:s+}", "subscriptionId", arm->subscription, "id",
				 "/subscriptions/", arm->subscription);
	if (!strcasecmp(fn, "resourceId"))
		return resource_id(p, a, n);
	if (!strcasecmp(fn, "format"))
		return format_fn(p, a, n);
	if (!strcasecmp(fn, "reference"))
		return reference_fn(p, a, n);
	if (!strcasecmp(fn, "concat")) {
		bool lists = n && json_is_array(a[0]);
		json_t *out = lists ? json_array() : NULL;
		pr_buf_t b = {0};
		pr_buf_append(&b, "", 0);
		for (size_t i = 0; i < n; i++) {
			if (lists) {
				json_array_extend(out, a[i]);
				continue;
			}
			char *t = text_of(a[i]);
			pr_buf_printf(&b, "%s", t);
			free(t);
		}
		if (lists) {
			pr_buf_free(&b);
			return out;
		}
		return str_new(pr_buf_take(&b));
	}
	if (!strcasecmp(fn, "toLower") || !strcasecmp(fn, "toUpper")) {
		if (n != 1 || !json_is_string(a[0]))
			return efail(p, "%s(): needs a string", fn);
		char *s = pr_strdup(json_string_value(a[0]));
		for (char *c = s; *c; c++)
			*c = (char)(tolower((unsigned char)fn[2]) == 'l' ? tolower((unsigned char)*c)
									 : toupper((unsigned char)*c));
		return str_new(s);
	}
	if (!strcasecmp(fn, "string"))
		return n == 1 ? str_new(text_of(a[0])) : efail(p, "string(): one argument");
	if (!strcasecmp(fn, "equals"))
		return n == 2 ? json_boolean(json_equal(a[0], a[1])) : efail(p, "equals(): two");
	if (!strcasecmp(fn, "not"))
		return n == 1 && json_is_boolean(a[0]) ? json_boolean(!json_is_true(a[0]))
						       : efail(p, "not(): one boolean");
	if (!strcasecmp(fn, "if"))
		return n == 3 && json_is_boolean(a[0])
			       ? json_incref(json_is_true(a[0]) ? a[1] : a[2])
			       : efail(p, "if(): a condition and two values");
	if (!strcasecmp(fn, "length")) {
		if (n == 1 && json_is_string(a[0]))
			return json_integer((json_int_t)strlen(json_string_value(a[0])));
		if (n == 1 && json_is_array(a[0]))
			return json_integer((json_int_t)json_array_size(a[0]));
		if (n == 1 && json_is_object(a[0]))
			return json_integer((json_int_t)json_object_size(a[0]));
		return efail(p, "length(): one string, array or object");
	}
	if (!strcasecmp(fn, "copyIndex")) {
		json_int_t off = n >= 1 && json_is_integer(a[n - 1]) ? json_integer_value(a[n - 1]) : 0;
		if (arm->copy_index < 0)
			return efail(p, "copyIndex() outside a copy loop");
		json_int_t at;
		if (__builtin_add_overflow(arm->copy_index, off, &at))
			return efail(p, "copyIndex(): the offset is out of range");
		return json_integer(at);
	}
	if (!strcasecmp(fn, "uniqueString")) {
		static const char al[] = "abcdefghijklmnopqrstuvwxyz234567";
		uint64_t h = hash_args(a, n);
		char s[14];
		for (int i = 0; i < 13; i++, h = h * 6364136223846793005ull + 1)
			s[i] = al[(h >> 59) & 31];
		s[13] = '\0';
		return json_string(s);
	}
	if (!strcasecmp(fn, "guid")) {
		uint64_t h = hash_args(a, n), g = h * 0x9E3779B97F4A7C15ull;
		char s[40];
		snprintf(s, sizeof(s), "%08x-%04x-5%03x-a%03x-%012llx", (unsigned)(h >> 32),
			 (unsigned)(h >> 16) & 0xffff, (unsigned)h & 0xfff,
			 (unsigned)(g >> 52) & 0xfff, (unsigned long long)g & 0xffffffffffffull);
		return json_string(s);
	}
	return efail(p, "function %s() is not supported by the importer", fn);
}

static json_t *postfix(ep_t *p, json_t *v)
{
	while (v) {
		ws(p);
		if (p->s[p->pos] == '.') {
			p->pos++;
			size_t b = p->pos;
			while (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_')
				p->pos++;
			char *k = pr_strndup(p->s + b, p->pos - b);
			const json_t *x = arm_iget(v, k);
			if (!x)
				efail(p, "no property '%s'", k);
			free(k);
			json_t *r = x ? json_incref((json_t *)x) : NULL;
			json_decref(v);
			v = r;
		} else if (p->s[p->pos] == '[') {
			p->pos++;
			json_t *k = expr(p);
			json_t *r = NULL;
			if (k && eat(p, ']')) {
				if (json_is_integer(k))
					r = json_array_get(v, (size_t)json_integer_value(k));
				else if (json_is_string(k))
					r = (json_t *)arm_iget(v, json_string_value(k));
				if (!r)
					efail(p, "no such element");
			} else {
				efail(p, "expected ']'");
			}
			json_decref(k);
			if (r)
				json_incref(r);
			json_decref(v);
			v = r;
		} else {
			break;
		}
	}
	return v;
}

static json_t *expr(ep_t *p)
{
	ws(p);
	char c = p->s[p->pos];
	if (c == '\'') {
		pr_buf_t b = {0};
		pr_buf_append(&b, "", 0);
		for (p->pos++;; p->pos++) {
			if (!p->s[p->pos]) {
				pr_buf_free(&b);
				return efail(p, "unterminated string");
			}
			if (p->s[p->pos] == '\'') {
				if (p->s[p->pos + 1] != '\'')
					break;
				p->pos++; /* '' is a quote */
			}
			pr_buf_append(&b, p->s + p->pos, 1);
		}
		p->pos++;
		return postfix(p, str_new(pr_buf_take(&b)));
	}
	if (isdigit((unsigned char)c) || c == '-') {
		char *end;
		long long v = strtoll(p->s + p->pos, &end, 10);
		p->pos = (size_t)(end - p->s);
		return json_integer(v);
	}
	if (!isalpha((unsigned char)c))
		return efail(p, "unexpected '%c'", c ? c : ' ');
	size_t b = p->pos;
	while (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_')
		p->pos++;
	char *fn = pr_strndup(p->s + b, p->pos - b);
	if (!strcasecmp(fn, "true") || !strcasecmp(fn, "false")) {
		json_t *r = json_boolean(tolower((unsigned char)fn[0]) == 't');
		free(fn);
		return r;
	}
	if (!eat(p, '(')) {
		free(fn);
		return efail(p, "expected '(' after a function name");
	}
	json_t *a[16];
	size_t n = 0;
	bool ok = true;
	if (!eat(p, ')')) {
		do {
			json_t *x = n < 16 ? expr(p) : NULL;
			if (!x) {
				ok = false;
				break;
			}
			a[n++] = x;
		} while (eat(p, ','));
		if (ok && !eat(p, ')')) {
			efail(p, "expected ')' after the arguments of %s()", fn);
			ok = false;
		}
	}
	json_t *r = ok ? call(p, fn, a, n) : NULL;
	for (size_t i = 0; i < n; i++)
		json_decref(a[i]);
	free(fn);
	return postfix(p, r);
}

json_t *arm_eval_string(arm_t *arm, const char *s, char **err)
{
	size_t len = strlen(s);
	if (len < 2 || s[0] != '[' || s[len - 1] != ']')
		return json_string(s);
	if (s[1] == '[') /* "[[" escapes a literal '[' */
		return json_string(s + 1);
	char *body = pr_strndup(s + 1, len - 2);
	ep_t p = {.arm = arm, .s = body};
	json_t *v = expr(&p);
	ws(&p);
	if (v && p.s[p.pos]) {
		json_decref(v);
		v = efail(&p, "unexpected text after the expression: %s", p.s + p.pos);
	}
	free(body);
	*err = v ? NULL : (p.err ? p.err : pr_strdup("could not be evaluated"));
	if (v)
		free(p.err);
	return v;
}

json_t *arm_eval(arm_t *arm, const json_t *v, const char *path, pr_diag_t *diag, int *failed)
{
	if (json_is_string(v)) {
		char *err = NULL;
		json_t *r = arm_eval_string(arm, json_string_value(v), &err);
		if (!r) {
			pr_diag_add(diag, arm->file, 0, 0, path, NULL, PR_ECONFIG, "%s", err);
			(*failed)++;
			free(err);
			r = json_null();
		}
		return r;
	}
	if (json_is_array(v)) {
		json_t *out = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			char *pp = pr_asprintf("%s[%zu]", path, i);
			json_array_append_new(out, arm_eval(arm, x, pp, diag, failed));
			free(pp);
		}
		return out;
	}
	if (json_is_object(v)) {
		json_t *out = json_object();
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
		{
			char *pp = pr_asprintf("%s.%s", path, k);
			json_object_set_new(out, k, arm_eval(arm, x, pp, diag, failed));
			free(pp);
		}
		return out;
	}
	return json_incref((json_t *)v);
}
