"""Sandboxes on images, snapshots and volumes of the store: corral run
--image / --from / --state / --volume (docs/store.md).

The image is a tiny root tree built here: a shell and a few coreutils with
their libraries, copied from the host. Every test uses its own store
(--state-dir in tmp_path) and is also a leak test (conftest.leak_check).
"""

import json
import os
import pwd
import shutil
import stat
import subprocess

import pytest

from conftest import (EXIT_FAILURE, as_user, assert_ok, assert_one_line_error, corral_raw, popen,
                      run)

TOOLS = ("sh", "cat", "ls", "mkdir", "rm", "ln", "chmod", "stat", "mv", "id", "touch", "head",
         "echo", "readlink", "sleep")


def _libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    for line in out.splitlines():
        for word in line.split():
            if word.startswith("/"):
                yield word


def give_to_user(root):
    if not as_user():
        return root
    pw = pwd.getpwnam(as_user())
    os.lchown(root, pw.pw_uid, pw.pw_gid)
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lchown(os.path.join(parent, name), pw.pw_uid, pw.pw_gid)
    return root


def make_rootfs(root):
    """A minimal root: /usr/bin tools (bin -> usr/bin), their libraries,
    and a few files to change."""
    (root / "usr" / "bin").mkdir(parents=True)
    os.symlink("usr/bin", root / "bin")
    for tool in TOOLS:
        path = shutil.which(tool)
        if not path:
            pytest.skip(f"the host has no {tool}")
        path = os.path.realpath(path)
        shutil.copy2(path, root / "usr" / "bin" / tool)
        for lib in _libraries(path):
            dest = root / lib.lstrip("/")
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(os.path.realpath(lib), dest)
    (root / "etc").mkdir()
    (root / "etc" / "motd").write_text("from the image\n")
    os.chmod(root / "etc" / "motd", 0o666)
    (root / "srv" / "data").mkdir(parents=True)
    (root / "srv" / "data" / "a").write_text("a\n")
    (root / "srv" / "data" / "b").write_text("b\n")
    for d in (root / "srv", root / "srv" / "data"):
        os.chmod(d, 0o777)
    return give_to_user(root)


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def image(tmp_path, store):
    src = make_rootfs(tmp_path / "rootfs")
    assert_ok(corral_raw("image", "import", src, "base", "--state-dir", store))
    return "base"


def sh(store, script, *opts, **kwargs):
    return run("--state-dir", store, *opts, "--", "sh", "-c", script, **kwargs)


def test_image_is_the_root_and_stays_unchanged(store, image):
    proc = assert_ok(sh(store, "cat /etc/motd; ls /usr/bin | wc -l 2>/dev/null; "
                        "echo x > /tmp/t && cat /tmp/t; echo h > ~/h && cat ~/h; "
                        "rm /srv/data/a; echo c > /srv/data/c; ls /srv/data; "
                        "test -e /usr/lib/python3 || echo no-host-usr", "--image", image))
    lines = proc.stdout.split()
    assert lines[0:3] == ["from", "the", "image"]
    assert "x" in lines and "h" in lines and "no-host-usr" in lines
    assert "b" in lines and "c" in lines and "a" not in lines[lines.index("b") - 1:]
    # A second sandbox sees the image as it was.
    proc = assert_ok(sh(store, "ls /srv/data; ls /tmp; ls ~", "--image", image))
    assert proc.stdout.split() == ["a", "b"]


