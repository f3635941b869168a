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
        if yaml_text is not None:
            self.config = os.path.join(self.dir, "deployment.yaml")
            self.write_config(yaml_text)
            cmd += ["--config", self.config]
        if state_dir:
            cmd += ["--state-dir", state_dir]
        cmd += list(args)
        self.out = open(os.path.join(self.dir, "out.log"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT)
        self.listeners = self._wait_ready()

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
