/**
 * Traces on the wire: a real core and a real gateway, as processes configured only by OTEL_*
 * variables, exporting to an OTLP/HTTP receiver this test runs; real WebSocket clients.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type SpawnedProcess, spawnTs } from '../helpers/core.js';
import { connect, note } from '../helpers/gateway.js';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { connectV2, v2Url } from '../helpers/v2.js';

/** The client's own span, as a browser's tracing would send it (W3C trace context). */
const CLIENT_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`;

interface Stack {
  readonly core: SpawnedProcess;
  readonly gateway: SpawnedProcess;
  readonly port: number;
  stop(): Promise<void>;
}

/** Every process in the stack gets `env` (and nothing else about tracing). */
async function startStack(env: NodeJS.ProcessEnv): Promise<Stack> {
  const core = spawnTs('core-server/main.ts', ['--listen', '127.0.0.1:0', '--metrics-listen', 'off'], env);
  const listening = await core.waitForLog('core server listening');
  const gateway = spawnTs(
    'gateway/main.ts',
    ['--listen', '127.0.0.1:0', '--core', String(listening.address), '--metrics-listen', 'off'],
    env,
  );
  const gatewayListening = await gateway.waitForLog('gateway listening');
  const port = Number(String(gatewayListening.address).split(':').at(-1));
  return {
    core,
    gateway,
    port,
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
