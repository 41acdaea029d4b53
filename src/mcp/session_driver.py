# corral's session driver: the first process of an MCP session's sandbox.
#
# It keeps one Python namespace alive between calls (a notebook), and runs
# shell and JavaScript commands beside it. Requests arrive as JSON lines on
# the descriptor that was stdin; answers leave as JSON lines on the one that
# was stdout. The code it runs shares this process and may tamper with all of
# it: the server outside treats every answer as hostile input, and the
# sandbox, not this file, is the security boundary.
import ast
import base64
import io
import json
import linecache
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
import warnings

PROTO_IN = os.dup(0)
PROTO_OUT = os.dup(1)
OUTPUT_CAP = int(sys.argv[1]) if len(sys.argv) > 1 else 262144
CAPTURE_DIR = "/tmp/.corral-session"
IMAGE_MAX = 4 << 20
IMAGES_MAX = 8

_null = os.open(os.devnull, os.O_RDWR)
for _fd in (0, 1, 2):
    os.dup2(_null, _fd)
os.makedirs(CAPTURE_DIR, mode=0o700, exist_ok=True)
# plt.show() under the Agg backend is how notebooks end a plot: say nothing.
warnings.filterwarnings("ignore", message=".*non-interactive.*")
signal.signal(signal.SIGINT, signal.SIG_IGN)

namespace = {"__name__": "__main__", "__builtins__": __builtins__}
cell_count = 0
# Run with -c, this file has no __file__: recognise its frames by code.
DRIVER_FILE = (lambda: None).__code__.co_filename


def send(message):
    data = (json.dumps(message, ensure_ascii=True) + "\n").encode()
    view = memoryview(data)
    while view:
        written = os.write(PROTO_OUT, view)
        view = view[written:]


def capture_files():
    paths = [os.path.join(CAPTURE_DIR, name) for name in ("stdout", "stderr")]
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return [os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600) for p in paths]


def read_capped(fd, limit):
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    chunks, left = [], min(size, limit)
    while left > 0:
        chunk = os.read(fd, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks), size


def collect_output(fds):
    """stdout and stderr, sharing the per-call cap: each keeps at least half
    when both overflow, and what one does not use goes to the other."""
    sizes = [os.fstat(fd).st_size for fd in fds]
    half = OUTPUT_CAP // 2
    if sizes[0] + sizes[1] <= OUTPUT_CAP:
        limits = sizes
    elif sizes[0] <= half:
        limits = [sizes[0], OUTPUT_CAP - sizes[0]]
    elif sizes[1] <= half:
        limits = [OUTPUT_CAP - sizes[1], sizes[1]]
    else:
        limits = [half, OUTPUT_CAP - half]
    texts = []
    for fd, limit in zip(fds, limits):
        data, _ = read_capped(fd, limit)
        texts.append(data.decode("utf-8", errors="replace"))
        os.close(fd)
    for name in ("stdout", "stderr"):
        try:
            os.unlink(os.path.join(CAPTURE_DIR, name))
        except FileNotFoundError:
            pass
    return texts, sizes


def redirect(fds):
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)


def restore_streams():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    os.dup2(_null, 1)
    os.dup2(_null, 2)
    # Code may have replaced or closed the streams: start each call clean.
    if sys.__stdout__ is None or sys.__stdout__.closed:
        sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
    if sys.__stderr__ is None or sys.__stderr__.closed:
        sys.__stderr__ = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__


def outputs_state():
    state = {}
    try:
        with os.scandir("outputs") as entries:
            for entry in entries:
                if entry.name.lower().endswith(".png") and entry.is_file(follow_symlinks=False):
                    state[entry.name] = entry.stat(follow_symlinks=False).st_mtime_ns
    except OSError:
        pass
    return state


def collect_images(before):
    images = []
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        try:
            for number in plt.get_fignums():
                buffer = io.BytesIO()
                plt.figure(number).savefig(buffer, format="png", bbox_inches="tight")
                images.append(("figure-%d.png" % number, buffer.getvalue()))
            plt.close("all")
        except Exception as error:  # a broken figure must not break the session
            images.append(("error", str(error).encode()))
    for name, mtime in sorted(outputs_state().items()):
        if before.get(name) == mtime:
            continue
        try:
            fd = os.open(os.path.join("outputs", name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                data, size = read_capped(fd, IMAGE_MAX + 1)
            finally:
                os.close(fd)
        except OSError:
            continue
        if size <= IMAGE_MAX and data.startswith(b"\x89PNG\r\n\x1a\n"):
            images.append(("outputs/" + name, data))
    out = []
    for name, data in images[:IMAGES_MAX]:
        if name == "error":
            continue
        out.append({"name": name, "data": base64.b64encode(data).decode()})
    return out


def run_python(code, reply):
    global cell_count
    cell_count += 1
    filename = "<cell %d>" % cell_count
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    tree = ast.parse(code, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec"), namespace)
    if last is not None:
        value = eval(compile(last, filename, "eval"), namespace)
        if value is not None:
            text = repr(value)
            if len(text) > OUTPUT_CAP:
                text = text[:OUTPUT_CAP] + "... [%d characters cut]" % (len(text) - OUTPUT_CAP)
            reply["result"] = text


def describe_exception(error):
    tb = error.__traceback__
    # Drop the driver's own frames: the user sees their cell.
    while tb is not None and tb.tb_frame.f_code.co_filename == DRIVER_FILE:
        tb = tb.tb_next
    lines = traceback.format_exception(type(error), error, tb)
    return {"type": type(error).__name__, "message": str(error), "traceback": "".join(lines)}


def run_process(argv, stdin_path, reply):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen(argv, stdin=stdin, start_new_session=True)
    finally:
        if stdin_path:
            stdin.close()
    try:
        code = process.wait()
    except BaseException:
        # Interrupted: the command and everything it started in its group.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
        raise
    reply["exit_code"] = code if code >= 0 else 128 - code
    if code != 0:
        reply["status"] = "error"


def handle(request):
    kind = request.get("op")
    reply = {"id": request.get("id"), "status": "ok"}
    fds = capture_files()
    before = outputs_state() if kind == "python" else {}
    started = time.monotonic()
    redirect(fds)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if kind == "python":
            run_python(request["code"], reply)
        elif kind == "shell":
            run_process(["/bin/sh", "-c", request["code"]], None, reply)
        elif kind == "node":
            node = shutil.which("node") or shutil.which("nodejs")
            if node is None:
                raise FileNotFoundError("node is not available in this sandbox's image")
            path = os.path.join(CAPTURE_DIR, "cell.js")
            with open(path, "w", encoding="utf-8") as script:
                script.write(request["code"])
            run_process([node, "-"], path, reply)
        else:
            raise ValueError("unknown operation %r" % (kind,))
    except KeyboardInterrupt:
        reply["status"] = "interrupted"
    except BaseException as error:  # SystemExit too: the session goes on
        reply["status"] = "error"
        reply["error"] = describe_exception(error)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        restore_streams()
    if kind == "python":
        reply["images"] = collect_images(before)
    (reply["stdout"], reply["stderr"]), (reply["stdout_bytes"], reply["stderr_bytes"]) = collect_output(fds)
    reply["duration_ms"] = int((time.monotonic() - started) * 1000)
    return reply


def main():
    send({"ready": True, "python": sys.version.split()[0]})
    reader = io.open(PROTO_IN, "rb", buffering=1 << 16)
    while True:
        line = reader.readline()
        if not line:
            return
        try:
            request = json.loads(line)
            reply = handle(request)
        except Exception as error:
            reply = {"id": None, "status": "error", "error": describe_exception(error)}
        send(reply)


main()
