/*
 * The cost of one change through control/ (design.md §3, §7) at three sizes:
 * create, update and delete of a forwarding rule, of a ruleset's VNet link and
 * of a record set, each persisted to a state directory (journal) and compiled
 * into a new snapshot, as an API call pays it. Also the full start of each
 * estate from its YAML and from its state directory.
 *   bench_control [repetitions (default 5)] [sizes (default all three)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/estate.h"
#include "control/control.h"

typedef struct size {
	const char *name;
	bench_estate_t estate;
} size_t_;

static const size_t_ sizes[] = {
	{"10 rules", {1, 10, 10, 2, 10, 10}},
	{"4,000 rules x 400 VNets", {4, 999, 100, 2, 10, 1000}},
	/* one rule, one link and one record set below the limits, to add one */
	{"largest legal", {30, 999, 499, 2, 999, 24999}},
};

#define OPS 6
static const char *const op_names[OPS] = {"rule create", "rule update", "rule delete",
					  "link create/delete", "record set create",
					  "record set delete"};

static double ms_since(uint64_t t0)
{
	return (double)(pr_now_ns() - t0) / 1e6;
}

static void die(const char *what, pr_diag_t *diag)
{
	char *s = pr_diag_format(diag);
	fprintf(stderr, "bench_control: %s: %.2000s\n", what, s);
	exit(1);
}

static double timed(control_t *c, control_change_t *ch)
{
	pr_diag_t *diag = pr_diag_new();
	uint64_t t0 = pr_now_ns();
	if (control_apply(c, ch, NULL, diag) != 0)
		die("change refused", diag);
	double ms = ms_since(t0);
	pr_diag_destroy(&diag);
	return ms;
}

/* One round of every operation; ms[op] += its time. */
static void round_of_changes(control_t *c, int spare, double ms[OPS])
{
	const model_kind_t *rule = model_kind(MODEL_KIND_RULE);
	const model_kind_t *link = model_kind(MODEL_KIND_RULESET_LINK);
	const model_kind_t *rs = model_kind(MODEL_KIND_RECORD_SET);
	json_t *r = json_pack("{s:s, s:s, s:[{s:s}]}", "name", "bench", "domainName",
			      "bench.corp.example.", "targetDnsServers", "ipAddress", "192.168.9.4");
	control_change_t put = {.op = CONTROL_PUT, .kind = rule, .parent = "rs0", .resource = r};
	ms[0] += timed(c, &put);
	json_object_set_new(r, "targetDnsServers",
			    json_pack("[{s:s}]", "ipAddress", "192.168.9.5"));
	ms[1] += timed(c, &put);
	control_change_t del = {.op = CONTROL_DELETE, .kind = rule, .parent = "rs0",
				.name = "bench"};
	ms[2] += timed(c, &del);
	char vnet[32];
	snprintf(vnet, sizeof(vnet), "spoke%d", spare);
	json_t *l = json_pack("{s:s, s:s}", "name", "bench-link", "virtualNetwork", vnet);
	control_change_t lput = {.op = CONTROL_PUT, .kind = link, .parent = "rs0", .resource = l};
	control_change_t ldel = {.op = CONTROL_DELETE, .kind = link, .parent = "rs0",
				 .name = "bench-link"};
	ms[3] += (timed(c, &lput) + timed(c, &ldel)) / 2;
	json_t *s = json_pack("{s:s, s:s, s:[s]}", "name", "bench", "type", "A", "records",
			      "10.200.99.1");
	control_change_t sput = {.op = CONTROL_PUT, .kind = rs, .parent = "big.internal",
				 .resource = s};
	control_change_t sdel = {.op = CONTROL_DELETE, .kind = rs, .parent = "big.internal",
				 .name = "bench", .type = "A"};
	ms[4] += timed(c, &sput);
	ms[5] += timed(c, &sdel);
	json_decref(r);
	json_decref(l);
	json_decref(s);
}

static double open_ms(const char *config, const char *state_dir)
{
	pr_diag_t *diag = pr_diag_new();
	control_t *c = NULL;
	control_options_t o = {.config = config, .state_dir = state_dir};
	uint64_t t0 = pr_now_ns();
	if (control_open(&o, &c, diag) != 0)
		die("open", diag);
	double ms = ms_since(t0);
	control_destroy(&c);
	pr_diag_destroy(&diag);
	return ms;
}

static void bench_size(const size_t_ *sz, int reps, double per_op[OPS])
{
	char dir[] = "/tmp/privres-bench-control-XXXXXX";
	if (!mkdtemp(dir))
		exit(1);
	char *yaml = bench_estate_yaml(&sz->estate);
	char *file = pr_asprintf("%s/estate.yaml", dir), *state = pr_asprintf("%s/state", dir);
	FILE *f = fopen(file, "w");
	fputs(yaml, f);
	fclose(f);
	double from_yaml = open_ms(file, NULL);
	pr_diag_t *diag = pr_diag_new();
	control_t *c = NULL;
	control_options_t o = {.config = file, .state_dir = state};
	if (control_open(&o, &c, diag) != 0)
		die("open", diag);
	int spare = sz->estate.rulesets * sz->estate.links_per_ruleset;
	double ms[OPS] = {0};
	round_of_changes(c, spare, ms); /* the first change writes the snapshot */
	memset(ms, 0, sizeof(ms));
	for (int i = 0; i < reps; i++)
		round_of_changes(c, spare, ms);
	control_destroy(&c);
	double from_state = open_ms(file, state);
	printf("%-26s", sz->name);
	for (int k = 0; k < OPS; k++) {
		per_op[k] = ms[k] / reps;
		printf(" %9.1f", per_op[k]);
	}
	printf("   start: YAML %.0f ms, state %.0f ms\n", from_yaml, from_state);
	fflush(stdout);
	pr_diag_destroy(&diag);
	char *rm = pr_asprintf("rm -rf '%s'", dir);
	if (system(rm) != 0)
		fprintf(stderr, "bench_control: cannot remove %s\n", dir);
	free(rm);
	free(yaml);
	free(file);
	free(state);
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	size_t n = sizeof(sizes) / sizeof(sizes[0]);
	if (reps < 1 || argc > 3) {
		fprintf(stderr, "usage: bench_control [repetitions >= 1 (default 5)] "
				"[number of sizes, smallest first (default %zu)]\n", n);
		return 2;
	}
	if (argc > 2 && atoi(argv[2]) > 0 && (size_t)atoi(argv[2]) < n)
		n = (size_t)atoi(argv[2]); /* the smaller ones only, to profile */
	double per_op[3][OPS];
	printf("ms per change (mean of %d), persisted to a state directory\n%-26s", reps, "size");
	for (int k = 0; k < OPS; k++)
		printf(" %9.9s", op_names[k]);
	printf("\n");
	for (size_t i = 0; i < n; i++)
		bench_size(&sizes[i], reps, per_op[i]);
	printf("%-26s", "ratio largest / smallest");
	for (int k = 0; k < OPS; k++)
		printf(" %9.1f", per_op[n - 1][k] / per_op[0][k]);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("\npeak RSS %ld MB\n", ru.ru_maxrss / 1024);
	return 0;
}
