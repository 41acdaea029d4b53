"""corral serve: every endpoint and error status over the Unix socket,
lifetimes (ttl, OOM, delete), the concurrency bound and a draining
shutdown, each test against a daemon of its own (the autouse leak check
then also covers the daemon's exit)."""
import base64
import json
import os
import re
import signal
import stat
import threading
import time

import pytest

from conftest import as_user
from serve_helpers import Server, error_code


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path, "--max-sandboxes", "3", "--max-file-size", "1M", "--max-ttl", "1h")
    yield s
    assert s.stop() == 0, s.stderr()[-2000:]
    assert not os.path.exists(s.sock)


def test_health_and_socket_mode(server):
    assert server.json("GET", "/healthz") == {"status": "ok"}
    assert stat.S_IMODE(os.stat(server.sock).st_mode) == 0o600


def test_lifecycle(server):
    sb = server.create({"limits": {"memory": "256M"}, "ttl": "10m"})
    assert re.fullmatch(r"[0-9a-f]{32}", sb["id"])
    assert sb["state"] == "running" and sb["created"] and sb["expires"]
    listed = server.json("GET", "/v1/sandboxes")["sandboxes"]
    assert [s["id"] for s in listed] == [sb["id"]]
    got = server.json("GET", f"/v1/sandboxes/{sb['id']}")
    assert got["state"] == "running" and got["execs"] == 0
    assert server.json("DELETE", f"/v1/sandboxes/{sb['id']}")["state"] == "deleted"
    status, _, data = server.call("GET", f"/v1/sandboxes/{sb['id']}")
    assert status == 404 and error_code(data) == "sandbox_not_found"
    assert server.call("DELETE", f"/v1/sandboxes/{sb['id']}")[0] == 404
    assert server.json("GET", "/v1/sandboxes")["sandboxes"] == []


def test_exec(server):
    sid = server.create()["id"]
    r = server.exec(sid, {"argv": ["sh", "-c", "pwd; echo $GREETING; cat; echo oops >&2; exit 3"],
                          "stdin": "from stdin\n", "env": {"GREETING": "hi"}})
    assert r["exit_code"] == 3 and r["signal"] is None and not r["timed_out"]
    assert r["stdout"] == "/workspace\nhi\nfrom stdin\n"
    assert r["stderr"] == "oops\n"
    assert r["duration_ms"] >= 0 and not r["stdout_truncated"]
    # The workspace persists between commands; cwd is relative to it.
    server.exec(sid, {"argv": ["mkdir", "-p", "sub"]})
    assert server.exec(sid, {"argv": ["pwd"], "cwd": "sub"})["stdout"] == "/workspace/sub\n"
    # Binary stdin and output.
    r = server.exec(sid, {"argv": ["cat"], "stdin_base64": base64.b64encode(b"\xff\x00a").decode(),
                          "output_encoding": "base64"})
    assert base64.b64decode(r["stdout"]) == b"\xff\x00a"
    # Invalid UTF-8 in text mode becomes U+FFFD.
    r = server.exec(sid, {"argv": ["printf", "a\\377b"]})
    assert r["stdout"] == "a\ufffdb"
    assert server.json("GET", f"/v1/sandboxes/{sid}")["execs"] == 5


def test_exec_output_cap_and_not_found(server):
    sid = server.create()["id"]
    r = server.exec(sid, {"argv": ["head", "-c", "100000", "/dev/zero"], "output_max": 1000})
    assert r["stdout_truncated"] and len(r["stdout"]) == 1000 and r["stdout_bytes"] == 100000
    assert r["exit_code"] == 0
    r = server.exec(sid, {"argv": ["no-such-command"]})
    assert r["exit_code"] == 127 and "not found" in r["stderr"]
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/exec",
                                  {"argv": ["true"], "output_max": "1G"})
    assert status == 400 and b"output_max" in data


def test_exec_timeout_kills_the_command_only(server):
    sid = server.create()["id"]
    t = time.monotonic()
    r = server.exec(sid, {"argv": ["sleep", "30"], "timeout": "500ms"})
    assert time.monotonic() - t < 10
    assert r["timed_out"] and r["signal"] == 9 and r["exit_code"] is None
    assert server.exec(sid, {"argv": ["echo", "alive"]})["stdout"] == "alive\n"


