"""With egress rules on, the sandbox's traffic reaches corral's proxy; every
trick to make the proxy (or the capture around it) reach something the
rules do not allow must fail: host loopback services over TCP, UDP, IPv4,
IPv6 and MPTCP; an allowed port on a forbidden address; CONNECT and
absolute-form requests to addresses and to names that resolve to loopback
(DNS rebinding); a spoofed TLS SNI or Host header on a connection dialled
at the host's address.

Each attack first reaches the host server without a sandbox, so the test
can fail; inside, the host server must see nothing."""
import secrets
import socket

import pytest

from test_net_inet import LoopbackServer

ALLOWED = "allowed.corral.test"  # allowed by the rules, resolves nowhere


def egress_args(port, *extra):
    return ("--allow-net", f"{ALLOWED}:{port}", *extra)


@pytest.fixture
def tcp_server():
    s = LoopbackServer("tcp", socket.AF_INET, "127.0.0.1")
    yield s
    s.close()


CASES = [
    ("tcp", socket.AF_INET, "127.0.0.1", "4", "127.0.0.1"),
    ("tcp", socket.AF_INET6, "::1", "6", "::1"),
    ("tcp", socket.AF_INET, "127.0.0.1", "6", "::ffff:127.0.0.1"),
    ("udp", socket.AF_INET, "127.0.0.1", "4", "127.0.0.1"),
    ("udp", socket.AF_INET6, "::1", "6", "::1"),
]


@pytest.mark.parametrize("proto,sfam,saddr,afam,target", CASES,
                         ids=[f"{c[0]}-{c[4]}" for c in CASES])
def test_host_loopback_unreachable_with_egress_on(attack, proto, sfam, saddr, afam, target):
    """The rules name the host server's port (for another host), so the
    port is captured: the connection lands at the proxy, which refuses the
    address."""
    try:
        server = LoopbackServer(proto, sfam, saddr)
    except OSError as e:
        pytest.skip(f"cannot listen on {proto} {saddr}: {e}")
    try:
        token = "host-" + secrets.token_hex(6)
        outside = attack("net_connect.py", proto, afam, target, server.port, token, sandbox=False)
        if not outside.escaped:
            pytest.skip(f"{proto} to {target} does not work here even without a sandbox")
        before = len(server.snapshot()[0])
        inside = attack("net_connect.py", proto, afam, target, server.port, "sandbox-x",
                        corral_args=egress_args(server.port))
        assert inside.blocked, f"the sandbox reached the host's loopback: {inside}"
        assert len(server.snapshot()[0]) == before
    finally:
        server.close()


PROXY_ATTACKS = {
    # through the explicit proxy, to the address
    "connect-address": "CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n{token}\n",
    "absolute-address": "GET http://127.0.0.1:{port}/{token} HTTP/1.1\r\nHost: x\r\n\r\n",
    # a name that resolves (outside) to loopback, with a rule for that name
    "connect-rebinding": "CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost\r\n\r\n{token}\n",
    "absolute-rebinding": "GET http://localhost:{port}/{token} HTTP/1.1\r\nHost: localhost\r\n\r\n",
    # dialled at the host's address, claiming an allowed name
    "host-header-spoof": "GET /{token} HTTP/1.1\r\nHost: " + ALLOWED + "\r\n\r\n",
}

PROBE = """
import socket, sys
target, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode().decode('unicode_escape')
s = socket.create_connection((target, port), timeout=10)
s.sendall(payload.encode())
s.settimeout(10)
data = b''
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError as e:
    data += f' [{e.__class__.__name__}]'.encode()
print(data.decode(errors='replace')[:300])
"""


