/* Expressions of hcl2json output: hcl2json keeps every expression as its
 * source text inside "${...}", so references, interpolation, conditionals and
 * the common functions are evaluated here over known values. Anything else
 * (for expressions, splats, unknown functions, data sources) is an error that
 * names what could not be resolved, never a silent empty value. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "terraform/terraform_p.h"

typedef struct parser {
	tf_import_t *imp;
	const tf_scope_t *scope;
	const char *s;
	size_t pos;
	char *err;
} parser_t;

static json_t *parse_expr(parser_t *p);
static json_t *parse_template(parser_t *p, char term, bool escapes);

static json_t *fail(parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *fail(parser_t *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tf_first_error(&p->err, fmt, ap);
	va_end(ap);
	return NULL;
}

static void skip_ws(parser_t *p)
{
	for (;;) {
		while (isspace((unsigned char)p->s[p->pos]))
			p->pos++;
		/* comments inside an expression (hcl2json keeps the source text) */
		if (p->s[p->pos] == '#' || (p->s[p->pos] == '/' && p->s[p->pos + 1] == '/')) {
			while (p->s[p->pos] && p->s[p->pos] != '\n')
				p->pos++;
			continue;
		}
		return;
	}
}

static bool eat(parser_t *p, const char *tok)
{
	skip_ws(p);
	size_t n = strlen(tok);
	if (strncmp(p->s + p->pos, tok, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static bool is_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

static char *ident(parser_t *p)
{
	skip_ws(p);
	if (!is_ident_start(p->s[p->pos]))
		return NULL;
	size_t b = p->pos;
	while (is_ident(p->s[p->pos]))
		p->pos++;
	return pr_strndup(p->s + b, p->pos - b);
}

/* ---- values ---------------------------------------------------------------- */

/* The text of a value in a template; NULL for what has none. */
static char *to_text(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return pr_strdup(json_string_value(v));
	case JSON_INTEGER: return pr_asprintf("%lld", (long long)json_integer_value(v));
	case JSON_REAL: {
		double d = json_real_value(v);
		if (d == floor(d) && fabs(d) < 1e15)
			return pr_asprintf("%lld", (long long)d);
		return pr_asprintf("%.17g", d);
	}
	case JSON_TRUE: return pr_strdup("true");
	case JSON_FALSE: return pr_strdup("false");
	default: return NULL;
	}
}

static bool to_number(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	if (json_is_string(v)) {
		char *end;
		const char *s = json_string_value(v);
		double d = strtod(s, &end);
		if (*s && !*end) {
			*out = d;
			return true;
		}
	}
	return false;
}

static json_t *number(double d)
{
	if (d == floor(d) && fabs(d) < 9e15)
		return json_integer((json_int_t)d);
	return json_real(d);
}

static bool truthy(parser_t *p, const json_t *v, bool *out)
{
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return true;
	}
	if (json_is_string(v) &&
	    (!strcmp(json_string_value(v), "true") || !strcmp(json_string_value(v), "false"))) {
		*out = !strcmp(json_string_value(v), "true");
		return true;
	}
	fail(p, "a condition must be a bool");
	return false;
}

/* Terraform compares numbers by value and everything else structurally. */
static bool values_equal(const json_t *a, const json_t *b)
{
	double x, y;
	if (json_is_number(a) && json_is_number(b) && to_number(a, &x) && to_number(b, &y))
		return x == y;
	return json_equal(a, b);
}

/* ---- functions --------------------------------------------------------------- */

static json_t *collection_values(const json_t *v)
{
	if (json_is_array(v))
		return json_incref((json_t *)v);
	json_t *out = json_array();
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)v, k, x) json_array_append(out, x);
	return out;
}

static bool parse_prefix(parser_t *p, const json_t *v, pr_prefix_t *out)
{
	const char *why = NULL;
	if (!json_is_string(v) || pr_prefix_parse(json_string_value(v), out, &why) != 0) {
		fail(p, "not an IPv4 prefix: %s", json_is_string(v) ? json_string_value(v) : "?");
		return false;
	}
	return true;
}

