// End-to-end test of the console's pictures in a real headless Chromium against the real
// `gatehouse` binary: the triage agent makes calls of three intents, then the call-pattern
// page draws an SVG with one series per intent (title, description, axes, legend, the
// numbers as a table), a bad query gets a 400 page, a hostile agent name stays text, and
// the inventory page lists the tools, routes and the agent that used them. Screenshots
// go to target/browser/ (charts-*.png).
//
//   node tests/browser/charts.mjs        (after `cargo build`; needs /usr/bin/chromium)
//
// Prints one line per check and a closing `browser: N passed, M failed`; exits non-zero
// on any failure.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  AGENT, CHROMIUM_ARGS, SHOTS, agentToken, check, killOnSignal, prepareGateway, running,
  signIn, startGateway, stopGateway, until,
} from './harness.mjs';

const HOSTILE = '<script>alert(1)</script>';
/** What the agent calls: intent → how many times. */
const CALLS = { 'ticket.create': 3, 'ticket.read': 6, 'ticket.list': 1 };

async function makeCalls(gateway) {
  const token = await agentToken(gateway, 'wf-charts');
  const auth = { authorization: `Bearer ${token}` };
  const ids = [];
  for (let n = 0; n < CALLS['ticket.create']; n += 1) {
    const reply = await fetch(`${gateway.data}/tools/tickets/tickets`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ title: `chart ticket ${n}` }),
    });
    const text = await reply.text();
    check(reply.status === 201, `creating a ticket answered ${reply.status}: ${text}`);
    ids.push(JSON.parse(text).id);
  }
  for (let n = 0; n < CALLS['ticket.read']; n += 1) {
    const reply = await fetch(`${gateway.data}/tools/tickets/tickets/${ids[n % ids.length]}`, { headers: auth });
    await reply.text();
    check(reply.status === 200, `reading a ticket answered ${reply.status}`);
  }
  const reply = await fetch(`${gateway.data}/tools/tickets/tickets`, { headers: auth });
  await reply.text();
  check(reply.status === 200, `listing tickets answered ${reply.status}`);
}

/** Hours of the week before the current one with the given calls per hour, stored as the
 * baseline's hour counts (table `baseline_hours`) in the gateway's SQLite file while it
 * runs, as the gateway's own flushes would have after a week of these calls. */
function seedBaseline(gateway, intent, callsOf) {
  const now = Math.floor(Date.now() / 3_600_000);
  const rows = [];
  for (let hour = now - 7 * 24; hour < now; hour += 1) {
    rows.push(`('${AGENT}', '${intent}', ${hour}, ${callsOf(hour)}, ${100 * callsOf(hour)})`);
  }
  const sql = `.timeout 10000\nINSERT INTO baseline_hours (agent, intent, hour, calls, bytes) VALUES ${rows.join(', ')};\n`;
  execFileSync('sqlite3', [path.join(gateway.dir, 'data/gatehouse.db')], { input: sql });
}

const patternsOf = (gateway, agent, window = '3h') =>
  `${gateway.control}/console/patterns?agent=${encodeURIComponent(agent)}&window=${window}`;

// ---------------------------------------------------------------- the checks

async function navigationLeadsToTheAgentsChart({ gateway, page }) {
  await page.goto(`${gateway.control}/console`);
  await Promise.all([page.waitForURL(/\/console\/patterns$/), page.click('main a[href="/console/patterns"]')]);
  const link = page.locator('main table a', { hasText: AGENT });
  check(await link.count() === 1, 'the configured agent is not offered');
  await Promise.all([page.waitForURL(/agent=/), link.click()]);
  check(await page.locator('svg.chart').count() === 1, 'no chart after choosing the agent');
}

async function theChartHasOneSeriesPerIntent(ctx) {
  const { gateway, page } = ctx;
  const wanted = Object.keys(CALLS).sort();
  // Events are stored in batches just after the calls: reload until all are counted.
  await until('every intent to be drawn', async () => {
    await page.goto(patternsOf(gateway, AGENT));
    const drawn = await page.locator('svg.chart g.series').evaluateAll(
      (groups) => groups.map((group) => group.getAttribute('data-intent')));
    return JSON.stringify(drawn) === JSON.stringify(wanted);
  }, 15_000);
  const svg = page.locator('svg.chart');
  check(await svg.getAttribute('role') === 'img', 'the chart is not role=img');
  check((await svg.locator('title').first().textContent()) === `Calls of ${AGENT}`, 'no <title>');
  check((await svg.locator('desc').textContent()).includes('by intent'), 'no <desc>');
  check(await svg.locator('g.axis.time text').count() >= 2, 'no time axis labels');
  check(await svg.locator('g.axis.values text').count() >= 2, 'no value axis labels');
  const legend = await svg.locator('g.legend').textContent();
  for (const intent of wanted) check(legend.includes(intent), `the legend misses ${intent}`);
  // Each series is a visible line inside the plot.
  for (const intent of wanted) {
    const box = await svg.locator(`g.series[data-intent="${intent}"] polyline`).boundingBox();
    check(box && box.width > 100, `the ${intent} line is not drawn: ${JSON.stringify(box)}`);
  }
  // The table holds the same numbers: the busiest bucket of ticket.read is 6 calls in
  // 5 minutes, 72 per hour, unless the calls straddled two buckets.
  await page.click('details summary');
  const headings = await page.locator('details th').allTextContents();
  check(JSON.stringify(headings) === JSON.stringify(['Time (UTC)', ...wanted]),
    `unexpected table headings: ${headings}`);
  const column = wanted.indexOf('ticket.read') + 1;
  const cells = await page.locator(`details tbody td:nth-child(${column + 1})`).allTextContents();
  const total = cells.reduce((sum, cell) => sum + Number.parseFloat(cell) / 12, 0);
  check(Math.round(total) === CALLS['ticket.read'], `the table counts ${total} reads: ${cells}`);
  ctx.banded = await svg.locator('g.band').count();
  check(await page.locator('script').count() === 0, 'a <script> element reached the DOM');
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'charts-patterns.png'), fullPage: true });
}

