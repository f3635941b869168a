/*
 * Validating and compiling the largest legal deployment (semantics.md §1):
 * 15 resolvers (L-8) with 5 inbound and 5 outbound endpoints each (L-6),
 * 30 rulesets of 1,000 rules (L-1) with 2 targets, each linked to 500 VNets
 * (L-2), 1,000 private zones (L-10) and one zone of 25,000 record sets (L-11).
 * Prints the time of each stage and the peak memory.
 *   bench_model [rulesets (default 30)] [links per ruleset (default 500)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "linker/linker.h"
#include "bench/estate.h"
#include "model/model.h"

static double ms_since(uint64_t t0)
{
	return (double)(pr_now_ns() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	int n_rulesets = argc > 1 ? atoi(argv[1]) : 30;
	int n_links = argc > 2 ? atoi(argv[2]) : 500;
	uint64_t t0 = pr_now_ns();
	bench_estate_t e = BENCH_ESTATE_LARGEST;
	e.rulesets = n_rulesets;
	e.links_per_ruleset = n_links;
	char *text = bench_estate_yaml(&e);
	printf("deployment: %d rulesets x 1000 rules, %d VNet links each, 1000 zones, "
	       "25000 record sets in one; %.1f MB of YAML (generated in %.0f ms)\n",
	       n_rulesets, n_links, strlen(text) / 1e6, ms_since(t0));
	pr_diag_t *diag = pr_diag_new();
	t0 = pr_now_ns();
	model_doc_t *doc = NULL;
	if (model_doc_load_text(text, strlen(text), "bench.yaml", &doc, diag) != 0)
		goto fail;
	double t_yaml = ms_since(t0);
	t0 = pr_now_ns();
	deployment_t *d = NULL;
	if (deployment_from_doc(&doc, &d, diag) != 0)
		goto fail;
	double t_validate = ms_since(t0);
	t0 = pr_now_ns();
	linker_t *l = NULL;
	if (linker_build(d, &l, diag) != 0)
		goto fail;
	double t_link = ms_since(t0);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("YAML parse        %8.0f ms\n", t_yaml);
	printf("decode + validate %8.0f ms\n", t_validate);
	printf("views + loops     %8.0f ms\n", t_link);
	printf("total             %8.0f ms, peak RSS %ld MB\n", t_yaml + t_validate + t_link,
	       ru.ru_maxrss / 1024);
	linker_destroy(&l);
	deployment_destroy(&d);
	pr_diag_destroy(&diag);
	free(text);
	return 0;
fail:;
	char *s = pr_diag_format(diag);
	fprintf(stderr, "%.2000s", s);
	free(s);
	return 1;
}
