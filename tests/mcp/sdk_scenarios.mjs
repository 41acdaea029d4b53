// Drives `corral mcp` with the official MCP TypeScript SDK client, one named
// scenario per run, for tests/integration/test_mcp_sdk.py.
//
//   node sdk_scenarios.mjs SCENARIO [KEY=VALUE...] -- SERVER_CMD [ARGS...]
//   node sdk_scenarios.mjs tools -- /path/to/corral mcp --memory 256M
//
// The scenario only observes: it prints ONE JSON object on stdout and the
// pytest side asserts on it.
//
//   {"ok": true, "scenario": ..., "data": {...scenario observations...},
//    "sdk_errors": [...errors the SDK reported on the side, e.g. a response
//                   for an id it had cancelled or an invalid message...],
//    "server": {"pid", "exit_code", "signal", "exited", "stderr"}}
//
// On an unexpected failure (a request rejected, an output that does not
// match the tool's outputSchema, a timeout...) it prints
// {"ok": false, "error": "...", ...} and exits 1.
//
// Every tool call goes through Client.callTool after tools/list, so the SDK
// validates each structuredContent against the tool's outputSchema.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';

// Bounds on every wait: a hung server fails the scenario, it never hangs.
const CALL_TIMEOUT_MS = 120_000;
const EXIT_WAIT_MS = 60_000;
const STDERR_KEEP = 16_000;

