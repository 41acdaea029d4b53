#!/usr/bin/python3
"""The network-proxy benchmark behind bench/proxy.sh.

Not meant to be run by hand: bench/proxy.sh checks the tools, snapshots
build/corral and calls this. What it measures, all on loopback, with one
client program (bench/proxy_client.py) doing many sequential requests in one
process, so no process or sandbox start-up is timed:

  1. latency of a request on a new connection (small response), per path:
     direct; tinyproxy (absolute-form HTTP, CONNECT for HTTPS); corral's
     proxy reached through HTTP_PROXY/HTTPS_PROXY (absolute-form, CONNECT)
     and transparently (a client ignoring the proxy variables)
  2. the same on one kept-alive connection, where the path allows it
  3. the same again with each request written in two pieces (what a relay
     that leaves Nagle's algorithm on does to such a client)
  4. the throughput of one bulk download (plain and TLS), through a CONNECT
     tunnel, transparently and (plain only) absolute-form; with the CPU the
     proxy itself used

Every section interleaves the paths in rounds (the order rotates each round),
so all are sampled across the same stretch of time; a path that fails in the
first round is reported as failed and left out. The origin server
(bench/proxy_server.py) is the same for every path. Writes proxy-DATE.md
(the tables) and proxy-DATE.json (every sample) into --out.
"""
import argparse
import datetime
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import CLEAN_ENV, PY, Meter, loadavg, p95, sh, sha256, wait_idle  # noqa: E402

NAME = "svc.corral-bench.test"   # pinned to 127.0.0.1 with --net-host
SHARE = "/bench"                 # where the client and the CA appear inside the sandbox


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} not listening after {timeout:g} s")


