/* YAML (and JSON, which is YAML) into a JSON document that remembers where
 * every node stood, so errors can name file:line:column (style.md §12). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "model/model_p.h"

struct mark_slot {
	const json_t *node;
	int line, column;
};

struct model_marks {
	struct mark_slot *slots;
	size_t cap, n;
};

/* expected: how many nodes will be marked, so that a large document's table
 * is sized once instead of doubled (each doubling faults in fresh pages). */
model_marks_t *marks_new(size_t expected)
{
	model_marks_t *m = pr_calloc(1, sizeof(*m));
	m->cap = 256;
	while (m->cap < 2 * expected && m->cap < ((size_t)1 << 28))
		m->cap *= 2;
	m->slots = pr_calloc(m->cap, sizeof(*m->slots));
	return m;
}

void marks_destroy(model_marks_t **mp)
{
	if (!mp || !*mp)
		return;
	free((*mp)->slots);
	free(*mp);
	*mp = NULL;
}

static size_t slot_of(const model_marks_t *m, const json_t *node)
{
	uintptr_t h = (uintptr_t)node;
	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 7) & (m->cap - 1);
}

void marks_put(model_marks_t *m, const json_t *node, int line, int column)
{
	if (2 * (m->n + 1) > m->cap) {
		model_marks_t big = {.cap = m->cap * 2};
		big.slots = pr_calloc(big.cap, sizeof(*big.slots));
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].node)
				marks_put(&big, m->slots[i].node, m->slots[i].line,
					  m->slots[i].column);
		free(m->slots);
		*m = big;
	}
	size_t i = slot_of(m, node);
	while (m->slots[i].node && m->slots[i].node != node)
		i = (i + 1) & (m->cap - 1);
	if (!m->slots[i].node)
		m->n++;
	m->slots[i] = (struct mark_slot){node, line, column};
}

bool marks_get(const model_marks_t *m, const json_t *node, int *line, int *column)
{
	if (!m || !node)
		return false;
	size_t i = slot_of(m, node);
	while (m->slots[i].node) {
		if (m->slots[i].node == node) {
			*line = m->slots[i].line;
			*column = m->slots[i].column;
			return true;
		}
		i = (i + 1) & (m->cap - 1);
	}
	return false;
}

/* YAML 1.2 core schema for plain scalars; quoted scalars stay strings. */
static json_t *scalar_value(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(v, len);
	if (len == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	    !strcmp(v, "NULL"))
		return json_null();
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return json_true();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return json_false();
	char *end;
	errno = 0;
	long long i = strtoll(v, &end, 10);
	if (*v && *end == '\0' && errno == 0 && (v[0] != '0' || len == 1) &&
	    !(v[0] == '-' && v[1] == '0'))
		return json_integer(i);
	if (strspn(v, "0123456789.-+eE") == len && strchr(v, '.') && strchr("0123456789-+.", v[0])) {
		/* "10.10.0.4" is not a number: at most one dot. */
		if (strchr(v, '.') == strrchr(v, '.')) {
			double dv = strtod(v, &end);
			if (*end == '\0')
				return json_real(dv);
		}
	}
	return json_stringn(v, len);
}

struct frame {
	json_t *node;
	int line, column; /* where the node starts */
	json_t *key;      /* pending mapping key (a string) */
	int key_line, key_col;
};

struct anchor {
	char *name;
	json_t *node;
};

struct loader {
	const char *name;
	pr_diag_t *diag;
	model_marks_t *marks;
	struct frame *stack;
	size_t depth, cap;
	struct anchor *anchors;
	size_t n_anchors, anchors_cap;
	json_t *root;
	bool failed;
};

static void load_error(struct loader *l, int line, int column, const char *fmt, const char *arg)
{
	pr_diag_add(l->diag, l->name, line, column, "", NULL, PR_EPARSE, fmt, arg);
	l->failed = true;
}

/* Place a finished node into its parent (or make it the root). Only values
 * are marked (a key's place is its frame's, and the key is freed once used);
 * a container was marked when it opened. */
static void attach(struct loader *l, json_t *node, int line, int column, bool mark)
{
	struct frame *f = l->depth ? &l->stack[l->depth - 1] : NULL;
	bool is_key = f && !json_is_array(f->node) && !f->key;
	if (mark && !is_key)
		marks_put(l->marks, node, line, column);
	if (!f) {
		l->root = node;
		return;
	}
	if (json_is_array(f->node)) {
		json_array_append_new(f->node, node);
		return;
	}
	if (!f->key) {
		if (!json_is_string(node)) {
			load_error(l, line, column, "%s", "mapping keys must be plain strings");
			json_decref(node);
			return;
		}
		f->key = node;
		f->key_line = line;
		f->key_col = column;
		return;
	}
	const char *k = json_string_value(f->key);
	if (json_object_get(f->node, k)) {
		load_error(l, f->key_line, f->key_col, "duplicate key '%s'", k);
		json_decref(node);
	} else {
		json_object_set_new(f->node, k, node);
	}
	json_decref(f->key);
	f->key = NULL;
}

static void push(struct loader *l, json_t *node, int line, int column)
{
	pr_grow(&l->stack, &l->cap, l->depth + 1, sizeof(*l->stack));
	l->stack[l->depth++] = (struct frame){.node = node, .line = line, .column = column};
}

