"""Each isolation property of `corral run`, checked from inside the sandbox
(the command reports what it sees) and, where it matters, from the host."""

import errno
import fcntl
import hashlib
import json
import os
import random
import select
import signal
import socket
import subprocess
import termios
import textwrap
import time

import pytest

from conftest import (
    HOST_PYTHON,
    REPO,
    SANDBOX_HOME,
    SANDBOX_PATH,
    SANDBOX_UID,
    SANDBOX_USER,
    LeakCheck,
    as_user,
    assert_ok,
    children_alive,
    corral_argv,
    describe,
    is_root,
    pids_running,
    popen,
    run,
)


def py(code, *args):
    """argv running Python code inside the sandbox (python3 there is
    /usr/bin/python3: the sandbox's PATH is fixed)."""
    return ["python3", "-c", textwrap.dedent(code), *args]


def run_json(*args, **kwargs):
    """Run a sandbox whose command prints one JSON document; return it."""
    proc = run(*args, **kwargs)
    assert_ok(proc)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"the sandbox did not print JSON: {describe(proc)}")


def mountinfo_options(code_prefix=""):
    """Python source defining `mounts`: {mount point: [per-mount options]}
    as the sandbox's /proc/self/mountinfo shows them."""
    return code_prefix + textwrap.dedent("""
        mounts = {}
        for line in open('/proc/self/mountinfo'):
            f = line.split()
            mounts[f[4].encode().decode('unicode_escape')] = f[5].split(',')
    """)


def corral_pid(proc):
    """The pid of the corral process itself (not the runuser wrapper)."""
    if not as_user():
        return proc.pid
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2:].split()[1]) == proc.pid:
                return int(entry)
        time.sleep(0.05)
    pytest.fail("could not find corral under runuser")


def unique_sleep_arg():
    # `sleep 1000.NNNNNN`: a 1000-second sleep nobody else on this host runs,
    # so the host-side /proc scan cannot confuse it with another process.
    return f"1000.{random.randrange(10**8, 10**9)}"


