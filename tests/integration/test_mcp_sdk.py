"""`corral mcp` driven by the official MCP client (TypeScript SDK).

Each test runs one scenario of tests/mcp/sdk_scenarios.mjs: node starts
`corral mcp [OPTIONS]` through the SDK's StdioClientTransport, connects,
lists the tools (so that the SDK validates every structuredContent against
the tool's outputSchema), makes its calls, closes stdin and waits for the
server to exit. It prints what it saw as one JSON object; the assertions are
here.

Needs node and the SDK in tests/mcp/node_modules (scripts/setup.sh runs
`npm ci` there). No assertion is about how long something took.
"""

import json
import os
import re
import shutil
import socket
import subprocess

import pytest

from conftest import (
    REPO,
    STARTED_PIDS,
    _communicate,
    children_alive,
    corral_argv,
    host_has_module,
    kill_orphans,
)

MCP_DIR = REPO / "tests" / "mcp"
SCENARIOS = MCP_DIR / "sdk_scenarios.mjs"
NODE = shutil.which("node") or "/usr/bin/node"

# A whole scenario, server start to exit, is bounded by this (seconds).
SCENARIO_TIMEOUT = 300

TOOL_NAMES = {"run_python", "run_shell", "run_javascript", "write_file", "read_file",
              "list_files", "reset"}
STATUSES = {"ok", "error", "timeout", "cancelled", "killed"}
PYTHON_FIELDS = {"status", "stdout", "stderr", "result", "error", "truncated", "session_reset",
                 "duration_ms"}
PROCESS_FIELDS = {"status", "exit_code", "stdout", "stderr", "truncated", "session_reset",
                  "duration_ms"}


@pytest.fixture(autouse=True)
def no_orphans():
    """Runs before conftest's leak check: anything a server left running
    fails this test and is killed here, so it cannot fail the next ones."""
    yield
    left = children_alive()
    if left:
        kill_orphans()
    assert not left, f"processes outlived corral mcp: {left}"


# ---- running a scenario --------------------------------------------------------


def sdk_available():
    return os.access(NODE, os.X_OK) and (MCP_DIR / "node_modules" / "@modelcontextprotocol" / "sdk"
                                         / "package.json").is_file()


def scenario(name, *options, **params):
    """Run one scenario against `corral mcp OPTIONS`; return its `data`
    after checking that it ran, the SDK saw no protocol error and the server
    exited 0 on stdin EOF. The server's pid joins STARTED_PIDS, for
    conftest's leak check of its cgroups."""
    if not sdk_available():
        pytest.fail(f"node or the MCP SDK is missing ({NODE}, {MCP_DIR}/node_modules): "
                    f"run scripts/setup.sh (npm ci in tests/mcp)")
    argv = [NODE, str(SCENARIOS), name, *[f"{k}={v}" for k, v in params.items()], "--",
            *corral_argv(["mcp", *[str(o) for o in options]])]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=MCP_DIR)
    out, err = _communicate(proc, None, SCENARIO_TIMEOUT)
    out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    lines = out.strip().splitlines()
    assert lines, f"the scenario printed nothing (exit {proc.returncode})\nnode stderr: {err[-4000:]}"
    try:
        report = json.loads(lines[-1])
    except ValueError:
        pytest.fail(f"the scenario did not print JSON: {out[-4000:]!r}\nnode stderr: {err[-4000:]}")
    server = report.get("server") or {}
    if server.get("pid"):
        STARTED_PIDS.append(server["pid"])
    context = (f"\nserver exit: {server.get('exit_code')} signal {server.get('signal')}"
               f"\nserver stderr: {server.get('stderr', '')[-4000:]}\nnode stderr: {err[-2000:]}")
    assert report.get("ok"), f"scenario {name} failed: {report.get('error')}{context}"
    assert report["sdk_errors"] == [], f"the SDK reported errors: {report['sdk_errors']}{context}"
    assert server.get("exited"), f"the server did not exit after stdin was closed{context}"
    assert server.get("exit_code") == 0 and server.get("signal") is None, \
        f"the server did not exit 0 on stdin EOF{context}"
    return report["data"]


# ---- checks on tool results against the contract --------------------------------


def texts(result):
    return [c["text"] for c in result["content"] if c["type"] == "text"]


def images(result):
    return [c for c in result["content"] if c["type"] == "image"]


def check_shape(result, fields):
    sc = result["structuredContent"]
    assert isinstance(sc, dict), f"no structuredContent: {result}"
    assert fields <= set(sc), f"structuredContent lacks {fields - set(sc)}: {sc}"
    assert sc["status"] in STATUSES, sc
    assert isinstance(sc["stdout"], str) and isinstance(sc["stderr"], str), sc
    assert isinstance(sc["truncated"], bool) and isinstance(sc["session_reset"], bool), sc
    assert isinstance(sc["duration_ms"], int) and sc["duration_ms"] >= 0, sc
    assert result["isError"] == (sc["status"] != "ok"), \
        f"isError must be true exactly when status is not ok: {result}"
    assert texts(result), f"no text content next to structuredContent: {result}"
    return sc


