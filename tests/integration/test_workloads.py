"""Real workloads under the default policy: what untrusted code commonly does
must keep working inside the sandbox (seccomp and landlock included)."""

import hashlib
import json
import os
import shutil
import textwrap

import pytest

from conftest import assert_ok, describe, host_has_module, run


def py(code, *args):
    return ["python3", "-c", textwrap.dedent(code), *args]


def sh(script):
    return ["sh", "-c", textwrap.dedent(script)]


def need_program(name):
    # The sandbox shows the host's /usr, so what the host has the sandbox has.
    if not shutil.which(name, path="/usr/local/bin:/usr/bin:/bin"):
        pytest.skip(f"{name} is not installed on this host")


# ---- Python concurrency -----------------------------------------------------------


def test_multiprocessing_pool():
    # A script file, not -c: the spawn and forkserver start methods re-import
    # the main module in their workers.
    script = textwrap.dedent("""
        import multiprocessing as mp
        def square(x):
            return x * x
        if __name__ == '__main__':
            for method in ('fork', 'spawn', 'forkserver'):
                with mp.get_context(method).Pool(4) as pool:
                    assert pool.map(square, range(200)) == [x * x for x in range(200)], method
                print(method, 'ok')
    """)
    proc = assert_ok(run("sh", "-c", "cat > /tmp/pool.py && exec python3 /tmp/pool.py", input=script,
                         timeout=120))
    assert proc.stdout == "fork ok\nspawn ok\nforkserver ok\n"


def test_multiprocessing_queue_and_lock():
    proc = assert_ok(run(*py("""
        import multiprocessing as mp
        def worker(q, lock, counter, n):
            for _ in range(n):
                with lock:
                    counter.value += 1
            q.put(n)
        if __name__ == '__main__':
            q, lock, counter = mp.Queue(), mp.Lock(), mp.Value('i', 0)
            ps = [mp.Process(target=worker, args=(q, lock, counter, 500)) for _ in range(4)]
            for p in ps: p.start()
            got = sorted(q.get(timeout=30) for _ in ps)
            for p in ps: p.join(30)
            print(counter.value, got, [p.exitcode for p in ps])
    """)))
    assert proc.stdout == "2000 [500, 500, 500, 500] [0, 0, 0, 0]\n"


def test_threads():
    # 16 threads alive at once (a barrier holds them), each allocating: what
    # any thread pool does on a 16-way machine.
    proc = assert_ok(run(*py("""
        import threading
        from concurrent.futures import ThreadPoolExecutor
        n = 16
        barrier = threading.Barrier(n, timeout=30)
        lock = threading.Lock()
        results = []
        def work(i):
            barrier.wait()
            data = [str(j) * 10 for j in range(20000)]
            with lock:
                results.append((i, len(data), threading.get_ident()))
        threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
        for t in threads: t.start()
        for t in threads: t.join(30)
        with ThreadPoolExecutor(8) as ex:
            total = sum(ex.map(lambda i: i, range(1000)))
        print(len(results), len({r[2] for r in results}), total, threading.active_count())
    """)))
    assert proc.stdout == "16 16 499500 1\n"


def test_asyncio_loopback_tcp():
    proc = assert_ok(run(*py("""
        import asyncio
        async def handle(reader, writer):
            data = await reader.readline()
            writer.write(data.upper())
            await writer.drain()
            writer.close()
        async def main():
            results = []
            for host in ('127.0.0.1', 'localhost'):
                server = await asyncio.start_server(handle, host, 0)
                port = server.sockets[0].getsockname()[1]
                async with server:
                    async def client(i):
                        r, w = await asyncio.open_connection(host, port)
                        w.write(f'hello {i}\\n'.encode())
                        await w.drain()
                        line = await r.readline()
                        w.close()
                        return line.decode().strip()
                    results += await asyncio.gather(*(client(i) for i in range(20)))
            print(len(results), results[0], results[-1])
        asyncio.run(asyncio.wait_for(main(), 30))
    """)))
    assert proc.stdout == "40 HELLO 0 HELLO 19\n"


def test_ipv6_loopback_and_udp():
    proc = assert_ok(run(*py("""
        import socket
        out = []
        for family, addr in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
            try:
                s = socket.socket(family, socket.SOCK_DGRAM)
            except OSError as e:
                out.append('no-family')
                continue
            s.settimeout(5)
            try:
                s.bind((addr, 0))
            except OSError:
                out.append('no-' + addr)
                continue
            c = socket.socket(family, socket.SOCK_DGRAM)
            c.sendto(b'ping', s.getsockname())
            out.append(s.recvfrom(16)[0].decode())
        print(' '.join(out))
    """)))
    words = proc.stdout.split()
    assert words[0] == "ping", proc.stdout
    if not os.path.exists("/proc/net/if_inet6"):
        pytest.skip("this kernel has no IPv6")
    assert words[1] == "ping", proc.stdout


