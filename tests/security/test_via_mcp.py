"""The attack suite through `corral mcp`: the same hostile programs, run by
an agent's tool calls (run_shell, run_python) in a long-lived session, and
attacks on the MCP server's own file tools (write_file, read_file,
list_files), which act on the sandbox's files from outside it.

Each attack is also run on the host first, where it must escape, so the
test can fail."""
import json
import os
import pathlib
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CORRAL = os.environ.get("CORRAL_BIN", str(REPO / "build" / "corral"))


class McpSession:
    """A raw MCP client over stdio, enough for tool calls."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([CORRAL, "mcp", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buf = b""
        self.next_id = 0
        init = self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                           "clientInfo": {"name": "attack-suite", "version": "1"}})
        assert init["result"]["serverInfo"]["name"] == "corral", init
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message):
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        self.proc.stdin.flush()

    def receive(self, timeout=120):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0, left))
            assert ready, "corral mcp did not answer in time"
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            assert chunk, f"corral mcp exited: {self.proc.stderr.read().decode(errors='replace')}"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id:
                return message

    def tool(self, name, **arguments):
        reply = self.request("tools/call", {"name": name, "arguments": arguments})
        assert "result" in reply, reply
        return reply["result"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def mcp(attack_dir):
    sessions = []

    def start(*args):
        s = McpSession("--ro-bind", f"{attack_dir}:/attacks", *args)
        sessions.append(s)
        return s

    yield start
    for s in sessions:
        s.close()


def verdict(stdout):
    lines = [l for l in stdout.splitlines() if l.startswith(("ESCAPED:", "BLOCKED:"))]
    return lines[-1] if lines else None


def shell_attack(session, command):
    result = session.tool("run_shell", command=command, timeout=60)
    out = result["structuredContent"]
    line = verdict(out["stdout"])
    assert line and line.startswith("BLOCKED:") and out["exit_code"] == 1, \
        f"corral mcp did not stop the attack: {json.dumps(out)[:3000]}"


ATTACKS = [
    ("esc_ns", ["unshare_user"]),
    ("esc_ns", ["clone_newuser"]),
    ("esc_ns", ["unshare_mount"]),
    ("esc_syscalls", ["add_key"]),
    ("esc_syscalls", ["keyctl"]),
    ("esc_syscalls", ["io_uring_setup"]),
    ("esc_syscalls", ["personality"]),
]


@pytest.mark.parametrize("name,args", ATTACKS, ids=[" ".join([n, *a]) for n, a in ATTACKS])
def test_attack_through_run_shell(attack, mcp, name, args):
    outside = attack(name, *args, sandbox=False)
    if not outside.escaped:
        pytest.skip(f"the attack does not work on this host without a sandbox: {outside}")
    session = mcp()
    shell_attack(session, f"/attacks/{name} {' '.join(args)}")


def test_host_secret_through_run_python(attack, mcp, tmp_path):
    """A canary in the host's /tmp: readable on the host, invisible to the
    session's Python, by path and through /proc/self/root."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="corral-mcp-esc-", dir="/tmp"))
    try:
        d.chmod(0o755)
        secret = secrets.token_hex(16)
        canary = d / "canary"
        canary.write_text(secret)
        canary.chmod(0o644)
        assert attack("esc_read.py", f"{canary}={secret}", sandbox=False).escaped
        session = mcp()
        result = session.tool("run_python", code=(
            "import runpy, sys\n"
            f"sys.argv = ['esc_read.py', '{canary}={secret}', '/proc/self/root{canary}={secret}']\n"
            "try:\n    runpy.run_path('/attacks/esc_read.py', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"))
        out = result["structuredContent"]["stdout"]
        assert (verdict(out) or "").startswith("BLOCKED:"), out
        assert secret not in json.dumps(result)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_host_loopback_unreachable_from_session(mcp):
    """A TCP server on the host's loopback: reachable from the host, not
    from the session (its own network namespace)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the host reaches it: the test can fail
        server.accept()[0].close()
        session = mcp()
        result = session.tool("run_python", code=(
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "    print('ESCAPED: connected')\n"
            "except OSError as e:\n"
            "    print('BLOCKED:', e)\n"))
        assert result["structuredContent"]["stdout"].startswith("BLOCKED:"), result
        server.settimeout(0.5)
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()


def test_processes_do_not_outlive_the_server(attack_dir, mcp):
    """Daemons started by a tool call (double fork, ignored signals,
    renamed, subreaper, nohup, pid hopping) die with the session when the
    client disconnects."""
    mark = "cx" + secrets.token_hex(4)
    session = mcp()
    result = session.tool("run_shell", command=f"python3 /attacks/per_daemon.py {mark} all",
                          timeout=60)
    assert "SPAWNED" in result["structuredContent"]["stdout"], result
    session.close()
    survivors = []
    for _ in range(20):
        survivors = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if mark.encode() in f.read():
                        survivors.append(pid)
            except OSError:
                pass
        if not survivors:
            break
        time.sleep(0.25)
    for pid in survivors:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    assert not survivors, f"processes outlived corral mcp: {survivors}"


@pytest.fixture
def shared_workspace():
    """A host folder shared as /workspace, and a host secret beside it."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="corral-mcp-ws-"))
    base.chmod(0o755)
    workspace = base / "workspace"
    workspace.mkdir()
    if os.geteuid() == 0:
        os.chown(workspace, 1000, 1000)
    secret_file = base / "secret"
    secret = secrets.token_hex(16)
    secret_file.write_text(secret)
    secret_file.chmod(0o644)
    yield workspace, secret_file, secret
    shutil.rmtree(base, ignore_errors=True)


