"""Harness for the attack suite.

Every attack is a small hostile program in attacks/ (C, Python or shell)
that tries one escape or exhaustion and reports, on its last line of stdout:

    ESCAPED: <what it achieved>   and exits 0   -- the attack worked
    BLOCKED: <what stopped it>    and exits 1   -- the attack failed

Anything else (another exit code, no verdict line) is an error in the attack
itself and fails the test. Each attack runs twice: without a sandbox, where it
must ESCAPE (so the test can fail), and under `corral run` with the default
policy, where it must be BLOCKED.
"""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ATTACKS = pathlib.Path(__file__).resolve().parent / "attacks"
CORRAL = os.environ.get("CORRAL_BIN", str(REPO / "build" / "corral"))
PYTHON = "/usr/bin/python3"


class Verdict:
    def __init__(self, proc, where):
        self.proc = proc
        self.where = where
        lines = [l for l in proc.stdout.splitlines() if l.startswith(("ESCAPED:", "BLOCKED:"))]
        self.line = lines[-1] if lines else None

    @property
    def escaped(self):
        return self.line is not None and self.line.startswith("ESCAPED:") and self.proc.returncode == 0

    @property
    def blocked(self):
        return self.line is not None and self.line.startswith("BLOCKED:") and self.proc.returncode == 1

    def __repr__(self):
        return (f"<{self.where}: exit {self.proc.returncode}, verdict {self.line!r}\n"
                f"stdout: {self.proc.stdout[-2000:]!r}\nstderr: {self.proc.stderr[-2000:]!r}>")


@pytest.fixture(scope="session")
def attack_dir():
    """A directory, readable by everyone, holding the attacks (C ones built)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="corral-attacks-"))
    os.chmod(d, 0o755)
    for src in ATTACKS.iterdir():
        if src.suffix == ".c":
            out = d / src.stem
            subprocess.run(["gcc", "-O1", "-w", "-o", str(out), str(src), "-lpthread"],
                           check=True, timeout=120)
        elif src.suffix in (".py", ".sh"):
            shutil.copy(src, d / src.name)
        else:
            continue
    for p in d.iterdir():
        os.chmod(p, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _command(attack_dir, name, args, inside):
    base = "/attacks" if inside else str(attack_dir)
    if (attack_dir / name).exists() and not name.endswith((".py", ".sh")):
        return [f"{base}/{name}", *args]
    if name.endswith(".py"):
        return [PYTHON if not inside else "python3", f"{base}/{name}", *args]
    if name.endswith(".sh"):
        return ["/bin/sh", f"{base}/{name}", *args]
    raise FileNotFoundError(name)


@pytest.fixture
def attack(attack_dir):
    """attack(name, *args, sandbox=True, corral_args=(), timeout=60, env=None)"""

    def run(name, *args, sandbox=True, corral_args=(), timeout=60, env=None, input=None):
        args = [str(a) for a in args]
        if sandbox:
            argv = [CORRAL, "run", "--ro-bind", f"{attack_dir}:/attacks", *corral_args, "--",
                    *_command(attack_dir, name, args, True)]
        else:
            argv = _command(attack_dir, name, args, False)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              input=input, errors="replace")
        return Verdict(proc, "sandbox" if sandbox else "host")

    return run


@pytest.fixture
def check_attack(attack):
    """Run `name` outside (must escape) and inside (must be blocked)."""

    def check(name, *args, corral_args=(), host_args=None, require_host_escape=True):
        outside = attack(name, *(host_args if host_args is not None else args), sandbox=False)
        if require_host_escape:
            assert outside.escaped, f"the attack does not work even without a sandbox: {outside}"
        inside = attack(name, *args, corral_args=corral_args)
        assert inside.blocked, f"corral did not stop the attack: {inside}"
        return outside, inside

    return check


def is_root():
    return os.geteuid() == 0
