/*
 * pbjson — the proto3 JSON mapping (protobuf.dev/programming-guides/json) for
 * any protobuf-c message, driven by its descriptor. This is how API resources
 * become the cloud-shaped JSON the model reads (design.md §5, §6), so field
 * names are exactly the cloud's camelCase ones.
 */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_p.h"
#include "base/base.h"

/* ---- names ---------------------------------------------------------------- */

char *pbjson_camel_name(const char *field_name)
{
	size_t n = strlen(field_name);
	char *out = pr_malloc(n + 1);
	size_t j = 0;
	bool upper = false;

	for (size_t i = 0; i < n; i++) {
		if (field_name[i] == '_') {
			upper = true;
			continue;
		}
		out[j++] = upper ? (char)toupper((unsigned char)field_name[i]) : field_name[i];
		upper = false;
	}
	out[j] = '\0';
	return out;
}

/* Does the camelCase form of name equal key? (no allocation on the lookup path) */
static bool camel_equals(const char *name, const char *key)
{
	bool upper = false;

	for (; *name; name++) {
		if (*name == '_') {
			upper = true;
			continue;
		}
		char c = upper ? (char)toupper((unsigned char)*name) : *name;
		if (c != *key)
			return false;
		key++;
		upper = false;
	}
	return *key == '\0';
}

/* ---- base64 (RFC 4648; proto3 JSON writes standard with padding, reads both
 * alphabets with or without padding) --------------------------------------- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const uint8_t *data, size_t len)
{
	char *out = pr_malloc((len + 2) / 3 * 4 + 1);
	size_t j = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		out[j++] = b64_alphabet[(v >> 18) & 63];
		out[j++] = b64_alphabet[(v >> 12) & 63];
		out[j++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[j++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[j] = '\0';
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static int base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
	while (len > 0 && text[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return PR_EPARSE;
	uint8_t *buf = pr_malloc(len / 4 * 3 + 3);
	size_t j = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		int v = b64_value(text[i]);
		if (v < 0) {
			free(buf);
			return PR_EPARSE;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[j++] = (uint8_t)(acc >> bits);
		}
	}
	*out = buf;
	*out_len = j;
	return 0;
}

/* ---- message -> JSON ------------------------------------------------------- */

static size_t element_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* A map field is a repeated message "<Field>Entry" of key = 1 and value = 2
 * (how protoc lowers map<K, V>; protobuf-c keeps no flag for it). */
static bool field_is_map(const ProtobufCFieldDescriptor *f)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	const ProtobufCMessageDescriptor *d = f->descriptor;
	if (d->n_fields != 2 || d->fields[0].id != 1 || d->fields[1].id != 2 ||
	    strcmp(d->fields[0].name, "key") != 0 || strcmp(d->fields[1].name, "value") != 0)
		return false;
	char *camel = pbjson_camel_name(f->name);
	camel[0] = (char)toupper((unsigned char)camel[0]);
	char *entry = pr_asprintf("%sEntry", camel);
	bool is_map = strcmp(entry, d->short_name) == 0;
	free(camel);
	free(entry);
	return is_map;
}

