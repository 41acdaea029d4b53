"""Devices and cgroups: mknod, /dev/mem, /dev/kmsg, the host's disks, and
leaving the sandbox's cgroup (cgroup.procs, mounting cgroupfs,
release_agent), plus what /proc/self/cgroup tells about the host.

Host-side runs read devices, never write them; cgroup.procs gets our pid
only for the cgroup we already are in; release_agent is opened for writing
and closed without a write."""
import os

import pytest

from test_escape_common import (UIDS, check, errnos, is_root, needs_root, scratch,  # noqa: F401
                                sysctl)


@pytest.mark.parametrize("uid", UIDS)
def test_mknod(attack_dir, scratch, uid):
    check(attack_dir, "esc_dev.py", "mknod", "/tmp", corral_args=uid,
          host_args=["mknod", scratch], host_skip=needs_root("mknod (CAP_MKNOD)"))


@pytest.mark.parametrize("uid", UIDS)
def test_mknod_in_workspace(attack_dir, scratch, uid):
    ws = scratch / "ws"
    ws.mkdir()
    ws.chmod(0o777)
    check(attack_dir, "esc_dev.py", "mknod", "/workspace",
          corral_args=("--workspace", str(ws), *uid), host_args=["mknod", ws],
          host_skip=needs_root("mknod (CAP_MKNOD)"))


def _mem_skip(result):
    if not os.path.exists("/dev/mem"):
        return ("the host has no /dev/mem and a node for 1:1 does not open either (kernel "
                f"built without CONFIG_DEVMEM; host answers: {', '.join(sorted(errnos(result)))})")
    return needs_root("/dev/mem")(result)


@pytest.mark.parametrize("uid", UIDS)
def test_dev_mem(attack_dir, scratch, uid):
    check(attack_dir, "esc_dev.py", "mem", "/tmp", corral_args=uid,
          host_args=["mem", scratch], host_skip=_mem_skip)


def _kmsg_skip(result):
    if not os.path.exists("/dev/kmsg"):
        return "the host has no /dev/kmsg"
    if not is_root():
        return (f"reading /dev/kmsg is refused to uid {os.geteuid()} "
                f"(kernel.dmesg_restrict = {sysctl('/proc/sys/kernel/dmesg_restrict')})")
    return None


@pytest.mark.parametrize("uid", UIDS)
def test_dev_kmsg(attack_dir, scratch, uid):
    check(attack_dir, "esc_dev.py", "kmsg", "/tmp", corral_args=uid,
          host_args=["kmsg", scratch], host_skip=_kmsg_skip)


@pytest.mark.parametrize("uid", UIDS)
def test_block_devices(attack_dir, scratch, uid):
    """The disks listed in /sys/dev/block (visible inside): open /dev/NAME
    or a node made for MAJOR:MINOR, and read."""
    check(attack_dir, "esc_dev.py", "block", "/tmp", corral_args=uid,
          host_args=["block", scratch], host_skip=needs_root("reading block devices"))


@pytest.mark.parametrize("uid", UIDS)
def test_cgroup_procs(attack_dir, uid):
    check(attack_dir, "esc_cgroup.py", "procs", "--all", corral_args=uid,
          host_args=["procs"], host_skip=needs_root("writing cgroup.procs"))


@pytest.mark.parametrize("uid", UIDS)
def test_cgroup_release_agent(attack_dir, uid):
    check(attack_dir, "esc_cgroup.py", "release_agent", "--all", corral_args=uid,
          host_args=["release_agent"], host_skip=needs_root("opening release_agent"))


@pytest.mark.parametrize("uid", UIDS)
def test_cgroup_mount(attack_dir, scratch, uid):
    check(attack_dir, "esc_cgroup.py", "mount", "/tmp", corral_args=uid,
          host_args=["mount", scratch])


def _view_skip(result):
    return ("the test itself runs in the root cgroup of every hierarchy, so there is no host "
            "cgroup path to see")


@pytest.mark.parametrize("uid", UIDS)
def test_cgroup_namespace_hides_host_paths(attack_dir, uid):
    """The sandbox has its own cgroup namespace ("own cgroup view"): its
    /proc/self/cgroup should show "/" for every hierarchy. A path there
    tells where the sandbox sits in the host's cgroup tree (corral's
    "/corral/sandbox-<host pid of corral>-..." names, or "/../.." above the
    namespace root). On the host the same read shows the test's own cgroup
    path."""
    check(attack_dir, "esc_cgroup.py", "view", corral_args=uid, host_skip=_view_skip)
