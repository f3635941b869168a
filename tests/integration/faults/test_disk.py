"""Full and failing disks, and kill -9 at every step of a write and of a
compaction (design.md §7): a change that can't be saved is refused with a clear
error and changes nothing; nothing acknowledged is lost; privresd keeps
serving; it saves again once space returns; a restart after a kill at any
step loads every acknowledged change.

The full disk is a small tmpfs this test mounts; the failing disk is the state
directory's fsync and fdatasync answering EIO (strace fault injection on the
running daemon, removed again by detaching); the kills are SIGKILL delivered by
strace on entry to each system call of the save path. Needs root (mount,
ptrace): prints "skipped" without it."""
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
import dns.rdatatype  # noqa: E402

PRIVRESCTL = os.path.join(BUILD, "api", "privresctl")
HOST = "127.0.0.1"
ZONE = "azure.contoso.com"


def default_yaml():
    text = subprocess.run([PRIVRESD, "--print-default"], capture_output=True, text=True,
                          check=True).stdout
    return text.replace("emulator:\n", "emulator:\n  basePort: 0\n", 1)


def addresses(port, name):
    resp = dns.query.udp(dns.message.make_query(name, "A"), HOST, port=port, timeout=3)
    return sorted(r.address for rr in resp.answer for r in rr if rr.rdtype == dns.rdatatype.A)


def can_mount():
    if os.geteuid() != 0 or not shutil.which("strace"):
        return False
    d = tempfile.mkdtemp()
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d], check=True)
        return ok
    finally:
        os.rmdir(d)


class Daemon:
    """privresd over a state directory, with the API helpers the tests use."""

    def __init__(self, state, args=()):
        self.state = state
        self.d = Privresd(default_yaml(), args=["--quiet"] + list(args), state_dir=state)
        self.port = self.d.port("azure-dns/spoke1")

    def ctl(self, *args):
        p = subprocess.run([PRIVRESCTL, "--socket", os.path.join(self.d.dir, "api.sock")] +
                           list(args), capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def put_record(self, name, address):
        return self.ctl("call", "/privres.v1.RecordSetService/CreateOrUpdate", json.dumps({
            "zoneName": ZONE, "recordSet": {"name": name, "type": "A", "ttl": 60,
                                            "records": [address]}}))

    def answers(self, name):
        return addresses(self.port, "%s.%s" % (name, ZONE))

    def kill9(self):
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        self.d.out.close()

    def stop(self):
        self.d.stop()


class Tmpfs:
    def __init__(self, kib):
        self.path = tempfile.mkdtemp(prefix="privres-tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk,mode=0700" % kib, "tmpfs",
                        self.path], check=True)
        self.fillers = []

    def fill(self):
        """Fill every free page with 4 KiB files (so space can be given back a
        page at a time)."""
        n = 0
        while True:
            path = os.path.join(self.path, "filler-%05d" % n)
            try:
                with open(path, "wb") as f:
                    f.write(b"x" * 4096)
            except OSError:
                if os.path.exists(path):
                    os.remove(path)
                return
            self.fillers.append(path)
            n += 1

    def free(self, pages=None):
        for path in self.fillers[-pages if pages else 0:] if pages else self.fillers:
            os.remove(path)
        self.fillers = self.fillers[:-pages] if pages else []

    def close(self):
        subprocess.run(["umount", "-l", self.path])
        os.rmdir(self.path)


@unittest.skipUnless(can_mount(), "skipped: needs root for mount and strace")
class FullDisk(unittest.TestCase):
    def setUp(self):
        self.fs = Tmpfs(512)
        self.state = os.path.join(self.fs.path, "state")
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            self.daemon.stop()
        self.fs.close()

    def test_full_disk_refuses_keeps_serving_and_recovers(self):
        d = self.daemon = Daemon(self.state)
        self.assertEqual(d.put_record("before", "10.10.4.1")[0], 0)
        self.fs.fill()
        rc, out, err = d.put_record("whilefull", "10.10.4.2")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("No space left on device", err)
        self.assertIn("not saved", err)
        # still serving, the acknowledged change there, the refused one not
        self.assertEqual(d.answers("before"), ["10.10.4.1"])
        self.assertEqual(d.answers("whilefull"), [])
        # a whole document (SIGHUP) is refused too, and the old one stays
        before = d.d.log()
        d.d.write_config(default_yaml().replace("name: web,", "name: webreload,", 1))
        d.d.signal(signal.SIGHUP)
        end = time.time() + 5
        while time.time() < end and d.d.log() == before:
            time.sleep(0.05)
        self.assertIn("No space left on device", d.d.log()[len(before):])
        self.assertEqual(d.answers("web"), ["10.10.2.5"])
        self.assertEqual(d.answers("webreload"), [])
        # space returns: the next change is saved
        self.fs.free()
        self.assertEqual(d.put_record("after", "10.10.4.3")[0], 0)
        d.kill9()
        d = self.daemon = Daemon(self.state)
        self.assertEqual(d.answers("before"), ["10.10.4.1"])
        self.assertEqual(d.answers("after"), ["10.10.4.3"])
        self.assertEqual(d.answers("whilefull"), [])
        self.assertEqual(d.answers("web"), ["10.10.2.5"])

    def test_no_room_for_compaction_loses_nothing(self):
        """The journal still has room but the snapshot does not: every change is
        acknowledged from the journal and compaction waits for space."""
        d = self.daemon = Daemon(self.state, ["--compact-bytes", "300"])
        # the first change writes the first snapshot; later ones go to the journal
        self.assertEqual(d.put_record("first", "10.10.5.100")[0], 0)
        self.fs.fill()
        self.fs.free(2)  # two pages: the journal grows, a snapshot can't be written
        acked = []
        for i in range(6):
            if d.put_record("c%d" % i, "10.10.5.%d" % (i + 1))[0] == 0:
                acked.append(i)
        self.assertTrue(acked, d.d.log())
        # compaction was due after every change and could not run
        self.assertGreater(os.path.getsize(os.path.join(self.state, "journal")), 300)
        self.assertFalse(any(f.startswith(".deployment.json.tmp")
                             for f in os.listdir(self.state)), "a temp file left behind")
        for i in acked:
            self.assertEqual(d.answers("c%d" % i), ["10.10.5.%d" % (i + 1)])
        d.kill9()
        self.fs.free()
        d = self.daemon = Daemon(self.state)
        for i in acked:
            self.assertEqual(d.answers("c%d" % i), ["10.10.5.%d" % (i + 1)], d.d.log())
        self.assertEqual(d.answers("first"), ["10.10.5.100"])


