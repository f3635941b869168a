/* Private to model/: the document with node positions, and helpers shared by
 * the decoder, the validator and the encoder. */
#pragma once

#include "model/model.h"

/* Positions of JSON nodes, keyed by node pointer. */
typedef struct model_marks model_marks_t;
model_marks_t *marks_new(size_t expected);
void marks_destroy(model_marks_t **mp);
void marks_put(model_marks_t *m, const json_t *node, int line, int column);
bool marks_get(const model_marks_t *m, const json_t *node, int *line, int *column);

struct model_doc {
	json_t *root;
	model_marks_t *marks;
	char *name;
};

/* A decoding/validation context: the deployment being built and its findings. */
typedef struct model_ctx {
	deployment_t *d;
	pr_diag_t *diag;
	pr_map_t *vnet_index; /* VNet name → index, built on first use */
	/* deployment_from_doc_after: the deployment parts may be shared with
	 * (NULL: decode everything), and what was: d's own checks of a shared
	 * part ran when prev was validated and are not run again. */
	const deployment_t *prev;
	bool shared_any, shared_vnets;
	uint8_t *shared_rulesets; /* per ruleset: MODEL_SHARED_ITEMS (rules), _LINKS */
	uint8_t *shared_zones;    /* per private zone: _ITEMS (record sets, SOA), _LINKS */
} model_ctx_t;

enum { MODEL_SHARED_ITEMS = 1, MODEL_SHARED_LINKS = 2 };

/* Report a finding at node's key (or at node itself when key is NULL). */
void model_report(model_ctx_t *c, const json_t *node, const char *key, const char *path,
		  const char *rule, int code, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Unknown keys of obj (not in allowed, NULL-terminated) are findings, each
 * with the closest valid key (pr_closest) or the list of valid ones. */
void model_check_keys(model_ctx_t *c, const json_t *obj, const char *path,
		      const char *const *allowed);

/* Decode the JSON document into d's resource arrays (types, required keys,
 * unknown keys); semantic rules are validate.c's. */
void model_decode(model_ctx_t *c);
/* Every rule of semantics.md §1–§5, §8, §9 over the decoded graph. */
void model_validate(model_ctx_t *c);

/* The name part of a reference: "hub" → "hub"; an ARM id → its last segment
 * after the given type ("virtualNetworks"), or NULL when the id is of another
 * type. Borrowed from the arena. */
const char *model_ref_name(model_ctx_t *c, const char *ref, const char *type);

/* The `topology:` section (design.md §8), decoded and checked in
 * topology.c: on-premises networks, the VNets they reach, where external
 * servers live. Runs after every other resource is decoded. */
void model_decode_topology(model_ctx_t *c, const json_t *root);
/* Checks of the topology against the whole graph; runs after validation. */
void model_validate_topology(model_ctx_t *c);

/* emulator.tls and emulator.encryptedListeners (W-6), in encrypted.c: decoded
 * from the emulator mapping e, then checked against the graph. */
void model_decode_encrypted(model_ctx_t *c, const json_t *e);
void model_validate_encrypted(model_ctx_t *c);
/* Is name one of the deployment's listeners (validate.c)? */
bool listener_exists(const deployment_t *d, const char *name);

/* The model's id of top-level resource i of kind k, NULL for the kinds it
 * gives none (encode.c). */
const char *model_top_id(const deployment_t *d, const model_kind_t *k, size_t i);
