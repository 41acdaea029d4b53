"""Gaining privileges by executing binaries: a setuid-root copy, a copy
with a file capability (cap_net_raw+ep), and the system's own su.

The copies are made by the test (as root) in a directory it owns and bound
read-only into the sandbox. The host-side run drops from root to nobody
first, so executing the copy has something to gain."""
import os
import shutil
import subprocess

import pytest

from test_escape_common import UIDS, check, is_root, run_attack, scratch  # noqa: F401

NOBODY = "65534"


def _copy(attack_dir, scratch, name):
    scratch.chmod(0o755)
    dst = scratch / name
    shutil.copy(attack_dir / "esc_setuid", dst)
    os.chown(dst, 0, 0)
    return dst


@pytest.mark.parametrize("uid", UIDS)
def test_setuid_root_binary(attack_dir, scratch, uid):
    if not is_root():
        pytest.skip(f"making a setuid-root binary needs root; this run is uid {os.geteuid()}")
    b = _copy(attack_dir, scratch, "suid-root")
    b.chmod(0o4755)
    check(attack_dir, "esc_setuid", "run", "/priv/suid-root", NOBODY,
          corral_args=("--ro-bind", f"{scratch}:/priv", *uid), host_args=["run", b, NOBODY])


@pytest.mark.parametrize("uid", UIDS)
def test_file_capability_binary(attack_dir, scratch, uid):
    if not is_root():
        pytest.skip(f"setting file capabilities needs root; this run is uid {os.geteuid()}")
    setcap = shutil.which("setcap") or "/usr/sbin/setcap"
    if not os.path.exists(setcap):
        pytest.skip("setcap is not installed")
    b = _copy(attack_dir, scratch, "cap-net-raw")
    b.chmod(0o755)
    r = subprocess.run([setcap, "cap_net_raw+ep", str(b)], capture_output=True, text=True,
                       timeout=60)
    if r.returncode:
        pytest.skip(f"setcap failed on {scratch}: {r.stderr.strip()}")
    check(attack_dir, "esc_setuid", "run", "/priv/cap-net-raw", NOBODY,
          corral_args=("--ro-bind", f"{scratch}:/priv", *uid), host_args=["run", b, NOBODY])


@pytest.mark.parametrize("uid", UIDS)
def test_system_su(attack_dir, uid):
    """The sandbox sees the host's setuid-root /usr/bin/su. Running
    `su -c <probe> root` must not raise the effective uid or capabilities.
    There is no host-side escape without root's password."""
    if not os.path.exists("/usr/bin/su"):
        pytest.skip("/usr/bin/su is not installed")
    inside = run_attack(attack_dir, "esc_setuid", "su", corral_args=uid)
    assert inside.blocked, f"su gained privileges inside: {inside!r}"
    assert "/usr/bin/su" in inside.stdout, f"su did not even run: {inside!r}"
    pytest.skip("su inside: blocked; no host-side escape exists for su without a password, "
                "the setuid-root copy test demonstrates the primitive")