static json_t *float_json(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

static int value_to_json(const ProtobufCFieldDescriptor *f, const void *p, json_t **out);

static int message_to_json(const ProtobufCMessage *msg, json_t **out);

static int value_to_json(const ProtobufCFieldDescriptor *f, const void *p, json_t **out)
{
	json_t *j = NULL;
	char num[32];

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		j = json_integer(*(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		j = json_integer(*(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		/* proto3 JSON: 64-bit integers are strings (doubles would lose digits) */
		snprintf(num, sizeof(num), "%" PRId64, *(const int64_t *)p);
		j = json_string(num);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(num, sizeof(num), "%" PRIu64, *(const uint64_t *)p);
		j = json_string(num);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		j = float_json(*(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		j = float_json(*(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		j = json_boolean(*(const protobuf_c_boolean *)p);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		j = ev ? json_string(ev->name) : json_integer(v);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		j = json_string(s ? s : "");
		if (!j)
			return PR_EPARSE; /* not UTF-8: JSON cannot carry it */
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		char *text = base64_encode(b->data, b->len);
		j = json_string(text);
		free(text);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		if (!m) {
			j = json_object();
			break;
		}
		return message_to_json(m, out);
	}
	}
	if (!j)
		return -ENOMEM;
	*out = j;
	return 0;
}

/* Is a field of msg present in the proto3 sense (set, or not at its default)? */
static bool field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)msg;
	const void *p = base + f->offset;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)(base + f->quantifier_offset) > 0;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(ProtobufCMessage *const *)p != NULL;
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return true;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
		if (f->type == PROTOBUF_C_TYPE_STRING)
			return *(char *const *)p != NULL;
		return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
	}
	/* proto3 implicit presence: omitted at the type's default */
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return s && *s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len > 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p != 0 || signbit(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p != 0 || signbit(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)p;
	default: {
		size_t sz = element_size(f->type);
		static const uint8_t zero[8];
		return memcmp(p, zero, sz) != 0;
	}
	}
}

static int map_key_text(const ProtobufCFieldDescriptor *kf, const void *p, char **out)
{
	switch (kf->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		*out = pr_strdup(s ? s : "");
		return 0;
	}
	case PROTOBUF_C_TYPE_BOOL:
		*out = pr_strdup(*(const protobuf_c_boolean *)p ? "true" : "false");
		return 0;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		*out = pr_asprintf("%" PRId32, *(const int32_t *)p);
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		*out = pr_asprintf("%" PRIu32, *(const uint32_t *)p);
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		*out = pr_asprintf("%" PRId64, *(const int64_t *)p);
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*out = pr_asprintf("%" PRIu64, *(const uint64_t *)p);
		return 0;
	default:
		return PR_EPARSE; /* protoc allows no other key types */
	}
}

static int field_to_json(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
			 json_t **out)
{
	const char *base = (const char *)msg;
	const void *p = base + f->offset;
	json_t *result = NULL;
	char *key = NULL;
	int ret = 0;

	if (f->label != PROTOBUF_C_LABEL_REPEATED) {
		ret = value_to_json(f, p, out);
		goto cleanup;
	}
	size_t n = *(const size_t *)(base + f->quantifier_offset);
	const char *arr = *(char *const *)p;
	size_t sz = element_size(f->type);

	if (field_is_map(f)) {
		const ProtobufCMessageDescriptor *ed = f->descriptor;
		result = json_object();
		for (size_t i = 0; i < n; i++) {
			const ProtobufCMessage *entry = ((ProtobufCMessage *const *)arr)[i];
			json_t *v = NULL;
			if (!entry)
				continue;
			ret = map_key_text(&ed->fields[0], (const char *)entry + ed->fields[0].offset,
					   &key);
			if (ret < 0)
				goto cleanup;
			ret = value_to_json(&ed->fields[1],
					    (const char *)entry + ed->fields[1].offset, &v);
			if (ret < 0)
				goto cleanup;
			/* a key that is not UTF-8 can't be a JSON key: refuse, don't drop */
			if (json_object_set_new(result, key, v) != 0) {
				ret = PR_EPARSE;
				goto cleanup;
			}
			free(key);
			key = NULL;
		}
	} else {
		result = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *v = NULL;
			ret = value_to_json(f, arr + i * sz, &v);
			if (ret < 0)
				goto cleanup;
			json_array_append_new(result, v);
		}
	}
	*out = result;
	result = NULL;
cleanup:
	free(key);
	json_decref(result);
	return ret;
}

static int message_to_json(const ProtobufCMessage *msg, json_t **out)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	json_t *obj = json_object();
	int ret = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		json_t *v = NULL;
		if (!field_present(msg, f))
			continue;
		ret = field_to_json(msg, f, &v);
		if (ret < 0) {
			json_decref(obj);
			return ret;
		}
		char *name = pbjson_camel_name(f->name);
		json_object_set_new(obj, name, v);
		free(name);
	}
	*out = obj;
	return 0;
}

