/**
 * `npm run chaos -- --minutes N`: the chaos run (harness.ts) from the command line. Prints the
 * table and exits 1 when a done-when condition failed. Every range is MIN-MAX.
 *
 *   --minutes N        how long components are killed (default 2)
 *   --clients N        library clients (default 20)
 *   --send-every MS    per client, in ms (default 100-200)
 *   --kill-every S     from one kill to the next, in seconds (default 10-20)
 *   --down-for S       from a kill to the restart, in seconds (default 2-5)
 *   --sentinel         Redis under Sentinel: a primary, two replicas, three sentinels
 *   --delivery MODE    exactly-once (default, judged); at-least-once or at-most-once as controls
 *   --only NAME        kill only components whose name contains NAME (redis, core, gateway 2…)
 *   --retries N        the clients' reconnect: N failures in a row at the library's default delays
 *                      (20 is the CLI's --reconnect); default Infinity, delays 100 ms to 2 s
 *   --json             the report as JSON on stdout (progress still on stderr)
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CHAOS, type Range, runChaos } from './harness.js';
import { describeReport } from './report.js';

function range(text: string | undefined, scale: number, fallback: Range, name: string): Range {
  if (text === undefined) return fallback;
  const match = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text);
  if (!match) throw new Error(`--${name} takes MIN-MAX (or one number), not ${JSON.stringify(text)}`);
  const min = Number(match[1]) * scale;
  const max = Number(match[2] ?? match[1]) * scale;
  if (max < min) throw new Error(`--${name}: ${text} ends before it starts`);
  return [min, max];
}

function positive(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} takes a positive number, not ${text}`);
  return value;
}

const DELIVERIES = ['exactly-once', 'at-least-once', 'at-most-once'] as const;
function delivery(text: string): (typeof DELIVERIES)[number] {
  const found = DELIVERIES.find((name) => name === text);
  if (!found) throw new Error(`--delivery takes ${DELIVERIES.join(', ')}, not ${JSON.stringify(text)}`);
  return found;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      clients: { type: 'string' },
      'send-every': { type: 'string' },
      'kill-every': { type: 'string' },
      'down-for': { type: 'string' },
      sentinel: { type: 'boolean', default: false },
      delivery: { type: 'string', default: DEFAULT_CHAOS.delivery },
      only: { type: 'string' },
      retries: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const options = {
    durationMs: positive(values.minutes, DEFAULT_CHAOS.durationMs / 60_000, 'minutes') * 60_000,
    clients: Math.round(positive(values.clients, DEFAULT_CHAOS.clients, 'clients')),
    sendEveryMs: range(values['send-every'], 1, DEFAULT_CHAOS.sendEveryMs, 'send-every'),
    killEveryMs: range(values['kill-every'], 1000, DEFAULT_CHAOS.killEveryMs, 'kill-every'),
    downForMs: range(values['down-for'], 1000, DEFAULT_CHAOS.downForMs, 'down-for'),
    sentinel: values.sentinel,
    delivery: delivery(values.delivery),
    ...(values.only === undefined ? {} : { only: values.only }),
    ...(values.retries === undefined
      ? {}
      : { reconnect: { retries: Math.round(positive(values.retries, 1, 'retries')) } }),
    log: (line: string) => process.stderr.write(`chaos: ${line}\n`),
  };
  const report = await runChaos(options);
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${describeReport(report)}\n`);
  return report.failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
