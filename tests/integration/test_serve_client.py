"""The Python client (clients/python) end to end against a real daemon."""
import os

import pytest

from conftest import as_user
from serve_helpers import TOKEN, Server

import corral as client  # clients/python, put on sys.path by serve_helpers


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path, "--max-sandboxes", "2", "--max-file-size", "1M", tcp=True)
    yield s
    assert s.stop() == 0


def test_run_files_stream(server):
    with client.Sandbox(memory="256M", timeout="20s", env={"X": "1"}, socket=server.sock) as sb:
        r = sb.run("sh", "-c", "echo $X; cat", stdin="in")
        assert (r.exit_code, r.stdout, r.stderr, r.ok) == (0, "1\nin", "", True)
        assert sb.run("false").exit_code == 1
        assert sb.run("sh", "-c", "cat | wc -c", stdin=b"\x00\x01\x02").stdout.strip() == "3"
        assert sb.run("sleep", "10", timeout=0.3).timed_out
        sb.files.write_text("/workspace/hello.py", "print('hi from python')\n")
        assert sb.run("python3", "hello.py").stdout == "hi from python\n"
        sb.files.write_bytes("/workspace/blob", b"\xff" * 10)
        assert sb.files.read_bytes("/workspace/blob") == b"\xff" * 10
        assert sb.files.read_text("/workspace/hello.py").startswith("print")
        assert sorted(e["name"] for e in sb.files.list()) == ["blob", "hello.py"]
        sb.files.remove("/workspace/blob")
        with pytest.raises(client.NotFound) as e:
            sb.files.read_bytes("/workspace/blob")
        assert e.value.code == "file_not_found" and e.value.status == 404
        with pytest.raises(client.TooLarge):
            sb.files.write_bytes("/workspace/big", b"x" * (2 << 20))
        events = list(sb.stream("sh", "-c", "echo out; echo err >&2; exit 2"))
        assert [(e.kind, e.data) for e in events[:-1]] == [("stdout", "out\n"), ("stderr", "err\n")]
        assert events[-1].kind == "exit" and events[-1].result.exit_code == 2
        with pytest.raises(client.Conflict) as e:
            sb.snapshot()
        assert e.value.code == "not_on_image"
        sid = sb.id
    with pytest.raises(client.NotFound):
        client.Client(socket=server.sock).json("GET", f"/v1/sandboxes/{sid}")


def test_errors_and_tcp(server):
    url = f"http://127.0.0.1:{server.port}"
    with pytest.raises(client.Unauthorized):
        client.Sandbox(url=url, token="nope" * 5)
    with pytest.raises(client.BadRequest) as e:
        client.Sandbox(memory="lots", socket=server.sock)
    assert e.value.code == "bad_policy"
    with client.Sandbox(url=url, token=TOKEN) as a, client.Sandbox(socket=server.sock):
        assert a.run("echo", "ok").stdout == "ok\n"
        with pytest.raises(client.RateLimited):
            client.Sandbox(socket=server.sock)
    assert client.Client(socket=server.sock).sandboxes() == []


def test_conflict_after_oom(server):
    if as_user() or os.geteuid() != 0:
        pytest.skip("rootless on this host: memory is an rlimit (no memory cgroup), so a "
                    "failed allocation fails the command, not the sandbox")
    with client.Sandbox(memory="64M", socket=server.sock) as sb:
        sb.run("python3", "-c", "b = bytearray(512 << 20); b[::4096] = b'x' * len(b[::4096])")
        import time
        deadline = time.monotonic() + 10
        while sb.status()["state"] != "ended":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        with pytest.raises(client.Conflict):
            sb.run("true")


def test_processes_network_usage(server):
    with client.Sandbox(socket=server.sock) as sb:
        p = sb.spawn("sh", "-c", "while read l; do echo got:$l; done; echo bye >&2")
        p.write_stdin("a\n")
        p.write_stdin(b"b\n")
        p.close_stdin()
        events = list(p.output())
        out = "".join(e.data for e in events if e.kind == "stdout")
        assert out == "got:a\ngot:b\n"
        assert "".join(e.data for e in events if e.kind == "stderr") == "bye\n"
        assert events[-1].kind == "exit" and events[-1].result.exit_code == 0
        st = p.wait()
        assert st.state == "exited" and st.exit_code == 0 and not st.running
        q = sb.spawn("sleep", "600")
        assert q.status().running
        q.signal("TERM")
        assert q.wait().signal == 15
        with pytest.raises(client.Conflict) as e:
            q.write_stdin("late")
        assert e.value.code == "process_ended"
        assert {x.pid for x in sb.processes()} == {p.pid, q.pid}
        assert set(sb.usage()) == {"cpu_ns", "memory_peak_bytes", "memory_current_bytes", "pids"}
        with pytest.raises(client.Conflict) as e:
            sb.set_network(["example.com"])
        assert e.value.code == "no_network"
