/**
 * Traces on the wire: a real core and a real gateway, as processes configured only by OTEL_*
 * variables, exporting to an OTLP/HTTP receiver this test runs; real WebSocket clients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type SpawnedProcess, spawnTs } from '../helpers/core.js';
import { connect, note } from '../helpers/gateway.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { removeDir, startRedis } from '../helpers/redis.js';
import { connectV2, v2Url } from '../helpers/v2.js';

/** A client's own span, as a browser's tracing would send it (W3C trace context); one trace per test. */
function clientSpan(n: number): { traceId: string; spanId: string; traceparent: string } {
  const traceId = `4bf92f3577b34da6a3ce929d0e0e47${String(n).padStart(2, '0')}`;
  const spanId = `00f067aa0ba902${String(n).padStart(2, '0')}`;
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}
const TRACEPARENT = clientSpan(0).traceparent;

const tracingEnv = (receiver: OtlpReceiver, protocol = 'http/json'): NodeJS.ProcessEnv => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
  // Exported within 100 ms of ending, so a test waits little.
  OTEL_BSP_SCHEDULE_DELAY: '100',
});

const inTrace = (spans: ReceivedSpan[], traceId: string) => spans.filter((s) => s.traceId === traceId);

/** The one span of `service` named `name` (not of `kind` client, unless asked) in `spans`; fails naming what there is. */
function only(spans: ReceivedSpan[], service: string, name: string, kind?: number): ReceivedSpan {
  const found = spans.filter(
    (s) =>
      s.service === service &&
      s.name === name &&
      (kind === undefined ? s.kind !== SPAN_KIND.client : s.kind === kind),
  );
  assert.equal(
    found.length,
    1,
    `one ${service} span "${name}"; the trace has ${spans.map((s) => `${s.service}:${s.name}`).join(', ')}`,
  );
  return found[0]!;
}

const GATEWAY = 'routeguide-gateway';
const CORE = 'routeguide-core';

/** The trace has the gateway's client span and the core's server span under it, and `more` holds. */
const complete =
  (traceId: string, more: (trace: ReceivedSpan[]) => boolean = () => true) =>
  (all: ReceivedSpan[]) => {
    const trace = inTrace(all, traceId);
    return (
      trace.some((s) => s.service === GATEWAY && s.kind === SPAN_KIND.client) &&
      trace.some((s) => s.service === CORE && s.kind === SPAN_KIND.server) &&
      more(trace)
    );
  };

/** The core's server span of `method`, a child of the gateway's client span for it. */
function coreCallUnder(spans: ReceivedSpan[], method: string): ReceivedSpan {
  const call = only(spans, GATEWAY, method, SPAN_KIND.client);
  const served = only(spans, CORE, method, SPAN_KIND.server);
  assert.equal(served.parentSpanId, call.spanId, "the core's span is a child of the gateway's call");
  assert.equal(served.attributes['rpc.system.name'], 'grpc');
  assert.equal(served.attributes['rpc.status_code'], 'OK');
  return served;
}

/** The store spans under `served`, each with its live-notes publish span under it. */
function storeSpansUnder(spans: ReceivedSpan[], served: ReceivedSpan, name: string): ReceivedSpan[] {
  const stores = spans.filter((s) => s.service === CORE && s.name === name);
  for (const store of stores) {
    assert.equal(store.parentSpanId, served.spanId, 'the store operation is a child of the call');
    const published = spans.filter((s) => s.parentSpanId === store.spanId);
    assert.equal(published.length, 1, 'each stored note was published once');
    assert.equal(published[0]!.kind, SPAN_KIND.producer);
    assert.match(published[0]!.name, /^publish /);
  }
  return stores;
}
const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4 } as const;

interface Stack {
  readonly core: SpawnedProcess;
  readonly gateway: SpawnedProcess;
  readonly port: number;
  /** The gateway's Prometheus endpoint. */
  readonly metricsUrl: string;
  stop(): Promise<void>;
}

