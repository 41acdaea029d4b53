"""Resource limits (docs/limits.md) and the run report (docs/report.md).

Every attack runs for real inside corral and is checked twice: against its
limit (what the command saw, what the caller received, what the host still
has) and against the JSON report (`--report FILE`, parsed).

No assertion is about how long something took on the host's clock; the
report's own `wall_ms` is checked where the documentation promises a bound.

The suite runs as root (cgroups enforce memory, pids, cpus and CPU time) and
as an ordinary user (rlimits do, and the report says so). As root, the
important attacks are also run through `runuser -u corraltest --` to check
the rootless fallback from the same run.
"""

import errno
import json
import os
import pwd
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    SANDBOX_HOME,
    as_user,
    assert_one_line_error,
    children_alive,
    corral_argv,
    is_root,
    kill_orphans,
    pids_running,
)

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

UNPRIVILEGED_USER = "corraltest"
EXIT_TIMEOUT = 124
EXIT_KILLED = 128 + signal.SIGKILL  # 137
EXIT_SIGXFSZ = 128 + signal.SIGXFSZ  # 153

# Every corral started here is bounded by this (seconds); a run that does not
# end in time is killed and fails its test instead of hanging the suite.
RUN_TIMEOUT = 120
# Never buffer more than this of a flood that escaped its limit.
FLOOD_GUARD = 256 * MiB
# How much of each stream is kept for the assertions' messages.
KEEP = 4 * MiB

CGROUP_ROOT = Path("/sys/fs/cgroup")

REPORT_FIELDS = {
    "version": (int,),
    "status": (str,),
    "exit_code": (int,),
    "signal": (int, type(None)),
    "wall_ms": (int,),
    "cpu_ms": (int,),
    "cpu_user_ms": (int,),
    "cpu_sys_ms": (int,),
    "memory_peak_bytes": (int, type(None)),
    "pids_peak": (int, type(None)),
    "stdout_bytes": (int,),
    "stderr_bytes": (int,),
    "limits": (dict,),
    "enforcement": (dict,),
    "error": (str, type(None)),
}
LIMIT_FIELDS = {
    "memory_bytes": (int, type(None)),
    "pids": (int, type(None)),
    "cpus": (int, float, type(None)),
    "timeout_ms": (int, type(None)),
    "cpu_time_ms": (int, type(None)),
    "output_bytes": (int, type(None)),
    "disk_bytes": (int, type(None)),
    "open_files": (int, type(None)),
    "file_size_bytes": (int, type(None)),
}
ENFORCEMENT_KEYS = ("memory", "pids", "cpus", "timeout", "cpu_time", "output", "disk",
                    "open_files", "file_size")
ENFORCERS = {"cgroup2", "cgroup1", "rlimit", "tmpfs", "supervisor", "none"}
STATUSES = {"exited", "signaled", "timeout", "oom", "cpu_time", "output_limit", "setup_error"}
CGROUP_ENFORCERS = ("cgroup1", "cgroup2")

# flag -> the report's limits key it sets
FLAG_TO_LIMIT = {
    "--memory": "memory_bytes",
    "--pids": "pids",
    "--cpus": "cpus",
    "--timeout": "timeout_ms",
    "--cpu-time": "cpu_time_ms",
    "--output-limit": "output_bytes",
    "--disk": "disk_bytes",
    "--open-files": "open_files",
    "--file-size": "file_size_bytes",
}


# ---- the pids of the corral processes this module started -----------------

_started = []


def sandbox_cgroup_dirs():
    """Every sandbox-* cgroup directory under /sys/fs/cgroup/*/corral/ (v1
    hierarchies, and v2 when it is mounted there)."""
    found = set()
    for parent in list(CGROUP_ROOT.glob("*/corral")) + [CGROUP_ROOT / "corral"]:
        try:
            for entry in parent.iterdir():
                if entry.name.startswith("sandbox-") and entry.is_dir():
                    found.add(entry)
        except OSError:
            continue
    return found


def cgroup_dir_pid(path):
    """The pid of the corral that made a sandbox-PID-N cgroup, or None."""
    m = re.match(r"sandbox-(\d+)-", path.name)
    return int(m.group(1)) if m else None


def wait_no_children(limit_s=5.0):
    """Poll (a few seconds at most) until no process of ours is left."""
    deadline = time.monotonic() + limit_s
    while True:
        left = children_alive()
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def host_left_clean():
    """After every test: no process outlived its corral, and (as root) no
    cgroup of a corral started by this test remains under .../corral/."""
    _started.clear()
    yield
    left = wait_no_children()
    if left:
        kill_orphans()
    assert not left, f"processes outlived corral: {left}"
    if is_root():
        mine = set(_started)
        leaked = sorted(str(d) for d in sandbox_cgroup_dirs() if cgroup_dir_pid(d) in mine)
        assert not leaked, f"corral left its cgroups behind: {leaked}"


