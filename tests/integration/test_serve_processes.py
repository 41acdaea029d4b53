"""corral serve's background processes: spawn, stdin, signals, output
(streamed and buffered, capped), status, the per-sandbox bound, and their
end with the sandbox; each test against a daemon of its own."""
import json
import os
import time

import pytest

from serve_helpers import Server, error_code


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path, "--max-sandboxes", "3", "--max-ttl", "1h")
    yield s
    assert s.stop() == 0, s.stderr()[-2000:]


def spawn(server, sid, body, expect=201):
    return server.json("POST", f"/v1/sandboxes/{sid}/processes", body, expect=expect)


def output_lines(server, sid, pid, follow=True):
    q = "" if follow else "?follow=0"
    status, headers, data = server.call("GET", f"/v1/sandboxes/{sid}/processes/{pid}/output{q}")
    assert status == 200 and headers["Content-Type"] == "application/x-ndjson", data
    return [json.loads(line) for line in data.decode().splitlines()]


def wait_state(server, sid, pid, states=("exited", "signaled", "lost")):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        p = server.json("GET", f"/v1/sandboxes/{sid}/processes/{pid}")
        if p["state"] in states:
            return p
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still {p['state']}")


def text_of(lines, stream):
    return "".join(line["data"] for line in lines if line.get("stream") == stream)


def test_stdin_output_and_exit(server):
    sid = server.create()["id"]
    p = spawn(server, sid, {"argv": ["sh", "-c", "while read l; do echo got:$l; echo e:$l >&2; "
                                                "done; exit 7"]})
    pid = p["pid"]
    assert p["state"] == "running" and p["stdin_open"] and p["argv"][0] == "sh"
    r = server.json("POST", f"/v1/sandboxes/{sid}/processes/{pid}/stdin", b"one\ntwo\n")
    assert r["written"] == 8
    server.json("POST", f"/v1/sandboxes/{sid}/processes/{pid}/stdin?eof=1", b"three\n")
    lines = output_lines(server, sid, pid)
    assert text_of(lines, "stdout") == "got:one\ngot:two\ngot:three\n"
    assert text_of(lines, "stderr") == "e:one\ne:two\ne:three\n"
    assert lines[-1] == {"exit": {"state": "exited", "exit_code": 7, "signal": None,
                                  "timed_out": False}}
    st = server.json("GET", f"/v1/sandboxes/{sid}/processes/{pid}")
    assert st["state"] == "exited" and st["exit_code"] == 7 and st["ended"]
    assert st["stdout_bytes"] == len("got:one\ngot:two\ngot:three\n")
    assert not st["stdin_open"]
    # Ended: stdin and signals are refused, the output stays readable.
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/processes/{pid}/stdin", b"x")
    assert status == 409 and error_code(data) == "process_ended"
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/processes/{pid}/signal",
                                  {"signal": "TERM"})
    assert status == 409 and error_code(data) == "process_ended"
    assert text_of(output_lines(server, sid, pid, follow=False), "stdout").startswith("got:one")
    listed = server.json("GET", f"/v1/sandboxes/{sid}/processes")["processes"]
    assert [q["pid"] for q in listed] == [pid]


