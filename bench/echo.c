/* The ceiling of a UDP DNS server on this machine: N threads, each with its
 * own SO_REUSEPORT socket, reading batches with recvmmsg and sending each
 * query back with sendmmsg after setting QR (so dnsperf counts it as an
 * answer). No parsing, no lookup: what is left is the kernel's cost per
 * packet, the floor that every server in bench/run is measured against.
 *   bench_echo PORT [threads, default 2]
 * Runs until killed. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BATCH = 64, SLOT = 4096 };

static int open_socket(int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("bench_echo: socket");
		exit(1);
	}
	return fd;
}

static void *serve(void *arg)
{
	int fd = *(int *)arg;
	static __thread unsigned char bufs[BATCH][SLOT];
	struct sockaddr_in from[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];

	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = SLOT };
			msgs[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
				.msg_namelen = sizeof(from[i]), .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			iov[i].iov_len = msgs[i].msg_len;
			if (msgs[i].msg_len >= 3)
				bufs[i][2] |= 0x80; /* QR */
		}
		for (int sent = 0; sent < n;) {
			int r = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);
			if (r <= 0)
				break;
			sent += r;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_echo PORT [threads]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	int threads = argc > 2 ? atoi(argv[2]) : 2;
	if (threads < 1 || threads > 64)
		threads = 2;
	int fds[64];
	pthread_t tids[64];

	for (int i = 0; i < threads; i++)
		fds[i] = open_socket(port);
	for (int i = 1; i < threads; i++)
		pthread_create(&tids[i], NULL, serve, &fds[i]);
	serve(&fds[0]);
	return 0;
}
