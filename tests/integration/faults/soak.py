#!/usr/bin/python3
"""Soak run (scripts/soak): privresd under mixed load at half of saturation for
the given minutes, with record set and forwarding rule churn through the API
and a SIGHUP reload every few seconds; RSS, open file descriptors and the p99
latency sampled every interval. Fails when a query goes unanswered past its
timeout (more than 0.1%), when file descriptors grow, or when RSS after the
warm-up (the first quarter) leaves ±tolerance% of its first sample.

  soak.py MINUTES [--interval S] [--rss-tolerance PCT] [--json FILE]
Needs PRIVRES_BUILD_DIR (the build tree)."""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, PRIVRESD, Privresd  # noqa: E402

import dns.message  # noqa: E402

HOST = "127.0.0.1"
PRIVRESCTL = os.path.join(BUILD, "api", "privresctl")
# what a spoke asks: private zone answers, CNAME, NXDOMAIN, NODATA, a rule
# whose target is not mapped (SERVFAIL at once), the public zone
NAMES = [("web.azure.contoso.com", "A"), ("api.azure.contoso.com", "A"),
         ("azure.contoso.com", "MX"), ("nothere.azure.contoso.com", "A"),
         ("web.azure.contoso.com", "AAAA"), ("host.contoso.com", "A"),
         ("contosostorage.privatelink.blob.core.windows.net", "A"),
         ("www.example.com", "A")]


class Load:
    """Paced UDP queries from one socket; latency per answer by ID."""

    def __init__(self, port, rate):
        self.port, self.rate = port, rate
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.sock.connect((HOST, port))
        self.sock.settimeout(0.2)
        self.wires = []
        for name, rdtype in NAMES:
            self.wires.append(bytearray(dns.message.make_query(name, rdtype).to_wire()))
        self.pending = {}
        self.lat = []
        self.sent = self.answered = self.lost = 0
        self.lock = threading.Lock()
        self.stop = False

    def sender(self):
        qid, n = 0, 0
        start = time.monotonic()
        while not self.stop:
            due = start + n / self.rate
            now = time.monotonic()
            if due > now:
                time.sleep(min(due - now, 0.01))
                continue
            qid = (qid + 1) & 0xFFFF
            w = self.wires[n % len(self.wires)]
            struct.pack_into("!H", w, 0, qid)
            with self.lock:
                if qid in self.pending:
                    self.lost += 1  # not answered in 65536 queries' time
                self.pending[qid] = now
            try:
                self.sock.send(w)
            except OSError:
                pass
            self.sent += 1
            n += 1

    def receiver(self):
        while not self.stop:
            try:
                data = self.sock.recv(65535)
            except (socket.timeout, OSError):
                continue
            qid = struct.unpack("!H", data[:2])[0]
            with self.lock:
                t = self.pending.pop(qid, None)
            if t is not None:
                self.lat.append(time.monotonic() - t)
                self.answered += 1

    def expire(self, older_than=2.0):
        now = time.monotonic()
        with self.lock:
            old = [k for k, t in self.pending.items() if now - t > older_than]
            for k in old:
                del self.pending[k]
        self.lost += len(old)

    def window(self):
        lat, self.lat = self.lat, []
        return lat

    def run(self):
        self.threads = [threading.Thread(target=self.sender), threading.Thread(target=self.receiver)]
        for t in self.threads:
            t.start()

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join()
        self.sock.close()


