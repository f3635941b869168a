"""privresd with ARM REST on a free port, and the checks' bookkeeping, shared by
the ARM integration tests."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import privres_harness as h  # noqa: E402

SUB = "00000000-0000-0000-0000-000000000000"
RG = "privres"
NET = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network" % (SUB, RG)
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def start(yaml_text, name, args=()):
    """privresd serving yaml_text with --arm-listen on a free port: (daemon,
    port, CA file)."""
    state = os.path.join(os.environ.get("TMPDIR", "/tmp"), "privres-%s-%d" % (name, os.getpid()))
    d = h.Privresd(yaml_text, args=["--arm-listen", "127.0.0.1:0"] + list(args),
                   state_dir=state)
    for _ in range(200):
        m = re.search(r"ARM REST on https://127\.0\.0\.1:(\d+)", d.log())
        if m:
            return d, int(m.group(1)), os.path.join(state, "tls", "ca.pem")
        time.sleep(0.05)
    d.stop()
    sys.exit("privresd did not print the ARM address:\n" + d.log())


def finish():
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
