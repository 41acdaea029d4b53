"""Filling the disk (--disk: /tmp, HOME, /dev/shm and POSIX shm_open) and
flooding the caller with output (--output-limit).
"""
import json
import os
import secrets
import subprocess
import uuid

import pytest

MiB = 1 << 20
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORRAL = os.environ.get("CORRAL_BIN", os.path.join(REPO, "build", "corral"))


def run_with_report(attack, tmp_path, name, *args, corral_args=(), timeout=180):
    report = tmp_path / f"report-{uuid.uuid4().hex}.json"
    verdict = attack(name, *args, corral_args=("--report", str(report), *corral_args), timeout=timeout)
    data = json.loads(report.read_text()) if report.exists() else None
    return verdict, data


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def host_places():
    """Host directories a leak out of the sandbox's tmpfs would land in."""
    places = ["/tmp", "/var/tmp", "/dev/shm", os.path.expanduser("~")]
    return [p for p in places if os.path.isdir(p)]


def find_on_host(name):
    hits = []
    for place in host_places():
        try:
            for entry in os.scandir(place):
                if name in entry.name:
                    hits.append(entry.path)
        except OSError:
            pass
    return hits


DISK = 32


@pytest.mark.parametrize("where", ["/tmp", "~", "/dev/shm", "/var/tmp"])
def test_disk_fill(attack, tmp_path, where):
    name = f"corral-fill-{secrets.token_hex(6)}"
    host_dir = tmp_path / "host"
    host_dir.mkdir()
    host_dir.chmod(0o777)
    outside = attack("exh_disk.py", host_dir, DISK, name, sandbox=False)
    for p in host_dir.iterdir():
        p.unlink()
    assert outside.escaped, f"cannot write {DISK}+ MiB even on the host: {outside}"

    free_before = {p: free_bytes(p) for p in host_places()}
    inside, report = run_with_report(attack, tmp_path, "exh_disk.py", where, DISK, name,
                                     corral_args=("--disk", f"{DISK}M"))
    leaked = find_on_host(name)
    for p in leaked:
        os.unlink(p)
    assert inside.blocked, f"wrote more than --disk {DISK}M into {where}: {inside}\nreport: {report}"
    assert "No space left on device" in inside.line, inside
    assert not leaked, f"the sandbox's file appeared on the host: {leaked}"
    for p, before in free_before.items():
        # other work on the host moves these numbers a little; what the
        # sandbox wrote (32 MiB) must not show up in them
        assert free_bytes(p) >= before - DISK * MiB // 2, \
            f"free space of the host's {p} dropped by {(before - free_bytes(p)) // MiB} MiB"


@pytest.mark.parametrize("mode", ["posix", "posix-mmap"])
def test_posix_shm_beyond_disk(attack, tmp_path, mode):
    """shm_open in /dev/shm, grown by write() or by touching a sparse
    mapping (SIGBUS when the tmpfs is full); never unlinked. Afterwards the
    object must not exist in the host's /dev/shm."""
    name = f"/corral-shm-{secrets.token_hex(6)}"
    host_file = "/dev/shm" + name
    if not os.path.isdir("/dev/shm"):
        pytest.skip("this host has no /dev/shm: shm_open cannot work without a sandbox")
    try:
        outside = attack("exh_shm", mode, name, DISK, sandbox=False)
        assert outside.escaped, f"shm_open cannot hold {DISK}+ MiB even on the host: {outside}"
        assert os.path.exists(host_file), "the host-side object vanished by itself: the test cannot tell"
    finally:
        if os.path.exists(host_file):
            os.unlink(host_file)
    inside, report = run_with_report(attack, tmp_path, "exh_shm", mode, name, DISK,
                                     corral_args=("--disk", f"{DISK}M"))
    leaked = os.path.exists(host_file)
    if leaked:
        os.unlink(host_file)
    assert inside.blocked, f"shm_open held more than --disk {DISK}M: {inside}\nreport: {report}"
    assert not leaked, f"{host_file} appeared on the host"


def run_flood(attack_dir, tmp_path, stream, mib, corral_args, timeout=300):
    """Run exh_output.py under corral, counting the bytes the caller gets
    (binary, both streams). Returns (stdout, stderr, returncode, report)."""
    report = tmp_path / f"flood-report-{uuid.uuid4().hex}.json"
    argv = [CORRAL, "run", "--report", str(report), "--ro-bind", f"{attack_dir}:/attacks",
            *corral_args, "--", "python3", "/attacks/exh_output.py", stream, str(mib)]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout)
        data = json.loads(report.read_text()) if report.exists() else None
    finally:
        if report.exists():
            report.unlink()
    return proc.stdout, proc.stderr, proc.returncode, data


FLOODS = [
    pytest.param("stdout", 1, 4, ("--output-limit", "1M"), id="stdout-1M"),
    pytest.param("stderr", 1, 4, ("--output-limit", "1M"), id="stderr-1M"),
    pytest.param("both", 1, 4, ("--output-limit", "1M"), id="both-1M"),
    pytest.param("procs", 1, 4, ("--output-limit", "1M"), id="four-processes-1M"),
    pytest.param("stdout", 64, 72, (), id="stdout-default-64M"),
]


@pytest.mark.parametrize("stream,cap_mib,flood_mib,corral_args", FLOODS)
def test_output_flood(attack_dir, tmp_path, stream, cap_mib, flood_mib, corral_args):
    cap = cap_mib * MiB
    host = subprocess.run(["/usr/bin/python3", str(attack_dir / "exh_output.py"), stream, str(flood_mib)],
                          capture_output=True, timeout=300)
    got = len(host.stdout) + len(host.stderr)
    assert host.returncode == 0 and got > cap, \
        f"the flood does not pass {cap} bytes even on the host ({got} bytes)"

    out, err, rc, report = run_flood(attack_dir, tmp_path, stream, flood_mib, corral_args)
    got = len(out) + len(err)
    assert b"ESCAPED" not in out, "the whole flood reached the caller"
    assert got == cap, f"the caller received {got} bytes, not exactly the cap of {cap}"
    assert report is not None and report["status"] == "output_limit", report
    assert rc == 137, rc
    assert report["stdout_bytes"] + report["stderr_bytes"] == cap, report