def test_exec_stream(server):
    sid = server.create()["id"]
    c = server.connection()
    c.request("POST", f"/v1/sandboxes/{sid}/exec",
              body=json.dumps({"argv": ["sh", "-c", "echo one; sleep 0.5; echo two >&2; exit 4"]}),
              headers={"Accept": "application/x-ndjson"})
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "application/x-ndjson"
    first = json.loads(r.readline())
    t_first = time.monotonic()
    rest = [json.loads(line) for line in r.read().splitlines() if line.strip()]
    c.close()
    assert first == {"stdout": "one\n"}
    assert time.monotonic() - t_first > 0.2  # the first line came before the command ended
    assert rest[0] == {"stderr": "two\n"}
    assert rest[-1]["exit"]["exit_code"] == 4


def test_files(server):
    sid = server.create()["id"]
    base = f"/v1/sandboxes/{sid}/files?path="
    blob = bytes(range(256)) * 100
    assert server.call("PUT", base + "/workspace/a/b.bin", blob)[0] == 200
    status, headers, data = server.call("GET", base + "/workspace/a/b.bin")
    assert status == 200 and data == blob
    assert headers["Content-Type"] == "application/octet-stream"
    assert server.exec(sid, {"argv": ["wc", "-c", "a/b.bin"]})["stdout"].split()[0] == "25600"
    entries = server.json("GET", base + "/workspace&list=1")["entries"]
    assert [(e["name"], e["type"]) for e in entries] == [("a", "directory")]
    assert server.call("DELETE", base + "/workspace/a")[0] == 400  # not empty
    assert server.call("DELETE", base + "/workspace/a&recursive=1")[0] == 200
    status, _, data = server.call("GET", base + "/workspace/a/b.bin")
    assert status == 404 and error_code(data) == "file_not_found"
    # Nothing outside the sandbox's own tree: .. stays inside its root.
    status, _, data = server.call("GET", base + "/workspace/../../../etc/hostname")
    assert status == 200 and data.strip() != open("/etc/hostname", "rb").read().strip()
    assert server.call("PUT", base + "/usr/bin/evil", b"x")[0] == 403
    # Size bounds (--max-file-size 1M).
    status, _, data = server.call("PUT", base + "/workspace/big", b"x" * (2 << 20))
    assert status == 413 and error_code(data) == "too_large"
    server.exec(sid, {"argv": ["sh", "-c", "head -c 2000000 /dev/zero > big"]})
    assert server.call("GET", base + "/workspace/big")[0] == 413
    status, _, data = server.call("GET", f"/v1/sandboxes/{sid}/files")
    assert status == 400


def test_errors(server):
    status, headers, data = server.call("POST", "/v1/sandboxes", b"{not json")
    assert status == 400 and error_code(data) == "bad_request"
    status, _, data = server.call("POST", "/v1/sandboxes", {"limits": {"memory": "lots"}})
    assert status == 400 and error_code(data) == "bad_policy" and b"memory" in data
    for key in ({"mounts": []}, {"workspace": "/etc"}, {"pass_env": ["HOME"]},
                {"network": {"rule_cmd": "/bin/true"}}, {"network": {"hosts": {"a": "127.0.0.1"}}}):
        status, _, data = server.call("POST", "/v1/sandboxes", key)
        assert status == 400, (key, data)
    status, _, data = server.call("POST", "/v1/sandboxes", {"limits": {"memory": "64G"}})
    assert status == 400 and b"at most" in data
    status, _, data = server.call("POST", "/v1/sandboxes", {"ttl": "2h"})
    assert status == 400 and b"ttl" in data
    assert server.call("GET", "/v2/nothing")[0] == 404
    assert server.call("GET", "/v1/sandboxes/../../etc/passwd")[0] == 404
    assert server.call("GET", "/v1/sandboxes/" + "g" * 32)[0] == 404
    assert server.call("GET", "/v1/sandboxes/" + "0" * 32)[0] == 404
    status, headers, data = server.call("PATCH", "/v1/sandboxes")
    assert status == 405 and error_code(data) == "method_not_allowed"
    assert headers["Allow"] == "GET, POST"
    sid = server.create()["id"]
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/exec", {"argv": []})
    assert status == 400
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["x"], "bogus": 1})
    assert status == 400 and b"bogus" in data
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/exec",
                                  b'{"argv":["true"],"stdin":"' + b"a" * (2 << 20) + b'"}')
    assert status == 413
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/snapshots", {})
    assert status == 409 and error_code(data) == "not_on_image"


