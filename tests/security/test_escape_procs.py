"""Reaching other processes: ptrace, process_vm_readv/writev and
pidfd_getfd against corral's init (pid 1 inside), every visible pid, and the
host pid number of a process the test started (invisible inside); signals
to that host process, and kill(-1, SIGKILL) from inside.

Host-side runs only ever target the test's own victim process (never
"all", never kill(-1))."""
import pytest

from test_escape_common import UIDS, check, host_process  # noqa: F401


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("mode", ["ptrace", "vmread", "getfd"])
def test_reach_other_process(attack_dir, host_process, mode, uid):
    victim = host_process()
    check(attack_dir, "esc_proc", mode, "1", victim.pid, "all", corral_args=uid,
          host_args=[mode, victim.pid])
    # The host-side run attached/read and let go: the victim lives on.
    assert victim.alive()


@pytest.mark.parametrize("uid", UIDS)
def test_signal_host_process(attack_dir, host_process, uid):
    """kill(pid, 0) then SIGKILL, and pidfd_open + pidfd_send_signal, on the
    host pid number. The sandbox run comes first: the victim must survive
    it. The host-side run then kills it, which shows the attack works."""
    victim = host_process()
    bystander = host_process()
    try:
        check(attack_dir, "esc_proc", "kill", victim.token, victim.pid, bystander.pid, "1",
              corral_args=uid, host_args=["kill", victim.token, victim.pid])
    finally:
        assert bystander.alive(), "a host process died"
    victim.proc.wait(timeout=10)
    assert not victim.alive()


@pytest.mark.parametrize("uid", UIDS)
def test_kill_minus_one(attack_dir, host_process, uid):
    """kill(-1, SIGKILL) inside must not touch the host. The host-side half
    cannot run kill(-1) (it would kill the test run itself): it signals one
    victim by pid instead, which shows the same attack code works."""
    sleeper = host_process()
    spare = host_process()
    try:
        check(attack_dir, "esc_proc", "killall", sleeper.token, sleeper.pid, corral_args=uid,
              host_args=["kill", spare.token, spare.pid])
    finally:
        assert sleeper.alive(), "kill(-1, SIGKILL) inside the sandbox killed a host process"