def py(result):
    """structuredContent of a run_python result, checked."""
    sc = check_shape(result, PYTHON_FIELDS)
    assert sc["result"] is None or isinstance(sc["result"], str), sc
    if sc["error"] is not None:
        assert {"type", "message", "traceback"} <= set(sc["error"]), sc
    return sc


def proc_result(result):
    """structuredContent of a run_shell / run_javascript result, checked."""
    sc = check_shape(result, PROCESS_FIELDS)
    assert sc["exit_code"] is None or isinstance(sc["exit_code"], int), sc
    return sc


def ok_py(result):
    sc = py(result)
    assert sc["status"] == "ok", f"expected status ok: {result}"
    assert sc["error"] is None, sc
    return sc


# ---- tests --------------------------------------------------------------------------


def test_initialize():
    data = scenario("initialize")
    assert data["negotiated_version"] == data["client_version"] == "2025-11-25", data
    info = data["server_info"]
    assert info["name"] == "corral", info
    assert re.fullmatch(r"\d+\.\d+\.\d+", info["version"]), info
    assert data["capabilities"]["tools"] == {"listChanged": False}, data["capabilities"]
    assert isinstance(data["instructions"], str) and data["instructions"].strip(), data


def test_tools_listed_with_schemas():
    tools = scenario("tools")["tools"]
    by_name = {t["name"]: t for t in tools}
    assert len(tools) == len(by_name), f"duplicate tool names: {[t['name'] for t in tools]}"
    assert set(by_name) == TOOL_NAMES
    for tool in tools:
        for key in ("inputSchema", "outputSchema"):
            assert tool.get(key, {}).get("type") == "object", f"{tool['name']}: {key}: {tool}"
    required = {
        "run_python": {"code"}, "run_shell": {"command"}, "run_javascript": {"code"},
        "write_file": {"path", "content"}, "read_file": {"path"}, "list_files": set(),
        "reset": set(),
    }
    for name, fields in required.items():
        schema = by_name[name]["inputSchema"]
        assert set(schema.get("required", [])) == fields, f"{name}: {schema}"
        assert fields <= set(schema.get("properties", {})), f"{name}: {schema}"
    for name in ("run_python", "run_shell", "run_javascript"):
        assert "timeout" in by_name[name]["inputSchema"]["properties"], by_name[name]
    outputs = {
        "run_python": PYTHON_FIELDS, "run_shell": PROCESS_FIELDS, "run_javascript": PROCESS_FIELDS,
        "write_file": {"path", "bytes"}, "read_file": {"path", "content", "encoding", "bytes"},
        "list_files": {"path", "entries", "truncated"}, "reset": {"status"},
    }
    for name, fields in outputs.items():
        props = set(by_name[name]["outputSchema"].get("properties", {}))
        assert fields <= props, f"{name}: outputSchema lacks {fields - props}"


def test_python_state_persists():
    data = scenario("python_state")
    first = ok_py(data["first"])
    assert first["result"] is None, f"an assignment has no result: {first}"
    second = ok_py(data["second"])
    assert second["result"] == "42", second
    printed = ok_py(data["printed"])
    assert printed["stdout"] == "hello 41\n", printed
    raised = py(data["raised"])
    assert raised["status"] == "error" and data["raised"]["isError"], raised
    assert raised["error"]["type"] == "ValueError", raised
    assert "boom" in raised["error"]["message"], raised
    assert "ValueError" in raised["error"]["traceback"], raised


@pytest.mark.skipif(not host_has_module("matplotlib"), reason="matplotlib is not installed")
def test_matplotlib_figure_returned_as_png():
    data = scenario("matplotlib")
    for key in ("figure", "saved"):
        ok_py(data[key])
        pngs = images(data[key])
        assert pngs, f"{key}: no image content: {data[key]}"
        for image in pngs:
            assert image["mimeType"] == "image/png", image
            assert image["base64_valid"] and image["png_signature"], image
    # The figure was returned (and the one of outputs/ not re-sent): a call
    # that draws nothing returns no image.
    ok_py(data["plain"])
    assert images(data["plain"]) == [], f"a call drawing nothing returned images: {data['plain']}"


def test_per_call_timeout():
    data = scenario("timeout")
    ok_py(data["before"])
    looped = py(data["looped"])
    assert looped["status"] == "timeout", data["looped"]
    assert data["looped"]["isError"] is True
    after = ok_py(data["after"])
    assert after["stdout"] == "alive\n", after
    state = ok_py(data["state"])
    if not looped["session_reset"] and not after["session_reset"]:
        assert state["result"] == "'still here'", \
            f"the session was not reset, yet its state is gone: {state}"


def test_sdk_abort_cancels_a_running_call():
    data = scenario("abort")
    ok_py(data["before"])
    assert data["unexpected"] is None, f"the aborted call got a result: {data['unexpected']}"
    assert data["aborted"] is not None, data
    nxt = ok_py(data["next"])
    assert nxt["result"] == "'kept'", f"state lost after a cancelled call: {nxt}"
    assert ok_py(data["again"])["stdout"] == "again\n"


