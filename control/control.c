/* The one owner of the running deployment: see control.h for the path every
 * change takes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control/control.h"
#include "control/control_p.h"

struct control {
	resolve_snapshot_t *snap; /* current: owns the validated deployment */
	char *source;
	char *state_dir;
	journal_t *journal;     /* open once a snapshot of the state exists */
	uint64_t sequence;      /* of the last change persisted */
	uint64_t changes;       /* accepted since start */
	size_t compact_bytes;   /* journal size that calls for a snapshot; 0: default */
	size_t snapshot_bytes;  /* size of the last snapshot written or read */
	control_hooks_t hooks;
	void *hooks_ctx;
};

bool control_error_is_io(int err)
{
	return err == PR_EIO || (err < 0 && err > PR_EBASE);
}

int control_load_source(const char *path, model_doc_t **doc, pr_diag_t *diag)
{
	if (path)
		return model_doc_load_file(path, doc, diag);
	const char *text = model_default_deployment_text();
	return model_doc_load_text(text, strlen(text), model_default_deployment_name(), doc, diag);
}

/* ---- changes as records: one form for a live change and for replay -------- */

static json_t *change_record(const control_change_t *ch)
{
	json_t *rec = json_pack("{s:s, s:s}", "op", ch->op == CONTROL_PUT ? "put" : "delete",
				"kind", ch->kind->name);
	if (ch->parent)
		json_object_set_new(rec, "parent", json_string(ch->parent));
	if (ch->op == CONTROL_PUT) {
		json_object_set(rec, "resource", (json_t *)ch->resource);
	} else {
		json_object_set_new(rec, "name", json_string(ch->name ? ch->name : ""));
		if (ch->type)
			json_object_set_new(rec, "type", json_string(ch->type));
	}
	return rec;
}

/* Apply a record to a document (modified in place). */
static int apply_record(json_t *doc, const json_t *rec, pr_diag_t *diag)
{
	const char *op = json_string_value(json_object_get(rec, "op"));
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *parent = json_string_value(json_object_get(rec, "parent"));
	const model_kind_t *k = kind ? model_kind_by_name(kind) : NULL;
	int ret = PR_ECORRUPT;

	if (k && op && strcmp(op, "put") == 0) {
		ret = model_doc_put(doc, k, parent, json_object_get(rec, "resource"));
	} else if (k && op && strcmp(op, "delete") == 0) {
		const char *name = json_string_value(json_object_get(rec, "name"));
		ret = model_doc_remove(doc, k, parent, name ? name : "",
				       json_string_value(json_object_get(rec, "type")));
	}
	if (ret == PR_ENOTFOUND) {
		const char *name = json_string_value(json_object_get(
			json_object_get(rec, "resource") ? json_object_get(rec, "resource") : rec,
			"name"));
		if (k && k->parent >= 0 && !model_doc_collection(doc, k, parent, false, &ret) &&
		    ret == PR_ENOTFOUND)
			pr_diag_add(diag, NULL, 0, 0, NULL, NULL, PR_ENOTFOUND,
				    "ResourceNotFound: %s[%s] does not exist",
				    model_kind(k->parent)->key, parent ? parent : "");
		else
			pr_diag_add(diag, NULL, 0, 0, NULL, NULL, PR_ENOTFOUND,
				    "ResourceNotFound: %s[%s] does not exist", k->key,
				    name ? name : "");
		return PR_ENOTFOUND;
	}
	if (ret == PR_ECONFIG)
		pr_diag_add(diag, NULL, 0, 0, NULL, NULL, PR_ECONFIG, "%s.name is required",
			    k->name);
	else if (ret != 0)
		pr_diag_add(diag, NULL, 0, 0, NULL, NULL, PR_ECORRUPT,
			    "a change privres can't read (op %s, kind %s)", op ? op : "?",
			    kind ? kind : "?");
	return ret;
}

/* ---- validate, plan, compile ------------------------------------------------ */

