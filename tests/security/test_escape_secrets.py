"""Reading host secrets: planted canaries, /etc/shadow, /root, another
process's environment and the caller's own environment."""
import os
import secrets
import shutil
import tempfile
import pathlib

import pytest

from test_escape_common import (UIDS, check, host_process, is_root, needs_root,  # noqa: F401
                                plant_canary, scratch)


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("base", ["/tmp", "/dev/shm", "/var/tmp"])
def test_canary_in_host_temp_dir(attack_dir, base, uid):
    """The sandbox has its own /tmp, /dev/shm and /var/tmp: a canary in the
    host's must stay invisible, even by its exact path."""
    if not os.access(base, os.W_OK):
        pytest.skip(f"{base} is not writable here")
    d = pathlib.Path(tempfile.mkdtemp(prefix="corral-esc-", dir=base))
    try:
        d.chmod(0o755)
        canary, secret = plant_canary(d)
        check(attack_dir, "esc_read.py", f"{canary}={secret}", corral_args=uid)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("uid", UIDS)
def test_canary_via_proc_self_root_and_cwd(attack_dir, scratch, uid):
    """/proc/self/root and /proc/self/cwd lead to the sandbox's own tree."""
    canary, secret = plant_canary(scratch)
    args = [f"/proc/self/root{canary}={secret}", f"/proc/self/cwd/{canary.name}={secret}",
            f"/proc/thread-self/root{canary}={secret}"]
    # On the host the attack runs with its cwd in the canary's directory.
    check(attack_dir, "esc_read.py", *args, corral_args=uid, host_kw={"cwd": str(scratch)})


@pytest.mark.parametrize("uid", UIDS)
def test_etc_shadow(attack_dir, uid):
    check(attack_dir, "esc_read.py", "/etc/shadow", "/etc/gshadow", corral_args=uid,
          host_skip=needs_root("reading /etc/shadow"))


@pytest.mark.parametrize("uid", UIDS)
def test_root_home(attack_dir, uid):
    """/root of the host: with --uid 0 the sandbox has a /root of its own
    (an empty tmpfs), so the attack looks for the host's entries in it."""
    if not is_root():
        # The host-side half cannot list /root, and its entries are unknown.
        entries = [".bashrc", ".profile"]
    else:
        entries = sorted(os.listdir("/root"))[:20]
        if not entries:
            pytest.skip("the host's /root is empty: nothing to recognise it by")
    check(attack_dir, "esc_listdir.py", "/root", *entries, corral_args=uid,
          host_skip=needs_root("listing /root"))


@pytest.mark.parametrize("uid", UIDS)
def test_other_process_environment(attack_dir, host_process, uid):
    """A host process holds a secret in its environment. The sandbox cannot
    see host pids, so the attack scans every /proc/*/environ it can see (and
    tries the host pid number blindly). On the host it reads only that one
    process's environment."""
    secret = "corral-env-secret-" + secrets.token_hex(8)
    victim = host_process(env={"PATH": "/usr/bin:/bin", "CORRAL_VICTIM_SECRET": secret})
    check(attack_dir, "esc_environ.py", secret, "all", victim.pid, corral_args=uid,
          host_args=[secret, victim.pid])
    assert victim.alive()


@pytest.mark.parametrize("uid", UIDS)
def test_caller_environment(attack_dir, uid):
    """corral runs with SECRET=... in its environment; the sandbox's
    environment is scrubbed, and corral's init (pid 1) is not readable."""
    secret = "corral-caller-secret-" + secrets.token_hex(8)
    env = {**os.environ, "SECRET": secret, "AWS_SECRET_ACCESS_KEY": secret}
    check(attack_dir, "esc_environ.py", secret, "self", "1", "all", corral_args=uid,
          host_args=[secret, "self"], inside_kw={"env": env}, host_kw={"env": env})