def make_pki(d):
    """A test CA and an ECDSA P-256 certificate for NAME, readable by everyone
    (the sandbox binds the CA)."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d, timeout=60)
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key")
    openssl("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=corral bench CA")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "svc.key")
    openssl("req", "-new", "-key", "svc.key", "-out", "svc.csr", "-subj", f"/CN={NAME}")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write(f"subjectAltName=DNS:{NAME}\n")
    openssl("x509", "-req", "-in", "svc.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "svc.pem", "-days", "2", "-extfile", "ext.cnf")
    for n in os.listdir(d):
        os.chmod(os.path.join(d, n), 0o644)


class Path:
    """One way from the client to the server."""

    def __init__(self, key, label, scheme, runner, client_args, intercept=False):
        self.key, self.label, self.scheme, self.runner = key, label, scheme, runner
        self.intercept = intercept   # corral terminates TLS and reads every request
        self.client_args = client_args
        self.error = None
        self.note = None


def build_paths(ports, tinyproxy_port, share):
    """Every path for both schemes. runner: 'host' or 'corral'."""
    paths = []
    for scheme in ("http", "https"):
        port = ports[scheme]
        base = ["--scheme", scheme, "--name", NAME, "--port", str(port)]
        ca_host = ["--cafile", os.path.join(share, "ca.pem")] if scheme == "https" else []
        ca_box = ["--cafile", f"{SHARE}/ca.pem"] if scheme == "https" else []
        proxied = "absolute" if scheme == "http" else "connect"
        form = "absolute-form" if scheme == "http" else "CONNECT"
        paths += [
            Path(f"direct-{scheme}", "direct", scheme, "host",
                 base + ca_host + ["--via", "origin", "--addr", "127.0.0.1"]),
            Path(f"tinyproxy-{scheme}", f"tinyproxy ({form})", scheme, "host",
                 base + ca_host + ["--via", proxied, "--dest", "127.0.0.1",
                                   "--proxy", f"127.0.0.1:{tinyproxy_port}"]),
            Path(f"corral-{scheme}", f"corral, {'HTTP_PROXY' if scheme == 'http' else 'HTTPS_PROXY'} ({form})",
                 scheme, "corral", base + ca_box + ["--via", proxied, "--proxy", "env"]),
            Path(f"corral-transparent-{scheme}", "corral, transparent", scheme, "corral",
                 base + ca_box + ["--via", "origin"]),
        ]
        paths += intercepted_paths(scheme, base, proxied, form)
    return paths


def intercepted_paths(scheme, base, proxied, form):
    """corral with --intercept: the client trusts corral's CA (the sandbox's
    /etc/corral-ca.pem); corral verifies the server against the test CA."""
    ca = ["--cafile", "/etc/corral-ca.pem"] if scheme == "https" else []
    return [
        Path(f"corral-intercept-{scheme}", f"corral --intercept ({form})", scheme, "corral",
             base + ca + ["--via", proxied, "--proxy", "env"], intercept=True),
        Path(f"corral-intercept-transparent-{scheme}", "corral --intercept, transparent", scheme,
             "corral", base + ca + ["--via", "origin"], intercept=True),
    ]


def build_bulk_paths(ports, tinyproxy_port, share):
    paths = []
    for scheme in ("http", "https"):
        port = ports[scheme]
        base = ["--scheme", scheme, "--name", NAME, "--port", str(port)]
        ca_host = ["--cafile", os.path.join(share, "ca.pem")] if scheme == "https" else []
        ca_box = ["--cafile", f"{SHARE}/ca.pem"] if scheme == "https" else []
        paths += [
            Path(f"direct-{scheme}", "direct", scheme, "host",
                 base + ca_host + ["--via", "origin", "--addr", "127.0.0.1"]),
            Path(f"tinyproxy-connect-{scheme}", "tinyproxy (CONNECT)", scheme, "host",
                 base + ca_host + ["--via", "connect", "--dest", "127.0.0.1",
                                   "--proxy", f"127.0.0.1:{tinyproxy_port}"]),
            Path(f"corral-connect-{scheme}", "corral, HTTPS_PROXY (CONNECT)", scheme, "corral",
                 base + ca_box + ["--via", "connect", "--proxy", "env"]),
            Path(f"corral-transparent-{scheme}", "corral, transparent", scheme, "corral",
                 base + ca_box + ["--via", "origin"]),
        ]
        if scheme == "http":
            paths += [
                Path("tinyproxy-absolute-http", "tinyproxy (absolute-form)", scheme, "host",
                     base + ["--via", "absolute", "--dest", "127.0.0.1",
                             "--proxy", f"127.0.0.1:{tinyproxy_port}"]),
                Path("corral-absolute-http", "corral, HTTP_PROXY (absolute-form)", scheme, "corral",
                     base + ["--via", "absolute", "--proxy", "env"]),
            ]
        paths += intercepted_paths(scheme, base, "absolute" if scheme == "http" else "connect",
                                   "absolute-form" if scheme == "http" else "CONNECT")
    return paths


class Bench:
    def __init__(self, a, share, ports, tinyproxy):
        self.a, self.share, self.ports, self.tinyproxy = a, share, ports, tinyproxy

    def argv(self, path, extra):
        if path.runner == "host":
            return [PY, os.path.join(self.share, "proxy_client.py"), *path.client_args, *extra]
        intercept = ["--intercept", "--net-ca", os.path.join(self.share, "ca.pem")] \
            if path.intercept else []
        return [self.a.corral, "run", *intercept,
                "--allow-net", f"{NAME}:{self.ports['http']}", "--allow-net", f"{NAME}:{self.ports['https']}",
                "--net-host", f"{NAME}=127.0.0.1", "--ro-bind", f"{self.share}:{SHARE}", "--",
                PY, f"{SHARE}/proxy_client.py", *path.client_args, *extra]

    current = None  # the client running now: killed if the benchmark is stopped

    def run(self, path, extra, timeout=300):
        """One client run: its JSON result (the run is reaped, so its CPU time
        lands in RUSAGE_CHILDREN)."""
        p = Bench.current = subprocess.Popen(self.argv(path, extra), env=CLEAN_ENV, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            Bench.current = None
            raise RuntimeError(f"timed out after {timeout} s")
        Bench.current = None   # (left set if a signal interrupts: main's cleanup kills it)
        lines = out.decode(errors="replace").strip().splitlines()
        try:
            res = json.loads(lines[-1])
        except (IndexError, ValueError):
            raise RuntimeError(f"status {p.returncode}, no result: "
                               f"{(err.decode(errors='replace').strip() or '(no stderr)')[-300:]}")
        if res.get("error"):
            raise RuntimeError(res["error"])
        return res

    def tinyproxy_cpu(self):
        with open(f"/proc/{self.tinyproxy.pid}/stat") as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def first_round_check(path, r, e):
    """A path that fails in the first round is left out of the others."""
    if r == 0:
        path.error = str(e)
        log(f"{path.key}: {e} (left out)")


def latency_section(bench, paths, rounds, n, warmup, keepalive, split=False):
    extra = ["-n", str(n), "--warmup", str(warmup)] + (["--keepalive"] if keepalive else []) \
        + (["--split"] if split else [])
    lat = {p.key: [] for p in paths}
    tls = {}
    errors = {p.key: [] for p in paths}
    for r in range(rounds):
        live = [p for p in paths if not p.error and not p.note]
        order = live[r % len(live):] + live[:r % len(live)] if live else []
        for path in order:
            try:
                res = bench.run(path, extra)
            except RuntimeError as e:
                errors[path.key].append(str(e))
                first_round_check(path, r, e)
                continue
            if res.get("keepalive") is False:
                path.note = "closes the connection after each request"
            lat[path.key] += res["lat"]
            if res.get("tls"):
                tls[path.key] = res["tls"]
        log(f"  round {r + 1}/{rounds} done (load {loadavg().split()[0]})")
    return lat, errors, tls


def ms(x):
    return f"{x * 1e3:.3f} ms"


SLOW = 0.030  # a request this slow waited for something: a delayed ACK (~40 ms), the scheduler


def slow_share(t):
    k = sum(1 for x in t if x >= SLOW)
    return f"{100 * k / len(t):.1f} %"


def pct(t, q):
    """The q-quantile as p95() computes it: t[int(q·(n−1))] of the sorted samples."""
    t = sorted(t)
    return t[int(q * (len(t) - 1))]


def latency_table(paths, lat, errors):
    lines = ["| scheme | path | requests | p10 | median | p95 | added: p10 / median / p95 | median / direct "
             f"| req/s | ≥ {SLOW * 1e3:.0f} ms |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for p in paths:
        t = lat[p.key]
        base = lat.get(f"direct-{p.scheme}") or []
        if p.error or p.note or not t:
            why = p.error or p.note or "; ".join(errors[p.key][:1]) or "no samples"
            lines.append(f"| {p.scheme.upper()} | {p.label} | – | {why} | | | | | | |")
            continue
        med = statistics.median(t)
        added, ratio = "–", "–"
        if base and not p.key.startswith("direct"):
            d = [(pct(t, 0.1) - pct(base, 0.1)), med - statistics.median(base), p95(t) - p95(base)]
            added = " / ".join(f"{x * 1e3:+.3f}" for x in d) + " ms"
            ratio = f"{med / statistics.median(base):.2f}×"
        elif base:
            ratio = "1.00×"
        rps = len(t) / sum(t)
        fails = f" ({len(errors[p.key])} run(s) failed)" if errors[p.key] else ""
        lines.append(f"| {p.scheme.upper()} | {p.label}{fails} | {len(t)} | {ms(pct(t, 0.1))} | {ms(med)} | "
                     f"{ms(p95(t))} | {added} | {ratio} | {rps:.0f} | {slow_share(t)} |")
    return "\n".join(lines)


def bulk_section(bench, paths, rounds, size):
    """Each round: every path once (rotated), plus an idle corral run (1 byte)
    that measures corral's own fixed CPU cost (start-up, supervision)."""
    idle = Path("corral-idle", "corral, 1-byte run", "http", "corral",
                ["--scheme", "http", "--name", NAME, "--port", str(bench.ports["http"]), "--via", "origin"])
    res = {p.key: [] for p in paths + [idle]}
    errors = {p.key: [] for p in paths + [idle]}
    for r in range(rounds):
        live = [p for p in paths + [idle] if not p.error]
        order = live[r % len(live):] + live[:r % len(live)]
        for path in order:
            n = 1 if path is idle else size
            try:
                c0, t0 = children_cpu(), bench.tinyproxy_cpu()
                out = bench.run(path, ["--bulk", str(n)])
                tree_cpu = children_cpu() - c0
            except RuntimeError as e:
                errors[path.key].append(str(e))
                first_round_check(path, r, e)
                continue
            entry = {"mbps": out["mbps"], "seconds": out["seconds"], "client_cpu": out["transfer_cpu"],
                     "tls": out.get("tls")}
            if path.runner == "corral":
                # The supervisor (its proxy thread), the sentinel, the sandbox's init.
                entry["corral_cpu"] = tree_cpu - out["cpu"]
            elif path.key.startswith("tinyproxy"):
                entry["proxy_cpu"] = bench.tinyproxy_cpu() - t0
            res[path.key].append(entry)
        log(f"  round {r + 1}/{rounds} done (load {loadavg().split()[0]})")
    # corral's proxy: what a run used beyond a 1-byte run.
    idle_cpu = statistics.median([e["corral_cpu"] for e in res["corral-idle"]]) if res["corral-idle"] else 0.0
    for p in paths:
        for e in res[p.key]:
            if "corral_cpu" in e:
                e["proxy_cpu"] = max(0.0, e["corral_cpu"] - idle_cpu)
    return res, errors, idle_cpu