def wait_until(predicate, timeout, interval=0.05):
    """Poll predicate() until it is true or timeout passes; return its last
    value. (For waiting only: no test asserts on how long anything took.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def read_line(stream, timeout):
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        return None
    return stream.readline()


# ---- file system ------------------------------------------------------------


def test_host_files_not_visible(tmp_path):
    canary = tmp_path / "canary-secret.txt"
    canary.write_text("host secret\n")
    host_home_entries = sorted(os.listdir("/home")) if os.path.isdir("/home") else []
    probes = [str(canary), str(tmp_path), "/root", "/var/log", "/run", str(REPO),
              "/etc/shadow", "/etc/ssh", "/etc/sudoers", "/var/lib", "/srv", "/opt", "/mnt", "/media",
              "/boot"] + [os.path.join("/home", e) for e in host_home_entries if e != SANDBOX_USER]
    seen = run_json(*py("""
        import json, os, sys
        probes = json.loads(sys.argv[1])
        print(json.dumps({
            'exists': {p: os.path.lexists(p) for p in probes},
            'home': sorted(os.listdir('/home')),
        }))
    """, json.dumps(probes)))
    visible = [p for p, exists in seen["exists"].items() if exists]
    assert visible == [], f"host paths visible inside the sandbox: {visible}"
    assert seen["home"] == [SANDBOX_USER], f"/home inside shows {seen['home']}"


@pytest.mark.parametrize("uid_args", [[], ["--uid", "0"]], ids=["uid1000", "uid0"])
def test_system_dirs_read_only(uid_args):
    result = run_json(*uid_args, *py(mountinfo_options("import errno, json, os\n") + textwrap.dedent("""
        attempts = {}
        def attempt(name, fn):
            try:
                fn()
                attempts[name] = 'ok'
            except OSError as e:
                attempts[name] = errno.errorcode.get(e.errno, str(e.errno))
        attempt('create /usr/corral-x', lambda: open('/usr/corral-x', 'w').close())
        attempt('create /usr/bin/corral-x', lambda: open('/usr/bin/corral-x', 'w').close())
        attempt('create /etc/corral-x', lambda: open('/etc/corral-x', 'w').close())
        attempt('append /etc/passwd', lambda: open('/etc/passwd', 'a').write('evil:x:0:0::/:/bin/sh\\n'))
        attempt('create /corral-x', lambda: open('/corral-x', 'w').close())
        attempt('mkdir /usr/lib/corral-x', lambda: os.mkdir('/usr/lib/corral-x'))
        attempt('chmod /usr/bin/env', lambda: os.chmod('/usr/bin/env', 0o777))
        attempt('unlink /etc/hostname', lambda: os.unlink('/etc/hostname'))
        print(json.dumps({'attempts': attempts, 'mounts': mounts}))
    """)))
    succeeded = [name for name, outcome in result["attempts"].items() if outcome == "ok"]
    assert succeeded == [], f"writes to the system succeeded: {succeeded} ({result['attempts']})"
    mounts = result["mounts"]
    for mount_point in ("/", "/usr"):
        assert mount_point in mounts, f"{mount_point} is not a mount point inside: {sorted(mounts)}"
        assert "ro" in mounts[mount_point], f"{mount_point} is mounted {mounts[mount_point]}"
    # Nothing of the host's /etc was written either.
    with open("/etc/passwd") as f:
        assert "evil:x:0:0" not in f.read()
    assert not os.path.exists("/usr/corral-x")
    assert not os.path.exists("/etc/corral-x")


@pytest.mark.parametrize("target", ["/data", None], ids=["elsewhere", "same-path"])
def test_ro_bind_readable_not_writable(host_dir, target):
    (host_dir / "data.txt").write_text("read me\n")
    (host_dir / "sub").mkdir()
    inside = target or str(host_dir)
    spec = f"{host_dir}:{target}" if target else str(host_dir)
    result = run_json("--ro-bind", spec, *py(mountinfo_options("import errno, json, os, sys\n") + textwrap.dedent("""
        d = sys.argv[1]
        out = {'read': open(d + '/data.txt').read(), 'list': sorted(os.listdir(d)), 'writes': {}}
        def attempt(name, fn):
            try:
                fn()
                out['writes'][name] = 'ok'
            except OSError as e:
                out['writes'][name] = errno.errorcode.get(e.errno, str(e.errno))
        attempt('create', lambda: open(d + '/new.txt', 'w').close())
        attempt('append', lambda: open(d + '/data.txt', 'a').write('x'))
        attempt('truncate', lambda: os.truncate(d + '/data.txt', 0))
        attempt('mkdir', lambda: os.mkdir(d + '/newdir'))
        attempt('create in subdir', lambda: open(d + '/sub/new.txt', 'w').close())
        attempt('unlink', lambda: os.unlink(d + '/data.txt'))
        attempt('rename', lambda: os.rename(d + '/data.txt', d + '/moved.txt'))
        out['mount'] = mounts.get(d)
        print(json.dumps(out))
    """), inside))
    assert result["read"] == "read me\n"
    assert result["list"] == ["data.txt", "sub"]
    succeeded = [name for name, outcome in result["writes"].items() if outcome == "ok"]
    assert succeeded == [], f"writes into a --ro-bind dir succeeded: {result['writes']}"
    assert result["mount"] is not None and "ro" in result["mount"], result
    assert sorted(os.listdir(host_dir)) == ["data.txt", "sub"]
    assert (host_dir / "data.txt").read_text() == "read me\n"
    assert os.listdir(host_dir / "sub") == []


WRITE_PROBE = """
import json, os, sys
d = sys.argv[1]
with open(os.path.join(d, 'made-inside.txt'), 'w') as f:
    f.write('from the sandbox\\n')
os.mkdir(os.path.join(d, 'made-dir'))
with open(os.path.join(d, 'made-dir', 'nested.txt'), 'w') as f:
    f.write('nested\\n')
st = os.stat(os.path.join(d, 'made-inside.txt'))
existing = os.stat(os.path.join(d, 'existing.txt'))
with open(os.path.join(d, 'existing.txt'), 'a') as f:
    f.write('appended\\n')
print(json.dumps({'cwd': os.getcwd(), 'uid': st.st_uid, 'gid': st.st_gid,
                  'existing_uid': existing.st_uid, 'dir_uid': os.stat(d).st_uid}))