# ---- running corral ---------------------------------------------------------


@dataclass
class Mode:
    """Who runs corral: the suite's own user, or `runuser -u corraltest`."""

    name: str
    user: str = None

    @property
    def rootless(self):
        return bool(self.user or as_user() or not is_root())


@dataclass
class Run:
    argv: list
    returncode: int
    stdout: bytes
    stderr: bytes
    stdout_len: int
    stderr_len: int
    report: dict = None
    report_text: str = None
    flooded: bool = False

    def as_completed(self):
        """For conftest's helpers, which take a CompletedProcess."""
        return subprocess.CompletedProcess(self.argv, self.returncode, self.out, self.err)

    @property
    def out(self):
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self):
        return self.stderr.decode("utf-8", "replace")

    def __str__(self):
        def cut(b):
            return b if len(b) <= 3000 else b[:1500] + b" [...] " + b[-1500:]
        return (f"argv: {self.argv!r}\nexit {self.returncode}\n"
                f"stdout ({self.stdout_len} bytes): {cut(self.stdout)!r}\n"
                f"stderr ({self.stderr_len} bytes): {cut(self.stderr)!r}\n"
                f"report: {self.report_text!r}")


def _kill_group(proc):
    """SIGKILL corral and whatever it started in its process group (runuser
    and the corral under it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


def _pump(proc, timeout):
    """Read stdout and stderr to EOF, counting every byte and keeping the
    first KEEP of each. Returns (outs, lens, flooded); raises on timeout."""
    sel = selectors.DefaultSelector()
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    lens = dict.fromkeys(bufs, 0)
    for f in (proc.stdout, proc.stderr):
        os.set_blocking(f.fileno(), False)
        sel.register(f.fileno(), selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    flooded = False
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            for key, _ in sel.select(min(left, 1.0)):
                fd = key.fd
                try:
                    chunk = os.read(fd, 1 << 20)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    continue
                lens[fd] += len(chunk)
                room = KEEP - len(bufs[fd])
                if room > 0:
                    bufs[fd] += chunk[:room]
                if sum(lens.values()) > FLOOD_GUARD and not flooded:
                    # The limit did not hold: stop before the test host suffers.
                    flooded = True
                    _kill_group(proc)
    finally:
        sel.close()
    o, e = proc.stdout.fileno(), proc.stderr.fileno()
    return (bytes(bufs[o]), bytes(bufs[e])), (lens[o], lens[e]), flooded


def corral(args, mode=None, workdir=None, report=True, timeout=RUN_TIMEOUT, pass_fds=(),
           preexec_fn=None, raw=False):
    """Run `corral run [--report WORKDIR/report.json] ARGS` (as `mode`) and
    return a Run with the report parsed. raw: ARGS are the whole command line
    after `corral` (no `run`, no report)."""
    mode = mode or Mode("caller")
    report_path = None
    if raw:
        cli = [str(a) for a in args]
    else:
        cli = ["run"]
        if report:
            assert workdir is not None
            fd, name = tempfile.mkstemp(prefix="report-", suffix=".json", dir=workdir)
            os.close(fd)
            os.unlink(name)  # corral creates it (as the user it runs as)
            report_path = Path(name)
            cli += ["--report", str(report_path)]
        cli += [str(a) for a in args]
    argv = corral_argv(cli, user=mode.user)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, pass_fds=pass_fds, preexec_fn=preexec_fn,
                            cwd="/", start_new_session=True)
    _started.append(proc.pid)
    try:
        (out, err), (out_len, err_len), flooded = _pump(proc, timeout)
        proc.wait(timeout=max(5.0, timeout / 4))
    except (TimeoutError, subprocess.TimeoutExpired):
        _kill_group(proc)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        kill_orphans()
        pytest.fail(f"{argv!r} did not finish within {timeout}s; killed it")
    finally:
        proc.stdout.close()
        proc.stderr.close()
    result = Run(argv, proc.returncode, out, err, out_len, err_len, flooded=flooded)
    if flooded:
        pytest.fail(f"corral delivered more than {FLOOD_GUARD} bytes; killed it\n{result}")
    if report_path is not None:
        assert report_path.exists(), f"--report {report_path} was not written\n{result}"
        result.report_text = report_path.read_text()
        result.report = parse_report(result.report_text, result)
    return result


def parse_report(text, context=""):
    assert text.endswith("\n") and text.count("\n") == 1, (
        f"the report is not exactly one line: {text!r}\n{context}")
    try:
        report = json.loads(text)
    except ValueError as e:
        pytest.fail(f"the report is not JSON ({e}): {text!r}\n{context}")
    check_report_shape(report)
    return report


def check_report_shape(report):
    """Documented fields, types and vocabularies (docs/report.md)."""
    assert isinstance(report, dict), report
    missing = set(REPORT_FIELDS) - set(report)
    assert not missing, f"report lacks {sorted(missing)}: {report}"
    for key, types in REPORT_FIELDS.items():
        value = report[key]
        assert isinstance(value, types) and not isinstance(value, bool), (
            f"report[{key!r}] = {value!r} is not {types}")
    assert report["version"] == 1, report
    assert report["status"] in STATUSES, report
    for key in ("wall_ms", "cpu_ms", "cpu_user_ms", "cpu_sys_ms", "stdout_bytes",
                "stderr_bytes"):
        assert report[key] >= 0, report
    limits = report["limits"]
    missing = set(LIMIT_FIELDS) - set(limits)
    assert not missing, f"report.limits lacks {sorted(missing)}: {limits}"
    for key, types in LIMIT_FIELDS.items():
        value = limits[key]
        assert isinstance(value, types) and not isinstance(value, bool), (
            f"report.limits[{key!r}] = {value!r} is not {types}")
        assert value is None or value > 0, limits
    enf = report["enforcement"]
    missing = (set(ENFORCEMENT_KEYS) | {"weaker"}) - set(enf)
    assert not missing, f"report.enforcement lacks {sorted(missing)}: {enf}"
    for key in ENFORCEMENT_KEYS:
        assert enf[key] in ENFORCERS, f"enforcement[{key!r}] = {enf[key]!r}"
    assert enf["weaker"] is None or (isinstance(enf["weaker"], str) and enf["weaker"]), enf


def assert_status(run, status, exit_code, signal_=None):
    r = run.report
    assert r["status"] == status, f"status {r['status']!r}, expected {status!r}\n{run}"
    assert run.returncode == exit_code, f"exit {run.returncode}, expected {exit_code}\n{run}"
    assert r["exit_code"] == exit_code, f"report exit_code != {exit_code}\n{run}"
    if signal_ is not None:
        assert r["signal"] == signal_, f"report signal != {signal_}\n{run}"


def assert_cgroup_or_rlimit(run, mode, *keys):
    """Root: the limits are the cgroup's; rootless: the rlimit fallback, and
    the report explains it."""
    enf = run.report["enforcement"]
    for key in keys:
        if mode.rootless:
            assert enf[key] == "rlimit", f"enforcement.{key} = {enf[key]!r}, rootless\n{run}"
        else:
            assert enf[key] in CGROUP_ENFORCERS, f"enforcement.{key} = {enf[key]!r}\n{run}"
    if mode.rootless:
        assert isinstance(enf["weaker"], str) and enf["weaker"].strip(), (
            f"rootless run without an enforcement.weaker explanation\n{run}")
    else:
        assert enf["weaker"] is None, f"root run reports weaker limits\n{run}"


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * KiB
    raise AssertionError("no MemAvailable in /proc/meminfo")


def host_can_fork():
    r = subprocess.run(["/bin/sh", "-c", "echo alive"], capture_output=True, timeout=30)
    return r.returncode == 0 and r.stdout == b"alive\n"


# ---- fixtures ----------------------------------------------------------------


@pytest.fixture
def workdir():
    """A host directory every user can write (reports written by corral
    running as corraltest land here). Named corral-pytest-* so the shared
    leak checks ignore it."""
    d = tempfile.mkdtemp(prefix="corral-pytest-limits-", dir="/tmp")
    os.chmod(d, 0o777)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def _unprivileged_mode():
    if not is_root():
        pytest.skip("the runuser variant needs root; this run is already unprivileged")
    try:
        pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        pytest.skip(f"user {UNPRIVILEGED_USER} does not exist (CI creates it)")
    return Mode("corraltest", UNPRIVILEGED_USER)


@pytest.fixture(params=["caller", "corraltest"])
def mode(request):
    """The important attacks run as the suite's user and, when that is root,
    also as the unprivileged corraltest."""
    if request.param == "caller":
        return Mode("caller")
    return _unprivileged_mode()


CALLER = Mode("caller")


# ---- memory -------------------------------------------------------------------

MEMORY_BOMB = """
import sys
limit = int(sys.argv[1])
b = bytearray(4 * limit)
for i in range(0, len(b), 4096):
    b[i] = 1
