"""Leave processes behind that try to outlive the sandbox.

usage: per_daemon.py MARKER MODES [--stay]
  MARKER  a unique string every survivor carries in its command line (the
          renamed one also in its name), so the host can look for it
  MODES   comma-separated, or "all":
    doublefork  fork, setsid, fork again: a classic daemon
    ignore      ignores SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1/2
    rename      changes its name (prctl PR_SET_NAME) and argv[0] to look
                like a kernel thread
    pgrp        moves to a new process group and ignores SIGTERM/SIGHUP
    subreaper   sets PR_SET_CHILD_SUBREAPER, then double-forks below itself
                so the orphan is reparented to it, not to init
    nohup       started through nohup(1), in the background
    hop         forks a fresh copy of itself and exits, over and over, so
                its pid never stays the same
  --stay  after the survivors are up, print READY and keep running (for a
          test that kills corral itself)

Survivors end by themselves after 60 s at most. The verdict is the host's:
this program only prints SPAWNED (and READY) once every survivor is up.
"""
import ctypes
import os
import select
import signal
import subprocess
import sys
import time

MARKER = sys.argv[1]
MODES = sys.argv[2].split(",")
if MODES == ["all"]:
    MODES = ["doublefork", "ignore", "rename", "pgrp", "subreaper", "nohup", "hop"]
STAY = "--stay" in sys.argv
LIFETIME = 60
PR_SET_NAME = 15
PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)
PY = sys.executable or "/usr/bin/python3"

ready_r, ready_w = os.pipe()


def ready():
    os.write(ready_w, b"x")


def live():
    """A survivor's life: bounded, so a leak never lasts long."""
    ready()
    deadline = time.monotonic() + LIFETIME
    while time.monotonic() < deadline:
        time.sleep(0.5)
    os._exit(0)


def ignore_signals():
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT,
              signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
        signal.signal(s, signal.SIG_IGN)


def in_child(body):
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(0)
    return pid


def doublefork():
    os.setsid()
    if os.fork() == 0:
        live()
    os._exit(0)


def ignore():
    ignore_signals()
    live()


def rename():
    # exec a copy whose argv[0] looks like a kernel thread, then set comm
    code = ("import ctypes,os,sys,time,signal\n"
            "libc=ctypes.CDLL(None)\n"
            "libc.prctl(15, ctypes.c_char_p(('k'+sys.argv[1])[:15].encode()), 0, 0, 0)\n"
            "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT): signal.signal(s, signal.SIG_IGN)\n"
            "os.write(int(sys.argv[2]), b'x')\n"
            "end=time.monotonic()+60\n"
            "while time.monotonic()<end: time.sleep(0.5)\n")
    os.set_inheritable(ready_w, True)
    os.execv(PY, [f"[kworker/0:1H-{MARKER}]", "-c", code, MARKER, str(ready_w)])


def pgrp():
    os.setpgid(0, 0)
    ignore_signals()
    live()


def subreaper():
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    ignore_signals()
    if os.fork() == 0:
        # the middle process exits: its child is reparented to us
        if os.fork() == 0:
            ignore_signals()
            live()
        os._exit(0)
    os.wait()
    live()


def nohup():
    code = ("import os,sys,time\nos.write(int(sys.argv[2]), b'x')\n"
            "end=time.monotonic()+60\nwhile time.monotonic()<end: time.sleep(0.5)\n")
    with open(os.devnull, "wb") as null:
        subprocess.Popen(["nohup", PY, "-c", code, MARKER, str(ready_w)], stdin=subprocess.DEVNULL,
                         stdout=null, stderr=null, pass_fds=(ready_w,))
    # wait until it signalled (checked by the main process), then leave it
    os._exit(0)


def hop():
    ignore_signals()
    first = True
    deadline = time.monotonic() + LIFETIME
    while time.monotonic() < deadline:
        if first:
            ready()
            first = False
        time.sleep(0.02)
        if os.fork() != 0:
            os._exit(0)
    os._exit(0)


BODIES = {"doublefork": doublefork, "ignore": ignore, "rename": rename, "pgrp": pgrp,
          "subreaper": subreaper, "nohup": nohup, "hop": hop}

children = [in_child(BODIES[m]) for m in MODES]
# each mode signals exactly once when its survivor is up
got = b""
deadline = time.monotonic() + 20
while len(got) < len(MODES) and time.monotonic() < deadline:
    r, _, _ = select.select([ready_r], [], [], 0.5)
    if r:
        got += os.read(ready_r, 64)
# reap the direct children that exit on purpose (doublefork, nohup)
for pid in children:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
print(f"SPAWNED {len(got)}/{len(MODES)} survivors: {','.join(MODES)} (marker {MARKER})", flush=True)
if STAY:
    print("READY", flush=True)
    end = time.monotonic() + LIFETIME
    while time.monotonic() < end:
        time.sleep(0.5)
sys.exit(0)