int pbjson_from_message(const ProtobufCMessage *msg, json_t **out)
{
	PR_REQUIRE(msg && out);
	return message_to_json(msg, out);
}

/* ---- JSON -> message ------------------------------------------------------- */

typedef struct parse_ctx {
	pr_buf_t path; /* "a.b[2].c" of the value being read, for errors */
	char *why;
} parse_ctx_t;

static int fail(parse_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(parse_ctx_t *c, const char *fmt, ...)
{
	pr_buf_t b = {0};
	va_list ap;

	if (c->why)
		return PR_EPARSE; /* the innermost error is the useful one */
	pr_buf_printf(&b, "%s: ", c->path.len ? c->path.data : "(message)");
	va_start(ap, fmt);
	pr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	c->why = pr_buf_take(&b);
	return PR_EPARSE;
}

static size_t path_push(parse_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t path_push(parse_ctx_t *c, const char *fmt, ...)
{
	size_t saved = c->path.len;
	va_list ap;

	va_start(ap, fmt);
	pr_buf_vprintf(&c->path, fmt, ap);
	va_end(ap);
	return saved;
}

static void path_pop(parse_ctx_t *c, size_t saved)
{
	c->path.len = saved;
	if (c->path.data)
		c->path.data[saved] = '\0';
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

/* An integer from a JSON number or string within [min, max] (signed) */
static int read_signed(parse_ctx_t *c, const json_t *j, int64_t min, int64_t max, int64_t *out)
{
	int64_t v;

	if (json_is_integer(j)) {
		v = json_integer_value(j);
	} else if (json_is_real(j)) {
		double d = json_real_value(j);
		if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
			return fail(c, "expected an integer, got %g", d);
		v = (int64_t)d;
	} else if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char *end = NULL;
		errno = 0;
		long long ll = strtoll(s, &end, 10);
		if (!*s || *end || errno || isspace((unsigned char)*s))
			return fail(c, "expected an integer, got \"%s\"", s);
		v = ll;
	} else {
		return fail(c, "expected an integer, got %s", json_kind(j));
	}
	if (v < min || v > max)
		return fail(c, "%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", v, min, max);
	*out = v;
	return 0;
}

static int read_unsigned(parse_ctx_t *c, const json_t *j, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (json_is_integer(j)) {
		if (json_integer_value(j) < 0)
			return fail(c, "expected an unsigned integer, got %" JSON_INTEGER_FORMAT,
				    json_integer_value(j));
		v = (uint64_t)json_integer_value(j);
	} else if (json_is_real(j)) {
		double d = json_real_value(j);
		if (d != floor(d) || d < 0 || d > 1.8e19)
			return fail(c, "expected an unsigned integer, got %g", d);
		v = (uint64_t)d;
	} else if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char *end = NULL;
		errno = 0;
		if (!isdigit((unsigned char)*s))
			return fail(c, "expected an unsigned integer, got \"%s\"", s);
		unsigned long long ull = strtoull(s, &end, 10);
		if (*end || errno)
			return fail(c, "expected an unsigned integer, got \"%s\"", s);
		v = ull;
	} else {
		return fail(c, "expected an unsigned integer, got %s", json_kind(j));
	}
	if (v > max)
		return fail(c, "%" PRIu64 " is out of range [0, %" PRIu64 "]", v, max);
	*out = v;
	return 0;
}

static int read_double(parse_ctx_t *c, const json_t *j, double *out)
{
	if (json_is_number(j)) {
		*out = json_number_value(j);
		return 0;
	}
	if (json_is_string(j)) {
		const char *s = json_string_value(j);
		char *end = NULL;
		if (strcmp(s, "NaN") == 0) {
			*out = NAN;
			return 0;
		}
		if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
			*out = s[0] == '-' ? -INFINITY : INFINITY;
			return 0;
		}
		double d = strtod(s, &end);
		if (*s && !*end && !isspace((unsigned char)*s)) {
			*out = d;
			return 0;
		}
		return fail(c, "expected a number, got \"%s\"", s);
	}
	return fail(c, "expected a number, got %s", json_kind(j));
}

