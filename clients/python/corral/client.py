"""HTTP client for corral serve, over a Unix socket or TCP (stdlib only)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union


class CorralError(Exception):
    """An error answered by the server: ``status`` (HTTP), ``code`` (the
    API's error code, e.g. ``"sandbox_not_found"``) and the message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class BadRequest(CorralError):
    """400: malformed request or policy."""


class Unauthorized(CorralError):
    """401: no or wrong bearer token."""


class NotFound(CorralError):
    """404: unknown sandbox, file or endpoint."""


class Conflict(CorralError):
    """409: wrong state (the sandbox or process has ended, stdin is closed,
    the sandbox has no network egress)."""


class TooLarge(CorralError):
    """413: a body or file over the server's bound."""


class RateLimited(CorralError):
    """429: too many sandboxes, or processes in one sandbox."""


class NotImplementedByServer(CorralError):
    """501: the server does not offer this."""


_BY_STATUS = {400: BadRequest, 401: Unauthorized, 404: NotFound, 409: Conflict,
              413: TooLarge, 429: RateLimited, 501: NotImplementedByServer}


def _raise_for(status: int, body: bytes) -> None:
    try:
        err = json.loads(body)["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", body.decode("utf-8", "replace")[:500]
    raise _BY_STATUS.get(status, CorralError)(status, code, message)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: Optional[float]) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def default_socket() -> str:
    """$CORRAL_SOCKET, else the daemon's default place."""
    if os.environ.get("CORRAL_SOCKET"):
        return os.environ["CORRAL_SOCKET"]
    if os.geteuid() == 0:
        return "/run/corral/corral.sock"
    return os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/run/user/%d" % os.getuid()),
                        "corral.sock")


@dataclass
class Result:
    """A finished command."""

    exit_code: Optional[int]
    signal: Optional[int]
    stdout: str
    stderr: str
    timed_out: bool = False
    sandbox_ended: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_ms: int = 0
    raw: Dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class ExecEvent:
    """One event of a streamed command: kind "stdout" or "stderr" with
    data, or kind "exit" with result."""

    kind: str
    data: str = ""
    result: Optional[Result] = None


def _result(o: Mapping[str, Any]) -> Result:
    return Result(exit_code=o.get("exit_code"), signal=o.get("signal"),
                  stdout=o.get("stdout", ""), stderr=o.get("stderr", ""),
                  timed_out=bool(o.get("timed_out")), sandbox_ended=bool(o.get("sandbox_ended")),
                  stdout_truncated=bool(o.get("stdout_truncated")),
                  stderr_truncated=bool(o.get("stderr_truncated")),
                  duration_ms=int(o.get("duration_ms", 0)), raw=dict(o))


class Client:
    """A connection to corral serve: over its Unix socket (default), or a
    TCP URL with a bearer token."""

    def __init__(self, socket: Optional[str] = None, url: Optional[str] = None,
                 token: Optional[str] = None, timeout: Optional[float] = 3600.0) -> None:
        url = url or (None if socket else os.environ.get("CORRAL_URL"))
        self.token = token or os.environ.get("CORRAL_TOKEN")
        self.timeout = timeout
        if url:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError(f"unsupported URL {url!r}: expected http://HOST:PORT")
            self._host, self._port = parts.hostname, parts.port or 80
            self.socket = None
        else:
            self.socket = socket or default_socket()

    def _connection(self) -> http.client.HTTPConnection:
        if self.socket:
            return _UnixConnection(self.socket, self.timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _open(self, method: str, path: str, body: Optional[bytes] = None,
              headers: Optional[Dict[str, str]] = None):
        conn = self._connection()
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        if resp.status >= 400:
            data = resp.read()
            conn.close()
            _raise_for(resp.status, data)
        return conn, resp

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                headers: Optional[Dict[str, str]] = None) -> bytes:
        """Raw request; the response body, or a CorralError."""
        conn, resp = self._open(method, path, body, headers)
        try:
            return resp.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, value: Any = None) -> Any:
        body = json.dumps(value).encode() if value is not None else None
        return json.loads(self.request(method, path, body))

    def stream_lines(self, method: str, path: str, value: Any = None) -> Iterator[Dict[str, Any]]:
        body = json.dumps(value).encode() if value is not None else None
        conn, resp = self._open(method, path, body, {"Accept": "application/x-ndjson"})
        try:
            for line in resp:
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()

    def health(self) -> bool:
        return self.json("GET", "/healthz").get("status") == "ok"

    def sandboxes(self) -> List[Dict[str, Any]]:
        return list(self.json("GET", "/v1/sandboxes")["sandboxes"])