def test_file_tools_do_not_follow_planted_links(mcp, shared_workspace):
    """The session plants symlinks in a shared workspace pointing at a host
    file (absolute and ../ chains). On the host those links lead to the
    secret; the file tools, resolving inside the sandbox, must not."""
    workspace, secret_file, secret = shared_workspace
    session = mcp("--workspace", str(workspace))
    plant = (f"ln -s {secret_file} abs && ln -s ../secret rel && ln -s ../../../../..{secret_file} deep"
             " && ln -s /proc/self/root" + str(secret_file) + " magic && mkdir d && ln -s .. d/up")
    assert session.tool("run_shell", command=plant)["structuredContent"]["exit_code"] == 0
    # On the host the planted links do reach the secret: the test can fail.
    assert (workspace / "rel").read_text() == secret
    for name in ["abs", "rel", "deep", "magic", "d/up/rel"]:
        result = session.tool("read_file", path=name)
        assert secret not in json.dumps(result), f"read_file {name} leaked the host file"
        assert result.get("isError"), result
    # Writing through a planted link replaces the link; the host file stays.
    for name in ["abs", "rel", "deep"]:
        result = session.tool("write_file", path=name, content="overwritten")
        assert not result.get("isError"), result
        assert secret_file.read_text() == secret
        assert not (workspace / name).is_symlink()
    listing = session.tool("list_files", path="d/up")
    assert "secret" not in [e["name"] for e in listing["structuredContent"]["entries"]]


def test_file_tools_refuse_paths_outside_workspace(mcp):
    session = mcp()
    for path in ["../etc/passwd", "/etc/passwd", "a/../../etc/passwd", "/workspace/../etc/shadow"]:
        result = session.tool("read_file", path=path)
        assert result.get("isError") and "/workspace" in result["content"][0]["text"], result


def test_file_tools_never_block_on_a_fifo(mcp):
    """A fifo planted in the workspace must not hang the server."""
    session = mcp()
    assert session.tool("run_shell", command="mkfifo pipe")["structuredContent"]["exit_code"] == 0
    result = session.tool("read_file", path="pipe")
    assert result.get("isError"), result
    assert session.request("ping", {})["result"] == {}