def bulk_table(paths, res, errors, size):
    gib = size / (1 << 30)
    lines = ["| payload | path | runs | MB/s: median (min–max) | / direct | proxy CPU per GiB | client CPU per GiB |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for p in paths:
        rs = res[p.key]
        label = "plain" if p.scheme == "http" else "TLS"
        if p.error or not rs:
            lines.append(f"| {label} | {p.label} | – | {p.error or '; '.join(errors[p.key][:1]) or 'no runs'} | | | |")
            continue
        mb = [e["mbps"] for e in rs]
        med = statistics.median(mb)
        base = res.get(f"direct-{p.scheme}") or []
        ratio = f"{med / statistics.median([e['mbps'] for e in base]):.2f}×" if base else "–"
        pc = [e["proxy_cpu"] for e in rs if "proxy_cpu" in e]
        proxy_cpu = f"{statistics.median(pc) / gib:.2f} s" if pc else "–"
        client_cpu = f"{statistics.median([e['client_cpu'] for e in rs]) / gib:.2f} s"
        fails = f" ({len(errors[p.key])} run(s) failed)" if errors[p.key] else ""
        lines.append(f"| {label} | {p.label}{fails} | {len(rs)} | {med:.0f} ({min(mb):.0f}–{max(mb):.0f}) | "
                     f"{ratio} | {proxy_cpu} | {client_cpu} |")
    return "\n".join(lines)


def compact_json(obj):
    """Indented JSON, but a list of numbers on one line (the raw samples)."""
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    return re.sub(r"\[\n\s*(-?[0-9][0-9.e+-]*(?:,\n\s*-?[0-9][0-9.e+-]*)*)\n\s*\]",
                  lambda m: "[" + ",".join(x.strip().rstrip(",") for x in m.group(1).split("\n")) + "]",
                  text) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--corral", required=True)
    ap.add_argument("--tmp", required=True, help="a directory readable by the sandbox")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    a.wait_idle = float(os.environ.get("WAIT_IDLE") or 0)
    if a.quick:
        a.rounds, a.n, a.warmup, a.ka_n = 2, 10, 2, 30
        a.split_rounds, a.split_n = 1, 20
        a.bulk_rounds, a.bulk_size = 1, 16 << 20
    else:
        a.rounds, a.n, a.warmup, a.ka_n = 40, 50, 5, 100
        a.split_rounds, a.split_n = 20, 50
        a.bulk_rounds, a.bulk_size = 5, 256 << 20
    # What the sandbox sees at /bench: the client, the CA (and the server's
    # key and tinyproxy's config, harmless here).
    share = os.path.join(a.tmp, "share")
    os.makedirs(share, exist_ok=True)
    os.chmod(share, 0o755)
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    for f in ("proxy_client.py",):
        with open(os.path.join(bench_dir, f), "rb") as src, open(os.path.join(share, f), "wb") as dst:
            dst.write(src.read())
        os.chmod(os.path.join(share, f), 0o644)
    make_pki(share)

    def on_signal(sig, _):
        sys.exit(128 + sig)   # runs the finally below: servers and the running client are stopped
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = loadavg()
    server = tiny = None
    try:
        server = subprocess.Popen([PY, os.path.join(bench_dir, "proxy_server.py"),
                                   os.path.join(share, "svc.pem"), os.path.join(share, "svc.key")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=CLEAN_ENV)
        ports = json.loads(server.stdout.readline())
        tp_port = free_port()
        conf = os.path.join(share, "tinyproxy.conf")
        with open(conf, "w") as f:
            # No ConnectPort line: CONNECT to any port (the HTTP server's too).
            f.write(f"User nobody\nGroup nogroup\nPort {tp_port}\nListen 127.0.0.1\nTimeout 600\n"
                    "MaxClients 256\nLogLevel Error\nAllow 127.0.0.1\nDisableViaHeader Yes\n")
        tiny = subprocess.Popen(["tinyproxy", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=CLEAN_ENV)
        wait_port(tp_port, tiny)
        bench = Bench(a, share, ports, tiny)
        versions = {
            "corral": sh([a.corral, "--version"]) + f" (binary sha256 {sha256(a.corral)[:12]}, tree "
                      + sh(["git", "-C", bench_dir, "describe", "--always", "--dirty"]) + ")",
            "tinyproxy": sh(["tinyproxy", "-v"]),
            "python": sh([PY, "--version"]),
            "openssl": sh(["openssl", "version"]),
        }

        # Warm the server up: each of its threads' first TLS handshake is
        # slow (OpenSSL's per-thread state), and the first requests of a run
        # must not pay for that.
        for path in build_paths(ports, tp_port, share):
            if path.key.startswith("direct"):
                bench.run(path, ["-n", "200", "--warmup", "0"])
        meters, sections = {}, {}
        wait_idle(a.wait_idle)
        log(f"latency, a new connection per request ({a.rounds} rounds × {a.n} requests)")
        paths = build_paths(ports, tp_port, share)
        m = Meter()
        lat, lat_err, tls = latency_section(bench, paths, a.rounds, a.n, a.warmup, False)
        meters["latency"] = m.summary()
        sections["latency"] = (paths, lat, lat_err)

        wait_idle(a.wait_idle)
        log(f"latency on a kept-alive connection ({a.rounds} rounds × {a.ka_n} requests)")
        ka_paths = build_paths(ports, tp_port, share)
        m = Meter()
        ka, ka_err, _ = latency_section(bench, ka_paths, a.rounds, a.ka_n, a.warmup, True)
        meters["keepalive"] = m.summary()
        sections["keepalive"] = (ka_paths, ka, ka_err)

        wait_idle(a.wait_idle)
        log(f"kept-alive, each request written in two pieces ({a.split_rounds} rounds × {a.split_n} requests)")
        split_paths = build_paths(ports, tp_port, share)
        m = Meter()
        sp, sp_err, _ = latency_section(bench, split_paths, a.split_rounds, a.split_n, a.warmup, True, True)
        meters["split"] = m.summary()
        sections["split"] = (split_paths, sp, sp_err)

        wait_idle(a.wait_idle)
        log(f"bulk download of {a.bulk_size >> 20} MiB ({a.bulk_rounds} rounds)")
        bulk_paths = build_bulk_paths(ports, tp_port, share)
        m = Meter()
        bulk, bulk_err, idle_cpu = bulk_section(bench, bulk_paths, a.bulk_rounds, a.bulk_size)
        meters["bulk"] = m.summary()
    finally:
        if Bench.current and Bench.current.poll() is None:
            try:
                os.killpg(Bench.current.pid, signal.SIGKILL)
            except OSError:
                pass
        for proc in (tiny, server):
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    finished = datetime.datetime.now(datetime.timezone.utc)
    u = os.uname()
    tls_used = sorted(set(tls.values()))
    md = [f"# corral network-proxy benchmark{' (QUICK: smoke test, too few runs to quote)' if a.quick else ''}\n",
          f"- date: {started:%Y-%m-%d %H:%M} – {finished:%H:%M} UTC",
          f"- host: {u.sysname} {u.release} {u.machine}, {os.cpu_count()} CPUs",
          f"- load average (1, 5, 15 min): {load_before} before, {loadavg()} after",
          "- versions: " + "; ".join(f"{k}: {v}" for k, v in versions.items()),
          f"- settings: {a.rounds} rounds × {a.n} requests (new connection each), {a.rounds} × {a.ka_n} "
          f"(kept-alive), {a.split_rounds} × {a.split_n} (split writes), {a.warmup} warm-up requests "
          f"per run untimed; bulk {a.bulk_size >> 20} MiB × "
          f"{a.bulk_rounds} rounds; TLS: {', '.join(tls_used) or '?'}, ECDSA P-256 certificate",
          "",
          "## Latency: a new connection per request\n",
          "Connect (+ CONNECT exchange) (+ TLS handshake), `GET /small` (64-byte body), whole "
          "response, close; timed in the client. *p10*: the 10th percentile, what a request costs when "
          "the scheduler does not get in the way (on a busy machine a request that loses its CPU waits "
          "a time slice, which decides the median and p95 of the slower paths). *added*: the path's "
          "p10 / median / p95 minus the direct one's. *req/s*: one sequential client's rate "
          "(requests / time spent in them). *≥ 30 ms*: the share of requests that took that long.\n",
          f"Section: {meters['latency']}.\n",
          latency_table(*sections["latency"]),
          "\n## Latency: one kept-alive connection\n",
          "The connection (and tunnel, and TLS session) is set up once, untimed; then each request "
          "on it is timed.\n",
          f"Section: {meters['keepalive']}.\n",
          latency_table(*sections["keepalive"]),
          "\n## Latency: kept-alive, each request written in two pieces\n",
          "As above, but the client (with `TCP_NODELAY`, as before) writes the request line and the "
          "rest of the request separately, as clients writing a head and then a body do. A relay that "
          "leaves Nagle's algorithm on holds the second piece until the first is acknowledged, and the "
          "server delays that acknowledgement (~40 ms): see the last column.\n",
          f"Section: {meters['split']}.\n",
          latency_table(*sections["split"]),
          f"\n## Throughput: one {a.bulk_size >> 20} MiB download\n",
          "Time from sending the request to the last byte of the body, in MB/s (10⁶ bytes/s). "
          "*proxy CPU*: CPU time the proxy used, per GiB moved — tinyproxy's from /proc, corral's "
          "as the CPU of the whole `corral run` tree minus the client's own, minus the median of "
          f"a 1-byte run ({idle_cpu * 1e3:.0f} ms: corral's start-up and supervision). "
          "*client CPU*: the client process's own during the transfer.\n",
          f"Section: {meters['bulk']}.\n",
          bulk_table(bulk_paths, bulk, bulk_err, a.bulk_size)]
    text = "\n".join(md) + "\n"
    stamp = started.strftime("%Y-%m-%d")
    os.makedirs(a.out, exist_ok=True)
    md_path = os.path.join(a.out, f"proxy-{stamp}.md")
    with open(md_path, "w") as f:
        f.write(text)

    def rnd(v):
        return [round(x * 1e6) for x in v]   # whole microseconds
    raw = {
        "units": {"us": "per-request latency, whole microseconds, in the order measured",
                  "bulk": "mbps: 10^6 bytes/s; seconds: request to last byte; *_cpu: CPU seconds"},
        "date": f"{started:%Y-%m-%dT%H:%M:%SZ}", "host": f"{u.sysname} {u.release} {u.machine}",
        "cpus": os.cpu_count(), "versions": versions, "quick": a.quick,
        "load": {"before": load_before, "after": loadavg()}, "sections": meters,
        "settings": {"rounds": a.rounds, "requests": a.n, "keepalive_requests": a.ka_n, "warmup": a.warmup,
                     "split_rounds": a.split_rounds, "split_requests": a.split_n,
                     "bulk_bytes": a.bulk_size, "bulk_rounds": a.bulk_rounds, "tls": tls_used},
        "latency": {p.key: {"label": p.label, "scheme": p.scheme, "us": rnd(lat[p.key]),
                            "errors": lat_err[p.key], "skipped": p.error or p.note} for p in paths},
        "keepalive": {p.key: {"label": p.label, "scheme": p.scheme, "us": rnd(ka[p.key]),
                              "errors": ka_err[p.key], "skipped": p.error or p.note} for p in ka_paths},
        "keepalive_split": {p.key: {"label": p.label, "scheme": p.scheme, "us": rnd(sp[p.key]),
                                    "errors": sp_err[p.key], "skipped": p.error or p.note} for p in split_paths},
        "bulk": {p.key: {"label": p.label, "scheme": p.scheme, "runs": bulk[p.key], "errors": bulk_err[p.key],
                         "skipped": p.error} for p in bulk_paths},
        "corral_idle_cpu_seconds": idle_cpu,
    }
    with open(os.path.join(a.out, f"proxy-{stamp}.json"), "w") as f:
        f.write(compact_json(raw))
    print(text)
    log(f"results in {md_path} and proxy-{stamp}.json")


if __name__ == "__main__":
    main()
