"""Denials that explain themselves: what the seccomp policy refused is
recorded, counted and reported, while the sandboxed program still sees the
plain EPERM it would get from an ordinary filter."""
import json

from conftest import run

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
