"""Helpers for the test_escape_* modules (this module holds no tests).

The conftest harness runs an attack with subprocess.run and the caller's
descriptors; some escapes need more control (extra inherited descriptors, a
directory as stdin, a working directory, a fresh session). `run_attack`
builds the same command lines as the harness and adds those knobs, and
`check` runs an attack inside (must be BLOCKED) and on the host (must
ESCAPE, or skip with a reason computed from what the host said).
"""
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CORRAL = os.environ.get("CORRAL_BIN", str(REPO / "build" / "corral"))
PYTHON = "/usr/bin/python3"
TIMEOUT = 60


def is_root():
    return os.geteuid() == 0


class Result:
    def __init__(self, proc, where, argv):
        self.proc = proc
        self.where = where
        self.argv = argv
        lines = [l for l in proc.stdout.splitlines() if l.startswith(("ESCAPED:", "BLOCKED:"))]
        self.line = lines[-1] if lines else None

    @property
    def stdout(self):
        return self.proc.stdout

    @property
    def escaped(self):
        return self.line is not None and self.line.startswith("ESCAPED:") and self.proc.returncode == 0

    @property
    def blocked(self):
        return self.line is not None and self.line.startswith("BLOCKED:") and self.proc.returncode == 1

    def notes(self):
        return [l[6:] for l in self.proc.stdout.splitlines() if l.startswith("NOTE: ")]

    def __repr__(self):
        return (f"<{self.where}: {' '.join(self.argv)}\n exit {self.proc.returncode}, verdict "
                f"{self.line!r}\n stdout: {self.proc.stdout[-3000:]}\n stderr: {self.proc.stderr[-2000:]}>")


def command(attack_dir, name, args, inside):
    base = "/attacks" if inside else str(attack_dir)
    if name.endswith(".py"):
        return ["python3" if inside else PYTHON, f"{base}/{name}", *args]
    if name.endswith(".sh"):
        return ["/bin/sh", f"{base}/{name}", *args]
    return [f"{base}/{name}", *args]


def corral_argv(attack_dir, corral_args=()):
    return [CORRAL, "run", "--ro-bind", f"{attack_dir}:/attacks", *corral_args, "--"]


def run_attack(attack_dir, name, *args, sandbox=True, corral_args=(), timeout=TIMEOUT, env=None,
               stdin=subprocess.DEVNULL, pass_fds=(), cwd=None, new_session=True):
    """Run an attack; by default with stdin from /dev/null, in a new session
    (so nothing can reach the terminal pytest runs in)."""
    args = [str(a) for a in args]
    argv = command(attack_dir, name, args, sandbox)
    if sandbox:
        argv = corral_argv(attack_dir, corral_args) + argv
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=stdin, pass_fds=pass_fds, cwd=cwd, errors="replace",
                          start_new_session=new_session)
    return Result(proc, "sandbox" if sandbox else "host", argv)


def check(attack_dir, name, *args, host_args=None, corral_args=(), host_skip=None, host_kw=None,
          inside_kw=None):
    """Inside: must be BLOCKED. Host: must ESCAPE, unless host_skip(result)
    gives the reason it cannot here (then the test is skipped, after the
    sandbox half has been checked)."""
    inside = run_attack(attack_dir, name, *args, sandbox=True, corral_args=corral_args,
                        **(inside_kw or {}))
    assert inside.blocked, f"corral did not stop the attack: {inside!r}"
    outside = run_attack(attack_dir, name, *(args if host_args is None else host_args),
                         sandbox=False, **(host_kw or {}))
    if not outside.escaped:
        reason = host_skip(outside) if host_skip else None
        if reason:
            pytest.skip(f"{name}: blocked inside as it must be, but cannot escape on this host "
                        f"without a sandbox either: {reason}")
        pytest.fail(f"the attack does not work even without a sandbox: {outside!r}")
    return outside, inside


def errnos(result):
    """The errno names mentioned in an attack's NOTE lines."""
    import re
    return set(re.findall(r"\b(E[A-Z]{2,})\b", "\n".join(result.notes())))


def needs_root(what):
    """host_skip for primitives only root has on the host."""
    def reason(result):
        if is_root():
            return None
        found = ", ".join(sorted(errnos(result))) or "refused"
        return f"{what} needs root on the host and this run is uid {os.geteuid()} ({found})"
    return reason


def kernel_lacks(what, also_root=None):
    """host_skip when the host kernel answers ENOSYS (or root is missing)."""
    def reason(result):
        notes = result.notes()
        if notes and all("ENOSYS" in n for n in notes if ": " in n and "ESCAPE" not in n):
            return f"this kernel lacks {what} (every attempt on the host returned ENOSYS)"
        if also_root and not is_root():
            return needs_root(also_root)(result)
        return None
    return reason


def sysctl(path):
    try:
        return pathlib.Path(path).read_text().strip()
    except OSError as e:
        return f"unreadable ({e.strerror})"


def open_dir(prefix="corral-esc-"):
    """A fresh directory under /tmp that every uid may traverse and read, so
    a refusal inside the sandbox can only come from the sandbox (not from a
    0700 pytest temp directory above it)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d


def plant_canary(directory, name="canary"):
    secret = "corral-canary-" + secrets.token_hex(8)
    p = directory / name
    p.write_text(secret + "\n")
    p.chmod(0o644)
    return p, secret


class HostProcess:
    """A victim on the host: `esc_proc sleep TOKEN`, optionally with a
    secret in its environment and a chosen working directory."""

    def __init__(self, attack_dir, env=None, cwd=None, binary=None):
        self.token = "corral-victim-" + secrets.token_hex(6)
        exe = binary or str(attack_dir / "esc_proc")
        self.proc = subprocess.Popen([exe, "sleep", self.token], env=env, cwd=cwd,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid
        # Wait until it runs the program (exec done), bounded.
        for _ in range(200):
            try:
                if self.token in pathlib.Path(f"/proc/{self.pid}/cmdline").read_bytes().decode(
                        errors="replace"):
                    break
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            import time
            time.sleep(0.01)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture
def scratch():
    d = open_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def host_process(attack_dir):
    started = []

    def start(**kw):
        p = HostProcess(attack_dir, **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


UIDS = [pytest.param((), id="uid1000"), pytest.param(("--uid", "0"), id="uid0")]