/* I-1, F-7, N-4: an update of an immutable property is a finding. */
static int refuse_immutable(const json_t *plan, pr_diag_t *diag)
{
	int ret = 0;
	size_t i, k;
	json_t *ch, *pc;

	json_array_foreach(plan, i, ch) {
		if (!json_is_true(json_object_get(ch, "immutable")))
			continue;
		json_array_foreach(json_object_get(ch, "changes"), k, pc) {
			if (!json_is_true(json_object_get(pc, "immutable")))
				continue;
			char *from = json_dumps(json_object_get(pc, "from"), JSON_ENCODE_ANY);
			char *to = json_dumps(json_object_get(pc, "to"), JSON_ENCODE_ANY);
			pr_diag_add(diag, NULL, 0, 0, json_string_value(json_object_get(ch, "id")),
				    json_string_value(json_object_get(ch, "rule")), PR_EIMMUTABLE,
				    "%s can't change after creation (%s -> %s); delete the "
				    "resource and create it again",
				    json_string_value(json_object_get(pc, "property")), from, to);
			free(from);
			free(to);
		}
		ret = PR_EIMMUTABLE;
	}
	return ret;
}

/* The plan of a change: of its one resource when it is one (ch may be NULL:
 * a whole document). */
static json_t *plan_of(const deployment_t *current, const deployment_t *next,
		       const control_change_t *ch)
{
	if (!ch || ch->op == CONTROL_REPLACE || !current)
		return deployment_plan(current, next);
	const char *name = ch->op == CONTROL_PUT
				   ? json_string_value(json_object_get(ch->resource, "name"))
				   : ch->name;
	const char *type = ch->op == CONTROL_PUT
				   ? json_string_value(json_object_get(ch->resource, "type"))
				   : ch->type;
	return deployment_plan_change(current, next, ch->kind, ch->parent, name ? name : "", type);
}

/* parse → validate → plan → compile. *docp is consumed. */
static int prepare(const resolve_snapshot_t *now, model_doc_t **docp, const control_change_t *ch,
		   resolve_snapshot_t **out, json_t **plan_out, pr_diag_t *diag)
{
	const deployment_t *current = now ? resolve_snapshot_deployment(now) : NULL;
	deployment_t *d = NULL;
	json_t *plan = NULL;
	bool recreate = ch && ch->recreate;
	/* what the change left alone is not decoded or checked again */
	int ret = deployment_from_doc_after(current, docp, &d, diag);

	if (ret != 0)
		return ret;
	if (current || plan_out) {
		plan = plan_of(current, d, ch);
		if (!recreate && (ret = refuse_immutable(plan, diag)) != 0)
			goto cleanup;
	}
	/* the linker refuses loops (P-1, P-2) with its findings */
	ret = resolve_snapshot_build_after(now, &d, out, diag);
cleanup:
	deployment_destroy(&d); /* still ours only when something failed */
	if (plan_out)
		*plan_out = plan; /* an immutable change shows in the plan of a refusal */
	else
		json_decref(plan);
	return ret;
}

int control_check(model_doc_t **docp, resolve_snapshot_t **out, pr_diag_t *diag)
{
	return prepare(NULL, docp, NULL, out, NULL, diag);
}

/* ---- durable state ------------------------------------------------------------ */

static size_t file_size(const char *dir, const char *name)
{
	char *path = pr_asprintf("%s/%s", dir, name);
	struct stat st;
	size_t n = stat(path, &st) == 0 ? (size_t)st.st_size : 0;
	free(path);
	return n;
}

/* The whole deployment as the state's snapshot at c->sequence, then an empty
 * journal: a crash between the two leaves records the snapshot already holds,
 * which replay skips by their sequence. */
static int write_snapshot(control_t *c, const deployment_t *d, uint64_t sequence,
			  pr_diag_t *diag)
{
	json_t *j = deployment_to_json(d);
	int ret = model_state_save_at(c->state_dir, j, sequence, diag);
	json_decref(j);
	if (ret != 0)
		return ret;
	c->snapshot_bytes = file_size(c->state_dir, MODEL_STATE_FILE);
	if (c->journal)
		return journal_reset(c->journal, diag);
	uint64_t last;
	return journal_open(c->state_dir, sequence, NULL, NULL, &c->journal, &last, diag);
}

/* Persist an accepted change at sequence c->sequence + 1. */
static int persist(control_t *c, const json_t *record, const deployment_t *next, pr_diag_t *diag)
{
	if (!c->state_dir)
		return 0;
	/* a whole document, or the first change of a state with no snapshot yet */
	if (!record || !c->journal)
		return write_snapshot(c, next, c->sequence + 1, diag);
	return journal_append(c->journal, c->sequence + 1, record, diag);
}

