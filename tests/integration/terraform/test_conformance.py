#!/usr/bin/python3
"""Configurations written by others (../shared/conformance, never copied here):
every azurerm acceptance-test configuration the provider applies successfully
must import and pass `privresd --check`; every configuration its test expects
to fail (requiresImportError in TEST_STEPS.md) must be refused, naming both
blocks at the file and line of their headers; the cloud
documentation's quickstarts and the ARM quickstart must import and pass.
Multi-step tests (basic -> updateRecords, complete -> update, ...) are applied
in their order to one privresd, as the provider applies them to the cloud:
before each step, `privresctl plan -f` must list exactly the change the step
makes, derived here from the two configurations (tf_steps.py); after it, the
step's own file plans to nothing (the provider's ImportStep).
Prints the pass counts. Skips (exit 77) when the material is absent."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import tf_steps

SRC = os.environ["PRIVRES_SOURCE_DIR"]
BUILD = os.environ["PRIVRES_BUILD_DIR"]
CONF = os.path.normpath(os.path.join(SRC, "..", "shared", "conformance"))
TFIMPORT = os.path.join(BUILD, "terraform", "privres-tf-import")
PRIVRESD = os.path.join(BUILD, "daemon", "privresd")
PRIVRESCTL = os.path.join(BUILD, "api", "privresctl")
# The share of valid acceptance configurations that must pass.
MIN_RATIO = float(os.environ.get("PRIVRES_CONFORMANCE_MIN", "0.95"))


def expected_failures(steps_md):
    """Files a test applies expecting the provider to fail."""
    with open(steps_md, encoding="utf-8") as f:
        return set(re.findall(r"requiresImportError\(`([^`]+)`\)", f.read()))


def check_yaml(text, work):
    path = os.path.join(work, "imported.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    r = subprocess.run([PRIVRESD, "--check", path], capture_output=True, text=True,
                       timeout=60)
    return r.returncode == 0, r.stdout + r.stderr


def import_dir(d, work, extra=(), imported=None):
    r = subprocess.run([TFIMPORT, *extra, d], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return False, r.stderr
    if imported is not None:
        imported.append(r.stdout)
    return check_yaml(r.stdout, work)


def names_duplicate(tf, out):
    """The refusal names the second block and the first, each at the file and
    line of its `resource "TYPE" "NAME"` header."""
    m = re.search(r"main\.tf:(\d+):\d+: (\S+)\.(\S+): declared twice: (\S+)\.(\S+) "
                  r"\(\S*main\.tf:(\d+)\)", out)
    if not m:
        return False
    with open(tf, encoding="utf-8") as f:
        lines = f.read().splitlines()

    def header(line, rtype, rname):
        text = lines[int(line) - 1] if 0 < int(line) <= len(lines) else ""
        return re.match(r'\s*resource\s+"%s"\s+"%s"' % (re.escape(rtype), re.escape(rname)),
                        text) is not None
    return header(m[1], m[2], m[3]) and header(m[6], m[4], m[5])


def one_file(tf):
    """A configuration alone in a folder, as the acceptance test applies it:
    (passes, output, the imported YAML or None)."""
    with tempfile.TemporaryDirectory() as work:
        d = os.path.join(work, "cfg")
        os.makedirs(d)
        shutil.copy(tf, os.path.join(d, "main.tf"))
        imported = []
        ok, out = import_dir(d, work, imported=imported)
        return ok, out, imported[0] if imported else None


def main():
    if not os.path.isdir(CONF):
        print(f"SKIP: no conformance material at {CONF} (../shared/conformance of the "
              "repository)")
        return 77
    if subprocess.run(["sh", os.path.join(SRC, "terraform", "setup.sh")]).returncode != 0:
        print("FAIL: terraform/setup.sh")
        return 1
    acc = os.path.join(CONF, "terraform-azurerm", "acctest")
    must_fail = expected_failures(os.path.join(acc, "TEST_STEPS.md"))
    failures = []
    valid_pass = valid_total = refused_ok = refused_total = 0
    with tempfile.TemporaryDirectory() as work:
        configs = [(sub, name) for sub in sorted(os.listdir(acc))
                   if os.path.isdir(os.path.join(acc, sub))
                   for name in sorted(os.listdir(os.path.join(acc, sub)))
                   if name.endswith(".tf")]  # .tfquery.hcl: list queries, no resources
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = list(pool.map(lambda c: one_file(os.path.join(acc, *c)), configs))
        for (sub, name), (ok, out, _) in zip(configs, results):
            if name in must_fail:
                refused_total += 1
                if not ok and names_duplicate(os.path.join(acc, sub, name), out):
                    refused_ok += 1
                else:
                    failures.append(f"{sub}/{name}: expected a refusal naming the "
                                    f"duplicate, got: {out.strip()[:300]}")
            else:
                valid_total += 1
                if ok:
                    valid_pass += 1
                else:
                    failures.append(f"{sub}/{name}: {out.strip()[:400]}")
        yamls = {os.path.join(sub, name): y for (sub, name), (ok, _, y) in zip(configs, results)
                 if ok}
        seq_pass, seq_total, seq_failures, notes = tf_steps.check_sequences(
            acc, yamls, PRIVRESCTL)
        failures += seq_failures
        quick_pass = quick_total = 0
        qs = os.path.join(CONF, "azure-quickstarts")
        for name in sorted(os.listdir(qs)) if os.path.isdir(qs) else []:
            quick_total += 1
            ok, out = import_dir(os.path.join(qs, name), work)
            quick_pass += ok
            if not ok:
                failures.append(f"azure-quickstarts/{name}: {out.strip()[:400]}")
        arm = os.path.join(CONF, "arm", "azuredeploy.json")
        if os.path.exists(arm):
            quick_total += 1
            r = subprocess.run([PRIVRESCTL, "import", "arm", arm, "--parameters",
                                os.path.join(CONF, "arm", "azuredeploy.parameters.json"),
                                # the template's location has no default: as
                                # `az deployment group create --parameters location=...`
                                "--parameters", "location=eastus"],
                               capture_output=True, text=True, timeout=60)
            ok, out = (check_yaml(r.stdout, work) if r.returncode == 0
                       else (False, r.stdout + r.stderr))
            quick_pass += ok
            if not ok:
                failures.append(f"arm/azuredeploy.json: {out.strip()[:400]}")
    for f in failures:
        print("FAIL:", f)
    for n in notes:
        print("NOTE:", n)
    ratio = valid_pass / valid_total if valid_total else 0
    print(f"acceptance configurations: {valid_pass} of {valid_total} valid ones import and "
          f"pass --check ({100 * ratio:.0f}%); {refused_ok} of {refused_total} "
          f"requiresImport refused; {seq_pass} of {seq_total} steps of multi-step tests plan to "
          f"their change; quickstarts: {quick_pass} of {quick_total}")
    good = (ratio >= MIN_RATIO and refused_ok == refused_total and
            quick_pass == quick_total and seq_total > 0 and seq_pass == seq_total)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