static void remember_anchor(struct loader *l, const unsigned char *anchor, json_t *node)
{
	if (!anchor)
		return;
	pr_grow(&l->anchors, &l->anchors_cap, l->n_anchors + 1, sizeof(*l->anchors));
	l->anchors[l->n_anchors++] = (struct anchor){pr_strdup((const char *)anchor), node};
}

static json_t *find_anchor(struct loader *l, const char *name)
{
	for (size_t i = l->n_anchors; i-- > 0;)
		if (!strcmp(l->anchors[i].name, name))
			return l->anchors[i].node;
	return NULL;
}

static void handle_event(struct loader *l, yaml_event_t *ev)
{
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	json_t *node;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		node = scalar_value(ev);
		remember_anchor(l, ev->data.scalar.anchor, node);
		attach(l, node, line, col, true);
		break;
	case YAML_SEQUENCE_START_EVENT:
		node = json_array();
		remember_anchor(l, ev->data.sequence_start.anchor, node);
		marks_put(l->marks, node, line, col);
		push(l, node, line, col);
		break;
	case YAML_MAPPING_START_EVENT:
		node = json_object();
		remember_anchor(l, ev->data.mapping_start.anchor, node);
		marks_put(l->marks, node, line, col);
		push(l, node, line, col);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		struct frame f = l->stack[--l->depth];
		json_decref(f.key);
		attach(l, f.node, f.line, f.column, false);
		break;
	}
	case YAML_ALIAS_EVENT: {
		json_t *target = find_anchor(l, (const char *)ev->data.alias.anchor);
		if (!target) {
			load_error(l, line, col, "unknown alias '*%s'",
				   (const char *)ev->data.alias.anchor);
			break;
		}
		attach(l, json_deep_copy(target), line, col, true);
		break;
	}
	default:
		break;
	}
}

static void loader_free(struct loader *l)
{
	for (size_t i = 0; i < l->depth; i++) {
		json_decref(l->stack[i].node);
		json_decref(l->stack[i].key);
	}
	free(l->stack);
	for (size_t i = 0; i < l->n_anchors; i++)
		free(l->anchors[i].name);
	free(l->anchors);
}

int model_doc_load_text(const char *text, size_t len, const char *name, model_doc_t **doc,
			pr_diag_t *diag)
{
	/* about one marked node per 15 octets of a deployment's YAML */
	struct loader l = {.name = name, .diag = diag, .marks = marks_new(len / 15)};
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int documents = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			pr_diag_add(diag, name, (int)parser.problem_mark.line + 1,
				    (int)parser.problem_mark.column + 1, "", NULL, PR_EPARSE,
				    "YAML syntax: %s%s%s", parser.problem ? parser.problem : "error",
				    parser.context ? " " : "", parser.context ? parser.context : "");
			l.failed = true;
			break;
		}
		yaml_event_type_t type = ev.type;
		if (type == YAML_DOCUMENT_START_EVENT && ++documents > 1) {
			load_error(&l, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
				   "%s", "a deployment file holds one YAML document");
		}
		if (!l.failed)
			handle_event(&l, &ev);
		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT || l.failed)
			break;
	}
	yaml_parser_delete(&parser);
	loader_free(&l);
	if (!l.failed && !l.root)
		l.root = json_object(); /* an empty file is an empty deployment */
	if (!l.failed && !json_is_object(l.root)) {
		int line = 1, col = 1;
		marks_get(l.marks, l.root, &line, &col);
		load_error(&l, line, col, "%s",
			   "a deployment is a mapping (virtualNetworks:, dnsResolvers:, …)");
	}
	if (l.failed) {
		json_decref(l.root);
		marks_destroy(&l.marks);
		return PR_EPARSE;
	}
	model_doc_t *d = pr_calloc(1, sizeof(*d));
	d->root = l.root;
	d->marks = l.marks;
	d->name = pr_strdup(name);
	*doc = d;
	return 0;
}

int model_doc_load_file(const char *path, model_doc_t **doc, pr_diag_t *diag)
{
	char *text = NULL;
	size_t len = 0;
	int err = pr_read_file(path, &text, &len);
	if (err != 0) {
		pr_diag_add(diag, path, 0, 0, "", NULL, PR_EIO, "cannot read: %s", strerror(-err));
		return PR_EIO;
	}
	int rc = model_doc_load_text(text, len, path, doc, diag);
	free(text);
	return rc;
}

model_doc_t *model_doc_adopt(json_t *value, const char *name)
{
	model_doc_t *d = pr_calloc(1, sizeof(*d));
	d->root = value;
	d->marks = marks_new(0);
	d->name = pr_strdup(name);
	return d;
}

model_doc_t *model_doc_from_json(const json_t *value, const char *name)
{
	return model_doc_adopt(json_deep_copy(value), name);
}

const json_t *model_doc_json(const model_doc_t *doc)
{
	return doc->root;
}

void model_doc_destroy(model_doc_t **docp)
{
	if (!docp || !*docp)
		return;
	json_decref((*docp)->root);
	marks_destroy(&(*docp)->marks);
	free((*docp)->name);
	free(*docp);
	*docp = NULL;
}