def test_shared_memory_and_dev_shm():
    proc = assert_ok(run(*py("""
        import os
        from multiprocessing import Process, shared_memory
        def child(name):
            shm = shared_memory.SharedMemory(name=name)
            shm.buf[:5] = b'HELLO'
            shm.close()
        if __name__ == '__main__':
            shm = shared_memory.SharedMemory(create=True, size=1 << 20)
            shm.buf[:5] = b'hello'
            listed = shm.name.lstrip('/') in os.listdir('/dev/shm')
            p = Process(target=child, args=(shm.name,))
            p.start(); p.join(30)
            print(bytes(shm.buf[:5]).decode(), p.exitcode, listed)
            shm.close(); shm.unlink()
            with open('/dev/shm/plain', 'wb') as f:
                f.write(b'x' * 4096)
            print(os.path.getsize('/dev/shm/plain'))
    """)))
    assert proc.stdout == "HELLO 0 True\n4096\n"


def test_pty_openpty():
    proc = assert_ok(run(*py("""
        import os, pty, tty
        master, slave = pty.openpty()
        os.write(master, b'through the pty\\n')
        print(os.read(slave, 100).decode().strip(), os.isatty(slave), os.ttyname(slave).startswith('/dev/pts/'))
        m2, s2 = os.openpty()
        tty.setraw(s2)
        os.write(s2, b'raw bytes')
        print(os.read(m2, 100).decode())
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp('sh', ['sh', '-c', 'tty; echo child-on-pty'])
        out = b''
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        print(out.decode().replace('\\r', '').strip().replace('\\n', ' '), os.waitstatus_to_exitcode(status))
    """)))
    lines = proc.stdout.splitlines()
    assert lines[0] == "through the pty True True", proc.stdout
    assert lines[1] == "raw bytes", proc.stdout
    tty_name, rest = lines[2].split(" ", 1)
    assert tty_name.startswith("/dev/pts/") and rest == "child-on-pty 0", proc.stdout


def test_script_command():
    need_program("script")
    proc = assert_ok(run("script", "-qc", "echo inside-script; tty", "/dev/null"))
    lines = proc.stdout.replace("\r", "").splitlines()
    assert lines[0] == "inside-script", proc.stdout
    assert lines[1].startswith("/dev/pts/"), proc.stdout
    assert_ok(run("script", "-qc", "true", "/dev/null"))


# ---- toolchains ------------------------------------------------------------------------


def test_gcc_compile_and_run():
    need_program("gcc")
    proc = assert_ok(run(*sh(r"""
        set -e
        cd /tmp
        cat > hello.c <<'EOF'
        #include <pthread.h>
        #include <stdio.h>
        #include <math.h>
        static void *work(void *arg) { *(double *)arg = sqrt(*(double *)arg); return NULL; }
        int main(void) {
            double v = 1764.0;
            pthread_t t;
            pthread_create(&t, NULL, work, &v);
            pthread_join(t, NULL);
            printf("hello from C: %.0f\n", v);
            return 42;
        }
        EOF
        gcc -O2 -Wall -Werror -pthread -o hello hello.c -lm
        set +e
        ./hello
        echo "exit $?"
    """), timeout=120))
    assert proc.stdout == "hello from C: 42\nexit 42\n"


def test_make():
    need_program("make")
    need_program("gcc")
    proc = assert_ok(run(*sh("""
        set -e
        mkdir -p /tmp/proj && cd /tmp/proj
        printf 'int add(int a, int b) { return a + b; }\\n' > add.c
        printf '#include <stdio.h>\\nint add(int, int);\\nint main(void) { printf("%%d\\\\n", add(40, 2)); return 0; }\\n' > main.c
        printf 'app: main.o add.o\\n\\t$(CC) -o $@ $^\\n%%.o: %%.c\\n\\t$(CC) -c -o $@ $<\\nclean:\\n\\trm -f app *.o\\n.PHONY: clean\\n' > Makefile
        make -j2 -s
        ./app
        make -q app && echo up-to-date
        make -s clean && ls
    """), timeout=120))
    assert proc.stdout == "42\nup-to-date\nMakefile\nadd.c\nmain.c\n", describe(proc)


