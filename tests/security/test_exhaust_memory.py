"""Memory bombs against --memory: private memory, memory of several
processes together, and the kinds of memory that are not a process's own
"data" (shared anonymous mappings, memfd, tmpfs files, SysV shared memory).

Expected inside: with a memory cgroup the OOM killer strikes and corral
stops the sandbox (status `oom`, exit 137); without one (rootless on a host
whose cgroups are not delegated) corral documents a weaker, per-process
limit (docs/limits.md: RLIMIT_DATA) -- so there the test checks that no
*single process* held more than the limit, and says so.

Every bomb stops as soon as it holds more than the limit, so the host-side
runs take at most a few hundred MiB, and the host's MemAvailable is checked
to have come back afterwards.
"""
import json
import re
import time
import uuid

import pytest

MiB = 1 << 20


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def assert_host_memory_back(before, slack=96 * MiB):
    """MemAvailable comes back to (nearly) where it was: nothing the bomb
    allocated stays charged to the host. Polled, since the kernel frees a
    killed cgroup's memory asynchronously."""
    if before is None:
        return
    deadline = time.monotonic() + 10
    while True:
        now = mem_available()
        if now >= before - slack or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert now >= before - slack, (f"host MemAvailable dropped by {(before - now) // MiB} MiB "
                                   f"after the sandbox exited")


def run_with_report(attack, tmp_path, name, *args, corral_args=(), timeout=180):
    report = tmp_path / f"report-{uuid.uuid4().hex}.json"
    verdict = attack(name, *args, corral_args=("--report", str(report), *corral_args), timeout=timeout)
    data = json.loads(report.read_text()) if report.exists() else None
    return verdict, data


def cgroup_enforced(report):
    return report["enforcement"]["memory"] in ("cgroup1", "cgroup2")


def most_held(stdout):
    held = [int(m) for m in re.findall(r"have (\d+) MiB", stdout)]
    return max(held, default=0)


def xfail_if_documented_unbounded(inside, report):
    """docs/limits.md: without a cgroup, memfd, shared anonymous mappings and
    (rootless) SysV segments are not limited by --memory. The report must say
    so; then the escape is the documented limitation, not a regression."""
    assert report is not None, f"no run report: {inside}"
    if cgroup_enforced(report) or not inside.escaped:
        return
    weaker = report["enforcement"]["weaker"] or ""
    assert "shared memory" in weaker, f"an unbounded escape the report does not admit: {report}"
    pytest.xfail("documented: without a cgroup, shared memory is not limited by --memory")


def assert_contained(inside, report, limit_mb):
    """The sandboxed bomb did not get more than limit_mb: OOM-killed (cgroup),
    or refused (rlimit)."""
    assert report is not None, f"no run report: {inside}"
    assert not inside.escaped, (f"the sandbox held more than --memory {limit_mb}M "
                                f"(enforced by {report['enforcement']['memory']}): {inside}\n"
                                f"report: {report}")
    if cgroup_enforced(report):
        # the OOM killer, or a refusal before any memory was held (SysV
        # segments larger than the sandbox's kernel.shmmax)
        assert (report["status"] == "oom" and inside.proc.returncode == 137) or inside.blocked, \
            f"expected the OOM killer and status oom: {inside}\nreport: {report}"
        assert report["memory_peak_bytes"] <= limit_mb * MiB, report
    else:
        assert inside.blocked, f"expected the allocation to be refused: {inside}\nreport: {report}"
    assert most_held(inside.proc.stdout) <= limit_mb, inside


MODES = [
    pytest.param("anon", 128, (), id="private-128M"),
    pytest.param("shared", 64, (), id="shared-anon-64M"),
    pytest.param("memfd", 64, (), id="memfd-64M"),
    # a tmpfs file: --disk stays at its 1G default so only --memory can stop it
    pytest.param("tmpfs", 64, ("/dev/shm",), id="dev-shm-file-64M"),
]


@pytest.mark.parametrize("mode,limit,extra", MODES)
def test_memory_bomb(attack, tmp_path, mode, limit, extra):
    host_extra = (str(tmp_path),) if extra else ()
    outside = attack("exh_memory", mode, limit, *host_extra, sandbox=False)
    assert outside.escaped, f"the {mode} bomb cannot get {limit} MiB even on the host: {outside}"
    before = mem_available()
    inside, report = run_with_report(attack, tmp_path, "exh_memory", mode, limit, *extra,
                                     corral_args=("--memory", f"{limit}M"))
    if mode in ("shared", "memfd"):
        xfail_if_documented_unbounded(inside, report)
    assert_contained(inside, report, limit)
    assert_host_memory_back(before)


def test_memory_of_several_processes(attack, tmp_path):
    """Four processes, each after more than the limit: a memory cgroup caps
    them together; the rootless fallback (documented as per process) must at
    least cap each of them."""
    limit = 64
    outside = attack("exh_memory", "procs", limit, 4, sandbox=False)
    assert outside.escaped, f"four processes cannot get {limit} MiB together on the host: {outside}"
    before = mem_available()
    inside, report = run_with_report(attack, tmp_path, "exh_memory", "procs", limit, 4,
                                     corral_args=("--memory", f"{limit}M"))
    assert report is not None, inside
    if cgroup_enforced(report):
        assert not inside.escaped, f"four processes together held more than {limit}M: {inside}"
        assert report["status"] == "oom", report
        assert report["memory_peak_bytes"] <= limit * MiB, report
    else:
        # docs/limits.md: without cgroups memory is limited per process
        assert report["enforcement"]["memory"] == "rlimit", report
        assert "per process" in (report["enforcement"]["weaker"] or ""), report
        m = re.search(r"largest-process (\d+) MiB", inside.proc.stdout)
        assert m, inside
        assert int(m.group(1)) <= limit, f"one process alone held more than {limit}M: {inside}"
    assert_host_memory_back(before)


def _segments_of_size(size):
    out = []
    with open("/proc/sysvipc/shm") as f:
        next(f)
        for line in f:
            fields = line.split()
            if int(fields[3]) == size:
                out.append(int(fields[1]))
    return out


def _remove_segments(size):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for shmid in _segments_of_size(size):
        libc.shmctl(shmid, 0, None)  # IPC_RMID


def test_sysv_shared_memory_bomb(attack, tmp_path):
    """shmget 256M and touch it under --memory 64M, never calling IPC_RMID:
    the run must fail or be OOM-killed, and afterwards no such segment may
    exist on the host (the sandbox's IPC namespace died with it)."""
    limit = 64
    size = 256 * MiB + 7 * 4096  # an unusual size marks the segment
    _remove_segments(size)
    try:
        outside = attack("exh_shm", "sysv", size, limit, sandbox=False)
        assert outside.escaped, f"SysV shm cannot get {limit} MiB even on the host: {outside}"
        assert _segments_of_size(size), "the host-side segment vanished by itself: the test cannot tell"
    finally:
        _remove_segments(size)
    before = mem_available()
    try:
        inside, report = run_with_report(attack, tmp_path, "exh_shm", "sysv", size, limit,
                                         corral_args=("--memory", f"{limit}M"))
        left = _segments_of_size(size)
    finally:
        _remove_segments(size)
    assert not left, f"the sandbox's SysV segment outlived it on the host: shmids {left}"
    xfail_if_documented_unbounded(inside, report)
    assert_contained(inside, report, limit)
    assert_host_memory_back(before)
