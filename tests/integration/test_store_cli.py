"""The store's command line: corral image / snapshot / volume / gc.

Every test uses its own store (--state-dir in tmp_path). Failures must be
one "corral: ..." line with exit code 2 for wrong input (bad names, missing
directories, unknown images...) or 125 when corral itself fails, and must
leave nothing behind in the store.
"""

import gzip
import hashlib
import io
import json
import os
import signal
import pwd
import sqlite3
import stat
import subprocess
import tarfile
import time

import pytest

from conftest import (EXIT_FAILURE, STARTED_PIDS, as_user, assert_ok, assert_one_line_error,
                      corral_argv, corral_raw, is_root)

EXIT_USAGE = 2


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"


def c(store, *args):
    return corral_raw(*args, "--state-dir", store)


def listing(store, kind):
    proc = assert_ok(c(store, kind, "ls", "--json"))
    return json.loads(proc.stdout)


def assert_store_clean(store):
    """Nothing half-done: no build in tmp/, no layer the catalogue does not
    list."""
    if not store.exists():
        return
    assert os.listdir(store / "tmp") == []
    listed = set()
    for img in listing(store, "image"):
        listed.add(img["name"])
    layers = set(os.listdir(store / "layers"))
    gc = json.loads(assert_ok(c(store, "gc", "--json")).stdout)
    assert gc["leftovers_removed"] == 0
    assert len(layers) - gc["layers_removed"] == len(os.listdir(store / "layers"))


def give_to_user(root):
    """Under CORRAL_TEST_AS_USER, corral runs as that user: the trees it
    imports must be theirs, as they would be in real use."""
    if not as_user():
        return root
    pw = pwd.getpwnam(as_user())
    os.lchown(root, pw.pw_uid, pw.pw_gid)
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lchown(os.path.join(parent, name), pw.pw_uid, pw.pw_gid)
    return root


def make_tree(root):
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "conf").write_text("conf\n")
    os.chmod(root / "etc" / "conf", 0o640)
    os.link(root / "etc" / "conf", root / "etc" / "conf-link")
    os.symlink("etc/conf", root / "link")
    os.utime(root / "etc" / "conf", (1000000000, 1000000000))
    return give_to_user(root)


def test_image_import_list_remove(store, tmp_path):
    src = make_tree(tmp_path / "src")
    proc = assert_ok(c(store, "image", "import", src, "base"))
    assert proc.stderr == ""
    images = listing(store, "image")
    assert [i["name"] for i in images] == ["base"]
    assert images[0]["layers"] == 1 and images[0]["bytes"] == 5
    text = assert_ok(c(store, "image", "ls")).stdout.splitlines()
    assert text[0].split()[:2] == ["NAME", "LAYERS"]
    assert text[1].split()[:2] == ["base", "1"]

    (layer,) = os.listdir(store / "layers")
    copy = store / "layers" / layer
    st = os.stat(copy / "etc" / "conf")
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_mtime == 1000000000
    assert st.st_nlink == 2 and os.stat(copy / "etc" / "conf-link").st_ino == st.st_ino
    assert os.readlink(copy / "link") == "etc/conf"

    assert_one_line_error(c(store, "image", "import", src, "base"), EXIT_USAGE,
                          "image import base: an image named 'base' already exists")
    assert_ok(c(store, "image", "rm", "base"))
    assert listing(store, "image") == []
    gc = json.loads(assert_ok(c(store, "gc", "--json")).stdout)
    assert gc == {"layers_removed": 1, "leftovers_removed": 0, "bytes_freed": 5}
    assert os.listdir(store / "layers") == []
    assert assert_ok(c(store, "gc")).stdout == "removed 0 layers and 0 leftovers, freed 0B\n"


def _tar_gz(entries):
    """entries: (name, content-or-None-for-dir)"""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1500000000
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def make_oci(root, layers, tamper=False):
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return digest

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    config = blob(json.dumps({"architecture": arch, "os": "linux"}).encode())
    descs = []
    for entries in layers:
        data = _tar_gz(entries)
        digest = blob(data)
        if tamper:
            (blobs / digest).write_bytes(_tar_gz([("evil", b"evil")]))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": "sha256:" + digest, "size": len(data)})
    manifest = blob(json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + config},
        "layers": descs}).encode())
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:" + manifest}]}))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return root


