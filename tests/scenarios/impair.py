#!/usr/bin/python3
"""A lossy, slow link in user space, for kernels without sch_netem: a UDP relay
on LISTEN (addr:port) to TARGET (addr:port) that, in both directions, drops a
share of the datagrams, delays each by a uniform time in [delay-jitter,
delay+jitter] (which reorders them) and duplicates a share. Runs until
SIGTERM; prints one line of counts at exit.
  impair.py LISTEN TARGET LOSS DELAY_MS JITTER_MS DUPLICATE [SEED]"""
import heapq
import random
import select
import signal
import socket
import sys
import time


def addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


listen, target = addr(sys.argv[1]), addr(sys.argv[2])
loss, delay, jitter, dup = (float(sys.argv[3]), float(sys.argv[4]) / 1000,
                            float(sys.argv[5]) / 1000, float(sys.argv[6]))
rng = random.Random(int(sys.argv[7]) if len(sys.argv) > 7 else 1)
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.bind(listen)
backs = {}    # client address -> socket towards the target
clients = {}  # socket -> client address
queue = []    # (time, seq, socket, data, destination)
seq = 0
counts = {"in": 0, "dropped": 0, "duplicated": 0, "sent": 0}
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))


def impair(sock, data, dest):
    global seq
    counts["in"] += 1
    if rng.random() < loss:
        counts["dropped"] += 1
        return
    copies = 2 if rng.random() < dup else 1
    counts["duplicated"] += copies - 1
    for _ in range(copies):
        at = time.monotonic() + max(0.0, rng.uniform(delay - jitter, delay + jitter))
        seq += 1
        heapq.heappush(queue, (at, seq, sock, data, dest))


while not stop:
    timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 0.2
    try:
        ready, _, _ = select.select([front] + list(clients), [], [], min(timeout, 0.2))
    except InterruptedError:
        continue
    for s in ready:
        data, src = s.recvfrom(65535)
        if s is front:
            back = backs.get(src)
            if back is None:
                back = backs[src] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                back.bind((listen[0], 0))
                clients[back] = src
            impair(back, data, target)
        else:
            impair(front, data, clients[s])
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, sock, data, dest = heapq.heappop(queue)
        sock.sendto(data, dest)
        counts["sent"] += 1
print("impair %s: %s" % (sys.argv[1], counts), flush=True)
