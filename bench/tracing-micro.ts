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
import type { CallHandlers, CallOpener } from '../gateway/upstream/calls.js';
import { DEFAULT_FRAME_LIMITS } from '../protocol/common/index.js';

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
  const socket = { bufferedAmount: 0, send() {}, close() {}, pause() {}, resume() {} };
  let handlers: CallHandlers | undefined;
  const fake: CallOpener = {
    open(_method, _metadata, _options, given) {
      handlers = given;
      return { write: () => true, end() {}, cancel() {}, pause() {}, resume() {} };
    },
  };
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
  const connection = createV1Connection(
    socket,
    { method: ROUTECHAT_V1_METHOD, upstream: trace ? trace.calls(fake) : fake, metadata: {} },
    {
      frame: DEFAULT_FRAME_LIMITS,
      maxRejectedFrames: 20,
      socketHighWaterMark: 1 << 20,
      rateLimit: 0,
      rateBurst: 400,
      floodGraceMs: 10_000,
    },
    { onFinished: (outcome) => trace?.finished(outcome), onRelayLatency: observe, onNoteForwarded() {} },
  );
  const note = { location: { latitude: 412345678, longitude: -741234567 }, message: 'x'.repeat(64) };
  const text = JSON.stringify(note);
  const parsed = ROUTECHAT_V1_METHOD.codec.parseRequest(note);
  if (!parsed.ok || !handlers) throw new Error('the note does not encode');
  const call = handlers;
  const before = process.cpuUsage();
  for (let i = 0; i < notes; i += 1) {
    connection.onClientText(text);
    call.onMessage(parsed.bytes);
  }
  const used = process.cpuUsage(before);
  connection.onClientGone();
  return (used.user + used.system) / notes;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return ((sorted[(sorted.length - 1) >> 1] as number) + (sorted[sorted.length >> 1] as number)) / 2;
};

const rounds = Number(process.argv[2] ?? '8');
run('off', 50_000);
run('on', 50_000);
const perNote: Record<Mode, number[]> = { off: [], on: [] };
for (let round = 0; round < rounds; round += 1)
  for (const mode of round % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const))
    perNote[mode].push(run(mode, 300_000));
await provider.shutdown();
const round3 = (x: number) => Math.round(x * 1000) / 1000;
process.stdout.write(
  `${JSON.stringify({
    usPerNote: { off: perNote.off.map(round3), on: perNote.on.map(round3) },
    median: { off: round3(median(perNote.off)), on: round3(median(perNote.on)) },
    ratioOnToOff: round3(median(perNote.on) / median(perNote.off)),
    ratioByRound: perNote.on.map((on, i) => round3(on / (perNote.off[i] ?? on))),
  })}\n`,
);