print("allocated", len(b), flush=True)
"""


def test_memory_bomb(mode, workdir):
    limit = 64 * MiB
    before = mem_available()
    run = corral(["--memory", "64M", "--", "python3", "-c", MEMORY_BOMB, limit], mode, workdir)
    after = mem_available()
    r = run.report
    assert "allocated" not in run.out, f"4x the memory limit was allocated\n{run}"
    assert r["limits"]["memory_bytes"] == limit, run
    assert_cgroup_or_rlimit(run, mode, "memory")
    if mode.rootless:
        # RLIMIT_AS: the allocation itself fails.
        assert_status(run, "exited", 1)
        assert "MemoryError" in run.err, run
    else:
        assert_status(run, "oom", EXIT_KILLED, signal.SIGKILL)
    peak = r["memory_peak_bytes"]
    if r["enforcement"]["memory"] in CGROUP_ENFORCERS:
        assert peak is not None, run
    if peak is not None:
        assert peak <= limit * 1.1, f"memory peak {peak} above the limit {limit}\n{run}"
    assert after > before / 2 and after > 512 * MiB, (
        f"the host's MemAvailable fell from {before} to {after}")


def test_oom_of_a_child_stops_the_sandbox(workdir):
    """The OOM killer takes one process; corral then stops the whole sandbox
    (docs/limits.md), even though the main command would go on."""
    bomb = "b = bytearray(256 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1\n"
    tail = "exit 0" if CALLER.rootless else "sleep 1000; echo late"
    run = corral(["--memory", "64M", "--timeout", "60s", "--", "sh", "-c",
                  f'python3 -c "{bomb}"; echo "child $?"; {tail}'], CALLER, workdir)
    if CALLER.rootless:
        assert_status(run, "exited", 0)
        assert "MemoryError" in run.err and "child 1" in run.out, run
        return
    assert_status(run, "oom", EXIT_KILLED, signal.SIGKILL)
    assert "late" not in run.out, run


def test_memory_within_limit_passes(mode, workdir):
    # ~80% of the limit, every page touched.
    code = ("b = bytearray(200 * 1024 * 1024)\n"
            "for i in range(0, len(b), 4096): b[i] = 1\n"
            "print('touched', len(b))\n")
    run = corral(["--memory", "256M", "--", "python3", "-c", code], mode, workdir)
    assert_status(run, "exited", 0)
    assert run.out == f"touched {200 * MiB}\n", run
    assert run.report["limits"]["memory_bytes"] == 256 * MiB, run
    assert_cgroup_or_rlimit(run, mode, "memory")
    peak = run.report["memory_peak_bytes"]
    assert peak is None or 200 * MiB <= peak <= 256 * MiB * 1.1, run


def test_memory_split_across_processes(workdir):
    """4 processes of 32M each under --memory 64M: the cgroup limits the
    sandbox as a whole; the rlimit fallback only each process (documented)."""
    code = """