def test_signal_and_follow_zero(server):
    sid = server.create()["id"]
    pid = spawn(server, sid, {"argv": ["sh", "-c", "echo ready; exec sleep 600"]})["pid"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = output_lines(server, sid, pid, follow=False)
        if lines:
            break
        time.sleep(0.05)
    # Running: what is buffered so far, no exit line.
    assert lines == [{"stream": "stdout", "data": "ready\n"}]
    for bad in ({"signal": "NOPE"}, {"signal": 0}, {"sig": "TERM"}, [1]):
        status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/processes/{pid}/signal", bad)
        assert status == 400 and error_code(data) == "bad_request", bad
    server.json("POST", f"/v1/sandboxes/{sid}/processes/{pid}/signal", {"signal": "SIGTERM"})
    p = wait_state(server, sid, pid)
    assert p["state"] == "signaled" and p["signal"] == 15 and p["exit_code"] is None
    pid = spawn(server, sid, {"argv": ["sleep", "600"]})["pid"]
    server.json("POST", f"/v1/sandboxes/{sid}/processes/{pid}/signal", {"signal": 9})
    assert wait_state(server, sid, pid)["signal"] == 9


def test_output_is_capped(server):
    sid = server.create()["id"]
    pid = spawn(server, sid, {"argv": ["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a"],
                              "output_max": "64K"})["pid"]
    p = wait_state(server, sid, pid)
    assert p["exit_code"] == 0 and p["stdout_bytes"] == 3000000
    assert p["output_dropped_bytes"] > 0
    lines = output_lines(server, sid, pid)
    assert "dropped" in lines[0]
    kept = len(text_of(lines, "stdout"))
    assert kept <= 64 * 1024 + 16 * 1024 and kept + lines[0]["dropped"] == 3000000
    assert lines[-1]["exit"]["exit_code"] == 0


def test_binary_output_and_timeout(server):
    sid = server.create()["id"]
    pid = spawn(server, sid, {"argv": ["printf", "\\377\\000a"], "output_encoding": "base64",
                              "stdin_eof": True})["pid"]
    import base64
    lines = output_lines(server, sid, pid)
    assert base64.b64decode(text_of(lines, "stdout")) == b"\xff\x00a"
    pid = spawn(server, sid, {"argv": ["sleep", "600"], "timeout": "1s"})["pid"]
    p = wait_state(server, sid, pid)
    assert p["timed_out"] and p["signal"] == 9


def test_errors(server):
    sid = server.create()["id"]
    base = f"/v1/sandboxes/{sid}/processes"
    for body in ({}, {"argv": []}, {"argv": ["true"], "stdin_eof": 1}, {"argv": ["true"], "x": 1},
                 b"{not json"):
        status, _, data = server.call("POST", base, body)
        assert status == 400 and error_code(data) == "bad_request", body
    status, _, data = server.call("POST", base, {"argv": ["no-such-command"]})
    assert status == 400 and error_code(data) == "command_not_found"
    status, _, data = server.call("GET", base + "/4242")
    assert status == 404 and error_code(data) == "process_not_found"
    status, _, data = server.call("GET", base + "/4242/output")
    assert status == 404
    assert server.call("GET", base + "/0")[0] == 404
    assert server.call("GET", base + "/12/nope")[0] == 404
    assert server.call("DELETE", base + "/12")[0] == 405
    status, _, data = server.call("GET", f"/v1/sandboxes/{'0' * 32}/processes")
    assert status == 404 and error_code(data) == "sandbox_not_found"
    pid = spawn(server, sid, {"argv": ["cat"]})["pid"]
    status, _, data = server.call("POST", f"{base}/{pid}/stdin", b"x" * (2 << 20))
    assert status == 413
    server.json("POST", f"{base}/{pid}/stdin?eof=1", b"")
    status, _, data = server.call("POST", f"{base}/{pid}/stdin", b"late")
    assert status == 409 and error_code(data) in ("stdin_closed", "process_ended")
    wait_state(server, sid, pid)
    # A process that does not read: what waits for its stdin is bounded.
    pid = spawn(server, sid, {"argv": ["sleep", "600"]})["pid"]
    statuses = [server.call("POST", f"{base}/{pid}/stdin", b"y" * (512 << 10))[0]
                for _ in range(4)]
    assert statuses[:2] == [200, 200] and statuses[-1] == 413, statuses
    status, _, data = server.call("POST", base, {"argv": ["true"], "stdin": "x" * (2 << 20)})
    assert status == 413 and error_code(data) == "too_large"


def test_process_bound(server):
    sid = server.create()["id"]
    pids = [spawn(server, sid, {"argv": ["sleep", "600"]})["pid"] for _ in range(16)]
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/processes", {"argv": ["true"]})
    assert status == 429 and error_code(data) == "too_many_processes"
    server.json("POST", f"/v1/sandboxes/{sid}/processes/{pids[0]}/signal", {"signal": "KILL"})
    wait_state(server, sid, pids[0])
    spawn(server, sid, {"argv": ["true"]})


def test_delete_ends_processes_and_streams(server):
    sid = server.create()["id"]
    pid = spawn(server, sid, {"argv": ["sh", "-c", "echo $$ > /workspace/pid; exec sleep 600"]})["pid"]
    before = {p for p in os.listdir("/proc") if p.isdigit()}
    import threading
    got = {}

    def follow():
        got["lines"] = output_lines(server, sid, pid)

    t = threading.Thread(target=follow)
    t.start()
    time.sleep(0.3)
    assert t.is_alive()
    server.json("DELETE", f"/v1/sandboxes/{sid}")
    t.join(30)
    assert not t.is_alive()
    assert got["lines"][-1]["exit"]["state"] == "lost"
    after = {p for p in os.listdir("/proc") if p.isdigit()}
    for p in after - before:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                assert b"sleep\x00600" not in f.read()
        except OSError:
            pass
    status, _, data = server.call("GET", f"/v1/sandboxes/{sid}/processes/{pid}")
    assert status == 404


def test_output_budget(tmp_path):
    # --max-output 1M: the processes of one sandbox keep 2 MiB of output at most.
    s = Server(tmp_path, "--max-output", "1M")
    try:
        sid = s.create()["id"]
        a = spawn(s, sid, {"argv": ["sleep", "600"], "output_max": "1M"})["pid"]
        spawn(s, sid, {"argv": ["sleep", "600"], "output_max": "1M"})
        status, _, data = s.call("POST", f"/v1/sandboxes/{sid}/processes",
                                 {"argv": ["true"], "output_max": "1K"})
        assert status == 429 and error_code(data) == "too_many_processes", data
        s.json("POST", f"/v1/sandboxes/{sid}/processes/{a}/signal", {"signal": "KILL"})
        wait_state(s, sid, a)
        spawn(s, sid, {"argv": ["true"], "output_max": "1K"})  # the ended one makes room
        pids = [p["pid"] for p in s.json("GET", f"/v1/sandboxes/{sid}/processes")["processes"]]
        assert a not in pids and len(pids) == 2
    finally:
        assert s.stop() == 0
