"""Socket kinds the sandbox refuses: raw IP, packet, netlink other than
route, MPTCP and SCTP; NETLINK_ROUTE is allowed, but changing interfaces,
addresses or routes with it fails (and could only ever touch the sandbox's
own network namespace); `ip link add` is refused.

Each attack runs on the host first. Some need a capability an unprivileged
caller lacks (CAP_NET_RAW, CAP_NET_ADMIN); the host-side run then happens in
a throwaway user+network namespace (`unshare -rn`), where the caller holds
those capabilities -- exactly what the sandbox's own user namespace could
hand out if corral forgot to drop them. The host's real network is never
changed.
"""
import os
import secrets
import select
import subprocess

import pytest

PYTHON = "/usr/bin/python3"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORRAL = os.environ.get("CORRAL_BIN", os.path.join(REPO, "build", "corral"))


class Run:
    def __init__(self, proc, where):
        self.proc, self.where = proc, where
        lines = [l for l in proc.stdout.splitlines() if l.startswith(("ESCAPED:", "BLOCKED:"))]
        self.line = lines[-1] if lines else None
        self.escaped = bool(self.line and self.line.startswith("ESCAPED:") and proc.returncode == 0)

    def __repr__(self):
        return (f"<{self.where}: exit {self.proc.returncode}, verdict {self.line!r}\n"
                f"stdout: {self.proc.stdout[-2000:]!r}\nstderr: {self.proc.stderr[-2000:]!r}>")


def in_private_netns(attack_dir, name, *args):
    """Run an attack on the host inside a new user+network namespace."""
    script = str(attack_dir / name)
    interp = [PYTHON] if name.endswith(".py") else ["/bin/sh"]
    proc = subprocess.run(["unshare", "-rn", *interp, script, *map(str, args)],
                          capture_output=True, text=True, timeout=60, errors="replace")
    return Run(proc, "host, private user+net namespace")


def host_baseline(attack, attack_dir, name, *args, private_netns=False):
    """The attack without a sandbox: directly, or -- for attacks that
    change the network or need CAP_NET_RAW as non-root -- in a throwaway
    namespace. Returns (run, how) with run.escaped telling whether it worked."""
    if not private_netns:
        outside = attack(name, *args, sandbox=False)
        if outside.escaped or os.geteuid() == 0:
            return outside, "directly on the host"
    ns = in_private_netns(attack_dir, name, *args)
    return ns, "on the host in a private user+network namespace (unshare -rn)"


UIDS = [pytest.param((), id="uid1000"), pytest.param(("--uid", "0"), id="uid0")]

KINDS = ["raw-icmp", "raw-tcp", "raw-ipproto-raw", "raw6-icmp", "packet-raw", "packet-dgram",
         "sock-packet", "netlink-audit", "netlink-uevent", "netlink-netfilter",
         "netlink-sockdiag", "netlink-generic", "netlink-xfrm", "mptcp4", "mptcp6",
         "sctp4-stream", "sctp4-seqpacket", "sctp6-stream"]


@pytest.mark.parametrize("corral_args", UIDS)
@pytest.mark.parametrize("kind", KINDS)
def test_forbidden_socket_kind(attack, attack_dir, kind, corral_args):
    # Inside first: that verdict is asserted even when the host cannot
    # demonstrate the attack (e.g. a kernel without SCTP).
    inside = attack("net_socket.py", kind, corral_args=corral_args)
    assert inside.blocked, f"the sandbox opened a {kind} socket: {inside}"
    outside, how = host_baseline(attack, attack_dir, "net_socket.py", kind)
    if not outside.escaped:
        pytest.skip(f"{kind} cannot be opened even without a sandbox on this host "
                    f"({how}): {outside.line!r}; the sandboxed run was blocked too: {inside.line!r}")


def _host_net_state():
    out = []
    for argv in (["ip", "-o", "link", "show"], ["ip", "-o", "addr", "show"],
                 ["ip", "route", "show", "table", "all"], ["ip", "-6", "route", "show", "table", "all"]):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        out.append(p.stdout)
    return "\n".join(out)


def _names():
    tag = secrets.token_hex(3)
    # TEST-NET-3 address and TEST-NET-2 route: never in use on a real host
    # (the host's own eth0 here may well be in TEST-NET-1)
    return f"cr{tag}", f"203.0.113.{secrets.randbelow(200) + 20}", "198.51.100.0/24"


def run_holding(argv, where, on_hold=lambda: None, timeout=120):
    """Run net_rtnetlink.py modify: when it reports HOLDING (changes were
    accepted and are in place), call on_hold(), then let it undo them."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    fd = proc.stdout.fileno()
    while b"HOLDING\n" not in seen:  # raw reads: no buffered line hides from select
        ready, _, _ = select.select([fd], [], [], 60)
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            break
        seen += chunk
    if b"HOLDING\n" in seen:  # it waits on stdin now
        on_hold()
    try:
        out, err = proc.communicate(input=b"\n", timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    text = (seen + out).decode(errors="replace")
    return Run(subprocess.CompletedProcess(argv, proc.returncode, text, err.decode(errors="replace")), where)


@pytest.mark.parametrize("corral_args", UIDS)
def test_rtnetlink_changes_refused_and_stay_inside(attack_dir, corral_args):
    ifname, address, route = _names()
    args = ["modify", ifname, address, route]
    script = str(attack_dir / "net_rtnetlink.py")
    # never against the host's own network: a throwaway namespace
    outside = run_holding(["unshare", "-rn", PYTHON, script, *args], "host, private user+net namespace")
    assert outside.escaped, f"NETLINK_ROUTE changes do not work even in a private namespace: {outside}"

    before = _host_net_state()
    during = []
    inside = run_holding([CORRAL, "run", "--ro-bind", f"{attack_dir}:/attacks", *corral_args, "--",
                          "python3", "/attacks/net_rtnetlink.py", *args], "sandbox",
                         on_hold=lambda: during.append(_host_net_state()))
    after = _host_net_state()
    for state in during + [after]:
        assert ifname not in state, f"an interface {ifname}* appeared on the host:\n{state}"
        assert address not in state, f"{address} appeared on the host:\n{state}"
        assert (route in state) == (route in before), f"route {route} changed on the host:\n{state}"
    assert inside.escaped is False and inside.line and inside.line.startswith("BLOCKED:"), \
        f"NETLINK_ROUTE changed the sandbox's network (capabilities left?): {inside}"


@pytest.mark.parametrize("corral_args", UIDS)
def test_ip_link_add_refused(attack, attack_dir, corral_args):
    if not os.path.exists("/usr/sbin/ip") and not os.path.exists("/sbin/ip"):
        pytest.skip("iproute2 (ip) is not installed on this host")
    ifname, _, _ = _names()
    outside, how = host_baseline(attack, attack_dir, "net_iplink.sh", ifname, private_netns=True)
    assert outside.escaped, f"`ip link add` does not work even {how}: {outside}"
    inside = attack("net_iplink.sh", ifname, corral_args=corral_args)
    after = _host_net_state()
    assert inside.blocked, f"the sandbox created a network interface: {inside}"
    assert ifname not in after, f"an interface {ifname}* appeared on the host:\n{after}"
