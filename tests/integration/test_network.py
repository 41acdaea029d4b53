"""Network egress through corral's proxy, against real HTTP and HTTPS servers
on the host's loopback (with a test CA of their own).

The sandbox has no route out: only connections that corral's proxy accepts
reach anything. --net-host pins a test name to 127.0.0.1, which the proxy
would otherwise refuse as a loopback address."""
import http.server
import json
import os
import pathlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

import pytest

from conftest import run

NAME = "svc.corral.test"
OTHER = "other.corral.test"


class Server:
    """An HTTP(S) server on 127.0.0.1 that answers with what it saw."""

    def __init__(self, tls_context=None):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                seen.append((self.command, self.path, self.headers.get("Host")))
                body = f"hello {self.path} host={self.headers.get('Host')}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls_context:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def pki():
    """A test CA and a certificate for NAME and OTHER signed by it, readable
    by everyone (the sandbox binds the CA)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="corral-net-pki-"))
    d.chmod(0o755)

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=corral test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "svc.key", "-out", "svc.csr",
            "-subj", f"/CN={NAME}")
    (d / "ext.cnf").write_text(f"subjectAltName=DNS:{NAME},DNS:{OTHER}\n")
    openssl("x509", "-req", "-in", "svc.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "svc.pem", "-days", "2", "-extfile", "ext.cnf")
    for p in d.iterdir():
        p.chmod(0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def http_server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def https_server(pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "svc.pem", pki / "svc.key")
    s = Server(ctx)
    yield s
    s.close()


def net_args(*rules, pin=True):
    args = []
    for r in rules:
        args += ["--allow-net", r]
    if pin:
        args += ["--net-host", f"{NAME}=127.0.0.1", "--net-host", f"{OTHER}=127.0.0.1"]
    return args


def test_no_rule_nothing_reachable(http_server):
    proc = run("--", "curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{http_server.port}/")
    assert proc.returncode != 0
    assert http_server.seen == []


def test_allowed_host_through_the_proxy_variables(http_server):
    """curl honours HTTP_PROXY: the request goes to corral's proxy as an
    absolute-form request."""
    url = f"http://{NAME}:{http_server.port}/explicit"
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "curl", "-sS", "--max-time", "10", url)
    assert proc.returncode == 0, proc.stderr
    assert "hello /explicit" in proc.stdout
    assert http_server.seen[-1][0:2] == ("GET", "/explicit")


def test_allowed_host_transparently(http_server):
    """A client that ignores the proxy variables: the name resolves (through
    corral's DNS) to a stand-in address whose connection lands at the proxy."""
    url = f"http://{NAME}:{http_server.port}/transparent"
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "curl", "-sS", "--noproxy", "*",
               "--max-time", "10", url)
    assert proc.returncode == 0, proc.stderr
    assert "hello /transparent" in proc.stdout


def test_python_urllib_and_raw_socket(http_server):
    code = (
        "import socket, urllib.request\n"
        f"print(urllib.request.urlopen('http://{NAME}:{http_server.port}/urllib', timeout=10).read().decode())\n"
        f"s = socket.create_connection(('{NAME}', {http_server.port}), timeout=10)\n"
        f"s.sendall(b'GET /raw HTTP/1.1\\r\\nHost: {NAME}\\r\\nConnection: close\\r\\n\\r\\n')\n"
        "data = b''\n"
        "while True:\n"
        "    chunk = s.recv(4096)\n"
        "    if not chunk: break\n"
        "    data += chunk\n"
        "print(data.decode().split('\\r\\n\\r\\n', 1)[1])\n")
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "hello /urllib" in proc.stdout and "hello /raw" in proc.stdout


def test_node_ignoring_the_proxy(http_server):
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    code = (f"require('http').get('http://{NAME}:{http_server.port}/node', r => "
            "{ let d=''; r.on('data', c => d += c); r.on('end', () => console.log(d)); })"
            ".on('error', e => { console.error(e.message); process.exit(1); })")
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "node", "-e", code)
    assert proc.returncode == 0, proc.stderr
    assert "hello /node" in proc.stdout


@pytest.mark.parametrize("mode", ["connect", "transparent"])
def test_https_end_to_end(https_server, pki, mode):
    """TLS is not intercepted: the client checks the server's certificate
    against the test CA itself; corral decides by CONNECT or by SNI."""
    url = f"https://{NAME}:{https_server.port}/tls"
    extra = ["--noproxy", "*"] if mode == "transparent" else []
    proc = run(*net_args(f"{NAME}:{https_server.port}"), "--ro-bind", f"{pki}:/pki", "--",
               "curl", "-sS", "--max-time", "10", "--cacert", "/pki/ca.pem", *extra, url)
    assert proc.returncode == 0, proc.stderr
    assert "hello /tls" in proc.stdout


