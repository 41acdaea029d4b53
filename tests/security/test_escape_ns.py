"""Regaining namespaces and mount powers: unshare, raw clone and clone3
with CLONE_NEWUSER, setns into corral's init's namespaces, mounting a tmpfs,
pivot_root and chroot. Host-side runs do everything in a forked child, in a
private mount namespace (never on the host's own mount table)."""
import pytest

from test_escape_common import UIDS, check, host_process, needs_root, scratch  # noqa: F401


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("mode", ["unshare_user", "unshare_mount", "clone_newuser",
                                  "clone_newuser_high", "clone3_newuser"])
def test_new_namespaces(attack_dir, mode, uid):
    check(attack_dir, "esc_ns", mode, corral_args=uid)


@pytest.mark.parametrize("uid", UIDS)
def test_setns(attack_dir, host_process, uid):
    """Inside: every visible process (corral's init included) and the host
    victim's pid number. Host side: the victim's namespaces (our own)."""
    victim = host_process()
    check(attack_dir, "esc_ns", "setns", "all", corral_args=uid,
          host_args=["setns", victim.pid], host_skip=needs_root("setns (CAP_SYS_ADMIN)"))
    check(attack_dir, "esc_ns", "setns", "1", corral_args=uid,
          host_args=["setns", victim.pid], host_skip=needs_root("setns (CAP_SYS_ADMIN)"))
    check(attack_dir, "esc_ns", "setns", victim.pid, corral_args=uid,
          host_args=["setns", victim.pid], host_skip=needs_root("setns (CAP_SYS_ADMIN)"))


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("mode", ["mount_tmpfs", "pivot_root", "chroot"])
def test_mount_powers(attack_dir, scratch, mode, uid):
    """Inside, /tmp (itself a mount point) is the target; unprivileged
    host-side runs gain the power through a new user namespace."""
    check(attack_dir, "esc_ns", mode, "/tmp", corral_args=uid, host_args=[mode, scratch])
