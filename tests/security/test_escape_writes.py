"""Writing outside the grants: system directories, a read-only bind, the
root, /proc/sys and /sys; and evidence that Landlock itself is in force.

Host-side runs only create uniquely named files (removed at once) or write
back the value a file already holds."""
import os
import pathlib
import re
import socket

import pytest

from test_escape_common import UIDS, check, needs_root, open_dir, scratch  # noqa: F401


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("target", ["/usr", "/etc", "/", "/var"])
def test_create_in_system_dir(attack_dir, target, uid):
    if not os.path.isdir(target):
        pytest.skip(f"{target} does not exist on this host")
    real = os.path.realpath(target)
    check(attack_dir, "esc_write.py", f"create:{target}", f"mkdir:{target}", f"symlink:{target}",
          f"mknod:{target}", corral_args=uid, host_args=[f"create:{real}"],
          host_skip=needs_root(f"creating a file in {target}"))


@pytest.mark.parametrize("uid", UIDS)
def test_write_system_file(attack_dir, uid):
    """Existing files of the system: opened for writing (the host-side run
    only opens a file the test owns; writing /etc/os-release on the host is
    not something a test may do)."""
    inside = [f"append:{p}" for p in ("/etc/os-release", "/etc/passwd", "/etc/hostname",
                                      "/etc/hosts", "/usr/bin/env", "/bin/sh")
              if os.path.exists(p)]
    inside += ["chmod:/usr/bin/env", "rename:/etc/passwd"]
    d = open_dir()
    try:
        own = d / "own-file"
        own.write_text("x\n")
        check(attack_dir, "esc_write.py", *inside, corral_args=uid,
              host_args=[f"append:{own}", f"chmod:{own}", f"rename:{own}"])
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("uid", UIDS)
def test_read_only_bind(attack_dir, scratch, uid):
    """Everything in a --ro-bind directory is writable by mode and owner;
    only the read-only bind stands in the way."""
    ro = scratch / "ro"
    ro.mkdir()
    ro.chmod(0o777)
    f = ro / "file"
    f.write_text("original\n")
    f.chmod(0o666)
    ops = ["create:{d}", "mkdir:{d}", "symlink:{d}", "mknod:{d}", "write:{d}/file:overwritten",
           "append:{d}/file", "chmod:{d}/file", "rename:{d}/file"]
    check(attack_dir, "esc_write.py", *[o.format(d="/ro") for o in ops],
          corral_args=("--ro-bind", f"{ro}:/ro", *uid),
          host_args=[o.format(d=ro) for o in ops])


@pytest.mark.parametrize("uid", UIDS)
def test_read_only_bind_content_unchanged(attack_dir, scratch, uid):
    ro = scratch / "ro"
    ro.mkdir()
    ro.chmod(0o777)
    f = ro / "file"
    f.write_text("original\n")
    f.chmod(0o666)
    check(attack_dir, "esc_write.py", "write:/ro/file:overwritten", "append:/ro/file",
          corral_args=("--ro-bind", f"{ro}:/ro", *uid),
          host_args=[f"create:{ro}"])
    assert f.read_text() == "original\n"
    assert sorted(p.name for p in ro.iterdir()) == ["file"]


@pytest.mark.parametrize("uid", UIDS)
def test_proc_sys_kernel_hostname(attack_dir, uid):
    """Host side writes back the current host name (a no-op); inside tries a
    new one. The host's name must not change either way."""
    before = socket.gethostname()
    try:
        check(attack_dir, "esc_write.py", "write:/proc/sys/kernel/hostname:corral-esc-pwned",
              "write:/proc/sys/kernel/domainname:corral-esc-pwned", corral_args=uid,
              host_args=[f"write:/proc/sys/kernel/hostname:{before}"],
              host_skip=needs_root("writing /proc/sys/kernel/hostname"))
    finally:
        assert socket.gethostname() == before, "the host's name changed"


def _sysfs_targets():
    """Host-global sysfs attributes and their current values."""
    out = []
    thp = pathlib.Path("/sys/kernel/mm/transparent_hugepage/enabled")
    try:
        m = re.search(r"\[(\w+)\]", thp.read_text())
        if m:
            out.append((str(thp), m.group(1)))
    except OSError:
        pass
    for q in sorted(pathlib.Path("/sys/block").glob("*/queue/read_ahead_kb")):
        try:
            out.append((str(q), q.read_text().strip()))
        except OSError:
            pass
        break
    return out


@pytest.mark.parametrize("uid", UIDS)
def test_sysfs_write(attack_dir, uid):
    targets = _sysfs_targets()
    if not targets:
        pytest.skip("no writable host-global sysfs attribute found on this host")
    before = {p: pathlib.Path(p).read_text() for p, _ in targets}
    ops = [f"write:{p}:{v}" for p, v in targets] + ["create:/sys", "create:/sys/kernel"]
    try:
        check(attack_dir, "esc_write.py", *ops, corral_args=uid,
              host_args=[f"write:{p}:{v}" for p, v in targets],
              host_skip=needs_root("writing sysfs attributes"))
    finally:
        assert {p: pathlib.Path(p).read_text() for p, _ in targets} == before


@pytest.mark.parametrize("uid", [pytest.param(("--uid", "0"), id="uid0")])
def test_landlock_in_force(attack_dir, scratch, uid):
    """/dev inside is a writable tmpfs owned by the sandbox's uid 0: mode
    bits and mount flags would allow creating files there. Only Landlock
    (which grants /dev for device use only) can refuse. On the host the
    attack gets a directory with the same properties, owned by the test."""
    out, inside = check(attack_dir, "esc_landlock.py", "/dev", "/", corral_args=uid,
                        host_args=[scratch])
    assert "/dev: owned by us, writable mount: only Landlock can refuse" in inside.stdout, (
        f"the precondition changed: /dev is no longer writable but for Landlock: {inside!r}")
