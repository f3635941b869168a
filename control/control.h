/*
 * control — the one owner of the running deployment (design.md §2, §3, §7).
 *
 * A control object holds the desired deployment (the document every surface
 * edits), its validated model, the compiled snapshot the data plane reads, and
 * the durable state. Start-up, SIGHUP, every API call, apply/plan and
 * `privresd --check` go through one path:
 *
 *   parse → validate → plan → compile → bind → persist → publish
 *
 * (compiling and binding come before persisting, so that a change that can't
 * be served is refused before it is saved, and nothing saved is ever refused
 * at the next start).
 *
 * Durability: with a state directory, a change of one resource is appended to
 * a checksummed journal and fsync'ed before control_apply() returns; a whole
 * document (SIGHUP, apply) and, now and then, the journal are written as a
 * snapshot of the deployment (temp file, fsync, rename, fsync of the
 * directory). Start-up loads the snapshot and replays the journal; a damaged
 * record is refused with a message, never half-loaded. A state directory wins
 * over the configuration file at start.
 *
 * Threads: everything here runs on the control thread. Snapshots handed to
 * the publish hook may be read by any thread.
 * Ownership: as written on each function.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "model/model.h"
#include "resolve/resolve.h"

typedef struct control control_t;

/* What the daemon does with a compiled snapshot. Both may be NULL (tests). */
typedef struct control_hooks {
	/* Bind the listeners next (borrowed) asks for, before the change is
	 * persisted; an error (with diag) refuses the change. Called again with
	 * the current snapshot to undo when persisting fails. */
	int (*bind)(void *ctx, const resolve_snapshot_t *next, pr_diag_t *diag);
	/* Make next live: one reference is transferred. */
	void (*publish)(void *ctx, resolve_snapshot_t *next);
} control_hooks_t;

typedef struct control_options {
	const char *config;    /* deployment file; NULL: the embedded default */
	const char *state_dir; /* overrides emulator.stateDir; NULL: the file's, or none */
	/* Compact the journal into a snapshot when it grows past this many bytes;
	 * 0: CONTROL_DEFAULT_COMPACT_BYTES or the snapshot's own size, whichever
	 * is larger (so that compaction costs O(1) per byte changed). */
	size_t compact_bytes;
} control_options_t;

#define CONTROL_DEFAULT_COMPACT_BYTES (1u << 20)
#define CONTROL_JOURNAL_FILE "journal"

/*
 * Load what to serve (design.md §7): the state directory's snapshot and
 * journal when there is one, else the configuration file, else the embedded
 * default; validate and compile it. Returns 0 and *out (owned), or an error
 * with every finding in diag (PR_ECORRUPT for a damaged state).
 */
int control_open(const control_options_t *opts, control_t **out, pr_diag_t *diag);

/*
 * A control object over a document (transferred, *docp cleared either way),
 * with no configuration file; state_dir (copied, may be NULL) persists changes
 * but is not read. For tests and fuzzers.
 */
int control_new(model_doc_t **docp, const char *state_dir, control_t **out, pr_diag_t *diag);

void control_destroy(control_t **cp);

/* Hooks (copied) and their context (borrowed). */
void control_set_hooks(control_t *c, const control_hooks_t *hooks, void *ctx);

/* The current deployment and snapshot (borrowed; valid until the next
 * accepted change). */
const deployment_t *control_deployment(const control_t *c);
resolve_snapshot_t *control_snapshot(const control_t *c);
/* What the current deployment was loaded from at start: "the saved state",
 * the file's name or the embedded default's (borrowed). */
const char *control_source(const control_t *c);
/* The state directory, or NULL (borrowed). */
const char *control_state_dir(const control_t *c);
/* Changes accepted since start, and the journal's sequence number. */
uint64_t control_changes(const control_t *c);
uint64_t control_sequence(const control_t *c);

typedef enum control_op {
	CONTROL_PUT,     /* create or update one resource */
	CONTROL_DELETE,  /* delete one resource (and its children) */
	CONTROL_REPLACE, /* a whole desired document (SIGHUP, apply) */
} control_op_t;

typedef struct control_change {
	control_op_t op;
	const model_kind_t *kind; /* PUT, DELETE */
	const char *parent;       /* PUT, DELETE of a child kind: the parent's name */
	const char *name;         /* DELETE */
	const char *type;         /* DELETE of a record set: its record type */
	const json_t *resource;   /* PUT: as the document holds it (borrowed) */
	model_doc_t *doc;         /* REPLACE: transferred (cleared) whatever the outcome */
	bool dry_run;             /* validate, plan and compile; change nothing */
	/* REPLACE: a resource whose create-only property changed (I-1, F-7, N-4)
	 * is recreated, as Terraform replaces it, instead of refused as the
	 * resource manager refuses an update (SIGHUP: the file is the truth). */
	bool recreate;
} control_change_t;

/*
 * Apply a change through the one path. Returns 0 when it was accepted (or,
 * dry, would be). plan may be NULL; else *plan (owned) receives the plan of
 * deployment_plan() whenever one was computed, a refusal's too (immutable
 * changes show there), and NULL otherwise; a change that plans to nothing is accepted and
 * neither persisted nor published. Errors: the first finding's code with
 * every finding in diag (validation, P-1/P-2 loops, PR_EIMMUTABLE for I-1,
 * F-7, N-4, PR_ENOTFOUND for a resource or parent that does not exist), or a
 * failure to bind or persist (PR_EIO or -errno, diag naming the file and
 * step), after which nothing changed.
 */
int control_apply(control_t *c, control_change_t *ch, json_t **plan, pr_diag_t *diag);

/* The cloud-style error code of an error of the PR_E* space ("LimitExceeded"),
 * for every surface that answers in the cloud's words (gRPC, ARM). */
const char *control_cloud_code(int err);

/* Is err a failure to serve or save the change (not a finding about it)? */
bool control_error_is_io(int err);

/*
 * The one check of a document, for `privresd --check` and plans without a
 * control object: validate and compile. *docp is consumed. Returns 0 with
 * *out (owned) or the first finding's code with every finding in diag.
 */
int control_check(model_doc_t **docp, resolve_snapshot_t **out, pr_diag_t *diag);

/* Load a deployment file, or the embedded default when path is NULL. */
int control_load_source(const char *path, model_doc_t **doc, pr_diag_t *diag);

/* ---- Emulated on-premises servers (control/update.c; E-2..E-5) ------------ */

/*
 * Answer a DNS UPDATE (msg, untrusted) received by the external server named
 * server, applying it when it is allowed (E-2: the zone's dynamicUpdate; E-3:
 * TSIG) and its prerequisites hold. An accepted change is a PUT of the
 * server's resource through control_apply(): journaled and fsync'ed before the
 * answer is written, published to every worker. now: Unix seconds (E-4 time
 * stamps). Returns the answer's length in buf (0: nothing to send).
 */
size_t control_dns_update(control_t *c, const char *server, const uint8_t *msg, size_t len,
			  uint64_t now, uint8_t *buf, size_t cap);

/*
 * E-4: scavenge the zones with aging on of one server (NULL: every server) as
 * of now (Unix seconds): dynamic record sets older than no-refresh + refresh
 * are removed, each server's removals one change. *removed counts record sets.
 * 0, PR_ENOTFOUND for an unknown server, or control_apply()'s errors.
 */
int control_scavenge(control_t *c, const char *server, uint64_t now, size_t *removed,
		     pr_diag_t *diag);
