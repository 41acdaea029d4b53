"""Starting `corral serve` for a test and talking to it (raw HTTP over its
Unix socket or TCP)."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, STARTED_PIDS, as_user, corral_argv

sys.path.insert(0, str(REPO / "clients" / "python"))

TOKEN = "serve-test-token-" + "y" * 24


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path_ = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path_)
        self.sock = s


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp_path, *args, tcp=False):
        tmp_path.chmod(0o755)
        self.sock = str(tmp_path / "corral.sock")
        self.port = None
        argv = ["serve", "--socket", self.sock, *args]
        if tcp:
            token_file = tmp_path / "token"
            token_file.write_text(TOKEN + "\n")
            token_file.chmod(0o600)
            if as_user():
                shutil.chown(token_file, as_user())
            self.port = free_port()
            argv += ["--listen", f"127.0.0.1:{self.port}", "--token-file", str(token_file)]
        self.log = open(tmp_path / "serve.log", "w+b")
        self.proc = subprocess.Popen(corral_argv(argv), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        STARTED_PIDS.append(self.proc.pid)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"corral serve exited {self.proc.returncode}: {self.stderr()}")
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("corral serve did not come up: " + self.stderr())

    def stderr(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def connection(self, tcp=False, timeout=60):
        if tcp:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        return UnixConnection(self.sock, timeout)

    def call(self, method, path, body=None, headers=None, tcp=False, timeout=60):
        """(status, headers, body bytes); body: dict/list → JSON, bytes raw."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        c = self.connection(tcp, timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def json(self, method, path, body=None, expect=200, **kw):
        status, headers, data = self.call(method, path, body, **kw)
        assert status == expect, (status, data, self.stderr()[-2000:])
        return json.loads(data) if data else None

    def create(self, policy=None, expect=201):
        return self.json("POST", "/v1/sandboxes", policy or {}, expect=expect)

    def exec(self, sid, body, expect=200):
        return self.json("POST", f"/v1/sandboxes/{sid}/exec", body, expect=expect)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("corral serve did not stop: " + self.stderr()[-2000:])
        self.log.close()
        return self.proc.returncode


def error_code(data):
    return json.loads(data)["error"]["code"]
