// The TypeScript MCP SDK (@modelcontextprotocol/sdk 1.x: Client + Streamable HTTP) against
// Gatehouse. The SDK negotiates up to 2025-11-25, so this is the handshake era.
//
// Run by scripts/mcp-interop.sh with INTEROP_* in the environment. Prints one
// `interop: PASS name` / `interop: FAIL name: why` line per check; exits 0 when every
// check ran (pass or fail), nonzero only when the client itself broke.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';

const LABEL = 'ts-2025-11-25';
const { INTEROP_DATA: DATA, INTEROP_CONTROL: CONTROL, INTEROP_TOKEN: TOKEN } = process.env;
const OPERATOR = process.env.INTEROP_OPERATOR_TOKEN;
const ROOT = process.env.INTEROP_FS_ROOT;
const VISIBLE_EVERYTHING = [
  'echo',
  'get-annotated-message',
  'get-structured-content',
  'get-sum',
  'get-tiny-image',
];

function report(name, ok, why = '') {
  console.log(ok ? `interop: PASS ${LABEL} ${name}` : `interop: FAIL ${LABEL} ${name}: ${why}`);
}

// Runs one check: it returns [ok, why]; a throw is its failure, never the suite's end.
async function check(name, body) {
  try {
    const [ok, why] = await body();
    report(name, ok, why);
  } catch (error) {
    report(name, false, `${error?.constructor?.name}: ${error?.message}`);
  }
}

