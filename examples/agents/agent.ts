// A Gatehouse agent in TypeScript (Node 20 or later, built-in modules only at run time):
// sign an identity assertion with the key written by `gatehouse keys agent`, exchange it
// at /v1/token for a task credential, call an HTTP tool and an MCP server through the
// gateway. Build with `npm ci && npx tsc` in this directory, run `node dist/agent.js`.
//
// Configured by the environment (defaults fit `gatehouse quickstart`):
//   GATEHOUSE_URL       the data plane, default http://127.0.0.1:8080
//   GATEHOUSE_AGENT     the agent id, default spiffe://acme/agent/triage-bot
//   GATEHOUSE_KEY       the agent's private key, default gatehouse-quickstart/keys/triage-bot.key
//   GATEHOUSE_AUDIENCE  the gateway's `audience`, default gatehouse
//   GATEHOUSE_WORKFLOW  the workflow this run belongs to, default wf-node
import { createPrivateKey, randomBytes, sign } from "node:crypto";
import { readFileSync } from "node:fs";

const env = process.env;
const URL_ = env.GATEHOUSE_URL ?? "http://127.0.0.1:8080";
const AGENT = env.GATEHOUSE_AGENT ?? "spiffe://acme/agent/triage-bot";
const KEY = env.GATEHOUSE_KEY ?? "gatehouse-quickstart/keys/triage-bot.key";
const AUDIENCE = env.GATEHOUSE_AUDIENCE ?? "gatehouse";
const WORKFLOW = env.GATEHOUSE_WORKFLOW ?? "wf-node";
const MCP_VERSION = "2026-07-28";

const b64url = (data: string | Uint8Array): string => Buffer.from(data).toString("base64url");

/** What the gateway answers: the status and the JSON body, if any. */
type Reply = [status: number, body: any];

// An EdDSA JWT: iss = sub = the agent, aud = the gateway, at most 5 minutes, a fresh jti
// (each assertion is accepted once).
function assertion(): string {
  const key = createPrivateKey(readFileSync(KEY));
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "EdDSA", typ: "JWT" };
  const claims = { iss: AGENT, sub: AGENT, aud: AUDIENCE, iat: now, exp: now + 60,
                   jti: randomBytes(16).toString("hex") };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign(null, Buffer.from(input), key))}`;
}

async function request(
  method: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string>,
): Promise<Reply> {
  const response = await fetch(URL_ + path, { method, body, headers });
  const text = await response.text();
  return [response.status, text ? JSON.parse(text) : null];
}

async function taskCredential(): Promise<string> {
  const form = new URLSearchParams({ assertion: assertion(), workflow: WORKFLOW,
                                     task_class: "triage" });
  const [status, body] = await request("POST", "/v1/token", form.toString(),
    { "Content-Type": "application/x-www-form-urlencoded" });
  if (status !== 200) throw new Error(`token: ${status} ${JSON.stringify(body)}`);
  return body.access_token;
}

// Sorted keys, so the output compares equal to the Python example's.
const sorted = (value: unknown): string => JSON.stringify(value, (_, v) =>
  v && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v);

async function callTool(token: string): Promise<void> {
  const [status, body] = await request("POST", "/tools/tickets/tickets",
    JSON.stringify({ title: "disk full" }),
    { Authorization: `Bearer ${token}`, "Content-Type": "application/json" });
  console.log(`tool: ${status} ${sorted(body)}`);
}

// One stateless (2026-07-28) MCP tools/call; no handshake needed.
async function callMcp(token: string): Promise<void> {
  const message = { jsonrpc: "2.0", id: 1, method: "tools/call", params: {
    name: "create_ticket", arguments: { title: "printer on fire" },
    _meta: { "io.modelcontextprotocol/protocolVersion": MCP_VERSION,
             "io.modelcontextprotocol/clientCapabilities": {} } } };
  const [status, body] = await request("POST", "/mcp/helpdesk", JSON.stringify(message), {
    Authorization: `Bearer ${token}`, "Content-Type": "application/json",
    Accept: "application/json, text/event-stream", "MCP-Protocol-Version": MCP_VERSION,
    "Mcp-Method": "tools/call", "Mcp-Name": "create_ticket" });
  const result = body?.result ?? {};
  console.log(`mcp: ${status} isError=${result.isError ? "True" : "False"} ` +
              `${sorted(result.structuredContent)}`);
}

const token = await taskCredential();
console.log("token: ok");
await callTool(token);
await callMcp(token);