LOWER = [("etc", None), ("etc/keep", b"lower\n"), ("opt/dir/old", b"old\n")]
UPPER = [("etc/.wh.keep", b""), ("opt/dir/.wh..wh..opq", b""), ("opt/dir/new", b"new\n")]


def test_oci_import(store, tmp_path):
    oci = make_oci(tmp_path / "oci", [LOWER, UPPER])
    assert_ok(c(store, "image", "import", f"oci:{oci}", "img"))
    (img,) = listing(store, "image")
    assert img["name"] == "img" and img["layers"] == 2
    # A rootless store marks opaque directories with overlayfs's userxattr
    # name; whiteouts are 0:0 character devices either way (Linux >= 5.8
    # lets anyone make those).
    opaque = "trusted.overlay.opaque" if is_root() and not as_user() else "user.overlay.opaque"
    tops = [d for d in os.listdir(store / "layers")
            if os.path.exists(store / "layers" / d / "opt" / "dir" / "new")]
    assert len(tops) == 1
    top = store / "layers" / tops[0]
    st = os.lstat(top / "etc" / "keep")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(top / "opt" / "dir", opaque) == b"y"
    assert not (top / "etc" / ".wh.keep").exists()


@pytest.mark.parametrize("layers,tamper,fragment", [
    ([[("f", b"x")]], True, "digest mismatch"),
    ([[("../escape", b"x")]], False, "'..' refused"),
    ([[("/abs", b"x")]], False, "absolute path refused"),
])
def test_oci_refused(store, tmp_path, layers, tamper, fragment):
    oci = make_oci(tmp_path / "oci", layers, tamper=tamper)
    line = assert_one_line_error(c(store, "image", "import", f"oci:{oci}", "bad"), EXIT_USAGE,
                                 fragment)
    assert line.startswith(f"corral: image import oci:{oci}: layer 1 (sha256:")
    assert listing(store, "image") == []
    assert os.listdir(store / "layers") == []
    assert_store_clean(store)
    assert not (tmp_path / "escape").exists()


def make_state(path, image, snapshot=None, files=()):
    (path / "upper").mkdir(parents=True)
    (path / "work").mkdir()
    for name, content in files:
        (path / "upper" / name).write_text(content)
    (path / "sandbox.json").write_text(json.dumps({"image": image, "snapshot": snapshot}))
    return give_to_user(path)


def test_snapshots(store, tmp_path):
    assert_ok(c(store, "image", "import", make_tree(tmp_path / "src"), "base"))
    s1 = make_state(tmp_path / "sb1", "base", files=[("added", "one\n")])
    assert_ok(c(store, "snapshot", "create", "--state", s1, "s1"))
    s2 = make_state(tmp_path / "sb2", "base", "s1", files=[("more", "two\n")])
    assert_ok(c(store, "snapshot", "create", "--state", s2, "s2"))

    snaps = listing(store, "snapshot")
    assert [(s["name"], s["image"], s["parent"], s["bytes"]) for s in snaps] == [
        ("s1", "base", None, 4), ("s2", "base", "s1", 4)]
    info = json.loads(assert_ok(c(store, "snapshot", "inspect", "s2", "--json")).stdout)
    assert len(info["layers"]) == 3
    assert info["layers"][0].endswith("/layers/" + info["layer"])
    assert (open(os.path.join(info["layers"][0], "more")).read()) == "two\n"
    assert (open(os.path.join(info["layers"][1], "added")).read()) == "one\n"
    text = assert_ok(c(store, "snapshot", "inspect", "s2")).stdout
    assert "parent:  s1" in text and "layers (top first):" in text

    assert_one_line_error(c(store, "image", "rm", "base"), EXIT_USAGE,
                          "snapshot 's1' depends on it")
    assert_one_line_error(c(store, "snapshot", "rm", "s1"), EXIT_USAGE,
                          "snapshot 's2' depends on it")
    assert_ok(c(store, "snapshot", "rm", "s2"))
    assert_ok(c(store, "snapshot", "rm", "s1"))
    assert_ok(c(store, "image", "rm", "base"))
    gc = json.loads(assert_ok(c(store, "gc", "--json")).stdout)
    assert gc["layers_removed"] == 3
    assert os.listdir(store / "layers") == []