def saturation(port, seconds=3.0):
    """Answers per second with 64 queries always outstanding (the closed-loop
    peak of this client and privresd together)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((HOST, port))
    s.settimeout(0.5)
    w = dns.message.make_query(NAMES[0][0], "A").to_wire()
    for _ in range(64):
        s.send(w)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            s.recv(4096)
            n += 1
            s.send(w)
        except socket.timeout:
            s.send(w)
    s.close()
    return n / seconds


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))] if xs else 0.0


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Churn:
    """API changes (a record set put and deleted, a rule put and deleted) and
    SIGHUP reloads, from one thread."""

    def __init__(self, d, reload_every):
        self.d, self.reload_every = d, reload_every
        self.sock = os.path.join(d.dir, "api.sock")
        self.calls = self.failed = self.reloads = 0
        self.stop = False
        self.rng = random.Random(3)

    def call(self, method, body):
        p = subprocess.run([PRIVRESCTL, "--socket", self.sock, "call", method, json.dumps(body)],
                           capture_output=True, text=True, timeout=30)
        self.calls += 1
        # deleting what a random pick never created is refused: not a failure
        if p.returncode != 0 and "NotFound" not in p.stdout + p.stderr:
            self.failed += 1
            self.last_error = p.stdout + p.stderr

    def run(self):
        self.thread = threading.Thread(target=self.loop)
        self.thread.start()

    def loop(self):
        last_reload = time.monotonic()
        i = 0
        while not self.stop:
            i += 1
            n = self.rng.randrange(20)
            if i % 2:
                self.call("/privres.v1.RecordSetService/CreateOrUpdate", {
                    "zoneName": "azure.contoso.com",
                    "recordSet": {"name": "soak%d" % n, "type": "A", "ttl": 30,
                                  "records": ["10.10.9.%d" % (n + 1)]}})
                self.call("/privres.v1.ForwardingRuleService/CreateOrUpdate", {
                    "rulesetName": "hub-rules",
                    "forwardingRule": {"name": "soak%d" % n, "domainName": "soak%d.example." % n,
                                       "targetDnsServers": [{"ipAddress": "10.100.0.9",
                                                             "port": 53}]}})
            else:
                self.call("/privres.v1.RecordSetService/Delete", {
                    "zoneName": "azure.contoso.com", "name": "soak%d" % n, "recordType": "A"})
                self.call("/privres.v1.ForwardingRuleService/Delete", {
                    "rulesetName": "hub-rules", "name": "soak%d" % n})
            if time.monotonic() - last_reload >= self.reload_every:
                self.d.signal(signal.SIGHUP)
                self.reloads += 1
                last_reload = time.monotonic()
            time.sleep(0.2)

    def close(self):
        self.stop = True
        self.thread.join()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("minutes", type=float)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--rss-tolerance", type=float, default=5.0)
    ap.add_argument("--reload-every", type=float, default=5.0)
    ap.add_argument("--max-rate", type=float, default=3000.0)
    ap.add_argument("--json")
    a = ap.parse_args()
    if not 0 < a.minutes <= 24 * 60:
        ap.error("minutes: more than 0, at most a day")
    state = tempfile.mkdtemp(prefix="privres-soak-")
    # under ASan, freed memory waits in a quarantine (256 MiB by default) and
    # RSS grows until it is full: a small one makes RSS say what privresd holds
    os.environ["ASAN_OPTIONS"] = ":".join(
        x for x in [os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=4"] if x)
    text = subprocess.run([PRIVRESD, "--print-default"], capture_output=True, text=True,
                          check=True).stdout.replace("emulator:\n", "emulator:\n  basePort: 0\n", 1)
    d = Privresd(text, args=["--quiet"], state_dir=state)
    load = churn = None
    samples = []
    try:
        port = d.port("azure-dns/spoke1")
        peak = saturation(port)
        # half of saturation, at most what one Python client paces evenly
        rate = max(50.0, min(peak / 2, a.max_rate))
        print("soak: saturation %.0f answers/s (this client and privresd on a shared "
              "machine); load at %.0f/s for %.1f min" % (peak, rate, a.minutes), flush=True)
        load, churn = Load(port, rate), Churn(d, a.reload_every)
        load.run()
        churn.run()
        end = time.monotonic() + a.minutes * 60
        print("%6s %9s %5s %8s %8s %7s %6s" % ("t(s)", "rss(KiB)", "fds", "qps", "p99(ms)",
                                               "lost", "api"), flush=True)
        t0 = time.monotonic()
        while time.monotonic() < end:
            time.sleep(min(a.interval, max(0.0, end - time.monotonic())))
            load.expire()
            lat = load.window()
            s = {"t": round(time.monotonic() - t0, 1), "rss_kib": rss_kib(d.proc.pid),
                 "fds": len(os.listdir("/proc/%d/fd" % d.proc.pid)),
                 "qps": round(len(lat) / a.interval), "p99_ms": round(p99(lat) * 1000, 2),
                 "lost": load.lost, "api_calls": churn.calls}
            samples.append(s)
            print("%6.0f %9d %5d %8d %8.2f %7d %6d" % (s["t"], s["rss_kib"], s["fds"], s["qps"],
                                                       s["p99_ms"], s["lost"], s["api_calls"]),
                  flush=True)
    finally:
        if load:
            load.close()
        if churn:
            churn.close()
        rc = d.stop()
        shutil.rmtree(state, ignore_errors=True)
    failures = []
    if rc != 0:
        failures.append("privresd exited %d" % rc)
    if load.lost > max(1, load.sent // 1000):
        failures.append("%d of %d queries unanswered" % (load.lost, load.sent))
    if churn.failed:
        failures.append("%d of %d API calls failed: %s" % (churn.failed, churn.calls,
                                                            churn.last_error))
    warm = samples[len(samples) // 4:] if len(samples) >= 4 else samples[-1:]
    if warm:
        base = warm[0]["rss_kib"]
        worst = max(abs(s["rss_kib"] - base) * 100.0 / base for s in warm)
        if worst > a.rss_tolerance:
            failures.append("RSS moved %.1f%% after warm-up (tolerance %.1f%%)"
                            % (worst, a.rss_tolerance))
        if max(s["fds"] for s in warm) > warm[0]["fds"] + 4:
            failures.append("file descriptors grew: %s" % [s["fds"] for s in warm])
    summary = {"minutes": a.minutes, "rate": rate, "saturation": peak, "sent": load.sent,
               "answered": load.answered, "lost": load.lost, "api_calls": churn.calls,
               "api_failed": churn.failed, "reloads": churn.reloads, "samples": samples,
               "failures": failures}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
    print("soak: %d queries, %d answered, %d lost; %d API calls (%d failed), %d reloads; %s"
          % (load.sent, load.answered, load.lost, churn.calls, churn.failed, churn.reloads,
             "; ".join(failures) or "flat"), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
