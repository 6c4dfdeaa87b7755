// What the browser tests share: checks, polling, free ports, and the real `gatehouse`
// binary started from the quickstart example on free ports in its own process group.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'target/debug/gatehouse');
export const SHOTS = path.join(ROOT, 'target/browser');
export const AGENT = 'spiffe://acme/agent/triage-bot';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const EXAMPLE_TOOL_PORTS = [8090, 8091];

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a truthy value or `ms` pass. */
export async function until(what, probe, ms = 30_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** The gateway being run, so an interrupted run still kills it. */
export let running = null;

/** Writes the quickstart example into a fresh directory with free gateway ports. */
export async function prepareGateway() {
  check(fs.existsSync(BIN), `${BIN} is missing: run \`cargo build\` first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-browser-'));
  execFileSync(BIN, ['quickstart', '--dir', dir, '--no-serve'], { stdio: 'pipe' });
  const [dataPort, controlPort] = [await freePort(), await freePort()];
  const configPath = path.join(dir, 'gatehouse.toml');
  const config = fs.readFileSync(configPath, 'utf8')
    .replace('127.0.0.1:8080', `127.0.0.1:${dataPort}`)
    .replace('127.0.0.1:8081', `127.0.0.1:${controlPort}`);
  fs.writeFileSync(configPath, config);
  return {
    dir,
    logPath: path.join(dir, 'gateway.log'),
    data: `http://127.0.0.1:${dataPort}`,
    control: `http://127.0.0.1:${controlPort}`,
    operatorToken: fs.readFileSync(path.join(dir, 'operator.token'), 'utf8').trim(),
    child: null,
    exited: null,
  };
}

/** Serves a prepared quickstart directory until its control plane answers. */
export async function startGateway(gateway) {
  // The example tools listen on fixed ports; another quickstart may hold them a while.
  for (const port of EXAMPLE_TOOL_PORTS) {
    await until(`127.0.0.1:${port} to be free`, () => portIsFree(port), 60_000);
  }
  const log = fs.openSync(gateway.logPath, 'a');
  // Its own process group, so the example tools it runs die with it.
  const child = spawn(BIN, ['quickstart', '--dir', gateway.dir], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  Object.assign(gateway, { child, exited: null });
  child.on('exit', (code, signal) => { gateway.exited = signal ?? code; });
  running = gateway;
  await until('the control plane /healthz', async () => {
    check(gateway.exited === null, `the gateway exited (${gateway.exited})`);
    return (await fetch(`${gateway.control}/healthz`)).ok;
  });
  return gateway;
}

export async function stopGateway(gateway) {
  if (!gateway?.child || gateway.exited !== null) return;
  const group = -gateway.child.pid;
  try { process.kill(group, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 100 && gateway.exited === null; i += 1) await sleep(100);
  if (gateway.exited === null) {
    try { process.kill(group, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** A task credential of the quickstart's triage agent. */
export async function agentToken(gateway, workflow) {
  const assertion = execFileSync(BIN, [
    'agent', 'assertion', '--key', path.join(gateway.dir, 'keys/triage-bot.key'), '--agent', AGENT,
  ], { encoding: 'utf8' }).trim();
  const form = new URLSearchParams({ assertion, workflow, task_class: 'triage' });
  const reply = await fetch(`${gateway.data}/v1/token`, { method: 'POST', body: form });
  const text = await reply.text();
  check(reply.status === 200, `token exchange answered ${reply.status}: ${text}`);
  return JSON.parse(text).access_token;
}

/** Signs `page` in with the operator token. */
export async function signIn(page, gateway) {
  await page.goto(`${gateway.control}/console/login`);
  await page.fill('#token', gateway.operatorToken);
  await Promise.all([page.waitForURL(/\/console$/), page.click('button[type=submit]')]);
}

/** Kills the running gateway's process group on Ctrl-C. */
export function killOnSignal() {
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (running?.child && running.exited === null) {
        try { process.kill(-running.child.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      process.exit(130);
    });
  }
}