static int message_from_json(parse_ctx_t *c, const ProtobufCMessageDescriptor *d, const json_t *j,
			     ProtobufCMessage **out);

/* A number of f's numeric type from j into p; 1 when f's type is not numeric. */
static int number_from_json(parse_ctx_t *c, const ProtobufCFieldDescriptor *f, const json_t *j,
			    void *p)
{
	int64_t s64;
	uint64_t u64;
	double d;
	int ret;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if ((ret = read_signed(c, j, INT32_MIN, INT32_MAX, &s64)) < 0)
			return ret;
		*(int32_t *)p = (int32_t)s64;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if ((ret = read_unsigned(c, j, UINT32_MAX, &u64)) < 0)
			return ret;
		*(uint32_t *)p = (uint32_t)u64;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if ((ret = read_signed(c, j, INT64_MIN, INT64_MAX, &s64)) < 0)
			return ret;
		*(int64_t *)p = s64;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if ((ret = read_unsigned(c, j, UINT64_MAX, &u64)) < 0)
			return ret;
		*(uint64_t *)p = u64;
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
		if ((ret = read_double(c, j, &d)) < 0)
			return ret;
		if (isfinite(d) && fabs(d) > 3.4028234663852886e38)
			return fail(c, "%g does not fit a float", d);
		*(float *)p = (float)d;
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		if ((ret = read_double(c, j, &d)) < 0)
			return ret;
		*(double *)p = d;
		return 0;
	default:
		return 1;
	}
}

/* An enum by its name, or by its number as proto3's JSON mapping allows. */
static int enum_from_json(parse_ctx_t *c, const ProtobufCEnumDescriptor *ed, const json_t *j,
			  int *out)
{
	int64_t s64;
	int ret;
	if (json_is_string(j)) {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(j));
		if (!ev) {
			pr_buf_t names = {0};
			for (unsigned i = 0; i < ed->n_values; i++)
				pr_buf_printf(&names, "%s%s", i ? ", " : "", ed->values[i].name);
			ret = fail(c, "\"%s\" is not one of %s", json_string_value(j),
				   names.data ? names.data : "(none)");
			pr_buf_free(&names);
			return ret;
		}
		*out = ev->value;
		return 0;
	}
	if (json_is_integer(j)) {
		if ((ret = read_signed(c, j, INT32_MIN, INT32_MAX, &s64)) < 0)
			return ret;
		*out = (int)s64;
		return 0;
	}
	return fail(c, "expected an enum name, got %s", json_kind(j));
}

static int string_from_json(parse_ctx_t *c, const ProtobufCFieldDescriptor *f, const json_t *j,
			    char **sp)
{
	if (!json_is_string(j))
		return fail(c, "expected a string, got %s", json_kind(j));
	/* C strings can't carry NUL; reject rather than truncate silently */
	if (strlen(json_string_value(j)) != json_string_length(j))
		return fail(c, "a NUL character is not allowed");
	if (*sp && *sp != f->default_value)
		free(*sp);
	*sp = pr_strdup(json_string_value(j));
	return 0;
}

static int bytes_from_json(parse_ctx_t *c, const json_t *j, ProtobufCBinaryData *b)
{
	uint8_t *data = NULL;
	size_t len = 0;
	if (!json_is_string(j))
		return fail(c, "expected a base64 string, got %s", json_kind(j));
	if (base64_decode(json_string_value(j), json_string_length(j), &data, &len) < 0)
		return fail(c, "not valid base64");
	free(b->data);
	b->data = data;
	b->len = len;
	return 0;
}