/** Every process in the stack gets `env` (and nothing else about tracing). */
async function startStack(env: NodeJS.ProcessEnv, coreArgs: readonly string[] = []): Promise<Stack> {
  const core = spawnTs(
    'core-server/main.ts',
    ['--listen', '127.0.0.1:0', '--metrics-listen', 'off', ...coreArgs],
    env,
  );
  const listening = await core.waitForLog('core server listening');
  const gateway = spawnTs(
    'gateway/main.ts',
    ['--listen', '127.0.0.1:0', '--core', String(listening.address), '--metrics-listen', '127.0.0.1:0'],
    env,
  );
  const gatewayListening = await gateway.waitForLog('gateway listening');
  const port = Number(String(gatewayListening.address).split(':').at(-1));
  return {
    core,
    gateway,
    port,
    metricsUrl: String(gatewayListening.metrics),
    async stop() {
      await Promise.all([gateway.stop(), core.stop()]);
    },
  };
}

/** One v1 RouteChat: the upgrade carries `headers`; one note, its reply, end, close. */
async function v1Chat(port: number, headers: Record<string, string> = {}): Promise<void> {
  const client = connect(`ws://127.0.0.1:${port}/v1/routechat`, { headers });
  await client.opened;
  client.send(note(1, 2, 'first'));
  client.send(note(1, 2, 'second'));
  await client.waitForFrames(3);
  client.send({ type: 'end' });
  const closed = await client.closed;
  assert.equal(closed.code, 1000, 'the stream ended OK');
}

/** One v2 GetFeature whose open carries `metadata`. */
async function v2GetFeature(port: number, metadata: Record<string, string> = {}): Promise<void> {
  const client = connectV2(v2Url(port));
  await client.opened;
  client.send({ type: 'open', id: 'get', method: 'routeguide.RouteGuide/GetFeature', metadata });
  client.send({ type: 'message', id: 'get', message: { latitude: 409146138, longitude: -746188906 } });
  const status = await client.status('get');
  assert.equal(status.name, 'OK');
  client.ws.close(1000);
  await client.closed;
}