static json_t *call(parser_t *p, const char *fn, json_t **a, size_t n)
{
#define ARGS(k)                                                                                    \
	do {                                                                                       \
		if (n != (k))                                                                      \
			return fail(p, "%s() takes %d argument%s, not %zu", fn, (k),               \
				    (k) == 1 ? "" : "s", n);                                       \
	} while (0)
	char buf[16];
	if (!strcmp(fn, "tostring")) {
		ARGS(1);
		char *t = to_text(a[0]);
		if (!t)
			return fail(p, "tostring(): not a primitive value");
		json_t *r = json_string(t);
		free(t);
		return r;
	}
	if (!strcmp(fn, "tonumber")) {
		ARGS(1);
		double d;
		if (!to_number(a[0], &d))
			return fail(p, "tonumber(): not a number");
		return number(d);
	}
	if (!strcmp(fn, "tobool")) {
		ARGS(1);
		bool b;
		return truthy(p, a[0], &b) ? json_boolean(b) : NULL;
	}
	if (!strcmp(fn, "tolist") || !strcmp(fn, "toset") || !strcmp(fn, "distinct")) {
		ARGS(1);
		if (!json_is_array(a[0]))
			return fail(p, "%s(): not a list", fn);
		json_t *out = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(a[0], i, x)
		{
			bool seen = false;
			if (strcmp(fn, "tolist") != 0) /* sets and distinct drop duplicates */
				for (size_t j = 0; j < json_array_size(out) && !seen; j++)
					seen = json_equal(json_array_get(out, j), x);
			if (!seen)
				json_array_append(out, x);
		}
		return out;
	}
	if (!strcmp(fn, "tomap")) {
		ARGS(1);
		if (!json_is_object(a[0]))
			return fail(p, "tomap(): not an object");
		return json_incref(a[0]);
	}
	if (!strcmp(fn, "lower") || !strcmp(fn, "upper")) {
		ARGS(1);
		if (!json_is_string(a[0]))
			return fail(p, "%s(): not a string", fn);
		char *s = pr_strdup(json_string_value(a[0]));
		for (char *c = s; *c; c++)
			*c = (char)(fn[0] == 'l' ? tolower((unsigned char)*c)
						 : toupper((unsigned char)*c));
		json_t *r = json_string(s);
		free(s);
		return r;
	}
	if (!strcmp(fn, "length")) {
		ARGS(1);
		if (json_is_string(a[0]))
			return json_integer((json_int_t)strlen(json_string_value(a[0])));
		if (json_is_array(a[0]))
			return json_integer((json_int_t)json_array_size(a[0]));
		if (json_is_object(a[0]))
			return json_integer((json_int_t)json_object_size(a[0]));
		return fail(p, "length(): not a collection");
	}
	if (!strcmp(fn, "keys")) {
		ARGS(1);
		if (!json_is_object(a[0]))
			return fail(p, "keys(): not a map");
		json_t *out = json_array();
		const char *k;
		json_t *x;
		json_object_foreach(a[0], k, x) json_array_append_new(out, json_string(k));
		return out;
	}
	if (!strcmp(fn, "values")) {
		ARGS(1);
		if (!json_is_object(a[0]))
			return fail(p, "values(): not a map");
		return collection_values(a[0]);
	}
	if (!strcmp(fn, "concat")) {
		json_t *out = json_array();
		for (size_t i = 0; i < n; i++) {
			if (!json_is_array(a[i])) {
				json_decref(out);
				return fail(p, "concat(): argument %zu is not a list", i + 1);
			}
			json_array_extend(out, a[i]);
		}
		return out;
	}
	if (!strcmp(fn, "merge")) {
		json_t *out = json_object();
		for (size_t i = 0; i < n; i++) {
			if (!json_is_object(a[i])) {
				json_decref(out);
				return fail(p, "merge(): argument %zu is not a map", i + 1);
			}
			json_object_update(out, a[i]);
		}
		return out;
	}
	if (!strcmp(fn, "lookup")) {
		if (n != 2 && n != 3)
			return fail(p, "lookup() takes 2 or 3 arguments");
		if (!json_is_object(a[0]) || !json_is_string(a[1]))
			return fail(p, "lookup(): needs a map and a key");
		json_t *v = json_object_get(a[0], json_string_value(a[1]));
		if (v)
			return json_incref(v);
		if (n == 3)
			return json_incref(a[2]);
		return fail(p, "lookup(): no key \"%s\"", json_string_value(a[1]));
	}
	if (!strcmp(fn, "contains")) {
		ARGS(2);
		if (!json_is_array(a[0]))
			return fail(p, "contains(): not a list");
		size_t i;
		json_t *x;
		json_array_foreach(a[0], i, x) if (values_equal(x, a[1])) return json_true();
		return json_false();
	}
	if (!strcmp(fn, "element")) {
		ARGS(2);
		double d;
		if (!json_is_array(a[0]) || !json_array_size(a[0]) || !to_number(a[1], &d) || d < 0)
			return fail(p, "element(): needs a non-empty list and an index");
		return json_incref(json_array_get(a[0], (size_t)d % json_array_size(a[0])));
	}
	if (!strcmp(fn, "join")) {
		ARGS(2);
		if (!json_is_string(a[0]) || !json_is_array(a[1]))
			return fail(p, "join(): needs a separator and a list");
		pr_buf_t b = {0};
		pr_buf_append(&b, "", 0);
		size_t i;
		json_t *x;
		json_array_foreach(a[1], i, x)
		{
			char *t = to_text(x);
			if (!t) {
				pr_buf_free(&b);
				return fail(p, "join(): element %zu is not a string", i);
			}
			pr_buf_printf(&b, "%s%s", i ? json_string_value(a[0]) : "", t);
			free(t);
		}
		char *s = pr_buf_take(&b);
		json_t *r = json_string(s);
		free(s);
		return r;
	}
	if (!strcmp(fn, "format")) {
		if (n < 1 || !json_is_string(a[0]))
			return fail(p, "format(): needs a format string");
		const char *f = json_string_value(a[0]);
		pr_buf_t b = {0};
		pr_buf_append(&b, "", 0);
		size_t next = 1;
		for (; *f; f++) {
			if (*f != '%') {
				pr_buf_append(&b, f, 1);
				continue;
			}
			f++;
			if (*f == '%') {
				pr_buf_append(&b, "%", 1);
				continue;
			}
			if ((*f != 's' && *f != 'd' && *f != 'v') || next >= n) {
				pr_buf_free(&b);
				return fail(
					p, "format(): only %%s, %%d and %%v with enough arguments");
			}
			char *t = to_text(a[next++]);
			if (!t) {
				pr_buf_free(&b);
				return fail(p, "format(): argument %zu is not a primitive value",
					    next - 1);
			}
			pr_buf_printf(&b, "%s", t);
			free(t);
			if (!*f)
				break;
		}
		char *s = pr_buf_take(&b);
		json_t *r = json_string(s);
		free(s);
		return r;
	}
	if (!strcmp(fn, "cidrhost")) {
		ARGS(2);
		pr_prefix_t pf;
		double d;
		if (!parse_prefix(p, a[0], &pf))
			return NULL;
		if (!to_number(a[1], &d))
			return fail(p, "cidrhost(): host number is not a number");
		uint64_t size = 1ull << (32 - pf.len);
		long long h = (long long)d;
		if (h < 0)
			h += (long long)size;
		if (h < 0 || (uint64_t)h >= size)
			return fail(p, "cidrhost(): host %lld does not fit in /%u", (long long)d,
				    pf.len);
		return json_string(pr_ipv4_format(pf.addr + (uint32_t)h, buf));
	}
	if (!strcmp(fn, "cidrsubnet")) {
		ARGS(3);
		pr_prefix_t pf;
		double bits, num;
		if (!parse_prefix(p, a[0], &pf))
			return NULL;
		if (!to_number(a[1], &bits) || !to_number(a[2], &num) || bits < 0 ||
		    pf.len + bits > 32 || num < 0 || num >= (double)(1ull << (int)bits))
			return fail(p, "cidrsubnet(): bad newbits or netnum");
		int len = pf.len + (int)bits;
		uint32_t addr = pf.addr | (uint32_t)((uint64_t)num << (32 - len));
		char *t = pr_asprintf("%s/%d", pr_ipv4_format(addr, buf), len);
		json_t *r = json_string(t);
		free(t);
		return r;
	}
	if (!strcmp(fn, "jsonencode")) {
		ARGS(1);
		char *t = json_dumps(a[0], JSON_COMPACT | JSON_ENCODE_ANY);
		json_t *r = json_string(t ? t : "null");
		free(t);
		return r;
	}
	if (!strcmp(fn, "jsondecode")) {
		ARGS(1);
		json_error_t e;
		json_t *r = json_is_string(a[0])
				    ? json_loads(json_string_value(a[0]), JSON_DECODE_ANY, &e)
				    : NULL;
		return r ? r : fail(p, "jsondecode(): not JSON text");
	}
	return fail(p, "function %s() is not known to the importer", fn);
#undef ARGS
}

