#!/usr/bin/python3
"""ARM REST over HTTP/2 on the same listener as HTTP/1.1 (ALPN): curl --http2
and --http1.1 against privresd, changes made over one seen over the other,
many concurrent streams on many connections (python3-h2), and HTTP/2
protocol violations (garbage frames, a bad preface, oversized headers and
bodies, a rapid-reset flood, answered with GOAWAY or stream
errors while other clients are served and nothing crashes."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.chdir("/")

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402

from arm_harness import NET, check, finish, start  # noqa: E402

TOKEN = "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJwcml2cmVzIn0.c2ln"
ZONES = NET + "/privateDnsZones"
RESOLVERS = NET + "/dnsResolvers?api-version=2022-07-01"


def curl(port, ca, version, method, path, body=None):
    """(HTTP version, status, JSON body) of one curl request."""
    with tempfile.NamedTemporaryFile("w+b") as f:
        cmd = ["curl", "-sS", version, "--cacert", ca, "-X", method, "-o", f.name,
               "-w", "%{http_version} %{http_code}", "-H", "Authorization: " + TOKEN,
               "-H", "Content-Type: application/json",
               "https://127.0.0.1:%d%s" % (port, path)]
        if body is not None:
            cmd[1:1] = ["--data-binary", "@-"]
        r = subprocess.run(cmd, input=body, capture_output=True, timeout=60)
        f.seek(0)
        text = f.read()
    out = r.stdout.decode().split()
    try:
        j = json.loads(text) if text else None
    except ValueError:
        j = None
    return (out[0], int(out[1]), j) if len(out) == 2 else (None, 0, None)


def tls(port, ca, alpn=("h2",)):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(list(alpn))
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return ctx.wrap_socket(s, server_hostname="localhost")


class H2:
    """A client connection driven by python3-h2 over TLS with ALPN h2."""

    def __init__(self, port, ca):
        self.sock = tls(port, ca)
        self.alpn = self.sock.selected_alpn_protocol()
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.bodies, self.status, self.resets, self.ended = {}, {}, set(), set()
        self.terminated = None

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", extra=()):
        sid = self.conn.get_next_available_stream_id()
        hd = [(":method", method), (":path", path), (":scheme", "https"),
              (":authority", "127.0.0.1"), ("authorization", TOKEN)] + list(extra)
        self.conn.send_headers(sid, hd, end_stream=True)
        return sid

    def pump(self, until, limit=20.0):
        end = time.time() + limit
        while not until() and self.terminated is None and time.time() < end:
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                break
            if not data:
                break
            for ev in self.conn.receive_data(data):
                self.event(ev)
            self.flush()

    def event(self, ev):
        if isinstance(ev, h2.events.ResponseReceived):
            self.status[ev.stream_id] = int(dict(ev.headers)[b":status"])
        elif isinstance(ev, h2.events.DataReceived):
            self.bodies[ev.stream_id] = self.bodies.get(ev.stream_id, b"") + ev.data
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            self.ended.add(ev.stream_id)
        elif isinstance(ev, h2.events.StreamReset):
            self.resets.add(ev.stream_id)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.terminated = ev.error_code

    def close(self):
        self.sock.close()


def raw_h2(port, ca, payload):
    """Send payload on a fresh h2 connection; every octet read back until the
    server closes (or 10 s)."""
    s = tls(port, ca)
    s.sendall(payload)
    got = b""
    s.settimeout(10)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except (socket.timeout, ssl.SSLError, OSError):
        pass
    s.close()
    return got


def has_goaway(data):
    """Whether a GOAWAY frame (type 7) is among the frames of data."""
    off = 0
    while off + 9 <= len(data):
        n = int.from_bytes(data[off:off + 3], "big")
        if data[off + 3] == 7:
            return True
        off += 9 + n
    return False


def serves(port, ca):
    v, st, j = curl(port, ca, "--http2", "GET", RESOLVERS)
    return v == "2" and st == 200 and bool(j and j.get("value"))


def main():
    d, port, ca = start(None, "arm-h2")
    try:
        # curl, both versions, on the one port
        v, st, j = curl(port, ca, "--http2", "GET", RESOLVERS)
        check(v == "2" and st == 200 and len(j["value"]) >= 1,
              "curl --http2 lists resolvers over HTTP/2 (%s %s)" % (v, st))
        v1, st1, j1 = curl(port, ca, "--http1.1", "GET", RESOLVERS)
        check(v1 == "1.1" and st1 == 200 and j1 == j,
              "curl --http1.1 gets the same list over HTTP/1.1 (%s %s)" % (v1, st1))
        zone = ZONES + "/h2.example?api-version=2020-06-01"
        v, st, j = curl(port, ca, "--http2", "PUT", zone, b'{"location": "global"}')
        check(v == "2" and st == 201 and j and j["name"] == "h2.example",
              "PUT of a private zone over HTTP/2: 201 (%s)" % st)
        v, st, j = curl(port, ca, "--http1.1", "GET", zone)
        check(st == 200 and j["name"] == "h2.example", "the zone is seen over HTTP/1.1")
        v, st, j = curl(port, ca, "--http2", "GET", zone.replace("?", "x?"))
        check(st == 404 and j["error"]["code"] == "ResourceNotFound",
              "an unknown zone over HTTP/2: 404 ResourceNotFound (%s)" % st)
        v, st, j = curl(port, ca, "--http2", "PUT", zone, b'{"location": ')
        check(st == 400 and j["error"]["code"] == "InvalidRequestContent",
              "malformed JSON over HTTP/2: 400 InvalidRequestContent (%s)" % st)
        big = b'{"location": "global", "tags": {"a": "' + b"x" * (5 << 20) + b'"}}'
        v, st, j = curl(port, ca, "--http2", "PUT", zone, big)
        check(st == 413 and j["error"]["code"] == "RequestEntityTooLarge",
              "a 5 MiB body over HTTP/2: 413 (%s)" % st)
        v, st, j = curl(port, ca, "--http2", "DELETE", zone)
        check(v == "2" and st in (200, 202), "DELETE of the zone over HTTP/2 (%s)" % st)
        v, st, j = curl(port, ca, "--http1.1", "GET", zone)
        check(st == 404, "the deleted zone is gone over HTTP/1.1 (%s)" % st)

        # headers that matter: the token, the query string, the LRO headers
        c = H2(port, ca)
        check(c.alpn == "h2", "python3-h2 negotiates h2 by ALPN")
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "GET"), (":path", RESOLVERS),
                                  (":scheme", "https"), (":authority", "127.0.0.1")],
                            end_stream=True)
        c.flush()
        top = c.request(NET + "/virtualNetworks?api-version=2022-07-01&%24top=1")
        c.flush()
        c.pump(lambda: {sid, top} <= c.ended)
        err = json.loads(c.bodies.get(sid, b"{}"))
        check(c.status.get(sid) == 401 and err["error"]["code"] == "AuthenticationFailed",
              "no token over HTTP/2: 401 AuthenticationFailed")
        page = json.loads(c.bodies.get(top, b"{}"))
        check(c.status.get(top) == 200 and len(page.get("value", [])) == 1 and
              page.get("nextLink", "").startswith("https://127.0.0.1/"),
              "$top=1 (percent-encoded) pages over HTTP/2, nextLink on :authority")
        c.close()

        # many concurrent streams on many connections
        results = []

        def many(n_streams):
            cl = H2(port, ca)
            ids = [cl.request(RESOLVERS) for _ in range(n_streams)]
            cl.flush()
            cl.pump(lambda: set(ids) <= cl.ended, limit=60)
            ok = all(cl.status.get(i) == 200 and
                     json.loads(cl.bodies.get(i, b"{}")).get("value") for i in ids)
            results.append(ok)
            cl.close()
        t0 = time.time()
        threads = [threading.Thread(target=many, args=(100,)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(len(results) == 20 and all(results),
              "20 connections x 100 concurrent streams all answered 200 (%.1f s)"
              % (time.time() - t0))

        # the session's limits as it announces them
        cl = H2(port, ca)
        cl.pump(lambda: cl.conn.remote_settings.max_concurrent_streams < 1000, limit=5)
        check(cl.conn.remote_settings.max_concurrent_streams == 128,
              "SETTINGS_MAX_CONCURRENT_STREAMS is 128")
        cl.close()

        # protocol violations
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
        got = raw_h2(port, ca, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        check(has_goaway(got), "HTTP/1.1 text after ALPN h2: GOAWAY")
        got = raw_h2(port, ca, preface + settings + b"\x00\x00\x10\xee\x00\x00\x00\x00\x01"
                     + os.urandom(16) + b"\xff" * 200)
        check(has_goaway(got), "garbage frames after the preface: GOAWAY")
        # DATA on stream 0 is a connection error (RFC 9113 §6.1)
        got = raw_h2(port, ca, preface + settings + b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
        check(has_goaway(got), "DATA on stream 0: GOAWAY")
        # a header field of 100 KB (past SETTINGS_MAX_HEADER_LIST_SIZE)
        cl = H2(port, ca)
        sid = cl.request(RESOLVERS, extra=[("x-big", "y" * 100000)])
        cl.flush()
        cl.pump(lambda: sid in cl.ended or sid in cl.resets)
        check(cl.terminated is not None or sid in cl.resets or cl.status.get(sid, 0) >= 400,
              "a 100 KB header: stream or connection error (status %s, reset %s, goaway %s)"
              % (cl.status.get(sid), sid in cl.resets, cl.terminated))
        cl.close()
        # 150 header fields: 431
        cl = H2(port, ca)
        sid = cl.request(RESOLVERS, extra=[("x-h%d" % i, "v") for i in range(150)])
        cl.flush()
        cl.pump(lambda: sid in cl.ended or sid in cl.resets)
        check(cl.status.get(sid) == 431, "150 header fields: 431 (%s)" % cl.status.get(sid))
        cl.close()
        # a rapid-reset flood (CVE-2023-44487): nghttp2's limit ends the connection
        cl = H2(port, ca)
        for _ in range(3000):
            s = cl.request(RESOLVERS)
            cl.conn.reset_stream(s)
        try:
            cl.flush()
        except OSError:
            pass
        cl.pump(lambda: False, limit=10)
        check(cl.terminated is not None, "3,000 requests reset at once: GOAWAY (%s)"
              % cl.terminated)
        cl.close()
        # a ClientHello offering h2 then silence, and a half ClientHello
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"\x16\x03\x01\x02\x00\x01")
        check(serves(port, ca), "a half ClientHello does not hold the listener")
        s.close()
        check(serves(port, ca), "after every violation, other clients are served over h2")
        v1, st1, _ = curl(port, ca, "--http1.1", "GET", RESOLVERS)
        check(st1 == 200, "and over HTTP/1.1")
        check(d.proc.poll() is None, "privresd is still running")
    finally:
        rc = d.stop()
    check(rc == 0, "privresd stopped cleanly (exit %s, no sanitizer report)" % rc)
    check("AddressSanitizer" not in d.log() and "runtime error" not in d.log(),
          "no sanitizer report in the log")
    finish()


main()
