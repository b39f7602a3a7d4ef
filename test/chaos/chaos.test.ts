/**
 * The chaos run in CI, for a minute (npm run chaos runs it for longer; bench/README.md holds a long
 * run): the whole deployment with 20 exactly-once clients, a random core, gateway or Redis killed
 * (SIGKILL or SIGTERM) every 4–7 s and started again 1–2.5 s later. Every note ends confirmed and
 * is read back once; no client is stuck; no process exits unasked; no error-level log line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deploymentSkip } from '../helpers/deployment.js';
import { DEFAULT_CHAOS, runChaos } from './harness.js';
import { describeReport } from './report.js';

test('a minute of kills and restarts: exactly-once notes all confirmed, none missing, none stored twice, no client stuck', {
  skip: deploymentSkip,
  timeout: 6 * 60_000,
}, async () => {
  const report = await runChaos({
    ...DEFAULT_CHAOS,
    durationMs: 60_000,
    killEveryMs: [4_000, 7_000],
    downForMs: [1_000, 2_500],
    log: (line) => process.stdout.write(`chaos: ${line}\n`),
  });
  const text = describeReport(report);
  process.stdout.write(`${text}\n`);
  // A restart takes seconds on a loaded host (each waits for the process to listen): at least
  // three kills however slow, five or more on a quiet one.
  assert.ok(report.events.length >= 3, `at least 3 kills in a minute (${report.events.length})`);
  assert.deepEqual(report.failures, [], text);
});
