"""Denials that explain themselves: what the seccomp policy refused is
recorded, counted and reported, while the sandboxed program still sees the
plain EPERM it would get from an ordinary filter."""
import ctypes
import json
import os
import pwd
import socket
import struct
import subprocess

import pytest

from conftest import DEFAULT_TIMEOUT, as_user, corral_argv, is_root, run

PROBE = r"""
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
results = []
for _ in range(3):
    rc = libc.ptrace(0, 0, 0, 0)               # PTRACE_TRACEME
    results.append((rc, ctypes.get_errno()))
rc = libc.unshare(0x10000000)                  # CLONE_NEWUSER
results.append((rc, ctypes.get_errno()))
try:
    socket.socket(17, socket.SOCK_RAW, 0)      # AF_PACKET
    results.append((0, 0))
except OSError as e:
    results.append((-1, e.errno))
print(results)
sys.exit(0 if all(r == (-1, 1) for r in results) else 3)
"""


def report_of(tmp_path, *args):
    rep = tmp_path / "report.json"
    proc = run("--report", str(rep), *args)
    return proc, json.loads(rep.read_text())


def test_denied_calls_are_counted_and_still_eperm(tmp_path):
    proc, report = report_of(tmp_path, "--", "python3", "-c", PROBE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    denials = {(d["kind"], d["name"]): d["count"] for d in report["denials"]}
    assert denials.get(("syscall", "ptrace")) == 3, report["denials"]
    assert denials.get(("syscall", "unshare")) == 1, report["denials"]
    assert denials.get(("syscall", "socket")) == 1, report["denials"]


def test_clean_run_has_no_denials(tmp_path):
    # Threads (clone3 falls back to clone with ENOSYS, by design not a
    # denial) and ordinary I/O must not show up.
    proc, report = report_of(tmp_path, "--", "python3", "-c",
                             "import threading; t = threading.Thread(target=print, args=('x',)); "
                             "t.start(); t.join()")
    assert proc.returncode == 0, proc.stderr
    assert report["denials"] == []


def test_verbose_names_the_denials():
    proc = run("-v", "--", "python3", "-c",
               "import ctypes; ctypes.CDLL(None).ptrace(0, 0, 0, 0)")
    assert proc.returncode == 0, proc.stderr
    assert "corral: denied syscall ptrace (1 time)" in proc.stderr.splitlines()


def test_denials_from_children_are_recorded(tmp_path):
    script = "for i in 1 2; do python3 -c 'import ctypes; ctypes.CDLL(None).ptrace(0,0,0,0)'; done"
    proc, report = report_of(tmp_path, "--", "sh", "-c", script)
    assert proc.returncode == 0, proc.stderr
    assert {"kind": "syscall", "name": "ptrace", "count": 2} in report["denials"]


# ---- Landlock path denials (from the kernel's audit records) -------------

AUDIT_GET, AUDIT_SET, NLMSG_ERROR = 1000, 1001, 2
NETLINK_AUDIT = 9


def _audit_request(msg_type, payload=b""):
    """One AUDIT_GET/AUDIT_SET exchange; returns audit_status.enabled for
    AUDIT_GET. The kernel acks and sends the status apart, in any order."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT) as s:
        s.settimeout(5)
        s.send(struct.pack("=IHHII", 16 + len(payload), msg_type, 0x5, 1, 0) + payload)
        acked, enabled = False, None
        while not acked or (msg_type == AUDIT_GET and enabled is None):
            data = s.recv(65536)
            typ = struct.unpack("=H", data[4:6])[0]
            if typ == NLMSG_ERROR:
                err = struct.unpack("=i", data[16:20])[0]
                if err:
                    raise OSError(-err, os.strerror(-err))
                acked = True
            elif typ == AUDIT_GET:
                enabled = struct.unpack("=II", data[16:24])[1]
        return enabled


def audit_enabled():
    return _audit_request(AUDIT_GET)


def set_audit(enabled):
    # struct audit_status: mask (AUDIT_STATUS_ENABLED), enabled, then the
    # fields the kernel ignores without their mask bit.
    _audit_request(AUDIT_SET, struct.pack("=II", 1, enabled) + bytes(32))


def landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return max(libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint(1)), 0)


@pytest.fixture
def audit_on():
    """Audit enabled for the test, the host's setting restored after."""
    if not is_root() or as_user():
        pytest.skip("enabling audit and reading its records need root "
                    "(CAP_AUDIT_CONTROL, CAP_AUDIT_READ)")
    if landlock_abi() < 7:
        pytest.skip("Landlock audit needs ABI 7 (Linux 6.15)")
    before = audit_enabled()
    if before == 2:
        pytest.skip("the host's audit configuration is locked")
    set_audit(1)
    yield
    set_audit(before)


def run_with_stdin(path, *args):
    with open(path, "rb") as f:
        proc = subprocess.run(corral_argv(["run", *args]), stdin=f, capture_output=True,
                              timeout=DEFAULT_TIMEOUT, text=True)
    return proc


def report_line(stderr):
    return json.loads([line for line in stderr.splitlines() if line.startswith("{")][-1])


# Reads its stdin's file again by name (outside the sandbox: Landlock
# refuses it) and creates a file where nothing is granted writable.
REOPEN = "cat /proc/self/fd/0 >/dev/null; touch /dev/x; echo $?"


def test_landlock_path_denials_are_reported(tmp_path, audit_on):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret\n")
    proc = run_with_stdin(secret, "-v", "--report", "-", "--", "sh", "-c", REOPEN + "; " + REOPEN)
    assert proc.returncode == 0, proc.stderr
    assert "Permission denied" in proc.stderr and "host secret" not in proc.stdout
    report = report_line(proc.stderr)
    assert report["enforcement"]["path_denials"] == "audit"
    assert report["enforcement"]["path_denials_why"] is None, report["enforcement"]
    paths = [d for d in report["denials"] if d["kind"] == "path"]
    assert {"kind": "path", "name": str(secret), "access": "fs.read_file", "count": 2} in paths, \
        report["denials"]
    assert {"kind": "path", "name": "/dev", "access": "fs.make_reg", "count": 2} in paths, \
        report["denials"]
    assert f"corral: denied path {secret} fs.read_file (2 times)" in proc.stderr.splitlines()


def test_landlock_clean_run_has_no_path_denials(audit_on):
    proc = run("--report", "-", "--", "sh", "-c", "cat /etc/hostname >/dev/null; touch /tmp/x")
    assert proc.returncode == 0, proc.stderr
    report = report_line(proc.stderr)
    assert report["enforcement"]["path_denials"] == "audit"
    assert report["enforcement"]["path_denials_why"] is None
    assert report["denials"] == []


def test_path_denials_unavailable_with_audit_off(audit_on):
    set_audit(0)  # the fixture restores the host's setting
    proc = run("-v", "--report", "-", "--", "true")
    assert proc.returncode == 0, proc.stderr
    enforcement = report_line(proc.stderr)["enforcement"]
    assert enforcement["path_denials"] == "none"
    assert "audit is disabled" in enforcement["path_denials_why"]
    assert "corral: path denials not reported: audit is disabled" in proc.stderr


def test_path_denials_unavailable_rootless():
    user = as_user() or (None if is_root() else pwd.getpwuid(os.geteuid()).pw_name)
    if user is None:
        try:
            user = pwd.getpwnam("corraltest").pw_name
        except KeyError:
            pytest.skip("needs an unprivileged user (corraltest) to run corral as")
    proc = run("--report", "-", "--", "true", user=user if is_root() else None)
    assert proc.returncode == 0, proc.stderr
    report = report_line(proc.stderr)
    assert report["enforcement"]["path_denials"] == "none"
    if landlock_abi() >= 7:
        assert "CAP_AUDIT_READ" in report["enforcement"]["path_denials_why"]
    else:
        assert "Landlock" in report["enforcement"]["path_denials_why"]
    assert [d for d in report["denials"] if d["kind"] == "path"] == []
