"""What the caller leaks into `corral run`: open descriptors (a host file,
a host directory) and its working directory.
"""
import os
import secrets
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORRAL = os.environ.get("CORRAL_BIN", os.path.join(REPO, "build", "corral"))
PYTHON = "/usr/bin/python3"


class Run:
    def __init__(self, proc, where):
        self.proc, self.where = proc, where
        lines = [l for l in proc.stdout.splitlines() if l.startswith(("ESCAPED:", "BLOCKED:"))]
        self.line = lines[-1] if lines else None
        self.escaped = bool(self.line and self.line.startswith("ESCAPED:") and proc.returncode == 0)
        self.blocked = bool(self.line and self.line.startswith("BLOCKED:") and proc.returncode == 1)

    def __repr__(self):
        return (f"<{self.where}: exit {self.proc.returncode}, verdict {self.line!r}\n"
                f"stdout: {self.proc.stdout[-2000:]!r}\nstderr: {self.proc.stderr[-2000:]!r}>")


def run(argv, where, **kw):
    proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=120, **kw)
    return Run(proc, where)


def sandboxed(attack_dir, script, *args, corral_args=()):
    return [CORRAL, "run", "--ro-bind", f"{attack_dir}:/attacks", *corral_args, "--",
            "python3", f"/attacks/{script}", *map(str, args)]


UIDS = [pytest.param((), id="uid1000"), pytest.param(("--uid", "0"), id="uid0")]


@pytest.mark.parametrize("corral_args", UIDS)
def test_leaked_descriptors_are_closed(attack_dir, tmp_path, corral_args):
    tmp_path.chmod(0o755)
    secret_dir = tmp_path / "host-dir"
    secret_dir.mkdir()
    (secret_dir / "inner.txt").write_text("host directory secret\n")
    secret = tmp_path / "host-file.txt"
    secret.write_text("host file secret\n")
    file_fd = os.open(secret, os.O_RDONLY)  # inheritable only through pass_fds
    dir_fd = os.open(secret_dir, os.O_RDONLY | os.O_DIRECTORY)
    high = 900  # far up, where a "close 3..N" loop with a small N would miss it
    os.dup2(dir_fd, high)
    try:
        args = (file_fd, high, "inner.txt")
        outside = run([PYTHON, str(attack_dir / "per_fds.py"), *map(str, args)], "host",
                      pass_fds=(file_fd, high))
        assert outside.escaped, f"the leaked descriptors are not usable even on the host: {outside}"
        inside = run(sandboxed(attack_dir, "per_fds.py", *args, corral_args=corral_args), "sandbox",
                     pass_fds=(file_fd, high))
        assert inside.blocked, f"descriptors leaked into the sandbox: {inside}"
    finally:
        for fd in (file_fd, dir_fd, high):
            os.close(fd)


@pytest.mark.parametrize("corral_args", UIDS)
def test_callers_cwd_out_of_reach(attack_dir, tmp_path, corral_args):
    tmp_path.chmod(0o755)
    host_cwd = tmp_path / "caller-cwd"
    host_cwd.mkdir()
    host_cwd.chmod(0o755)
    canary = f"cwd-canary-{secrets.token_hex(6)}"
    (host_cwd / canary).write_text("the caller's directory\n")
    (host_cwd / canary).chmod(0o644)

    outside = run([PYTHON, str(attack_dir / "per_cwd.py"), canary, str(host_cwd)], "host", cwd=host_cwd)
    assert outside.escaped, f"the attack cannot see its own cwd on the host: {outside}"
    inside = run(sandboxed(attack_dir, "per_cwd.py", canary, host_cwd, corral_args=corral_args),
                 "sandbox", cwd=host_cwd)
    assert inside.blocked, f"the sandbox reached the caller's working directory: {inside}"
    assert "getcwd: /" in inside.proc.stdout, inside
