/* libFuzzer target: DNS UPDATE messages (E-2, E-3) as a client sends them to
 * an emulated on-premises server: read (dns_update_parse), TSIG-checked
 * against a key, applied to a zone (zone_update_apply) and answered. Nothing
 * may crash, leak or write past the answer buffer. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "dns/dns.h"
#include "zones/zones.h"

static const char ZONE[] =
	"{\"name\": \"corp.contoso.com\", \"recordSets\": ["
	"{\"name\": \"static1\", \"type\": \"A\", \"records\": [\"10.1.1.1\"]},"
	"{\"name\": \"multi\", \"type\": \"A\", \"records\": [\"10.1.1.2\", \"10.1.1.3\"]},"
	"{\"name\": \"alias\", \"type\": \"CNAME\", \"records\": [\"static1\"]},"
	"{\"name\": \"@\", \"type\": \"MX\", \"records\": [\"10 mail\"]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t apex[DNS_NAME_MAXLEN];
	static const dns_tsig_key_spec_t key = {"dhcp-key", "hmac-sha256",
						"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="};
	static const model_aging_t aging = {.enabled = true, .no_refresh_hours = 1,
					    .refresh_hours = 1};
	if (!apex[0])
		dns_name_from_text("corp.contoso.com.", apex, NULL, NULL);
	uint8_t answer[DNS_TCP_MESSAGE_MAX];
	dns_update_t *u = NULL;
	const char *why = NULL;
	if (dns_update_parse(data, size, &u, &why) != 0) {
		dns_update_error(data, size, DNS_RCODE_FORMERR, answer, sizeof(answer));
		return 0;
	}
	int tsig = dns_update_verify(u, &key, 1);
	json_t *zone = json_loads(ZONE, 0, NULL);
	zone_update_result_t res;
	int rcode = zone_update_apply(zone, apex, u, 1800000000, &aging, &res);
	size_t removed;
	zone_scavenge(zone, apex, 1800000000 + 3 * 3600, &aging, &removed);
	json_decref(zone);
	dns_update_answer(u, (uint16_t)rcode, &key, (uint16_t)tsig, answer, sizeof(answer));
	dns_update_free(&u);
	return 0;
}
