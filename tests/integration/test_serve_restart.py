"""corral serve across its own death: sandboxes do not outlive a SIGKILLed
daemon (no process, no cgroup left), and the next daemon on the socket
answers their ids as ended (reason daemon_restart) and serves new ones; a
SIGTERM drain ends them as daemon_stopped."""
import os
import shutil
import signal
import time

from conftest import as_user, children_alive, cgroups_of
from serve_helpers import Server

MARK = "3141"  # sleep's argument: finds the sandboxes' processes in /proc


def store_dir(tmp_path):
    d = tmp_path / "store"
    d.mkdir(exist_ok=True)
    if as_user():
        shutil.chown(d, as_user())
    return str(d)


def marked_processes():
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if f.read() == b"sleep\0" + MARK.encode() + b"\0":
                    found.append(int(p))
        except OSError:
            pass
    return found


def wait_until(what, cond, seconds=30):
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def start_sandboxes(s, n=2):
    ids = []
    for _ in range(n):
        sid = s.create({"limits": {"memory": "256M"}})["id"]  # a cgroup where possible
        s.json("POST", f"/v1/sandboxes/{sid}/processes", {"argv": ["sleep", MARK]}, expect=201)
        s.exec(sid, {"argv": ["sh", "-c", "echo kept > /workspace/f"]})
        ids.append(sid)
    wait_until("the processes started", lambda: len(marked_processes()) >= n)
    return ids


def test_sigkill_then_restart(tmp_path):
    store = store_dir(tmp_path)
    s = Server(tmp_path, "--store", store)
    ids = start_sandboxes(s)
    daemon = s.proc.pid
    s.proc.kill()
    s.proc.wait()
    s.log.close()
    # Init's parent-death signal ends every sandbox; the sentinels remove
    # their cgroups.
    wait_until("a sandbox process outlived its daemon", lambda: not marked_processes())
    wait_until("a sandbox cgroup outlived its daemon", lambda: not cgroups_of([daemon]))
    wait_until("processes outlived the daemon", lambda: not children_alive())
    assert os.path.exists(s.sock)  # stale: the next daemon replaces it
    s2 = Server(tmp_path, "--store", store)
    try:
        assert "reconciled" in s2.stderr()
        for sid in ids:
            got = s2.json("GET", f"/v1/sandboxes/{sid}")
            assert got["state"] == "ended" and got["end"]["reason"] == "daemon_restart", got
            assert s2.call("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["true"]})[0] == 404
        assert s2.json("GET", "/v1/sandboxes")["sandboxes"] == []
        sid = s2.create()["id"]
        assert s2.exec(sid, {"argv": ["echo", "fresh"]})["stdout"] == "fresh\n"
        # Deleted ones are gone, as before.
        s2.json("DELETE", f"/v1/sandboxes/{sid}")
        assert s2.call("GET", f"/v1/sandboxes/{sid}")[0] == 404
    finally:
        assert s2.stop() == 0, s2.stderr()[-2000:]


def test_sigterm_drain_records_them(tmp_path):
    store = store_dir(tmp_path)
    s = Server(tmp_path, "--store", store)
    ids = start_sandboxes(s, 1)
    assert s.stop(signal.SIGTERM) == 0
    assert not marked_processes() and not children_alive()
    s2 = Server(tmp_path, "--store", store)
    try:
        assert "reconciled" not in s2.stderr()  # nothing was left running
        got = s2.json("GET", f"/v1/sandboxes/{ids[0]}")
        assert got["state"] == "ended" and got["end"]["reason"] == "daemon_stopped", got
    finally:
        assert s2.stop() == 0


def test_another_socket_sees_nothing(tmp_path):
    store = store_dir(tmp_path)
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    s = Server(a, "--store", store)
    try:
        sid = s.create()["id"]
        s2 = Server(b, "--store", store)
        try:
            assert s2.call("GET", f"/v1/sandboxes/{sid}")[0] == 404
            assert s.json("GET", f"/v1/sandboxes/{sid}")["state"] == "running"
        finally:
            assert s2.stop() == 0
    finally:
        assert s.stop() == 0


def children_of(pid):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{p}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append((int(p), comm))
    return found


def test_leftover_cgroups_are_removed_on_restart(tmp_path):
    store = store_dir(tmp_path)
    s = Server(tmp_path, "--store", store)
    sid = s.create({"limits": {"memory": "256M"}})["id"]
    daemon = s.proc.pid
    if not cgroups_of([daemon]):
        s.stop()
        import pytest
        pytest.skip("no cgroup for this caller's sandboxes (rootless without delegation)")
    # The sentinels die with the daemon, as if the whole service were
    # killed at once: nothing removes the cgroup but the next daemon.
    os.kill(daemon, signal.SIGSTOP)
    sentinels = [p for p, comm in children_of(daemon) if comm == "corral-sentinel"]
    assert sentinels
    for p in sentinels:
        os.kill(p, signal.SIGKILL)
    os.kill(daemon, signal.SIGKILL)
    s.proc.wait()
    s.log.close()
    wait_until("processes outlived the daemon", lambda: not children_alive())
    assert cgroups_of([daemon]), "the cgroup should be left behind here"
    s2 = Server(tmp_path, "--store", store)
    try:
        assert not cgroups_of([daemon])
        assert "leftovers_removed" in s2.stderr()
        assert s2.json("GET", f"/v1/sandboxes/{sid}")["end"]["reason"] == "daemon_restart"
    finally:
        assert s2.stop() == 0
