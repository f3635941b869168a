/* The `topology:` section (design.md §8). */
#include "model/model_p.h"

void model_decode_topology(model_ctx_t *c, const json_t *root)
{
	const json_t *t = json_object_get(root, "topology");
	if (t && !json_is_object(t))
		model_report(c, root, "topology", "", NULL, PR_ECONFIG,
			     "must be a mapping (onPremisesNetworks: …)");
}

void model_validate_topology(model_ctx_t *c)
{
	(void)c;
}