/* Read one value of f's type from j into p (an element or the field itself). */
static int value_from_json(parse_ctx_t *c, const ProtobufCFieldDescriptor *f, const json_t *j,
			   void *p)
{
	int ret = number_from_json(c, f, j, p);
	if (ret <= 0)
		return ret;
	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(j))
			return fail(c, "expected true or false, got %s", json_kind(j));
		*(protobuf_c_boolean *)p = json_is_true(j);
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		return enum_from_json(c, f->descriptor, j, p);
	case PROTOBUF_C_TYPE_STRING:
		return string_from_json(c, f, j, p);
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_from_json(c, j, p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage **mp = p;
		ProtobufCMessage *m = NULL;
		if ((ret = message_from_json(c, f->descriptor, j, &m)) < 0)
			return ret;
		if (*mp)
			protobuf_c_message_free_unpacked(*mp, NULL);
		*mp = m;
		return 0;
	}
	default:
		return fail(c, "unsupported field type");
	}
}

/* A map key from its JSON object key text. */
static int map_key_from_text(parse_ctx_t *c, const ProtobufCFieldDescriptor *kf, const char *key,
			     void *p)
{
	json_t *j = NULL;
	int ret;

	if (kf->type == PROTOBUF_C_TYPE_BOOL) {
		if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
			return fail(c, "map key \"%s\" is not true or false", key);
		*(protobuf_c_boolean *)p = key[0] == 't';
		return 0;
	}
	/* numbers and strings share the string path of value_from_json */
	j = json_string(key);
	if (!j)
		return fail(c, "map key is not UTF-8");
	ret = value_from_json(c, kf, j, p);
	json_decref(j);
	return ret;
}

static int repeated_from_json(parse_ctx_t *c, ProtobufCMessage *msg,
			      const ProtobufCFieldDescriptor *f, const json_t *j)
{
	char *base = (char *)msg;
	size_t *np = (size_t *)(base + f->quantifier_offset);
	void **arrp = (void **)(base + f->offset);
	size_t sz = element_size(f->type);
	size_t n;
	int ret = 0;

	if (field_is_map(f)) {
		const ProtobufCMessageDescriptor *ed = f->descriptor;
		const char *key;
		json_t *v;
		if (!json_is_object(j))
			return fail(c, "expected an object (a map), got %s", json_kind(j));
		n = json_object_size(j);
		/* the count covers the whole zeroed array at once, so that a failure
		 * half way leaves a message protobuf-c can free */
		*arrp = pr_calloc(n ? n : 1, sz);
		*np = n;
		size_t i = 0;
		json_object_foreach((json_t *)j, key, v) {
			ProtobufCMessage *entry = pr_malloc(ed->sizeof_message);
			protobuf_c_message_init(ed, entry);
			((ProtobufCMessage **)*arrp)[i++] = entry;
			size_t saved = path_push(c, "[\"%s\"]", key);
			ret = map_key_from_text(c, &ed->fields[0], key,
						(char *)entry + ed->fields[0].offset);
			if (ret == 0 && !json_is_null(v))
				ret = value_from_json(c, &ed->fields[1], v,
						      (char *)entry + ed->fields[1].offset);
			path_pop(c, saved);
			if (ret < 0)
				return ret;
		}
		return 0;
	}
	if (!json_is_array(j))
		return fail(c, "expected an array, got %s", json_kind(j));
	n = json_array_size(j);
	*arrp = pr_calloc(n ? n : 1, sz);
	*np = n;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(j, i);
		size_t saved = path_push(c, "[%zu]", i);
		if (json_is_null(e))
			ret = fail(c, "null is not allowed in a list");
		else
			ret = value_from_json(c, f, e, (char *)*arrp + i * sz);
		path_pop(c, saved);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
						  const char *key)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);

	if (f)
		return f;
	for (unsigned i = 0; i < d->n_fields; i++)
		if (camel_equals(d->fields[i].name, key))
			return &d->fields[i];
	return NULL;
}

/* A "did you mean" for an unknown key (style.md §12): the closest field by
 * its JSON name (pr_closest), copied into *buf (owned). */