def test_denied_host_gets_403_with_the_rule(http_server):
    url = f"http://{OTHER}:{http_server.port}/x"
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "curl", "-sS", "--max-time", "10",
               "-w", "\n%{http_code}\n", url)
    assert proc.stdout.strip().endswith("403"), proc.stdout + proc.stderr
    assert f"--allow-net {OTHER}" in proc.stdout
    assert http_server.seen == []


def test_denied_tls_is_reset_at_once(https_server, pki):
    url = f"https://{OTHER}:{https_server.port}/x"
    proc = run(*net_args(f"{NAME}:{https_server.port}"), "--ro-bind", f"{pki}:/pki", "--",
               "curl", "-sS", "--noproxy", "*", "--max-time", "20", "--cacert", "/pki/ca.pem",
               "-w", "%{time_total}", url)
    assert proc.returncode != 0
    assert proc.returncode != 28, "the denial must not be a timeout"
    assert https_server.seen == []


def test_dns_only_for_allowed_names(http_server):
    code = (
        "import socket\n"
        f"print('allowed', socket.gethostbyname('{NAME}'))\n"
        "try:\n"
        f"    socket.gethostbyname('{OTHER}')\n"
        "    print('other resolved')\n"
        "except OSError as e:\n"
        "    print('other refused', e)\n")
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "allowed 198.18." in proc.stdout
    assert "other refused" in proc.stdout


def test_raw_tcp_udp_and_other_ports_fail_fast(http_server):
    """Ports no rule names are refused at once; UDP other than DNS has
    nowhere to go."""
    code = (
        "import socket, time\n"
        "t = time.monotonic()\n"
        "try:\n"
        "    socket.create_connection(('93.184.216.34', 5432), timeout=10)\n"
        "    print('tcp connected')\n"
        "except OSError as e:\n"
        "    print('tcp refused', type(e).__name__, round(time.monotonic() - t, 1))\n"
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "u.settimeout(3)\n"
        "u.connect(('93.184.216.34', 443))\n"
        "try:\n"
        "    u.send(b'quic?'); u.recv(100); print('udp answered')\n"
        "except OSError as e:\n"
        "    print('udp refused', type(e).__name__)\n")
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "tcp refused ConnectionRefusedError" in proc.stdout
    assert "udp refused" in proc.stdout


def test_private_address_refused_unless_named(http_server):
    """'localhost' resolves (on the host) to loopback: refused although a
    rule allows the name, because no rule names the address."""
    url = f"http://localhost:{http_server.port}/private"
    proc = run(*net_args(f"localhost:{http_server.port}", pin=False), "--", "curl", "-sS",
               "--max-time", "10", "-x", "http://127.0.0.1:3128", "-w", "\n%{http_code}\n", url)
    assert proc.stdout.strip().endswith("403"), proc.stdout + proc.stderr
    assert "private" in proc.stdout
    assert http_server.seen == []
    # Naming the address allows it.
    proc = run(*net_args(f"localhost:{http_server.port}", f"127.0.0.1:{http_server.port}", pin=False),
               "--", "curl", "-sS", "--max-time", "10", "-x", "http://127.0.0.1:3128", url)
    assert proc.returncode == 0, proc.stderr
    assert "hello /private" in proc.stdout


def test_request_log(http_server, tmp_path):
    log = tmp_path / "net.log"
    ok = f"http://{NAME}:{http_server.port}/logged"
    denied = f"http://{OTHER}:{http_server.port}/refused"
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--net-log", str(log), "--", "sh", "-c",
               f"curl -sS --max-time 10 {ok}; curl -sS --max-time 10 {denied}; true")
    assert proc.returncode == 0, proc.stderr
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    allowed = [e for e in entries if e["decision"] == "allow"]
    refused = [e for e in entries if e["decision"] == "deny"]
    assert allowed and allowed[0]["host"] == NAME and allowed[0]["port"] == http_server.port
    assert allowed[0]["path"] == "/logged" and allowed[0]["method"] == "GET"
    assert allowed[0]["bytes_down"] > 0 and allowed[0]["rule"]
    assert refused and refused[0]["host"] == OTHER and refused[0]["status"] == 403
    for e in entries:
        assert {"time", "scheme", "duration_ms", "bytes_up"} <= set(e)


def test_report_counts_network_denials(http_server, tmp_path):
    report = tmp_path / "report.json"
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--report", str(report), "--", "curl",
               "-s", "--max-time", "10", f"http://{OTHER}:{http_server.port}/")
    denials = json.loads(report.read_text())["denials"]
    net = [d for d in denials if d["kind"] == "network"]
    assert net and net[0]["count"] >= 1 and OTHER in net[0]["name"], denials