describe('tracing off', () => {
  test('with no OTLP endpoint set, nothing is exported, not even to the default endpoint', async (t) => {
    // Where an SDK with every other OTEL_* variable set, but no endpoint, would send.
    let receiver: OtlpReceiver;
    try {
      receiver = await startOtlpReceiver(4318);
    } catch (error) {
      t.skip(`port 4318 is taken here: ${(error as Error).message}`);
      return;
    }
    after(() => receiver.close());
    const stack = await startStack({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_SERVICE_NAME: 'should-not-appear',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    try {
      await v1Chat(stack.port, { traceparent: TRACEPARENT });
      await v2GetFeature(stack.port, { traceparent: TRACEPARENT });
    } finally {
      await stack.stop();
    }
    assert.deepEqual(receiver.requests, []);
    for (const proc of [stack.core, stack.gateway])
      assert.ok(!proc.lines.some((line) => line.includes('tracing on')), 'no process says tracing is on');
  });
});

describe('tracing on: OTLP http/json', () => {
  let receiver: OtlpReceiver;
  let stack: Stack;
  before(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack(tracingEnv(receiver));
  });
  after(async () => {
    await stack?.stop();
    await receiver?.close();
  });

  test('a v1 stream whose upgrade carries a traceparent is one trace under the client span', async () => {
    const client = clientSpan(1);
    await v1Chat(stack.port, { traceparent: client.traceparent });
    const spans = inTrace(
      await receiver.waitFor(
        complete(client.traceId, (trace) => trace.filter((s) => s.kind === SPAN_KIND.producer).length === 2),
      ),
      client.traceId,
    );
    const connection = only(spans, GATEWAY, 'WebSocket /v1/routechat');
    assert.equal(connection.parentSpanId, client.spanId, 'the connection is a child of the client span');
    assert.equal(connection.kind, SPAN_KIND.server);
    assert.equal(connection.attributes['routeguide.websocket.close_code'], 1000);
    assert.equal(connection.attributes['routeguide.connection.frames_in'], 3);
    const stream = only(spans, GATEWAY, 'routeguide.RouteGuide/RouteChat');
    assert.equal(stream.parentSpanId, connection.spanId);
    assert.equal(stream.attributes['routeguide.stream.messages_in'], 2);
    assert.equal(stream.attributes['routeguide.stream.messages_out'], 3);
    assert.deepEqual(
      stream.events
        .map((e) => `${e.attributes['rpc.message.type']} ${e.attributes['rpc.message.id']}`)
        .sort(),
      ['RECEIVED 1', 'RECEIVED 2', 'SENT 1', 'SENT 2'],
      'the 1st, 2nd (4th, 8th…) message each way is an event',
    );
    const call = spans.find((s) => s.service === GATEWAY && s.kind === SPAN_KIND.client);
    assert.ok(call);
    assert.equal(call.parentSpanId, stream.spanId);
    assert.equal(call.attributes['rpc.system.name'], 'grpc');
    assert.equal(call.attributes['rpc.method'], 'routeguide.RouteGuide/RouteChat');
    assert.equal(call.attributes['rpc.status_code'], 'OK');
    const served = coreCallUnder(spans, 'routeguide.RouteGuide/RouteChat');
    const stores = storeSpansUnder(spans, served, 'note-store append');
    assert.equal(stores.length, 2, 'one store span per note');
  });

  test("the gateway's log lines of a connection carry its trace_id and span_id", async () => {
    const client = clientSpan(5);
    await v1Chat(stack.port, { traceparent: client.traceparent });
    const spans = inTrace(await receiver.waitFor(complete(client.traceId)), client.traceId);
    const connection = only(spans, GATEWAY, 'WebSocket /v1/routechat');
    const lines = stack.gateway.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.trace_id === client.traceId);
    assert.deepEqual(
      lines.map((line) => [line.msg, line.span_id]),
      [
        ['connection opened', connection.spanId],
        ['connection closed', connection.spanId],
      ],
    );
  });

  test('the latency histograms carry exemplars with the trace, served as OpenMetrics', async () => {
    const client = clientSpan(6);
    await v1Chat(stack.port, { traceparent: client.traceparent });
    const spans = inTrace(await receiver.waitFor(complete(client.traceId)), client.traceId);
    const connection = only(spans, GATEWAY, 'WebSocket /v1/routechat');
    const response = await fetch(stack.metricsUrl);
    assert.match(String(response.headers.get('content-type')), /^application\/openmetrics-text/);
    const text = await response.text();
    const exemplar = `# {trace_id="${client.traceId}",span_id="${connection.spanId}"}`;
    for (const histogram of ['connection_duration_seconds', 'relay_latency_seconds'])
      assert.ok(
        text
          .split('\n')
          .some(
            (line) => line.startsWith(`routeguide_gateway_${histogram}_bucket`) && line.includes(exemplar),
          ),
        `${histogram} has an exemplar of the connection's span`,
      );
  });

  test('a v2 GetFeature whose open carries a traceparent is one trace under the client span', async () => {
    const client = clientSpan(2);
    const upgrade = clientSpan(3);
    const client2 = connectV2(v2Url(stack.port), { headers: { traceparent: upgrade.traceparent } });
    await client2.opened;
    client2.send({
      type: 'open',
      id: 'get',
      method: 'routeguide.RouteGuide/GetFeature',
      metadata: { traceparent: client.traceparent },
    });
    client2.send({ type: 'message', id: 'get', message: { latitude: 409146138, longitude: -746188906 } });
    assert.equal((await client2.status('get')).name, 'OK');
    const spans = inTrace(await receiver.waitFor(complete(client.traceId)), client.traceId);
    const stream = only(spans, GATEWAY, 'routeguide.RouteGuide/GetFeature');
    assert.equal(stream.parentSpanId, client.spanId, "the stream is a child of the open's traceparent");
    coreCallUnder(spans, 'routeguide.RouteGuide/GetFeature');
    assert.equal(stream.kind, SPAN_KIND.server);
    const call = spans.find((s) => s.service === GATEWAY && s.kind === SPAN_KIND.client);
    assert.ok(call);
    assert.equal(call.parentSpanId, stream.spanId);
    client2.ws.close(1000);
    await client2.closed;
    // The connection itself belongs to the upgrade's trace, and the stream links to it.
    const connectionTrace = inTrace(
      await receiver.waitFor((all) => inTrace(all, upgrade.traceId).length > 0),
      upgrade.traceId,
    );
    const connection = only(connectionTrace, GATEWAY, 'WebSocket /v2');
    assert.equal(connection.parentSpanId, upgrade.spanId);
    assert.deepEqual(stream.links, [{ traceId: upgrade.traceId, spanId: connection.spanId }]);
  });

  test("a client's unsampled traceparent is followed: nothing of its trace is exported", async () => {
    const unsampled = clientSpan(7);
    await v1Chat(stack.port, { traceparent: unsampled.traceparent.replace(/-01$/, '-00') });
    // A sampled trace after it, through the same processes: once it has arrived, so would have the first.
    const sampled = clientSpan(8);
    await v1Chat(stack.port, { traceparent: sampled.traceparent });
    await receiver.waitFor(complete(sampled.traceId));
    assert.deepEqual(inTrace(receiver.spans(), unsampled.traceId), []);
    const metrics = await (await fetch(stack.metricsUrl)).text();
    assert.ok(!metrics.includes(unsampled.traceId), 'no exemplar of an unsampled trace');
  });

  test('without a traceparent the gateway starts the trace', async () => {
    const before = new Set(receiver.spans().map((s) => s.traceId));
    await v2GetFeature(stack.port);
    const spans = await receiver.waitFor((all) =>
      all.some((s) => !before.has(s.traceId) && s.name === 'WebSocket /v2'),
    );
    const connection = spans.find((s) => !before.has(s.traceId) && s.name === 'WebSocket /v2')!;
    assert.equal(connection.parentSpanId, '', 'the connection is the root');
    const trace = inTrace(spans, connection.traceId);
    const stream = only(trace, GATEWAY, 'routeguide.RouteGuide/GetFeature');
    assert.equal(stream.parentSpanId, connection.spanId);
  });
});

