"""Processes that try to outlive the sandbox, and `corral run` itself being
SIGKILLed mid-run.

Every run goes through attacks/per_observe.py on the host: a child subreaper
that runs the command, then looks for survivors -- processes carrying a
unique marker anywhere on the host, and orphans reparented to it -- for a
few seconds. On the host (no sandbox) the same attack leaves survivors, so
the test can fail; the observer kills them afterwards.
"""
import glob
import os
import re
import secrets
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORRAL = os.environ.get("CORRAL_BIN", os.path.join(REPO, "build", "corral"))
PYTHON = "/usr/bin/python3"
CGROUP_GLOB = "/sys/fs/cgroup/*/corral/sandbox-{pid}-*"


def marker():
    return "cx" + secrets.token_hex(4)


def observe(attack, mark, command, *opts):
    return attack("per_observe.py", mark, *opts, "--", *command, sandbox=False, timeout=240)


def host_command(attack_dir, mark, modes, *extra):
    return [PYTHON, str(attack_dir / "per_daemon.py"), mark, modes, *extra]


def sandbox_command(attack_dir, mark, modes, *extra, corral_args=()):
    return [CORRAL, "run", "--ro-bind", f"{attack_dir}:/attacks", *corral_args, "--",
            "python3", "/attacks/per_daemon.py", mark, modes, *extra]


MODES = ["doublefork", "ignore", "rename", "pgrp", "subreaper", "nohup", "hop", "all"]


@pytest.mark.parametrize("modes", MODES)
def test_nothing_outlives_the_run(attack, attack_dir, modes):
    mark = marker()
    outside = observe(attack, mark, host_command(attack_dir, mark, modes))
    assert outside.escaped, f"{modes}: nothing survives even without a sandbox: {outside}"
    inside = observe(attack, mark, sandbox_command(attack_dir, mark, modes))
    m = re.search(r"SPAWNED (\d+)/(\d+)", inside.proc.stdout)
    assert m and m.group(1) == m.group(2), f"not every survivor started in the sandbox: {inside}"
    assert inside.blocked, f"{modes}: processes outlived `corral run`: {inside}"
    assert "LINGERING-SENTINEL" not in inside.proc.stdout, inside


def test_nothing_outlives_a_run_with_limits(attack, attack_dir):
    """The same with a limit that ends the run (the wall clock) instead of
    the command's own exit."""
    mark = marker()
    inside = observe(attack, mark, sandbox_command(attack_dir, mark, "all", "--stay",
                                                   corral_args=("--timeout", "3s")))
    assert "SPAWNED" in inside.proc.stdout and "exited 124" in inside.proc.stdout, inside
    assert inside.blocked, f"processes outlived a timed-out sandbox: {inside}"


def _cgroup_dirs(pid):
    return sorted(glob.glob(CGROUP_GLOB.format(pid=pid)))


def test_sigkill_of_corral_leaves_nothing(attack, attack_dir):
    mark = marker()
    outside = observe(attack, mark, host_command(attack_dir, mark, "all", "--stay"), "--kill-on-ready")
    assert outside.escaped, f"killing the host-side parent leaves nothing behind: {outside}"

    inside = observe(attack, mark, sandbox_command(attack_dir, mark, "all", "--stay"),
                     "--kill-on-ready", "--glob-at-ready", CGROUP_GLOB)
    out = inside.proc.stdout
    assert "KILLED" in out, f"corral was never killed (no READY from the sandbox?): {inside}"
    assert inside.blocked, f"processes outlived SIGKILL of `corral run`: {inside}"
    assert "LINGERING-SENTINEL" not in out, f"corral's sentinel did not finish: {inside}"

    pid = int(re.search(r"CHILDPID (\d+)", out).group(1))
    at_ready = re.search(r"AT-READY ?(.*)", out).group(1).split()
    if os.geteuid() == 0:
        assert at_ready, f"as root, corral should have made cgroups {CGROUP_GLOB.format(pid=pid)}: {inside}"
    # the sentinel removes them; give it a few seconds
    deadline = time.monotonic() + 10
    while _cgroup_dirs(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _cgroup_dirs(pid), f"cgroups left behind after SIGKILL of corral: {_cgroup_dirs(pid)}"
