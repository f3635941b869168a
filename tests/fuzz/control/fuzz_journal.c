/*
 * Arbitrary bytes as the state directory privresd starts from (design.md §7,
 * style.md §15): the snapshot envelope (model_state_load_at), the journal's
 * lines (journal_open: torn tail, checksums, sequence order) and the replay of
 * each change into the deployment (put and delete of every kind), then the
 * validation of what was replayed.
 *
 * The first octet chooses:
 *   bit 0  re-sign every journal line that is a JSON object (checksum over its
 *          sequence and change), so that the fuzzer gets past the checksum to
 *          the replay of the change itself;
 *   bit 1  the rest is "<snapshot>\0<journal>": a snapshot that is a JSON
 *          object with a "deployment" object is saved, signed, by
 *          model_state_save_at; any other is written raw as deployment.json.
 *          Without it, the snapshot is the embedded default deployment;
 *   bits 2-3  the snapshot's sequence (0..3).
 *
 * Checks (a failed one aborts, so the fuzzer keeps the input):
 *  - a refusal has at least one finding (style.md §4);
 *  - a state that loads loads again, unchanged, at the same sequence (the torn
 *    tail cut by the first load stays cut);
 *  - a change accepted after the load survives a restart: the journal appended
 *    to what replay left reloads with it, one sequence further.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "control/control.h"
#include "model/model.h"

static char dir[64];

static void fail(const char *what, const pr_diag_t *diag)
{
	char *msg = diag ? pr_diag_format(diag) : NULL;
	fprintf(stderr, "fuzz_journal: %s\n%s\n", what, msg ? msg : "");
	free(msg);
	abort();
}

static void write_file(const char *name, const uint8_t *data, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
		fail("cannot write the state directory", NULL);
}

/* The checksum journal.c stores: sequence and change, canonical. */
static void resign(json_t *rec)
{
	json_t *both = json_pack("{s:O, s:O}", "sequence", json_object_get(rec, "sequence"),
				 "change", json_object_get(rec, "change"));
	if (!both)
		return;
	char *sum = model_state_checksum(both);
	json_object_set_new(rec, "checksum", json_string(sum));
	free(sum);
	json_decref(both);
}

/* Each complete line that is a JSON object with a sequence and a change gets
 * its right checksum; everything else (and a torn tail) is kept as it is. */
static void write_journal(const uint8_t *data, size_t len, int sign)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, CONTROL_JOURNAL_FILE);
	FILE *f = fopen(path, "wb");
	size_t at = 0;
	while (f && at < len) {
		const uint8_t *nl = memchr(data + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (data + at)) : len - at;
		json_t *rec = sign && nl ? json_loadb((const char *)data + at, n, 0, NULL) : NULL;
		char *text = NULL;
		if (json_is_object(rec) && json_object_get(rec, "sequence") &&
		    json_object_get(rec, "change")) {
			resign(rec);
			text = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
		}
		if (text)
			fputs(text, f);
		else
			fwrite(data + at, 1, n, f);
		if (nl)
			fputc('\n', f);
		free(text);
		json_decref(rec);
		at += n + (nl ? 1 : 0);
	}
	if (!f || fclose(f) != 0)
		fail("cannot write the journal", NULL);
}

static void write_snapshot(const uint8_t *data, size_t len, uint64_t seq)
{
	json_t *env = json_loadb((const char *)data, len, 0, NULL);
	json_t *dep = json_object_get(env, "deployment");
	if (json_is_object(dep)) {
		pr_diag_t *diag = pr_diag_new();
		if (model_state_save_at(dir, dep, seq, diag) != 0)
			fail("cannot save a snapshot", diag);
		pr_diag_destroy(&diag);
	} else {
		write_file(MODEL_STATE_FILE, data, len);
	}
	json_decref(env);
}

