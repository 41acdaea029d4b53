"""Unix sockets of the host: abstract ones (per network namespace, and on
Landlock ABI >= 6 scoped) and filesystem ones (not in the sandbox's tree).

The test binds the host-side sockets itself and records every connection,
so a run that reached them -- whatever the attack prints -- is caught.
"""
import glob
import os
import secrets
import select
import socket
import subprocess
import threading

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORRAL = os.environ.get("CORRAL_BIN", os.path.join(REPO, "build", "corral"))
PYTHON = "/usr/bin/python3"


class UnixServer:
    def __init__(self, address):
        self.lock = threading.Lock()
        self.tokens = []
        self.connections = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(address)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                with self.lock:
                    self.connections += 1
                conn.settimeout(5)
                try:
                    token = conn.recv(4096).decode(errors="replace").strip()
                    with self.lock:
                        self.tokens.append(token)
                    conn.sendall(f"ACK {token}\n".encode())
                except OSError:
                    pass

    def snapshot(self):
        with self.lock:
            return self.connections, list(self.tokens)

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


def test_host_abstract_socket_unreachable(attack):
    name = f"corral-test-{secrets.token_hex(8)}"
    server = UnixServer("\0" + name)
    try:
        outside = attack("net_unix.py", "abstract", name, "host-token", sandbox=False)
        assert outside.escaped, f"cannot reach the abstract socket even without a sandbox: {outside}"
        before, _ = server.snapshot()
        inside = attack("net_unix.py", "abstract", name, "sandbox-token")
        after, tokens = server.snapshot()
        assert inside.blocked, f"the sandbox reached the host's abstract socket @{name}: {inside}"
        assert after == before and "sandbox-token" not in tokens, \
            f"the host's abstract socket saw {after - before} connection(s) from the sandbox"
    finally:
        server.close()


def _host_daemon_sockets():
    """Well-known host daemon sockets, whichever exist."""
    found = set(glob.glob("/run/*.sock") + glob.glob("/var/run/*.sock") + glob.glob("/run/*/*.sock"))
    for p in ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
              "/run/dbus/system_bus_socket", "/run/systemd/private", "/run/systemd/journal/socket",
              "/run/systemd/notify", "/dev/log", "/run/user/%d/bus" % os.getuid()):
        if os.path.exists(p):
            found.add(p)
    return sorted(found)


def test_host_filesystem_sockets_invisible(attack, tmp_path):
    # A socket in a directory everybody may traverse: on the host, any
    # user can connect to it.
    tmp_path.chmod(0o755)
    path = tmp_path / "host.sock"
    server = UnixServer(str(path))
    path.chmod(0o777)
    daemons = _host_daemon_sockets()
    try:
        outside = attack("net_unix.py", "path", "host-token", path, sandbox=False)
        assert outside.escaped, f"cannot reach the test's socket even without a sandbox: {outside}"
        before, _ = server.snapshot()
        inside = attack("net_unix.py", "path", "sandbox-token", path, *daemons)
        after, tokens = server.snapshot()
        assert inside.blocked, f"the sandbox reached a host Unix socket: {inside}"
        assert after == before and "sandbox-token" not in tokens, \
            f"the test's socket saw {after - before} connection(s) from the sandbox"
        # "not visible", not merely "connect refused"
        for p in [str(path), *daemons]:
            assert f"{p}: not visible" in inside.proc.stdout, \
                f"{p} exists inside the sandbox: {inside.proc.stdout}"
    finally:
        server.close()


def _squat(argv, name):
    """Start argv (which binds @name and prints READY), then connect to
    @name from the host. Returns (connected, output)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # bounded wait for the READY line
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        if "READY" not in line:
            proc.kill()
            out, err = proc.communicate(timeout=30)
            pytest.fail(f"the squatter did not start: {line!r} {out!r} {err!r}")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect("\0" + name)
            s.sendall(b"from-the-host\n")
            connected = True
        except OSError as e:
            connected = e
        finally:
            s.close()
    finally:
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate(timeout=30)
    return connected, line + out + err


def test_sandbox_abstract_socket_not_reachable_from_host(attack_dir):
    """The other direction: an abstract socket bound inside the sandbox is
    not the host's, so a sandbox cannot squat a name host programs use."""
    name = f"corral-squat-{secrets.token_hex(8)}"
    connected, out = _squat([PYTHON, str(attack_dir / "net_unix.py"), "squat", name, "5"], name)
    assert connected is True, f"the host cannot reach a host squatter either: {connected}: {out}"
    connected, out = _squat([CORRAL, "run", "--ro-bind", f"{attack_dir}:/attacks", "--",
                             "python3", "/attacks/net_unix.py", "squat", name, "5"], name)
    assert connected is not True, f"the host connected to an abstract socket bound in the sandbox: {out}"
    assert "ESCAPED" not in out, out
