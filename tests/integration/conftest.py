"""Shared helpers for corral's integration tests.

Real processes only: every test starts the corral binary with subprocess and
inspects what it did, from inside the sandbox (the command's output) and from
the host (files, /proc, mount table).

The suite runs as root and as an ordinary user (CI runs it twice, the second
time with `runuser -u corraltest -- /usr/bin/python3 -m pytest ...`), so
tests use only directories the current user owns (pytest's tmp_path).

Environment:
  CORRAL_BIN           the binary to test (default <repo>/build/corral)
  CORRAL_TEST_AS_USER  when set and the suite runs as root, every sandbox is
                       started through `runuser -u USER --` (rootless mode)
"""

import ctypes
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORRAL_BIN = os.environ.get("CORRAL_BIN") or str(REPO / "build" / "corral")
HOST_PYTHON = "/usr/bin/python3"

# The environment documented for the command (README, src/jail/environment.c).
SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SANDBOX_UID = 1000
SANDBOX_USER = "sandbox"
SANDBOX_HOME = "/home/sandbox"

EXIT_FAILURE = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127

# Every subprocess has a bound: a hung sandbox fails its test, it never
# hangs the suite.
DEFAULT_TIMEOUT = 60


def is_root():
    return os.geteuid() == 0


def as_user():
    """The user every sandbox is started as, or None for the current one."""
    user = os.environ.get("CORRAL_TEST_AS_USER")
    if user and is_root():
        return user
    return None


def _set_child_subreaper():
    # Anything a sandbox leaves behind when corral exits is re-parented to
    # this process instead of the host's init, so leftovers can be found
    # (see children_alive) without looking at other people's processes.
    PR_SET_CHILD_SUBREAPER = 36
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


_set_child_subreaper()


# Pids of the corral processes this session started (for the cgroup check).
STARTED_PIDS = []


class SandboxTimeout(AssertionError):
    pass


def corral_argv(args, user=None):
    argv = [CORRAL_BIN, *args]
    user = user or as_user()
    if user:
        if not is_root():
            pytest.skip("running corral as another user needs root (runuser)")
        argv = ["runuser", "-u", user, "--", *argv]
    return argv


def _communicate(proc, input, timeout):
    try:
        return proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # Should the sandbox outlive corral, its init was re-parented to us
        # (subreaper): take it down so a failed test leaves nothing running.
        kill_orphans()
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            out, err = b"", b"(output not collected: the pipe stayed open)"
        raise SandboxTimeout(
            f"{proc.args!r} did not finish within {timeout}s; killed it.\n"
            f"stdout: {out[-2000:]!r}\nstderr: {err[-2000:]!r}"
        ) from None


def corral_raw(*args, input=None, timeout=DEFAULT_TIMEOUT, user=None, env=None, extra_env=None,
               binary=False, cwd=None):
    """Run `corral ARGS` (no implicit `run`) and return the CompletedProcess.

    stdout/stderr are str (UTF-8, undecodable bytes escaped) unless binary.
    env replaces the caller's environment; extra_env adds to it.
    """
    argv = corral_argv([str(a) for a in args], user=user)
    if env is None:
        env = dict(os.environ)
    if extra_env:
        env = {**env, **extra_env}
    if isinstance(input, str):
        input = input.encode()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    STARTED_PIDS.append(proc.pid)
    out, err = _communicate(proc, input, timeout)
    if not binary:
        out = out.decode("utf-8", "surrogateescape")
        err = err.decode("utf-8", "surrogateescape")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def run(*args, input=None, timeout=DEFAULT_TIMEOUT, user=None, **kwargs):
    """Run `corral run ARGS` and return the CompletedProcess."""
    return corral_raw("run", *args, input=input, timeout=timeout, user=user, **kwargs)


def popen(*args, user=None, env=None, extra_env=None, **kwargs):
    """Start `corral run ARGS` without waiting (for signal tests)."""
    argv = corral_argv(["run", *[str(a) for a in args]], user=user)
    if env is None:
        env = dict(os.environ)
    if extra_env:
        env = {**env, **extra_env}
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.Popen(argv, env=env, **kwargs)
    STARTED_PIDS.append(proc.pid)
    return proc


def describe(proc):
    out = proc.stdout if isinstance(proc.stdout, str) else proc.stdout[-2000:]
    err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr[-2000:]
    if isinstance(out, str) and len(out) > 4000:
        out = out[:2000] + " [...] " + out[-2000:]
    return f"exit {proc.returncode}\nstdout: {out!r}\nstderr: {err!r}"


def assert_ok(proc, code=0):
    assert proc.returncode == code, describe(proc)
    return proc


def assert_one_line_error(proc, code=EXIT_FAILURE, *fragments):
    """corral's failures: the given exit code and exactly one line on stderr,
    starting with "corral: " and containing every fragment."""
    err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == code, describe(proc)
    assert err.endswith("\n"), f"stderr is not one complete line: {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}: {err!r}"
    assert lines[0].startswith("corral: "), f"stderr does not start with 'corral: ': {err!r}"
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in the error line {lines[0]!r}"
    return lines[0]


# ---- host-side observation ------------------------------------------------


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        return set(f.read().splitlines())


