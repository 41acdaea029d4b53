"""Overwriting the runtime through /proc/PID/exe (runc CVE-2019-5736).

Inside, the runtime is corral's init (pid 1), a fork of the corral binary
on the host. On the host the same attack targets a process the test runs
from a copy of a binary in a temporary directory it owns: the attack gets
a writable descriptor to that copy and appends a marker, which the test
checks. No real system binary is ever opened for writing."""
import hashlib
import shutil
import subprocess

import pytest

from test_escape_common import CORRAL, UIDS, check, host_process, scratch  # noqa: F401


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def fake_runtime(attack_dir, scratch, host_process):
    """A copy of esc_proc in a test-owned directory, running as a victim."""
    copy = scratch / "runtime"
    shutil.copy(attack_dir / "esc_proc", copy)
    copy.chmod(0o755)
    victim = host_process(binary=str(copy))
    return copy, victim


MARK = b"corral-esc-exe-overwritten"


@pytest.mark.parametrize("uid", UIDS)
def test_write_init_exe(attack_dir, fake_runtime, uid):
    copy, victim = fake_runtime
    corral_before = _sha(CORRAL)
    check(attack_dir, "esc_exe", "exe", 1, "--kill", corral_args=uid,
          host_args=["exe", victim.pid, "--kill", "--write"])
    assert MARK in copy.read_bytes(), "the host-side run claimed success but the copy is unchanged"
    assert _sha(CORRAL) == corral_before, "the corral binary changed"


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("where", ["tmp", "workspace"])
def test_write_init_exe_from_executed_copy(attack_dir, scratch, fake_runtime, where, uid):
    """The attack copies itself into a writable grant, executes the copy,
    which tries its own /proc/self/exe (its own file: a NOTE) and then the
    runtime's /proc/1/exe."""
    copy, victim = fake_runtime
    ws = scratch / "ws"
    ws.mkdir()
    ws.chmod(0o777)
    inside_dir = "/tmp" if where == "tmp" else "/workspace"
    corral_before = _sha(CORRAL)
    check(attack_dir, "esc_exe", "copyexec", inside_dir, 1, "--kill",
          corral_args=("--workspace", str(ws), *uid),
          host_args=["copyexec", ws, victim.pid, "--kill", "--write"])
    assert MARK in copy.read_bytes()
    assert _sha(CORRAL) == corral_before, "the corral binary changed"


@pytest.mark.parametrize("uid", UIDS)
def test_shebang_proc_self_exe_does_not_run_corral(scratch, uid):
    """A workspace script whose interpreter is /proc/self/exe: the kernel
    resolves it in the process that executes the script. corral execs the
    command from a fork of itself, so, if allowed, the command would become
    the corral binary running inside the sandbox (with /proc/self/exe the
    host's corral). Host-side analog: bash executing the same script becomes
    bash."""
    ws = scratch / "ws"
    ws.mkdir()
    ws.chmod(0o777)
    script = ws / "evil"
    script.write_text("#!/proc/self/exe --version\n")
    script.chmod(0o755)
    host = subprocess.run(["/bin/bash", "-c", str(script)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert "GNU bash" in host.stdout, f"the trick does not work on the host: {host}"
    version = subprocess.run([CORRAL, "--version"], capture_output=True, text=True, timeout=60)
    inside = subprocess.run([CORRAL, "run", "--workspace", str(ws), *uid, "--", "/workspace/evil"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    out = inside.stdout + inside.stderr
    assert version.stdout.strip() and version.stdout.strip() not in inside.stdout, (
        f"the corral binary ran inside the sandbox: {inside}")
    assert inside.returncode != 0, f"/proc/self/exe was executed inside: {out}"