function parseArgs(argv) {
    const sep = argv.indexOf('--');
    if (sep < 1 || sep === argv.length - 1) {
        throw new Error('usage: node sdk_scenarios.mjs SCENARIO [KEY=VALUE...] -- SERVER_CMD [ARGS...]');
    }
    const [scenario, ...kv] = argv.slice(0, sep);
    const params = {};
    for (const item of kv) {
        const eq = item.indexOf('=');
        if (eq < 1) throw new Error(`bad parameter ${item} (expected KEY=VALUE)`);
        params[item.slice(0, eq)] = item.slice(eq + 1);
    }
    const [command, ...args] = argv.slice(sep + 1);
    return { scenario, params, command, args };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// A CallToolResult, summarised for the JSON output (images are not copied).
function summarise(result) {
    const content = (result.content ?? []).map(item => {
        if (item.type === 'image') {
            let decoded = Buffer.alloc(0);
            let base64Valid = typeof item.data === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(item.data);
            if (base64Valid) decoded = Buffer.from(item.data, 'base64');
            return {
                type: 'image',
                mimeType: item.mimeType,
                base64_valid: base64Valid,
                bytes: decoded.length,
                png_signature: decoded.subarray(0, 8).equals(PNG_SIGNATURE)
            };
        }
        if (item.type === 'text') {
            return { type: 'text', text: item.text.length > 8000 ? item.text.slice(0, 8000) + '[...]' : item.text };
        }
        return { type: item.type };
    });
    return {
        isError: result.isError ?? false,
        structuredContent: result.structuredContent ?? null,
        content
    };
}

class Session {
    constructor(command, args) {
        this.sdkErrors = [];
        this.stderr = '';
        this.negotiatedVersion = null;
        // The SDK passes only HOME, PATH, USER... to the server: add the
        // sanitizer settings of an ASan/UBSan run (scripts/test.sh).
        const env = {};
        for (const key of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) {
            if (process.env[key] !== undefined) env[key] = process.env[key];
        }
        this.transport = new StdioClientTransport({ command, args, env, stderr: 'pipe' });
        this.transport.stderr.on('data', chunk => {
            this.stderr += chunk.toString('utf8');
            if (this.stderr.length > 2 * STDERR_KEEP) this.stderr = this.stderr.slice(-STDERR_KEEP);
        });
        // The SDK calls this with the version the server chose in initialize.
        this.transport.setProtocolVersion = version => {
            this.negotiatedVersion = version;
        };
        this.client = new Client({ name: 'corral-sdk-tests', version: '1.0.0' }, { capabilities: {} });
        this.client.onerror = error => this.sdkErrors.push(String(error?.message ?? error));
        this.child = null;
        this.exit = null;
    }

    async connect() {
        await this.client.connect(this.transport, { timeout: CALL_TIMEOUT_MS });
        // The server process, to see how it exits. The SDK's own close()
        // escalates to SIGKILL after 4 s, which would not let us tell a
        // clean exit from a killed one: close stdin ourselves and wait.
        this.child = this.transport._process;
        this.pid = this.transport.pid;
        this.exitPromise = new Promise(resolve => {
            if (this.child.exitCode !== null || this.child.signalCode !== null) {
                resolve({ exit_code: this.child.exitCode, signal: this.child.signalCode });
            } else {
                this.child.once('exit', (code, signal) => resolve({ exit_code: code, signal }));
            }
        });
    }

    async listTools() {
        return await this.client.listTools(undefined, { timeout: CALL_TIMEOUT_MS });
    }

    async call(name, args, options = {}) {
        const result = await this.client.callTool({ name, arguments: args }, undefined, {
            timeout: CALL_TIMEOUT_MS,
            ...options
        });
        return summarise(result);
    }

    // Close stdin (EOF: the contract says the server cleans up and exits 0)
    // and wait for the process to end.
    async close() {
        if (!this.child) {
            await this.transport.close().catch(() => {});
            return { exited: false, exit_code: null, signal: null };
        }
        try {
            this.child.stdin.end();
        } catch {
            // ignore
        }
        let timer;
        const timedOut = new Promise(resolve => {
            timer = setTimeout(() => resolve(null), EXIT_WAIT_MS);
        });
        const status = await Promise.race([this.exitPromise, timedOut]);
        clearTimeout(timer);
        // Let the stderr pipe drain.
        await new Promise(resolve => setTimeout(resolve, 100));
        await this.client.close().catch(() => {});
        await this.transport.close().catch(() => {});
        if (status === null) return { exited: false, exit_code: null, signal: null };
        return { exited: true, ...status };
    }
}

// run_python; args are more tool arguments, options the SDK's request options.
const py = (s, code, args = {}, options = {}) => s.call('run_python', { code, ...args }, options);

const scenarios = {
    // initialize: what the server announced.
    async initialize(s) {
        return {
            client_version: LATEST_PROTOCOL_VERSION,
            negotiated_version: s.negotiatedVersion,
            server_info: s.client.getServerVersion() ?? null,
            capabilities: s.client.getServerCapabilities() ?? null,
            instructions: s.client.getInstructions() ?? null
        };
    },

    async tools(s) {
        const { tools } = await s.listTools();
        return { tools };
    },

    // State persists between calls, like a notebook.
    async python_state(s) {
        await s.listTools();
        const first = await py(s, 'x = 41');
        const second = await py(s, 'x + 1');
        const printed = await py(s, 'print("hello", x)');
        const raised = await py(s, 'def f():\n    raise ValueError("boom")\nf()');
        return { first, second, printed, raised };
    },

    async matplotlib(s) {
        await s.listTools();
        const figure = await py(
            s,
            'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title("corral")'
        );
        const saved = await py(
            s,
            'import os\nos.makedirs("outputs", exist_ok=True)\n' +
                'fig = plt.figure()\nplt.bar([1, 2], [3, 4])\nfig.savefig("outputs/bars.png")\nplt.close("all")'
        );
        const plain = await py(s, '1 + 1');
        return { figure, saved, plain };
    },

    // A per-call timeout, then the session is still usable.
    async timeout(s) {
        await s.listTools();
        const before = await py(s, 'kept = "still here"');
        const looped = await py(s, 'while True: pass', { timeout: 2 });
        const after = await py(s, 'print("alive")');
        const state = await py(s, 'kept');
        return { before, looped, after, state };
    },

    // The SDK cancels through an AbortSignal (notifications/cancelled).
    async abort(s) {
        await s.listTools();
        const before = await py(s, 'x = "kept"');
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort('test aborts the call'), 1000);
        let aborted = null;
        let unexpected = null;
        const started = Date.now();
        try {
            unexpected = await py(s, 'while True: pass', {}, { signal: controller.signal });
        } catch (error) {
            aborted = { name: error?.name ?? null, message: String(error?.message ?? error) };
        }
        clearTimeout(timer);
        const abortMs = Date.now() - started;
        const t0 = Date.now();
        const next = await py(s, 'x');
        const nextMs = Date.now() - t0;
        // A second call too: a late response for the cancelled id would show
        // up in sdk_errors ("unknown message ID") by now.
        const again = await py(s, 'print("again")');
        return { before, aborted, unexpected, next, again, abort_ms: abortMs, next_ms: nextMs };
    },

    // A memory bomb under --memory: contained, then a working call.
    async memory_bomb(s) {
        await s.listTools();
        const bomb = await py(s, "x=[]\nwhile True: x.append(b'a'*10**7)");
        const after = await py(s, 'print(1 + 1)');
        return { bomb, after };
    },

    // No network: a listening socket on the host's loopback is unreachable.
    async network(s, params) {
        await s.listTools();
        const port = Number(params.port);
        const sock = await py(
            s,
            'import socket\n' +
                'try:\n' +
                `    c = socket.create_connection(("127.0.0.1", ${port}), timeout=5)\n` +
                '    print("CONNECTED", c.getpeername())\n' +
                'except OSError as e:\n' +
                '    print("FAILED", type(e).__name__, e)\n'
        );
        const url = await py(
            s,
            'import urllib.request\n' +
                'try:\n' +
                `    r = urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=5)\n` +
                '    print("CONNECTED", r.status)\n' +
                'except Exception as e:\n' +
                '    print("FAILED", type(e).__name__, e)\n'
        );
        return { sock, url };
    },

    // write_file / read_file / list_files, text and base64, and Python sees
    // the same files at the same relative paths.
    async files(s) {
        await s.listTools();
        const text = 'héllo, corral\nline 2\n';
        const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x89, 0x50, 0x4e, 0x47, 10, 13, 0]);
        const writeText = await s.call('write_file', { path: 'notes.txt', content: text });
        const readText = await s.call('read_file', { path: 'notes.txt' });
        const readTextB64 = await s.call('read_file', { path: 'notes.txt', encoding: 'base64' });
        const writeBin = await s.call('write_file', {
            path: 'blob.bin',
            content: binary.toString('base64'),
            encoding: 'base64'
        });
        const readBin = await s.call('read_file', { path: 'blob.bin', encoding: 'base64' });
        const writeAbs = await s.call('write_file', { path: '/workspace/abs.txt', content: 'absolute' });
        const readAbs = await s.call('read_file', { path: 'abs.txt' });
        const list = await s.call('list_files', {});
        const listDot = await s.call('list_files', { path: '.' });
        const fromPython = await py(
            s,
            'import os\n' +
                'print(repr(open("notes.txt", encoding="utf-8").read()))\n' +
                'print(list(open("blob.bin", "rb").read()))\n' +
                'print(os.getcwd())\n' +
                'open("made_by_python.txt", "w").write("from python")'
        );
        const readPython = await s.call('read_file', { path: 'made_by_python.txt' });
        return {
            text,
            binary_b64: binary.toString('base64'),
            binary_len: binary.length,
            text_b64: Buffer.from(text, 'utf8').toString('base64'),
            text_len: Buffer.byteLength(text, 'utf8'),
            writeText,
            readText,
            readTextB64,
            writeBin,
            readBin,
            writeAbs,
            readAbs,
            list,
            listDot,
            fromPython,
            readPython
        };
    },

    async reset(s) {
        await s.listTools();
        const set = await py(s, 'y = 5\nopen("before_reset.txt", "w").write("x")');
        const listBefore = await s.call('list_files', {});
        const reset = await s.call('reset', {});
        const gone = await py(s, 'y');
        const listAfter = await s.call('list_files', {});
        const works = await py(s, 'y = 6\ny');
        return { set, listBefore, reset, gone, listAfter, works };
    },

    async shell(s) {
        await s.listTools();
        const echo = await s.call('run_shell', { command: 'echo hello from shell; echo to-stderr >&2' });
        const exit3 = await s.call('run_shell', { command: 'echo partial; exit 3' });
        const pwd = await s.call('run_shell', { command: 'pwd' });
        return { echo, exit3, pwd };
    },

    async javascript(s) {
        await s.listTools();
        const ok = await s.call('run_javascript', { code: 'console.log(6 * 7); console.error("err-line")' });
        const thrown = await s.call('run_javascript', { code: 'throw new Error("js boom")' });
        return { ok, thrown };
    }
};

async function main() {
    let parsed;
    try {
        parsed = parseArgs(process.argv.slice(2));
    } catch (error) {
        process.stderr.write(`${error.message}\n`);
        process.exit(2);
    }
    const { scenario, params, command, args } = parsed;
    const fn = scenarios[scenario];
    if (!fn) {
        process.stderr.write(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(', ')}\n`);
        process.exit(2);
    }

    const s = new Session(command, args);
    const out = { scenario, ok: false };
    try {
        await s.connect();
        out.data = await fn(s, params);
        out.ok = true;
    } catch (error) {
        out.error = `${error?.name ?? 'Error'}: ${error?.message ?? error}`;
        if (error?.code !== undefined) out.error_code = error.code;
        if (error?.stack) out.stack = error.stack;
    }
    const exit = await s.close();
    out.sdk_errors = s.sdkErrors;
    out.server = { pid: s.pid ?? null, ...exit, stderr: s.stderr.slice(-STDERR_KEEP) };
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exitCode = out.ok ? 0 : 1;
}

await main();
