#!/usr/bin/python3
"""The client of bench/proxy.sh: the same program on every path.

Not meant to be run by hand (bench/proxy.py runs it, on the host or inside
`corral run`). It makes N sequential requests in this one process, so a
sandbox's start-up is never part of what it times, and prints one JSON object:

  {"lat": [seconds per request...], "keepalive": true|false|null,
   "mbps": MB/s (bulk), "bytes": N (bulk), "cpu": this process's CPU seconds,
   "error": null or a message}

How it reaches the server (--via):

  origin       connect to --addr (or NAME resolved once, at start) on --port and
               send an origin-form request: a direct connection, or inside a
               sandbox, a client that ignores the proxy variables (corral's DNS
               answers a stand-in address, the connection is captured)
  absolute     connect to the proxy, `GET http://DEST:PORT/path` (plain HTTP only)
  connect      connect to the proxy, `CONNECT DEST:PORT`, then the request (TLS
               inside the tunnel for https) as to the origin

--proxy HOST:PORT names the proxy, or `env` for $HTTPS_PROXY / $HTTP_PROXY
(what corral sets inside a sandbox). --dest is the name the proxy request
carries (default NAME); NAME is the Host header and the TLS server name.

Each request (default) opens a new connection, and the time covers all of it:
connect, the CONNECT exchange, the TLS handshake, the request and the whole
response, close. With --keepalive the connection (and tunnel, and TLS
session) is set up once, untimed, and each request on it is timed; if the
path closes the connection after a response, "keepalive" is false and "lat"
is empty. --split (with --keepalive) writes each request in two pieces.
--bulk N times one download of N bytes (request to last byte) and reports
MB/s (10^6 bytes per second) and the CPU time this process spent in it
("transfer_cpu").
"""
import argparse
import json
import os
import resource
import socket
import ssl
import sys
import time
import urllib.parse


class Closed(Exception):
    pass


def recv_head(sock, buf):
    """Read until the end of a response head; return (status, headers dict)."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buf[:end]).decode("latin-1")
            del buf[:end + 4]
            lines = head.split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            return status, headers
        data = sock.recv(65536)
        if not data:
            raise Closed("connection closed before a response head")
        buf += data


def recv_body(sock, buf, n, scratch=None):
    """Read (and drop) n body bytes, buf holding what came with the head."""
    have = min(len(buf), n)
    del buf[:have]
    n -= have
    if scratch is None:
        scratch = bytearray(1 << 20)
    view = memoryview(scratch)
    while n > 0:
        k = sock.recv_into(view, min(n, len(scratch)))
        if k == 0:
            raise Closed("connection closed in a response body")
        n -= k
    if buf:
        raise ValueError("bytes after the response body")


class Path:
    def __init__(self, a):
        self.a = a
        self.tls = None
        if a.scheme == "https":
            self.tls = ssl.create_default_context(cafile=a.cafile)
        if a.via == "origin":
            addr = a.addr or socket.getaddrinfo(a.name, a.port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
            self.connect_to = (addr, a.port)
        else:
            proxy = a.proxy
            if proxy == "env":
                proxy = os.environ["HTTPS_PROXY" if a.via == "connect" else "HTTP_PROXY"]
            u = urllib.parse.urlsplit(proxy if "//" in proxy else "http://" + proxy)
            self.connect_to = (u.hostname, u.port)
        self.host_hdr = f"{a.name}:{a.port}"
        self.tls_info = None

    def open(self):
        """A connection ready for an origin-form request (or absolute-form to the proxy)."""
        s = socket.create_connection(self.connect_to, timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        if self.a.via == "connect":
            target = f"{self.a.dest}:{self.a.port}"
            s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            status, _ = recv_head(s, buf)
            if status != 200:
                raise OSError(f"CONNECT answered {status}")
            if buf:
                raise ValueError("bytes after the CONNECT answer")
        if self.tls:
            s = self.tls.wrap_socket(s, server_hostname=self.a.name)
            self.tls_info = f"{s.version()} {s.cipher()[0]}"
        return s, buf

    def request(self, path, close):
        target = path
        if self.a.via == "absolute":
            target = f"http://{self.a.dest}:{self.a.port}{path}"
        return (f"GET {target} HTTP/1.1\r\nHost: {self.host_hdr}\r\nUser-Agent: corral-bench\r\n"
                + ("Connection: close\r\n" if close else "") + "\r\n").encode()

    def exchange(self, s, buf, req, scratch=None, split=False):
        if split:
            # The request line, then the rest: two writes, as many clients do
            # (head, then body). A relay that leaves Nagle's algorithm on can
            # hold the second until the first is acknowledged.
            cut = req.index(b"\r\n") + 2
            s.sendall(req[:cut])
            s.sendall(req[cut:])
        else:
            s.sendall(req)
        status, headers = recv_head(s, buf)
        if status != 200:
            raise OSError(f"the server answered {status}")
        recv_body(s, buf, int(headers["content-length"]), scratch)
        return headers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scheme", choices=("http", "https"), required=True)
    ap.add_argument("--via", choices=("origin", "absolute", "connect"), required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--addr")
    ap.add_argument("--dest")
    ap.add_argument("--proxy")
    ap.add_argument("--cafile")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--keepalive", action="store_true")
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--bulk", type=int, default=0)
    a = ap.parse_args()
    a.dest = a.dest or a.name
    out = {"lat": [], "keepalive": None, "error": None}
    try:
        p = Path(a)
        if a.bulk:
            s, buf = p.open()
            scratch = bytearray(1 << 20)
            c0, t0 = time.process_time(), time.perf_counter()
            p.exchange(s, buf, p.request(f"/bytes/{a.bulk}", True), scratch)
            t, c = time.perf_counter() - t0, time.process_time() - c0
            s.close()
            out.update(bytes=a.bulk, seconds=t, mbps=a.bulk / t / 1e6, transfer_cpu=c)
        elif a.keepalive:
            s, buf = p.open()
            req = p.request("/small", False)
            out["keepalive"] = True
            for i in range(a.warmup + a.n):
                t0 = time.perf_counter()
                try:
                    headers = p.exchange(s, buf, req, split=a.split)
                except (Closed, BrokenPipeError, ConnectionResetError):
                    if i == 0:
                        raise
                    headers = {"connection": "close"}  # closed after the previous response
                t = time.perf_counter() - t0
                if headers.get("connection", "").lower() == "close":
                    out["keepalive"] = False
                    out["lat"] = []
                    break
                if i >= a.warmup:
                    out["lat"].append(t)
            s.close()
        else:
            req = p.request("/small", True)
            for i in range(a.warmup + a.n):
                t0 = time.perf_counter()
                s, buf = p.open()
                p.exchange(s, buf, req)
                s.close()
                t = time.perf_counter() - t0
                if i >= a.warmup:
                    out["lat"].append(t)
        out["tls"] = p.tls_info
    except Exception as e:  # noqa: BLE001 -- reported to the driver
        out["error"] = f"{type(e).__name__}: {e}"
    r = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu"] = r.ru_utime + r.ru_stime
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    sys.exit(1 if out["error"] else 0)


if __name__ == "__main__":
    main()