"""


def same_owner(path, like):
    """Give path the owner of `like` (a no-op unless sandboxes run as
    CORRAL_TEST_AS_USER while the tests run as root)."""
    st = like.stat()
    os.chown(path, st.st_uid, st.st_gid)


def check_written(host_dir, result):
    owner = host_dir.stat()
    made = host_dir / "made-inside.txt"
    assert made.read_text() == "from the sandbox\n"
    assert (host_dir / "made-dir" / "nested.txt").read_text() == "nested\n"
    assert (host_dir / "existing.txt").read_text() == "was here\nappended\n"
    for path in (made, host_dir / "made-dir", host_dir / "made-dir" / "nested.txt"):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (owner.st_uid, owner.st_gid), (
            f"{path.name} is owned by {st.st_uid}:{st.st_gid} on the host; expected the "
            f"directory owner's {owner.st_uid}:{owner.st_gid}")
    # Inside, the sandbox user owns what it made and what the dir owner owns.
    assert result["uid"] == SANDBOX_UID and result["gid"] == SANDBOX_UID, result
    assert result["existing_uid"] == SANDBOX_UID and result["dir_uid"] == SANDBOX_UID, result


@pytest.mark.parametrize("target", ["/data", None], ids=["elsewhere", "same-path"])
def test_bind_writable_owned_by_dir_owner(host_dir, target):
    (host_dir / "existing.txt").write_text("was here\n")
    same_owner(host_dir / "existing.txt", host_dir)
    inside = target or str(host_dir)
    spec = f"{host_dir}:{target}" if target else str(host_dir)
    result = run_json("--bind", spec, *py(WRITE_PROBE, inside))
    check_written(host_dir, result)


def test_workspace_writable_and_cwd(host_dir):
    (host_dir / "existing.txt").write_text("was here\n")
    same_owner(host_dir / "existing.txt", host_dir)
    result = run_json("--workspace", host_dir, *py(WRITE_PROBE, "."))
    assert result["cwd"] == "/workspace"
    check_written(host_dir, result)


@pytest.mark.skipif(not is_root(), reason="making a directory owned by another user needs root")
@pytest.mark.skipif(bool(as_user()), reason="a root-mode case; sandboxes run rootless here")
@pytest.mark.parametrize("option", ["--workspace", "--bind"])
def test_writable_dir_of_another_owner_keeps_that_owner(tmp_path, option):
    d = tmp_path / "owned-by-4242"
    d.mkdir()
    (d / "existing.txt").write_text("was here\n")
    os.chown(d, 4242, 4343)
    os.chown(d / "existing.txt", 4242, 4343)
    d.chmod(0o700)
    args = ["--workspace", d] if option == "--workspace" else ["--bind", f"{d}:/data"]
    target = "." if option == "--workspace" else "/data"
    result = run_json(*args, *py(WRITE_PROBE, target))
    check_written(d, result)
    assert (d / "made-inside.txt").stat().st_uid == 4242


# ---- processes ---------------------------------------------------------------


def test_pid_namespace_shows_only_the_sandbox():
    seen = run_json(*py("""
        import json, os
        pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
        init = open('/proc/1/cmdline', 'rb').read().split(b'\\0')[0].decode()
        print(json.dumps({'pids': pids, 'me': os.getpid(), 'parent': os.getppid(), 'init': init}))
    """))
    assert seen["pids"] == [1, 2], seen
    assert seen["me"] == 2 and seen["parent"] == 1, seen
    assert os.path.basename(seen["init"]) == "corral", f"pid 1 is {seen['init']!r}"


def test_ps_shows_only_the_sandbox():
    proc = assert_ok(run("ps", "-eo", "pid=,comm="))
    rows = [line.split(None, 1) for line in proc.stdout.splitlines() if line.strip()]
    assert [(int(pid), comm) for pid, comm in rows] == [(1, "corral"), (2, "ps")], proc.stdout


# ---- network -----------------------------------------------------------------


def test_only_loopback_interface():
    proc = assert_ok(run("cat", "/proc/net/dev"))
    names = [line.split(":")[0].strip() for line in proc.stdout.splitlines()[2:] if ":" in line]
    assert names == ["lo"], proc.stdout


def test_ip_link_shows_only_lo_up():
    if not os.path.exists("/usr/sbin/ip") and not os.path.exists("/usr/bin/ip"):
        pytest.skip("iproute2's ip is not installed")
    proc = assert_ok(run("ip", "-o", "link"))
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    assert lines[0].split(":")[1].strip() == "lo", proc.stdout
    assert "UP" in lines[0].split("<")[1].split(">")[0].split(","), proc.stdout


def test_cannot_reach_host_loopback_tcp_server():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        proc = run(*py("""
            import errno, socket, sys
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect(('127.0.0.1', int(sys.argv[1])))
                print('connected')
            except OSError as e:
                print(errno.errorcode.get(e.errno, 'timeout' if e.errno is None else str(e.errno)))
        """, str(port)))
        assert_ok(proc)
        assert proc.stdout.strip() != "connected", "the sandbox reached a server on the host's 127.0.0.1"
        assert proc.stdout.strip() == "ECONNREFUSED", describe(proc)
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def test_cannot_reach_host_abstract_unix_socket():
    name = f"\0corral-test-{os.getpid()}-{random.randrange(10**9)}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(name)
    server.listen(8)
    server.setblocking(False)
    try:
        proc = run(*py("""
            import errno, socket, sys
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            try:
                s.connect('\\0' + sys.argv[1])
                print('connected')
            except OSError as e:
                print(errno.errorcode.get(e.errno, str(e.errno)))
        """, name[1:]))
        assert_ok(proc)
        assert proc.stdout.strip() != "connected", "the sandbox reached a host abstract unix socket"
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


# ---- identity ----------------------------------------------------------------


def test_hostname_default_and_option():
    proc = assert_ok(run(*py("""
        import os, socket
        print(socket.gethostname(), os.uname().nodename, open('/etc/hostname').read().strip())
    """)))
    assert proc.stdout.split() == ["corral"] * 3
    proc = assert_ok(run("--hostname", "build-box", "hostname"))
    assert proc.stdout == "build-box\n"


@pytest.mark.parametrize("uid_args", [[], ["--uid", "0"]], ids=["uid1000", "uid0"])
def test_setting_hostname_inside_does_not_change_host(uid_args):
    before = socket.gethostname()
    proc = assert_ok(run(*uid_args, *py("""
        import socket
        try:
            socket.sethostname('corral-changed')
        except OSError as e:
            print('refused', e.errno)
        print(socket.gethostname())
    """)))
    assert socket.gethostname() == before
    # Whatever happened inside stayed inside (no capability: it is refused).
    assert proc.stdout.splitlines()[-1] in ("corral", "corral-changed"), proc.stdout


IDENTITY = """
import grp, json, os, pwd
print(json.dumps({'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(), 'egid': os.getegid(),
                  'user': pwd.getpwuid(os.getuid()).pw_name, 'group': grp.getgrgid(os.getgid()).gr_name,
                  'pw_dir': pwd.getpwuid(os.getuid()).pw_dir, 'home': os.environ.get('HOME')}))