import os
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        b = bytearray(32 * 1024 * 1024)
        for i in range(0, len(b), 4096): b[i] = 1
        import time; time.sleep(2)
        os._exit(0)
    kids.append(pid)
bad = 0
for k in kids:
    _, st = os.waitpid(k, 0)
    bad += st != 0
print("children failed:", bad, flush=True)
"""
    run = corral(["--memory", "64M", "--timeout", "60s", "--", "python3", "-c", code],
                 CALLER, workdir)
    if CALLER.rootless:
        assert_cgroup_or_rlimit(run, CALLER, "memory")
        assert "process" in run.report["enforcement"]["weaker"], run
        return
    assert_status(run, "oom", EXIT_KILLED, signal.SIGKILL)
    assert run.report["memory_peak_bytes"] <= 64 * MiB * 1.1, run


def test_tmpfs_counts_against_memory(workdir):
    """Memory written to /dev/shm is charged to the sandbox's memory limit
    (docs/limits.md), so a tmpfs cannot be used to get around --memory."""
    run = corral(["--memory", "64M", "--disk", "1G", "--",
                  "dd", "if=/dev/zero", "of=/dev/shm/big", "bs=1M", "count=256"],
                 CALLER, workdir)
    if CALLER.rootless:
        # RLIMIT_AS cannot see tmpfs pages: only --disk bounds them.
        assert_cgroup_or_rlimit(run, CALLER, "memory")
        assert run.report["status"] == "exited", run
        return
    assert_status(run, "oom", EXIT_KILLED, signal.SIGKILL)
    assert run.report["memory_peak_bytes"] <= 64 * MiB * 1.1, run


# ---- processes and threads ------------------------------------------------------

FORK_COUNTER = """
import errno, os, signal, sys, time
kids, err = [], None
for _ in range(500):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
print(len(kids), err, flush=True)
for k in kids:
    os.kill(k, signal.SIGKILL)