def proc_cmdlines():
    """{pid: [argv...]} of every process on the host we can read."""
    result = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if raw:
            result[int(entry)] = [a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0")]
    return result


def pids_running(argv):
    """Pids of live processes whose argv is exactly `argv`."""
    return [pid for pid, cmd in proc_cmdlines().items() if cmd == list(argv)]


def children_alive():
    """Live (non-zombie) children of this process. Thanks to the subreaper bit
    this includes anything orphaned by a corral run that has exited."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces and parens.
        rest = stat[stat.rfind(")") + 2:].split()
        state, ppid = rest[0], int(rest[1])
        if ppid == me and state not in ("Z", "X"):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                cmd = "?"
            found.append((int(entry), state, cmd))
    return found


def kill_orphans():
    """SIGKILL every live child of ours: after a corral run that is only what
    the run left behind (a pid namespace's init takes its namespace along)."""
    for pid, _, _ in children_alive():
        try:
            os.kill(pid, 9)
        except OSError:
            pass


TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run")


def temp_entries():
    """Entries of the host's temp dirs whose name mentions corral (pytest's
    own directories excepted)."""
    found = set()
    for d in TEMP_DIRS:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if "corral" in name.lower() and not name.startswith("corral-pytest"):
                found.add(os.path.join(d, name))
    return found


def cgroups_of(pids):
    """cgroup directories named after one of these corral pids (corral names
    a sandbox's cgroup sandbox-<supervisor pid>-...), anywhere under
    /sys/fs/cgroup."""
    prefixes = tuple(f"sandbox-{pid}-" for pid in pids)
    if not prefixes:
        return []
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        if root.count("/") > 12:
            dirs[:] = []
            continue
        found += [os.path.join(root, d) for d in dirs if d.startswith(prefixes)]
    return found


class LeakCheck:
    """Snapshot the host before a corral run; assert_clean() after it."""

    def __init__(self):
        self.mounts = host_mounts()
        self.temps = temp_entries()
        self.first_run = len(STARTED_PIDS)

    def assert_clean(self, cgroups=True):
        now = host_mounts()
        new_mounts, gone_mounts = now - self.mounts, self.mounts - now
        assert not new_mounts, "corral left mounts in the host's mount table:\n" + "\n".join(
            sorted(new_mounts))
        assert not gone_mounts, "mounts disappeared from the host's mount table:\n" + "\n".join(
            sorted(gone_mounts))
        assert len(now) == len(self.mounts)
        left = children_alive()
        assert not left, f"processes outlived corral: {left}"
        new_temps = temp_entries() - self.temps
        assert not new_temps, f"corral left temporary files: {sorted(new_temps)}"
        if cgroups:
            left_cgroups = cgroups_of(STARTED_PIDS[self.first_run:])
            assert not left_cgroups, f"corral left cgroups behind: {left_cgroups}"


@pytest.fixture(autouse=True)
def leak_check(request):
    """Every test is also a leak test: after it, the host has no new mounts,
    no processes orphaned by corral, no corral temp files, no sandbox
    cgroups. (Tests marked corral_killed skip the cgroup part: a SIGKILLed
    corral cannot remove its cgroup.)"""
    check = LeakCheck()
    yield check
    check.assert_clean(cgroups=request.node.get_closest_marker("corral_killed") is None)


def host_has_module(name):
    """Whether the host's /usr/bin/python3 can import `name` (the sandbox
    sees the same /usr)."""
    try:
        r = subprocess.run([HOST_PYTHON, "-c", f"import {name}"], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0


# ---- fixtures ---------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def corral_binary():
    if not os.access(CORRAL_BIN, os.X_OK):
        pytest.exit(f"corral binary not found or not executable: {CORRAL_BIN} "
                    f"(build it with ninja, or set CORRAL_BIN)", returncode=2)
    return CORRAL_BIN


class Corral:
    """The `corral` fixture: corral.run(...) == conftest.run(...)."""

    bin = CORRAL_BIN
    run = staticmethod(run)
    raw = staticmethod(corral_raw)
    popen = staticmethod(popen)


@pytest.fixture
def corral():
    return Corral()


def pytest_configure(config):
    if as_user():
        # Sandboxes run as another user (CORRAL_TEST_AS_USER): what the tests
        # create on the host must be usable by that user.
        os.umask(0)


if as_user():
    @pytest.fixture
    def tmp_path(tmp_path):
        """pytest's tmp_path, handed to CORRAL_TEST_AS_USER: owned by that
        user, its parents traversable."""
        pw = pwd.getpwnam(as_user())
        for parent in tmp_path.parents:
            if parent == Path("/tmp") or parent == Path("/"):
                break
            os.chmod(parent, os.stat(parent).st_mode & 0o7777 | 0o711)
        os.chown(tmp_path, pw.pw_uid, pw.pw_gid)
        os.chmod(tmp_path, 0o755)
        return tmp_path


@pytest.fixture
def host_dir(tmp_path):
    """A directory on the host, owned by whoever runs the sandboxes."""
    d = tmp_path / "host"
    d.mkdir()
    if as_user():
        pw = pwd.getpwnam(as_user())
        os.chown(d, pw.pw_uid, pw.pw_gid)
    return d


def current_user_name():
    return pwd.getpwuid(os.geteuid()).pw_name


def pytest_report_header(config):
    return [f"corral binary: {CORRAL_BIN}",
            f"running as: {current_user_name()} (uid {os.geteuid()})"
            + (f", sandboxes as {as_user()}" if as_user() else ""),
            f"python: {sys.executable}"]