class Strace:
    """strace attached to a running daemon, every thread, injecting faults into
    the given system calls; detached (the faults end) by stop()."""

    def __init__(self, pid, calls, inject, inject_calls=None):
        self.log = tempfile.NamedTemporaryFile(prefix="privres-strace-", delete=False)
        tids = os.listdir("/proc/%d/task" % pid)
        cmd = ["strace", "-qq", "-o", self.log.name, "-e", "trace=" + calls,
               "-e", "inject=%s:%s" % (inject_calls or calls, inject)]
        for t in tids:
            cmd += ["-p", t]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached to every thread before the test goes on

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=10)
        os.unlink(self.log.name)


@unittest.skipUnless(can_mount(), "skipped: needs root for mount and strace")
class FailingDisk(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="privres-state-")
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            self.daemon.stop()
        shutil.rmtree(self.state, ignore_errors=True)

    def test_eio_refuses_and_recovers(self):
        d = self.daemon = Daemon(self.state)
        self.assertEqual(d.put_record("before", "10.10.6.1")[0], 0)
        st = Strace(d.d.proc.pid, "fsync,fdatasync", "error=EIO")
        try:
            rc, out, err = d.put_record("failing", "10.10.6.2")
            self.assertNotEqual(rc, 0, out)
            self.assertIn("Input/output error", err)
            self.assertEqual(d.answers("before"), ["10.10.6.1"])
            self.assertEqual(d.answers("failing"), [])
        finally:
            st.stop()
        self.assertEqual(d.put_record("after", "10.10.6.3")[0], 0)
        d.kill9()
        d = self.daemon = Daemon(self.state)
        self.assertEqual(d.answers("before"), ["10.10.6.1"])
        self.assertEqual(d.answers("after"), ["10.10.6.3"])
        self.assertEqual(d.answers("failing"), [])


# Every system call of the save path, and which occurrence of it, as the
# journal append (write, fdatasync) and the compaction that follows it with
# --compact-bytes 1 (temp file: write, fsync, close; rename; directory fsync;
# journal ftruncate, fdatasync) make them.
STEPS = [("fdatasync", 1), ("fsync", 1), ("rename", 1), ("fsync", 2), ("ftruncate", 1),
         ("fdatasync", 2)]


@unittest.skipUnless(can_mount(), "skipped: needs root for mount and strace")
class KillAtEveryStep(unittest.TestCase):
    def test_kill9_at_each_step_of_a_write_and_a_compaction(self):
        for call, when in STEPS:
            with self.subTest(step="%s #%d" % (call, when)):
                state = tempfile.mkdtemp(prefix="privres-state-")
                d = None
                try:
                    d = Daemon(state, ["--compact-bytes", "1"])
                    self.assertEqual(d.put_record("acked", "10.10.7.1")[0], 0)
                    st = Strace(d.d.proc.pid, "fsync,fdatasync,rename,ftruncate",
                                "signal=KILL:when=%d" % when, call)
                    rc = d.put_record("inflight", "10.10.7.2")[0]
                    d.d.proc.wait(timeout=10)  # killed on entry to the step
                    d.d.out.close()
                    st.stop()
                    d = Daemon(state)
                    self.assertEqual(d.answers("acked"), ["10.10.7.1"], d.d.log())
                    got = d.answers("inflight")
                    if rc == 0:
                        self.assertEqual(got, ["10.10.7.2"])
                    # the record is in or out whole, and the state saves again
                    self.assertIn(got, ([], ["10.10.7.2"]))
                    self.assertEqual(d.put_record("later", "10.10.7.3")[0], 0)
                    d.kill9()
                    d = Daemon(state)
                    self.assertEqual(d.answers("later"), ["10.10.7.3"])
                    self.assertEqual(d.answers("acked"), ["10.10.7.1"])
                    self.assertEqual(d.answers("inflight"), got)
                finally:
                    if d and d.d.proc.poll() is None:
                        d.stop()
                    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