async function withoutABaselineNoBandIsDrawn(ctx) {
  const { page } = ctx;
  check(ctx.banded === 0, `${ctx.banded} bands drawn with no baseline`);
  check((await page.textContent('main')).includes('No baseline is learned'), 'no notice of the missing baseline');
}

async function withABaselineTheBandIsDrawn({ gateway, page }) {
  // ticket.read: 2, 3 or 4 calls (by day) in every hour of the week before this one.
  seedBaseline(gateway, 'ticket.read', (hour) => 2 + (Math.floor(hour / 24) % 3));
  await page.goto(patternsOf(gateway, AGENT));
  const bands = await page.locator('svg.chart g.band').evaluateAll(
    (groups) => groups.map((group) => group.getAttribute('data-intent')));
  check(JSON.stringify(bands) === JSON.stringify(['ticket.read']), `bands drawn: ${bands}`);
  const area = await page.locator('svg.chart g.band path').first().boundingBox();
  check(area && area.width > 300 && area.height > 0, `the band is not drawn: ${JSON.stringify(area)}`);
  check((await page.textContent('svg.chart g.legend')).includes('expected range'), 'the legend does not name the band');
  check(!(await page.textContent('main')).includes('No baseline is learned'), 'the page says no baseline');
  await page.click('details summary');
  const table = await page.textContent('details table');
  check(table.includes('(expected 2–4)'), 'the table does not show the expected range');
  await page.screenshot({ path: path.join(SHOTS, 'charts-band.png'), fullPage: true });
}

async function badQueriesGetA400Page({ gateway, page }) {
  for (const query of ['window=2w', 'window=0h', 'agent=a&agent=b', 'colour=red']) {
    const response = await page.goto(`${gateway.control}/console/patterns?${query}`);
    check(response.status() === 400, `?${query} answered ${response.status()}`);
    check((await page.textContent('h1')) === 'Bad query', `?${query} has no clear title`);
  }
  const text = await page.textContent('main');
  check(text.includes('unknown parameter `colour`'), `the last message is unclear: ${text}`);
  await page.screenshot({ path: path.join(SHOTS, 'charts-bad-query.png') });
  const response = await page.goto(`${gateway.control}/console/inventory?window=forever`);
  check(response.status() === 400, `the inventory's bad window answered ${response.status()}`);
}

async function aHostileAgentNameStaysText(ctx) {
  const { gateway, page } = ctx;
  const response = await page.goto(patternsOf(gateway, HOSTILE, '1h'));
  check(response.status() === 200, `a hostile agent answered ${response.status()}`);
  check(await page.locator('script').count() === 0, 'a <script> element reached the DOM');
  check((await page.locator('svg.chart title').first().textContent()).includes(HOSTILE),
    'the name is not shown as text');
  check((await page.textContent('svg.chart')).includes('No calls in this window.'), 'no empty notice');
  check(ctx.dialogs.length === 0, `a dialog fired: ${ctx.dialogs.join(', ')}`);
}

async function theInventoryListsTheTools({ gateway, page }) {
  await page.goto(`${gateway.control}/console`);
  await Promise.all([page.waitForURL(/\/console\/inventory$/), page.click('main a[href="/console/inventory"]')]);
  const rows = await page.locator('main table').first().locator('tbody tr').allTextContents();
  for (const tool of ['tickets', 'deploy']) {
    check(rows.some((row) => row.includes(tool)), `the inventory misses tool ${tool}: ${rows}`);
  }
  const read = page.locator('main table').first().locator('tbody tr', { hasText: 'ticket.read' });
  const cells = await read.first().locator('td').allTextContents();
  check(cells.includes(String(CALLS['ticket.read'])) && cells.some((cell) => cell.includes(AGENT)),
    `the ticket.read row does not show its calls and agent: ${cells}`);
  const link = read.first().locator('a', { hasText: AGENT });
  check((await link.getAttribute('href')).startsWith('/console/patterns?agent=spiffe%3A'),
    'the agent does not link to its chart');
  await page.screenshot({ path: path.join(SHOTS, 'charts-inventory.png'), fullPage: true });
}

const CHECKS = [
  ["the console's navigation leads to an agent's chart", navigationLeadsToTheAgentsChart],
  ['the chart draws one series per intent, with title, axes, legend and a table', theChartHasOneSeriesPerIntent],
  ['without a baseline no band is drawn, and the page says so', withoutABaselineNoBandIsDrawn],
  ['with a stored baseline the band is drawn, in the legend and the table', withABaselineTheBandIsDrawn],
  ['bad queries get a clear 400 page', badQueriesGetA400Page],
  ['a hostile agent name stays text', aHostileAgentNameStaysText],
  ['the inventory lists the tools, the calls and the agent', theInventoryListsTheTools],
];

// ---------------------------------------------------------------- the run

async function main() {
  let gateway;
  let browser;
  let profile;
  let passed = 0;
  let failed = 0;
  try {
    gateway = await prepareGateway();
    await startGateway(gateway);
    await makeCalls(gateway);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    const page = browser.pages()[0] ?? await browser.newPage();
    const ctx = { gateway, page, dialogs: [] };
    page.on('dialog', (dialog) => {
      ctx.dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    await signIn(page, gateway);
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
    for (const dir of [started?.dir, profile]) {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

killOnSignal();
await main();
