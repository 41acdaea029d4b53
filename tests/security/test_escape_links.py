"""Symlinks, hard links and magic links that point outside the grants:
symlinks planted in a writable bind, hard links across binds, inherited
descriptors of host directories, and /proc/PID/{root,cwd,exe} of corral's
init."""
import os

import pytest

from test_escape_common import UIDS, check, host_process, plant_canary, scratch  # noqa: F401


def _workspace_with_links(scratch):
    """scratch/ws holds links to scratch/outside/canary, which no grant covers."""
    outside = scratch / "outside"
    outside.mkdir()
    outside.chmod(0o755)
    canary, secret = plant_canary(outside)
    ws = scratch / "ws"
    ws.mkdir()
    ws.chmod(0o777)
    (ws / "abs").symlink_to(canary)
    (ws / "rel").symlink_to("../outside/canary")
    (ws / "dir").symlink_to(outside)
    (ws / "up").symlink_to("../../../../../../../../..")
    return ws, canary, secret


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("how", ["bind", "workspace"])
def test_symlink_in_bind_to_host_path(attack_dir, scratch, how, uid):
    ws, canary, secret = _workspace_with_links(scratch)
    inside_ws = str(ws) if how == "bind" else "/workspace"
    grant = ("--bind", str(ws)) if how == "bind" else ("--workspace", str(ws))
    names = ["abs", "rel", "dir/canary", f"up{canary}"]
    check(attack_dir, "esc_read.py", *[f"{inside_ws}/{n}={secret}" for n in names],
          corral_args=(*grant, *uid), host_args=[f"{ws}/{n}={secret}" for n in names])


@pytest.mark.parametrize("uid", UIDS)
def test_hardlink_out_of_read_only_bind(attack_dir, scratch, uid):
    """A file in a --ro-bind dir, writable by mode: hard-link it into a
    writable --bind of the same host file system and write through the
    link. The two binds are different mounts inside, so link() gives EXDEV."""
    ro = scratch / "ro"
    ro.mkdir()
    ro.chmod(0o755)
    target, secret = plant_canary(ro, "file")
    target.chmod(0o666)
    ws = scratch / "ws"
    ws.mkdir()
    ws.chmod(0o777)
    check(attack_dir, "esc_link.py", "/ro/file", "/ws", secret,
          corral_args=("--ro-bind", f"{ro}:/ro", "--bind", f"{ws}:/ws", *uid),
          host_args=[target, ws, secret])


@pytest.mark.parametrize("uid", UIDS)
def test_hardlink_to_ungranted_file(attack_dir, scratch, uid):
    ws, canary, secret = _workspace_with_links(scratch)
    check(attack_dir, "esc_link.py", canary, "/workspace", secret,
          corral_args=("--workspace", str(ws), *uid), host_args=[canary, ws, secret])


@pytest.mark.parametrize("uid", UIDS)
def test_inherited_directory_descriptor(attack_dir, scratch, uid):
    """The caller leaks open descriptors of a host directory (pass_fds: one
    low, one at 40 or above). corral closes every inherited descriptor above
    2; the attack tries openat on fds 0..64 and every /proc/self/fd entry."""
    import fcntl
    canary, secret = plant_canary(scratch)
    fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 40)
    try:
        kw = {"pass_fds": (fd, high)}
        check(attack_dir, "esc_fd", canary.name, secret, corral_args=uid, host_kw=kw,
              inside_kw=kw)
    finally:
        os.close(fd)
        os.close(high)


@pytest.mark.parametrize("uid", UIDS)
def test_directory_as_stdin(attack_dir, scratch, uid):
    """stdin is passed through, so here the descriptor survives: a host
    directory as fd 0. Reopening below it must still fail (Landlock sees a
    path it never granted)."""
    canary, secret = plant_canary(scratch)
    fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
    try:
        kw = {"stdin": fd}
        check(attack_dir, "esc_fd", canary.name, secret, corral_args=uid, host_kw=kw,
              inside_kw=kw)
    finally:
        os.close(fd)


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("link", ["root", "cwd", "exe", "fd"])
def test_proc_pid_magic_links(attack_dir, scratch, host_process, link, uid):
    """/proc/1/{root,cwd,exe,fd} inside lead to corral's init, whose exe is
    the host's corral binary. The host-side analog targets a process the
    test started (cwd in the canary's directory), never the host's pid 1."""
    canary, secret = plant_canary(scratch)
    victim = host_process(cwd=str(scratch))

    def paths(pid):
        return {
            "root": [f"/proc/{pid}/root{canary}={secret}"],
            "cwd": [f"/proc/{pid}/cwd/{canary.name}={secret}"],
            "exe": [f"/proc/{pid}/exe"],
            "fd": [f"/proc/{pid}/fd/{n}" for n in range(0, 8)],
        }[link]

    inside = paths(1) + paths(victim.pid)
    host = paths(victim.pid)
    if link == "fd":
        # The victim's stdin is /dev/null: readable, proof enough of reach.
        host = [f"/proc/{victim.pid}/fd/0"]
    check(attack_dir, "esc_read.py", *inside, corral_args=uid, host_args=host)