/* Now and then the journal becomes a snapshot, so that replay stays short. A
 * failure here loses nothing: the journal still holds every change. */
static void compact_if_due(control_t *c)
{
	if (!c->journal)
		return;
	size_t limit = c->compact_bytes;
	if (!limit) /* by default at least the snapshot's size: O(1) per byte changed */
		limit = c->snapshot_bytes > CONTROL_DEFAULT_COMPACT_BYTES ? c->snapshot_bytes
									  : CONTROL_DEFAULT_COMPACT_BYTES;
	if (journal_bytes(c->journal) <= limit)
		return;
	pr_diag_t *diag = pr_diag_new();
	if (write_snapshot(c, resolve_snapshot_deployment(c->snap), c->sequence, diag) != 0) {
		char *text = pr_diag_format(diag);
		fprintf(stderr, "privresd: compaction postponed: %s", text);
		free(text);
	}
	pr_diag_destroy(&diag);
}

/* ---- apply ---------------------------------------------------------------------- */

/* The document a change of one resource turns the current one into: it
 * shares with the current one everything the change does not touch. */
static int edited_doc(const control_t *c, const control_change_t *ch, const json_t *record,
		      model_doc_t **out, pr_diag_t *diag)
{
	json_t *doc = model_doc_edit_copy(deployment_source_json(control_deployment(c)), ch->kind,
					  ch->parent);
	int ret = apply_record(doc, record, diag);
	if (ret != 0) {
		json_decref(doc);
		return ret;
	}
	*out = model_doc_adopt(doc, "api");
	return 0;
}

static void publish(control_t *c, resolve_snapshot_t *next)
{
	if (c->hooks.publish) {
		resolve_snapshot_ref(next);
		c->hooks.publish(c->hooks_ctx, next);
	}
	resolve_snapshot_unref(&c->snap);
	c->snap = next;
}

int control_apply(control_t *c, control_change_t *ch, json_t **plan, pr_diag_t *diag)
{
	model_doc_t *doc = NULL;
	json_t *record = NULL, *p = NULL;
	resolve_snapshot_t *next = NULL;
	int ret = 0;

	if (ch->op == CONTROL_REPLACE) {
		doc = ch->doc;
		ch->doc = NULL;
	} else {
		record = change_record(ch);
		ret = edited_doc(c, ch, record, &doc, diag);
	}
	if (ret == 0)
		ret = prepare(c->snap, &doc, ch, &next, &p, diag);
	if (ret != 0 || ch->dry_run || json_array_size(p) == 0)
		goto cleanup; /* no change is no commit: nothing to persist or publish */
	if (c->hooks.bind && (ret = c->hooks.bind(c->hooks_ctx, next, diag)) != 0)
		goto cleanup;
	if ((ret = persist(c, record, resolve_snapshot_deployment(next), diag)) != 0) {
		if (c->hooks.bind) /* the old listeners back */
			c->hooks.bind(c->hooks_ctx, c->snap, NULL);
		goto cleanup;
	}
	c->sequence++;
	c->changes++;
	publish(c, next);
	next = NULL;
	compact_if_due(c);
cleanup:
	model_doc_destroy(&doc);
	resolve_snapshot_unref(&next);
	json_decref(record);
	if (plan)
		*plan = p;
	else
		json_decref(p);
	return ret;
}

/* ---- open ----------------------------------------------------------------------- */

static control_t *control_alloc(const char *state_dir, size_t compact_bytes)
{
	control_t *c = pr_calloc(1, sizeof(*c));
	c->state_dir = state_dir ? pr_strdup(state_dir) : NULL;
	c->compact_bytes = compact_bytes;
	return c;
}

static int replay_one(void *ctx, const json_t *change, pr_diag_t *diag)
{
	return apply_record(ctx, change, diag);
}

/* The state directory's deployment: its snapshot with the journal replayed.
 * 0 with *out left NULL when there is no state. */
