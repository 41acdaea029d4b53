"""`corral mcp` at the wire: JSON-RPC 2.0 over stdio, one message a line.

No SDK here: each test starts `corral mcp`, writes raw lines to its stdin
and reads its stdout, to check what a client library would hide — error
codes and ids, batches, oversized lines, notifications, version
negotiation, progress, cancellation — and what happens to the sandbox when
the client goes away or the server is signalled mid-call.

Every wait is bounded (a hung server fails its test); no assertion is about
how long something took.
"""

import base64
import json
import os
import selectors
import signal
import subprocess
import threading
import time
import uuid

import pytest

from conftest import (
    STARTED_PIDS,
    children_alive,
    corral_argv,
    kill_orphans,
    proc_cmdlines,
)

MiB = 1024 * 1024

LATEST = "2025-11-25"
OLDER = ("2025-06-18", "2025-03-26", "2024-11-05")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602

# Bounds on waits (seconds).
REPLY_TIMEOUT = 60
EXIT_TIMEOUT = 30


@pytest.fixture(autouse=True)
def no_orphans():
    """Runs before conftest's leak check: anything a server left running
    fails this test and is killed here, so it cannot fail the next ones."""
    yield
    left = children_alive()
    if left:
        kill_orphans()
    assert not left, f"processes outlived corral mcp: {left}"


