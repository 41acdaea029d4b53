"""Leaving the sandbox's cgroup.

    esc_cgroup.py procs [--all]     write our own pid into cgroup.procs
    esc_cgroup.py mount DIR         mount cgroup2 and a cgroup v1 hierarchy on DIR,
                                    then open its release_agent for writing
    esc_cgroup.py release_agent [--all]  open release_agent files for writing
    esc_cgroup.py view              does /proc/self/cgroup show where we sit
                                    in a cgroup tree above our own?

procs without --all writes only into the cgroup we are already in, in
every mounted hierarchy (a no-op move: this is what the host-side run does,
so nothing on the host changes); --all (inside the sandbox) also tries every
cgroup.procs under /sys/fs/cgroup, the roots included. release_agent files
are opened for writing and closed without writing anything. mount runs in a
forked child that first enters a private mount namespace (a new user and
cgroup namespace too when unprivileged); as real host root without one, it
stops. ESCAPED when any write/open/mount succeeded, or (view) when a cgroup
path other than "/" is visible.
"""
import errno
import ctypes
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWCGROUP = 0x00020000, 0x10000000, 0x02000000
hits = []


def step(msg):
    print(f"NOTE: ESCAPE-STEP {msg}")
    hits.append(msg)


def note(msg):
    print(f"NOTE: {msg}")


def errno_name():
    import errno as E
    return E.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


def own_cgroups():
    """(hierarchy controllers, path) pairs from /proc/self/cgroup."""
    out = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrl, path = line.rstrip("\n").split(":", 2)
            out.append((ctrl, path))
    return out


def cgroup_mounts():
    """mount point -> (fstype, super options) of every cgroup mount."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fstype, _, sopts = right.split()[:3]
            if fstype in ("cgroup", "cgroup2"):
                out[left.split()[4]] = (fstype, sopts)
    return out


def is_host_root():
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return True


def write_procs(path):
    try:
        with open(path, "w") as f:
            f.write(f"{os.getpid()}\n")
        step(f"wrote our pid into {path}")
    except OSError as e:
        note(f"{path}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")


def find(name, depth=4):
    for top, dirs, files in os.walk("/sys/fs/cgroup"):
        if top.count("/") - 3 > depth:
            dirs[:] = []
        if name in files:
            yield os.path.join(top, name)


mode = sys.argv[1]
if mode == "procs":
    mounts = cgroup_mounts()
    note(f"cgroup mounts: {sorted(mounts)}")
    for ctrl, path in own_cgroups():
        for mp, (fstype, sopts) in mounts.items():
            mine = (fstype == "cgroup2" and ctrl == "") or (
                fstype == "cgroup" and ctrl and set(ctrl.split(",")) <= set(sopts.split(",")))
            if mine and not path.startswith("/.."):
                write_procs(os.path.join(mp, path.lstrip("/"), "cgroup.procs"))
    if "--all" in sys.argv:
        for p in find("cgroup.procs"):
            write_procs(p)
elif mode == "release_agent":
    for p in (find("release_agent") if "--all" in sys.argv else
              (os.path.join(mp, "release_agent") for mp, (t, _) in cgroup_mounts().items() if t == "cgroup")):
        try:
            fd = os.open(p, os.O_WRONLY)
            os.close(fd)
            step(f"opened {p} for writing")
        except OSError as e:
            note(f"{p}: {errno.errorcode.get(e.errno, e.errno)} ({e.strerror})")
elif mode == "mount":
    target = sys.argv[2]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        out = os.fdopen(w, "w")
        private = libc.unshare(CLONE_NEWNS) == 0
        out.write(f"NOTE: unshare(CLONE_NEWNS): {'ok' if private else errno_name()}\n")
        if not private:
            private = libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) == 0
            out.write(f"NOTE: unshare(USER|NS|CGROUP): {'ok' if private else errno_name()}\n")
        if not private and is_host_root():
            out.write("NOTE: no private mount namespace as host root: stopping\n")
            out.flush()
            os._exit(1)
        got = False
        for fstype, opts in (("cgroup2", None), ("cgroup", b"pids")):
            rc = libc.mount(b"esc-cgroup", target.encode(), fstype.encode(), 0, opts)
            if rc == 0:
                got = True
                out.write(f"NOTE: ESCAPE-STEP mounted {fstype} {opts} on {target}\n")
                ra = os.path.join(target, "release_agent")
                if os.path.exists(ra):
                    try:
                        os.close(os.open(ra, os.O_WRONLY))
                        out.write(f"NOTE: ESCAPE-STEP opened {ra} for writing\n")
                    except OSError as e:
                        out.write(f"NOTE: {ra}: {errno.errorcode.get(e.errno, e.errno)}\n")
                libc.umount2(target.encode(), 2)
            else:
                out.write(f"NOTE: mount {fstype} {opts}: {errno_name()}\n")
        out.flush()
        os._exit(0 if got else 1)
    os.close(w)
    sys.stdout.write(os.fdopen(r).read())
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        hits.append(f"mounted a cgroup file system on {target}")
elif mode == "view":
    for ctrl, path in own_cgroups():
        note(f"{ctrl or '(v2)'}: {path}")
        if path != "/":
            step(f"/proc/self/cgroup shows our path in the {ctrl or 'v2'} hierarchy: {path} "
                 f"(the cgroup namespace root is not our own cgroup)")
else:
    sys.exit(2)

if hits:
    print(f"ESCAPED: {hits[0]}" + (f" (and {len(hits) - 1} more)" if len(hits) > 1 else ""))
    sys.exit(0)
print(f"BLOCKED: cgroup {mode} refused")
sys.exit(1)
