"""Fork bombs, thread bombs and descriptor exhaustion against --pids and
--open-files, with the default policy and with explicit small limits.

The host-side runs are capped (300 processes or threads, a few thousand
descriptors) and clean up after themselves: the host is never fork-bombed.
"""
import json
import resource
import uuid

import pytest

DEFAULT_PIDS = 256
DEFAULT_OPEN_FILES = 1024
CAP = 300


def run_with_report(attack, tmp_path, name, *args, corral_args=(), timeout=120):
    report = tmp_path / f"report-{uuid.uuid4().hex}.json"
    verdict = attack(name, *args, corral_args=("--report", str(report), *corral_args), timeout=timeout)
    data = json.loads(report.read_text()) if report.exists() else None
    return verdict, data


PIDS_CASES = [pytest.param(DEFAULT_PIDS, (), id="default-256"),
              pytest.param(64, ("--pids", "64"), id="pids-64")]


@pytest.mark.parametrize("mode", ["chain", "bomb"])
@pytest.mark.parametrize("limit,corral_args", PIDS_CASES)
def test_fork_bomb(attack, tmp_path, mode, limit, corral_args):
    outside = attack("exh_fork", mode, CAP, limit, sandbox=False)
    assert outside.escaped, f"the capped fork bomb does not pass {limit} even on the host: {outside}"
    inside, report = run_with_report(attack, tmp_path, "exh_fork", mode, CAP, limit,
                                     corral_args=corral_args)
    assert inside.blocked, f"the fork bomb got past --pids {limit}: {inside}\nreport: {report}"
    assert report["limits"]["pids"] == limit
    # --pids is documented as fork failing with EAGAIN; the sandbox goes on
    assert report["status"] == "exited", report


@pytest.mark.parametrize("limit,corral_args", PIDS_CASES)
def test_thread_bomb(attack, tmp_path, limit, corral_args):
    outside = attack("exh_threads", CAP, limit, sandbox=False)
    assert outside.escaped, f"cannot start {limit}+ threads even on the host: {outside}"
    inside, report = run_with_report(attack, tmp_path, "exh_threads", CAP, limit,
                                     corral_args=corral_args)
    assert inside.blocked, f"the thread bomb got past --pids {limit}: {inside}\nreport: {report}"
    assert report["status"] == "exited", report


FD_CASES = [pytest.param(DEFAULT_OPEN_FILES, (), id="default-1024"),
            pytest.param(64, ("--open-files", "64"), id="open-files-64")]


@pytest.mark.parametrize("limit,corral_args", FD_CASES)
def test_descriptor_exhaustion(attack, tmp_path, limit, corral_args):
    cap = limit + 200
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    outside = attack("exh_fds.py", limit, cap, sandbox=False)
    if not outside.escaped and hard != resource.RLIM_INFINITY and hard <= limit:
        pytest.skip(f"this host's own hard RLIMIT_NOFILE is {hard} <= {limit}: more descriptors "
                    f"than the sandbox's limit cannot be opened even without a sandbox")
    assert outside.escaped, f"cannot open {limit}+ descriptors even on the host: {outside}"
    inside, report = run_with_report(attack, tmp_path, "exh_fds.py", limit, cap, corral_args=corral_args)
    assert inside.blocked, f"more than --open-files {limit} descriptors: {inside}\nreport: {report}"
    assert "Too many open files" in inside.line or "EMFILE" in inside.line, inside
