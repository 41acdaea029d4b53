"""CPU time (--cpu-time) and wall-clock time (--timeout).

No test asserts how long anything took: the verdicts are corral's status
in the run report and whether the attack got to print ESCAPED.
"""
import json
import re
import uuid


def run_with_report(attack, tmp_path, name, *args, corral_args=(), timeout=180):
    report = tmp_path / f"report-{uuid.uuid4().hex}.json"
    verdict = attack(name, *args, corral_args=("--report", str(report), *corral_args), timeout=timeout)
    data = json.loads(report.read_text()) if report.exists() else None
    return verdict, data


def test_cpu_time_single_process(attack, tmp_path):
    # the main process burns: whatever enforces --cpu-time (cgroup or the
    # per-process RLIMIT_CPU) must stop the command itself
    outside = attack("exh_cpu.py", 0, 3, 1, sandbox=False)
    assert outside.escaped, f"cannot burn more than 1s of CPU even on the host: {outside}"
    inside, report = run_with_report(attack, tmp_path, "exh_cpu.py", 0, 3, 1,
                                     corral_args=("--cpu-time", "1s"))
    assert not inside.escaped, f"burned past --cpu-time 1s: {inside}\nreport: {report}"
    assert report["status"] == "cpu_time", f"{inside}\nreport: {report}"
    assert inside.proc.returncode == 137, inside


def test_cpu_time_of_several_processes(attack, tmp_path):
    """Two workers, 2.5s of CPU each. A cgroup adds them up and stops the
    sandbox at 1s in total; the rootless fallback (RLIMIT_CPU, documented
    as per process) must at least stop each worker."""
    outside = attack("exh_cpu.py", 2, 2.5, 1, sandbox=False)
    assert outside.escaped, f"two workers cannot burn more than 1s even on the host: {outside}"
    inside, report = run_with_report(attack, tmp_path, "exh_cpu.py", 2, 2.5, 1,
                                     corral_args=("--cpu-time", "1s"))
    assert report is not None, inside
    if report["enforcement"]["cpu_time"] in ("cgroup1", "cgroup2"):
        assert not inside.escaped, f"two workers burned past --cpu-time 1s together: {inside}"
        assert report["status"] == "cpu_time", f"{inside}\nreport: {report}"
    else:
        assert report["enforcement"]["cpu_time"] == "rlimit", report
        assert "CPU time per process" in (report["enforcement"]["weaker"] or ""), report
        workers = re.findall(r"worker \d+: (.*) after", inside.proc.stdout)
        assert len(workers) == 2, inside
        for how in workers:
            assert how.startswith("killed by SIG"), \
                f"a worker burned its 2.5s under --cpu-time 1s (per-process RLIMIT_CPU): {inside}"


def test_wall_clock_timeout(attack, tmp_path):
    outside = attack("exh_sleep.py", 2, sandbox=False)
    assert outside.escaped, outside
    inside, report = run_with_report(attack, tmp_path, "exh_sleep.py", 30,
                                     corral_args=("--timeout", "1s"), timeout=60)
    assert not inside.escaped, f"ran past --timeout 1s: {inside}"
    assert report["status"] == "timeout", f"{inside}\nreport: {report}"
    assert inside.proc.returncode == 124, inside


def test_cpu_time_default_is_unlimited_but_timeout_is_not(attack, tmp_path):
    """With the default policy CPU time is unlimited (docs/limits.md) and
    the wall clock is 5 minutes: the report must say so, so that a
    `while True` cannot run forever."""
    inside, report = run_with_report(attack, tmp_path, "exh_sleep.py", 0)
    assert report["limits"]["timeout_ms"] == 300000, report
    assert report["enforcement"]["timeout"] == "supervisor", report