static const char *near_field(const ProtobufCMessageDescriptor *d, const char *key, char **buf)
{
	char **camel = pr_calloc(d->n_fields + 1, sizeof(*camel));
	for (unsigned i = 0; i < d->n_fields; i++)
		camel[i] = pbjson_camel_name(d->fields[i].name);
	const char *best = pr_closest(key, (const char *const *)camel);
	*buf = best ? pr_strdup(best) : NULL;
	for (unsigned i = 0; i < d->n_fields; i++)
		free(camel[i]);
	free(camel);
	return *buf;
}

static int message_from_json(parse_ctx_t *c, const ProtobufCMessageDescriptor *d, const json_t *j,
			     ProtobufCMessage **out)
{
	ProtobufCMessage *msg = NULL;
	bool *seen = NULL;
	const char *key;
	json_t *v;
	int ret = 0;

	if (!json_is_object(j))
		return fail(c, "expected an object, got %s", json_kind(j));
	msg = pr_malloc(d->sizeof_message);
	protobuf_c_message_init(d, msg);
	seen = pr_calloc(d->n_fields ? d->n_fields : 1, sizeof(bool));

	json_object_foreach((json_t *)j, key, v) {
		const ProtobufCFieldDescriptor *f = find_field(d, key);
		size_t saved = path_push(c, "%s%s", c->path.len ? "." : "", key);
		if (!f) {
			char *hint = NULL;
			if (near_field(d, key, &hint))
				ret = fail(c, "unknown field of %s; did you mean \"%s\"?", d->name,
					   hint);
			else
				ret = fail(c, "unknown field of %s", d->name);
			free(hint);
			goto next;
		}
		unsigned idx = (unsigned)(f - d->fields);
		if (seen[idx]) {
			ret = fail(c, "field given twice (as \"%s\" and its other name)", key);
			goto next;
		}
		seen[idx] = true;
		if (json_is_null(v))
			goto next; /* proto3 JSON: null is the default */
		char *base = (char *)msg;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			ret = repeated_from_json(c, msg, f, v);
			goto next;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *casep = (uint32_t *)(base + f->quantifier_offset);
			if (*casep != 0 && *casep != f->id) {
				ret = fail(c, "another member of the same oneof is set already");
				goto next;
			}
			/* members share storage: start from zero before the first write */
			if (*casep == 0 && (f->type == PROTOBUF_C_TYPE_STRING ||
					    f->type == PROTOBUF_C_TYPE_MESSAGE))
				*(void **)(base + f->offset) = NULL;
			ret = value_from_json(c, f, v, base + f->offset);
			if (ret == 0)
				*casep = f->id;
			goto next;
		}
		ret = value_from_json(c, f, v, base + f->offset);
		if (ret == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL &&
		    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			*(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
next:
		path_pop(c, saved);
		if (ret < 0)
			goto cleanup;
	}
	*out = msg;
	msg = NULL;
cleanup:
	free(seen);
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
	return ret;
}

int pbjson_to_message(const ProtobufCMessageDescriptor *desc, const json_t *json,
		      ProtobufCMessage **out, char **why)
{
	parse_ctx_t c = {0};
	ProtobufCMessage *msg = NULL;

	PR_REQUIRE(desc && json && out);
	int ret = message_from_json(&c, desc, json, &msg);
	if (ret == 0)
		*out = msg;
	else if (why)
		*why = c.why ? c.why : pr_strdup("invalid message");
	if (ret == 0 || !why)
		free(c.why);
	pr_buf_free(&c.path);
	return ret;
}

void pbjson_filter(const ProtobufCMessageDescriptor *desc, json_t *obj)
{
	const char *key;
	json_t *v;
	void *tmp;

	if (!json_is_object(obj))
		return;
	json_object_foreach_safe(obj, tmp, key, v) {
		const ProtobufCFieldDescriptor *f = find_field(desc, key);
		if (!f) {
			json_object_del(obj, key);
			continue;
		}
		if (f->type != PROTOBUF_C_TYPE_MESSAGE || field_is_map(f))
			continue;
		if (json_is_array(v)) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e)
				pbjson_filter(f->descriptor, e);
		} else {
			pbjson_filter(f->descriptor, v);
		}
	}
}
