"""Bad input and failures: corral's own failures print exactly one line on
stderr starting with "corral: ", naming the problem, exit 125 (126/127 for a
command that cannot be executed / is not found), and leave nothing behind."""

import json
import os

import pytest

from conftest import (
    EXIT_FAILURE,
    EXIT_NOT_EXECUTABLE,
    EXIT_NOT_FOUND,
    assert_ok,
    assert_one_line_error,
    corral_raw,
    describe,
    run,
)

ENOENT = "No such file or directory"

# Nothing of a failed run may remain: conftest's autouse leak_check
# snapshots the host's mount table, our (subreaped) children, temp dirs and
# cgroups around each test.


@pytest.fixture
def regular_file(tmp_path):
    f = tmp_path / "plain-file"
    f.write_text("not a directory\n")
    return f


def profile(tmp_path, content, name="profile.json"):
    p = tmp_path / name
    p.write_text(content if isinstance(content, str) else json.dumps(content))
    return p


# (id, args for `corral run`, fragments the error line must contain)
BAD_RUN_ARGS = [
    ("bind-missing-source", ["--bind", "/nope", "true"], ["--bind", "/nope", ENOENT]),
    ("bind-missing-source-with-target", ["--bind", "/nope:/x", "true"], ["/nope", ENOENT]),
    ("ro-bind-missing-source", ["--ro-bind", "/nope:/x", "true"], ["--ro-bind", "/nope", ENOENT]),
    ("workspace-missing", ["--workspace", "/nope", "true"], ["--workspace", "/nope", ENOENT]),
    ("cwd-relative", ["--cwd", "relative/dir", "true"], ["--cwd", "relative/dir", "absolute"]),
    ("cwd-dotdot", ["--cwd", "/tmp/../etc", "true"], ["--cwd", ".."]),
    ("cwd-nonexistent", ["--cwd", "/nope", "true"], ["/nope", ENOENT]),
    ("tmpfs-relative", ["--tmpfs", "scratch", "true"], ["--tmpfs", "scratch", "absolute"]),
    ("bind-target-proc", ["--bind", "/usr:/proc", "true"], ["/proc", "reserved"]),
    ("bind-target-proc-sub", ["--bind", "/usr:/proc/sys", "true"], ["/proc/sys", "reserved"]),
    ("bind-target-dev", ["--bind", "/usr:/dev/x", "true"], ["/dev/x", "reserved"]),
    ("ro-bind-target-root", ["--ro-bind", "/usr:/", "true"], ["reserved"]),
    ("tmpfs-target-sys", ["--tmpfs", "/sys", "true"], ["/sys", "reserved"]),
    ("env-no-equals", ["--env", "NOEQUALS", "true"], ["--env", "NOEQUALS"]),
    ("env-bad-name", ["--env", "1BAD=x", "true"], ["--env", "1BAD", "invalid"]),
    ("env-empty-name", ["--env", "=x", "true"], ["--env"]),
    ("pass-env-bad-name", ["--pass-env", "BAD-NAME", "true"], ["--pass-env", "BAD-NAME", "invalid"]),
    ("uid-negative", ["--uid", "-1", "true"], ["--uid", "-1"]),
    ("uid-not-a-number", ["--uid", "abc", "true"], ["--uid", "abc"]),
    ("uid-too-large", ["--uid", "70000", "true"], ["--uid", "70000"]),
    ("uid-65534", ["--uid", "65534", "true"], ["--uid", "65534"]),
    ("uid-trailing-junk", ["--uid", "12x", "true"], ["--uid", "12x"]),
    ("hostname-space", ["--hostname", "bad host", "true"], ["--hostname", "bad host", "invalid"]),
    ("hostname-empty", ["--hostname", "", "true"], ["--hostname"]),
    ("profile-missing", ["--profile", "/nope", "true"], ["--profile", "/nope", ENOENT]),
    ("unknown-long-option", ["--frobnicate", "true"], ["--frobnicate"]),
    ("unknown-short-option", ["-z", "true"], ["-z"]),
    ("option-missing-value", ["--bind"], ["--bind", "value"]),
    ("option-missing-value-workspace", ["--workspace"], ["--workspace", "value"]),
    ("no-command", [], ["no command"]),
    ("no-command-after-options", ["--tmpfs", "/x", "--"], ["no command"]),
]


@pytest.mark.parametrize("args,fragments", [c[1:] for c in BAD_RUN_ARGS], ids=[c[0] for c in BAD_RUN_ARGS])
def test_bad_input_one_line_125(args, fragments):
    proc = run(*args)
    assert_one_line_error(proc, EXIT_FAILURE, *fragments)
    assert proc.stdout == "", "nothing on stdout when corral fails"


