"""Host-side observer: run a command, then look for processes it left behind.

usage: per_observe.py MARKER [--kill-on-ready] [--glob-at-ready PATTERN]
                       [--settle SECONDS] -- COMMAND...

Runs COMMAND (an attack on the host, or `corral run ... attack`) as a child
of this process, which is a child subreaper: every orphan of COMMAND's tree
that escaped into the host's pid namespace is reparented here, whatever it
is called. With --kill-on-ready, COMMAND is SIGKILLed as soon as it prints a
READY line (a test of `corral run` itself being killed mid-run); the paths
matching PATTERN ({pid} is COMMAND's pid) are printed just before the kill.

After COMMAND ends, survivors are looked for, for up to --settle seconds
(default 5) until ten scans in a row find none:
  - every process on the host whose command line or name contains MARKER
    (other than this observer), and
  - every remaining child of this observer (except corral's own cgroup
    sentinel, which is reported separately: it cleans up and leaves), and
  - every orphan reparented here that died meanwhile (reaped here).
ESCAPED: survivors (listed, then killed -- the host is left clean);
BLOCKED: none.
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
args = sys.argv[1:]
marker = args.pop(0)
kill_on_ready = False
glob_at_ready = None
settle = 5.0
while args and args[0] != "--":
    opt = args.pop(0)
    if opt == "--kill-on-ready":
        kill_on_ready = True
    elif opt == "--glob-at-ready":
        glob_at_ready = args.pop(0)
    elif opt == "--settle":
        settle = float(args.pop(0))
args.pop(0)
me = os.getpid()

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    print(f"cannot become a subreaper: errno {ctypes.get_errno()}")
    sys.exit(2)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def my_children():
    kids = set()
    for tid in os.listdir(f"/proc/{me}/task"):
        for pid in read(f"/proc/{me}/task/{tid}/children").split():
            kids.add(int(pid))
    return kids


def state(pid):
    stat = read(f"/proc/{pid}/stat")
    try:
        return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3].decode()
    except ValueError:
        return ""


def describe(pid):
    comm = read(f"/proc/{pid}/comm").decode(errors="replace").strip()
    cmd = read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace").strip()
    return f"{pid} [{comm}] " + cmd[:160].replace("\n", " ")


def reap():
    """Reap what was reparented to us and died. Returns the orphans among
    them that are not corral's own (its init and sentinel are called
    "corral..."): a process that ran in the host's pid namespace after its
    parent was gone -- a survivor that died (or hopped) before a scan."""
    orphans = []
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return orphans
        if info is None or info.si_pid == 0:
            return orphans
        comm = read(f"/proc/{info.si_pid}/comm").decode(errors="replace").strip()
        os.waitpid(info.si_pid, 0)
        if not comm.startswith("corral"):
            orphans.append(f"{info.si_pid} [{comm}] (an orphan of the command, reaped here)")


def survivors():
    found, sentinels = {}, []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        if state(pid) in ("Z", "X", ""):
            continue
        text = read(f"/proc/{pid}/cmdline") + b" " + read(f"/proc/{pid}/comm")
        if marker.encode() in text:
            found[pid] = describe(pid)
    for pid in my_children():
        if state(pid) in ("Z", "X", ""):
            continue
        if read(f"/proc/{pid}/comm").strip() == b"corral-sentinel":
            sentinels.append(describe(pid))
        else:
            found[pid] = describe(pid)
    return found, sentinels


# The command's output goes to files, not pipes: a survivor holding a pipe
# open would make waiting for EOF wait for the survivor.
import tempfile

out_f = tempfile.TemporaryFile()
err_f = tempfile.TemporaryFile()
cmd = subprocess.Popen(args, stdout=out_f, stderr=err_f)
print(f"CHILDPID {cmd.pid}", flush=True)


def output(f):
    f.seek(0)
    return f.read().decode(errors="replace")


if kill_on_ready:
    limit = time.monotonic() + 120
    while cmd.poll() is None and time.monotonic() < limit:
        if "\nREADY\n" in "\n" + output(out_f):
            if glob_at_ready:
                import glob

                found_paths = sorted(glob.glob(glob_at_ready.replace("{pid}", str(cmd.pid))))
                print(f"AT-READY {' '.join(found_paths)}", flush=True)
            os.kill(cmd.pid, signal.SIGKILL)
            print(f"KILLED {cmd.pid} with SIGKILL after READY", flush=True)
            break
        time.sleep(0.05)
try:
    cmd.wait(timeout=120)
except subprocess.TimeoutExpired:
    cmd.kill()
    cmd.wait()
print(f"command exited {cmd.returncode}")
print("command stdout: " + output(out_f)[-1500:].replace("\n", "\n  "))
print("command stderr: " + output(err_f)[-1500:].replace("\n", "\n  "))

# Survivors are what is still there once things settle: a sandbox being torn
# down may show its processes for a moment. "Settled" means STABLE scans in a
# row that found nothing and reaped no orphan; a process that keeps hopping
# to new pids can slip through one scan, never through all of them.
STABLE = 10
deadline = time.monotonic() + settle
clean = 0
seen = {}
while True:
    orphans = reap()
    found, sentinels = survivors()
    if found or orphans or sentinels:
        clean = 0
        seen.update(found)
        seen.update({o: o for o in orphans})
    else:
        clean += 1
    if clean >= STABLE or time.monotonic() > deadline:
        break
    time.sleep(0.1)

for s in sentinels:
    print(f"LINGERING-SENTINEL {s}")
if clean >= STABLE:
    print(f"BLOCKED: nothing carrying {marker} and no orphan survived the command")
    sys.exit(1)
for what in seen.values():
    print(f"SURVIVOR {what}")
count = len(seen)
# clean up: kill until nothing is left (a hopping process forks on)
for _ in range(200):
    reap()
    found, _ = survivors()
    if not found:
        break
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.05)
print(f"ESCAPED: {count} process(es) outlived the command"
      + (f"; {len(found)} could not be killed" if found else ""))
sys.exit(0)
