"""corral serve --listen: every TCP request needs the bearer token; the
token file must be private."""
import os

import pytest

from serve_helpers import TOKEN, Server, error_code


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path, tcp=True)
    yield s
    assert s.stop() == 0


def test_token_required(server):
    assert server.call("GET", "/healthz", tcp=True)[0] == 401
    status, headers, data = server.call("GET", "/v1/sandboxes", tcp=True,
                                        headers={"Authorization": "Bearer wrong"})
    assert status == 401 and error_code(data) == "unauthorized"
    assert headers["WWW-Authenticate"] == "Bearer"
    assert server.call("GET", "/v1/sandboxes", tcp=True,
                       headers={"Authorization": "Bearer " + TOKEN + "x"})[0] == 401
    assert server.call("GET", "/v1/sandboxes", tcp=True,
                       headers={"Authorization": "Basic " + TOKEN})[0] == 401
    # Refused before the body is read.
    status, _, _ = server.call("POST", "/v1/sandboxes", {"ttl": "1m"}, tcp=True)
    assert status == 401
    assert server.json("GET", "/v1/sandboxes")["sandboxes"] == []


def test_with_token(server):
    auth = {"Authorization": "Bearer " + TOKEN}
    sb = server.json("POST", "/v1/sandboxes", {}, expect=201, tcp=True, headers=auth)
    r = server.json("POST", f"/v1/sandboxes/{sb['id']}/exec", {"argv": ["echo", "tcp"]},
                    tcp=True, headers=auth)
    assert r["stdout"] == "tcp\n"
    status, _, _ = server.call("GET", "/healthz", tcp=True,
                               headers={**auth, "Origin": "http://evil.example"})
    assert status == 403


def test_token_file_checks(tmp_path, corral):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o640)
    p = corral.raw("serve", "--socket", tmp_path / "s.sock", "--listen", "127.0.0.1:1",
                   "--token-file", token, timeout=20)
    assert p.returncode == 125 and "readable by group or others" in p.stderr
    token.chmod(0o600)
    token.write_text("short\n")
    p = corral.raw("serve", "--socket", tmp_path / "s.sock", "--listen", "127.0.0.1:1",
                   "--token-file", token, timeout=20)
    assert p.returncode == 125 and "16 characters" in p.stderr
    p = corral.raw("serve", "--socket", tmp_path / "s.sock", "--listen", "127.0.0.1:1",
                   timeout=20)
    assert p.returncode == 125 and "go together" in p.stderr
    assert not os.path.exists(tmp_path / "s.sock")
