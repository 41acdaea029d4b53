"""The attack suite through `corral serve`: the same hostile programs,
uploaded with the files API and run with the exec API in a long-lived
sandbox, and attacks on the daemon's own API (its file endpoints act on the
sandbox's files from outside it; its ids name other clients' sandboxes).

Each attack is also run on the host first, where it must escape, so the
test can fail."""
import http.client
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CORRAL = os.environ.get("CORRAL_BIN", str(REPO / "build" / "corral"))


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Daemon:
    def __init__(self, tmp):
        tmp.chmod(0o755)
        self.sock = str(tmp / "corral.sock")
        self.log = open(tmp / "serve.log", "w+b")
        self.proc = subprocess.Popen([CORRAL, "serve", "--socket", self.sock],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, f"corral serve exited: {self.stderr()}"
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "corral serve did not come up"
            time.sleep(0.05)

    def stderr(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def call(self, method, path, body=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        c = UnixConnection(self.sock)
        try:
            c.request(method, path, body=body)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def create(self):
        status, data = self.call("POST", "/v1/sandboxes", {"ttl": "10m"})
        assert status == 201, data
        return json.loads(data)["id"]

    def put(self, sid, path, data, mode=None):
        status, body = self.call("PUT", f"/v1/sandboxes/{sid}/files?path={urllib.parse.quote(path)}",
                                 data)
        assert status in (200, 201), body

    def exec(self, sid, *argv, timeout="60s"):
        status, data = self.call("POST", f"/v1/sandboxes/{sid}/exec",
                                 {"argv": list(argv), "timeout": timeout})
        assert status == 200, data
        return json.loads(data)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    assert d.stop() == 0, d.stderr()[-2000:]


def verdict(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith(("ESCAPED:", "BLOCKED:"))]
    return lines[-1] if lines else None


def upload_attack(daemon, sid, attack_dir, name):
    daemon.put(sid, f"/workspace/{name}", (attack_dir / name).read_bytes())
    if not name.endswith((".py", ".sh")):
        r = daemon.exec(sid, "chmod", "755", f"/workspace/{name}")
        assert r["exit_code"] == 0, r


def run_attack(daemon, sid, name, args):
    interpreter = ["python3"] if name.endswith(".py") else ["sh"] if name.endswith(".sh") else []
    return daemon.exec(sid, *interpreter, f"/workspace/{name}", *args)


ATTACKS = [
    ("esc_ns", ["unshare_user"]),
    ("esc_ns", ["unshare_mount"]),
    ("esc_ns", ["clone_newuser"]),
    ("esc_syscalls", ["keyctl"]),
    ("esc_syscalls", ["io_uring_setup"]),
    ("esc_syscalls", ["personality"]),
    ("esc_syscalls", ["bpf"]),
    ("esc_syscalls", ["perf_event_open"]),
    ("esc_setuid", []),
    ("esc_exe", []),
]


@pytest.mark.parametrize("name,args", ATTACKS, ids=[" ".join([n, *a]) for n, a in ATTACKS])
def test_attack_through_exec(attack, attack_dir, daemon, name, args):
    if not (attack_dir / name).exists():
        pytest.skip(f"{name} is not built")
    outside = attack(name, *args, sandbox=False)
    if not outside.escaped:
        pytest.skip(f"the attack does not work on this host without a sandbox: {outside}")
    sid = daemon.create()
    upload_attack(daemon, sid, attack_dir, name)
    r = run_attack(daemon, sid, name, args)
    line = verdict(r["stdout"])
    assert line and line.startswith("BLOCKED:"), f"corral serve did not stop it: {r}"


def test_host_secret_unreadable_through_exec(attack, attack_dir, daemon):
    """A canary in the host's /tmp: readable on the host, invisible to the
    sandbox by path and through /proc/self/root."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="corral-serve-esc-", dir="/tmp"))
    try:
        d.chmod(0o755)
        secret = secrets.token_hex(16)
        canary = d / "canary"
        canary.write_text(secret)
        canary.chmod(0o644)
        assert attack("esc_read.py", f"{canary}={secret}", sandbox=False).escaped
        sid = daemon.create()
        upload_attack(daemon, sid, attack_dir, "esc_read.py")
        r = run_attack(daemon, sid, "esc_read.py",
                       [f"{canary}={secret}", f"/proc/self/root{canary}={secret}"])
        assert (verdict(r["stdout"]) or "").startswith("BLOCKED:"), r
        assert secret not in json.dumps(r)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_files_api_never_leaves_the_sandbox(daemon):
    """Paths and symlinks planted by the sandbox (absolute, `..` chains, a
    link to a host path) never lead the daemon to a host file."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="corral-serve-esc-", dir="/tmp"))
    try:
        d.chmod(0o755)
        secret = secrets.token_hex(16)
        canary = d / "canary"
        canary.write_text(secret)
        canary.chmod(0o644)
        sid = daemon.create()
        r = daemon.exec(sid, "sh", "-c",
                        f"ln -s {canary} /workspace/to-host && ln -s / /workspace/root && "
                        f"ln -s ../../../../../../{str(canary).lstrip('/')} /workspace/dots")
        assert r["exit_code"] == 0, r
        for path in [str(canary), f"../../../../..{canary}", "/workspace/to-host",
                     f"/workspace/root{canary}", "/workspace/dots", f"/proc/1/root{canary}"]:
            status, data = daemon.call(
                "GET", f"/v1/sandboxes/{sid}/files?path={urllib.parse.quote(path)}")
            assert secret.encode() not in data, (path, status)
            assert status in (400, 403, 404), (path, status, data[:200])
        # Writing through a planted link must not create anything on the host.
        target = d / "written"
        daemon.exec(sid, "ln", "-s", str(target), "/workspace/out")
        status, _ = daemon.call("PUT", "/v1/sandboxes/" + sid + "/files?path=/workspace/out",
                                b"x")
        assert not target.exists()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_host_loopback_unreachable_through_exec(daemon):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the host reaches it: the test can fail
        server.accept()[0].close()
        sid = daemon.create()
        r = daemon.exec(sid, "python3", "-c",
                        "import socket\n"
                        "try:\n"
                        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
                        "    print('ESCAPED: connected')\n"
                        "except OSError as e:\n"
                        "    print('BLOCKED:', e)\n")
        assert r["stdout"].startswith("BLOCKED:"), r
    finally:
        server.close()


def test_other_sandboxes_are_out_of_reach(daemon):
    """One sandbox cannot see or signal another's processes, nor read its
    files; the API's ids are unguessable (128 bits)."""
    a, b = daemon.create(), daemon.create()
    assert len(a) == 32 and a != b
    daemon.put(b, "/workspace/b-secret", b"only b")
    r = daemon.exec(b, "sh", "-c", "sleep 300 & echo $!")
    r = daemon.exec(a, "sh", "-c", "ls /proc | grep -c '^[0-9]'; cat /workspace/b-secret; "
                                   "pkill -f 'slee[p] 300'; echo killed=$?")
    assert "only b" not in r["stdout"]
    assert "killed=1" in r["stdout"], r
    assert daemon.exec(b, "pgrep", "-f", "slee[p] 300")["exit_code"] == 0


def test_processes_die_with_the_sandbox(daemon):
    """Daemons started by a command (double fork, ignored signals) end when
    the sandbox is deleted: nothing of it is left on the host."""
    sid = daemon.create()
    marker = f"sleep 1000.{secrets.randbelow(10**9)}"
    r = daemon.exec(sid, "sh", "-c",
                    f"(trap '' TERM HUP; {marker}) >/dev/null 2>&1 & echo started")
    assert r["stdout"] == "started\n", r
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0
    status, _ = daemon.call("DELETE", f"/v1/sandboxes/{sid}")
    assert status == 200
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "a process outlived its sandbox"
        time.sleep(0.1)