for k in kids:
    os.waitpid(k, 0)
"""


def test_pids_limit_caps_processes(mode, workdir):
    run = corral(["--pids", "32", "--timeout", "60s", "--", "python3", "-c", FORK_COUNTER],
                 mode, workdir)
    assert_status(run, "exited", 0)
    forked, err = run.out.split()
    forked = int(forked)
    # this python + its children never exceed 32 (init may count too)
    assert 1 <= forked and forked + 1 <= 32, f"{forked} children under --pids 32\n{run}"
    assert err == str(errno.EAGAIN), f"fork failed with errno {err}, expected EAGAIN\n{run}"
    assert run.report["limits"]["pids"] == 32, run
    assert_cgroup_or_rlimit(run, mode, "pids")
    peak = run.report["pids_peak"]
    assert peak is None or peak <= 32, run


@pytest.mark.parametrize("bomb", [
    pytest.param(["bash", "-c", ":(){ :|:& };:; wait"], id="bash"),
    pytest.param(["python3", "-c",
                  "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass\n"],
                 id="python-forever"),
])
def test_fork_bomb(mode, workdir, bomb):
    run = corral(["--pids", "32", "--timeout", "3s", "--", *bomb], mode, workdir)
    r = run.report
    # It ends by the timeout, or (the bash bomb) when its own first shell is done.
    assert r["status"] in ("timeout", "exited", "signaled"), run
    if r["status"] == "timeout":
        assert_status(run, "timeout", EXIT_TIMEOUT, signal.SIGKILL)
    else:
        assert bomb[0] == "bash", f"a bomb that never stops ended with {r['status']}\n{run}"
        assert run.returncode == r["exit_code"], run
    assert r["limits"]["pids"] == 32, run
    assert_cgroup_or_rlimit(run, mode, "pids")
    assert r["pids_peak"] is None or r["pids_peak"] <= 32, f"pids_peak over 32\n{run}"
    assert host_can_fork(), "the host cannot start a process after the fork bomb"


THREADS = """
import sys, threading
ev = threading.Event()
n = 0
try:
    for _ in range(2000):
        threading.Thread(target=ev.wait, daemon=True).start()
        n += 1
except RuntimeError as e:
    ev.set()
    print(n, "RuntimeError:", e, flush=True)
    sys.exit(3)
ev.set()
print(n, "all started", flush=True)
"""


def test_thousands_of_threads(workdir):
    run = corral(["--pids", "128", "--", "python3", "-c", THREADS], CALLER, workdir)
    assert_status(run, "exited", 3)
    m = re.fullmatch(r"(\d+) RuntimeError: can't start new thread\n", run.out)
    assert m, f"thread creation did not fail as expected\n{run}"
    started = int(m.group(1))
    assert 1 <= started and started + 1 <= 128, f"{started} threads under --pids 128\n{run}"
    assert run.report["limits"]["pids"] == 128, run
    assert_cgroup_or_rlimit(run, CALLER, "pids")
    peak = run.report["pids_peak"]
    assert peak is None or peak <= 128, run


# ---- time -----------------------------------------------------------------------


def test_timeout_busy_loop(mode, workdir):
    run = corral(["--timeout", "1s", "--", "python3", "-c", "while True: pass"], mode, workdir)
    assert_status(run, "timeout", EXIT_TIMEOUT, signal.SIGKILL)
    assert run.report["wall_ms"] >= 1000, run
    assert run.report["limits"]["timeout_ms"] == 1000, run
    assert run.report["enforcement"]["timeout"] == "supervisor", run


def test_timeout_kills_what_ignores_sigterm(mode, workdir):
    run = corral(["--timeout", "1s", "--", "sh", "-c", "trap '' TERM; sleep 1000"],
                 mode, workdir)
    assert_status(run, "timeout", EXIT_TIMEOUT, signal.SIGKILL)
    assert run.report["wall_ms"] >= 1000, run


CPU_SPINNERS = """
import os
for _ in range(3):
    if os.fork() == 0:
        while True: pass