"""


def test_identity_is_sandbox_user():
    seen = run_json(*py(IDENTITY))
    assert seen == {"uid": SANDBOX_UID, "euid": SANDBOX_UID, "gid": SANDBOX_UID, "egid": SANDBOX_UID,
                    "user": SANDBOX_USER, "group": SANDBOX_USER, "pw_dir": SANDBOX_HOME,
                    "home": SANDBOX_HOME}


def test_home_and_tmp_writable():
    seen = run_json(*py("""
        import json, os, stat
        out = {}
        for d in (os.environ['HOME'], '/tmp', '/var/tmp', '/dev/shm'):
            p = os.path.join(d, 'probe.txt')
            with open(p, 'w') as f:
                f.write('ok ' + d)
            out[d] = open(p).read()
        st = os.stat(os.environ['HOME'])
        out['home_owner'] = st.st_uid
        out['home_mode'] = oct(stat.S_IMODE(st.st_mode))
        out['cwd'] = os.getcwd()
        print(json.dumps(out))
    """))
    for d in (SANDBOX_HOME, "/tmp", "/var/tmp", "/dev/shm"):
        assert seen[d] == "ok " + d
    assert seen["home_owner"] == SANDBOX_UID
    assert seen["home_mode"] == "0o700"
    assert seen["cwd"] == SANDBOX_HOME, "without --workspace or --cwd the command starts in HOME"


STATUS = """
import json
fields = {}
for line in open('/proc/self/status'):
    key, _, value = line.partition(':')
    fields[key] = value.strip()
import os
print(json.dumps({'status': fields, 'uid': os.getuid()}))
"""


@pytest.mark.parametrize("uid_args", [[], ["--uid", "0"]], ids=["uid1000", "uid0"])
def test_capabilities_all_zero_and_no_new_privs(uid_args):
    seen = run_json(*uid_args, *py(STATUS))
    status = seen["status"]
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, f"{cap} is {status[cap]}"
    assert status["NoNewPrivs"] == "1"


def test_seccomp_filter_mode():
    status = run_json(*py(STATUS))["status"]
    assert status["Seccomp"] == "2", f"Seccomp: {status['Seccomp']} (2 = filter mode)"
    assert int(status.get("Seccomp_filters", "0")) >= 1


def test_uid0_is_root_inside_without_capabilities():
    seen = run_json("--uid", "0", *py(IDENTITY))
    assert seen == {"uid": 0, "euid": 0, "gid": 0, "egid": 0, "user": "root", "group": "root",
                    "pw_dir": "/root", "home": "/root"}
    status = run_json("--uid", "0", *py(STATUS))["status"]
    assert all(int(status[c], 16) == 0 for c in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")), status
    # root inside is not root anywhere else: it cannot write the system either.
    proc = run("--uid", "0", "sh", "-c", "echo x > /usr/corral-x")
    assert proc.returncode != 0, describe(proc)


SYSCALLS = """
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
out = {}
def call(name, fn):
    ctypes.set_errno(0)
    rc = fn()
    e = ctypes.get_errno()
    out[name] = 'ok' if rc != -1 else errno.errorcode.get(e, str(e))
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000
SYS_keyctl, SYS_add_key, SYS_request_key = 250, 248, 249   # x86_64
if os.uname().machine == 'aarch64':
    SYS_keyctl, SYS_add_key, SYS_request_key = 219, 217, 218
