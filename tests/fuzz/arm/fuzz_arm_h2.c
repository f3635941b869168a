/* The ARM surface's HTTP/2 session (arm_h2) over the real control with the
 * default deployment, and the front's ClientHello reader, on the same input:
 * the client preface and then the input as frames from the client. Every
 * request is answered by arm_handle(); nothing may crash, hang or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arm/arm_p.h"
#include "control/control.h"
#include "fuzz_arm_open.h"

static arm_t *arm;
static arm_h2_t *session;

static void on_request(void *arg, int32_t stream, const arm_request_t *rq)
{
	arm_response_t rs;
	arm_handle(arm, rq, &rs);
	arm_h2_respond(session, stream, &rs);
	arm_response_clear(&rs);
}

static int sink(void *arg, const uint8_t *data, size_t len)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
					 "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
	arm = fuzz_arm_open();
	arm_client_hello_h2(data, size);
	arm_h2_callbacks_t cb = {.request = on_request, .send = sink};
	if (arm_h2_new(&cb, NULL, &session) != 0)
		abort();
	if (arm_h2_recv(session, preface, sizeof(preface) - 1) == 0)
		arm_h2_recv(session, data, size);
	arm_h2_flush(session);
	arm_h2_destroy(&session);
	return 0;
}
