#!/usr/bin/python3
"""The side-by-side peer benchmark behind bench/run-all.sh.

Not meant to be run by hand: bench/run-all.sh compiles bench/floor.c, checks
the tools and calls this with the paths. Sections:

  1. cold start of /bin/true and `python3 -c pass` under every runner
     (hyperfine -N, several interleaved rounds, median / p95 / ratio)
  2. throughput: sandboxes per second with 1 and 2 concurrent workers
  3. start latency with 1, 10 and 100 sandboxes alive
  4. peak memory of the supervising process per sandbox
  5. the daemon (corral serve) — skipped while it does not exist
  6. plots (PNG, matplotlib Agg)

Every child runs with a timeout; sandboxes started in the background are
tracked and killed at the end and on any error or signal.
"""
import argparse
import datetime
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# A clean, identical environment for every runner (the host's PATH may
# point python3 at a pyenv shim; corral scrubs its environment anyway).
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
PY = "/usr/bin/python3"
SLEEP = "/usr/bin/sleep"
SLEEP_MARK = "600.123"  # `sleep 600.123`: long-lived sandboxes, easy to find with ps

# bubblewrap with what corral does by default, as far as bwrap can — the same
# flags as bench/startup.sh.
BWRAP = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
         "--uid", "1000", "--gid", "1000", "--hostname", "corral",
         "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
         "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
         "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache", "--ro-bind", "/etc/ssl", "/etc/ssl",
         "--ro-bind", "/etc/alternatives", "/etc/alternatives",
         "--ro-bind", "/etc/nsswitch.conf", "/etc/nsswitch.conf",
         "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/home/sandbox",
         "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/home/sandbox"]

FIREJAIL = ["firejail", "--quiet", "--noprofile", "--private", "--private-dev", "--private-tmp",
            "--net=none", "--ipc-namespace", "--hostname=corral",
            "--nonewprivs", "--caps.drop=all", "--seccomp", "--noroot"]

UNSHARE = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount", "--net",
           "--ipc", "--uts", "--mount-proc"]

RUNSC = ["runsc", "--rootless", "--network=none", "do"]


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def p95(t):
    t = sorted(t)
    return t[int(0.95 * (len(t) - 1))]


def ms(x):
    return f"{x * 1e3:.2f} ms"


def wait_idle(budget):
    """With WAIT_IDLE=SECONDS set, wait (at most that long) for the 1-minute
    load average to fall below 1 before a section starts."""
    if not budget:
        return
    end = time.monotonic() + budget
    if float(loadavg().split()[0]) >= 1:
        log(f"waiting for the load average ({loadavg()}) to fall below 1")
    while float(loadavg().split()[0]) >= 1 and time.monotonic() < end:
        time.sleep(10)


class Meter:
    """How busy the rest of the machine was during a section: CPU time used
    by every process (from /proc/stat) minus what this benchmark and its
    reaped descendants used (getrusage), as a share of all CPUs."""

    @staticmethod
    def _host_busy():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...
        return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK"), v[7] / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _ours():
        import resource
        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    def __init__(self):
        self.t0, (self.h0, self.s0), self.o0 = time.monotonic(), self._host_busy(), self._ours()
        self.load0 = loadavg().split()[0]

    def summary(self):
        wall = time.monotonic() - self.t0
        h1, s1 = self._host_busy()
        cpus = os.cpu_count()
        other = max(0.0, (h1 - self.h0) - (self._ours() - self.o0)) / (wall * cpus)
        steal = (s1 - self.s0) / (wall * cpus)
        return (f"{wall:.0f} s; load {self.load0} → {loadavg().split()[0]}; other processes used "
                f"{other * 100:.0f} % of the {cpus} CPUs, hypervisor steal {steal * 100:.0f} %")


# ---------------------------------------------------------------- runners

class Runner:
    """One way of starting a command. argv(cmd) gives the full argv;
    `wrap` (optional) is a prefix that must run *around* hyperfine (crun's
    private mount namespace), not per command."""

    def __init__(self, name, argv, slow=False, wrap=None, note=""):
        self.name, self._argv, self.slow, self.wrap, self.note = name, argv, slow, wrap, note
        self.error = None  # why it cannot run here, when it cannot

    def argv(self, cmd, tag="x"):
        return self._argv(cmd, tag)