os.makedirs('/tmp/mnt', exist_ok=True)
call('unshare(CLONE_NEWUSER)', lambda: libc.unshare(CLONE_NEWUSER))
call('unshare(CLONE_NEWNS)', lambda: libc.unshare(CLONE_NEWNS))
call('unshare(CLONE_NEWNET)', lambda: libc.unshare(CLONE_NEWNET))
call('mount tmpfs', lambda: libc.mount(b'tmpfs', b'/tmp/mnt', b'tmpfs', 0, None))
call('mount bind', lambda: libc.mount(b'/usr', b'/tmp/mnt', None, 4096, None))
call('umount /proc', lambda: libc.umount2(b'/proc', 2))
PTRACE_TRACEME, PTRACE_ATTACH = 0, 16
call('ptrace(PTRACE_ATTACH, 1)', lambda: libc.ptrace(PTRACE_ATTACH, 1, None, None))
call('ptrace(PTRACE_TRACEME)', lambda: libc.ptrace(PTRACE_TRACEME, 0, None, None))
# Keys go to this process's own keyring: nothing is left in a shared one
# if the call is (wrongly) allowed.
KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING = 0, -2
call('keyctl', lambda: libc.syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1))
call('add_key', lambda: libc.syscall(SYS_add_key, b'user', b'corral-test', b'secret', 6, KEY_SPEC_PROCESS_KEYRING))
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def syscall_results():
    return {
        "uid1000": run_json(*py(SYSCALLS)),
        "uid0": run_json("--uid", "0", *py(SYSCALLS)),
    }


@pytest.mark.parametrize("who", ["uid1000", "uid0"])
@pytest.mark.parametrize("call", ["unshare(CLONE_NEWUSER)", "unshare(CLONE_NEWNS)",
                                  "unshare(CLONE_NEWNET)", "mount tmpfs", "mount bind",
                                  "umount /proc", "ptrace(PTRACE_ATTACH, 1)"])
def test_privileged_syscalls_fail(syscall_results, who, call):
    assert syscall_results[who][call] != "ok", f"{call} succeeded inside the sandbox ({who})"


@pytest.mark.parametrize("who", ["uid1000", "uid0"])
def test_seccomp_denies_ptrace_traceme_or_keyctl(syscall_results, who):
    results = syscall_results[who]
    denied = {c: results[c] for c in ("ptrace(PTRACE_TRACEME)", "keyctl")
              if results[c] in ("EPERM", "ENOSYS")}
    assert denied, f"neither ptrace(PTRACE_TRACEME) nor keyctl was denied by seccomp: {results}"


@pytest.mark.parametrize("who", ["uid1000", "uid0"])
@pytest.mark.parametrize("call", ["keyctl", "add_key"])
def test_seccomp_denies_keyring(syscall_results, who, call):
    assert syscall_results[who][call] in ("EPERM", "ENOSYS"), (
        f"{call}: {syscall_results[who][call]} (expected EPERM or ENOSYS from seccomp)")


# ---- environment ---------------------------------------------------------------

ENV_DUMP = "import json, os; print(json.dumps(dict(os.environ)))"