describe('tracing on: OTLP http/protobuf, notes in Redis', () => {
  test('a v1 stream is one trace down to the Redis append script, sent as protobuf', async () => {
    const redis = await startRedis();
    const receiver = await startOtlpReceiver();
    const stack = await startStack(tracingEnv(receiver, 'http/protobuf'), ['--note-store', redis.url]);
    const client = clientSpan(4);
    try {
      if (!stack.core.lines.some((line) => line.includes('"note store available"')))
        await stack.core.waitForLog('note store available');
      await v1Chat(stack.port, { traceparent: client.traceparent });
      const spans = inTrace(
        await receiver.waitFor(
          complete(
            client.traceId,
            (trace) => trace.filter((s) => s.kind === SPAN_KIND.producer).length === 2,
          ),
        ),
        client.traceId,
      );
      assert.ok(receiver.requests.every((r) => r.contentType === 'application/x-protobuf'));
      const connection = only(spans, GATEWAY, 'WebSocket /v1/routechat');
      assert.equal(connection.parentSpanId, client.spanId);
      const served = coreCallUnder(spans, 'routeguide.RouteGuide/RouteChat');
      const scripts = storeSpansUnder(spans, served, 'EVALSHA append-note');
      assert.equal(scripts.length, 2);
      assert.equal(scripts[0]!.kind, SPAN_KIND.client);
      assert.equal(scripts[0]!.attributes['db.system.name'], 'redis');
      assert.equal(scripts[0]!.attributes['db.operation.name'], 'EVALSHA');
      assert.equal(scripts[0]!.attributes['server.port'], redis.port);
    } finally {
      await stack.stop();
      await receiver.close();
      await redis.stop();
      removeDir(redis);
    }
  });
});
