"""For every Terraform estate: privresd serving `privresctl import terraform`
answers every name of the estate exactly like privresd serving the YAML
example; `import terraform --apply` brings a running privresd to the estate
(issue "Terraform")."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from privres_harness import BUILD, SOURCE, Privresd  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402

PRIVRESCTL = os.path.join(BUILD, "api", "privresctl")
PRIVRESD = os.path.join(BUILD, "daemon", "privresd")
ESTATES = sorted(d for d in os.listdir(os.path.join(SOURCE, "terraform-examples"))
                 if os.path.isdir(os.path.join(SOURCE, "terraform-examples", d)))


def on_free_ports(text):
    lines, out, skip = text.splitlines(), [], False
    for l in lines:  # the example's emulator section gives way to the test's
        if l.startswith("emulator:"):
            skip = True
            continue
        if skip and (l.startswith(" ") or not l.strip()):
            continue
        skip = False
        out.append(l)
    return "\n".join(out) + "\nemulator: {basePort: 0}\n"


def questions(deployment_json):
    """Every record-set name of every zone the estate defines, with its type."""
    d = json.loads(deployment_json)
    qs = []
    zones = list(d.get("privateDnsZones", [])) + list(d.get("publicDns", {}).get("zones", []))
    for x in d.get("externalDnsServers", []):
        zones += x.get("zones", [])
    for z in zones:
        for rs in z.get("recordSets", []):
            owner = z["name"].rstrip(".") if rs["name"] == "@" else \
                rs["name"].replace("*", "wild") + "." + z["name"].rstrip(".")
            qs.append((owner, rs["type"]))
        qs.append(("missing-name." + z["name"].rstrip("."), "A"))
    for vm in d.get("virtualMachines", []):
        for z in d.get("privateDnsZones", []):
            qs.append((vm["name"] + "." + z["name"].rstrip("."), "A"))
    return qs


def answer(port, name, rdtype):
    r = dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=port, timeout=5)
    return (r.rcode(), sorted(rr.to_text() for rr in r.answer),
            sorted(rr.to_text() for rr in r.authority))


class ServeImport(unittest.TestCase):
    def test_estates_answer_like_their_yaml(self):
        self.assertTrue(ESTATES)
        for estate in ESTATES:
            with self.subTest(estate=estate):
                p = subprocess.run([PRIVRESCTL, "import", "terraform",
                                    os.path.join(SOURCE, "terraform-examples", estate)],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(p.returncode, 0, p.stderr)
                with open(os.path.join(SOURCE, "examples", estate + ".yaml")) as f:
                    example = f.read()
                a = Privresd(on_free_ports(example), args=["--quiet"])
                b = Privresd(on_free_ports(p.stdout), args=["--quiet"])
                try:
                    self.assertEqual(sorted(a.listeners), sorted(b.listeners))
                    exported = subprocess.run([PRIVRESD, "--export", a.config],
                                              capture_output=True, text=True).stdout
                    qs = questions(exported)
                    self.assertGreater(len(qs), 3)
                    compared = 0
                    for listener in a.listeners:
                        for name, rdtype in qs:
                            self.assertEqual(answer(a.port(listener), name, rdtype),
                                             answer(b.port(listener), name, rdtype),
                                             "%s %s at %s" % (name, rdtype, listener))
                            compared += 1
                    self.assertGreater(compared, 10)
                finally:
                    a.stop()
                    b.stop()

    def assert_same_answers(self, yaml_a, yaml_b, what):
        a = Privresd(on_free_ports(yaml_a), args=["--quiet"])
        b = Privresd(on_free_ports(yaml_b), args=["--quiet"])
        try:
            self.assertEqual(sorted(a.listeners), sorted(b.listeners), what)
            exported = subprocess.run([PRIVRESD, "--export", a.config],
                                      capture_output=True, text=True).stdout
            qs = questions(exported)
            self.assertGreater(len(qs), 1)
            compared = 0
            for listener in a.listeners:
                for name, rdtype in qs:
                    self.assertEqual(answer(a.port(listener), name, rdtype),
                                     answer(b.port(listener), name, rdtype),
                                     "%s: %s %s at %s" % (what, name, rdtype, listener))
                    compared += 1
            self.assertGreater(compared, 3)
        finally:
            a.stop()
            b.stop()

    def test_modules_and_arm_answer_like_flat(self):
        """The estate written flat, with a local module (for_each over a map of
        spokes), with an installed registry module (as terraform init lays it
        out) and as an ARM template: each served answers like the flat one."""
        fixtures = os.path.join(SOURCE, "tests", "unit", "terraform", "fixtures")

        def imported(*args):
            p = subprocess.run([PRIVRESCTL, "import", *args], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            return p.stdout

        flat = imported("terraform", os.path.join(fixtures, "modules", "flat"))
        self.assertIn("recordSets", flat)
        for what in ("local", "installed"):
            with self.subTest(estate=what):
                self.assert_same_answers(
                    flat, imported("terraform", os.path.join(fixtures, "modules", what)), what)
        with self.subTest(estate="arm"):
            self.assert_same_answers(
                flat, imported("arm", os.path.join(fixtures, "arm", "azuredeploy.json"),
                               "-g", "rg-modules"), "arm")

    def test_import_apply_to_running_privresd(self):
        d = Privresd(on_free_ports("virtualNetworks: [{name: other, addressPrefixes: [10.99.0.0/16]}]\n"),
                     args=["--quiet"])
        try:
            sock = os.path.join(d.dir, "api.sock")
            folder = os.path.join(SOURCE, "terraform-examples", "hub-and-spoke")
            # the estate's side file, on free ports for the test
            side = os.path.join(d.dir, "privres.yaml")
            with open(os.path.join(folder, "privres.yaml")) as f:
                text = on_free_ports(f.read())
            with open(side, "w") as f:
                f.write(text)
            p = subprocess.run([PRIVRESCTL, "--socket", sock, "import", "terraform", folder,
                                "--side-file", side, "--apply"],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("create", p.stdout)
            p = subprocess.run([PRIVRESCTL, "--socket", sock, "export", "-o", "json"],
                               capture_output=True, text=True)
            names = [v["name"] for v in json.loads(p.stdout)["virtualNetworks"]]
            self.assertIn("hub", names)
            self.assertNotIn("other", names)  # apply prunes, as apply -f does
        finally:
            self.assertEqual(d.stop(), 0)

    def test_import_arm_apply_to_running_privresd(self):
        """`import arm --apply` goes through the control plane's one apply path:
        --dry-run changes nothing, the apply prunes as apply -f does, the
        daemon validates again (F-5 refused even with --no-validate), and the
        estate survives a kill -9 (the state dir's journal)."""
        template = os.path.join(SOURCE, "tests", "unit", "terraform", "fixtures", "arm",
                                "azuredeploy.json")
        bad = os.path.join(SOURCE, "tests", "integration", "terraform", "bad",
                           "arm-f5-azure-dns-target", "azuredeploy.json")
        state = tempfile.mkdtemp(prefix="privres-state-")
        start = "virtualNetworks: [{name: other, addressPrefixes: [10.99.0.0/16]}]\n"
        d = Privresd(on_free_ports(start), args=["--quiet"], state_dir=state)
        try:
            sock = os.path.join(d.dir, "api.sock")

            def ctl(*args):
                return subprocess.run([PRIVRESCTL, "--socket", sock, *args],
                                      capture_output=True, text=True, timeout=120)

            def exported():
                p = ctl("export", "-o", "json")
                self.assertEqual(p.returncode, 0, p.stderr)
                return json.loads(p.stdout)

            def vnets():
                return sorted(v["name"] for v in exported().get("virtualNetworks", []))

            p = ctl("import", "arm", template, "-g", "rg-modules", "--apply", "--dry-run")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("+ create", p.stdout)
            self.assertEqual(vnets(), ["other"])

            p = ctl("import", "arm", template, "-g", "rg-modules", "--apply")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("privateDnsZones/corp.example", p.stdout)
            self.assertIn("- delete", p.stdout)  # prunes, as apply -f does
            self.assertEqual(vnets(), ["hub", "spoke1", "spoke2"])
            self.assertEqual(exported()["resourceGroup"], "rg-modules")
            p = ctl("import", "arm", template, "-g", "rg-modules", "--apply")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("No changes.", p.stdout)

            # the daemon's validation, not only the importer's: nothing changes
            for extra in ([], ["--no-validate"]):
                p = ctl("import", "arm", bad, "--apply", *extra)
                self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
                self.assertIn("F-5", p.stderr)
            self.assertEqual(vnets(), ["hub", "spoke1", "spoke2"])

            p = ctl("import", "arm", os.path.join(state, "nothing.json"), "--apply")
            self.assertEqual(p.returncode, 1)
            self.assertEqual(ctl("import", "arm", "--apply").returncode, 2)

            # kill -9: the applied estate is served again from the state dir
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
            d.stop()
            d = Privresd(on_free_ports(start), args=["--quiet"], state_dir=state)
            sock = os.path.join(d.dir, "api.sock")
            self.assertEqual(vnets(), ["hub", "spoke1", "spoke2"])
            r = dns.message.make_query("web.corp.example", "A")
            r = dns.query.udp(r, "127.0.0.1", port=d.port("azure-dns/spoke1"), timeout=5)
            self.assertEqual(sorted(x.to_text() for rr in r.answer for x in rr), ["10.1.0.4"])
        finally:
            d.stop()
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