def test_workspace_regular_file(regular_file):
    proc = run("--workspace", regular_file, "true")
    assert_one_line_error(proc, EXIT_FAILURE, "--workspace", str(regular_file), "Not a directory")


def test_bind_source_unreadable_dir_as_user(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read any directory; this case is about an unprivileged caller")
    locked = tmp_path / "locked"
    locked.mkdir()
    inner = locked / "inner"
    inner.mkdir()
    locked.chmod(0)
    try:
        proc = run("--bind", f"{inner}:/data", "true")
        assert_one_line_error(proc, EXIT_FAILURE, str(inner))
    finally:
        locked.chmod(0o700)


# ---- profiles -----------------------------------------------------------------

BAD_PROFILES = [
    ("malformed-json", '{"uid": 1000,', ["line"]),
    ("not-an-object", "[1, 2]", ["object"]),
    ("unknown-key", {"version": 1, "uidd": 1000}, ["unknown key", "uidd"]),
    ("unknown-nested-key", {"mounts": [{"type": "tmpfs", "target": "/x", "mode": "0700"}]}, ["mounts[0]"]),
    ("uid-string", {"uid": "1000"}, ["uid"]),
    ("uid-negative", {"uid": -5}, ["uid"]),
    ("uid-too-large", {"uid": 70000}, ["uid"]),
    ("hostname-number", {"hostname": 5}, ["hostname", "string"]),
    ("hostname-invalid", {"hostname": "bad host"}, ["hostname"]),
    ("mounts-object", {"mounts": {"type": "tmpfs"}}, ["mounts", "array"]),
    ("mount-type-unknown", {"mounts": [{"type": "overlay", "target": "/x"}]}, ["overlay"]),
    ("mount-target-reserved", {"mounts": [{"type": "tmpfs", "target": "/proc"}]}, ["/proc", "reserved"]),
    ("mount-source-missing", {"mounts": [{"type": "bind", "source": "/nope", "target": "/x"}]}, ["/nope", ENOENT]),
    ("env-array", {"env": ["A=b"]}, ["env", "object"]),
    ("env-value-number", {"env": {"A": 1}}, ["env", "string"]),
    ("env-bad-name", {"env": {"1BAD": "x"}}, ["1BAD"]),
    ("pass-env-string", {"pass_env": "HOME"}, ["pass_env", "array"]),
    ("pass-env-number", {"pass_env": [5]}, ["pass_env"]),
    ("workspace-number", {"workspace": 7}, ["workspace"]),
    ("workspace-missing", {"workspace": "/nope"}, ["/nope", ENOENT]),
    ("cwd-relative", {"cwd": "rel"}, ["cwd", "absolute"]),
    ("version-unsupported", {"version": 99}, ["version"]),
    ("duplicate-key", '{"uid": 1000, "uid": 0}', ["uid"]),
]


@pytest.mark.parametrize("content,fragments", [c[1:] for c in BAD_PROFILES], ids=[c[0] for c in BAD_PROFILES])
def test_bad_profile_one_line_125(tmp_path, content, fragments):
    p = profile(tmp_path, content)
    proc = run("--profile", p, "true")
    assert_one_line_error(proc, EXIT_FAILURE, "--profile", str(p), *fragments)


def test_profile_is_a_directory(tmp_path):
    proc = run("--profile", tmp_path, "true")
    assert_one_line_error(proc, EXIT_FAILURE, "--profile", str(tmp_path), "Is a directory")


def test_profile_unreadable(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read a mode-000 file")
    p = profile(tmp_path, {"version": 1})
    p.chmod(0)
    proc = run("--profile", p, "true")
    assert_one_line_error(proc, EXIT_FAILURE, "--profile", str(p), "Permission denied")


# ---- the command -----------------------------------------------------------------


def test_command_not_found():
    proc = run("corral-no-such-command")
    assert_one_line_error(proc, EXIT_NOT_FOUND, "corral-no-such-command", "command not found")


def test_command_path_not_found():
    proc = run("/usr/bin/corral-no-such-command")
    assert_one_line_error(proc, EXIT_NOT_FOUND, "/usr/bin/corral-no-such-command", ENOENT)


def test_host_only_command_not_found(tmp_path):
    # A program that exists on the host but not in the sandbox's view.
    prog = tmp_path / "host-only.sh"
    prog.write_text("#!/bin/sh\necho should not run\n")
    prog.chmod(0o755)
    proc = run(prog)
    assert_one_line_error(proc, EXIT_NOT_FOUND, str(prog))


def test_not_executable_system_file():
    proc = run("/etc/passwd")
    assert_one_line_error(proc, EXIT_NOT_EXECUTABLE, "/etc/passwd", "Permission denied")


def test_not_executable_file_in_ro_bind(host_dir):
    script = host_dir / "script.sh"
    script.write_text("#!/bin/sh\necho should not run\n")
    script.chmod(0o644)
    proc = run("--ro-bind", f"{host_dir}:/data", "/data/script.sh")
    assert_one_line_error(proc, EXIT_NOT_EXECUTABLE, "/data/script.sh", "Permission denied")


def test_directory_is_not_executable():
    proc = run("/usr")
    assert_one_line_error(proc, EXIT_NOT_EXECUTABLE, "/usr")


def test_executable_in_ro_bind_runs(host_dir):
    # The counterpart of the 126 case: with the x bit the same file runs.
    script = host_dir / "script.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o755)
    proc = assert_ok(run("--ro-bind", f"{host_dir}:/data", "/data/script.sh"))
    assert proc.stdout == "ran\n"


def test_command_failure_is_not_corrals():
    # A command that fails by itself: its code, and corral adds nothing.
    proc = run("sh", "-c", "echo oops >&2; exit 125")
    assert proc.returncode == 125 and proc.stderr == "oops\n", describe(proc)


# ---- the CLI itself -----------------------------------------------------------------


def test_version():
    proc = corral_raw("--version")
    assert_ok(proc)
    assert proc.stdout.startswith("corral ") and proc.stdout.endswith("\n"), proc.stdout
    version = proc.stdout[len("corral "):].strip()
    assert version and version[0].isdigit() and " " not in version, proc.stdout
    assert proc.stderr == ""
    assert corral_raw("-V").stdout == proc.stdout


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"]])
def test_help(args):
    proc = assert_ok(corral_raw(*args))
    assert "Usage" in proc.stdout and "corral" in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize("args", [["run", "--help"], ["run", "-h"]])
def test_run_help(args):
    proc = assert_ok(corral_raw(*args))
    assert "Usage: corral run" in proc.stdout
    for option in ("--workspace", "--bind", "--ro-bind", "--tmpfs", "--cwd", "--env", "--pass-env",
                   "--uid", "--hostname", "--profile", "--print-policy"):
        assert option in proc.stdout, f"{option} missing from corral run --help"
    assert proc.stderr == ""


def test_unknown_subcommand():
    proc = corral_raw("frobnicate")
    assert_one_line_error(proc, EXIT_FAILURE, "frobnicate")


def test_no_subcommand():
    proc = corral_raw()
    assert proc.returncode == EXIT_FAILURE, describe(proc)
    assert "Usage" in proc.stderr


# ---- --print-policy ------------------------------------------------------------------


def test_print_policy_default():
    proc = assert_ok(run("--print-policy"))
    policy = json.loads(proc.stdout)
    assert policy["version"] == 1
    assert policy["uid"] == 1000
    assert policy["hostname"] == "corral"
    assert policy["mounts"] == [] and policy["env"] == {} and policy["pass_env"] == []


def test_print_policy_round_trips(tmp_path, host_dir):
    ro = tmp_path / "ro"
    ro.mkdir()
    args = ["--workspace", host_dir, "--bind", f"{host_dir}:/data", "--ro-bind", f"{ro}:/ro",
            "--ro-bind", str(ro), "--tmpfs", "/scratch", "--cwd", "/scratch", "--env", "A=b c",
            "--env", "UNI=ünï ✓", "--pass-env", "CORRAL_X", "--uid", "0", "--hostname", "box"]
    first = assert_ok(run(*args, "--print-policy"))
    policy = json.loads(first.stdout)
    assert policy["uid"] == 0 and policy["hostname"] == "box" and policy["cwd"] == "/scratch"
    assert policy["workspace"] == str(host_dir.resolve())
    assert policy["env"] == {"A": "b c", "UNI": "ünï ✓"} and policy["pass_env"] == ["CORRAL_X"]
    assert [m["type"] for m in policy["mounts"]] == ["bind", "ro-bind", "ro-bind", "tmpfs"]

    saved = profile(tmp_path, first.stdout, "policy.json")
    second = assert_ok(run("--profile", saved, "--print-policy"))
    assert second.stdout == first.stdout
    assert json.loads(second.stdout) == policy

    # The printed policy also runs.
    proc = assert_ok(run("--profile", saved, "sh", "-c", 'echo "$A|$UNI|$(hostname)|$(pwd)|$(id -u)"'))
    assert proc.stdout == "b c|ünï ✓|box|/scratch|0\n"


def test_print_policy_with_bad_option_fails():
    proc = run("--print-policy", "--uid", "abc")
    assert_one_line_error(proc, EXIT_FAILURE, "--uid")
    assert proc.stdout == ""
