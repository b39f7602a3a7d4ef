/**
 * `node dist/bench/tracing-micro.js [rounds]` (after `npm run bench:tracing` or a bench build): the
 * gateway's own CPU per note with tracing off and on, without I/O, alternating in one process. One
 * v1 connection machine (fake socket, fake call) relays notes one in, one out, with what each mode
 * wires per connection: off, the call and the relay-latency histogram as they are; on (the SDK
 * registered, default sampler, a batch processor whose exporter drops the spans), the traced call
 * (stream and client spans, counts, sampled message events) and the histogram with sampled exemplars.
 * The end-to-end figure on a busy shared host is `bench:tracing`; this one is steadier.
 */
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ROUTECHAT_V1_METHOD } from '../gateway/methods/routechat-v1.js';
import { createGatewayMetrics, withSampledExemplars } from '../gateway/observe/metrics.js';
import { createGatewayTracing } from '../gateway/observe/traces.js';
import { createV1Connection } from '../gateway/session/v1-connection.js';
import { DEFAULT_FRAME_LIMITS } from '../protocol/common/index.js';
import { microSocket, microV1Limits, v1RelayCpuPerNote } from './micro.js';
import { median, round } from './stats.js';

const dropAll: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};
const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropAll)] });
provider.register();
const tracing = createGatewayTracing(provider.getTracer('bench'), {
  cores: [{ host: '127.0.0.1', port: 1 }],
});
const metricsOff = createGatewayMetrics(undefined, { defaultMetrics: false });
const metricsOn = createGatewayMetrics(undefined, { defaultMetrics: false, exemplars: true });

type Mode = 'off' | 'on';

/** CPU µs per note (one in, one out) over `notes` notes on one connection. */
function run(mode: Mode, notes: number): number {
  const trace =
    mode === 'on'
      ? tracing.startConnection(
          { headers: {}, url: '/v1/routechat', ip: '127.0.0.1', protocol: 'http', host: '127.0.0.1:8080' },
          '/v1/routechat',
          'routechat.v1',
        )
      : undefined;
  // As the v1 endpoint wires it (endpoints/v1.ts).
  const observe = trace
    ? withSampledExemplars(metricsOn.observeRelayLatency, trace)
    : metricsOff.observeRelayLatency;
  return v1RelayCpuPerNote(
    (upstream) =>
      createV1Connection(
        microSocket(),
        { method: ROUTECHAT_V1_METHOD, upstream: trace ? trace.calls(upstream) : upstream, metadata: {} },
        microV1Limits(DEFAULT_FRAME_LIMITS),
        { onFinished: (outcome) => trace?.finished(outcome), onRelayLatency: observe, onNoteForwarded() {} },
      ),
    (json) => ROUTECHAT_V1_METHOD.codec.parseRequest(json),
    notes,
  );
}

const rounds = Number(process.argv[2] ?? '8');
run('off', 50_000);
run('on', 50_000);
const perNote: Record<Mode, number[]> = { off: [], on: [] };
for (let i = 0; i < rounds; i += 1)
  for (const mode of i % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const))
    perNote[mode].push(run(mode, 300_000));
await provider.shutdown();
process.stdout.write(
  `${JSON.stringify({
    usPerNote: { off: perNote.off.map((x) => round(x)), on: perNote.on.map((x) => round(x)) },
    median: { off: round(median(perNote.off)), on: round(median(perNote.on)) },
    ratioOnToOff: round(median(perNote.on) / median(perNote.off)),
    ratioByRound: perNote.on.map((on, i) => round(on / (perNote.off[i] ?? on))),
  })}\n`,
);