def test_environment_scrubbed():
    caller = {k: v for k, v in os.environ.items() if k != "TERM"}
    caller["CORRAL_TEST_SECRET"] = "must-not-leak"
    caller["LD_PRELOAD"] = "/nonexistent/evil.so"
    caller["PYTHONPATH"] = "/nonexistent"
    seen = run_json(*py(ENV_DUMP), env=caller)
    assert seen == {"PATH": SANDBOX_PATH, "HOME": SANDBOX_HOME, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def test_term_is_passed():
    seen = run_json(*py(ENV_DUMP), extra_env={"TERM": "xterm-256color", "CORRAL_TEST_SECRET": "x"})
    assert seen == {"PATH": SANDBOX_PATH, "HOME": SANDBOX_HOME, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                    "TERM": "xterm-256color"}


def test_env_and_pass_env():
    seen = run_json("--env", "FOO=bar", "--env", "WITH_EQUALS=a=b=c", "--env", "EMPTY=",
                    "--env", "TWICE=first", "--env", "TWICE=second",
                    "--pass-env", "CORRAL_PASSED", "--pass-env", "CORRAL_NOT_SET",
                    *py(ENV_DUMP),
                    extra_env={"CORRAL_PASSED": "from caller ✓", "CORRAL_OTHER": "stays out"})
    assert seen["FOO"] == "bar"
    assert seen["WITH_EQUALS"] == "a=b=c"
    assert seen["EMPTY"] == ""
    assert seen["TWICE"] == "second"
    assert seen["CORRAL_PASSED"] == "from caller ✓"
    assert "CORRAL_NOT_SET" not in seen
    assert "CORRAL_OTHER" not in seen
    assert seen["PATH"] == SANDBOX_PATH and seen["HOME"] == SANDBOX_HOME


def test_home_follows_uid():
    seen = run_json("--uid", "0", *py(ENV_DUMP))
    assert seen["HOME"] == "/root"


# ---- terminal ------------------------------------------------------------------


def run_on_pty(argv, timeout=60):
    """Run argv with a fresh pty as its controlling terminal and stdio;
    return (exit code, output)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                                preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    finally:
        os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                proc.wait(timeout=10)
                pytest.fail(f"{argv!r} on a pty did not finish; output so far {output!r}")
            ready, _, _ = select.select([master], [], [], remaining)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError as e:
                if e.errno == errno.EIO:  # every slave fd is closed
                    break
                raise
            if not data:
                break
            output += data
        rc = proc.wait(timeout=30)
    finally:
        os.close(master)
    return rc, output.decode("utf-8", "replace").replace("\r\n", "\n")


TTY_PROBE = """
import errno, fcntl, os, termios
try:
    os.close(os.open('/dev/tty', os.O_RDWR))
    print('ctty yes')
except OSError as e:
    print('ctty', errno.errorcode.get(e.errno, e.errno))
print('isatty', os.isatty(0))
try:
    fcntl.ioctl(0, termios.TIOCSTI, b'#')
    print('tiocsti ok')
except OSError as e:
    print('tiocsti', errno.errorcode.get(e.errno, e.errno))
"""


def test_command_has_no_controlling_terminal():
    # The harness itself: a process started this way has the pty as its
    # controlling terminal.
    rc, out = run_on_pty([HOST_PYTHON, "-c", "import os; os.close(os.open('/dev/tty', os.O_RDWR)); print('ctty yes')"])
    assert rc == 0 and "ctty yes" in out, out
    rc, out = run_on_pty(corral_argv(["run", *py(TTY_PROBE)]))
    assert rc == 0, out
    lines = out.splitlines()
    assert "isatty True" in lines, f"stdin is not the caller's terminal inside: {out!r}"
    assert "ctty yes" not in lines, f"the command has a controlling terminal: {out!r}"
    assert "ctty ENXIO" in lines, out


def test_cannot_push_input_into_callers_terminal():
    rc, out = run_on_pty(corral_argv(["run", *py(TTY_PROBE)]))
    assert rc == 0, out
    assert "tiocsti ok" not in out.splitlines(), f"TIOCSTI on the caller's terminal worked: {out!r}"
    assert any(line.startswith("tiocsti E") for line in out.splitlines()), out


# ---- /proc and /sys ---------------------------------------------------------


def test_proc_kcore_masked():
    seen = run_json(*py("""
        import json, os
        p = '/proc/kcore'
        if not os.path.lexists(p):
            print(json.dumps({'exists': False}))
        else:
            print(json.dumps({'exists': True, 'size': os.stat(p).st_size,
                              'data': open(p, 'rb').read(64).hex()}))
    """))
    if os.path.exists("/proc/kcore"):
        assert seen == {"exists": True, "size": 0, "data": ""}, seen
    else:
        # This kernel has no /proc/kcore: nothing to mask, nothing to show.
        assert seen == {"exists": False}


MASKED_FILES = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                "/proc/sysrq-trigger", "/proc/latency_stats", "/proc/timer_stats"]
MASKED_DIRS = ["/proc/acpi", "/proc/scsi", "/proc/asound", "/sys/firmware", "/sys/kernel/security",
               "/sys/kernel/debug"]


def test_proc_and_sys_sensitive_paths_masked():
    seen = run_json(*py("""
        import json, os, sys
        files, dirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
        out = {}
        for p in files:
            if os.path.lexists(p):
                try:
                    out[p] = open(p, 'rb').read(64).hex()
                except OSError as e:
                    out[p] = 'error %d' % e.errno
        for p in dirs:
            if os.path.lexists(p):
                try:
                    out[p] = os.listdir(p)
                except OSError as e:
                    out[p] = 'error %d' % e.errno
        print(json.dumps(out))
    """, json.dumps(MASKED_FILES), json.dumps(MASKED_DIRS)))
    leaked = {p: v for p, v in seen.items() if v not in ("", [])}
    assert leaked == {}, f"masked paths show content inside: {leaked}"


@pytest.mark.parametrize("uid_args", [[], ["--uid", "0"]], ids=["uid1000", "uid0"])
def test_proc_sys_and_sys_read_only(uid_args):
    seen = run_json(*uid_args, *py(mountinfo_options("import errno, json, os\n") + textwrap.dedent("""
        writes = {}
        for p in ('/proc/sys/kernel/hostname', '/proc/sys/kernel/domainname',
                  '/proc/sys/net/ipv4/ip_forward', '/proc/sys/user/max_user_namespaces',
                  '/sys/kernel/uevent_helper', '/sys/class/net/lo/mtu'):
            try:
                with open(p, 'w') as f:
                    f.write('1')
                writes[p] = 'ok'
            except OSError as e:
                writes[p] = errno.errorcode.get(e.errno, str(e.errno))
        try:
            open('/sys/corral-x', 'w').close()
            writes['/sys/corral-x'] = 'ok'
        except OSError as e:
            writes['/sys/corral-x'] = errno.errorcode.get(e.errno, str(e.errno))
        print(json.dumps({'writes': writes, 'mounts': mounts}))
    """)))
    succeeded = [p for p, outcome in seen["writes"].items() if outcome == "ok"]
    assert succeeded == [], f"writes succeeded: {seen['writes']}"
    mounts = seen["mounts"]
    assert "ro" in mounts.get("/proc/sys", []), f"/proc/sys is mounted {mounts.get('/proc/sys')}"
    # /sys is either a read-only sysfs or an empty directory on the read-only root.
    assert "ro" in mounts.get("/sys", mounts["/"]), f"/sys is mounted {mounts.get('/sys')}"


# ---- options -------------------------------------------------------------------


def test_tmpfs_option():
    seen = run_json("--tmpfs", "/scratch", "--tmpfs", "/deep/er/scratch", *py(mountinfo_options(
        "import json, os\n") + textwrap.dedent("""
        out = {'before': [sorted(os.listdir('/scratch')), sorted(os.listdir('/deep/er/scratch'))]}
        for d in ('/scratch', '/deep/er/scratch'):
            with open(d + '/f', 'w') as f:
                f.write(d)
        out['read'] = [open('/scratch/f').read(), open('/deep/er/scratch/f').read()]
        out['mounts'] = {d: mounts.get(d) for d in ('/scratch', '/deep/er/scratch')}
        print(json.dumps(out))
    """)))
    assert seen["before"] == [[], []]
    assert seen["read"] == ["/scratch", "/deep/er/scratch"]
    for d, options in seen["mounts"].items():
        assert options is not None and "rw" in options, f"{d}: {options}"


def test_cwd_option(host_dir):
    proc = assert_ok(run("--cwd", "/tmp", "pwd"))
    assert proc.stdout == "/tmp\n"
    proc = assert_ok(run("--cwd", "/usr/share", "--workspace", host_dir, "pwd"))
    assert proc.stdout == "/usr/share\n"
    proc = assert_ok(run("--tmpfs", "/scratch", "--cwd", "/scratch", "pwd"))
    assert proc.stdout == "/scratch\n"


# ---- exit status and signals -----------------------------------------------------


@pytest.mark.parametrize("code", [0, 1, 3, 126, 127, 255])
def test_exit_code_propagated(code):
    proc = run("sh", "-c", f"exit {code}")
    assert proc.returncode == code, describe(proc)
    assert proc.stderr == "", "corral adds nothing to stderr when the command fails by itself"


@pytest.mark.parametrize("sig,code", [("TERM", 143), ("KILL", 137), ("INT", 130), ("SEGV", 139)])
def test_signal_death_propagated(sig, code):
    proc = run("sh", "-c", f"kill -{sig} $$")
    assert proc.returncode == code, describe(proc)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1])
def test_signal_to_corral_reaches_command(sig):
    name = sig.name[3:]
    script = f'trap "echo got {name}; exit 7" {name}; echo ready; sleep 1000 & wait $!; echo woke'
    proc = popen("sh", "-c", script, text=True)
    try:
        line = read_line(proc.stdout, 30)
        assert line == "ready\n", f"the sandbox did not start: {line!r}"
        os.kill(corral_pid(proc), sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 7, f"exit {proc.returncode}, stdout {out!r}, stderr {err!r}"
    assert out == f"got {name}\n"


def daemon_probe(sleep_arg):
    return py("""
        import os, subprocess, sys, time
        arg = sys.argv[1]
        subprocess.run(['setsid', 'sh', '-c', 'sleep %s </dev/null >/dev/null 2>&1 &' % arg], check=True)
        def running():
            for p in os.listdir('/proc'):
                if p.isdigit():
                    try:
                        if open('/proc/%s/cmdline' % p, 'rb').read() == b'sleep\\0' + arg.encode() + b'\\0':
                            return int(p)
                    except OSError:
                        pass
        deadline = time.monotonic() + 30
        while not running() and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = running()
        print('daemon-up' if pid else 'daemon-missing', pid, os.getsid(pid) if pid else None)
    """, sleep_arg)


def test_no_leftover_processes_after_exit():
    sleep_arg = unique_sleep_arg()
    check = LeakCheck()
    try:
        proc = assert_ok(run(*daemon_probe(sleep_arg)))
        words = proc.stdout.split()
        assert words[0] == "daemon-up", proc.stdout
        assert words[2] != "2", "the daemon should be in its own session"
        assert pids_running(["sleep", sleep_arg]) == [], "a daemon started inside outlived corral"
        check.assert_clean()
    finally:
        for pid in pids_running(["sleep", sleep_arg]):
            os.kill(pid, signal.SIGKILL)


def test_no_leftover_mounts_or_temp_dirs(host_dir, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    check = LeakCheck()
    assert_ok(run("--workspace", host_dir, "--bind", f"{host_dir}:/data", "--ro-bind", f"{ro}:/ro",
                  "--tmpfs", "/scratch", "sh", "-c", "touch /data/x /scratch/y /tmp/z"))
    check.assert_clean()


@pytest.mark.corral_killed
@pytest.mark.parametrize("limit_args", [[], ["--memory", "unlimited", "--pids", "unlimited"]],
                         ids=["default-limits", "no-cgroup"])
def test_sigkill_of_corral_takes_sandbox_down(limit_args):
    # With every cgroup-held limit off corral creates no cgroup, so only the
    # sandbox's own parent-death handling can take it down.
    sleep_arg = unique_sleep_arg()
    check = LeakCheck()
    # stdio to /dev/null: a surviving sleep must not hold our pipes open.
    proc = popen(*limit_args, "sleep", sleep_arg, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pids = wait_until(lambda: pids_running(["sleep", sleep_arg]), timeout=30)
        assert pids, "the sandboxed sleep never started"
        os.kill(corral_pid(proc), signal.SIGKILL)
        proc.wait(timeout=30)
        left = wait_until(lambda: not pids_running(["sleep", sleep_arg]), timeout=15)
        assert left, f"sleep {sleep_arg} survived SIGKILL of corral: {pids_running(['sleep', sleep_arg])}"
        # Reparented leftovers (init, anything) are gone too.
        assert wait_until(lambda: not children_alive(), timeout=15), children_alive()
        # Mounts and processes; not the cgroup: nobody is left to remove it
        # when corral itself is SIGKILLed.
        check.assert_clean(cgroups=False)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for pid in pids_running(["sleep", sleep_arg]):
            os.kill(pid, signal.SIGKILL)


# ---- data through stdio ---------------------------------------------------------------


def test_stdin_passthrough_10mb():
    data = os.urandom(10 * 1024 * 1024)
    proc = run("sha256sum", input=data, binary=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()


def test_large_output_50mb():
    size = 50 * 1024 * 1024
    proc = run("head", "-c", str(size), "/dev/zero", binary=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout) == size
    assert proc.stdout.count(b"\0") == size


def test_stderr_passthrough():
    proc = assert_ok(run("sh", "-c", "echo out; echo err >&2"))
    assert proc.stdout == "out\n" and proc.stderr == "err\n"


def test_utf8_output_and_file_names(host_dir):
    proc = assert_ok(run("--bind", f"{host_dir}:/data", *py("""
        import json, locale, os, sys
        print('héllo ✓')
        with open('/tmp/ünïcode.txt', 'w') as f:
            f.write('ünïcode ✓\\n')
        with open('/data/ünïcode.txt', 'w') as f:
            f.write('ünïcode ✓\\n')
        print(json.dumps({'tmp': os.listdir('/tmp'), 'content': open('/tmp/ünïcode.txt').read(),
                          'fs': sys.getfilesystemencoding(), 'stdout': sys.stdout.encoding,
                          'locale': locale.getpreferredencoding(False), 'arg': sys.argv[1]},
                         ensure_ascii=False))
    """, "ärgümënt ✓")))
    first, rest = proc.stdout.split("\n", 1)
    assert first == "héllo ✓"
    seen = json.loads(rest)
    assert seen["tmp"] == ["ünïcode.txt"]
    assert seen["content"] == "ünïcode ✓\n"
    assert seen["fs"] == "utf-8" and seen["stdout"].lower() == "utf-8" and seen["locale"] == "UTF-8"
    assert seen["arg"] == "ärgümënt ✓"
    assert (host_dir / "ünïcode.txt").read_text(encoding="utf-8") == "ünïcode ✓\n"
    proc = assert_ok(run("sh", "-c", "touch /tmp/ünïcode.txt && ls /tmp"))
    assert proc.stdout == "ünïcode.txt\n"
