"""Snapshots of running sandboxes through corral serve
(POST /v1/sandboxes/{id}/snapshots, docs/api.md): files, modes, symlinks
and deletions of a live sandbox kept in a snapshot of the server's store;
its processes frozen for the copy and running again after; sandboxes
forked from one snapshot isolated from each other."""

import json

import pytest

from conftest import assert_ok, corral_raw
from serve_helpers import Server, error_code
from test_images import make_rootfs


@pytest.fixture
def store(tmp_path):
    src = make_rootfs(tmp_path / "rootfs")
    st = tmp_path / "store"
    assert_ok(corral_raw("image", "import", src, "base", "--state-dir", st))
    return st


@pytest.fixture
def server(tmp_path, store):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"state_dir": str(store)}))
    policy.chmod(0o644)
    s = Server(tmp_path, "--policy", str(policy), "--max-sandboxes", "4")
    yield s
    assert s.stop() == 0


def sh(server, sid, script):
    r = server.exec(sid, {"argv": ["sh", "-c", script]})
    assert r["exit_code"] == 0, r
    return r["stdout"]


def test_snapshot_of_a_running_sandbox(server, store):
    sid = server.create({"image": "base"})["id"]
    assert sh(server, sid, "pwd") == "/workspace\n"
    sh(server, sid, "echo data > /workspace/file; chmod 640 /workspace/file; "
                    "mkdir -p /workspace/dir; ln -s file /workspace/link; rm /srv/data/a; "
                    "echo home > ~/h")
    # A counter that runs across the snapshot: frozen, then thawed.
    sh(server, sid, "(i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done) "
                    ">/dev/null 2>&1 &")
    snap = server.json("POST", f"/v1/sandboxes/{sid}/snapshots", {"name": "s1"}, expect=201)
    assert snap["name"] == snap["id"] == "s1"
    assert snap["image"] == "base" and snap["parent"] is None
    assert snap["bytes"] > 0 and snap["created"] > 0
    before = int(sh(server, sid, "cat /tmp/count"))
    sh(server, sid, "sleep 0.5")
    assert int(sh(server, sid, "cat /tmp/count")) > before
    # A name that is taken, and a generated one.
    status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/snapshots", {"name": "s1"})
    assert status == 400 and b"s1" in data
    gen = server.json("POST", f"/v1/sandboxes/{sid}/snapshots", expect=201)
    assert gen["name"].startswith(sid)
    listed = json.loads(assert_ok(corral_raw("snapshot", "ls", "--json", "--state-dir",
                                             store)).stdout)
    assert {s["name"] for s in listed} == {"s1", gen["name"]}

    fork = server.create({"from": "s1"})["id"]
    out = sh(server, fork, "cat /workspace/file; stat -c %a /workspace/file; "
                           "readlink /workspace/link; ls /srv/data; cat ~/h; "
                           "test -d /workspace/dir && echo dir")
    assert out == "data\n640\nfile\nb\nhome\ndir\n"
    server.json("DELETE", f"/v1/sandboxes/{sid}")
    server.json("DELETE", f"/v1/sandboxes/{fork}")


def test_forks_are_isolated(server):
    sid = server.create({"image": "base"})["id"]
    sh(server, sid, "echo parent > /workspace/f")
    server.json("POST", f"/v1/sandboxes/{sid}/snapshots", {"name": "p"}, expect=201)
    a = server.create({"from": "p"})["id"]
    b = server.create({"from": "p"})["id"]
    sh(server, a, "echo a > /workspace/f; touch /workspace/only-a")
    assert sh(server, b, "cat /workspace/f; ls /workspace") == "parent\nf\n"
    assert sh(server, sid, "cat /workspace/f") == "parent\n"
    # A snapshot of a fork stacks on its snapshot.
    snap = server.json("POST", f"/v1/sandboxes/{a}/snapshots", {"name": "pa"}, expect=201)
    assert snap["parent"] == "p"
    c = server.create({"from": "pa"})["id"]
    assert sh(server, c, "cat /workspace/f; ls /workspace") == "a\nf\nonly-a\n"
    for x in (sid, a, b, c):
        server.json("DELETE", f"/v1/sandboxes/{x}")


def test_refusals(server):
    plain = server.create()["id"]
    status, _, data = server.call("POST", f"/v1/sandboxes/{plain}/snapshots", {})
    assert status == 409 and error_code(data) == "not_on_image"
    assert b"image or snapshot" in data
    sid = server.create({"image": "base"})["id"]
    for body in (b"[1]", {"name": 3}, {"other": "x"}, {"name": "../x"}):
        status, _, data = server.call("POST", f"/v1/sandboxes/{sid}/snapshots", body)
        assert status == 400 and error_code(data) == "bad_request", data
    status, _, data = server.call("POST", "/v1/sandboxes", {"image": "nope"})
    assert status == 400 and b"nope" in data
    server.json("DELETE", f"/v1/sandboxes/{sid}")
    server.json("DELETE", f"/v1/sandboxes/{plain}")


def test_python_client(server):
    from corral import client
    with client.Sandbox(image="base", client=client.Client(socket=server.sock)) as sb:
        sb.files.write_text("/workspace/x", "kept\n")
        name = sb.snapshot()
        assert name.startswith(sb.id)
    with client.Sandbox(from_snapshot=name, client=client.Client(socket=server.sock)) as sb:
        assert sb.files.read_text("/workspace/x") == "kept\n"
        assert sb.run("cat", "/workspace/x").stdout == "kept\n"
