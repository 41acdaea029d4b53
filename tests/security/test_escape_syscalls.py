"""Kernel attack surface: keyrings, bpf, perf, userfaultfd, io_uring,
modules, kexec, reboot, swap, the clock, the host name, file handles,
modify_ldt, personality, and foreign ABIs (x32, int 0x80).

Calls that would change the host if they succeeded are made with arguments
the kernel refuses only after its permission check (see esc_syscalls.c);
reaching that point is the escape."""
import os
import socket

import pytest

from test_escape_common import (UIDS, check, errnos, is_root, kernel_lacks, needs_root,  # noqa: F401
                                run_attack, scratch, sysctl)


def unprivileged(what, sysctl_path=None):
    """host_skip for calls open to unprivileged users unless a sysctl or
    device permission says otherwise."""
    def reason(result):
        if "ENOSYS" in errnos(result) and not ({"EPERM", "EACCES"} & errnos(result)):
            return f"this kernel lacks {what} (ENOSYS on the host)"
        if is_root():
            return None
        extra = f"; {sysctl_path} = {sysctl(sysctl_path)}" if sysctl_path else ""
        return (f"{what} is refused to uid {os.geteuid()} on this host "
                f"({', '.join(sorted(errnos(result)))}{extra})")
    return reason


PROBES = [
    ("add_key", [], unprivileged("add_key")),
    ("keyctl", [], unprivileged("keyctl")),
    ("bpf", [], unprivileged("bpf(BPF_MAP_CREATE)", "/proc/sys/kernel/unprivileged_bpf_disabled")),
    ("perf_event_open", [],
     unprivileged("perf_event_open", "/proc/sys/kernel/perf_event_paranoid")),
    ("userfaultfd", [], unprivileged("userfaultfd", "/proc/sys/vm/unprivileged_userfaultfd")),
    ("dev_userfaultfd", ["{scratch}"], unprivileged("opening /dev/userfaultfd (mode 0600)")),
    ("io_uring_setup", [], unprivileged("io_uring", "/proc/sys/kernel/io_uring_disabled")),
    ("modules", ["{scratch}"], kernel_lacks("module loading (CONFIG_MODULES)",
                                            also_root="init_module/finit_module")),
    ("kexec", [], kernel_lacks("kexec (CONFIG_KEXEC, CONFIG_KEXEC_FILE)", also_root="kexec_load")),
    ("reboot", [], needs_root("reboot (CAP_SYS_BOOT)")),
    ("swap", ["{scratch}"], needs_root("swapon/swapoff (CAP_SYS_ADMIN)")),
    ("clock", [], needs_root("setting the clock (CAP_SYS_TIME)")),
    ("name_to_handle_at", ["/usr"], unprivileged("name_to_handle_at")),
    ("open_by_handle_at", ["/usr"], needs_root("open_by_handle_at (CAP_DAC_READ_SEARCH)")),
    ("modify_ldt", [], unprivileged("modify_ldt (CONFIG_MODIFY_LDT_SYSCALL)")),
    ("personality", [], unprivileged("personality(READ_IMPLIES_EXEC)")),
]


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("probe,args,host_skip", PROBES, ids=[p[0] for p in PROBES])
def test_syscall_probe(attack_dir, scratch, probe, args, host_skip, uid):
    inside_args = [a.format(scratch="/tmp") for a in args]
    host_args = [a.format(scratch=scratch) for a in args]
    check(attack_dir, "esc_syscalls", probe, *inside_args, corral_args=uid,
          host_args=[probe, *host_args], host_skip=host_skip)


@pytest.mark.parametrize("uid", UIDS)
def test_sethostname_does_not_leak(attack_dir, uid):
    """Inside: set a new name (refused, and the sandbox has its own UTS
    namespace anyway). Host side: set the current name again (a no-op that
    needs CAP_SYS_ADMIN). The host's name must be unchanged."""
    before = socket.gethostname()
    try:
        check(attack_dir, "esc_syscalls", "sethostname", "corral-esc-pwned", corral_args=uid,
              host_args=["sethostname", before], host_skip=needs_root("sethostname"))
    finally:
        assert socket.gethostname() == before, "the host's name changed"


def _abi_skip(abi):
    def reason(result):
        out = result.stdout
        if "ENOSYS" in out:
            return f"this kernel has no {abi} ABI (the call returned ENOSYS on the host)"
        if "signal 11" in out:
            return (f"the {abi} system call instruction itself faults on this host even without "
                    f"a sandbox (the child died of SIGSEGV: the kernel has no entry point for "
                    f"that ABI, e.g. ia32 emulation disabled)")
        return None
    return reason


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("abi", ["x32", "int80"])
def test_foreign_abi_kills(attack_dir, abi, uid):
    """The raw call runs in a child; seccomp must kill it with SIGSYS. When
    the host kernel has no such entry at all (ENOSYS, or a fault), the call
    dies before seccomp sees it: then any death or refusal is accepted and
    the host half is skipped."""
    host = run_attack(attack_dir, "esc_abi", abi, sandbox=False)
    inside = run_attack(attack_dir, "esc_abi", abi, corral_args=uid)
    assert inside.blocked, f"corral did not stop the {abi} call: {inside!r}"
    if host.escaped:
        assert "SIGSYS" in inside.line, f"not killed by seccomp: {inside!r}"
        return
    reason = _abi_skip(abi)(host)
    if abi == "x32" and "ENOSYS" in host.stdout:
        # libseccomp's x32 guard runs before the kernel's ENOSYS: the kill
        # is policy and must happen on any kernel.
        assert "SIGSYS" in inside.line, f"x32 call not killed by seccomp: {inside!r}"
    if reason:
        pytest.skip(f"{abi}: {reason}")
    pytest.fail(f"the attack does not work even without a sandbox: {host!r}")
