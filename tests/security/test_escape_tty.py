"""Typing into the caller's terminal: TIOCSTI (also with the request's
upper 32 bits set, 0xffffffff00005412) and TIOCLINUX.

Host side: the attack opens a pty pair of its own, makes it its controlling
terminal and pushes a marker into it (run with stdin from /dev/null in a
new session, so it can never reach the terminal pytest runs in).

Inside: the same, plus fds 0-2. corral runs under a pty the test owns, in
two set-ups: the pty is the controlling terminal of corral's session (as a
shell's terminal is), or a bare pty no session owns (then the sandbox may
even make it its controlling terminal: only seccomp stands between it and
TIOCSTI). Both with the default output pipes and with
--output-limit unlimited (the terminal passed through as fds 1 and 2).
The marker must not come back out of the test's pty."""
import os
import pty
import secrets
import select
import signal
import subprocess
import time

import pytest

from test_escape_common import UIDS, Result, check, corral_argv, command, run_attack

MODES = ["tiocsti", "tiocsti_high", "tioclinux"]


class _Proc:
    def __init__(self, stdout, returncode):
        self.stdout = stdout
        self.stderr = ""
        self.returncode = returncode


def _drain(master, deadline, done):
    out = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every slave descriptor is closed
                break
            if not chunk:
                break
            out += chunk
        elif done():
            break
    return out


def run_in_pty(argv, setup, timeout=60):
    deadline = time.monotonic() + timeout
    if setup == "ctty":
        pid, master = pty.fork()
        if pid == 0:
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        status = []

        def done():
            if not status:
                p, st = os.waitpid(pid, os.WNOHANG)
                if p:
                    status.append(st)
            return bool(status)

        out = _drain(master, deadline, done)
        if not status:
            try:
                p, st = os.waitpid(pid, os.WNOHANG)
                if not p:
                    os.kill(pid, signal.SIGKILL)
                    p, st = os.waitpid(pid, 0)
                status.append(st)
            except ChildProcessError:
                status.append(0)
        os.close(master)
        code = os.waitstatus_to_exitcode(status[0])
    else:
        master, slave = os.openpty()
        proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                start_new_session=True)
        os.close(slave)
        out = _drain(master, deadline, lambda: proc.poll() is not None)
        try:
            code = proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        # Whatever is still buffered.
        try:
            while select.select([master], [], [], 0)[0]:
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
        os.close(master)
    text = out.decode(errors="replace").replace("\r\n", "\n")
    return Result(_Proc(text, code), f"sandbox under a pty ({setup})", argv)


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("mode", MODES)
def test_tty_injection_plain(attack_dir, mode, uid):
    marker = "corralesc" + secrets.token_hex(4)
    check(attack_dir, "esc_tty", mode, marker, corral_args=uid)


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("output", [(), ("--output-limit", "unlimited")], ids=["piped", "passthrough"])
@pytest.mark.parametrize("setup", ["ctty", "bare"])
@pytest.mark.parametrize("mode", MODES)
def test_tty_injection_under_pty(attack_dir, mode, setup, output, uid):
    marker = "corralesc" + secrets.token_hex(4)
    host = run_attack(attack_dir, "esc_tty", mode, marker, sandbox=False)
    argv = corral_argv(attack_dir, (*output, *uid)) + command(attack_dir, "esc_tty", [mode, marker],
                                                              True)
    inside = run_in_pty(argv, setup)
    assert inside.blocked, f"corral did not stop the attack: {inside!r}"
    assert marker not in inside.stdout, f"the marker reached the caller's terminal: {inside!r}"
    assert host.escaped, f"the attack does not work even without a sandbox: {host!r}"