@pytest.mark.parametrize("name", sorted(PROXY_ATTACKS))
def test_proxy_never_reaches_the_host(name, tcp_server, tmp_path):
    from conftest import CORRAL  # noqa: F401  (the suite's binary)
    import subprocess
    token = "tok" + secrets.token_hex(6)
    payload = PROXY_ATTACKS[name].format(port=tcp_server.port, token=token)
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    probe.chmod(0o644)
    tmp_path.chmod(0o755)
    # Without a sandbox, the request reaches the server directly: the test can fail.
    outside = subprocess.run(["/usr/bin/python3", str(probe), "127.0.0.1", str(tcp_server.port),
                              payload.encode("unicode_escape").decode()],
                             capture_output=True, text=True, timeout=30)
    assert any(token in t or "CONNECT" in t or "GET" in t for t in tcp_server.snapshot()[1]), \
        f"the probe does not reach the host server even without a sandbox: {outside}"
    before = len(tcp_server.snapshot()[0])
    tokens_before = len(tcp_server.snapshot()[1])
    target_port = "3128" if not name.startswith("host-header") else str(tcp_server.port)
    rules = ["--allow-net", f"localhost:{tcp_server.port}", "--allow-net",
             f"{ALLOWED}:{tcp_server.port}"]
    proc = subprocess.run([CORRAL, "run", *rules, "--ro-bind", f"{tmp_path}:/probe", "--",
                           "python3", "/probe/probe.py", "127.0.0.1", target_port,
                           payload.encode("unicode_escape").decode()],
                          capture_output=True, text=True, timeout=60)
    assert len(tcp_server.snapshot()[0]) == before, \
        f"{name}: the host server saw a connection: {proc.stdout} {proc.stderr}"
    assert token not in "".join(tcp_server.snapshot()[1][tokens_before:])
    # The proxy answered (refused, or found nothing to reach): the probe ran.
    assert "HTTP/1.1 403" in proc.stdout or "HTTP/1.1 502" in proc.stdout, proc.stdout + proc.stderr


def test_spoofed_sni_goes_to_the_name_not_the_address(tcp_server, tmp_path):
    """A TLS ClientHello naming an allowed host, dialled at the host's
    loopback address: corral resolves the name (which leads nowhere), never
    connects to the dialled address."""
    import subprocess
    from conftest import CORRAL
    code = (
        "import socket, ssl\n"
        "ctx = ssl.create_default_context()\n"
        f"s = socket.create_connection(('127.0.0.1', {tcp_server.port}), timeout=10)\n"
        "try:\n"
        f"    ctx.wrap_socket(s, server_hostname='{ALLOWED}')\n"
        "    print('handshake completed')\n"
        "except (OSError, ssl.SSLError) as e:\n"
        "    print('failed', e)\n")
    # On the host the ClientHello reaches the server (which records it).
    subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, timeout=30)
    assert tcp_server.snapshot()[0], "the TLS attempt does not reach the host server"
    before = len(tcp_server.snapshot()[0])
    proc = subprocess.run([CORRAL, "run", *egress_args(tcp_server.port), "--", "python3", "-c",
                           code], capture_output=True, text=True, timeout=60)
    assert "failed" in proc.stdout, proc.stdout + proc.stderr
    assert len(tcp_server.snapshot()[0]) == before, "the proxy connected to the dialled address"


def test_mptcp_lands_at_the_proxy_too(tcp_server):
    """MPTCP to a captured port falls back to TCP at corral's listener (or is
    refused outright): never a way around the rules."""
    import subprocess
    from conftest import CORRAL
    code = (
        "import socket\n"
        "try:\n"
        "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\n"
        "except OSError as e:\n"
        "    print('no mptcp', e); raise SystemExit\n"
        "s.settimeout(10)\n"
        "try:\n"
        f"    s.connect(('127.0.0.1', {tcp_server.port})); s.sendall(b'mptcp-token\\n')\n"
        "    print('answer', s.recv(100))\n"
        "except OSError as e:\n"
        "    print('refused', e)\n")
    before = len(tcp_server.snapshot()[0])
    proc = subprocess.run([CORRAL, "run", *egress_args(tcp_server.port), "--", "python3", "-c",
                           code], capture_output=True, text=True, timeout=60)
    assert "ACK" not in proc.stdout, proc.stdout
    assert len(tcp_server.snapshot()[0]) == before