/* The embedded default as a snapshot: decoded once, saved per input. */
static void write_default_snapshot(uint64_t seq)
{
	static json_t *dep;
	pr_diag_t *diag = pr_diag_new();
	if (!dep) {
		model_doc_t *doc = NULL;
		deployment_t *d = NULL;
		if (control_load_source(NULL, &doc, diag) != 0 ||
		    deployment_from_doc(&doc, &d, diag) != 0)
			fail("the embedded default does not load", diag);
		dep = deployment_to_json(d);
		deployment_destroy(&d);
	}
	if (model_state_save_at(dir, dep, seq, diag) != 0)
		fail("cannot save the default snapshot", diag);
	pr_diag_destroy(&diag);
}

static control_t *open_state(pr_diag_t *diag, int *rc)
{
	/* the state directory wins over the file (design.md §7): a one-line file
	 * spares decoding the embedded default at every start */
	static char config[128];
	if (!config[0]) {
		snprintf(config, sizeof(config), "%s.yaml", dir);
		FILE *f = fopen(config, "w");
		if (!f || fputs("location: eastus\n", f) < 0 || fclose(f) != 0)
			fail("cannot write the configuration file", NULL);
	}
	control_options_t opts = {.config = config, .state_dir = dir};
	control_t *c = NULL;
	*rc = control_open(&opts, &c, diag);
	if (*rc != 0 && pr_diag_count(diag) == 0)
		fail("state refused without a finding", diag);
	return c;
}

/* One change through the one path; NULL when it was not accepted. */
static json_t *put_vnet(control_t *c)
{
	json_t *res = json_pack("{s:s, s:[s]}", "name", "fuzz-added", "addressPrefixes",
				"10.254.0.0/16");
	control_change_t ch = {.op = CONTROL_PUT,
			       .kind = model_kind_by_name("virtualNetwork"),
			       .resource = res};
	pr_diag_t *diag = pr_diag_new();
	if (control_apply(c, &ch, NULL, diag) != 0) {
		json_decref(res);
		res = NULL;
	}
	pr_diag_destroy(&diag);
	return res;
}

static void check_reload(const json_t *before, uint64_t seq, const char *what)
{
	pr_diag_t *diag = pr_diag_new();
	int rc;
	control_t *c = open_state(diag, &rc);
	if (rc != 0)
		fail(what, diag);
	json_t *after = deployment_to_json(control_deployment(c));
	if (control_sequence(c) != seq || !json_equal(before, after))
		fail(what, diag);
	json_decref(after);
	control_destroy(&c);
	pr_diag_destroy(&diag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), access("/dev/shm", W_OK) == 0 ? "/dev/shm/fuzz_journal.XXXXXX" : "/tmp/fuzz_journal.XXXXXX");
		if (!mkdtemp(dir))
			fail("mkdtemp", NULL);
	}
	if (size < 1)
		return 0;
	unsigned flags = data[0];
	data++;
	size--;
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, MODEL_STATE_FILE);
	unlink(path);
	const uint8_t *journal = data;
	size_t jlen = size;
	if (flags & 2) {
		const uint8_t *nul = memchr(data, 0, size);
		size_t slen = nul ? (size_t)(nul - data) : size;
		write_snapshot(data, slen, (flags >> 2) & 3);
		journal = nul ? nul + 1 : data + size;
		jlen = nul ? size - slen - 1 : 0;
	} else {
		write_default_snapshot((flags >> 2) & 3);
	}
	write_journal(journal, jlen, flags & 1);

	pr_diag_t *diag = pr_diag_new();
	int rc;
	control_t *c = open_state(diag, &rc);
	pr_diag_destroy(&diag);
	if (rc != 0)
		return 0;
	json_t *loaded = deployment_to_json(control_deployment(c));
	uint64_t seq = control_sequence(c);
	json_t *added = put_vnet(c);
	json_t *now = deployment_to_json(control_deployment(c));
	uint64_t now_seq = control_sequence(c);
	control_destroy(&c);
	if (added) {
		if (now_seq <= seq)
			fail("an accepted change did not advance the sequence", NULL);
		check_reload(now, now_seq, "an accepted change is lost at restart");
	} else {
		check_reload(loaded, seq, "a state that loaded does not load again the same");
	}
	json_decref(added);
	json_decref(now);
	json_decref(loaded);
	return 0;
}
