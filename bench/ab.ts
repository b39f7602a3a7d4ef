/**
 * `node dist/bench/ab.js --a DIST_A --b DIST_B [--rounds N] [--window W] [--scale N]`: two builds of
 * the gateway (e.g. main and a proposal applied in a scratch copy) in front of one core, alternating
 * A/B/B/A, same load: the measured effect of a change. DIST_x is a dist/ folder holding
 * gateway/main.js. `--scale N` also opens N idle v1 connections on each, every round: RSS per connection.
 * `--env-b KEY=VALUE` (repeatable) and `--node-args-b "..."` set B's environment and Node flags: with
 * `--b` the same as `--a`, a setting's effect (e.g. `--env-b WS_NO_BUFFER_UTIL=1`, or
 * `--node-args-b --max-semi-space-size=64`).
 */
import { parseArgs } from 'node:util';
import { readConfig } from './config.js';
import { BENCH_GATEWAY_ARGS } from './gateway-args.js';
import { type LoadResult, runLoad } from './load.js';
import { forkWorker, killAll, type ProductProcess, startProduct } from './processes.js';
import { measureScale } from './scale.js';
import { spread } from './stats.js';

const ENTRIES = ['gateway/main.js', 'gateway/cluster.js', 'bench/floor-relay.js'] as const;
const entryOf = (entry: string | undefined): (typeof ENTRIES)[number] => {
  const known = ENTRIES.find((e) => e === entry);
  if (!known) throw new Error(`--entry-b: one of ${ENTRIES.join(', ')}`);
  return known;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      window: { type: 'string' },
      rate: { type: 'string' },
      'gateway-args': { type: 'string', default: '' },
      /** B's entry: gateway/cluster.js (the multi-process proposal) or bench/floor-relay.js (the stack's floor). */
      'entry-b': { type: 'string', default: 'gateway/main.js' },
      scale: { type: 'string', default: '0' },
      'env-b': { type: 'string', multiple: true, default: [] },
      'node-args-b': { type: 'string', default: '' },
    },
  });
  const envB = Object.fromEntries(
    values['env-b'].map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--env-b takes KEY=VALUE, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const nodeArgs = { A: [], B: values['node-args-b'].split(' ').filter(Boolean) };
  const envOf = (name: 'A' | 'B') => (name === 'B' ? envB : {});
  if (!values.a || !values.b) throw new Error('usage: ab.js --a DIST_A --b DIST_B');
  const config = readConfig([]);
  const dirs = { A: values.a.replace(/\/?$/, '/'), B: values.b.replace(/\/?$/, '/') };
  const extra = values['gateway-args'] ? values['gateway-args'].split(' ') : [];
  const workers = [forkWorker(), forkWorker()];
  const core = await startProduct('core-server/main.js', ['--metrics-listen', 'off']);
  const gateways: Record<'A' | 'B', ProductProcess | undefined> = { A: undefined, B: undefined };
  const results: Record<'A' | 'B', LoadResult[]> = { A: [], B: [] };
  const rssPerConnection: Record<'A' | 'B', number[]> = { A: [], B: [] };
  const scaleConnections = Number(values.scale);
  try {
    for (const name of ['A', 'B'] as const) {
      gateways[name] = await startProduct(
        name === 'B' ? entryOf(values['entry-b']) : 'gateway/main.js',
        ['--core', core.address, ...BENCH_GATEWAY_ARGS, ...extra],
        nodeArgs[name],
        dirs[name],
        envOf(name),
      );
    }
    let latBase = 1;
    for (let round = 0; round < Number(values.rounds); round += 1) {
      for (const name of round % 2 ? (['B', 'A'] as const) : (['A', 'B'] as const)) {
        const gateway = gateways[name]!;
        const result = await runLoad({
          workers,
          transport: 'ws',
          target: gateway.address,
          connections: config.connections,
          ...(values.rate
            ? { rate: Number(values.rate) }
            : { window: Number(values.window ?? config.window) }),
          warmupMs: config.warmupMs,
          measureMs: config.measureMs,
          messageBytes: config.messageBytes,
          latBase,
          core,
          gateway,
        });
        latBase += 200_000;
        results[name].push(result);
        process.stderr.write(
          `${name} round ${round + 1}: ${result.notesPerSec} notes/s, ${result.gatewayCpuUsPerNote} µs/note, p50 ${result.latency.p50Ms} ms, p99 ${result.latency.p99Ms} ms\n`,
        );
      }
    }
    // RSS per idle connection on a fresh process of each build, alternating: a process that has
    // carried load keeps heap it may or may not reuse, which made deltas on it unreadable.
    for (let round = 0; scaleConnections > 0 && round < Number(values.rounds); round += 1) {
      for (const name of round % 2 ? (['B', 'A'] as const) : (['A', 'B'] as const)) {
        const fresh = await startProduct(
          'gateway/main.js',
          ['--core', core.address, ...BENCH_GATEWAY_ARGS, ...extra],
          nodeArgs[name],
          dirs[name],
          envOf(name),
        );
        try {
          const scale = await measureScale({ ...config, scaleConnections }, workers, core, fresh);
          rssPerConnection[name].push(scale.gatewayRssPerConnectionKiB);
          process.stderr.write(
            `${name} fresh process ${round + 1}: ${scale.opened} idle connections, ${scale.gatewayRssPerConnectionKiB} KiB RSS each\n`,
          );
        } finally {
          await fresh.stop();
        }
      }
    }
  } finally {
    for (const gateway of Object.values(gateways)) await gateway?.stop();
    await core.stop();
    await Promise.all(workers.map((w) => w.stop()));
  }
  const summary = Object.fromEntries(
    (['A', 'B'] as const).map((name) => [
      name,
      {
        dist: dirs[name],
        notesPerSec: spread(results[name].map((r) => r.notesPerSec)),
        gatewayCpuUsPerNote: spread(results[name].map((r) => r.gatewayCpuUsPerNote ?? 0)),
        p50Ms: spread(results[name].map((r) => r.latency.p50Ms)),
        p99Ms: spread(results[name].map((r) => r.latency.p99Ms)),
        ...(scaleConnections > 0 ? { rssKiBPerConnection: spread(rssPerConnection[name]) } : {}),
      },
    ]),
  );
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((error: unknown) => {
  killAll();
  process.stderr.write(`ab: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
