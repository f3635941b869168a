/* Durable state (design.md §7): atomic save, and a damaged file refused whole
 * with a message naming the file and what is wrong. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#undef malloc
#undef calloc
#undef realloc
#undef free

#include "model/model.h"

typedef struct fx {
	char dir[64];
	char *state; /* dir/state: the state dir, created by save */
	char *file;
} fx_t;

static int setup(void **state)
{
	fx_t *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/privres-state-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->state = pr_asprintf("%s/sub/state", f->dir);
	f->file = pr_asprintf("%s/%s", f->state, MODEL_STATE_FILE);
	*state = f;
	return 0;
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		unlink(path);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = pr_asprintf("%s/%s", path, e->d_name);
		rm_rf(p);
		free(p);
	}
	closedir(d);
	rmdir(path);
}

static int teardown(void **state)
{
	fx_t *f = *state;
	rm_rf(f->dir);
	free(f->state);
	free(f->file);
	free(f);
	return 0;
}

static json_t *sample(void)
{
	return json_pack("{s:s, s:[{s:s, s:[s]}], s:{s:s}}", "location", "eastus",
			 "virtualNetworks", "name", "hub", "addressPrefixes", "10.10.0.0/16",
			 "emulator", "listen", "loopback");
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

/* Load must refuse with PR_ECORRUPT, naming the file and containing text. */
static void expect_corrupt(fx_t *f, const char *text)
{
	pr_diag_t *diag = pr_diag_new();
	json_t *out = NULL;
	assert_int_equal(model_state_load(f->state, &out, diag), PR_ECORRUPT);
	assert_null(out);
	assert_int_equal(pr_diag_count(diag), 1);
	const pr_diag_entry_t *e = pr_diag_get(diag, 0);
	assert_int_equal(e->code, PR_ECORRUPT);
	assert_string_equal(e->file, f->file);
	if (!strstr(e->message, text))
		fail_msg("message \"%s\" lacks \"%s\"", e->message, text);
	pr_diag_destroy(&diag);
}

/* §7: save creates the directory (0700), writes the envelope; load gives
 * back the same deployment. */
static void test_state_round_trip(void **state)
{
	fx_t *f = *state;
	json_t *dep = sample(), *back = NULL;
	pr_diag_t *diag = pr_diag_new();

	assert_int_equal(model_state_save(f->state, dep, diag), 0);
	assert_int_equal(pr_diag_count(diag), 0);
	struct stat st;
	assert_int_equal(stat(f->state, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(model_state_load(f->state, &back, diag), 0);
	assert_true(json_equal(dep, back));
	json_decref(back);

	/* the envelope on disk */
	json_t *env = json_load_file(f->file, 0, NULL);
	assert_non_null(env);
	assert_string_equal(json_string_value(json_object_get(env, "format")), "privres-state");
	assert_int_equal(json_integer_value(json_object_get(env, "version")), 1);
	char *sum = model_state_checksum(dep);
	assert_int_equal(strlen(sum), 16);
	assert_string_equal(json_string_value(json_object_get(env, "checksum")), sum);
	free(sum);
	json_decref(env);

	/* a second save replaces the first */
	json_object_set_new(dep, "location", json_string("westeurope"));
	assert_int_equal(model_state_save(f->state, dep, diag), 0);
	assert_int_equal(model_state_load(f->state, &back, diag), 0);
	assert_string_equal(json_string_value(json_object_get(back, "location")), "westeurope");
	json_decref(back);
	json_decref(dep);
	pr_diag_destroy(&diag);
}

/* The checksum covers content, not layout: key order does not matter. */
static void test_state_checksum_canonical(void **state)
{
	(void)state;
	json_t *a = json_pack("{s:i, s:s}", "a", 1, "b", "x");
	json_t *b = json_pack("{s:s, s:i}", "b", "x", "a", 1);
	json_t *c = json_pack("{s:i, s:s}", "a", 2, "b", "x");
	char *sa = model_state_checksum(a), *sb = model_state_checksum(b),
	     *sc = model_state_checksum(c);
	assert_string_equal(sa, sb);
	assert_string_not_equal(sa, sc);
	free(sa);
	free(sb);
	free(sc);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

/* §7: no directory, or a directory without the file: no state (not an error). */
static void test_state_missing(void **state)
{
	fx_t *f = *state;
	json_t *out = NULL;
	pr_diag_t *diag = pr_diag_new();
	assert_int_equal(model_state_load(f->state, &out, diag), PR_ENOTFOUND);
	char *empty = pr_asprintf("%s/empty", f->dir);
	assert_int_equal(mkdir(empty, 0700), 0);
	assert_int_equal(model_state_load(empty, &out, diag), PR_ENOTFOUND);
	assert_null(out);
	assert_int_equal(pr_diag_count(diag), 0);
	free(empty);
	pr_diag_destroy(&diag);
}

/* A partly written file (cut in the middle) is refused: not JSON at line N. */
static void test_state_truncated(void **state)
{
	fx_t *f = *state;
	json_t *dep = sample();
	assert_int_equal(model_state_save(f->state, dep, NULL), 0);
	size_t len;
	char *buf = slurp(f->file, &len);
	spit(f->file, buf, len / 2);
	expect_corrupt(f, "not JSON at line");
	spit(f->file, "", 0);
	expect_corrupt(f, "not JSON");
	free(buf);
	json_decref(dep);
}

/* One changed byte inside the deployment: checksum mismatch. */
static void test_state_flipped_byte(void **state)
{
	fx_t *f = *state;
	json_t *dep = sample();
	assert_int_equal(model_state_save(f->state, dep, NULL), 0);
	size_t len;
	char *buf = slurp(f->file, &len);
	char *p = strstr(buf, "10.10.0.0/16");
	assert_non_null(p);
	p[3] = '2'; /* 10.20.0.0/16: still valid JSON, different content */
	spit(f->file, buf, len);
	expect_corrupt(f, "checksum mismatch");
	expect_corrupt(f, "the file was changed or partly written");
	free(buf);
	json_decref(dep);
}

/* An envelope of another version or format is refused, naming what it is. */
static void test_state_wrong_version_and_format(void **state)
{
	fx_t *f = *state;
	json_t *dep = sample();
	assert_int_equal(model_state_save(f->state, dep, NULL), 0);
	json_t *env = json_load_file(f->file, 0, NULL);
	json_object_set_new(env, "version", json_integer(2));
	assert_int_equal(json_dump_file(env, f->file, 0), 0);
	expect_corrupt(f, "version 2 is not supported");
	json_object_set_new(env, "version", json_integer(1));
	json_object_set_new(env, "format", json_string("something-else"));
	assert_int_equal(json_dump_file(env, f->file, 0), 0);
	expect_corrupt(f, "format is \"something-else\"");
	/* a bare deployment file, not an envelope */
	assert_int_equal(json_dump_file(dep, f->file, 0), 0);
	expect_corrupt(f, "format is missing");
	json_decref(env);
	json_decref(dep);
}

/* A temp file left by a save interrupted before its rename is ignored, and a
 * later save still works; the saved file is never the temp one. */
static void test_state_leftover_temp_ignored(void **state)
{
	fx_t *f = *state;
	json_t *dep = sample(), *back = NULL;
	assert_int_equal(model_state_save(f->state, dep, NULL), 0);
	char *tmp = pr_asprintf("%s/.%s.tmp.abc123", f->state, MODEL_STATE_FILE);
	spit(tmp, "{\"format\": \"privres-st", 22);
	assert_int_equal(model_state_load(f->state, &back, NULL), 0);
	assert_true(json_equal(dep, back));
	json_decref(back);
	assert_int_equal(model_state_save(f->state, dep, NULL), 0);
	assert_int_equal(model_state_load(f->state, &back, NULL), 0);
	json_decref(back);
	/* only our own leftover and the state file are there: save cleans up its temp */
	DIR *d = opendir(f->state);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	assert_int_equal(n, 2);
	free(tmp);
	json_decref(dep);
}

/* A state dir that cannot be created: an error naming the file, no crash. */
static void test_state_save_unwritable(void **state)
{
	fx_t *f = *state;
	char *blocker = pr_asprintf("%s/file", f->dir);
	spit(blocker, "x", 1);
	char *dir = pr_asprintf("%s/below", blocker);
	json_t *dep = sample();
	pr_diag_t *diag = pr_diag_new();
	assert_true(model_state_save(dir, dep, diag) < 0);
	assert_int_equal(pr_diag_count(diag), 1);
	assert_non_null(strstr(pr_diag_get(diag, 0)->message, "state not saved"));
	pr_diag_destroy(&diag);
	json_decref(dep);
	free(dir);
	free(blocker);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_checksum_canonical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_flipped_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_wrong_version_and_format, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_leftover_temp_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_save_unwritable, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