def hybrid_cgroup_with_v2_controllers():
    try:
        with open("/sys/fs/cgroup/unified/cgroup.controllers") as f:
            return bool(f.read().strip())
    except OSError:
        return False


def make_crun_bundle(bundle, cmd):
    """An OCI bundle: an empty read-only rootfs with the usr-merge symlinks,
    /usr and a curated /etc bound read-only from the host, fresh /proc, tmpfs
    /dev, /tmp and HOME; user/pid/mount/net/ipc/uts/cgroup namespaces; uid
    1000 inside, ids mapped to an unprivileged host range; no capabilities,
    no_new_privs; memory 1G and pids 256 as corral's defaults (a cgroup)."""
    root = os.path.join(bundle, "rootfs")
    os.makedirs(root)
    for d in ("usr", "etc/ssl", "etc/alternatives", "proc", "dev", "tmp", "home/sandbox"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
        os.symlink(target, os.path.join(root, link))
    for f in ("ld.so.cache", "nsswitch.conf"):
        open(os.path.join(root, "etc", f), "w").close()
    os.chmod(bundle, 0o755)

    def ro_bind(path):
        return {"destination": path, "type": "bind", "source": path,
                "options": ["rbind", "ro", "nosuid", "nodev"]}

    cfg = {
        "ociVersion": "1.0.0",
        "process": {
            "terminal": False,
            "user": {"uid": 1000, "gid": 1000},
            "args": cmd,
            "env": ["PATH=/usr/bin:/bin", "HOME=/home/sandbox"],
            "cwd": "/home/sandbox",
            "capabilities": {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "corral",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
            {"destination": "/home/sandbox", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=755", "uid=1000", "gid=1000"]},
            ro_bind("/usr"), ro_bind("/etc/ld.so.cache"), ro_bind("/etc/ssl"),
            ro_bind("/etc/alternatives"), ro_bind("/etc/nsswitch.conf"),
        ],
        "linux": {
            "uidMappings": [{"containerID": 0, "hostID": 0x70000000, "size": 65536}],
            "gidMappings": [{"containerID": 0, "hostID": 0x70000000, "size": 65536}],
            "namespaces": [{"type": t} for t in ("user", "pid", "mount", "network", "ipc", "uts", "cgroup")],
            "resources": {"memory": {"limit": 1 << 30, "swap": 1 << 30}, "pids": {"limit": 256},
                          "devices": [{"allow": False, "access": "rwm"}]},
        },
    }
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


def build_runners(a, tmp):
    R = []
    corral = a.corral
    R.append(Runner("corral", lambda c, t: [corral, "run", "--"] + c))
    R.append(Runner("bubblewrap", lambda c, t: BWRAP + c))
    R.append(Runner("firejail", lambda c, t: FIREJAIL + c))

    # crun: one bundle per command (the command lives in config.json).
    bundles = {}

    def crun_argv(c, tag):
        key = " ".join(c)
        if key not in bundles:
            b = os.path.join(tmp, f"crun-bundle-{len(bundles)}")
            make_crun_bundle(b, c)
            bundles[key] = b
        return ["crun", "run", "--bundle", bundles[key], f"corral-bench-{os.getpid()}-{tag}"]

    wrap = None
    note = ""
    if hybrid_cgroup_with_v2_controllers():
        # crun 1.8 refuses hybrid cgroups whose v2 hierarchy has controllers
        # ("cgroups in hybrid mode not supported"); in a private mount
        # namespace without /sys/fs/cgroup/unified it sees plain v1 and
        # uses it. The namespace is made once around hyperfine, so it
        # costs nothing per run.
        wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'umount -l /sys/fs/cgroup/unified && exec "$@"', "sh"]
        note = "run in a private mount namespace without /sys/fs/cgroup/unified (crun 1.8 refuses hybrid cgroups)"
    R.append(Runner("crun", crun_argv, wrap=wrap, note=note))
    R.append(Runner("gVisor (runsc)", lambda c, t: RUNSC + c, slow=True))
    R.append(Runner("unshare", lambda c, t: UNSHARE + c))
    if a.nsjail:
        nsj = a.nsjail
        R.append(Runner("nsjail", lambda c, t: [
            nsj, "-Mo", "--really_quiet", "--user", "1000", "--group", "1000", "--hostname", "corral",
            "-R", "/usr", "-s", "/usr/bin:/bin", "-s", "/usr/lib:/lib", "-s", "/usr/lib64:/lib64",
            "-R", "/etc/ld.so.cache", "-T", "/tmp", "-T", "/home/sandbox", "-T", "/dev",
            "-R", "/dev/null", "-R", "/dev/urandom",
            # no --cgroup_* limits: on v1 they need NSJAIL parent cgroups made by hand
            "--time_limit", "300", "--"] + c, note="untested here (not packaged in Debian 12)"))
    R.append(Runner("floor: namespaces", lambda c, t: [a.floor, "ns"] + c))
    R.append(Runner("floor: fork+exec", lambda c, t: [a.floor, "fork"] + c))
    return R


def tool_missing(r):
    exe = r.argv(["/bin/true"])[0]
    if os.path.isabs(exe):
        return None if os.access(exe, os.X_OK) else f"{exe} is not executable"
    for d in CLEAN_ENV["PATH"].split(":"):
        if os.access(os.path.join(d, exe), os.X_OK):
            return None
    return f"`{exe}` is not installed"


def preflight(runners):
    """Run each runner once on each workload; a runner that fails is
    reported with its reason instead of a number."""
    for r in runners:
        r.error = tool_missing(r)
        if r.error:
            log(f"{r.name}: {r.error}")
            continue
        for cmd in (["/bin/true"], [PY, "-c", "pass"]):
            full = (r.wrap or []) + r.argv(cmd, "preflight")
            try:
                p = subprocess.run(full, env=CLEAN_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=120, start_new_session=True)
                if p.returncode != 0:
                    out = p.stdout.decode(errors="replace").strip().splitlines()
                    r.error = f"exit {p.returncode}: " + (" / ".join(out[-3:]) or "(no output)")
            except subprocess.TimeoutExpired:
                r.error = "did not finish within 120 s"
            if r.error:
                log(f"{r.name}: cannot run here: {r.error}")
                break


# ---------------------------------------------------------------- 1. cold start

def hyperfine(runners, cmd, runs, warmup, tmp, tag):
    """One hyperfine -N invocation over `runners` (which must share the same
    wrap). Returns {name: [seconds]} or raises."""
    wrap = runners[0].wrap or []
    js = os.path.join(tmp, f"hf-{tag}.json")
    argv = ["hyperfine", "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
            "--export-json", js]
    for r in runners:
        argv += ["-n", r.name, shlex.join(r.argv(cmd, tag))]
    budget = 60 + runs * len(runners) * (3.0 if any(r.slow for r in runners) else 1.0) * 2
    p = subprocess.Popen(wrap + argv, env=CLEAN_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = p.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise RuntimeError(f"hyperfine did not finish within {budget:.0f} s")
    if p.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(last[0] if last else f"hyperfine exited {p.returncode}")
    with open(js) as f:
        return {res["command"]: res["times"] for res in json.load(f)["results"]}


def cold_start(runners, cmd, a, tmp, label):
    """Rounds of hyperfine; in each round the order of the runners rotates
    and the runners that need a different wrapper (crun) or are slow (gVisor)
    get their own hyperfine call, so all of them are spread over the same
    stretch of time."""
    ok = [r for r in runners if not r.error]
    times = {r.name: [] for r in ok}
    errors = {}
    groups = []
    plain = [r for r in ok if not r.wrap and not r.slow]
    if plain:
        groups.append(plain)
    for r in ok:
        if r.wrap or r.slow:
            groups.append([r])
    for rnd in range(a.rounds):
        shift = rnd % len(groups)
        order = groups[shift:] + groups[:shift]
        for gi, g in enumerate(order):
            g = g[rnd % len(g):] + g[:rnd % len(g)]
            runs = a.slow_runs if g[0].slow else a.runs
            warmup = (a.warmup if rnd == 0 else max(1, a.warmup // 5))
            if g[0].slow:
                warmup = min(warmup, 3)
            tag = f"{label}-{rnd}-{gi}"
            for attempt in (1, 2):  # one retry: a single stray failure should not cost a round
                try:
                    res = hyperfine(g, cmd, runs, warmup, tmp, f"{tag}-{attempt}")
                    for name, t in res.items():
                        times[name].extend(t)
                    break
                except Exception as e:  # noqa: BLE001 — recorded, the other rounds go on
                    log(f"{label} round {rnd + 1}, attempt {attempt}: {', '.join(r.name for r in g)}: {e}")
                    if attempt == 2:
                        for r in g:
                            errors.setdefault(r.name, []).append(str(e))
        log(f"{label}: round {rnd + 1}/{a.rounds} done")
    return times, errors


def cold_table(runners, times, errors):
    base = statistics.median(times["corral"]) if times.get("corral") else None
    floor = statistics.median(times["floor: namespaces"]) if times.get("floor: namespaces") else None
    lines = ["| runner | runs | median | p95 | mean | median / corral | above the floor |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in runners:
        t = times.get(r.name) or []
        if r.error or not t:
            why = (r.error or "; ".join(errors.get(r.name, ["no samples"]))).replace("|", "\\|")
            lines.append(f"| {r.name} | — | failed: {why} | | | | |")
            continue
        med = statistics.median(t)
        ratio = f"{med / base:.2f}×" if base else "—"
        above = f"{(med - floor) * 1e3:+.2f} ms" if floor is not None else "—"
        lines.append(f"| {r.name} | {len(t)} | {ms(med)} | {ms(p95(t))} | {ms(statistics.mean(t))} | {ratio} | {above} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- background sandboxes

class Background:
    """Long-lived sandboxes, each in its own process group; all of them are
    killed by kill_all(), which also runs at exit and on SIGTERM/SIGINT."""

    def __init__(self):
        self.procs = []
        self.lock = threading.Lock()

    def start(self, argv):
        p = subprocess.Popen(argv, env=CLEAN_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        with self.lock:
            self.procs.append(p)
        return p

    def kill_all(self, grace=10.0):
        with self.lock:
            procs, self.procs = self.procs, []
        for p in procs:
            if p.poll() is None:
                try:
                    p.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for p in procs:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    log(f"background process {p.pid} survived SIGKILL")


BG = Background()


def proc_table():
    """{pid: (ppid, comm)} of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        out[int(d)] = (ppid, comm)
    return out


def descendants(pid, table):
    kids = {}
    for p, (pp, _) in table.items():
        kids.setdefault(pp, []).append(p)
    out, todo = [], [pid]
    while todo:
        x = todo.pop()
        for k in kids.get(x, []):
            out.append(k)
            todo.append(k)
    return out


def sleepers():
    """Processes running our long sleep (by their command line)."""
    n = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
                if len(argv) >= 2 and argv[0].endswith(b"sleep") and argv[1] == SLEEP_MARK.encode():
                    n.append(int(d))
        except OSError:
            pass
    return n


def wait_alive(procs, timeout=120):
    """Until every background sandbox has its sleep running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = proc_table()
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a background sandbox exited early with status {p.returncode}")
        if all(any(table[d][1] == "sleep" for d in descendants(p.pid, table) if d in table) for p in procs):
            return
        time.sleep(0.05)
    raise RuntimeError(f"background sandboxes not all up after {timeout} s")


def tree_cpu(procs):
    """CPU seconds used so far by these processes and all their descendants."""
    table = proc_table()
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in procs:
        for d in [p.pid] + descendants(p.pid, table):
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
                fields = st[st.rindex(")") + 2:].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, ValueError, IndexError):
                pass
    return total / tick


def run_bounded(argv, timeout=60):
    """Run argv to completion; returns its exit status (-9 if it had to be
    killed). A blocking wait with a watchdog thread, not subprocess's
    `timeout=`, which polls with growing sleeps (0.5, 1, 2 … 50 ms) and would
    round every measured time up to the next poll."""
    p = subprocess.Popen(argv, env=CLEAN_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    watchdog = threading.Timer(timeout, p.kill)
    watchdog.start()
    try:
        return p.wait()
    finally:
        watchdog.cancel()


def timed_runs(argv, n):
    t = []
    for _ in range(n):
        s = time.perf_counter()
        rc = run_bounded(argv)
        t.append(time.perf_counter() - s)
        if rc != 0:
            raise RuntimeError(f"{argv[0]} exited {rc}")
    return t


# ---------------------------------------------------------------- 2. throughput

def throughput(runners, workers, duration):
    """Sandboxes completed per second by `workers` threads, each starting
    the next as soon as its last one has exited, for `duration` seconds."""
    count = [0] * workers
    fails = [0] * workers
    deadline = time.monotonic() + duration

    def work(i, argv):
        while time.monotonic() < deadline:
            if run_bounded(argv) == 0:
                count[i] += 1
            else:
                fails[i] += 1

    start = time.monotonic()
    th = [threading.Thread(target=work, args=(i, runners[i % len(runners)])) for i in range(workers)]
    for x in th:
        x.start()
    for x in th:
        x.join(timeout=duration + 120)
    elapsed = time.monotonic() - start
    return sum(count) / elapsed, sum(fails)


def section_throughput(runners, a):
    names = [r for r in runners if r.name in ("corral", "bubblewrap", "floor: namespaces") and not r.error]
    res = {}  # (name, workers) -> [rates]
    failures = {}
    for rep in range(a.tp_reps):
        for workers in (1, 2):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for r in order:
                argv = r.argv(["/bin/true"], f"tp{workers}")
                rate, fails = throughput([argv] * workers, workers, a.tp_seconds)
                res.setdefault((r.name, workers), []).append(rate)
                if fails:
                    failures[(r.name, workers)] = failures.get((r.name, workers), 0) + fails
        log(f"throughput: repetition {rep + 1}/{a.tp_reps} done")
    lines = [f"Fully isolated `/bin/true` runs completed per second, {a.tp_seconds:g} s per measurement, "
             f"{a.tp_reps} interleaved repetition(s), median (min–max):", "",
             "| runner | 1 worker | 2 workers | 2 / 1 | 1 worker / corral | 2 workers / corral |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    med = {k: statistics.median(v) for k, v in res.items()}
    for r in names:
        c1, c2 = med.get(("corral", 1)), med.get(("corral", 2))
        m1, m2 = med[(r.name, 1)], med[(r.name, 2)]

        def cell(w):
            v = res[(r.name, w)]
            f = failures.get((r.name, w))
            return f"{statistics.median(v):.1f}/s ({min(v):.1f}–{max(v):.1f})" + (f", {f} failed" if f else "")
        lines.append(f"| {r.name} | {cell(1)} | {cell(2)} | {m2 / m1:.2f}× | "
                     f"{m1 / c1:.2f}× | {m2 / c2:.2f}× |")
    return "\n".join(lines), {f"{k[0]}|{k[1]}": v for k, v in res.items()}


# ---------------------------------------------------------------- 3. latency with N alive

def section_growth(runners, a):
    levels = (1, 10, 100)
    subjects = []
    for r in runners:
        if r.error:
            continue
        if r.name == "corral":
            # --timeout 5m: nothing can outlive the benchmark by more than that.
            subjects.append((r, [a.corral, "run", "--timeout", "5m", "--", SLEEP, SLEEP_MARK]))
        elif r.name == "bubblewrap":
            # bwrap has no timeout of its own: timeout(1) ends the outer bwrap,
            # --die-with-parent takes the sandbox with it.
            subjects.append((r, ["timeout", "-s", "KILL", "300"] + r.argv([SLEEP, SLEEP_MARK])))
    res, idle = {}, {}
    for n in levels:
        for r, bg_argv in subjects:
            try:
                procs = [BG.start(bg_argv) for _ in range(n)]
                wait_alive(procs)
                # What the idle sandboxes cost while nothing else happens.
                c0, t0 = tree_cpu(procs), time.monotonic()
                time.sleep(a.idle_seconds)
                idle[(r.name, n)] = (tree_cpu(procs) - c0) / (time.monotonic() - t0)
                probe = r.argv(["/bin/true"], "growth")
                timed_runs(probe, 5)  # warm-up
                res[(r.name, n)] = timed_runs(probe, a.growth_runs)
            finally:
                BG.kill_all()
            deadline = time.monotonic() + 10
            while (left := sleepers()) and time.monotonic() < deadline:
                time.sleep(0.1)
            if left:
                raise RuntimeError(f"sleepers left after killing the background sandboxes: {left}")
            log(f"latency with {n} alive: {r.name} done")
    lines = [f"Start latency of `/bin/true` ({a.growth_runs} runs each, timed from Python around the whole "
             "process) while N sandboxes of the same runner run `sleep` in the background:", "",
             "| runner | " + " | ".join(f"{n} alive: median (p95)" for n in levels) + " | growth 100 / 1 |",
             "| --- | " + " | ".join("---:" for _ in levels) + " | ---: |"]
    for r, _ in subjects:
        cells = [f"{ms(statistics.median(res[(r.name, n)]))} ({ms(p95(res[(r.name, n)]))})" for n in levels]
        g = statistics.median(res[(r.name, 100)]) / statistics.median(res[(r.name, 1)])
        lines.append(f"| {r.name} | " + " | ".join(cells) + f" | {g:.2f}× |")
    lines += ["", f"CPU used by the idle background sandboxes themselves (every process of their trees, "
              f"over {a.idle_seconds:g} s with nothing else started), in % of one CPU:", "",
              "| runner | " + " | ".join(f"{n} alive" for n in levels) + " |",
              "| --- | " + " | ".join("---:" for _ in levels) + " |"]
    for r, _ in subjects:
        lines.append(f"| {r.name} | " + " | ".join(f"{idle[(r.name, n)] * 100:.1f} %" for n in levels) + " |")
    return "\n".join(lines), {f"{k[0]}|{k[1]}": v for k, v in res.items()}


# ---------------------------------------------------------------- 4. memory

def read_status(pid):
    v = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    v[k] = int(rest.split()[0])  # kB
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    v["Pss"] = int(line.split()[1])
    except OSError:
        pass
    return v


def measure_memory(argv):
    """Start argv (whose payload is `sleep 2`), sample every 20 ms: the
    launched process's own VmHWM (kernel-tracked peak of that process only,
    children excluded) and, 1 s in, RSS and PSS of every process of the
    runner's tree except the payload."""
    p = subprocess.Popen(argv, env=CLEAN_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    hwm, comm = 0, None
    tree = None
    start = time.monotonic()
    try:
        while p.poll() is None and time.monotonic() - start < 30:
            try:
                with open(f"/proc/{p.pid}/comm") as f:
                    c = f.read().strip()
            except OSError:
                break
            if c != comm:  # a wrapper exec'd the runner: a new image, a new peak
                hwm, comm = 0, c
            s = read_status(p.pid)
            hwm = max(hwm, s.get("VmHWM", 0))
            if tree is None and time.monotonic() - start > 1.0:
                table = proc_table()
                rss = pss = k = 0
                for d in [p.pid] + descendants(p.pid, table):
                    if table.get(d, (0, ""))[1] == "sleep":
                        continue
                    sd = read_status(d)
                    rss += sd.get("VmRSS", 0)
                    pss += sd.get("Pss", 0)
                    k += 1
                tree = (k, rss, pss)
            time.sleep(0.02)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}")
    return hwm, tree


def section_memory(runners, a):
    rows = []
    for r in runners:
        if r.error or r.name.startswith("floor: fork"):
            continue
        argv = (r.wrap or []) + r.argv([SLEEP, "2"], "mem")
        hw, tr = [], []
        err = None
        for _ in range(a.mem_reps):
            try:
                h, t = measure_memory(argv)
                hw.append(h)
                if t:
                    tr.append(t)
            except Exception as e:  # noqa: BLE001
                err = str(e)
                break
        rows.append((r, hw, tr, err))
        log(f"memory: {r.name} done")
    base = None
    for r, hw, _, _ in rows:
        if r.name == "corral" and hw:
            base = statistics.median(hw)
    lines = [f"`RUNNER sleep 2`, {a.mem_reps} runs each, medians. *Supervisor peak*: VmHWM of the process "
             "we started (for crun behind the mount-namespace wrapper: crun itself, the wrapper execs it) — its own "
             "peak resident set, children excluded. *Runner tree*: every process of the runner's tree except "
             "the payload `sleep`, sampled 1 s in (helpers, sentinel, the sandbox's init); RSS counts shared "
             "pages once per process, PSS splits them.", "",
             "| runner | supervisor peak (VmHWM) | / corral | runner processes | tree RSS | tree PSS |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r, hw, tr, err in rows:
        if err or not hw:
            lines.append(f"| {r.name} | failed: {str(err).replace('|', chr(92) + '|')} | | | | |")
            continue
        h = statistics.median(hw)
        k = statistics.median([t[0] for t in tr]) if tr else 0
        rss = statistics.median([t[1] for t in tr]) if tr else 0
        pss = statistics.median([t[2] for t in tr]) if tr else 0
        lines.append(f"| {r.name} | {h / 1024:.1f} MiB | {h / base:.2f}× | {k:g} | {rss / 1024:.1f} MiB | "
                     f"{pss / 1024:.1f} MiB |")
    return "\n".join(lines)


# ---------------------------------------------------------------- 6. plots

def plot_cold(runners, times, title, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [r.name for r in runners if times.get(r.name)]
    data = [[x * 1e3 for x in times[n]] for n in names]
    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=110)
    ax.boxplot(data, vert=False, whis=(5, 95), showfliers=True,
               flierprops={"marker": ".", "markersize": 2, "alpha": 0.4})
    ax.set_yticks(range(1, len(names) + 1), names)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("wall time per run, ms (log scale); box: quartiles, whiskers: p5–p95")
    ax.set_title(title)
    for i, d in enumerate(data, start=1):
        ax.annotate(f"median {statistics.median(d):.1f} ms", (max(d), i), xytext=(6, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=8)
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi * 2.2)  # room for the labels
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_growth(samples, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    names = sorted({k.split("|")[0] for k in samples}, key=lambda n: n != "corral")
    for i, n in enumerate(names):
        colour = f"C{i}"
        lv = sorted(int(k.split("|")[1]) for k in samples if k.split("|")[0] == n)
        med = [statistics.median(samples[f"{n}|{x}"]) * 1e3 for x in lv]
        hi = [p95(samples[f"{n}|{x}"]) * 1e3 for x in lv]
        ax.plot(lv, med, marker="o", color=colour, label=f"{n} median")
        ax.plot(lv, hi, marker=".", linestyle="--", color=colour, alpha=0.6, label=f"{n} p95")
    ax.set_xscale("log")
    ax.set_xticks([1, 10, 100], ["1", "10", "100"])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("sandboxes alive")
    ax.set_ylabel("start of /bin/true, ms")
    ax.set_title("Start latency with N sandboxes alive")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------- main

def sh(argv):
    try:
        p = subprocess.run(argv, env=CLEAN_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return p.stdout.decode(errors="replace").strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        return "?"


def sha256(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--corral", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--nsjail", default="")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    a.wait_idle = float(os.environ.get("WAIT_IDLE") or 0)
    if a.quick:
        a.rounds, a.runs, a.slow_runs, a.warmup = 2, 5, 2, 2
        a.tp_seconds, a.tp_reps = 2.0, 1
        a.growth_runs, a.mem_reps, a.idle_seconds = 10, 2, 1.0
    else:
        a.rounds, a.runs, a.slow_runs, a.warmup = 5, 40, 10, 15
        a.tp_seconds, a.tp_reps = 10.0, 3
        a.growth_runs, a.mem_reps, a.idle_seconds = 100, 5, 3.0
    os.makedirs(a.out, exist_ok=True)

    def on_signal(sig, _):
        BG.kill_all(grace=3)
        sys.exit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    tmp = tempfile.mkdtemp(prefix="corral-bench-")
    os.chmod(tmp, 0o755)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = loadavg()
    samples = {}
    md = []
    try:
        runners = build_runners(a, tmp)
        preflight(runners)
        versions = {
            "corral": sh([a.corral, "--version"]) + f" (binary sha256 {sha256(a.corral)[:12]}, tree "
                      + sh(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "describe", "--always",
                            "--dirty"]) + ")", "bubblewrap": sh(["bwrap", "--version"]),
            "firejail": sh(["firejail", "--version"]), "crun": sh(["crun", "--version"]),
            "gVisor (runsc)": sh(["runsc", "--version"]), "unshare": sh(["unshare", "--version"]),
            "hyperfine": sh(["hyperfine", "--version"]),
        }
        if a.nsjail:
            versions["nsjail"] = sh([a.nsjail, "--help"])

        cold = {}
        meters = {}
        for label, cmd, title in (("true", ["/bin/true"], "/bin/true"),
                                  ("python", [PY, "-c", "pass"], "python3 -c pass")):
            wait_idle(a.wait_idle)
            log(f"cold start: {title}")
            m = Meter()
            times, errors = cold_start(runners, cmd, a, tmp, label)
            meters[label] = m.summary()
            cold[label] = (times, errors, title)
            samples[f"cold-{label}"] = times
            plot_cold(runners, times, f"Cold start of `{title}` ({'QUICK, ' if a.quick else ''}"
                      f"{a.rounds} interleaved rounds)", os.path.join(a.out, f"coldstart-{label}.png"))

        wait_idle(a.wait_idle)
        log("throughput")
        m = Meter()
        tp_md, samples["throughput"] = section_throughput(runners, a)
        meters["throughput"] = m.summary()
        wait_idle(a.wait_idle)
        log("latency with N alive")
        m = Meter()
        gr_md, samples["growth"] = section_growth(runners, a)
        meters["growth"] = m.summary()
        plot_growth(samples["growth"], os.path.join(a.out, "growth.png"))
        wait_idle(a.wait_idle)
        log("memory")
        m = Meter()
        mem_md = section_memory(runners, a)
        meters["memory"] = m.summary()

        serve = subprocess.run([a.corral, "serve", "--help"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=30).returncode
        if serve == 0:
            serve_md = "`corral serve` exists, but this suite has no daemon benchmark yet: skipped."
        else:
            serve_md = "`corral serve` (the daemon) does not exist yet: skipped."
        print(f"bench: {serve_md}", file=sys.stderr)
    finally:
        BG.kill_all()
        subprocess.run(["rm", "-rf", tmp], timeout=120)

    finished = datetime.datetime.now(datetime.timezone.utc)
    u = os.uname()
    md.append(f"# corral peer benchmark{' (QUICK: smoke test, too few runs to quote)' if a.quick else ''}\n")
    md.append(f"- date: {started:%Y-%m-%d %H:%M} – {finished:%H:%M} UTC")
    md.append(f"- host: {u.sysname} {u.release} {u.machine}, {os.cpu_count()} CPUs, "
              f"{'cgroup v2' if os.path.exists('/sys/fs/cgroup/cgroup.controllers') else 'cgroup v1 (hybrid)' if os.path.exists('/sys/fs/cgroup/unified') else 'cgroup v1'}")
    md.append(f"- load average (1, 5, 15 min): {load_before} before, {loadavg()} after")
    md.append("- versions: " + "; ".join(f"{k}: {v}" for k, v in versions.items()))
    md.append(f"- settings: {a.rounds} rounds × {a.runs} runs ({a.slow_runs} for gVisor) per runner and workload, "
              f"throughput {a.tp_seconds:g} s × {a.tp_reps}, {a.growth_runs} runs per level, "
              f"{a.mem_reps} memory runs")
    notes = [f"- {r.name}: {r.note}" for r in runners if r.note]
    fails = [f"- **{r.name} could not run here**: {r.error}" for r in runners if r.error]
    for label in cold:
        for name, errs in cold[label][1].items():
            fails.append(f"- {name}, {label}: {len(errs)} round(s) failed: {errs[0]}")
    if notes or fails:
        md.append("\n" + "\n".join(fails + notes))
    for label in ("true", "python"):
        times, errors, title = cold[label]
        md.append(f"\n## Cold start: `{title}`\n")
        md.append(f"hyperfine -N, {a.rounds} rounds interleaving the runners (order rotated each round); "
                  "*above the floor* is the median minus `floor: namespaces` (bare clone with the same "
                  "namespaces, uid_map, execve, wait).\n")
        md.append(f"Section: {meters[label]}.\n")
        md.append(cold_table(runners, times, errors))
        md.append(f"\n![cold start of {title}](coldstart-{label}.png)")
    md.append("\n## Throughput\n")
    md.append(f"Section: {meters['throughput']}.\n")
    md.append(tp_md)
    md.append("\n## Start latency with N sandboxes alive\n")
    md.append(f"Section: {meters['growth']}.\n")
    md.append(gr_md)
    md.append("\n![latency growth](growth.png)")
    md.append("\n## Peak memory per sandbox\n")
    md.append(f"Section: {meters['memory']}.\n")
    md.append(mem_md)
    md.append("\n## Daemon\n")
    md.append(serve_md)
    text = "\n".join(md) + "\n"
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "samples.json"), "w") as f:
        json.dump({k: {kk: [round(x, 6) for x in vv] for kk, vv in v.items()} for k, v in samples.items()}, f)
    print(text)


if __name__ == "__main__":
    main()
