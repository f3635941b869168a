/*
 * schema — the one file that includes the code protoc-c generates from
 * api/privres.proto (style.md §13). Everything else in api/ works from the
 * descriptors it hands out, through pbjson, so resources are converted to the
 * cloud-shaped JSON the model reads at once.
 */
#include <string.h>

#include "api/api_p.h"
#include "api/privres.pb-c.h"
#include "base/base.h"

static const ProtobufCServiceDescriptor *const services[] = {
	&privres__v1__virtual_network_service__descriptor,
	&privres__v1__dns_resolver_service__descriptor,
	&privres__v1__inbound_endpoint_service__descriptor,
	&privres__v1__outbound_endpoint_service__descriptor,
	&privres__v1__dns_forwarding_ruleset_service__descriptor,
	&privres__v1__forwarding_rule_service__descriptor,
	&privres__v1__virtual_network_link_service__descriptor,
	&privres__v1__private_dns_zone_service__descriptor,
	&privres__v1__record_set_service__descriptor,
	&privres__v1__private_zone_virtual_network_link_service__descriptor,
	&privres__v1__dns_resolver_domain_list_service__descriptor,
	&privres__v1__dns_resolver_policy_service__descriptor,
	&privres__v1__dns_security_rule_service__descriptor,
	&privres__v1__policy_virtual_network_link_service__descriptor,
	&privres__v1__virtual_machine_service__descriptor,
	&privres__v1__external_dns_server_service__descriptor,
	&privres__v1__deployment_service__descriptor,
	&privres__v1__diagnostics_service__descriptor,
	NULL,
};

const ProtobufCServiceDescriptor *const *api_schema_services(void)
{
	return services;
}

int api_schema_method(const char *path, const ProtobufCMessageDescriptor **in,
		      const ProtobufCMessageDescriptor **out)
{
	if (path[0] == '/')
		path++;
	const char *slash = strchr(path, '/');
	if (!slash)
		return PR_ENOTFOUND;
	size_t svc_len = (size_t)(slash - path);

	for (size_t i = 0; services[i]; i++) {
		const ProtobufCServiceDescriptor *s = services[i];
		/* full name "privres.v1.X" or the short one "X" */
		if (!((strlen(s->name) == svc_len && memcmp(s->name, path, svc_len) == 0) ||
		      (strlen(s->short_name) == svc_len && memcmp(s->short_name, path, svc_len) == 0)))
			continue;
		const ProtobufCMethodDescriptor *m =
			protobuf_c_service_descriptor_get_method_by_name(s, slash + 1);
		if (!m)
			return PR_ENOTFOUND;
		*in = m->input;
		*out = m->output;
		return 0;
	}
	return PR_ENOTFOUND;
}