def test_git():
    need_program("git")
    proc = assert_ok(run(*sh("""
        set -e
        g() { git -c user.name='Sandbox User' -c user.email=sandbox@example.invalid -c init.defaultBranch=main "$@"; }
        cd /tmp && g init -q repo && cd repo
        echo 'hello ✓' > README
        g add README
        g commit -q -m 'first commit ✓'
        echo more >> README
        g commit -q -am second
        g log --format='%an|%s' | cat
        g rev-list --count HEAD
        g status --porcelain | wc -l
        g clone -q /tmp/repo /tmp/clone && cat /tmp/clone/README
    """), timeout=120))
    assert proc.stdout == ("Sandbox User|second\nSandbox User|first commit ✓\n2\n0\nhello ✓\nmore\n"), \
        describe(proc)


def test_node():
    if not shutil.which("node", path="/usr/local/bin:/usr/bin:/bin"):
        pytest.skip("node is not installed on this host")
    # worker_threads with an inline worker: eval the worker source.
    script = textwrap.dedent("""
        const { Worker } = require('worker_threads');
        const { execSync } = require('child_process');
        const worker = new Worker(
            "const { parentPort, workerData } = require('worker_threads'); parentPort.postMessage(workerData * 2);",
            { eval: true, workerData: 21 });
        worker.on('message', (v) => {
            const hi = execSync('echo hi').toString().trim();
            console.log(`worker ${v} ${hi} ${require('os').userInfo().username}`);
        });
        worker.on('error', (e) => { console.error(e); process.exit(3); });
    """)
    proc = assert_ok(run("node", "-e", script, timeout=120))
    assert proc.stdout == "worker 42 hi sandbox\n"


# ---- data science stack -------------------------------------------------------------------


def need_module(name):
    if not host_has_module(name):
        pytest.skip(f"python module {name} is not importable by /usr/bin/python3 on this host")


def test_numpy():
    need_module("numpy")
    proc = assert_ok(run(*py("""
        import numpy as np
        rng = np.random.default_rng(0)
        a = rng.standard_normal((200, 200))
        inv = np.linalg.inv(a)
        print(np.allclose(a @ inv, np.eye(200), atol=1e-8), int(np.arange(10).sum()))
    """), timeout=120))
    assert proc.stdout == "True 45\n"


def test_pandas():
    need_module("pandas")
    proc = assert_ok(run(*py("""
        import pandas as pd
        df = pd.DataFrame({'k': ['a', 'b', 'a', 'b'], 'v': [1, 2, 3, 4]})
        df.to_csv('/tmp/data.csv', index=False)
        back = pd.read_csv('/tmp/data.csv')
        print(back.groupby('k')['v'].sum().to_dict())
    """), timeout=120))
    assert proc.stdout == "{'a': 4, 'b': 6}\n"


def test_matplotlib_png():
    need_module("matplotlib")
    proc = assert_ok(run(*py("""
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [0, 1, 4], label='ünïcode ✓')
        ax.legend()
        fig.savefig('/tmp/plot.png')
        data = open('/tmp/plot.png', 'rb').read()
        print(data[:8].hex(), len(data) > 1000)
    """), timeout=180))
    assert proc.stdout == "89504e470d0a1a0a True\n", describe(proc)


# ---- sqlite ---------------------------------------------------------------------------------


def test_python_sqlite():
    proc = assert_ok(run(*py("""
        import sqlite3
        for path in ('/tmp/test.db', ':memory:'):
            db = sqlite3.connect(path)
            db.execute('pragma journal_mode=wal')
            db.execute('create table t (k text primary key, v integer)')
            db.executemany('insert into t values (?, ?)', [(f'k{i}', i) for i in range(1000)])
            db.commit()
            print(db.execute('select count(*), sum(v) from t').fetchone())
            db.close()
    """)))
    assert proc.stdout == "(1000, 499500)\n(1000, 499500)\n"


def test_sqlite_cli():
    need_program("sqlite3")
    proc = assert_ok(run(*sh("""
        set -e
        sqlite3 /tmp/cli.db 'create table t(x); insert into t values (1), (2), (39);'
        sqlite3 /tmp/cli.db 'select sum(x) from t;'
    """)))
    assert proc.stdout == "42\n"


# ---- process basics ----------------------------------------------------------------------------


def test_getpwuid_sandbox_user():
    proc = assert_ok(run(*py("""
        import getpass, os, pwd
        print(pwd.getpwuid(os.getuid()).pw_name, getpass.getuser(), os.path.expanduser('~'))
    """)))
    assert proc.stdout == "sandbox sandbox /home/sandbox\n"
    proc = assert_ok(run("id", "-un"))
    assert proc.stdout == "sandbox\n"
    proc = assert_ok(run("whoami"))
    assert proc.stdout == "sandbox\n"