static int load_state(control_t *c, model_doc_t **out, pr_diag_t *diag)
{
	json_t *doc = NULL;
	uint64_t seq = 0;
	int ret = model_state_load_at(c->state_dir, &doc, &seq, diag);

	if (ret == PR_ENOTFOUND && file_size(c->state_dir, CONTROL_JOURNAL_FILE) > 0) {
		pr_diag_add(diag, c->state_dir, 0, 0, NULL, NULL, PR_ECORRUPT,
			    "the state directory has a journal but no %s: the state is refused "
			    "whole (design.md §7)",
			    MODEL_STATE_FILE);
		return PR_ECORRUPT;
	}
	if (ret == PR_ENOTFOUND)
		return 0;
	if (ret != 0)
		return ret;
	c->snapshot_bytes = file_size(c->state_dir, MODEL_STATE_FILE);
	ret = journal_open(c->state_dir, seq, replay_one, doc, &c->journal, &c->sequence, diag);
	if (ret != 0) {
		json_decref(doc);
		return ret;
	}
	*out = model_doc_adopt(doc, "state");
	return 0;
}

/* --state-dir, else the deployment's emulator.stateDir. */
static const char *state_dir_of(const control_options_t *o, const model_doc_t *doc)
{
	if (o->state_dir)
		return o->state_dir;
	const json_t *em = json_object_get(model_doc_json(doc), "emulator");
	return json_string_value(json_object_get(em, "stateDir"));
}

int control_open(const control_options_t *opts, control_t **out, pr_diag_t *diag)
{
	model_doc_t *file = NULL, *state = NULL;
	control_t *c = NULL;
	int ret = 0;

	/* With --state-dir and a saved state, the file is not read at all: the
	 * state wins (design.md §7), and reading a large file only to set it
	 * aside would make a start from the state slower than one from YAML. */
	if (opts->state_dir) {
		c = control_alloc(opts->state_dir, opts->compact_bytes);
		if ((ret = load_state(c, &state, diag)) != 0)
			goto cleanup;
	}
	if (!state) {
		if ((ret = control_load_source(opts->config, &file, diag)) != 0)
			goto cleanup;
		if (!c)
			c = control_alloc(state_dir_of(opts, file), opts->compact_bytes);
		/* the file may name the state directory (emulator.stateDir) */
		if (!opts->state_dir && c->state_dir && (ret = load_state(c, &state, diag)) != 0)
			goto cleanup;
	}
	c->source = pr_strdup(state ? "the saved state"
				    : opts->config ? opts->config
						   : model_default_deployment_name());
	ret = control_check(state ? &state : &file, &c->snap, diag);
cleanup:
	model_doc_destroy(&file);
	model_doc_destroy(&state);
	if (ret != 0) {
		control_destroy(&c);
		return ret;
	}
	*out = c;
	return 0;
}

int control_new(model_doc_t **docp, const char *state_dir, control_t **out, pr_diag_t *diag)
{
	control_t *c = control_alloc(state_dir, 0);
	int ret = control_check(docp, &c->snap, diag);
	if (ret != 0) {
		control_destroy(&c);
		return ret;
	}
	c->source = pr_strdup("api");
	*out = c;
	return 0;
}

void control_destroy(control_t **cp)
{
	if (!cp || !*cp)
		return;
	control_t *c = *cp;
	resolve_snapshot_unref(&c->snap);
	journal_close(&c->journal);
	free(c->source);
	free(c->state_dir);
	free(c);
	*cp = NULL;
}

void control_set_hooks(control_t *c, const control_hooks_t *hooks, void *ctx)
{
	c->hooks = hooks ? *hooks : (control_hooks_t){0};
	c->hooks_ctx = ctx;
}

const deployment_t *control_deployment(const control_t *c)
{
	return resolve_snapshot_deployment(c->snap);
}

resolve_snapshot_t *control_snapshot(const control_t *c)
{
	return c->snap;
}

const char *control_source(const control_t *c)
{
	return c->source;
}

const char *control_state_dir(const control_t *c)
{
	return c->state_dir;
}

uint64_t control_changes(const control_t *c)
{
	return c->changes;
}

uint64_t control_sequence(const control_t *c)
{
	return c->sequence;
}

const char *control_cloud_code(int err)
{
	switch (err) {
	case PR_ELIMIT:
		return "LimitExceeded";
	case PR_ELOOP:
		return "ForwardingLoop";
	case PR_ENOTFOUND:
		return "ResourceNotFound";
	case PR_EEXIST:
		return "Conflict";
	case PR_EPARSE:
		return "InvalidDocument";
	case PR_EIMMUTABLE:
		return "PropertyChangeNotAllowed";
	case PR_EINUSE:
		return "InUseResourceCannotBeDeleted";
	case PR_EUNMAPPED:
		return "UnmappedTarget";
	default:
		return "BadRequest";
	}
}
