"""corral serve: usage of a running sandbox (from its cgroup) and its
network rules changed while it runs."""
import os

import pytest

from conftest import as_user
from serve_helpers import Server, error_code


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path, "--max-sandboxes", "3", "--max-ttl", "1h")
    yield s
    assert s.stop() == 0, s.stderr()[-2000:]


def test_usage_while_running(server):
    sid = server.create()["id"]
    server.exec(sid, {"argv": ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]})
    pid = server.json("POST", f"/v1/sandboxes/{sid}/processes",
                      {"argv": ["sleep", "600"]}, expect=201)["pid"]
    u = server.json("GET", f"/v1/sandboxes/{sid}")["usage"]
    assert set(u) == {"cpu_ns", "memory_peak_bytes", "memory_current_bytes", "pids"}
    if u["cpu_ns"] is None:
        # No cgroup for this caller: nothing is measurable, and says so.
        assert as_user() or os.geteuid() != 0
        assert all(v is None for v in u.values())
        return
    assert u["cpu_ns"] > 10_000_000  # the busy loop above
    assert u["pids"] >= 2            # init, the spawner and sleep at least
    assert u["memory_current_bytes"] > 0
    if u["memory_peak_bytes"] is not None:
        assert u["memory_peak_bytes"] >= u["memory_current_bytes"]
    server.json("POST", f"/v1/sandboxes/{sid}/processes/{pid}/signal", {"signal": "KILL"})


def test_network_rules(server):
    plain = server.create()["id"]
    status, _, data = server.call("PUT", f"/v1/sandboxes/{plain}/network",
                                  {"allow": ["example.com"]})
    assert status == 409 and error_code(data) == "no_network", data
    for bad in ({}, {"allow": "example.com"}, {"allow": [1]}, {"allow": [""]},
                {"allow": [], "x": 1}, b"nope"):
        status, _, data = server.call("PUT", f"/v1/sandboxes/{plain}/network", bad)
        assert status == 400 and error_code(data) == "bad_request", bad
    assert server.call("GET", f"/v1/sandboxes/{plain}/network")[0] == 405
    status, _, data = server.call("PUT", f"/v1/sandboxes/{'0' * 32}/network", {"allow": []})
    assert status == 404
    status, _, data = server.call("POST", "/v1/sandboxes",
                                  {"network": {"allow": ["example.com"]}})
    if status != 201:
        pytest.skip(f"no network egress for this caller on this host: {data[:200]!r}")
    sid = __import__("json").loads(data)["id"]
    r = server.json("PUT", f"/v1/sandboxes/{sid}/network", {"allow": ["example.org", "*.x.test"]})
    assert r == {"allow": ["example.org", "*.x.test"]}
    status, _, data = server.call("PUT", f"/v1/sandboxes/{sid}/network",
                                  {"allow": ["exa mple..com:99999"]})
    assert status == 400 and error_code(data) == "bad_rules", data
    # The sandbox runs on with the rules it had.
    assert server.exec(sid, {"argv": ["true"]})["exit_code"] == 0