@pytest.mark.parametrize("request_head,status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"BREW http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"GET http://x/ HTTP/1.1\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
])
def test_malformed_requests(http_server, request_head, status):
    code = (
        "import socket, sys\n"
        "s = socket.create_connection(('127.0.0.1', 3128), timeout=10)\n"
        f"s.sendall({request_head!r})\n"
        "print(s.recv(200).decode(errors='replace').splitlines()[0])\n")
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"HTTP/1.1 {status} "), proc.stdout


@pytest.mark.parametrize("rule,message", [
    ("exa mple.com", "--allow-net"),
    ("10.0.0.0/33", "--allow-net"),
    ("host:99999", "--allow-net"),
])
def test_bad_rules_are_one_line_errors(rule, message):
    proc = run("--allow-net", rule, "--", "true")
    assert proc.returncode == 125
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_bad_pin_is_a_one_line_error():
    proc = run("--net-host", "name=not-an-ip", "--", "true")
    assert proc.returncode == 125
    assert "--net-host" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_rule_command(http_server, tmp_path):
    """--net-rule-cmd: asked (with the request as JSON) about what no rule
    allows, once per host:port (cached); exit 0 allows."""
    tmp_path.chmod(0o755)
    asked = tmp_path / "asked.jsonl"
    asked.touch()
    asked.chmod(0o666)
    prog = tmp_path / "rule.sh"
    prog.write_text("#!/bin/sh\nreq=$(cat)\nprintf '%s\\n' \"$req\" >> " + str(asked) + "\n"
                    f"case \"$req\" in *'\"host\":\"{NAME}\"'*) exit 0;; esac\nexit 1\n")
    prog.chmod(0o755)
    ok = f"http://{NAME}:{http_server.port}"
    denied = f"http://{OTHER}:{http_server.port}/"
    proc = run("--net-rule-cmd", str(prog), *net_args(), "--", "sh", "-c",
               f"curl -sS --max-time 10 {ok}/one; curl -sS --max-time 10 {ok}/two; "
               f"curl -sS --max-time 10 {denied}; true")
    assert proc.returncode == 0, proc.stderr
    assert "hello /one" in proc.stdout and "hello /two" in proc.stdout
    assert "the rule command refused it" in proc.stdout
    requests = [json.loads(line) for line in asked.read_text().splitlines()]
    assert [r["host"] for r in requests] == [NAME, OTHER], requests  # the allow was cached
    assert requests[0]["port"] == http_server.port and requests[0]["method"] == "GET"
    assert [s[1] for s in http_server.seen] == ["/one", "/two"]


def test_rule_command_must_be_executable(tmp_path):
    proc = run("--net-rule-cmd", str(tmp_path / "missing"), "--", "true")
    assert proc.returncode == 125 and "--net-rule-cmd" in proc.stderr
    proc = run("--net-rule-cmd", "relative/prog", "--", "true")
    assert proc.returncode == 125 and "absolute" in proc.stderr


def test_one_checked_request_per_connection(http_server):
    """A plain HTTP request reaches the server with the Host that was
    checked (never the client's own), as the only request of its
    connection: a pipelined or kept-alive second request is not passed on."""
    code = (
        "import socket\n"
        "s = socket.create_connection(('127.0.0.1', 3128), timeout=10)\n"
        f"s.sendall(b'GET http://{NAME}:{http_server.port}/first HTTP/1.1\\r\\nHost: {OTHER}\\r\\n\\r\\n'\n"
        f"          b'GET http://{OTHER}:{http_server.port}/second HTTP/1.1\\r\\nHost: {OTHER}\\r\\n\\r\\n')\n"
        "data = b''\n"
        "while True:\n"
        "    chunk = s.recv(4096)\n"
        "    if not chunk: break\n"
        "    data += chunk\n"
        "print(data.decode())\n")
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "hello /first" in proc.stdout
    assert [s[1] for s in http_server.seen] == ["/first"], http_server.seen
    assert http_server.seen[0][2] == f"{NAME}:{http_server.port}"


def test_connection_cap(http_server):
    """Past 256 open connections a sandbox's new ones are reset, not
    queued: the cap is corral's, not the host's."""
    code = (
        "import socket\n"
        "held = []\n"
        "for _ in range(256):\n"
        f"    s = socket.create_connection(('{NAME}', {http_server.port}), timeout=10)\n"
        "    held.append(s)\n"
        f"extra = socket.create_connection(('{NAME}', {http_server.port}), timeout=10)\n"
        f"extra.sendall(b'GET /over HTTP/1.1\\r\\nHost: {NAME}\\r\\n\\r\\n')\n"
        "try:\n"
        "    data = extra.recv(100)\n"
        "    print('extra answered' if data else 'extra closed')\n"
        "except OSError as e:\n"
        "    print('extra reset', type(e).__name__)\n")
    proc = run(*net_args(f"{NAME}:{http_server.port}"), "--", "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "extra reset" in proc.stdout or "extra closed" in proc.stdout, proc.stdout
    assert "/over" not in [s[1] for s in http_server.seen]