/* ---- expressions -------------------------------------------------------------- */

static json_t *index_value(parser_t *p, json_t *v, const json_t *key)
{
	json_t *r = NULL;
	double d;
	if (json_is_object(v)) {
		char *k = to_text(key);
		r = k ? json_object_get(v, k) : NULL;
		if (!r)
			fail(p, "no key \"%s\"", k ? k : "?");
		free(k);
	} else if (json_is_array(v) && to_number(key, &d)) {
		r = d >= 0 ? json_array_get(v, (size_t)d) : NULL;
		if (!r)
			fail(p, "index %g out of range", d);
	} else {
		fail(p, "cannot index this value");
	}
	if (r)
		json_incref(r);
	json_decref(v);
	return r;
}

/* .attr, [index] and function-free traversals after a primary value. */
static json_t *postfix(parser_t *p, json_t *v)
{
	while (v) {
		skip_ws(p);
		if (p->s[p->pos] == '.' && p->s[p->pos + 1] != '.') {
			p->pos++;
			if (p->s[p->pos] == '*')
				return json_decref(v),
				       fail(p, "splat expressions are not supported");
			skip_ws(p);
			if (isdigit((unsigned char)p->s[p->pos])) {
				/* legacy index: list.0 */
				size_t b = p->pos;
				while (isdigit((unsigned char)p->s[p->pos]))
					p->pos++;
				json_t *k = json_integer(atoll(p->s + b));
				v = index_value(p, v, k);
				json_decref(k);
				continue;
			}
			char *name = ident(p);
			if (!name)
				return json_decref(v), fail(p, "expected a name after '.'");
			json_t *k = json_string(name);
			free(name);
			v = index_value(p, v, k);
			json_decref(k);
		} else if (p->s[p->pos] == '[') {
			p->pos++;
			if (eat(p, "*"))
				return json_decref(v),
				       fail(p, "splat expressions are not supported");
			json_t *k = parse_expr(p);
			if (!k || !eat(p, "]")) {
				json_decref(k);
				json_decref(v);
				return fail(p, "expected ']'");
			}
			v = index_value(p, v, k);
			json_decref(k);
		} else {
			break;
		}
	}
	return v;
}