def test_oci_image(tmp_path, store):
    import gzip
    import hashlib
    import io
    import tarfile
    src = make_rootfs(tmp_path / "rootfs")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(src, arcname=".")
    blob = gzip.compress(raw.getvalue())
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    oci = tmp_path / "oci"
    (oci / "blobs" / "sha256").mkdir(parents=True)

    def put(data):
        digest = hashlib.sha256(data).hexdigest()
        (oci / "blobs" / "sha256" / digest).write_bytes(data)
        return {"digest": "sha256:" + digest, "size": len(data)}

    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(blob)}],
    }).encode()
    (oci / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       **put(manifest)}]}))
    (oci / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    give_to_user(oci)
    assert_ok(corral_raw("image", "import", f"oci:{oci}", "ociimg", "--state-dir", store))
    proc = assert_ok(sh(store, "cat /etc/motd; id -u", "--image", "ociimg"))
    assert proc.stdout == "from the image\n1000\n"


def test_siblings_do_not_see_each_other(store, image):
    procs = [popen("--state-dir", store, "--image", image, "--", "sh", "-c",
                   f"echo {i} > /srv/data/mine-{i}; sleep 0.3 2>/dev/null; ls /srv/data")
             for i in range(4)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert out.decode().split() == ["a", "b", f"mine-{i}"]


def test_state_persists_across_runs(tmp_path, store, image):
    state = tmp_path / "state"
    assert_ok(sh(store, "echo 1 > ~/counter; rm /srv/data/a", "--image", image,
                 "--state", state))
    assert json.loads((state / "sandbox.json").read_text()) == {"image": "base",
                                                                "snapshot": None}
    proc = assert_ok(sh(store, "cat ~/counter; ls /srv/data", "--state", state))
    assert proc.stdout.split() == ["1", "b"]
    # The state dir runs on what it recorded, nothing else.
    assert_one_line_error(sh(store, "true", "--state", state, "--from", "nope"), EXIT_FAILURE,
                          "--from nope: no such snapshot")


def test_state_in_use_is_refused(tmp_path, store, image):
    state = tmp_path / "state"
    assert_ok(sh(store, "echo 1 > ~/f", "--image", image, "--state", state))
    busy = popen("--state-dir", store, "--state", state, "--", "sh", "-c",
                 "echo up; sleep 30", stdout=subprocess.PIPE)
    try:
        assert busy.stdout.readline() == b"up\n"
        assert_one_line_error(sh(store, "true", "--state", state), EXIT_FAILURE,
                              f"--state {state}: in use by a running sandbox")
        assert_one_line_error(
            corral_raw("snapshot", "create", "--state", state, "s", "--state-dir", store), 2,
            "in use by a running sandbox")
    finally:
        busy.terminate()
        busy.communicate(timeout=30)
    assert_ok(corral_raw("snapshot", "create", "--state", state, "s", "--state-dir", store))


def _mutate(store, image, state):
    script = (
        "echo data > ~/file && chmod 640 ~/file && "
        "mkdir ~/dir && chmod 710 ~/dir && "
        "ln -s file ~/link && "
        "rm /srv/data/a && "                          # a whiteout
        "rm -r /srv/data && mkdir /srv/data && "      # an opaque directory
        "echo new > /srv/data/n && "
        "echo changed > /etc/motd")
    assert_ok(sh(store, script, "--image", image, "--state", state))


def test_snapshot_round_trip(tmp_path, store, image):
    state = tmp_path / "state"
    _mutate(store, image, state)
    assert_ok(corral_raw("snapshot", "create", "--state", state, "snap", "--state-dir", store))
    proc = assert_ok(sh(store, "cat ~/file; stat -c '%a %u %g' ~/file ~/dir; readlink ~/link; "
                        "ls /srv/data; cat /etc/motd", "--from", "snap"))
    assert proc.stdout.split("\n") == ["data", "640 1000 1000", "710 1000 1000", "file", "n",
                                       "changed", ""]
    # The image itself is untouched.
    proc = assert_ok(sh(store, "ls /srv/data; cat /etc/motd", "--image", image))
    assert proc.stdout.split() == ["a", "b", "from", "the", "image"]


def test_xattrs_survive_copy_up_and_snapshot(tmp_path, store):
    src = make_rootfs(tmp_path / "rootfs")
    os.setxattr(src / "etc" / "motd", "user.origin", b"image")
    assert_ok(corral_raw("image", "import", src, "base", "--state-dir", store))
    state = tmp_path / "state"
    assert_ok(sh(store, "echo appended >> /etc/motd", "--image", "base", "--state", state))
    assert_ok(corral_raw("snapshot", "create", "--state", state, "snap", "--state-dir", store))
    info = json.loads(assert_ok(corral_raw("snapshot", "inspect", "snap", "--json",
                                           "--state-dir", store)).stdout)
    top = info["layers"][0]
    assert os.getxattr(os.path.join(top, "etc", "motd"), "user.origin") == b"image"
    proc = assert_ok(sh(store, "cat /etc/motd", "--from", "snap"))
    assert proc.stdout == "from the image\nappended\n"


def test_many_sandboxes_from_one_snapshot(tmp_path, store, image):
    state = tmp_path / "state"
    _mutate(store, image, state)
    assert_ok(corral_raw("snapshot", "create", "--state", state, "snap", "--state-dir", store))
    procs = [popen("--state-dir", store, "--from", "snap", "--", "sh", "-c",
                   f"cat ~/file; echo {i} > ~/file; ls /srv/data; cat ~/file")
             for i in range(6)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert out.decode().split() == ["data", "n", str(i)]


def test_from_snapshot_with_state_stacks(tmp_path, store, image):
    s1 = tmp_path / "s1"
    _mutate(store, image, s1)
    assert_ok(corral_raw("snapshot", "create", "--state", s1, "one", "--state-dir", store))
    s2 = tmp_path / "s2"
    assert_ok(sh(store, "echo more >> ~/file", "--from", "one", "--state", s2))
    assert json.loads((s2 / "sandbox.json").read_text())["snapshot"] == "one"
    assert_ok(corral_raw("snapshot", "create", "--state", s2, "two", "--state-dir", store))
    proc = assert_ok(sh(store, "cat ~/file", "--from", "two"))
    assert proc.stdout == "data\nmore\n"


def test_volumes_persist_and_ro(store, image):
    assert_ok(corral_raw("volume", "create", "v", "--state-dir", store))
    assert_ok(sh(store, "echo kept > /data/f", "--image", image, "--volume", "v:/data"))
    proc = assert_ok(sh(store, "cat /data/f; stat -c %u /data/f", "--image", image,
                        "--volume", "v:/data"))
    assert proc.stdout == "kept\n1000\n"
    proc = sh(store, "cat /data/f; echo x > /data/g", "--image", image, "--volume", "v:/data:ro")
    assert proc.returncode != 0 and proc.stdout == "kept\n"
    assert "Read-only file system" in proc.stderr
    # Volumes work on the host's root as well.
    proc = assert_ok(run("--state-dir", store, "--volume", "v:/data", "--", "cat", "/data/f"))
    assert proc.stdout == "kept\n"


def _rootless():
    return bool(as_user()) or os.geteuid() != 0


def test_volume_size_limit(store, image, tmp_path):
    """As root the limit is an ext4 file system of that size: writing past
    it fails with ENOSPC inside, what fits persists. Rootless it is
    recorded only, and the run report says so."""
    assert_ok(corral_raw("volume", "create", "v", "--size", "8M", "--state-dir", store))
    report = tmp_path / "report.json"
    assert_ok(sh(store, "echo kept > /data/f", "--image", image, "--volume", "v:/data",
                 "--report", report))
    weaker = json.loads(report.read_text())["enforcement"]["weaker"]
    if _rootless():
        assert "volume v: its size limit (8388608 bytes) is not enforced" in weaker
        return
    assert "volume v" not in (weaker or "")
    proc = sh(store, "head -c 4000000 /dev/zero > /data/small && echo small; "
                     "head -c 9000000 /dev/zero > /data/big", "--image", image,
              "--volume", "v:/data")
    assert proc.returncode != 0 and proc.stdout == "small\n"
    assert "No space left on device" in proc.stderr
    proc = assert_ok(sh(store, "cat /data/f; stat -c '%s %u' /data/small; rm /data/big",
                        "--image", image, "--volume", "v:/data"))
    assert proc.stdout == "kept\n4000000 1000\n"
    # Works on the host-mirroring root too, read-only as well.
    proc = assert_ok(run("--state-dir", store, "--volume", "v:/data:ro", "--", "cat", "/data/f"))
    assert proc.stdout == "kept\n"
    # One sandbox at a time mounts the file system.
    busy = popen("--state-dir", store, "--volume", "v:/data", "--", "sh", "-c",
                 "echo up; sleep 60", stdout=subprocess.PIPE)
    try:
        assert busy.stdout.readline() == b"up\n"
        assert_one_line_error(run("--state-dir", store, "--volume", "v:/data", "--", "true"),
                              EXIT_FAILURE, "--volume v: in use by another sandbox")
    finally:
        busy.kill()
        busy.communicate(timeout=30)
    assert_ok(run("--state-dir", store, "--volume", "v:/data", "--", "true"))
    assert_one_line_error(
        corral_raw("volume", "create", "w", "--size", "100K", "--state-dir", store), 2,
        "at least 256K")
    assert_ok(corral_raw("volume", "rm", "v", "--state-dir", store))


def test_disk_limits_the_tmpfs_upper(store, image):
    proc = sh(store, "head -c 3000000 /dev/zero > ~/big", "--image", image, "--disk", "1M")
    assert proc.returncode != 0
    assert "No space left on device" in proc.stderr
    assert_ok(sh(store, "head -c 300000 /dev/zero > ~/small", "--image", image, "--disk", "1M"))


@pytest.mark.parametrize("opts,fragment", [
    (["--image", "nope"], "--image nope: no such image in "),
    (["--from", "nope"], "--from nope: no such snapshot in "),
    (["--image", "base", "--volume", "nope:/data"], "--volume nope: no such volume in "),
    (["--image", "base", "--volume", "v:/proc/x"], "--volume /proc/x: target is reserved"),
    (["--image", "base", "--volume", "v:data"], "--volume data: must be an absolute path"),
    (["--image", "base", "--volume", "v"], "--volume v: expected NAME:/PATH[:ro]"),
    (["--image", "bad/name"], "--image bad/name: not a valid name"),
    (["--image", "base", "--from", "base"], "--image and --from exclude each other"),
])
def test_bad_inputs(tmp_path, store, image, opts, fragment):
    state = tmp_path / "state"
    proc = run("--state-dir", store, "--state", state, *opts, "--", "true")
    assert_one_line_error(proc, EXIT_FAILURE, fragment)
    assert not state.exists()
    assert os.listdir(store / "tmp") == []


def test_state_without_image(tmp_path, store):
    state = tmp_path / "state"
    proc = run("--state-dir", store, "--state", state, "--", "true")
    assert_one_line_error(proc, EXIT_FAILURE, "needs --image or --from")
    assert not state.exists()


def test_print_policy_and_json(tmp_path, store):
    proc = assert_ok(run("--state-dir", store, "--image", "base", "--state", tmp_path / "s",
                         "--volume", "v:/data:ro", "--print-policy"))
    policy = json.loads(proc.stdout)
    assert policy["image"] == "base" and policy["from"] is None
    assert policy["state"] == str(tmp_path / "s") and policy["state_dir"] == str(store)
    assert policy["volumes"] == [{"name": "v", "target": "/data", "readonly": True}]
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({k: policy[k] for k in ("image", "state_dir", "volumes")}))
    again = json.loads(assert_ok(run("--profile", profile, "--print-policy")).stdout)
    assert again["volumes"] == policy["volumes"] and again["image"] == "base"
    profile.write_text(json.dumps({"volumes": [{"name": "v"}]}))
    assert_one_line_error(run("--profile", profile, "--print-policy"), EXIT_FAILURE,
                          "volumes[0]")


def test_layers_in_use_are_leased(tmp_path, store, image):
    """A running sandbox keeps the layers it runs on: rm refuses them, gc
    leaves them; once it ends (or crashes: the leases are flocks), both
    go ahead."""
    state = tmp_path / "state"
    assert_ok(sh(store, "echo 1 > ~/f", "--image", image, "--state", state))
    assert_ok(corral_raw("snapshot", "create", "--state", state, "s", "--state-dir", store))
    on_image = popen("--state-dir", store, "--image", image, "--", "sh", "-c",
                     "echo up; sleep 60", stdout=subprocess.PIPE)
    on_snap = popen("--state-dir", store, "--from", "s", "--", "sh", "-c",
                    "echo up; sleep 60", stdout=subprocess.PIPE)
    try:
        assert on_image.stdout.readline() == b"up\n"
        assert on_snap.stdout.readline() == b"up\n"
        assert_one_line_error(corral_raw("snapshot", "rm", "s", "--state-dir", store), 2,
                              "snapshot rm s: in use by a running sandbox")
        gc = json.loads(assert_ok(corral_raw("gc", "--json", "--state-dir", store)).stdout)
        assert gc["layers_removed"] == 0
        on_snap.kill()  # a crash releases its lease too
        on_snap.communicate(timeout=30)
        assert_ok(corral_raw("snapshot", "rm", "s", "--state-dir", store))
        assert_one_line_error(corral_raw("image", "rm", image, "--state-dir", store), 2,
                              f"image rm {image}: in use by a running sandbox")
        assert_ok(sh(store, "cat /etc/motd", "--image", image))
    finally:
        for p in (on_image, on_snap):
            p.kill()
            p.communicate(timeout=30)
    assert_ok(corral_raw("image", "rm", image, "--state-dir", store))
    gc = json.loads(assert_ok(corral_raw("gc", "--json", "--state-dir", store)).stdout)
    assert gc["layers_removed"] == 2
