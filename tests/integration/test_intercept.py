"""HTTPS interception, path rules and secrets, against real HTTP and HTTPS
servers on the host's loopback (with a test CA of their own, which corral
trusts upstream through --net-ca).

Inside the sandbox clients trust corral's CA (the bundle bound over the
system one, and the usual variables); corral terminates TLS, decides every
request, replaces secret placeholders for the secret's hosts only, and
verifies the real server's certificate itself."""
import hashlib
import http.server
import json
import os
import ssl
import threading

import pytest

from conftest import run
from test_network import NAME, OTHER, net_args, pki  # noqa: F401  (pki is a fixture)

SECRET = "sk-live-0123456789abcdef-not-for-the-sandbox"


class EchoServer:
    """Answers every request with JSON describing it; a few paths shape
    the response (chunked, streamed, empty, large)."""

    def __init__(self, tls_context=None):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def handle_any(self):
                body = self.body()
                seen.append({"method": self.command, "path": self.path,
                             "headers": dict(self.headers.items()), "body": body})
                if self.path.startswith("/chunked"):
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for part in (b"one ", b"two ", b"three\n"):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if self.path.startswith("/empty"):
                    self.send_response(204)
                    self.end_headers()
                    return
                if self.path.startswith("/large"):
                    data = bytes(range(256)) * (16 * 1024 * 4)  # 16 MiB
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                out = json.dumps({
                    "method": self.command, "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "host": self.headers.get("Host"),
                    "body": body.decode("latin-1"),
                    "sha256": hashlib.sha256(body).hexdigest(),
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_any

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *args: None  # clients cut short on purpose
        if tls_context:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def https_echo(pki):  # noqa: F811
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "svc.pem", pki / "svc.key")
    s = EchoServer(ctx)
    yield s
    s.close()


@pytest.fixture
def http_echo():
    s = EchoServer()
    yield s
    s.close()


def intercept_args(pki, *rules):  # noqa: F811
    return [*net_args(*rules), "--net-ca", str(pki / "ca.pem")]


def curl(*args):
    return ["curl", "-sS", "--max-time", "20", *args]


@pytest.mark.parametrize("mode", ["connect", "transparent"])
def test_curl_trusts_corral_ca_and_reaches_the_server(https_echo, pki, mode):  # noqa: F811
    extra = ["--noproxy", "*"] if mode == "transparent" else []
    url = f"https://{NAME}:{https_echo.port}/hello"
    proc = run(*intercept_args(pki, f"{NAME}:{https_echo.port}"), "--intercept", "--",
               *curl(*extra, "-w", "\n%{http_code} %{ssl_verify_result}", url))
    assert proc.returncode == 0, proc.stderr
    body, status = proc.stdout.rsplit("\n", 1)
    assert status == "200 0"
    assert json.loads(body)["path"] == "/hello"
    assert json.loads(body)["host"] == f"{NAME}:{https_echo.port}"


def test_certificate_is_corral_s(https_echo, pki):  # noqa: F811
    """The sandbox sees a leaf for the name it asked for, issued by corral's
    CA, verified by Python's default context (the bound bundle)."""
    code = (
        "import socket, ssl\n"
        "ctx = ssl.create_default_context()\n"
        f"s = socket.create_connection(('{NAME}', {https_echo.port}), timeout=10)\n"
        f"t = ctx.wrap_socket(s, server_hostname='{NAME}')\n"
        "c = t.getpeercert()\n"
        "print(dict(x[0] for x in c['issuer'])['commonName'])\n"
        "print(c['subjectAltName'])\n")
    proc = run(*intercept_args(pki, f"{NAME}:{https_echo.port}"), "--intercept", "--",
               "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    issuer, san = proc.stdout.splitlines()
    assert "corral" in issuer.lower()
    assert NAME in san


def test_python_and_node_clients(https_echo, pki):  # noqa: F811
    url = f"https://{NAME}:{https_echo.port}/client"
    py = ("import urllib.request, json\n"
          f"print(json.load(urllib.request.urlopen('{url}', timeout=10))['path'])\n")
    args = intercept_args(pki, f"{NAME}:{https_echo.port}")
    proc = run(*args, "--intercept", "--", "python3", "-c", py)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "/client"
    node = (f"require('https').get('{url}', r => {{ let d=''; r.on('data', c => d += c); "
            "r.on('end', () => console.log(JSON.parse(d).path)); })"
            ".on('error', e => { console.error(e.message); process.exit(1); })")
    proc = run(*args, "--intercept", "--", "node", "-e", node)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "/client"


def test_upstream_certificate_is_verified(https_echo, pki):  # noqa: F811
    """Without --net-ca the test server's certificate is not trusted: the
    sandbox gets a 502 that says why, and no request reaches the server."""
    url = f"https://{NAME}:{https_echo.port}/x"
    proc = run(*net_args(f"{NAME}:{https_echo.port}"), "--intercept", "--",
               *curl("-w", "\n%{http_code}", url))
    assert proc.stdout.strip().endswith("502"), proc.stdout + proc.stderr
    assert "certificate" in proc.stdout.lower()
    assert https_echo.seen == []


def test_path_rules_decide_each_request(https_echo, pki, tmp_path):  # noqa: F811
    """Several requests on one kept-alive connection, each decided."""
    log = tmp_path / "net.log"
    code = (
        "import http.client, ssl\n"
        f"c = http.client.HTTPSConnection('{NAME}', {https_echo.port}, timeout=10)\n"
        "for method, path in [('GET', '/v1/models'), ('GET', '/v1/models?x=1'),\n"
        "                     ('POST', '/v1/models'), ('GET', '/admin')]:\n"
        "    c.request(method, path, body=b'' if method == 'POST' else None)\n"
        "    r = c.getresponse()\n"
        "    body = r.read().decode()\n"
        "    print(method, path, r.status, 'allow-net' in body)\n"
        "    if r.status == 403:\n"
        f"        c = http.client.HTTPSConnection('{NAME}', {https_echo.port}, timeout=10)\n")
    rule = f"GET https://{NAME}:{https_echo.port}/v1/*"
    proc = run(*intercept_args(pki, rule), "--net-log", str(log), "--", "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "GET /v1/models 200 False",
        "GET /v1/models?x=1 200 False",
        "POST /v1/models 403 True",
        "GET /admin 403 True",
    ]
    assert [s["path"] for s in https_echo.seen] == ["/v1/models", "/v1/models?x=1"]
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    decided = [(e["method"], e["path"], e["decision"], e["status"]) for e in entries
               if e.get("method")]
    assert ("GET", "/v1/models", "allow", 200) in decided
    assert ("POST", "/v1/models", "deny", 403) in decided
    assert all(e["scheme"] == "https" for e in entries if e.get("method"))


def test_keep_alive_chunked_head_and_empty(https_echo, pki):  # noqa: F811
    code = (
        "import http.client\n"
        f"c = http.client.HTTPSConnection('{NAME}', {https_echo.port}, timeout=10)\n"
        "for method, path in [('GET', '/chunked'), ('HEAD', '/a'), ('GET', '/empty'),\n"
        "                     ('GET', '/b')]:\n"
        "    c.request(method, path)\n"
        "    r = c.getresponse()\n"
        "    print(method, path, r.status, len(r.read()))\n"
        "c.request('POST', '/up', body=iter([b'abc', b'defg']), encode_chunked=True,\n"
        "          headers={'Content-Type': 'application/octet-stream'})\n"
        "print('chunked upload', __import__('json').loads(c.getresponse().read())['body'])\n")
    proc = run(*intercept_args(pki, f"{NAME}:{https_echo.port}"), "--intercept", "--",
               "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "GET /chunked 200 14"
    assert lines[1] == "HEAD /a 200 0"
    assert lines[2] == "GET /empty 204 0"
    assert lines[3].startswith("GET /b 200 ")
    assert lines[4] == "chunked upload abcdefg"
    # One TLS connection to the server carried them all (keep-alive both ways).
    assert len(https_echo.seen) == 5


def test_large_bodies_both_ways(https_echo, pki):  # noqa: F811
    """16 MiB down and 5 MiB up (curl sends Expect: 100-continue for it)."""
    url = f"https://{NAME}:{https_echo.port}"
    script = (
        f"curl -sS --max-time 60 {url}/large | sha256sum | cut -c1-64; "
        "head -c 5242880 /dev/urandom > /tmp/up; sha256sum /tmp/up | cut -c1-64; "
        f"curl -sS --max-time 60 -H 'Content-Type: application/octet-stream' "
        f"--data-binary @/tmp/up {url}/upload")
    proc = run(*intercept_args(pki, f"{NAME}:{https_echo.port}"), "--intercept", "--",
               "sh", "-c", script)
    assert proc.returncode == 0, proc.stderr
    down, up, answer = proc.stdout.splitlines()
    assert down == hashlib.sha256(bytes(range(256)) * (16 * 1024 * 4)).hexdigest()
    assert json.loads(answer)["sha256"] == up


def test_plain_http_keep_alive_under_interception(http_echo, pki):  # noqa: F811
    """Intercepting, plain HTTP is served request by request too."""
    code = (
        "import http.client\n"
        f"c = http.client.HTTPConnection('{NAME}', {http_echo.port}, timeout=10)\n"
        "for path in ['/v1/a', '/v1/b', '/v2/c']:\n"
        "    c.request('GET', path)\n"
        "    r = c.getresponse()\n"
        "    r.read()\n"
        "    print(path, r.status)\n"
        "    if r.status != 200: break\n")
    rule = f"GET http://{NAME}:{http_echo.port}/v1/*"
    env = {k: v for k, v in os.environ.items()}
    proc = run(*intercept_args(pki, rule), "--", "python3", "-c", code, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["/v1/a 200", "/v1/b 200", "/v2/c 403"]
    assert [s["path"] for s in http_echo.seen] == ["/v1/a", "/v1/b"]


def secret_args(pki, port, *extra):  # noqa: F811
    return [*intercept_args(pki, f"{NAME}:{port}", f"{OTHER}:{port}"),
            "--secret", f"API_TOKEN@{NAME}", *extra]


def test_secret_is_a_placeholder_inside(https_echo, pki, tmp_path):  # noqa: F811
    report = tmp_path / "report.json"
    script = ("echo \"$API_TOKEN\"; cat /proc/self/environ | tr '\\0' '\\n' | grep -c "
              f"'{SECRET}' || true; grep -rl '{SECRET}' /etc /tmp /home 2>/dev/null | wc -l")
    proc = run(*secret_args(pki, https_echo.port), "--report", str(report), "--", "sh", "-c",
               script, extra_env={"API_TOKEN": SECRET})
    assert proc.returncode == 0, proc.stderr
    placeholder, in_environ, in_files = proc.stdout.splitlines()
    assert placeholder.startswith("CORRAL_SECRET_") and SECRET not in placeholder
    assert in_environ == "0" and in_files == "0"
    assert SECRET not in report.read_text()


def test_secret_replaced_for_its_host(https_echo, pki, tmp_path):  # noqa: F811
    log = tmp_path / "net.log"
    url = f"https://{NAME}:{https_echo.port}"
    script = (
        f"curl -sS -H \"Authorization: Bearer $API_TOKEN\" '{url}/h?key='\"$API_TOKEN\"; echo; "
        f"curl -sS -H 'Content-Type: application/json' "
        f"-d '{{\"token\": \"'\"$API_TOKEN\"'\"}}' {url}/body")
    proc = run(*secret_args(pki, https_echo.port, "--net-log", str(log)), "--", "sh", "-c",
               script, extra_env={"API_TOKEN": SECRET})
    assert proc.returncode == 0, proc.stderr
    first, second = [json.loads(line) for line in proc.stdout.splitlines()]
    assert first["authorization"] == f"Bearer {SECRET}"
    assert first["path"] == f"/h?key={SECRET}"
    assert json.loads(second["body"]) == {"token": SECRET}
    assert SECRET not in log.read_text()


def test_secret_to_another_host_is_blocked_and_logged(https_echo, pki, tmp_path):  # noqa: F811
    log = tmp_path / "net.log"
    url = f"https://{OTHER}:{https_echo.port}"
    script = (
        f"curl -sS -w '\\n%{{http_code}}\\n' -H \"X-Leak: $API_TOKEN\" {url}/header; "
        f"curl -sS -w '\\n%{{http_code}}\\n' -H 'Content-Type: text/plain' "
        f"-d \"$API_TOKEN\" {url}/body; "
        f"curl -sS -w '\\n%{{http_code}}\\n' -H 'Content-Type: application/octet-stream' "
        f"--data-binary \"xx$API_TOKEN\" {url}/binary; "
        f"curl -sS -w '\\n%{{http_code}}\\n' {url}/clean")
    proc = run(*secret_args(pki, https_echo.port, "--net-log", str(log)), "--", "sh", "-c",
               script, extra_env={"API_TOKEN": SECRET})
    assert proc.returncode == 0, proc.stderr
    codes = [line for line in proc.stdout.splitlines() if line.isdigit()]
    assert codes == ["403", "403", "403", "200"], proc.stdout
    assert "secret API_TOKEN" in proc.stdout
    assert [s["path"] for s in https_echo.seen if s["path"] != "/binary"] == ["/clean"]
    text = log.read_text()
    assert SECRET not in text
    exfil = [json.loads(line) for line in text.splitlines() if "exfiltration" in line]
    assert len(exfil) == 3 and all(e["host"] == OTHER and e["decision"] == "deny"
                                   for e in exfil)


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_secret_in_a_streamed_body_never_leaves(https_echo, pki, framing):  # noqa: F811
    """A body too large to buffer (or chunked, not text) flows through
    watched: a placeholder to another host stops it before any byte of the
    placeholder leaves, wherever the pieces are cut."""
    code = (
        "import http.client, os\n"
        "token = os.environ['API_TOKEN'].encode()\n"
        "body = b'0' * (9 << 20) + token[:7]\n"
        "rest = token[7:] + b'0' * 1000\n"
        f"c = http.client.HTTPSConnection('{OTHER}', {https_echo.port}, timeout=20)\n"
        "try:\n"
        f"    if '{framing}' == 'chunked':\n"
        "        c.request('POST', '/stream', body=iter([body, rest]), encode_chunked=True,\n"
        "                  headers={'Content-Type': 'application/octet-stream'})\n"
        "    else:\n"
        "        c.request('POST', '/stream', body=body + rest,\n"
        "                  headers={'Content-Type': 'application/octet-stream'})\n"
        "    print(c.getresponse().status)\n"
        "except OSError as e:\n"
        "    print('cut', type(e).__name__)\n")
    proc = run(*secret_args(pki, https_echo.port), "--", "python3", "-c", code,
               extra_env={"API_TOKEN": SECRET})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() in ("403", "cut BrokenPipeError", "cut ConnectionResetError"), \
        proc.stdout
    for seen in https_echo.seen:
        assert b"C" not in seen["body"], "a byte of the placeholder reached the server"


def test_secret_over_plain_http_is_replaced_for_its_host_only(http_echo, pki):  # noqa: F811
    url = f"http://{NAME}:{http_echo.port}/plain"
    proc = run(*secret_args(pki, http_echo.port), "--", "sh", "-c",
               f"curl -sS -H \"Authorization: $API_TOKEN\" {url}; echo; "
               f"curl -sS -o /dev/null -w '%{{http_code}}' -H \"Authorization: $API_TOKEN\" "
               f"http://{OTHER}:{http_echo.port}/plain",
               extra_env={"API_TOKEN": SECRET})
    assert proc.returncode == 0, proc.stderr
    first, code = proc.stdout.splitlines()
    assert json.loads(first)["authorization"] == SECRET
    assert code == "403"


def test_secret_values_never_in_the_printed_policy(pki):  # noqa: F811
    proc = run("--secret", f"A=inline-{SECRET}@{NAME}", "--secret", f"API_TOKEN@*.{NAME}",
               "--print-policy", "--", "true", extra_env={"API_TOKEN": SECRET})
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout
    secrets = json.loads(proc.stdout)["network"]["secrets"]
    assert secrets == [{"name": "A", "hosts": [NAME]},
                       {"name": "API_TOKEN", "hosts": [f"*.{NAME}"]}]


@pytest.mark.parametrize("spec,fragment", [
    ("NOPE@x.test", "$NOPE is not set"),
    ("1BAD=v@x.test", "not a valid variable name"),
    ("A=v@", "expected host names"),
    ("A=v@bad host", "invalid host"),
    ("A=v", "expected NAME@HOST"),
    ("A=@x.test", "the value is empty"),
])
def test_bad_secrets_are_one_line_errors(spec, fragment):
    proc = run("--secret", spec, "--", "true")
    assert proc.returncode == 125
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


def test_ca_key_is_private():
    """The CA lives in the state directory of whoever runs corral: root's
    /var/lib/corral, else $XDG_STATE_HOME (or ~/.local/state)/corral."""
    import pwd
    from conftest import as_user
    proc = run("--intercept", "--", "true")
    assert proc.returncode == 0, proc.stderr
    user = as_user()
    if user is None and os.geteuid() == 0:
        state = "/var/lib/corral"
    else:
        home = pwd.getpwnam(user).pw_dir if user else os.path.expanduser("~")
        state = os.environ.get("XDG_STATE_HOME") if not user else None
        state = f"{state}/corral" if state else f"{home}/.local/state/corral"
    st = os.stat(f"{state}/ca/ca.key")
    assert st.st_mode & 0o077 == 0
    assert st.st_uid == (pwd.getpwnam(user).pw_uid if user else os.geteuid())
    assert os.stat(f"{state}/ca").st_mode & 0o077 == 0


# ---- rules replaced while the sandbox runs (corral_sandbox_set_net_rules) ----

LIVE_SCRIPT = r"""
import http.client, socket, sys
def get(c, path):
    try:
        c.request('GET', path)
        r = c.getresponse()
        r.read()
        return str(r.status)
    except (OSError, http.client.HTTPException) as e:
        return 'closed'
kept = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
print('before', get(kept, '/one'), flush=True)
raw = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
sys.stdin.readline()
print('kept', get(kept, '/two'), flush=True)
raw.settimeout(10)
try:
    raw.sendall(b'GET /raw HTTP/1.1\r\nHost: x\r\n\r\n')
    data = raw.recv(100)
    # Closed, or (when the change came before it was decided) refused.
    print('raw', 'open' if data and b' 403 ' not in data.split(b'\r\n')[0] else 'denied',
          flush=True)
except OSError:
    print('raw', 'denied', flush=True)
fresh = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
print('new', get(fresh, '/three'), flush=True)
sys.stdin.readline()
print('again', get(http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10), '/four'),
      flush=True)
"""


def live_rules_binary():
    from conftest import CORRAL_BIN
    path = os.path.join(os.path.dirname(CORRAL_BIN), "tests", "helpers", "live_rules")
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not built")
    return path


@pytest.mark.parametrize("intercept", [False, True])
def test_rules_replaced_while_running(http_echo, pki, tmp_path, intercept):  # noqa: F811
    """Removing the rule closes the open connections to the host at once
    and denies new ones; restoring it allows new ones again."""
    import socket
    import subprocess

    log = tmp_path / "net.log"
    ours, theirs = socket.socketpair()
    rule = f"{NAME}:{http_echo.port}"
    argv = [live_rules_binary(), "--control", str(theirs.fileno()), "--allow-net", rule, "--net-host", f"{NAME}=127.0.0.1",
            "--net-log", str(log), *(["--intercept"] if intercept else []),
            "--", "python3", "-c", LIVE_SCRIPT, NAME, str(http_echo.port)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, pass_fds=[theirs.fileno()])
    theirs.close()

    def line():
        got = proc.stdout.readline()
        if not got:
            proc.kill()
            pytest.fail(f"the sandbox ended early: {proc.stderr.read().decode()!r}")
        return got

    try:
        assert line() == b"before 200\n"
        ours.sendall(f"{OTHER}:1\n".encode())
        assert ours.recv(200) == b"ok\n"
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        assert line() == b"kept closed\n"
        assert line() == b"raw denied\n"
        # The name no longer resolves inside (corral answers NXDOMAIN).
        assert line() == b"new closed\n"
        ours.sendall(f"{rule}\n".encode())
        assert ours.recv(200) == b"ok\n"
        ours.sendall(b"GET https://x.test/*\n")
        reply = ours.recv(300).decode()
        if intercept:
            assert reply == "ok\n"
            ours.sendall(f"{rule}\n".encode())
            assert ours.recv(200) == b"ok\n"
        else:
            assert reply.startswith("error: ") and "interception" in reply
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        assert line() == b"again 200\n"
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        ours.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    paths = [s["path"] for s in http_echo.seen]
    assert "/one" in paths and "/four" in paths
    assert "/two" not in paths and "/three" not in paths
    assert "the rules changed" in log.read_text()


def test_bad_live_rules_are_refused(http_echo, pki):  # noqa: F811
    import socket
    import subprocess
    ours, theirs = socket.socketpair()
    argv = [live_rules_binary(), "--control", str(theirs.fileno()),
            "--allow-net", f"{NAME}:{http_echo.port}", "--",
            "sh", "-c", "read x"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, pass_fds=[theirs.fileno()])
    theirs.close()
    try:
        ours.sendall(b"exa mple.com\n")
        reply = ours.recv(300).decode()
        assert reply.startswith("error: --allow-net") and reply.count("\n") == 1
        proc.stdin.write(b"\n")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        ours.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


@pytest.mark.parametrize("request_head,status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
])
def test_malformed_requests_inside_tls(https_echo, pki, request_head, status):  # noqa: F811
    """Inside an intercepted connection the same strict parser answers; a
    silent connection held open meanwhile does not stop a good request."""
    code = (
        "import socket, ssl, http.client\n"
        "ctx = ssl.create_default_context()\n"
        f"idle = socket.create_connection(('{NAME}', {https_echo.port}), timeout=10)\n"
        f"s = ctx.wrap_socket(socket.create_connection(('{NAME}', {https_echo.port}), timeout=10),"
        f" server_hostname='{NAME}')\n"
        f"s.sendall({request_head!r})\n"
        "print(s.recv(200).decode(errors='replace').splitlines()[0])\n"
        f"c = http.client.HTTPSConnection('{NAME}', {https_echo.port}, timeout=10)\n"
        "c.request('GET', '/fine')\n"
        "print(c.getresponse().status)\n")
    proc = run(*intercept_args(pki, f"{NAME}:{https_echo.port}"), "--intercept", "--",
               "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first.startswith(f"HTTP/1.1 {status} "), first
    assert second == "200"
    assert [s["path"] for s in https_echo.seen] == ["/fine"]
