/* The ARM protocol (arm_handle) over the real control with the default
 * deployment: input is "METHOD PATH?QUERY\nHEADER: value\n...\n\nBODY". Any
 * request must get an answer with a status, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arm/arm.h"
#include "control/control.h"
#include "fuzz_arm_open.h"

static arm_t *arm;

/* The value of "name=" in query q (a copy in buf), or NULL. */
static const char *param(const char *q, const char *name, char *buf, size_t cap)
{
	const char *p = q ? strstr(q, name) : NULL;
	if (!p)
		return NULL;
	p += strlen(name);
	size_t n = strcspn(p, "&");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arm = fuzz_arm_open();
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *body = strstr(text, "\n\n");
	if (body)
		*body = '\0', body += 2;
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	char *method = line ? strtok(line, " ") : NULL;
	char *path = method ? strtok(NULL, " ") : NULL;
	char *query = path ? strchr(path, '?') : NULL;
	if (query)
		*query++ = '\0';
	char v[64], top[16], skip[16];
	arm_request_t rq = {.method = method ? method : "GET", .path = path ? path : "/",
			    .api_version = param(query, "api-version=", v, sizeof(v)),
			    .top = param(query, "$top=", top, sizeof(top)),
			    .skip_token = param(query, "$skipToken=", skip, sizeof(skip)),
			    .authorization = "Bearer aGVhZA.Ym9keQ.c2ln", .host = "fuzz",
			    .body = body, .body_len = body ? strlen(body) : 0};
	for (char *h = strtok_r(NULL, "\n", &save); h; h = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(h, "If-Match: ", 10))
			rq.if_match = h + 10;
		else if (!strncmp(h, "If-None-Match: ", 15))
			rq.if_none_match = h + 15;
		else if (!strncmp(h, "Authorization: ", 15))
			rq.authorization = h + 15;
	}
	arm_response_t rs;
	arm_handle(arm, &rq, &rs);
	if (rs.status < 200 || rs.status > 599)
		abort();
	arm_response_clear(&rs);
	free(text);
	return 0;
}
