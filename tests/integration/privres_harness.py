"""Start privresd on a deployment and find its listeners (shared by the
integration tests). Everything listens on 127.0.0.1 with free ports."""
import json
import os
import signal
import subprocess
import tempfile
import time

BUILD = os.environ.get("PRIVRES_BUILD_DIR", "build")
SOURCE = os.environ.get("PRIVRES_SOURCE_DIR", ".")
PRIVRESD = os.path.join(BUILD, "daemon", "privresd")


class Privresd:
    """privresd serving `yaml_text` (or the embedded default when None)."""

    def __init__(self, yaml_text=None, args=(), workers=2, state_dir=None):
        self.dir = tempfile.mkdtemp(prefix="privres-test-")
        self.ready = os.path.join(self.dir, "ready.json")
        self.config = None
        cmd = [PRIVRESD, "--workers", str(workers), "--ready-file", self.ready,
               "--api-socket", os.path.join(self.dir, "api.sock")]
        if yaml_text is None:
            # the embedded default, on free ports so tests can run side by side
            text = subprocess.run([PRIVRESD, "--print-default"], capture_output=True,
                                  text=True, check=True).stdout
            yaml_text = text.replace("emulator:\n", "emulator:\n  basePort: 0\n", 1)
            assert "basePort: 0" in yaml_text
        self.config = os.path.join(self.dir, "deployment.yaml")
        self.write_config(yaml_text)
        cmd += ["--config", self.config]
        if state_dir:
            cmd += ["--state-dir", state_dir]
        cmd += list(args)
        self.out = open(os.path.join(self.dir, "out.log"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT)
        try:
            self.listeners = self._wait_ready()
        except RuntimeError:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.out.close()
            raise

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def _wait_ready(self, timeout=15.0):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("privresd exited %d:\n%s" % (self.proc.returncode, self.log()))
            if os.path.exists(self.ready):
                with open(self.ready) as f:
                    return {l["name"]: l for l in json.load(f)["listeners"]}
            time.sleep(0.05)
        raise RuntimeError("privresd did not become ready:\n" + self.log())

    def reload_listeners(self):
        with open(self.ready) as f:
            self.listeners = {l["name"]: l for l in json.load(f)["listeners"]}

    def port(self, listener):
        return self.listeners[listener]["port"]

    def log(self):
        with open(self.out.name) as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        try:
            return self._stop()
        finally:
            self.out.close()

    def _stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("privresd did not stop on SIGTERM")
            return rc
        return self.proc.returncode


class Unbound:
    """A real unbound on 127.0.0.1:port with local data (the "on-premises"
    server of the tests)."""

    def __init__(self, port, local_data, forward_zones=(), extra=""):
        self.port = port
        self.dir = tempfile.mkdtemp(prefix="privres-unbound-")
        conf = os.path.join(self.dir, "unbound.conf")
        lines = [
            "server:",
            "  interface: 127.0.0.1@%d" % port,
            "  do-daemonize: no", '  chroot: ""', '  username: ""',
            '  directory: "%s"' % self.dir, '  pidfile: "%s/unbound.pid"' % self.dir,
            "  use-syslog: no", '  logfile: "%s/unbound.log"' % self.dir,
            "  log-queries: yes", "  verbosity: 1", "  do-ip6: no",
            "  access-control: 127.0.0.0/8 allow",
            "  do-not-query-localhost: no",
            "  num-threads: 1",
        ]
        # never recurse to the internet: only the zones below are answered
        lines.append('  local-zone: "." refuse')
        zones = set()
        for rr in local_data:
            name = rr.split()[0].rstrip(".")
            zones.add(name.split(".", 1)[1] + ".")
        for z in sorted(zones):
            lines.append('  local-zone: "%s" static' % z)
        for rr in local_data:
            lines.append('  local-data: "%s"' % rr)
        lines.append(extra)
        for zone, addr in forward_zones:
            lines.insert(-1, '  local-zone: "%s" transparent' % zone)
        for zone, addr in forward_zones:
            lines += ["forward-zone:", '  name: "%s"' % zone, "  forward-addr: %s" % addr]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(["unbound", "-d", "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait()

    def _wait(self):
        import socket
        end = time.time() + 10
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("unbound exited %d" % self.proc.returncode)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.2)
            # a version.bind query: any answer means it is up
            s.sendto(bytes.fromhex("abcd0100000100000000000007766572"
                                   "73696f6e0462696e640000100003"), ("127.0.0.1", self.port))
            try:
                s.recvfrom(512)
                return
            except OSError:
                time.sleep(0.1)
            finally:
                s.close()
        raise RuntimeError("unbound did not start on port %d" % self.port)

    def log(self):
        try:
            with open(os.path.join(self.dir, "unbound.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 right now."""
    import socket
    for _ in range(100):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no port free for both TCP and UDP")