while True: pass
"""


def test_cpu_time_multi_process(mode, workdir):
    run = corral(["--cpu-time", "1s", "--timeout", "60s", "--", "python3", "-c", CPU_SPINNERS],
                 mode, workdir)
    r = run.report
    assert r["limits"]["cpu_time_ms"] == 1000, run
    assert_cgroup_or_rlimit(run, mode, "cpu_time")
    assert_status(run, "cpu_time", EXIT_KILLED)
    if r["enforcement"]["cpu_time"] in CGROUP_ENFORCERS:
        assert r["cpu_ms"] >= 1000, run
    else:
        # Without a cgroup cpu_ms is the rusage of what init reaped, and the
        # kernel's rusage of a process RLIMIT_CPU killed at 1 s reads a few
        # percent under 1 s (measured outside corral: 0.98 s).
        assert r["cpu_ms"] >= 900, run


def test_cpus_fraction(mode, workdir):
    run = corral(["--cpus", "0.5", "--", "python3", "-c",
                  "print(sum(range(3 * 10**6)))"], mode, workdir)
    assert_status(run, "exited", 0)
    assert run.out == f"{sum(range(3 * 10**6))}\n", run
    assert run.report["limits"]["cpus"] == 0.5, run
    enf = run.report["enforcement"]
    if mode.rootless:
        assert enf["cpus"] == "none", run
        assert "--cpus" in (enf["weaker"] or ""), run
    else:
        assert enf["cpus"] in CGROUP_ENFORCERS, run


# ---- output -----------------------------------------------------------------------


@pytest.mark.parametrize("flood,stream", [
    (["head", "-c", "1G", "/dev/zero"], "stdout"),
    (["yes"], "stdout"),
    (["sh", "-c", "head -c 1G /dev/zero >&2"], "stderr"),
    (["sh", "-c", "yes out & yes err >&2; wait"], "both"),
], ids=["head-stdout", "yes-stdout", "head-stderr", "yes-both"])
def test_output_flood(mode, workdir, flood, stream):
    run = corral(["--output-limit", "1M", "--", *flood], mode, workdir)
    r = run.report
    assert run.stdout_len + run.stderr_len == MiB, (
        f"the caller received {run.stdout_len}+{run.stderr_len} bytes, not exactly 1M\n{run}")
    assert_status(run, "output_limit", EXIT_KILLED, signal.SIGKILL)
    assert r["stdout_bytes"] == run.stdout_len, run
    assert r["stderr_bytes"] == run.stderr_len, run
    if stream == "stdout":
        assert r["stdout_bytes"] == MiB and run.stderr_len == 0, run
    elif stream == "stderr":
        assert r["stderr_bytes"] == MiB and run.stdout_len == 0, run
    assert r["limits"]["output_bytes"] == MiB, run
    assert r["enforcement"]["output"] == "supervisor", run


@pytest.mark.parametrize("size,hit", [(MiB, False), (MiB + 1, True)], ids=["exact", "one-over"])
def test_output_limit_boundary(workdir, size, hit):
    run = corral(["--output-limit", "1M", "--", "head", "-c", size, "/dev/zero"],
                 CALLER, workdir)
    assert run.stdout_len == MiB, run
    assert run.report["stdout_bytes"] == MiB, run
    if hit:
        assert_status(run, "output_limit", EXIT_KILLED, signal.SIGKILL)
    else:
        assert_status(run, "exited", 0)


# ---- disk ----------------------------------------------------------------------------


def host_free(paths):
    free = {}
    for p in paths:
        st = os.statvfs(p)
        free[p] = st.f_bavail * st.f_frsize
    return free


@pytest.mark.parametrize("where", ["/tmp", SANDBOX_HOME, "/dev/shm"],
                         ids=["tmp", "home", "dev-shm"])
def test_disk_fill(mode, workdir, where):
    # the host's counterparts of the sandbox's /tmp, HOME and /dev/shm
    home = pwd.getpwuid(os.geteuid()).pw_dir
    host_paths = sorted({"/tmp", "/dev/shm", "/", home if os.path.isdir(home) else "/"})
    script = (f"dd if=/dev/zero of={where}/fill bs=1M count=64; rc=$?; "
              f"echo size $(stat -c %s {where}/fill); exit $rc")
    before = host_free(host_paths)
    run = corral(["--disk", "16M", "--", "sh", "-c", script], mode, workdir)
    after = host_free(host_paths)
    # dd's own failure, not a limit kill
    assert_status(run, "exited", 1)
    assert "No space left on device" in run.err, run
    m = re.search(r"^size (\d+)$", run.out, re.M)
    assert m and int(m.group(1)) <= 16 * MiB, f"more than 16M written to {where}\n{run}"
    assert run.report["limits"]["disk_bytes"] == 16 * MiB, run
    assert run.report["enforcement"]["disk"] == "tmpfs", run
    for p in host_paths:
        drop = before[p] - after[p]
        assert drop < 48 * MiB, f"the host's free space on {p} fell by {drop} bytes"


def test_disk_applies_to_extra_tmpfs(workdir):
    run = corral(["--disk", "16M", "--tmpfs", "/scratch", "--", "sh", "-c",
                  "dd if=/dev/zero of=/scratch/fill bs=1M count=64"], CALLER, workdir)
    assert_status(run, "exited", 1)
    assert "No space left on device" in run.err, run


# ---- files ---------------------------------------------------------------------------


OPEN_MANY = """
import sys
files = []
try:
    for _ in range(100):
        files.append(open("/dev/null"))
