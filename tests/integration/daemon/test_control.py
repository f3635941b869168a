"""One owner of the running deployment (control/): a SIGHUP reload and an API
change land in the same deployment, both are exported, both survive a
restart from the state directory; a reload with errors changes nothing; the
journal survives kill -9 at any point (design.md §3, §7)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, PRIVRESD, Privresd  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

PRIVRESCTL = os.path.join(BUILD, "api", "privresctl")
HOST = "127.0.0.1"
FILE_RECORD = """      - {name: fromfile, type: A, ttl: 300, records: [10.10.2.61]}
"""


def ask(port, name):
    return dns.query.udp(dns.message.make_query(name, "A"), HOST, port=port, timeout=3)


def addresses(port, name):
    resp = ask(port, name)
    return sorted(r.address for rr in resp.answer for r in rr if rr.rdtype == dns.rdatatype.A)


def default_yaml():
    text = subprocess.run([PRIVRESD, "--print-default"], capture_output=True, text=True,
                          check=True).stdout
    return text.replace("emulator:\n", "emulator:\n  basePort: 0\n", 1)


def with_file_record(text):
    """The default deployment with one more record set in azure.contoso.com."""
    anchor = "      - {name: web"
    at = text.index(anchor)
    return text[:at] + FILE_RECORD + text[at:]


def wait_for(fn, expected, seconds=3.0):
    end = time.time() + seconds
    while time.time() < end and fn() != expected:
        time.sleep(0.05)
    return fn()


class Control(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="privres-state-")
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop()
        shutil.rmtree(self.state, ignore_errors=True)

    def start(self, text):
        self.d = Privresd(text, args=["--quiet"], state_dir=self.state)
        return self.d.port("azure-dns/spoke1")

    def ctl(self, *args):
        p = subprocess.run([PRIVRESCTL, "--socket", os.path.join(self.d.dir, "api.sock")] +
                           list(args), capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def add_api_record(self):
        rc, out, err = self.ctl("call", "/privres.v1.RecordSetService/CreateOrUpdate", json.dumps({
            "zoneName": "azure.contoso.com",
            "recordSet": {"name": "fromapi", "type": "A", "ttl": 60,
                          "records": ["10.10.2.62"]}}))
        self.assertEqual(rc, 0, err)

    def reload(self, text):
        self.d.write_config(text)
        before = self.d.log()
        self.d.signal(signal.SIGHUP)
        end = time.time() + 5
        while time.time() < end and self.d.log() == before:
            time.sleep(0.05)
        return self.d.log()[len(before):]

    def kill9_and_restart(self):
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        self.d.out.close()
        text = open(self.d.config).read()
        self.d = None
        return self.start(text)

    def test_reload_then_api_change_both_answer_export_and_survive(self):
        port = self.start(default_yaml())
        # the file's record, by SIGHUP
        said = self.reload(with_file_record(default_yaml()))
        self.assertIn("reloaded", said)
        self.assertEqual(addresses(port, "fromfile.azure.contoso.com"), ["10.10.2.61"])
        # then the API's record: the reloaded one stays
        self.add_api_record()
        self.assertEqual(wait_for(lambda: addresses(port, "fromapi.azure.contoso.com"),
                                  ["10.10.2.62"]), ["10.10.2.62"])
        self.assertEqual(addresses(port, "fromfile.azure.contoso.com"), ["10.10.2.61"])
        rc, out, err = self.ctl("export")
        self.assertEqual(rc, 0, err)
        self.assertIn("fromfile", out)
        self.assertIn("fromapi", out)
        # both survive a restart from the state directory (which wins over --config)
        self.d.stop()
        self.d = None
        port = self.start(default_yaml())
        self.assertEqual(addresses(port, "fromfile.azure.contoso.com"), ["10.10.2.61"])
        self.assertEqual(addresses(port, "fromapi.azure.contoso.com"), ["10.10.2.62"])

    def test_reload_with_errors_changes_nothing(self):
        port = self.start(default_yaml())
        self.add_api_record()
        bad = with_file_record(default_yaml()).replace("10.10.2.61", "10.10.2.999")
        said = self.reload(bad)
        self.assertIn("refused", said)
        self.assertEqual(ask(port, "fromfile.azure.contoso.com").rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(addresses(port, "fromapi.azure.contoso.com"), ["10.10.2.62"])
        port = self.kill9_and_restart()
        self.assertEqual(addresses(port, "fromapi.azure.contoso.com"), ["10.10.2.62"])
        self.assertEqual(ask(port, "fromfile.azure.contoso.com").rcode(), dns.rcode.NXDOMAIN)

    def test_journal_holds_one_line_per_change_and_survives_kill9(self):
        port = self.start(default_yaml())
        for i in range(1, 21):
            rc, out, err = self.ctl("call", "/privres.v1.RecordSetService/CreateOrUpdate",
                                    json.dumps({"zoneName": "azure.contoso.com",
                                                "recordSet": {"name": "n%d" % i, "type": "A",
                                                              "records": ["10.10.2.%d" % i]}}))
            self.assertEqual(rc, 0, err)
        # the first change wrote the snapshot, the others one journal line each
        with open(os.path.join(self.state, "journal")) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 19)
        self.assertEqual([json.loads(l)["sequence"] for l in lines], list(range(2, 21)))
        # a torn last line (the process died while writing it) is cut, not refused
        with open(os.path.join(self.state, "journal"), "a") as f:
            f.write('{"sequence": 21, "change": {"op": "put"')
        port = self.kill9_and_restart()
        for i in (1, 10, 20):
            self.assertEqual(addresses(port, "n%d.azure.contoso.com" % i), ["10.10.2.%d" % i])
        # a damaged record is refused whole, with the file named
        self.d.stop()
        self.d = None
        path = os.path.join(self.state, "journal")
        with open(path) as f:
            lines = f.read().splitlines()
        lines[3] = lines[3].replace("10.10.2.5", "10.10.2.55")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        with self.assertRaises(RuntimeError) as ctx:
            self.start(default_yaml())
        self.assertIn("damaged journal", str(ctx.exception))
        self.assertIn("journal:4", str(ctx.exception))


class TagsAndOutputs(unittest.TestCase):
    """tags on tracked resources, metadata on rules, links and record sets, and
    the read-only etag and provisioningState (reference/azure.md §4.2), all
    from the resource schema: through YAML, the API, privresctl and export."""

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="privres-state-")
        text = default_yaml().replace("  - name: hub-resolver\n",
                                      "  - name: hub-resolver\n    tags: {env: test, owner: dns}\n", 1)
        text = text.replace("{name: Contoso, domainName: contoso.com.,",
                            "{name: Contoso, metadata: {ticket: '42'}, domainName: contoso.com.,", 1)
        self.d = Privresd(text, args=["--quiet"], state_dir=self.state)

    def tearDown(self):
        self.d.stop()
        shutil.rmtree(self.state, ignore_errors=True)

    def ctl(self, *args):
        p = subprocess.run([PRIVRESCTL, "--socket", os.path.join(self.d.dir, "api.sock")] +
                           list(args), capture_output=True, text=True, timeout=30)
        return p.returncode, json.loads(p.stdout) if p.returncode == 0 and p.stdout.startswith("{") else p.stdout, p.stderr

    def test_tags_metadata_etag_round_trip(self):
        rc, r, err = self.ctl("dns-resolver", "show", "-n", "hub-resolver")
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["tags"], {"env": "test", "owner": "dns"})
        self.assertEqual(r["properties"]["provisioningState"], "Succeeded")
        self.assertRegex(r["etag"], r'^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$')
        rc, rule, err = self.ctl("dns-resolver", "forwarding-rule", "show", "--ruleset-name",
                                 "hub-rules", "-n", "Contoso")
        self.assertEqual(rc, 0, err)
        self.assertEqual(rule["properties"]["metadata"], {"ticket": "42"})
        self.assertNotIn("tags", rule)  # a proxy resource: no tags
        # privresctl sets tags (tracked) and metadata (record sets) from the schema
        rc, rs, err = self.ctl("dns-resolver", "forwarding-ruleset", "update", "-n", "hub-rules",
                               "--outbound-endpoints", "hub-resolver/out", "--tags", "team=net")
        self.assertEqual(rc, 0, err)
        self.assertEqual(rs["tags"], {"team": "net"})
        rc, rs2, err = self.ctl("dns-resolver", "forwarding-ruleset", "update", "-n", "hub-rules",
                                "--outbound-endpoints", "hub-resolver/out", "--tags", "team=dns")
        self.assertEqual(rc, 0, err)
        self.assertNotEqual(rs["etag"], rs2["etag"])  # a change changes the etag
        rc, same, err = self.ctl("dns-resolver", "forwarding-ruleset", "show", "-n", "hub-rules")
        self.assertEqual(same["etag"], rs2["etag"])
        rc, rec, err = self.ctl("private-dns", "record-set", "a", "create", "-z",
                                "azure.contoso.com", "-n", "tagged", "--records", "10.10.2.9",
                                "--metadata", "app=web")
        self.assertEqual(rc, 0, err)
        self.assertEqual(rec["properties"]["metadata"], {"app": "web"})
        rc, out, err = self.ctl("export")
        self.assertEqual(rc, 0, err)
        for text in ("owner: dns", "ticket:", "team: dns", "app: web", "provisioningState"):
            self.assertIn(text, out)
        # survives a restart from the state (journal replay)
        self.d.stop()
        self.d = Privresd(None, args=["--quiet"], state_dir=self.state)
        rc, rs3, err = self.ctl("dns-resolver", "forwarding-ruleset", "show", "-n", "hub-rules")
        self.assertEqual(rs3["tags"], {"team": "dns"})
        self.assertEqual(rs3["etag"], rs2["etag"])

    def test_bad_tags_refused_with_the_path(self):
        rc, out, err = self.ctl("call", "/privres.v1.DnsResolverService/CreateOrUpdate", json.dumps({
            "dnsResolver": {"name": "hub-resolver", "virtualNetwork": "hub",
                            "tags": {"t%d" % i: "v" for i in range(51)}}}))
        self.assertEqual(rc, 1)
        self.assertIn("51 tags, limit 50", err)
        rc, out, err = self.ctl("call", "/privres.v1.ForwardingRuleService/CreateOrUpdate", json.dumps({
            "rulesetName": "hub-rules",
            "forwardingRule": {"name": "Contoso", "domainName": "contoso.com.",
                               "targetDnsServers": [{"ipAddress": "10.100.0.2"}],
                               "tags": {"a": "b"}}}))
        self.assertEqual(rc, 1)  # forwarding rules have no tags (a proxy resource)


class KillDuringReloadAndCompaction(unittest.TestCase):
    """kill -9 at random points while SIGHUP reloads and API changes run and the
    journal is compacted after nearly every change (--compact-bytes): the
    restart loads, and every acknowledged change is there (design.md §7)."""

    RUNS = 12

    def test_kill9_never_loses_an_acknowledged_change(self):
        import random
        rng = random.Random(7)
        state = tempfile.mkdtemp(prefix="privres-state-")
        base = default_yaml()
        d = None
        acked_gen, acked_api, pending = 0, 0, 0
        try:
            for run in range(self.RUNS):
                d = Privresd(base.replace("fromfile", "gen%d" % acked_gen) if acked_gen else base,
                             args=["--quiet", "--compact-bytes", "600"], state_dir=state)
                port = d.port("azure-dns/spoke1")
                # every acknowledged change of the runs before is there, or the
                # reload that was in flight at the kill landed whole
                if pending and addresses(port, "gen%d.azure.contoso.com" % pending) == ["10.10.2.61"]:
                    acked_gen, acked_api = pending, 0
                if acked_api:
                    self.assertEqual(addresses(port, "api%d.azure.contoso.com" % acked_api),
                                     ["10.10.3.%d" % (acked_api % 250)], "run %d" % run)
                if acked_gen:
                    self.assertEqual(addresses(port, "gen%d.azure.contoso.com" % acked_gen),
                                     ["10.10.2.61"], "run %d" % run)
                pending = 0
                kill_at = time.time() + rng.uniform(0.2, 1.2)
                sock = os.path.join(d.dir, "api.sock")
                while time.time() < kill_at:
                    if rng.random() < 0.3:
                        # a reload of a file with a new record (prunes the API's)
                        gen = acked_gen + 1
                        d.write_config(with_file_record(base).replace("fromfile", "gen%d" % gen))
                        before = d.log()
                        d.signal(signal.SIGHUP)
                        end = time.time() + 5
                        while time.time() < end and "reloaded" not in d.log()[len(before):]:
                            time.sleep(0.01)
                        if "reloaded" in d.log()[len(before):]:
                            acked_gen, acked_api = gen, 0
                    else:
                        n = acked_api + 1
                        p = subprocess.run([PRIVRESCTL, "--socket", sock, "call",
                                            "/privres.v1.RecordSetService/CreateOrUpdate",
                                            json.dumps({"zoneName": "azure.contoso.com",
                                                        "recordSet": {"name": "api%d" % n,
                                                                      "type": "A",
                                                                      "records": ["10.10.3.%d" % (n % 250)]}})],
                                           capture_output=True, text=True, timeout=30)
                        if p.returncode == 0:
                            acked_api = n
                # kill -9 at a random point, possibly in the middle of a change
                if rng.random() < 0.5:
                    pending = acked_gen + 1
                    d.write_config(with_file_record(base).replace("fromfile", "gen%d" % pending))
                    d.signal(signal.SIGHUP)
                    time.sleep(rng.uniform(0, 0.05))
                d.proc.send_signal(signal.SIGKILL)
                d.proc.wait()
                d.out.close()
                d = None
            self.assertGreater(acked_api + acked_gen, 0)
        finally:
            if d:
                d.stop()
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
