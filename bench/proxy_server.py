#!/usr/bin/python3
"""The origin server of bench/proxy.sh: plain HTTP and HTTPS on 127.0.0.1.

Not meant to be run by hand (bench/proxy.py starts it). Two listening
sockets on free loopback ports, 16 threads waiting in accept() on each (a
thread serves one connection at a time: no thread is started per connection,
which on a busy machine delayed the first bytes of a direct connection more
than those of a proxied one), HTTP/1.1 with keep-alive unless the request
says `Connection: close`:

  GET /small        200, a 64-byte body
  GET /bytes/N      200, N bytes (the bulk transfer; written from a 1 MiB buffer)

It prints {"http": PORT, "https": PORT} on stdout once both listen, and runs
until stdin closes. The same server, the same responses, for every path the
benchmark measures: only what sits between client and server changes.

  proxy_server.py CERT KEY
"""
import json
import os
import socket
import ssl
import sys
import threading

SMALL = b"x" * 63 + b"\n"
CHUNK = memoryview(b"b" * (1 << 20))


def read_head(conn, buf):
    """The next request head (bytes up to the blank line), or None at EOF."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buf[:end])
            del buf[:end + 4]
            return head
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
        if len(buf) > 65536:
            return None


def serve_conn(conn, tls_ctx):
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls_ctx:
            conn = tls_ctx.wrap_socket(conn, server_side=True)
        buf = bytearray()
        while True:
            head = read_head(conn, buf)
            if head is None:
                return
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            path = parts[1] if len(parts) == 3 else b"/"
            close = any(l.lower().replace(b" ", b"") == b"connection:close" for l in lines[1:])
            conn_hdr = b"Connection: close\r\n" if close else b""
            if path == b"/small":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n" + conn_hdr + b"\r\n" + SMALL)
            elif path.startswith(b"/bytes/"):
                n = int(path[7:])
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n" % n + conn_hdr + b"\r\n")
                while n > 0:
                    k = min(n, len(CHUNK))
                    conn.sendall(CHUNK[:k])
                    n -= k
            else:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n" + conn_hdr + b"\r\n")
            if close:
                return
    except (OSError, ValueError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


WORKERS = 16  # per listening socket; each serves one connection at a time


def listen(tls_ctx):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(512)

    # Threads started up front, each waiting in accept(): a new connection
    # wakes one that serves it at once (no thread start per connection).
    def worker():
        while True:
            conn, _ = s.accept()
            serve_conn(conn, tls_ctx)
    for _ in range(WORKERS):
        threading.Thread(target=worker, daemon=True).start()
    return s.getsockname()[1]


def main():
    cert, key = sys.argv[1], sys.argv[2]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ports = {"http": listen(None), "https": listen(ctx)}
    print(json.dumps(ports), flush=True)
    # Until the driver closes our stdin (or dies).
    while os.read(0, 4096):
        pass


if __name__ == "__main__":
    main()