/* After module.NAME: an optional [key], then .OUTPUT. */
static const json_t *module_output(parser_t *p, const char *name, char **err)
{
	json_t *key = NULL;
	char *out = NULL;
	const json_t *v = NULL;
	skip_ws(p);
	if (p->s[p->pos] == '[') {
		p->pos++;
		key = parse_expr(p);
		if (!key || !eat(p, "]")) {
			json_decref(key);
			*err = pr_asprintf("module.%s[...]: expected ']'", name);
			return NULL;
		}
	}
	if (!eat(p, ".") || !(out = ident(p)))
		*err = pr_asprintf("module.%s: name one of its outputs (module.%s.OUTPUT)", name,
				   name);
	else
		v = tf_module_output(p->imp, name, key, out, err);
	free(out);
	json_decref(key);
	return v;
}

/* A name that starts a traversal: var., local., each., count., path., a
 * resource type, or a function call. */
static json_t *reference(parser_t *p, char *root)
{
	json_t *v = NULL;
	char *attr = NULL;
	if (eat(p, "(")) {
		json_t *args[16];
		size_t n = 0;
		bool ok = true;
		if (!eat(p, ")")) {
			do {
				json_t *a = n < 16 ? parse_expr(p) : NULL;
				if (!a) {
					ok = false;
					break;
				}
				args[n++] = a;
			} while (eat(p, ","));
			if (ok && !eat(p, ")")) {
				if (eat(p, "..."))
					fail(p, "argument expansion (...) is not supported");
				else
					fail(p, "expected ')' after the arguments of %s()", root);
				ok = false;
			}
		}
		if (ok)
			v = call(p, root, args, n);
		for (size_t i = 0; i < n; i++)
			json_decref(args[i]);
		free(root);
		return v;
	}
	if (!strcmp(root, "true") || !strcmp(root, "false")) {
		v = json_boolean(root[0] == 't');
		free(root);
		return v;
	}
	if (!strcmp(root, "null")) {
		free(root);
		return json_null();
	}
	if (!strcmp(root, "for")) {
		free(root);
		return fail(p, "for expressions are not supported");
	}
	if (!eat(p, ".") || !(attr = ident(p))) {
		fail(p, "'%s' alone is not a value", root);
		free(root);
		return NULL;
	}
	char *err = NULL;
	const json_t *b = NULL;
	const tf_scope_t *it = p->scope;
	while (it && (!it->iter_name || strcmp(it->iter_name, root) != 0))
		it = it->outer;
	if (it) {
		if (!strcmp(attr, "key"))
			b = it->iter_key;
		else if (!strcmp(attr, "value"))
			b = it->iter_value;
		else
			err = pr_asprintf("%s.%s: only %s.key and %s.value", root, attr, root,
					  root);
	} else if (!strcmp(root, "var")) {
		b = tf_var_value(p->imp, attr, &err);
	} else if (!strcmp(root, "local")) {
		b = tf_local_value(p->imp, attr, &err);
	} else if (!strcmp(root, "each")) {
		if (!p->scope || !p->scope->each_key)
			err = pr_strdup("each.* outside a resource with for_each");
		else if (!strcmp(attr, "key"))
			b = p->scope->each_key;
		else if (!strcmp(attr, "value"))
			b = p->scope->each_value;
		else
			err = pr_asprintf("each.%s: only each.key and each.value", attr);
	} else if (!strcmp(root, "count")) {
		if (!p->scope || !p->scope->has_count || strcmp(attr, "index") != 0)
			err = pr_strdup("count.index outside a resource with count");
		else
			v = json_integer(p->scope->count_index);
	} else if (!strcmp(root, "path")) {
		v = json_string(p->imp->dir ? p->imp->dir : ".");
	} else if (!strcmp(root, "terraform")) {
		if (!strcmp(attr, "workspace"))
			v = json_string("default");
		else
			err = pr_asprintf("terraform.%s is not known", attr);
	} else if (!strcmp(root, "data")) {
		char *name = eat(p, ".") ? ident(p) : NULL;
		char *key = pr_asprintf("%s.%s", attr, name ? name : "");
		const char *where = json_string_value(json_object_get(p->imp->data_blocks, key));
		err = pr_asprintf("data source data.%s (%s%s) is read from the cloud and can't be "
				  "resolved here; write its value in a variable",
				  key, where ? "declared at " : "not declared", where ? where : "");
		free(key);
		free(name);
	} else if (!strcmp(root, "module")) {
		b = module_output(p, attr, &err);
	} else {
		b = tf_resource_value(p->imp, root, attr, &err);
	}
	free(attr);
	free(root);
	if (err) {
		fail(p, "%s", err);
		free(err);
		return NULL;
	}
	if (!v)
		v = json_incref((json_t *)b);
	return v;
}