class Server:
    """One `corral mcp` process. stdout is read in this thread (selectors),
    stderr goes to a file, so closing our end of a pipe really closes it."""

    def __init__(self, tmp_path, *options):
        self.argv = corral_argv(["mcp", *[str(o) for o in options]])
        self.stderr_path = tmp_path / f"mcp-stderr-{uuid.uuid4().hex[:8]}.txt"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=err, bufsize=0)
        STARTED_PIDS.append(self.proc.pid)
        self.stdin_fd = self.proc.stdin.fileno()
        self.stdout_fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.received = []  # every message read, in order
        self.pending = []   # read but not yet returned by recv()
        self.next_id = 1000

    # ---- writing ----

    def send_raw(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.stdin_fd, view)
            view = view[n:]

    def send(self, message):
        self.send_raw(json.dumps(message).encode() + b"\n")

    def notify(self, method, params=None):
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def send_request(self, method, params=None, id=None):
        id = self.new_id() if id is None else id
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return id

    # ---- reading ----

    def _read_some(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sel = selectors.DefaultSelector()
        sel.register(self.stdout_fd, selectors.EVENT_READ)
        ready = sel.select(remaining)
        sel.close()
        if not ready:
            return False
        chunk = os.read(self.stdout_fd, 1 << 20)
        if not chunk:
            raise EOFError(f"the server closed stdout{self.describe()}")
        self.buffer += chunk
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                raise AssertionError(f"the server wrote a line that is not JSON: {line[:500]!r}")
            self.received.append(msg)
            self.pending.append(msg)
        return True

    def recv(self, timeout=REPLY_TIMEOUT):
        """The next message from the server."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            if not self._read_some(deadline) and time.monotonic() >= deadline:
                raise AssertionError(f"no message from the server within {timeout}s{self.describe()}")
        return self.pending.pop(0)

    def response(self, id, timeout=REPLY_TIMEOUT):
        """The response to `id`; the messages read before it are returned too."""
        before = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv(max(0.01, deadline - time.monotonic()))
            if "method" not in msg and msg.get("id") == id:
                return msg, before
            before.append(msg)

    def request(self, method, params=None, id=None, timeout=REPLY_TIMEOUT):
        id = self.send_request(method, params, id)
        return self.response(id, timeout)[0]

    def result(self, method, params=None, timeout=REPLY_TIMEOUT):
        msg = self.request(method, params, timeout=timeout)
        assert "error" not in msg and "result" in msg, f"{method} failed: {msg}{self.describe()}"
        return msg["result"]

    def initialize(self, version=LATEST):
        result = self.result("initialize", {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "corral-protocol-tests", "version": "1.0.0"},
        })
        self.notify("notifications/initialized")
        return result

    def call(self, tool, arguments, meta=None, timeout=REPLY_TIMEOUT):
        params = {"name": tool, "arguments": arguments}
        if meta is not None:
            params["_meta"] = meta
        return self.request("tools/call", params, timeout=timeout)

    def call_result(self, tool, arguments, **kw):
        msg = self.call(tool, arguments, **kw)
        assert "result" in msg, f"tools/call {tool} failed: {msg}{self.describe()}"
        return msg["result"]

    def ping(self):
        assert self.result("ping") == {}

    # ---- the process ----

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def describe(self):
        return f"\nserver exit: {self.proc.poll()}\nserver stderr: {self.stderr()}"

    def corral_pid(self):
        """The corral process (under `runuser`, the runuser's child)."""
        if self.argv[0] != "runuser":
            return self.proc.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        stat = f.read()
                except OSError:
                    continue
                if int(stat[stat.rfind(")") + 2:].split()[1]) == self.proc.pid:
                    return int(entry)
            time.sleep(0.05)
        raise AssertionError("runuser's child (corral) not found")

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def close_stdout(self):
        self.proc.stdout.close()

    def wait(self, timeout=EXIT_TIMEOUT):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server did not exit within {timeout}s{self.describe()}")

    def shutdown(self):
        """Close stdin; the server must exit 0."""
        self.close_stdin()
        code = self.wait()
        assert code == 0, f"the server exited {code} on stdin EOF{self.describe()}"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        kill_orphans()


@pytest.fixture
def start(tmp_path):
    servers = []

    def start(*options, initialize=True):
        server = Server(tmp_path, *options)
        servers.append(server)
        if initialize:
            server.initialize()
        return server

    yield start
    # A test that failed half-way: stop its servers politely, then firmly.
    for server in servers:
        if server.proc.poll() is None:
            server.close_stdin()
            try:
                server.proc.wait(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()
        for f in (server.proc.stdout,):
            try:
                f.close()
            except OSError:
                pass


def assert_error(msg, code, id="unset"):
    assert "error" in msg and "result" not in msg, f"expected an error response: {msg}"
    assert msg.get("jsonrpc") == "2.0", msg
    assert msg["error"].get("code") == code, f"expected error {code}: {msg}"
    assert isinstance(msg["error"].get("message"), str) and msg["error"]["message"], msg
    if id != "unset":
        assert "id" in msg and msg["id"] == id, f"expected id {id!r}: {msg}"


def marker_processes(marker):
    return {pid: cmd for pid, cmd in proc_cmdlines().items() if any(marker in a for a in cmd)}


def wait_for_marker(server, marker, timeout=REPLY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker_processes(marker):
            return
        assert server.proc.poll() is None, f"the server exited{server.describe()}"
        time.sleep(0.1)
    raise AssertionError(f"the call's process ({marker}) never appeared{server.describe()}")


def assert_marker_gone(marker, grace=5):
    """No process carrying the marker survives (zombies have no cmdline)."""
    deadline = time.monotonic() + grace
    while True:
        left = marker_processes(marker)
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    assert not left, f"processes of the call survived the server: {left}"


def busy_call(tool, marker):
    """Arguments of a call that spins forever and has a process whose
    command line carries `marker` (a grandchild, for run_python)."""
    if tool == "run_python":
        return {"code": "import subprocess\n"
                        f"subprocess.Popen(['python3', '-c', 'while True: pass', '{marker}'])\n"
                        "while True: pass"}
    return {"command": f"python3 -c 'while True: pass' {marker}"}


# ---- framing and JSON-RPC errors ---------------------------------------------------


def test_ping(start):
    server = start()
    msg = server.request("ping", id="string-id")
    assert msg == {"jsonrpc": "2.0", "id": "string-id", "result": {}}, msg
    msg = server.request("ping", id=0)
    assert msg == {"jsonrpc": "2.0", "id": 0, "result": {}}, msg
    server.shutdown()


@pytest.mark.parametrize("line", [b"{not json", b'{"jsonrpc": "2.0", "id": 1, "method": "ping"',
                                  b"\xff\xfe garbage"])
def test_parse_error(start, line):
    server = start()
    server.send_raw(line + b"\n")
    assert_error(server.recv(), PARSE_ERROR, id=None)
    server.ping()
    server.shutdown()


@pytest.mark.parametrize("line", [
    b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]',
    b"[]",
    b"42",
    b'"ping"',
    b"null",
    b"true",
])
def test_invalid_request_not_an_object(start, line):
    server = start()
    server.send_raw(line + b"\n")
    msg = server.recv()
    assert_error(msg, INVALID_REQUEST, id=None)
    server.ping()
    assert server.pending == [], f"more than one answer to {line!r}: {server.pending}"
    server.shutdown()


def test_unknown_method(start):
    server = start()
    assert_error(server.request("no/such/method", {}, id=77), METHOD_NOT_FOUND, id=77)
    server.ping()
    server.shutdown()


def test_notifications_get_no_response(start):
    server = start()
    server.notify("notifications/initialized")
    server.notify("notifications/no_such_notification", {"x": 1})
    server.notify("ping")
    server.notify("tools/list")
    server.notify("no/such/method")
    server.notify("notifications/cancelled", {"requestId": 4242, "reason": "nothing runs"})
    server.notify("notifications/progress", {"progressToken": "t", "progress": 1})
    msg, before = server.response(server.send_request("ping"))
    assert msg["result"] == {}, msg
    assert before == [], f"notifications were answered: {before}"
    server.shutdown()


def test_requests_before_initialize(start):
    server = start(initialize=False)
    assert server.request("ping", id=1) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert_error(server.request("tools/list", id=2), INVALID_REQUEST, id=2)
    assert_error(server.request("tools/call", {"name": "run_shell", "arguments": {"command": "id"}},
                                id=3), INVALID_REQUEST, id=3)
    result = server.initialize()
    assert result["protocolVersion"] == LATEST
    assert {t["name"] for t in server.result("tools/list")["tools"]} >= {"run_python"}
    server.shutdown()


@pytest.mark.parametrize("asked, expected", [
    (LATEST, LATEST),
    *[(v, v) for v in OLDER],
    ("1999-01-01", LATEST),
    ("2099-12-31", LATEST),
    ("not a version", LATEST),
])
def test_initialize_version_negotiation(start, asked, expected):
    server = start(initialize=False)
    result = server.initialize(asked)
    assert result["protocolVersion"] == expected, result
    assert result["capabilities"]["tools"] == {"listChanged": False}, result
    assert result["serverInfo"]["name"] == "corral", result
    assert isinstance(result["serverInfo"]["version"], str), result
    assert isinstance(result.get("instructions"), str), result
    server.shutdown()


@pytest.mark.parametrize("options,expected", [
    ((), "no network access"),
    (("--allow-net", "example.com"), "only the hosts its policy allows"),
    (("--allow-net", "example.com", "--secret", "TOKEN=x@example.com"), "placeholders"),
])
def test_instructions_describe_the_network(start, options, expected):
    """The agent is told what the network is: none, an allowlist, secrets
    as placeholders."""
    server = start(*options, initialize=False)
    result = server.initialize()
    assert expected in result["instructions"], result["instructions"]
    server.shutdown()


def test_huge_line_is_refused_then_serving_continues(start):
    server = start()
    # id first, so a server that reads a prefix may echo it.
    line = b'{"jsonrpc": "2.0", "id": 7, "method": "ping", "params": {"pad": "' \
        + b"a" * (20 * MiB) + b'"}}\n'
    writer_error = []

    def write():
        try:
            server.send_raw(line)
        except OSError as e:
            writer_error.append(e)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    msg = server.recv()
    writer.join(REPLY_TIMEOUT)
    assert not writer.is_alive(), f"the server stopped reading its input{server.describe()}"
    assert not writer_error, f"the server closed its input: {writer_error}{server.describe()}"
    assert_error(msg, INVALID_REQUEST)
    assert msg.get("id") in (None, 7), msg
    server.ping()
    assert server.pending == [], f"more than one answer to the huge line: {server.pending}"
    server.shutdown()


def test_large_line_under_the_limit_is_served(start):
    server = start()
    content = os.urandom(6 * MiB)
    result = server.call_result("write_file", {"path": "big.bin", "encoding": "base64",
                                               "content": base64.b64encode(content).decode()})
    assert result["structuredContent"]["bytes"] == len(content), result["structuredContent"]
    result = server.call_result("read_file", {"path": "big.bin", "encoding": "base64"})
    assert base64.b64decode(result["structuredContent"]["content"]) == content
    server.shutdown()


# ---- tools/call parameter errors ---------------------------------------------------------
#
# A malformed tools/call (no or unknown tool name, arguments not an object)
# is a protocol error, -32602. Bad arguments to a known tool are a tool
# execution error (a result with isError true and an explanation the model
# can read), as the 2025-11-25 specification asks (SEP-1303) and
# docs/mcp.md documents; and nothing runs.


@pytest.mark.parametrize("params", [
    pytest.param({"name": "no_such_tool", "arguments": {}}, id="unknown-tool"),
    pytest.param({"name": "", "arguments": {}}, id="empty-name"),
    pytest.param({"arguments": {"code": "1"}}, id="no-name"),
    pytest.param({"name": 5, "arguments": {}}, id="name-not-a-string"),
    pytest.param({"name": "run_python", "arguments": "print(1)"}, id="arguments-not-an-object"),
    pytest.param({"name": "run_python", "arguments": ["print(1)"]}, id="arguments-an-array"),
])
def test_malformed_tool_call(start, params):
    server = start()
    msg = server.request("tools/call", params, id="bad")
    assert_error(msg, INVALID_PARAMS, id="bad")
    server.ping()
    server.shutdown()


# Code that would leave a trace, should it run.
TRACE = "open('ran.txt', 'w').write('ran')"
SHELL_TRACE = "touch ran.txt"


@pytest.mark.parametrize("tool, arguments", [
    pytest.param("run_python", {}, id="python-no-code"),
    pytest.param("run_python", {"code": 5}, id="python-code-int"),
    pytest.param("run_python", {"code": None}, id="python-code-null"),
    pytest.param("run_python", {"code": TRACE, "timeout": -1}, id="python-timeout-negative"),
    pytest.param("run_python", {"code": TRACE, "timeout": 0}, id="python-timeout-zero"),
    pytest.param("run_python", {"code": TRACE, "timeout": "5"}, id="python-timeout-string"),
    pytest.param("run_python", {"code": TRACE, "timeout": 61}, id="python-timeout-above-max"),
    pytest.param("run_python", {"code": TRACE, "timeout": 1e9}, id="python-timeout-huge"),
    pytest.param("run_shell", {}, id="shell-no-command"),
    pytest.param("run_shell", {"command": ["touch", "ran.txt"]}, id="shell-command-array"),
    pytest.param("run_shell", {"command": SHELL_TRACE, "timeout": -5}, id="shell-timeout-negative"),
    pytest.param("run_javascript", {"code": 1}, id="js-code-int"),
    pytest.param("write_file", {"path": "ran.txt"}, id="write-no-content"),
    pytest.param("write_file", {"content": "x"}, id="write-no-path"),
    pytest.param("write_file", {"path": "ran.txt", "content": "x", "encoding": "latin-1"},
                 id="write-bad-encoding"),
    pytest.param("write_file", {"path": "ran.txt", "content": "!!not base64!!", "encoding": "base64"},
                 id="write-invalid-base64"),
    pytest.param("read_file", {}, id="read-no-path"),
    pytest.param("read_file", {"path": "a.txt", "encoding": "utf-16"}, id="read-bad-encoding"),
    pytest.param("list_files", {"path": 3}, id="list-path-int"),
])
def test_bad_arguments_are_tool_errors(start, tool, arguments):
    server = start()
    msg = server.call(tool, arguments)
    assert "result" in msg, f"expected a tool error result: {msg}"
    result = msg["result"]
    assert result.get("isError") is True, f"bad arguments accepted: {msg}"
    explained = [c for c in result.get("content", []) if c.get("type") == "text" and c.get("text")]
    assert explained, f"no explanation for the model: {msg}"
    listing = server.call_result("list_files", {})["structuredContent"]["entries"]
    assert "ran.txt" not in {e["name"] for e in listing}, f"the call ran anyway: {listing}"
    server.ping()
    server.shutdown()


def test_timeout_above_a_custom_max(start):
    server = start("--timeout", "5s")
    result = server.call_result("run_python", {"code": "1", "timeout": 6})
    assert result["isError"] is True, result
    ok = server.call_result("run_python", {"code": "1 + 1", "timeout": 5})
    assert ok["structuredContent"]["result"] == "2", ok
    server.shutdown()


# ---- progress and cancellation ----------------------------------------------------------


@pytest.mark.parametrize("token", ["progress-token-1", 31337])
def test_progress_notifications(start, token):
    server = start()
    id = server.send_request("tools/call", {"name": "run_python",
                                            "arguments": {"code": "import time; time.sleep(3)"},
                                            "_meta": {"progressToken": token}})
    msg, before = server.response(id)
    assert "result" in msg, msg
    assert msg["result"]["structuredContent"]["status"] == "ok", msg
    progress = [m["params"] for m in before if m.get("method") == "notifications/progress"]
    assert progress, f"no notifications/progress before the response: {before}"
    assert all(p.get("progressToken") == token for p in progress), progress
    values = [p["progress"] for p in progress]
    assert all(isinstance(v, (int, float)) for v in values), progress
    assert all(a < b for a, b in zip(values, values[1:])), f"progress not increasing: {values}"
    assert all("id" not in m for m in before), f"responses before the call's: {before}"
    # No progress is reported for a call that did not ask for it.
    msg, before = server.response(server.send_request(
        "tools/call", {"name": "run_python", "arguments": {"code": "import time; time.sleep(2)"}}))
    assert [m for m in before if m.get("method") == "notifications/progress"] == [], before
    server.shutdown()


@pytest.mark.parametrize("tool", ["run_python", "run_shell"])
def test_cancelled_call_gets_no_response(start, tool):
    server = start()
    assert server.call_result("run_python", {"code": "x = 'kept'"})["isError"] is False
    marker = f"corral-mcp-cancel-{uuid.uuid4().hex}"
    if tool == "run_python":
        # Interrupting Python need not kill what it started: no grandchild.
        arguments = {"code": "while True: pass"}
    else:
        arguments = busy_call(tool, marker)
    cancelled = server.send_request("tools/call", {"name": tool, "arguments": arguments},
                                    id="to-cancel")
    if tool == "run_python":
        time.sleep(1)
    else:
        wait_for_marker(server, marker)
    server.notify("notifications/cancelled", {"requestId": cancelled, "reason": "test"})
    msg, before = server.response(server.send_request(
        "tools/call", {"name": "run_python", "arguments": {"code": "x"}}))
    assert [m for m in before if m.get("id") == cancelled] == [], \
        f"the cancelled request was answered: {before}"
    assert msg["result"]["structuredContent"]["status"] == "ok", msg
    assert msg["result"]["structuredContent"]["result"] == "'kept'", \
        f"state lost after a cancelled call: {msg}"
    assert_marker_gone(marker)
    msg, before = server.response(server.send_request("ping"))
    assert msg["result"] == {} and before == [], before
    server.shutdown()


def test_ping_answered_while_a_call_runs(start):
    """MCP: the receiver of a ping must answer promptly — also mid-call."""
    server = start()
    call = server.send_request("tools/call", {"name": "run_python",
                                              "arguments": {"code": "while True: pass"}})
    time.sleep(1)
    msg, before = server.response(server.send_request("ping"), timeout=30)
    assert msg["result"] == {}, msg
    assert [m for m in before if m.get("id") == call] == [], before
    server.notify("notifications/cancelled", {"requestId": call})
    server.ping()
    server.shutdown()


# ---- the client goes away, the server is signalled --------------------------------------------


@pytest.mark.parametrize("tool", ["run_python", "run_shell"])
@pytest.mark.parametrize("how", ["close_stdin", "close_both_pipes"])
def test_client_disconnects_mid_call(start, tool, how):
    server = start()
    marker = f"corral-mcp-disconnect-{uuid.uuid4().hex}"
    server.send_request("tools/call", {"name": tool, "arguments": busy_call(tool, marker)})
    wait_for_marker(server, marker)
    if how == "close_both_pipes":
        # What a killed client does: its ends of both pipes close at once.
        server.close_stdout()
    server.close_stdin()
    code = server.wait()
    assert code == 0, f"the server exited {code} when its client went away{server.describe()}"
    assert_marker_gone(marker)


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_call(start, signo):
    server = start()
    marker = f"corral-mcp-signal-{uuid.uuid4().hex}"
    server.send_request("tools/call", {"name": "run_python", "arguments": busy_call("run_python", marker)})
    wait_for_marker(server, marker)
    os.kill(server.corral_pid(), signo)
    code = server.wait()
    assert code == 0, f"the server exited {code} on {signal.Signals(signo).name}{server.describe()}"
    assert_marker_gone(marker)


def test_stdin_eof_while_idle(start):
    server = start()
    server.call_result("run_python", {"code": "x = 1"})
    server.shutdown()


# ---- tools at the edge of the contract ------------------------------------------------------------


def test_output_limit_truncates(start):
    server = start("--output-limit", "1K")
    sc = server.call_result("run_python", {"code": "print('a' * 100000)"})["structuredContent"]
    assert sc["truncated"] is True, sc
    assert sc["stdout"].startswith("a" * 100), sc
    assert len(sc["stdout"].encode()) + len(sc["stderr"].encode()) < 2048, \
        f"{len(sc['stdout'])} bytes of stdout returned under --output-limit 1K"
    sc = server.call_result("run_shell", {"command": "head -c 100000 /dev/zero | tr '\\0' b"})[
        "structuredContent"]
    assert sc["truncated"] is True and len(sc["stdout"]) < 2048, sc
    sc = server.call_result("run_python", {"code": "print('small')"})["structuredContent"]
    assert sc["truncated"] is False and sc["stdout"] == "small\n", sc
    server.shutdown()


def test_workspace_dir_is_bound(start, host_dir):
    (host_dir / "from_host.txt").write_text("made on the host")
    server = start("--workspace", host_dir)
    r = server.call_result("read_file", {"path": "from_host.txt"})
    assert r["structuredContent"]["content"] == "made on the host", r
    r = server.call_result("write_file", {"path": "from_mcp.txt", "content": "made by mcp"})
    assert r["isError"] is False, r
    assert (host_dir / "from_mcp.txt").read_text() == "made by mcp"
    r = server.call_result("run_shell", {"command": "pwd; cat from_host.txt"})
    assert r["structuredContent"]["stdout"] == "/workspace\nmade on the host", r
    r = server.call_result("reset", {})
    assert r["structuredContent"] == {"status": "ok"}, r
    assert (host_dir / "from_mcp.txt").read_text() == "made by mcp", \
        "reset emptied a workspace bound from the host"
    server.shutdown()


def refused(msg):
    return "error" in msg or msg.get("result", {}).get("isError") is True


@pytest.mark.parametrize("tool, arguments", [
    ("write_file", {"path": "../escaped.txt", "content": "x"}),
    ("write_file", {"path": "sub/../../escaped.txt", "content": "x"}),
    ("write_file", {"path": "link_out/escaped.txt", "content": "x"}),
    ("write_file", {"path": "/tmp/escaped.txt", "content": "x"}),
    ("read_file", {"path": "../secret.txt"}),
    ("read_file", {"path": "leak"}),
    ("read_file", {"path": "link_out/secret.txt"}),
    ("read_file", {"path": "/etc/passwd"}),
    ("list_files", {"path": ".."}),
    ("list_files", {"path": "link_out"}),
    ("list_files", {"path": "/"}),
], ids=lambda v: v if isinstance(v, str) else v["path"])
def test_file_tools_stay_in_the_workspace(start, tmp_path, host_dir, tool, arguments):
    # host_dir = tmp_path/host is the workspace; tmp_path holds a secret.
    (tmp_path / "secret.txt").write_text("TOPSECRET")
    (host_dir / "leak").symlink_to(tmp_path / "secret.txt")
    (host_dir / "link_out").symlink_to(tmp_path)
    server = start("--workspace", host_dir)
    msg = server.call(tool, arguments)
    assert "TOPSECRET" not in json.dumps(msg), f"a file outside the workspace was read: {msg}"
    if tool == "list_files" and "result" in msg and not msg["result"].get("isError"):
        names = {e["name"] for e in msg["result"]["structuredContent"]["entries"]}
        assert "secret.txt" not in names and "host" not in names, f"listed outside: {msg}"
    assert refused(msg), f"{tool} {arguments} was not refused: {msg}"
    assert not (tmp_path / "escaped.txt").exists(), "write_file wrote outside the workspace"
    server.ping()
    server.shutdown()
