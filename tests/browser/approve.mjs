// End-to-end test of the web console in a real headless Chromium against the real
// `gatehouse` binary: an agent's high-tier call waits for approval, an approver signs in,
// reads the parked call (its body must show as text, never run), approves it, and the
// waiting agent receives the example tool's answer. Then the incident pages show a
// quarantine, a forensic recording and a playbook run made through the control plane,
// and the live tail page shows a call made while it is open. Screenshots go to
// target/browser/.
//
//   node tests/browser/approve.mjs        (after `cargo build`; needs /usr/bin/chromium)
//
// Prints one line per check and a closing `browser: N passed, M failed`; exits non-zero
// on any failure. The gateway runs in its own process group, killed in all cases.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'target/debug/gatehouse');
const SHOTS = path.join(ROOT, 'target/browser');
const AGENT = 'spiffe://acme/agent/triage-bot';
const EXAMPLE_TOOL_PORTS = [8090, 8091];
const HOSTILE = '<script>alert(1)</script>';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// ---------------------------------------------------------------- helpers

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `port` on loopback can be bound now. */
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
async function until(what, probe, ms = 30_000) {
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

// ---------------------------------------------------------------- the gateway

/** The gateway being run, so an interrupted run still kills it. */
let running = null;

/** Writes the quickstart example with free gateway ports and serves it. */
async function startGateway() {
  check(fs.existsSync(BIN), `${BIN} is missing: run \`cargo build\` first`);
  // The example tools listen on fixed ports; another quickstart may hold them a while.
  for (const port of EXAMPLE_TOOL_PORTS) {
    await until(`127.0.0.1:${port} to be free`, () => portIsFree(port), 60_000);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-browser-'));
  execFileSync(BIN, ['quickstart', '--dir', dir, '--no-serve'], { stdio: 'pipe' });
  const [dataPort, controlPort] = [await freePort(), await freePort()];
  const configPath = path.join(dir, 'gatehouse.toml');
  const config = fs.readFileSync(configPath, 'utf8')
    .replace('127.0.0.1:8080', `127.0.0.1:${dataPort}`)
    .replace('127.0.0.1:8081', `127.0.0.1:${controlPort}`);
  fs.writeFileSync(configPath, config);
  const logPath = path.join(dir, 'gateway.log');
  const log = fs.openSync(logPath, 'w');
  // Its own process group, so the example tools it runs die with it.
  const child = spawn(BIN, ['quickstart', '--dir', dir], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  const gateway = {
    dir, child, logPath,
    data: `http://127.0.0.1:${dataPort}`,
    control: `http://127.0.0.1:${controlPort}`,
    operatorToken: fs.readFileSync(path.join(dir, 'operator.token'), 'utf8').trim(),
    exited: null,
  };
  child.on('exit', (code, signal) => { gateway.exited = signal ?? code; });
  running = gateway;
  await until('the control plane /healthz', async () => {
    check(gateway.exited === null, `the gateway exited (${gateway.exited})`);
    return (await fetch(`${gateway.control}/healthz`)).ok;
  });
  return gateway;
}

async function stopGateway(gateway) {
  if (!gateway || gateway.exited !== null) return;
  const group = -gateway.child.pid;
  try { process.kill(group, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 50 && gateway.exited === null; i += 1) await sleep(100);
  if (gateway.exited === null) {
    try { process.kill(group, 'SIGKILL'); } catch { /* already gone */ }
  }
}

// ---------------------------------------------------------------- the agent

async function agentToken(gateway) {
  const assertion = execFileSync(BIN, [
    'agent', 'assertion', '--key', path.join(gateway.dir, 'keys/triage-bot.key'), '--agent', AGENT,
  ], { encoding: 'utf8' }).trim();
  const form = new URLSearchParams({ assertion, workflow: 'wf-browser', task_class: 'triage' });
  const reply = await fetch(`${gateway.data}/v1/token`, { method: 'POST', body: form });
  const text = await reply.text();
  check(reply.status === 200, `token exchange answered ${reply.status}: ${text}`);
  return JSON.parse(text).access_token;
}

async function createTicket(gateway, token) {
  const reply = await fetch(`${gateway.data}/tools/tickets/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'disk full on db-3' }),
  });
  const text = await reply.text();
  check(reply.status === 201, `creating a ticket answered ${reply.status}: ${text}`);
  return JSON.parse(text).id;
}

/** Sends the high-tier escalation and returns the pending reply, not awaited. */
function escalate(gateway, token, id) {
  return fetch(`${gateway.data}/tools/tickets/tickets/${id}/escalate`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      prefer: 'wait=60',
    },
    body: JSON.stringify({ reason: `customer reports ${HOSTILE}`, priority: 'urgent' }),
  }).then(async (reply) => ({ status: reply.status, text: await reply.text() }));
}

async function pendingApproval(gateway) {
  return until('the parked approval', async () => {
    const reply = await fetch(`${gateway.control}/v1/approvals?status=pending`, {
      headers: { authorization: `Bearer ${gateway.operatorToken}` },
    });
    const { approvals } = await reply.json();
    return approvals.find((approval) => approval.call.intent === 'ticket.escalate');
  });
}

// ---------------------------------------------------------------- the checks

async function wrongTokenIsRefused({ gateway, page }) {
  await page.goto(`${gateway.control}/console`);
  check(page.url().endsWith('/console/login'), `unauthenticated /console went to ${page.url()}`);
  await page.fill('#token', 'not-the-operator-token');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/console/login') && r.request().method() === 'POST'),
    page.click('button[type=submit]'),
  ]);
  check(response.status() === 401, `a wrong token answered ${response.status()}`);
  check((await page.textContent('body')).includes('not an operator token'), 'no error shown');
}

async function approverApproves(ctx) {
  const { gateway, page, approval } = ctx;
  await page.fill('#token', gateway.operatorToken);
  await Promise.all([page.waitForURL(/\/console$/), page.click('button[type=submit]')]);
  const cookies = await page.context().cookies();
  const session = cookies.find((cookie) => cookie.name === 'gatehouse_session');
  check(session?.httpOnly && session.sameSite === 'Strict', 'session cookie not HttpOnly+Strict');
  ctx.cookie = `${session.name}=${session.value}`;

  const link = page.locator(`a[href="/console/approvals/${approval.id}"]`);
  check(await link.count() === 1, 'the pending approval is not listed on the overview');
  const row = await page.locator('tr', { has: link }).textContent();
  check(row.includes('ticket.escalate') && row.includes('0 / 1'), `unexpected row: ${row}`);
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'overview.png') });

  const [response] = await Promise.all([page.waitForNavigation(), link.click()]);
  const headers = response.headers();
  check(headers['content-security-policy']?.startsWith("default-src 'none'"), 'no CSP header');
  check(headers['x-frame-options'] === 'DENY', 'no X-Frame-Options');
  const text = await page.textContent('main');
  check(text.includes(HOSTILE), 'the body is not shown as text');
  check(await page.locator('script').count() === 0, 'a <script> element reached the DOM');
  check(ctx.dialogs.length === 0, `a dialog fired: ${ctx.dialogs.join(', ')}`);
  await page.screenshot({ path: path.join(SHOTS, 'pending.png') });

  await page.fill('#reason', 'customer impact confirmed; escalating');
  await Promise.all([page.waitForURL(/flash=approved/), page.click('button.approve')]);
  check((await page.textContent('main')).includes('Approved'), 'no confirmation notice');
}

async function agentReceivesTheToolsAnswer(ctx) {
  const reply = await ctx.escalation;
  check(reply.status === 200, `the waiting agent got ${reply.status}: ${reply.text}`);
  const body = JSON.parse(reply.text);
  check(body.tool === 'tickets' && body.last_action === 'escalate', `unexpected body ${reply.text}`);
  check(body.id === ctx.ticket, `the answer is for ticket ${body.id}, not ${ctx.ticket}`);

  await ctx.page.goto(`${ctx.gateway.control}/console/approvals/${ctx.approval.id}`);
  const text = await ctx.page.textContent('main');
  check(text.includes('done') && text.includes('status 200'), 'the page does not show the result');
  check(ctx.dialogs.length === 0, `a dialog fired: ${ctx.dialogs.join(', ')}`);
  await ctx.page.screenshot({ path: path.join(SHOTS, 'approval.png') });
}

const control = (gateway) => ({
  authorization: `Bearer ${gateway.operatorToken}`,
  'content-type': 'application/json',
});

async function controlPost(gateway, route, body) {
  const reply = await fetch(`${gateway.control}${route}`, {
    method: 'POST', headers: control(gateway), body: JSON.stringify(body),
  });
  const text = await reply.text();
  check(reply.ok, `POST ${route} answered ${reply.status}: ${text}`);
  return text;
}

async function readTicket(ctx) {
  const reply = await fetch(`${ctx.gateway.data}/tools/tickets/tickets/${ctx.ticket}`, {
    headers: { authorization: `Bearer ${ctx.token}` },
  });
  await reply.text();
  check(reply.status === 200, `reading the ticket answered ${reply.status}`);
  return reply.headers.get('gatehouse-decision-id');
}

async function incidentPagesShowWhatHappened(ctx) {
  const { gateway, page } = ctx;
  const reason = `browser check: deletes locked down ${HOSTILE}`;
  await controlPost(gateway, '/v1/quarantines',
    { kind: 'intent', subject: 'ticket.delete', for_secs: 600, reason });
  await controlPost(gateway, '/v1/forensics', { kind: 'agent', subject: AGENT, for_secs: 600 });
  const recorded = await readTicket(ctx);
  check(recorded, 'the recorded call has no decision id');
  await controlPost(gateway, `/v1/playbook-runs/${recorded}/steps`, {
    playbook: 'compromised-agent', index: 1, step: 'notify', agent: AGENT,
    detail: 'browser check: paged the on-call',
  });
  await controlPost(gateway, '/v1/forensics/off', { kind: 'agent', subject: AGENT });

  await page.goto(`${gateway.control}/console/quarantines`);
  const quarantines = await page.textContent('main');
  check(quarantines.includes(reason) && quarantines.includes('ticket.delete'),
    `the quarantine is not listed: ${quarantines}`);
  check(await page.locator('script').count() === 0, 'a <script> element reached the DOM');
  await page.screenshot({ path: path.join(SHOTS, 'quarantines.png') });

  const link = page.locator(`a[href="/console/recordings/${recorded}"]`);
  await until('the recording to be listed', async () => {
    await page.goto(`${gateway.control}/console/recordings`);
    return await link.count() === 1;
  });
  await page.screenshot({ path: path.join(SHOTS, 'recordings.png') });
  await Promise.all([page.waitForNavigation(), link.click()]);
  const call = await page.textContent('main');
  check(call.includes(`/tickets/${ctx.ticket}`) && call.includes('disk full on db-3'),
    `the recorded call does not show the request and the tool's answer: ${call}`);
  await page.screenshot({ path: path.join(SHOTS, 'recording.png') });

  await page.goto(`${gateway.control}/console/playbooks`);
  const runs = await page.textContent('main');
  check(runs.includes(recorded) && runs.includes('compromised-agent')
    && runs.includes('browser check: paged the on-call'), `the playbook run is not listed: ${runs}`);
  await page.screenshot({ path: path.join(SHOTS, 'playbooks.png') });
  check(ctx.dialogs.length === 0, `a dialog fired: ${ctx.dialogs.join(', ')}`);
}

async function liveTailShowsACallMadeWhileOpen(ctx) {
  const { gateway, page } = ctx;
  // The page never finishes loading while the tail is open: wait only for its start.
  await page.goto(`${gateway.control}/console/tail?agent=${encodeURIComponent(AGENT)}`,
    { waitUntil: 'commit' });
  await page.waitForSelector('ol#tail');
  check(await page.locator('ol#tail li').count() === 0, 'the tail shows events from before it opened');
  const decision = await readTicket(ctx);
  const row = page.locator(`ol#tail li:has-text("${decision}")`);
  await row.waitFor({ timeout: 15_000 });
  const text = await row.textContent();
  check(text.includes('ticket.read') && text.includes('allow') && text.includes(AGENT),
    `unexpected tail row: ${text}`);
  check(await page.locator('script').count() === 0, 'a <script> element reached the DOM');
  await page.screenshot({ path: path.join(SHOTS, 'tail.png') });
  // Leave the stream, so signing out below is an ordinary navigation.
  await page.goto(`${gateway.control}/console`);
}

async function postWithoutCsrfIsRefused(ctx) {
  const reply = await fetch(`${ctx.gateway.control}/console/approvals/${ctx.approval.id}/deny`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: ctx.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'reason=forged',
  });
  check(reply.status === 403, `a post without the CSRF token answered ${reply.status}`);
}

async function signingOutEndsTheSession(ctx) {
  await Promise.all([ctx.page.waitForURL(/\/console\/login$/), ctx.page.click('header button')]);
  const reply = await fetch(`${ctx.gateway.control}/console`, {
    redirect: 'manual',
    headers: { cookie: ctx.cookie },
  });
  check(reply.status === 303, `the old session cookie still answered ${reply.status}`);
  check(reply.headers.get('location') === '/console/login', 'not sent to the sign-in page');
}

const CHECKS = [
  ['a wrong operator token gets the sign-in form again (401)', wrongTokenIsRefused],
  ['an approver reads the parked call as text and approves it', approverApproves],
  ["the waiting agent receives the example tool's answer", agentReceivesTheToolsAnswer],
  ['the incident pages show a quarantine, a recorded call and a playbook run', incidentPagesShowWhatHappened],
  ['the live tail page shows a call made while it is open', liveTailShowsACallMadeWhileOpen],
  ['a form post without the CSRF token is refused (403)', postWithoutCsrfIsRefused],
  ['signing out ends the session', signingOutEndsTheSession],
];

// ---------------------------------------------------------------- the run

async function main() {
  let gateway;
  let browser;
  let profile;
  let passed = 0;
  let failed = 0;
  try {
    gateway = await startGateway();
    const token = await agentToken(gateway);
    const ticket = await createTicket(gateway, token);
    const escalation = escalate(gateway, token, ticket);
    escalation.catch(() => {}); // awaited by its check; never an unhandled rejection
    const approval = await pendingApproval(gateway);

    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
    });
    const page = browser.pages()[0] ?? await browser.newPage();
    const ctx = { gateway, page, approval, ticket, token, escalation, dialogs: [] };
    page.on('dialog', (dialog) => {
      ctx.dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    for (const [name, run] of CHECKS) {
      try {
        await run(ctx);
        passed += 1;
        console.log(`ok   ${name}`);
      } catch (error) {
        failed += 1;
        console.log(`FAIL ${name}: ${error.message}`);
      }
    }
  } catch (error) {
    failed += Math.max(1, CHECKS.length - passed - failed);
    console.log(`FAIL setting up: ${error.stack ?? error}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    await stopGateway(gateway ?? running);
  }
  const started = gateway ?? running;
  if (failed > 0 && started) {
    const log = fs.readFileSync(started.logPath, 'utf8').split('\n').slice(-30).join('\n');
    console.log(`--- gateway log (last lines, ${started.logPath}) ---\n${log}`);
  }
  if (failed === 0) {
    // Kept on failure, for the gateway log and the profile.
    for (const dir of [started?.dir, profile]) {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (running?.exited === null) {
      try { process.kill(-running.child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    process.exit(130);
  });
}

await main();