except OSError as e:
    print(len(files), e.errno, flush=True)
    sys.exit(3)
print(len(files), "opened all", flush=True)
"""


def test_open_files(workdir):
    run = corral(["--open-files", "20", "--", "python3", "-c", OPEN_MANY], CALLER, workdir)
    assert_status(run, "exited", 3)
    opened, err = run.out.split()
    assert err == str(errno.EMFILE), run
    assert int(opened) + 3 <= 20, run  # stdin, stdout, stderr + what was opened
    assert run.report["limits"]["open_files"] == 20, run
    assert run.report["enforcement"]["open_files"] == "rlimit", run


WRITE_2M = """
import os, sys
try:
    with open("/tmp/big", "wb") as f:
        f.write(b"x" * (2 * 1024 * 1024))
except OSError as e:
    print(e.errno, os.path.getsize("/tmp/big"), flush=True)
    sys.exit(3)
print("wrote all", flush=True)
"""


def assert_file_size_stopped(run, own_failure_code):
    """Either the writer died of SIGXFSZ (153, status signaled) or it saw
    EFBIG and reported it (its own exit code, status exited)."""
    r = run.report
    assert r["limits"]["file_size_bytes"] == MiB, run
    assert r["enforcement"]["file_size"] == "rlimit", run
    if run.returncode == EXIT_SIGXFSZ:
        assert_status(run, "signaled", EXIT_SIGXFSZ, signal.SIGXFSZ)
        return False
    assert_status(run, "exited", own_failure_code)
    return True


def test_file_size_python(workdir):
    run = corral(["--file-size", "1M", "--", "python3", "-c", WRITE_2M], CALLER, workdir)
    if assert_file_size_stopped(run, 3):
        assert run.out == f"{errno.EFBIG} {MiB}\n", run


def test_file_size_dd(workdir):
    run = corral(["--file-size", "1M", "--", "dd", "if=/dev/zero", "of=/tmp/big", "bs=1M",
                  "count=2"], CALLER, workdir)
    if assert_file_size_stopped(run, 1):
        assert "File too large" in run.err, run


# ---- processes that try to outlive the run -----------------------------------------


def test_double_forked_daemon_dies(mode, workdir):
    # A sleep length unique to this test, so other suites' sleeps do not count.
    token = f"1000.{os.getpid()}{int(time.monotonic() * 1000) % 100000}"
    script = (f"setsid sh -c 'sleep {token} & echo $! > /tmp/daemon.pid' ; "
              "while [ ! -s /tmp/daemon.pid ]; do sleep 0.05; done; "
              'kill -0 "$(cat /tmp/daemon.pid)" && echo daemon started')
    run = corral(["--timeout", "60s", "--", "sh", "-c", script], mode, workdir)
    assert_status(run, "exited", 0)
    assert run.out == "daemon started\n", run
    deadline = time.monotonic() + 3
    while pids_running(["sleep", token]) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = pids_running(["sleep", token])
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not left, f"the daemon (sleep {token}) outlived corral: pids {left}"


# ---- bad values and unlimited ---------------------------------------------------------


BAD_VALUES = [
    ("--memory", "1.5x"), ("--memory", "-1"), ("--memory", "0"),
    ("--memory", "99999999999999999999"), ("--pids", "0"), ("--pids", "abc"),
    ("--timeout", "0"), ("--timeout", "5x"), ("--timeout", "-1s"),
    ("--cpu-time", "1.5.5s"), ("--cpus", "0"), ("--cpus", "-1"), ("--disk", "0"),
    ("--open-files", "0"), ("--output-limit", "x"), ("--report", "/nonexistent/dir/file"),
]


@pytest.mark.parametrize("flag,value", BAD_VALUES, ids=[f"{f}={v}" for f, v in BAD_VALUES])
def test_bad_limit_values(workdir, flag, value):
    marker = workdir / "ran"
    run = corral(["run", flag, value, "--bind", workdir, "--", "sh", "-c",
                  f"touch {marker}; echo RAN"], raw=True)
    line = assert_one_line_error(run.as_completed(), EXIT_FAILURE)
    assert flag in line and value in line, f"the error does not name {flag} {value}: {line!r}"
    assert run.stdout == b"", run
    assert not marker.exists(), f"the command ran despite {flag} {value}"


@pytest.mark.parametrize("flag", sorted(FLAG_TO_LIMIT))
def test_unlimited_accepted(workdir, flag):
    run = corral([flag, "unlimited", "--", "true"], CALLER, workdir)
    assert_status(run, "exited", 0)
    assert run.report["limits"][FLAG_TO_LIMIT[flag]] is None, run
    assert run.err == "", run


def test_everything_unlimited(mode, workdir):
    args = [a for flag in sorted(FLAG_TO_LIMIT) for a in (flag, "unlimited")]
    run = corral([*args, "--", "sh", "-c", "echo fine"], mode, workdir)
    assert_status(run, "exited", 0)
    assert run.out == "fine\n", run
    r = run.report
    assert all(v is None for v in r["limits"].values()), r["limits"]
    for key in ENFORCEMENT_KEYS:
        assert r["enforcement"][key] == "none", f"enforcement.{key} for an unlimited limit\n{run}"


# ---- the report ------------------------------------------------------------------------


def test_report_normal_run(mode, workdir):
    out = "x" * 12345 + "\n"
    run = corral(["--", "python3", "-c",
                  f"import sys; sys.stdout.write({out!r}); sys.stderr.write('e' * 77)"],
                 mode, workdir)
    r = run.report
    assert_status(run, "exited", 0)
    assert r["signal"] is None and r["error"] is None, run
    assert run.stdout_len == len(out) and r["stdout_bytes"] == len(out), run
    assert run.stderr_len == 77 and r["stderr_bytes"] == 77, run
    # the defaults (docs/limits.md)
    assert r["limits"] == {
        "memory_bytes": GiB, "pids": 256, "cpus": None, "timeout_ms": 5 * 60 * 1000,
        "cpu_time_ms": None, "output_bytes": 64 * MiB, "disk_bytes": GiB,
        "open_files": 1024, "file_size_bytes": None,
    }, run
    assert r["cpu_ms"] >= 0 and r["wall_ms"] >= 0, run
    assert_cgroup_or_rlimit(run, mode, "memory", "pids")
    if not mode.rootless:
        assert r["memory_peak_bytes"] is not None and r["memory_peak_bytes"] > 0, run


def test_report_signaled(workdir):
    run = corral(["--", "sh", "-c", "kill -USR1 $$"], CALLER, workdir)
    assert_status(run, "signaled", 128 + signal.SIGUSR1, signal.SIGUSR1)


def test_report_command_not_found(workdir):
    run = corral(["--", "no-such-command-corral-limits"], CALLER, workdir)
    r = run.report
    assert_status(run, "setup_error", EXIT_NOT_FOUND)
    assert isinstance(r["error"], str) and "command not found" in r["error"], run
    line = assert_one_line_error(run.as_completed(), EXIT_NOT_FOUND)
    assert r["error"] in line, run


def test_report_to_stderr(workdir):
    run = corral(["run", "--report", "-", "--", "sh", "-c", "echo out; echo err >&2"],
                 raw=True)
    assert run.returncode == 0, run
    assert run.out == "out\n", run
    assert run.err.startswith("err\n"), run
    report = parse_report(run.err[len("err\n"):], run)
    assert report["status"] == "exited" and report["exit_code"] == 0, report
    assert report["stdout_bytes"] == 4 and report["stderr_bytes"] == 4, report


def test_report_to_inherited_fd(workdir):
    """--report fd:3 with the descriptor passed in; the command itself does
    not get it, so it cannot add a forged report line."""
    r_fd, w_fd = os.pipe()
    try:
        def as_fd3():
            os.dup2(w_fd, 3)

        run = corral(["run", "--report", "fd:3", "--", "sh", "-c",
                      "echo out; echo '{\"version\": 1, \"forged\": true}' >&3"],
                     raw=True, pass_fds=(3, w_fd), preexec_fn=as_fd3)
        os.close(w_fd)
        w_fd = -1
        with os.fdopen(r_fd, "r") as f:
            r_fd = -1
            text = f.read()
    finally:
        for fd in (r_fd, w_fd):
            if fd >= 0:
                os.close(fd)
    assert run.out == "out\n", run
    report = parse_report(text, run)
    assert "forged" not in report, report
    assert report["status"] == "exited", report
    assert report["exit_code"] == run.returncode, report
    assert report["stdout_bytes"] == 4, report
