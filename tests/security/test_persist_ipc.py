"""IPC objects left behind: SysV shared memory (by key and IPC_PRIVATE),
message queues and semaphores, POSIX message queues and POSIX shm.

attacks/per_ipc plants them and exits without removing anything; the same
program's `check` mode, run on the host afterwards, gives the verdict. The
sandbox has a private IPC namespace (and a private /dev/shm), so everything
must vanish with it -- and must not show up in the next sandbox either.
"""
import secrets
import pytest


def names():
    return str(secrets.randbelow(0x6FFFFFFF) + 0x10000000), "corral-ipc-" + secrets.token_hex(5)


def sysv_lines():
    with open("/proc/sysvipc/shm") as f:
        next(f)
        return list(f)


def sysv_ids():
    return {line.split()[1] for line in sysv_lines()}


def assert_planted(planted):
    """Inside, everything but the POSIX message queue must have been
    created: mq_open may be refused there (EACCES: the queue lives on the
    IPC namespace's internal mqueue mount, which Landlock's path rules do
    not grant) -- a queue that cannot be created cannot be left behind."""
    out = planted.proc.stdout
    if "PLANTED 6/6" in out:
        return
    assert "PLANTED 5/6" in out and "mq_open: Permission denied" in out, \
        f"planting inside the sandbox failed: {planted}"


@pytest.fixture
def ipc_names(attack):
    key, name = names()
    yield key, name
    attack("per_ipc", "cleanup", key, name, sandbox=False)


def test_ipc_objects_die_with_the_sandbox(attack, ipc_names):
    key, name = ipc_names
    planted = attack("per_ipc", "plant", key, name, sandbox=False)
    assert "PLANTED 6/6" in planted.proc.stdout, planted
    outside = attack("per_ipc", "check", key, name, sandbox=False)
    assert outside.escaped, f"the host-side objects vanished by themselves: {outside}"
    attack("per_ipc", "cleanup", key, name, sandbox=False)
    assert attack("per_ipc", "check", key, name, sandbox=False).blocked, "cleanup failed"

    ids_before = sysv_ids()
    planted = attack("per_ipc", "plant", key, name)
    assert_planted(planted)
    inside = attack("per_ipc", "check", key, name, sandbox=False)
    assert inside.blocked, f"IPC objects planted in the sandbox exist on the host: {inside}"
    # and /proc/sysvipc/shm (what ipcs -m shows) has nothing new of ours
    psize = (1 << 20) + 4096 * (5 + int(key) % 97)
    ours = [l for l in sysv_lines() if l.split()[1] not in ids_before and
            (l.split()[0] == key or int(l.split()[3]) == psize)]
    assert not ours, f"the sandbox's SysV segments are on the host: {ours}"


def test_ipc_objects_do_not_reach_the_next_sandbox(attack, ipc_names):
    key, name = ipc_names
    # baseline: within one IPC namespace (the host's) a later run finds them
    attack("per_ipc", "plant", key, name, sandbox=False)
    outside = attack("per_ipc", "check", key, name, sandbox=False)
    assert outside.escaped, f"the host-side objects vanished by themselves: {outside}"
    attack("per_ipc", "cleanup", key, name, sandbox=False)

    planted = attack("per_ipc", "plant", key, name)
    assert_planted(planted)
    second = attack("per_ipc", "check", key, name)
    assert second.blocked, f"a second sandbox sees the first one's IPC objects: {second}"
