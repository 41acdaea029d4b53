"""corral mcp's Streamable HTTP transport (--listen, --token-file): driven by
the official TypeScript SDK's HTTP client, and raw checks of authentication,
sessions, methods and shutdown."""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import as_user, corral_argv

REPO = pathlib.Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "tests" / "mcp"
TOKEN = "test-token-" + "x" * 24


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    tmp_path.chmod(0o755)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    if as_user():  # corral runs as another user: the token is theirs
        shutil.chown(token_file, as_user())
    port = free_port()
    proc = subprocess.Popen(corral_argv(["mcp", "--listen", f"127.0.0.1:{port}", "--token-file",
                                         str(token_file), "--memory", "512M"]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/mcp"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    yield url, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def post(url, body, session=None, token=TOKEN, headers=None, method="POST"):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json, text/event-stream")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if session:
        req.add_header("Mcp-Session-Id", session)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "1"}}}


def test_sdk_client_over_http(server):
    if not (NODE_DIR / "node_modules").is_dir():
        pytest.skip("the MCP SDK is not installed (scripts/setup.sh installs it)")
    url, _ = server
    proc = subprocess.run(["node", str(NODE_DIR / "sdk_http.mjs"), url, TOKEN],
                          capture_output=True, text=True, timeout=180)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ok"], out.get("error")
    assert out["server"]["name"] == "corral" and out["session_id"]
    assert "run_python" in out["tools"] and "reset" in out["tools"]
    assert out["second"]["result"] == "42"
    assert out["progress"] and out["progress"] == sorted(out["progress"])
    assert out["shell"]["exit_code"] == 3 and out["shell"]["stdout"] == "42\n"


def test_authentication_and_origin(server):
    url, _ = server
    assert post(url, INIT, token=None)[0] == 401
    assert post(url, INIT, token="wrong-" + "y" * 29)[0] == 401
    status, _, _ = post(url, INIT, headers={"Origin": "https://evil.example"})
    assert status == 403
    status, headers, _ = post(url, INIT, headers={"Origin": "http://localhost:3000"})
    assert status == 200 and headers.get("Mcp-Session-Id")


def test_sessions_and_methods(server):
    url, _ = server
    status, headers, body = post(url, INIT)
    assert status == 200, body
    sid = headers["Mcp-Session-Id"]
    assert '"protocolVersion":"2025-11-25"' in body
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    assert post(url, ping)[0] == 400                       # no session header
    assert post(url, ping, session="0" * 32)[0] == 404     # unknown session
    status, _, body = post(url, ping, session=sid)
    assert status == 200 and '"result":{}' in body
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert post(url, note, session=sid)[0] == 202
    assert post(url, None, session=sid, method="GET")[0] == 405
    assert post(url, [ping], session=sid)[0] == 400        # batches
    assert post(url, None, session=sid, method="DELETE")[0] == 200
    assert post(url, ping, session=sid)[0] == 404          # ended
    assert post(url.replace("/mcp", "/other"), ping, session=sid)[0] == 404


def test_sigterm_ends_sessions_and_leaves_nothing(server):
    if as_user():
        pytest.skip("runuser does not pass SIGTERM on to corral")
    url, proc = server
    status, headers, _ = post(url, INIT)
    sid = headers["Mcp-Session-Id"]
    status, _, body = post(url, {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                                 "params": {"name": "run_shell",
                                            "arguments": {"command": "sleep 300 & echo started"}}},
                           session=sid)
    assert "started" in body
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_listen_needs_a_token(tmp_path):
    proc = subprocess.run(corral_argv(["mcp", "--listen", "127.0.0.1:1"]), capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 125 and "--token-file" in proc.stderr
    weak = tmp_path / "weak"
    weak.write_text("short\n")
    weak.chmod(0o600)
    if as_user():
        shutil.chown(weak, as_user())
    proc = subprocess.run(corral_argv(["mcp", "--listen", "127.0.0.1:1", "--token-file", str(weak)]),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 125 and "16 characters" in proc.stderr