static json_t *parse_number(parser_t *p)
{
	char *end;
	double d = strtod(p->s + p->pos, &end);
	p->pos = (size_t)(end - p->s);
	return number(d);
}

static json_t *parse_primary(parser_t *p)
{
	skip_ws(p);
	char c = p->s[p->pos];
	json_t *v = NULL;
	if (c == '"') {
		p->pos++;
		v = parse_template(p, '"', true);
	} else if (isdigit((unsigned char)c)) {
		v = parse_number(p);
	} else if (c == '(') {
		p->pos++;
		v = parse_expr(p);
		if (v && !eat(p, ")")) {
			json_decref(v);
			return fail(p, "expected ')'");
		}
	} else if (c == '[') {
		p->pos++;
		skip_ws(p);
		if (!strncmp(p->s + p->pos, "for ", 4))
			return fail(p, "for expressions are not supported");
		v = json_array();
		if (!eat(p, "]")) {
			do {
				if (eat(p, "]"))
					return postfix(p, v); /* trailing comma */
				json_t *x = parse_expr(p);
				if (!x)
					return json_decref(v), NULL;
				json_array_append_new(v, x);
			} while (eat(p, ","));
			if (!eat(p, "]"))
				return json_decref(v), fail(p, "expected ']'");
		}
	} else if (c == '{') {
		p->pos++;
		skip_ws(p);
		if (!strncmp(p->s + p->pos, "for ", 4))
			return fail(p, "for expressions are not supported");
		v = json_object();
		while (!eat(p, "}")) {
			json_t *k;
			skip_ws(p);
			if (is_ident_start(p->s[p->pos])) {
				char *name = ident(p);
				k = json_string(name);
				free(name);
			} else {
				k = parse_primary(p);
			}
			char *kt = k ? to_text(k) : NULL;
			json_decref(k);
			if (!kt || !(eat(p, "=") || eat(p, ":"))) {
				free(kt);
				json_decref(v);
				return fail(p, "expected 'key = value' in an object");
			}
			json_t *x = parse_expr(p);
			if (!x) {
				free(kt);
				return json_decref(v), NULL;
			}
			json_object_set_new(v, kt, x);
			free(kt);
			eat(p, ",");
		}
	} else if (is_ident_start(c)) {
		v = reference(p, ident(p));
	} else {
		return fail(p, "unexpected '%c'", c ? c : ' ');
	}
	return postfix(p, v);
}