def test_signal_alarm_handler():
    proc = assert_ok(run(*py("""
        import os, signal, time
        fired = []
        signal.signal(signal.SIGALRM, lambda s, f: fired.append(s))
        signal.alarm(1)
        deadline = time.monotonic() + 30
        while not fired and time.monotonic() < deadline:
            signal.pause() if hasattr(signal, 'pause') else time.sleep(0.1)
        signal.signal(signal.SIGUSR1, lambda s, f: fired.append(s))
        os.kill(os.getpid(), signal.SIGUSR1)
        print([signal.Signals(s).name for s in fired])
    """)))
    assert proc.stdout == "['SIGALRM', 'SIGUSR1']\n"


def test_subprocess_exit_codes():
    proc = assert_ok(run(*py("""
        import signal, subprocess
        codes = [subprocess.run(['sh', '-c', f'exit {c}']).returncode for c in (0, 1, 7, 255)]
        codes.append(subprocess.run(['sh', '-c', 'kill -TERM $$']).returncode)
        codes.append(subprocess.run(['sh', '-c', 'kill -KILL $$']).returncode)
        try:
            subprocess.run(['corral-no-such-program'])
        except FileNotFoundError:
            codes.append('enoent')
        p = subprocess.Popen(['sleep', '100'])
        p.send_signal(signal.SIGINT)
        codes.append(p.wait(30))
        print(codes)
    """)))
    assert proc.stdout == "[0, 1, 7, 255, -15, -9, 'enoent', -2]\n"


def test_large_data_through_pipes_inside():
    data = os.urandom(20 * 1024 * 1024)
    proc = run(*py("""
        import hashlib, subprocess, sys
        data = sys.stdin.buffer.read()
        # through a child's stdin and back out of its stdout
        out = subprocess.run(['cat'], input=data, stdout=subprocess.PIPE, check=True).stdout
        piped = subprocess.run('head -c 31457280 /dev/zero | wc -c', shell=True,
                               stdout=subprocess.PIPE, check=True).stdout
        sys.stdout.write(hashlib.sha256(out).hexdigest() + ' ' + piped.decode().strip() + '\\n')
        sys.stdout.flush()
        sys.stdout.buffer.write(out)
    """), input=data, binary=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    header, body = proc.stdout.split(b"\n", 1)
    digest, count = header.decode().split()
    assert digest == hashlib.sha256(data).hexdigest()
    assert count == str(30 * 1024 * 1024)
    assert body == data


def test_shell_pipeline_and_coreutils():
    proc = assert_ok(run(*sh("""
        set -e
        seq 1 100000 | sort -rn | head -1
        printf 'b\\na\\nb\\n' | sort | uniq -c | awk '{print $1 $2}' | tr '\\n' ' '
        echo
        find /usr/bin -maxdepth 1 -name sh -o -maxdepth 1 -name env | sort
        tar -C /tmp -cf /tmp/x.tar . 2>/dev/null; tar -tf /tmp/x.tar | head -1
        date +%Y | grep -qE '^[0-9]{4}$' && echo date-ok
    """)))
    lines = proc.stdout.splitlines()
    assert lines[0] == "100000"
    assert lines[1].strip() == "1a 2b"
    assert lines[2:4] == ["/usr/bin/env", "/usr/bin/sh"]
    assert lines[-1] == "date-ok"


def test_workspace_project_build(host_dir):
    need_program("gcc")
    need_program("make")
    (host_dir / "main.c").write_text('#include <stdio.h>\nint main(void) { puts("built in workspace"); }\n')
    (host_dir / "Makefile").write_text("app: main.c\n\t$(CC) -o $@ $<\n")
    proc = assert_ok(run("--workspace", host_dir, "sh", "-c", "make -s && ./app", timeout=120))
    assert proc.stdout == "built in workspace\n"
    built = host_dir / "app"
    assert built.exists()
    assert built.stat().st_uid == host_dir.stat().st_uid


def test_json_result_roundtrip():
    # Arguments with spaces, quotes, newlines and UTF-8 arrive intact.
    args = ["plain", "with space", "quote\"s'", "new\nline", "ünï ✓", "", "--not-an-option"]
    proc = assert_ok(run(*py("import json, sys; print(json.dumps(sys.argv[1:]))", *args)))
    assert json.loads(proc.stdout) == args
