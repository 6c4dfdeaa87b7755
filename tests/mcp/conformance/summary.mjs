// node summary.mjs LABEL RESULTS_DIR EXPECTED_FAILURES_YML
//
// Reads the conformance suite's saved results (`-o RESULTS_DIR`: one directory per
// scenario with checks.json) and prints one line per scenario and a count:
//   conformance: PASS LABEL scenario
//   conformance: FAIL LABEL scenario (expected|UNEXPECTED): first failing check
//   conformance: STALE LABEL scenario passes but is listed as an expected failure
//   conformance[LABEL]: N passed, M failed (E expected, U unexpected, S stale)
// A scenario fails when any of its checks is FAILURE or WARNING — the rule the suite's
// own --expected-failures baseline applies.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const [label, dir, baselineFile] = process.argv.slice(2);
const expected = new Set(parse(readFileSync(baselineFile, 'utf8'))?.server ?? []);

const runs = readdirSync(dir)
  .map((entry) => {
    const scenario = entry.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
    const checks = JSON.parse(readFileSync(join(dir, entry, 'checks.json'), 'utf8'));
    return { scenario, checks };
  })
  .sort((a, b) => a.scenario.localeCompare(b.scenario));

let passed = 0;
let failed = 0;
let unexpected = 0;
let stale = 0;
for (const { scenario, checks } of runs) {
  const bad = checks.filter((check) => check.status === 'FAILURE' || check.status === 'WARNING');
  if (bad.length === 0) {
    passed += 1;
    if (expected.has(scenario)) {
      stale += 1;
      console.log(
        `conformance: STALE ${label} ${scenario} passes but is listed as an expected failure`,
      );
    } else {
      console.log(`conformance: PASS ${label} ${scenario}`);
    }
    continue;
  }
  failed += 1;
  const known = expected.has(scenario);
  if (!known) unexpected += 1;
  const why = `${bad[0].id}: ${bad[0].errorMessage ?? bad[0].description ?? bad[0].status}`.replace(
    /\s+/g,
    ' ',
  );
  const verdict = known ? 'expected' : 'UNEXPECTED';
  console.log(`conformance: FAIL ${label} ${scenario} (${verdict}): ${why.slice(0, 240)}`);
}
const detail = `${failed - unexpected} expected, ${unexpected} unexpected, ${stale} stale`;
console.log(`conformance[${label}]: ${passed} passed, ${failed} failed (${detail})`);