static json_t *parse_unary(parser_t *p)
{
	if (eat(p, "!")) {
		json_t *v = parse_unary(p);
		bool b;
		if (!v)
			return NULL;
		bool ok = truthy(p, v, &b);
		json_decref(v);
		return ok ? json_boolean(!b) : NULL;
	}
	skip_ws(p);
	if (p->s[p->pos] == '-' && !isdigit((unsigned char)p->s[p->pos + 1])) {
		p->pos++;
		json_t *v = parse_unary(p);
		double d;
		if (!v)
			return NULL;
		bool ok = to_number(v, &d);
		json_decref(v);
		return ok ? number(-d) : fail(p, "'-' needs a number");
	}
	if (p->s[p->pos] == '-') {
		p->pos++;
		json_t *v = parse_number(p);
		json_t *r = number(-json_number_value(v));
		json_decref(v);
		return postfix(p, r);
	}
	return parse_primary(p);
}

static json_t *arith(parser_t *p, json_t *a, json_t *b, char op)
{
	double x, y, r = 0;
	bool ok = a && b && to_number(a, &x) && to_number(b, &y);
	json_decref(a);
	json_decref(b);
	if (!ok)
		return p->err ? NULL : fail(p, "'%c' needs numbers", op);
	switch (op) {
	case '+': r = x + y; break;
	case '-': r = x - y; break;
	case '*': r = x * y; break;
	case '/':
		if (y == 0)
			return fail(p, "division by zero");
		r = x / y;
		break;
	case '%':
		if (y == 0)
			return fail(p, "division by zero");
		r = fmod(x, y);
		break;
	}
	return number(r);
}

static json_t *parse_mul(parser_t *p)
{
	json_t *v = parse_unary(p);
	while (v) {
		skip_ws(p);
		char op = p->s[p->pos];
		if (op != '*' && op != '/' && op != '%')
			break;
		p->pos++;
		v = arith(p, v, parse_unary(p), op);
	}
	return v;
}

static json_t *parse_add(parser_t *p)
{
	json_t *v = parse_mul(p);
	while (v) {
		skip_ws(p);
		char op = p->s[p->pos];
		if ((op != '+' && op != '-') || p->s[p->pos + 1] == '>')
			break;
		p->pos++;
		v = arith(p, v, parse_mul(p), op);
	}
	return v;
}