class Files:
    """Files of a sandbox (``Sandbox.files``)."""

    def __init__(self, sandbox: "Sandbox") -> None:
        self._sb = sandbox

    def _path(self, path: str, **extra: str) -> str:
        q = urllib.parse.urlencode({"path": path, **extra})
        return f"/v1/sandboxes/{self._sb.id}/files?{q}"

    def write_bytes(self, path: str, data: bytes) -> None:
        self._sb.client.request("PUT", self._path(path), bytes(data),
                                {"Content-Type": "application/octet-stream"})

    def write_text(self, path: str, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(path, text.encode(encoding))

    def read_bytes(self, path: str) -> bytes:
        return self._sb.client.request("GET", self._path(path))

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        return self.read_bytes(path).decode(encoding)

    def list(self, path: str = "/workspace") -> List[Dict[str, Any]]:
        """Entries: name, type ("file", "directory", "symlink", "other"),
        size, mode, mtime."""
        data = self._sb.client.request("GET", self._path(path, list="1"))
        return list(json.loads(data)["entries"])

    def remove(self, path: str, recursive: bool = False) -> None:
        extra = {"recursive": "1"} if recursive else {}
        self._sb.client.request("DELETE", self._path(path, **extra))


@dataclass
class ProcessStatus:
    """A background process: state is "running", "exited", "signaled" or
    "lost" (its sandbox ended first)."""

    pid: int
    state: str
    exit_code: Optional[int] = None
    signal: Optional[int] = None
    timed_out: bool = False
    raw: Dict[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"


def _status(o: Mapping[str, Any], pid: int) -> ProcessStatus:
    return ProcessStatus(pid=int(o.get("pid", pid)), state=str(o["state"]),
                         exit_code=o.get("exit_code"), signal=o.get("signal"),
                         timed_out=bool(o.get("timed_out")), raw=dict(o))


class Process:
    """A command running in the background in a sandbox (Sandbox.spawn)."""

    def __init__(self, sandbox: "Sandbox", info: Mapping[str, Any]) -> None:
        self._sb = sandbox
        self.pid: int = int(info["pid"])
        self.info: Dict[str, Any] = dict(info)

    @property
    def _base(self) -> str:
        return f"/v1/sandboxes/{self._sb.id}/processes/{self.pid}"

    def write_stdin(self, data: Union[str, bytes]) -> None:
        """Queue bytes for its stdin (at most 1 MiB waiting; then TooLarge)."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        self._sb.client.request("POST", self._base + "/stdin", raw,
                                {"Content-Type": "application/octet-stream"})

    def close_stdin(self) -> None:
        """Close its stdin once what was written has been read."""
        self._sb.client.request("POST", self._base + "/stdin?eof=1", b"",
                                {"Content-Type": "application/octet-stream"})

    def signal(self, sig: Union[str, int] = "TERM") -> None:
        """Send a signal: a name ("TERM", "SIGKILL") or a number."""
        self._sb.client.json("POST", self._base + "/signal", {"signal": sig})

    def status(self) -> ProcessStatus:
        return _status(self._sb.client.json("GET", self._base), self.pid)

    def output(self, follow: bool = True) -> Iterator[ExecEvent]:
        """Its output from the start of what is kept: ExecEvent("stdout"/
        "stderr", data) as produced, then ExecEvent("exit") once it ends.
        follow=False: only what is buffered now. Output dropped past the
        server's buffer comes as ExecEvent("dropped", data=str(bytes))."""
        path = self._base + "/output" + ("" if follow else "?follow=0")
        for o in self._sb.client.stream_lines("GET", path):
            if "exit" in o:
                st = _status(dict(o["exit"], pid=self.pid), self.pid)
                yield ExecEvent("exit", result=Result(exit_code=st.exit_code, signal=st.signal,
                                                      stdout="", stderr="",
                                                      timed_out=st.timed_out,
                                                      sandbox_ended=st.state == "lost",
                                                      raw=st.raw))
            elif "dropped" in o:
                yield ExecEvent("dropped", data=str(o["dropped"]))
            else:
                yield ExecEvent(str(o["stream"]), data=o["data"])

    def wait(self) -> ProcessStatus:
        """Block until it ends (following its output); its final status."""
        for _ in self.output():
            pass
        return self.status()


def _duration(v: Union[str, int, float, None]) -> Optional[str]:
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return f"{int(v * 1000)}ms"
    return v


class Sandbox:
    """A sandbox on a corral server; a context manager that deletes it.

    memory, pids, cpus, disk: limits ("512M", 64, "1.5"); allow_net: egress
    rules; env: variables; ttl: lifetime ("30m"); timeout: the default
    per-command timeout of run() and stream(); policy: extra policy JSON;
    image / from_snapshot: start on an image or a snapshot of the server's
    store (then /workspace is part of what snapshot() keeps).
    """

    def __init__(self, memory: Optional[str] = None, timeout: Union[str, float, None] = None,
                 allow_net: Sequence[str] = (), env: Optional[Mapping[str, str]] = None,
                 ttl: Union[str, float, None] = None, pids: Optional[int] = None,
                 cpus: Optional[str] = None, disk: Optional[str] = None,
                 policy: Optional[Mapping[str, Any]] = None, socket: Optional[str] = None,
                 url: Optional[str] = None, token: Optional[str] = None,
                 client: Optional[Client] = None, image: Optional[str] = None,
                 from_snapshot: Optional[str] = None) -> None:
        self.client = client or Client(socket=socket, url=url, token=token)
        doc: Dict[str, Any] = dict(policy or {})
        if image is not None:
            doc["image"] = image
        if from_snapshot is not None:
            doc["from"] = from_snapshot
        limits = dict(doc.get("limits", {}))
        for name, value in (("memory", memory), ("pids", pids), ("cpus", cpus), ("disk", disk)):
            if value is not None:
                limits[name] = str(value)
        if limits:
            doc["limits"] = limits
        if allow_net:
            doc["network"] = {"allow": list(allow_net)}
        if env:
            doc["env"] = dict(env)
        if ttl is not None:
            doc["ttl"] = _duration(ttl)
        self.default_timeout = _duration(timeout)
        info = self.client.json("POST", "/v1/sandboxes", doc)
        self.id: str = info["id"]
        self.info: Dict[str, Any] = info
        self.files = Files(self)
        self.closed = False

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exec_body(self, argv: Sequence[str], stdin: Union[str, bytes, None],
                   env: Optional[Mapping[str, str]], cwd: Optional[str],
                   timeout: Union[str, float, None]) -> Dict[str, Any]:
        if not argv:
            raise ValueError("an argv is required")
        body: Dict[str, Any] = {"argv": [str(a) for a in argv]}
        if isinstance(stdin, bytes):
            body["stdin_base64"] = base64.b64encode(stdin).decode()
        elif stdin is not None:
            body["stdin"] = stdin
        if env:
            body["env"] = dict(env)
        if cwd:
            body["cwd"] = cwd
        t = _duration(timeout) or self.default_timeout
        if t:
            body["timeout"] = t
        return body

    def run(self, *argv: str, stdin: Union[str, bytes, None] = None,
            env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
            timeout: Union[str, float, None] = None) -> Result:
        """Run a command to completion."""
        body = self._exec_body(argv, stdin, env, cwd, timeout)
        return _result(self.client.json("POST", f"/v1/sandboxes/{self.id}/exec", body))

    def stream(self, *argv: str, stdin: Union[str, bytes, None] = None,
               env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
               timeout: Union[str, float, None] = None) -> Iterator[ExecEvent]:
        """Run a command, yielding its output as it comes and then its exit."""
        body = self._exec_body(argv, stdin, env, cwd, timeout)
        for o in self.client.stream_lines("POST", f"/v1/sandboxes/{self.id}/exec", body):
            if "exit" in o:
                yield ExecEvent("exit", result=_result(o["exit"]))
            for kind in ("stdout", "stderr"):
                if kind in o:
                    yield ExecEvent(kind, data=o[kind])

    def spawn(self, *argv: str, stdin: Union[str, bytes, None] = None,
              env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
              timeout: Union[str, float, None] = None, close_stdin: bool = False,
              output_max: Union[str, int, None] = None) -> Process:
        """Start a command in the background; its stdin stays open for
        Process.write_stdin unless close_stdin. No timeout unless given
        (the sandbox's ttl bounds it)."""
        body = self._exec_body(argv, stdin, env, cwd, None)
        t = _duration(timeout)
        if t:
            body["timeout"] = t
        if close_stdin:
            body["stdin_eof"] = True
        if output_max is not None:
            body["output_max"] = output_max
        return Process(self, self.client.json("POST", f"/v1/sandboxes/{self.id}/processes", body))

    def processes(self) -> List[ProcessStatus]:
        data = self.client.json("GET", f"/v1/sandboxes/{self.id}/processes")
        return [_status(o, int(o["pid"])) for o in data["processes"]]

    def set_network(self, allow: Sequence[str]) -> List[str]:
        """Replace the egress rules of a sandbox created with allow_net
        (Conflict for one without network)."""
        r = self.client.json("PUT", f"/v1/sandboxes/{self.id}/network", {"allow": list(allow)})
        return list(r["allow"])

    def usage(self) -> Dict[str, Optional[int]]:
        """So far: cpu_ns, memory_peak_bytes, memory_current_bytes, pids
        (None where the host cannot measure it)."""
        return dict(self.status().get("usage") or {})

    def status(self) -> Dict[str, Any]:
        return dict(self.client.json("GET", f"/v1/sandboxes/{self.id}"))

    def snapshot(self, name: Optional[str] = None) -> str:
        """Freeze what the sandbox changed so far into a snapshot of the
        server's store; returns its name (start from it with
        Sandbox(from_snapshot=NAME)). Conflict (409) when the sandbox is
        not on an image or snapshot, or has ended."""
        info = self.client.json("POST", f"/v1/sandboxes/{self.id}/snapshots",
                                {"name": name} if name else {})
        return str(info["name"])

    def close(self) -> None:
        """Delete the sandbox (idempotent; a sandbox already gone is fine)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.client.request("DELETE", f"/v1/sandboxes/{self.id}")
        except NotFound:
            pass