async function connect(server) {
  const transport = new StreamableHTTPClientTransport(new URL(`${DATA}/mcp/${server}`), {
    requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
  });
  const client = new Client({ name: 'gatehouse-interop', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

const textOf = (result) => (result.content ?? []).map((block) => block.text ?? '').join('');
// Gatehouse's refusal data: in `structuredContent.gatehouse`, or in the result's
// `_meta["gatehouse/refusal"]` (where a tool's outputSchema cannot be contradicted).
const refusalOf = (result) =>
  result.structuredContent?.gatehouse ?? result._meta?.['gatehouse/refusal'] ?? {};
const show = (value) => JSON.stringify(value)?.slice(0, 300);

async function rpcError(promise) {
  try {
    const result = await promise;
    return { result };
  } catch (error) {
    return { error };
  }
}

async function everything() {
  const { client, transport } = await connect('everything');
  await check('protocol version', async () => {
    const version = transport.protocolVersion;
    return [
      version === '2025-11-25' && Boolean(transport.sessionId),
      `version ${version}, session ${transport.sessionId}`,
    ];
  });
  await check('tools/list shows only permitted tools (get-env hidden)', async () => {
    const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
    return [show(names) === show(VISIBLE_EVERYTHING), `listed ${show(names)}`];
  });
  await check("echo returns the server's text", async () => {
    const result = await client.callTool({
      name: 'echo',
      arguments: { message: `hello from ${LABEL}` },
    });
    return [
      !result.isError && textOf(result) === `Echo: hello from ${LABEL}`,
      `got ${show(result)}`,
    ];
  });
  await check('get-sum a=2 b=3 allowed by a < 100', async () => {
    const result = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
    return [!result.isError && textOf(result).includes('5'), `got ${show(result)}`];
  });
  await check('get-sum a=1000 refused policy-denied with a decision id', async () => {
    const result = await client.callTool({ name: 'get-sum', arguments: { a: 1000, b: 1 } });
    const refusal = refusalOf(result);
    return [
      result.isError === true &&
        refusal.refusal === 'policy-denied' &&
        Boolean(refusal.decision_id),
      `got ${show(result)}`,
    ];
  });
  await check('hidden get-env refused exactly like an unknown tool (-32602)', async () => {
    const denied = await rpcError(client.callTool({ name: 'get-env', arguments: {} }));
    const unknown = await rpcError(client.callTool({ name: 'no-such-tool', arguments: {} }));
    const ok =
      denied.error instanceof McpError &&
      unknown.error instanceof McpError &&
      denied.error.code === -32602 &&
      unknown.error.code === -32602 &&
      denied.error.message.endsWith('Unknown tool: get-env') &&
      unknown.error.message.endsWith('Unknown tool: no-such-tool');
    const seen = ({ error, result }) => `${error?.code} ${error?.message ?? show(result)}`;
    return [ok, `get-env: ${seen(denied)}; no-such-tool: ${seen(unknown)}`];
  });
  await client.close();
}

async function files() {
  const { client } = await connect('files');
  const reports = `${ROOT}/reports`;
  // Listing first, as an agent would: the SDK then knows each tool's outputSchema and
  // checks every structuredContent it gets back against it.
  await check('files tools/list shows the three mapped tools', async () => {
    const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
    return [
      show(names) === show(['list_directory', 'read_text_file', 'write_file']),
      `listed ${show(names)}`,
    ];
  });
  await check('read_text_file under reports/ returns the file', async () => {
    const result = await client.callTool({
      name: 'read_text_file',
      arguments: { path: `${reports}/q3.txt` },
    });
    return [!result.isError && textOf(result) === 'q3 revenue: 42\n', `got ${show(result)}`];
  });
  await check('read_text_file under secret/ refused policy-denied', async () => {
    const result = await client.callTool({
      name: 'read_text_file',
      arguments: { path: `${ROOT}/secret/keys.txt` },
    });
    const ok =
      result.isError === true &&
      refusalOf(result).refusal === 'policy-denied' &&
      !textOf(result).includes('hunter2');
    return [ok, `got ${show(result)}`];
  });
  await approval(client);
  await client.close();
}

async function approval(client) {
  const target = `${ROOT}/reports/${LABEL}.txt`;
  const args = { path: target, content: `written by ${LABEL}\n` };
  let id;
  await check('write_file (high tier) parks for approval, nothing written', async () => {
    const result = await client.callTool({ name: 'write_file', arguments: args });
    const refusal = refusalOf(result);
    id = refusal.approval_id;
    const ok =
      result.isError === true &&
      refusal.refusal === 'approval-pending' &&
      Boolean(id) &&
      !existsSync(target);
    return [ok, `got ${show(result)}, written ${existsSync(target)}`];
  });
  if (!id) {
    report("approved write_file returns the server's result", false, 'no approval id');
    report(
      're-sending the approved call replays the stored result, not the write',
      false,
      'no approval id',
    );
    return;
  }
  await check("approved write_file returns the server's result", async () => {
    const response = await fetch(`${CONTROL}/v1/approvals/${id}/approve`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${OPERATOR}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ reason: `interop ${LABEL}` }),
    });
    if (!response.ok)
      return [false, `approve answered HTTP ${response.status}: ${await response.text()}`];
    let result;
    for (let attempt = 0; attempt < 100; attempt += 1) {
      result = await client.callTool({
        name: 'write_file',
        arguments: args,
        _meta: { 'gatehouse/approval': id },
      });
      if (refusalOf(result).refusal !== 'approval-pending') break;
      await sleep(100);
    }
    const written = existsSync(target) ? readFileSync(target, 'utf8') : null;
    const ok =
      !result.isError &&
      textOf(result) === `Successfully wrote to ${target}` &&
      written === args.content;
    return [ok, `got ${show(result)}, file ${show(written)}`];
  });
  await check('re-sending the approved call replays the stored result, not the write', async () => {
    writeFileSync(target, 'changed after approval\n');
    const result = await client.callTool({
      name: 'write_file',
      arguments: args,
      _meta: { 'gatehouse/approval': id },
    });
    const unchanged = readFileSync(target, 'utf8') === 'changed after approval\n';
    return [!result.isError && unchanged, `got ${show(result)}, rewritten ${!unchanged}`];
  });
}

await everything();
await files();