def test_memory_bomb_contained():
    data = scenario("memory_bomb", "--memory", "256M")
    bomb = py(data["bomb"])
    assert data["bomb"]["isError"] is True
    if bomb["status"] == "killed":
        assert bomb["session_reset"] is True, bomb
        said = json.dumps(bomb).lower() + " ".join(texts(data["bomb"])).lower()
        assert "memory" in said, f"the kill does not name the memory limit: {data['bomb']}"
    else:
        assert bomb["status"] == "error", f"memory bomb not contained: {data['bomb']}"
        assert bomb["error"]["type"] == "MemoryError", bomb
    after = ok_py(data["after"])
    assert after["stdout"] == "2\n", after


def test_network_denied():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        data = scenario("network", port=port)
        listener.setblocking(False)
        try:
            conn, peer = listener.accept()
            conn.close()
            pytest.fail(f"the sandbox reached the host's loopback listener (from {peer})")
        except BlockingIOError:
            pass
    finally:
        listener.close()
    for key in ("sock", "url"):
        sc = ok_py(data[key])
        assert sc["stdout"].startswith("FAILED"), f"{key}: {sc}"
        assert "CONNECTED" not in sc["stdout"], f"{key}: {sc}"


def test_file_round_trip():
    d = scenario("files")
    wt = d["writeText"]["structuredContent"]
    assert wt["path"].endswith("notes.txt") and wt["bytes"] == d["text_len"], wt
    rt = d["readText"]["structuredContent"]
    assert rt["content"] == d["text"] and rt["encoding"] == "utf-8" and rt["bytes"] == d["text_len"], rt
    assert rt["path"].endswith("notes.txt"), rt
    rtb = d["readTextB64"]["structuredContent"]
    assert rtb["content"] == d["text_b64"] and rtb["encoding"] == "base64", rtb
    wb = d["writeBin"]["structuredContent"]
    assert wb["bytes"] == d["binary_len"], wb
    rb = d["readBin"]["structuredContent"]
    assert rb["content"] == d["binary_b64"] and rb["bytes"] == d["binary_len"], rb
    assert d["readAbs"]["structuredContent"]["content"] == "absolute", d["readAbs"]
    for key in ("writeText", "readText", "readTextB64", "writeBin", "readBin", "writeAbs",
                "readAbs", "list", "listDot", "readPython"):
        assert d[key]["isError"] is False, f"{key}: {d[key]}"
    for key in ("list", "listDot"):
        listing = d[key]["structuredContent"]
        assert listing["truncated"] is False, listing
        entries = {e["name"]: e for e in listing["entries"]}
        notes = entries.get("notes.txt", {})
        assert (notes.get("type"), notes.get("size")) == ("file", d["text_len"]), listing
        assert entries.get("blob.bin", {}).get("size") == d["binary_len"], listing
        assert entries.get("abs.txt", {}).get("type") == "file", listing
        for e in listing["entries"]:
            assert e["type"] in ("file", "directory", "symlink", "other"), e
    sc = ok_py(d["fromPython"])
    assert sc["stdout"].splitlines() == [
        repr(d["text"]), repr([0, 1, 2, 255, 254, 0x89, 0x50, 0x4e, 0x47, 10, 13, 0]), "/workspace",
    ], sc
    assert d["readPython"]["structuredContent"]["content"] == "from python", d["readPython"]


def test_reset():
    d = scenario("reset")
    ok_py(d["set"])
    assert "before_reset.txt" in {e["name"] for e in d["listBefore"]["structuredContent"]["entries"]}
    assert d["reset"]["structuredContent"] == {"status": "ok"}, d["reset"]
    assert d["reset"]["isError"] is False
    gone = py(d["gone"])
    assert gone["status"] == "error" and gone["error"]["type"] == "NameError", gone
    after = d["listAfter"]["structuredContent"]["entries"]
    assert "before_reset.txt" not in {e["name"] for e in after}, \
        f"the private workspace was not emptied by reset: {after}"
    assert ok_py(d["works"])["result"] == "6"


def test_run_shell():
    d = scenario("shell")
    echo = proc_result(d["echo"])
    assert echo["status"] == "ok" and echo["exit_code"] == 0, echo
    assert echo["stdout"] == "hello from shell\n", echo
    assert "to-stderr" in echo["stderr"], echo
    exit3 = proc_result(d["exit3"])
    assert exit3["status"] == "error" and exit3["exit_code"] == 3, exit3
    assert d["exit3"]["isError"] is True
    assert exit3["stdout"] == "partial\n", exit3
    assert proc_result(d["pwd"])["stdout"] == "/workspace\n", d["pwd"]


# The sandbox shows the host's /usr: node is there when the host has it.
@pytest.mark.skipif(not os.access("/usr/bin/node", os.X_OK), reason="no /usr/bin/node")
def test_run_javascript():
    d = scenario("javascript")
    ok = proc_result(d["ok"])
    assert ok["status"] == "ok" and ok["exit_code"] == 0, ok
    assert ok["stdout"] == "42\n" and "err-line" in ok["stderr"], ok
    thrown = proc_result(d["thrown"])
    assert thrown["status"] == "error" and thrown["exit_code"] not in (0, None), thrown
    assert "js boom" in thrown["stderr"], thrown