def test_ended_sandbox_is_409(server):
    if as_user() or os.geteuid() != 0:
        pytest.skip("rootless on this host: memory is an rlimit (no memory cgroup), so a "
                    "failed allocation fails the command, not the sandbox")
    sid = server.create({"limits": {"memory": "64M"}})["id"]
    r = server.exec(sid, {"argv": ["python3", "-c", "b = bytearray(512 << 20); b[::4096] = b'x' * len(b[::4096])"]})
    assert r["exit_code"] != 0
    deadline = time.monotonic() + 10
    while server.json("GET", f"/v1/sandboxes/{sid}")["state"] != "ended":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    got = server.json("GET", f"/v1/sandboxes/{sid}")
    assert got["end"]["status"] == "oom"
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/exec", {"argv": ["true"]})
    assert status == 409 and error_code(data) == "sandbox_ended"
    assert server.call("GET", f"/v1/sandboxes/{sid}/files?path=/workspace")[0] == 409
    metrics = server.call("GET", "/metrics")[2].decode()
    assert 'corral_sandbox_limit_kills_total{kind="oom"} 1' in metrics
    assert server.call("DELETE", f"/v1/sandboxes/{sid}")[0] == 200


def test_concurrency_limit(server):
    ids = [server.create()["id"] for _ in range(3)]
    status, _, data = server.call("POST", "/v1/sandboxes", {})
    assert status == 429 and error_code(data) == "too_many_sandboxes"
    server.json("DELETE", f"/v1/sandboxes/{ids[0]}")
    server.create()


def test_ttl_expiry(server):
    sid = server.create({"ttl": "1s"})["id"]
    assert server.exec(sid, {"argv": ["true"]})["exit_code"] == 0
    deadline = time.monotonic() + 10
    while server.call("GET", f"/v1/sandboxes/{sid}")[0] != 404:
        assert time.monotonic() < deadline, "the sandbox outlived its ttl"
        time.sleep(0.1)
    assert "sandbox_expired" in server.stderr()


def test_metrics(server):
    sid = server.create()["id"]
    server.exec(sid, {"argv": ["true"]})
    text = server.call("GET", "/metrics")[2].decode()
    assert "corral_sandboxes_running 1" in text
    assert "corral_sandboxes_created_total 1" in text
    assert "corral_execs_total 1" in text
    assert 'corral_exec_duration_seconds_bucket{le="+Inf"} 1' in text
    assert "corral_exec_duration_seconds_count 1" in text


def test_sigterm_drains(tmp_path):
    s = Server(tmp_path)
    ids = [s.create()["id"] for _ in range(2)]
    result = {}

    def long_exec():
        try:
            result["r"] = s.call("POST", f"/v1/sandboxes/{ids[0]}/exec",
                                 {"argv": ["sleep", "60"], "timeout": "2m"})
        except Exception as e:  # reported below
            result["r"] = (0, {}, repr(e).encode())

    t = threading.Thread(target=long_exec)
    t.start()
    deadline = time.monotonic() + 20
    while s.json("GET", f"/v1/sandboxes/{ids[0]}")["execs"] == 0:  # the command runs
        assert time.monotonic() < deadline
        time.sleep(0.05)
    t0 = time.monotonic()
    assert s.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 20
    t.join(timeout=30)
    status, _, data = result["r"]
    assert status == 200 and json.loads(data)["sandbox_ended"], data
    assert not os.path.exists(s.sock)
    log = s.stderr() if not s.log.closed else open(tmp_path / "serve.log").read()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "draining" for e in lines)
    assert lines[-1]["event"] == "stopped"


def test_refuses_a_live_socket(server, corral):
    p = corral.raw("serve", "--socket", server.sock, timeout=20)
    assert p.returncode == 125 and "Address already in use" in p.stderr


def test_warm_pool(tmp_path):
    s = Server(tmp_path, "--warm", "2", "--max-sandboxes", "3")
    try:
        deadline = time.monotonic() + 20
        while "corral_sandboxes_created_total 2" not in s.call("GET", "/metrics")[2].decode():
            assert time.monotonic() < deadline, "the pool did not fill"
            time.sleep(0.05)
        # Warm ones are not listed, and do not count against --max-sandboxes.
        assert s.json("GET", "/v1/sandboxes")["sandboxes"] == []
        a = s.create({"ttl": "10m"})
        assert s.exec(a["id"], {"argv": ["pwd"]})["stdout"] == "/workspace\n"
        b = s.create({"limits": {"memory": "128M"}})  # a policy: started fresh
        c = s.create()
        assert s.call("POST", "/v1/sandboxes", {})[0] == 429
        for x in (a, b, c):
            s.json("DELETE", f"/v1/sandboxes/{x['id']}")
    finally:
        assert s.stop() == 0, s.stderr()[-2000:]
