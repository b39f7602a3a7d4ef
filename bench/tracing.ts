/**
 * `npm run bench:tracing [-- --rounds N --quick]`: what tracing costs the gateway. Two gateway
 * processes of this build in front of one core (untraced), the same v1 load alternating between
 * them in each round (A/B, then B/A): tracing off (no OTEL_* variables: the SDK is never loaded) and
 * tracing on at the default sampling (parentbased_always_on, every connection traced), exporting
 * OTLP http/protobuf to a sink in this process that reads and discards what it gets. Reports the
 * gateway's CPU per note (user + system, /proc) and notes/s for each, and their ratio per round.
 * Off against the build before tracing is `ab.js` (bench/README.md).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { peakLoadOptions, readConfig } from './config.js';
import { BENCH_GATEWAY_ARGS } from './gateway-args.js';
import { type LoadResult, runLoad } from './load.js';
import { forkWorker, killAll, type ProductProcess, startProduct } from './processes.js';
import { spread } from './stats.js';

/** An OTLP/HTTP endpoint that accepts everything: counts requests and bytes, answers an empty success. */
async function startSink(): Promise<{ endpoint: string; requests: number; bytes: number; close(): void }> {
  const counts = { requests: 0, bytes: 0 };
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => {
      counts.bytes += chunk.length;
    });
    request.on('end', () => {
      counts.requests += 1;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get requests() {
      return counts.requests;
    },
    get bytes() {
      return counts.bytes;
    },
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}

type Mode = 'off' | 'on';

async function main(): Promise<void> {
  const config = readConfig(process.argv.slice(2));
  const sink = await startSink();
  const workers = [forkWorker(), forkWorker()];
  const core = await startProduct('core-server/main.js', ['--metrics-listen', 'off']);
  const gateways: Partial<Record<Mode, ProductProcess>> = {};
  const results: Record<Mode, LoadResult[]> = { off: [], on: [] };
  try {
    const args = ['--core', core.address, ...BENCH_GATEWAY_ARGS];
    gateways.off = await startProduct('gateway/main.js', args);
    gateways.on = await startProduct('gateway/main.js', args, [], undefined, {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    });
    let latBase = 1;
    for (let round = 0; round < config.rounds; round += 1) {
      for (const mode of round % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        const gateway = gateways[mode]!;
        const result = await runLoad({
          workers,
          transport: 'ws',
          target: gateway.address,
          ...peakLoadOptions(config),
          latBase,
          core,
          gateway,
        });
        latBase += 200_000;
        results[mode].push(result);
        process.stderr.write(
          `tracing ${mode}, round ${round + 1}: ${result.notesPerSec} notes/s, ${result.gatewayCpuUsPerNote} µs/note, p99 ${result.latency.p99Ms} ms\n`,
        );
      }
    }
  } finally {
    for (const gateway of Object.values(gateways)) await gateway?.stop();
    await core.stop();
    await Promise.all(workers.map((w) => w.stop()));
    sink.close();
  }
  const cpu = (mode: Mode) => results[mode].map((r) => r.gatewayCpuUsPerNote ?? 0);
  const ratios = cpu('on').map((on, i) => Math.round((on / (cpu('off')[i] ?? on)) * 1000) / 1000);
  const summary = {
    connections: config.connections,
    window: config.window,
    off: {
      notesPerSec: spread(results.off.map((r) => r.notesPerSec)),
      gatewayCpuUsPerNote: spread(cpu('off')),
      p99Ms: spread(results.off.map((r) => r.latency.p99Ms)),
    },
    on: {
      notesPerSec: spread(results.on.map((r) => r.notesPerSec)),
      gatewayCpuUsPerNote: spread(cpu('on')),
      p99Ms: spread(results.on.map((r) => r.latency.p99Ms)),
    },
    /** Gateway CPU per note, on / off, within each round. */
    cpuPerNoteRatioByRound: ratios,
    exported: { requests: sink.requests, bytes: sink.bytes },
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((error: unknown) => {
  killAll();
  process.stderr.write(
    `bench:tracing: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
