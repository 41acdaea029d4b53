// Drives `corral mcp --listen` through the official SDK's Streamable HTTP
// client transport, for tests/integration/test_mcp_http.py.
//
//   node sdk_http.mjs URL TOKEN
//
// Prints one JSON object with what it saw; exits 1 on any failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, token] = process.argv.slice(2);
const out = { ok: false };
try {
    const transport = new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    const client = new Client({ name: 'corral-http-test', version: '1.0.0' });
    await client.connect(transport);
    out.server = client.getServerVersion();
    out.session_id = transport.sessionId;
    out.tools = (await client.listTools()).tools.map(t => t.name).sort();
    const first = await client.callTool({ name: 'run_python', arguments: { code: 'x = 41' } });
    const progress = [];
    const second = await client.callTool(
        { name: 'run_python', arguments: { code: 'import time\ntime.sleep(1.5)\nx + 1' } },
        undefined,
        { onprogress: p => progress.push(p.progress), timeout: 60_000 });
    const shell = await client.callTool({ name: 'run_shell', arguments: { command: 'echo $((6*7)); exit 3' } });
    out.first = first.structuredContent;
    out.second = second.structuredContent;
    out.progress = progress;
    out.shell = shell.structuredContent;
    await transport.terminateSession();
    await client.close();
    out.ok = true;
} catch (e) {
    out.error = String(e && e.stack || e);
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
