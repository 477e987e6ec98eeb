// An MCP host made of an official TypeScript client SDK, driven by examples/tests/mcp_interop.rs.
//
//   node client.mjs <v1|v2> <2025-11-25|2026-07-28> <scenario> <mcp url> <user> [session id]
//
// Prints one JSON object per line on stdout: {"event": ...}. The test reads them, performs
// the browser step itself, and asserts the outcome. Scenarios:
//   accept    the elicitation callback (the "user") agrees to open the URL and returns at once
//   decline   the callback declines
//   cancel    the callback cancels
//   nourl     the client declares form-mode elicitation only
//   session   opens a session, lists tools, waits for a line on stdin, lists tools again
//   hijack    with another user's session id: tools/list, then DELETE; both must be refused
import { createInterface } from 'node:readline';

const [sdk, revision, scenario, url, user, foreignSession] = process.argv.slice(2);
const mod = sdk === 'v1'
    ? {
        ...(await import('@modelcontextprotocol/sdk/client/index.js')),
        ...(await import('@modelcontextprotocol/sdk/client/streamableHttp.js')),
        ...(await import('@modelcontextprotocol/sdk/types.js')),
    }
    : await import('@modelcontextprotocol/client');
const { Client, StreamableHTTPClientTransport, UrlElicitationRequiredError } = mod;

const emit = (event, fields = {}) => console.log(JSON.stringify({ event, ...fields }));
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async () => (await lines.next()).value;

let prompts = 0;
const completions = [];
const headers = { Authorization: `Bearer ${user}` };

// OOB_INTEROP_TRACE=1 prints every HTTP exchange on stderr.
const traced = async (input, init) => {
    const res = await fetch(input, init);
    const h = new Headers(init?.headers);
    console.error(`${init?.method ?? 'GET'} session=${h.get('mcp-session-id')} -> ${res.status} ${res.headers.get('mcp-session-id') ?? ''} ${init?.body ?? ''}`);
    return res;
};
function transport(sessionId) {
    return new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers },
        ...(sessionId && { sessionId }),
        ...(process.env.OOB_INTEROP_TRACE && { fetch: traced }),
    });
}

const capabilities = scenario === 'nourl' ? { elicitation: { form: {} } } : { elicitation: { url: {} } };
const options = { capabilities };
if (sdk === 'v2' && revision === '2026-07-28') options.versionNegotiation = { mode: { pin: revision } };
const client = new Client({ name: `interop-${sdk}`, version: '1.0.0' }, options);

async function onElicit(request) {
    const params = request.params ?? request;
    prompts += 1;
    emit('elicit', { mode: params.mode, url: params.url, elicitationId: params.elicitationId ?? null });
    if (scenario === 'decline') return { action: 'decline' };
    if (scenario === 'cancel') return { action: 'cancel' };
    return { action: 'accept' };
}
const onComplete = (n) => {
    completions.push(n.params.elicitationId);
    emit('completed', { elicitationId: n.params.elicitationId });
};
if (sdk === 'v1') {
    client.setRequestHandler(mod.ElicitRequestSchema, onElicit);
    client.setNotificationHandler(mod.ElicitationCompleteNotificationSchema, onComplete);
} else {
    client.setRequestHandler('elicitation/create', onElicit);
    client.setNotificationHandler('notifications/elicitation/complete', onComplete);
}

const text = (r) => (r.content ?? []).map((c) => c.text ?? '').join('\n');

async function main() {
    if (scenario === 'hijack') {
        const t = transport(foreignSession);
        await client.connect(t).catch((e) => emit('connect_refused', { message: String(e.message ?? e) }));
        // 'ok' only if the server answered with its tools (a client that never reached it may
        // answer an empty list on its own).
        const list = await client.listTools().then(
            (r) => (r.tools.length > 0 ? 'ok' : 'no tools'),
            (e) => String(e.message ?? e),
        );
        // A client whose session is answered 404 may start a session of its own (the spec's
        // MUST); what matters is that it never acted in the foreign one.
        const listedIn = t.sessionId ?? null;
        const del = listedIn === foreignSession
            ? await t.terminateSession().then(() => 'ok', (e) => String(e.message ?? e))
            : await new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, sessionId: foreignSession })
                .terminateSession().then(() => 'ok', (e) => String(e.message ?? e));
        emit('hijack', { list, listedIn, delete: del });
        return;
    }
    const t = transport();
    await client.connect(t);
    emit('connected', { protocolVersion: t.protocolVersion ?? client.getNegotiatedProtocolVersion?.() ?? null, sessionId: t.sessionId ?? null });
    const tools = await client.listTools();
    emit('tools', { names: tools.tools.map((x) => x.name) });
    if (scenario === 'session') {
        // Keeps the session open until the test says so, then uses it once more.
        await next();
        const again = await client.listTools();
        emit('after', { names: again.tools.map((x) => x.name) });
        await client.close();
        return;
    }
    const call = () => client.callTool({ name: 'list_repos', arguments: { org: 'acme' } });
    let result;
    try {
        result = await call();
    } catch (e) {
        if (!(e instanceof UrlElicitationRequiredError)) {
            emit('error', { code: e.code ?? null, message: String(e.message ?? e), prompts });
            await client.close();
            return;
        }
        // 2025-11-25 -32042: the host shows the URL, waits for the completion, retries.
        for (const el of e.elicitations) {
            prompts += 1;
            emit('elicit', { mode: el.mode, url: el.url, elicitationId: el.elicitationId, via: 'error' });
        }
        const want = e.elicitations[0].elicitationId;
        while (!completions.includes(want)) await new Promise((r) => setTimeout(r, 50));
        result = await call();
    }
    emit('result', { isError: result.isError === true, text: text(result), prompts, completions });
    await client.close();
}

main().catch((e) => {
    emit('failed', { message: String(e.stack ?? e), prompts });
    process.exitCode = 1;
}).finally(() => setTimeout(() => process.exit(), 100));