static json_t *parse_cmp(parser_t *p)
{
	json_t *v = parse_add(p);
	static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">"};
	while (v) {
		size_t i;
		for (i = 0; i < 6; i++)
			if (eat(p, ops[i]))
				break;
		if (i == 6)
			break;
		json_t *w = parse_add(p);
		if (!w)
			return json_decref(v), NULL;
		bool r;
		if (i < 2) {
			r = values_equal(v, w) == (i == 0);
		} else {
			double x, y;
			if (!to_number(v, &x) || !to_number(w, &y)) {
				json_decref(v);
				json_decref(w);
				return fail(p, "'%s' needs numbers", ops[i]);
			}
			r = i == 2 ? x <= y : i == 3 ? x >= y : i == 4 ? x < y : x > y;
		}
		json_decref(v);
		json_decref(w);
		v = json_boolean(r);
	}
	return v;
}

static json_t *parse_logic(parser_t *p, bool is_and)
{
	json_t *v = is_and ? parse_cmp(p) : parse_logic(p, true);
	while (v && eat(p, is_and ? "&&" : "||")) {
		json_t *w = is_and ? parse_cmp(p) : parse_logic(p, true);
		bool x, y;
		bool ok = w && truthy(p, v, &x) && truthy(p, w, &y);
		json_decref(v);
		json_decref(w);
		if (!ok)
			return NULL;
		v = json_boolean(is_and ? (x && y) : (x || y));
	}
	return v;
}

static json_t *parse_expr(parser_t *p)
{
	json_t *c = parse_logic(p, false);
	if (!c || !eat(p, "?"))
		return c;
	bool b;
	bool ok = truthy(p, c, &b);
	json_decref(c);
	if (!ok)
		return NULL;
	/* both arms are evaluated, as Terraform type-checks both */
	json_t *x = parse_expr(p);
	if (!x)
		return NULL;
	if (!eat(p, ":")) {
		json_decref(x);
		return fail(p, "expected ':' in a conditional");
	}
	json_t *y = parse_expr(p);
	if (!y)
		return json_decref(x), NULL;
	json_decref(b ? y : x);
	return b ? x : y;
}

/* A template up to term ('"' in a quoted string, '\0' for a whole hcl2json
 * string): literal text and ${...} interpolations; "$${" is a literal "${". */
static json_t *parse_template(parser_t *p, char term, bool escapes)
{
	pr_buf_t b = {0};
	pr_buf_append(&b, "", 0);
	for (;;) {
		char c = p->s[p->pos];
		if (c == term) {
			if (c)
				p->pos++;
			break;
		}
		if (!c) {
			pr_buf_free(&b);
			return fail(p, "unterminated string");
		}
		if (escapes && c == '\\') {
			char e = p->s[p->pos + 1];
			char o = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
			pr_buf_append(&b, &o, 1);
			p->pos += 2;
			continue;
		}
		if ((c == '$' || c == '%') && p->s[p->pos + 1] == c && p->s[p->pos + 2] == '{') {
			pr_buf_append(&b, p->s + p->pos + 1, 2);
			p->pos += 3;
			continue;
		}
		if (c == '%' && p->s[p->pos + 1] == '{') {
			pr_buf_free(&b);
			return fail(p, "template directives (%%{...}) are not supported");
		}
		if (c == '$' && p->s[p->pos + 1] == '{') {
			p->pos += 2;
			json_t *v = parse_expr(p);
			if (!v || !eat(p, "}")) {
				json_decref(v);
				pr_buf_free(&b);
				return p->err ? NULL
					      : fail(p, "expected '}' after an interpolation");
			}
			char *t = to_text(v);
			json_decref(v);
			if (!t) {
				pr_buf_free(&b);
				return fail(p,
					    "only strings, numbers and bools can be interpolated");
			}
			pr_buf_printf(&b, "%s", t);
			free(t);
			continue;
		}
		pr_buf_append(&b, &c, 1);
		p->pos++;
	}
	char *s = pr_buf_take(&b);
	json_t *r = json_string(s);
	free(s);
	return r;
}

/* An hcl2json string: a whole "${expr}" keeps the expression's type. */
static json_t *eval_string(tf_import_t *imp, const char *s, const tf_scope_t *scope, char **err)
{
	parser_t p = {.imp = imp, .scope = scope, .s = s};
	json_t *v = NULL;
	if (s[0] == '$' && s[1] == '{') {
		p.pos = 2;
		v = parse_expr(&p);
		if (v && eat(&p, "}")) {
			skip_ws(&p);
			if (!p.s[p.pos])
				goto cleanup;
		}
		json_decref(v);
		v = NULL;
		if (p.err)
			goto cleanup;
		p.pos = 0; /* "${a}-${b}": a template after all */
	}
	v = parse_template(&p, '\0', false);
cleanup:
	if (!v)
		*err = p.err ? p.err : pr_strdup("cannot evaluate");
	else
		free(p.err);
	return v;
}