@pytest.mark.skipif(not is_root(), reason="the test makes a whiteout with mknod as root")
def test_snapshot_keeps_whiteouts(store, tmp_path):
    assert_ok(c(store, "image", "import", make_tree(tmp_path / "src"), "base"))
    upper = tmp_path / "upper"
    upper.mkdir()
    os.mknod(upper / "link", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    assert_ok(c(store, "snapshot", "create", "--upper", upper, "--base", "base", "s"))
    info = json.loads(assert_ok(c(store, "snapshot", "inspect", "s", "--json")).stdout)
    st = os.lstat(os.path.join(info["layers"][0], "link"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def test_volumes(store):
    assert_ok(c(store, "volume", "create", "cache", "--size", "1G"))
    assert_ok(c(store, "volume", "create", "data"))
    vols = listing(store, "volume")
    assert [(v["name"], v["size_limit"]) for v in vols] == [("cache", 1 << 30), ("data", None)]
    assert vols[0]["path"] == str(store / "volumes" / "cache")
    (store / "volumes" / "data" / "kept").write_text("x")
    assert_one_line_error(c(store, "volume", "create", "data"), EXIT_USAGE,
                          "volume create data: already exists")
    text = assert_ok(c(store, "volume", "ls")).stdout.splitlines()
    assert text[1].split()[:2] == ["cache", "1G"]
    assert_ok(c(store, "volume", "rm", "data"))
    assert not (store / "volumes" / "data").exists()
    assert [v["name"] for v in listing(store, "volume")] == ["cache"]


def test_gc_removes_crash_leftovers(store, tmp_path):
    assert_ok(c(store, "image", "import", make_tree(tmp_path / "src"), "keep"))
    (kept,) = os.listdir(store / "layers")
    # A build interrupted in tmp/, a layer renamed into place but never
    # listed: neither shows up anywhere, gc removes both.
    (store / "tmp" / "0123").mkdir()
    (store / "tmp" / "0123" / "half").write_text("12345678")
    (store / "layers" / ("f" * 32)).mkdir()
    assert [i["name"] for i in listing(store, "image")] == ["keep"]
    gc = json.loads(assert_ok(c(store, "gc", "--json")).stdout)
    assert gc["layers_removed"] == 1 and gc["leftovers_removed"] == 1
    assert gc["bytes_freed"] == 8
    assert os.listdir(store / "layers") == [kept]
    assert os.listdir(store / "tmp") == []


BAD_INPUTS = [
    (["image", "import", "{missing}", "x"], EXIT_USAGE, "No such file or directory"),
    (["image", "import", "{src}", "bad name"], EXIT_USAGE, "image name 'bad name'"),
    (["image", "import", "{src}", ".hidden"], EXIT_USAGE, "image name '.hidden'"),
    (["image", "import", "{src}"], EXIT_USAGE, "expected SOURCE NAME"),
    (["image", "rm", "nope"], EXIT_USAGE, "image rm nope: no such image"),
    (["image", "frob"], EXIT_USAGE, "unknown subcommand 'frob'"),
    (["image", "ls", "--bogus"], EXIT_USAGE, "unknown option '--bogus'"),
    (["image", "ls", "--size", "1G"], EXIT_USAGE, "unknown option '--size'"),
    (["snapshot", "create", "--upper", "{src}", "--base", "nope", "s"], EXIT_USAGE,
     "no image or snapshot named 'nope'"),
    (["snapshot", "create", "--state", "{missing}", "s"], EXIT_USAGE, "No such file or directory"),
    (["snapshot", "create", "s"], EXIT_USAGE, "expected --state DIR"),
    (["snapshot", "inspect", "nope"], EXIT_USAGE, "no such snapshot"),
    (["snapshot", "rm", "nope"], EXIT_USAGE, "no such snapshot"),
    (["volume", "create", "v", "--size", "lots"], EXIT_USAGE, "--size lots"),
    (["volume", "create", "a/b"], EXIT_USAGE, "volume name 'a/b'"),
    (["volume", "rm", "nope"], EXIT_USAGE, "no such volume"),
    (["gc", "extra"], EXIT_USAGE, "unexpected argument 'extra'"),
]


@pytest.mark.parametrize("argv,code,fragment", BAD_INPUTS, ids=[" ".join(a) for a, _, _ in BAD_INPUTS])
def test_bad_input(store, tmp_path, argv, code, fragment):
    src = make_tree(tmp_path / "src")
    argv = [a.format(src=src, missing=tmp_path / "missing") for a in argv]
    assert_one_line_error(c(store, *argv), code, fragment)
    assert_store_clean(store)
    if store.exists():
        assert listing(store, "image") == [] and listing(store, "volume") == []
        assert os.listdir(store / "volumes") == []


def test_store_not_a_directory(tmp_path):
    path = tmp_path / "file"
    path.write_text("")
    assert_one_line_error(corral_raw("image", "ls", "--state-dir", path), EXIT_USAGE,
                          "Not a directory")


def test_newer_catalogue_refused(store):
    assert_ok(c(store, "image", "ls"))
    db = sqlite3.connect(store / "catalog.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    assert_one_line_error(c(store, "image", "ls"), EXIT_FAILURE,
                          "schema version 99 is newer than this corral's (1)")


@pytest.mark.parametrize("cmd", ["image", "snapshot", "volume", "gc"])
def test_help(cmd):
    proc = assert_ok(corral_raw(cmd, "--help"))
    assert proc.stdout.startswith(f"Usage: corral {cmd}")


def _start(store, *args):
    argv = corral_argv([str(a) for a in (*args, "--state-dir", store)])
    # Its own process group: killing it also kills corral under runuser.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    STARTED_PIDS.append(proc.pid)
    return proc


def _kill_group(proc):
    """SIGKILL proc's process group and wait until none of it runs any more
    (under runuser, corral is runuser's child: it may still be dying when
    runuser has been reaped)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alive = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == proc.pid and fields[0] not in ("Z", "X"):
                alive = True
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"process group {proc.pid} survived SIGKILL")


def test_concurrent_imports_are_serialised(store, tmp_path):
    src = make_tree(tmp_path / "src")
    assert_ok(c(store, "image", "ls"))   # the store exists before the race
    procs = [_start(store, "image", "import", src, f"img{i}") for i in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert [i["name"] for i in listing(store, "image")] == ["img0", "img1", "img2", "img3"]
    assert len(os.listdir(store / "layers")) == 4
    assert_store_clean(store)


def test_killed_import_is_all_or_nothing(store, tmp_path):
    """SIGKILL an import at some point: the image is then either listed and
    complete, or absent; gc leaves a store with no trace of it."""
    src = tmp_path / "big"
    for d in range(20):
        (src / f"d{d}").mkdir(parents=True)
        for f in range(100):
            (src / f"d{d}" / f"f{f}").write_bytes(b"x" * 4096)
    give_to_user(src)
    assert_ok(c(store, "image", "ls"))
    for delay in (0.02, 0.1, 0.3):
        proc = _start(store, "image", "import", src, "big")
        time.sleep(delay)
        _kill_group(proc)
        images = listing(store, "image")
        if images:
            (layer,) = os.listdir(store / "layers")
            assert sum(len(files) for _, _, files in os.walk(store / "layers" / layer)) == 2000
            assert_ok(c(store, "image", "rm", "big"))
        assert_ok(c(store, "gc"))
        assert os.listdir(store / "layers") == [] and os.listdir(store / "tmp") == []