json_t *tf_eval_expr_text(tf_import_t *imp, const char *text, const tf_scope_t *scope, char **err)
{
	parser_t p = {.imp = imp, .scope = scope, .s = text};
	json_t *v = parse_expr(&p);
	skip_ws(&p);
	if (v && p.s[p.pos]) {
		json_decref(v);
		v = fail(&p, "unexpected text after the expression: %s", p.s + p.pos);
	}
	if (!v)
		*err = p.err ? p.err : pr_strdup("cannot evaluate");
	return v;
}

/* dynamic "name" { for_each, iterator, content {...} }: one block per
 * element, appended to out[name] after the static blocks of that name. */
static bool expand_dynamic(tf_import_t *imp, const json_t *dyn, const tf_scope_t *scope,
			   json_t *out, char **err)
{
	const char *name;
	json_t *specs;
	json_object_foreach((json_t *)dyn, name, specs)
	{
		size_t i;
		json_t *spec;
		json_array_foreach(specs, i, spec)
		{
			json_t *coll = tf_eval(imp, json_object_get(spec, "for_each"), scope, err);
			if (!coll)
				return false;
			const char *iter = json_string_value(json_object_get(spec, "iterator"));
			char *iname =
				iter ? pr_strndup(iter + (strncmp(iter, "${", 2) ? 0 : 2),
						  strcspn(iter + (strncmp(iter, "${", 2) ? 0 : 2),
							  "}"))
				     : pr_strdup(name);
			const json_t *content = json_array_get(json_object_get(spec, "content"), 0);
			json_t *list = json_object_get(out, name);
			if (!list) {
				list = json_array();
				json_object_set_new(out, name, list);
			}
			bool ok = json_is_object(coll) || json_is_array(coll);
			if (!ok)
				*err = pr_asprintf("dynamic \"%s\": for_each needs a collection",
						   name);
			const char *k;
			json_t *x;
			size_t j;
			tf_scope_t s = scope ? *scope : (tf_scope_t){0};
			s.iter_name = iname;
			s.outer = scope;
			if (json_is_object(coll)) {
				json_object_foreach(coll, k, x)
				{
					json_t *key = json_string(k);
					s.iter_key = key;
					s.iter_value = x;
					json_t *e = ok ? tf_eval(imp, content, &s, err) : NULL;
					json_decref(key);
					if (!e) {
						ok = false;
						break;
					}
					json_array_append_new(list, e);
				}
			} else if (json_is_array(coll)) {
				json_array_foreach(coll, j, x)
				{
					json_t *key = json_integer((json_int_t)j);
					s.iter_key = key;
					s.iter_value = x;
					json_t *e = ok ? tf_eval(imp, content, &s, err) : NULL;
					json_decref(key);
					if (!e) {
						ok = false;
						break;
					}
					json_array_append_new(list, e);
				}
			}
			free(iname);
			json_decref(coll);
			if (!ok)
				return false;
		}
	}
	return true;
}

json_t *tf_eval(tf_import_t *imp, const json_t *v, const tf_scope_t *scope, char **err)
{
	if (json_is_string(v))
		return eval_string(imp, json_string_value(v), scope, err);
	if (json_is_array(v)) {
		json_t *out = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			json_t *e = tf_eval(imp, x, scope, err);
			if (!e)
				return json_decref(out), NULL;
			json_array_append_new(out, e);
		}
		return out;
	}
	if (json_is_object(v)) {
		json_t *out = json_object();
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
		{
			if (!strcmp(k, "dynamic") && json_is_object(x)) {
				if (!expand_dynamic(imp, x, scope, out, err))
					return json_decref(out), NULL;
				continue;
			}
			json_t *e = tf_eval(imp, x, scope, err);
			if (!e)
				return json_decref(out), NULL;
			json_object_set_new(out, k, e);
		}
		return out;
	}
	return json_deep_copy(v);
}
