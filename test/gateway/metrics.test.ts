/** `GET /metrics` on a real gateway in front of a real core, driven by real WebSocket clients. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildGateway, type Gateway } from '../../gateway/app.js';
import { defaultGatewayConfig } from '../../gateway/config.js';
import { createGatewayMetrics, type GatewayMetrics } from '../../gateway/metrics.js';
import { ROUTECHAT_PATH } from '../../protocol/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { connect, isError, isStatus, note, refusedStatus } from '../helpers/gateway.js';
import { sample } from '../helpers/prometheus.js';

describe('gateway metrics', () => {
  let core: RunningCore;
  let gateway: Gateway;
  let metrics: GatewayMetrics;
  let httpUrl: string;
  let wsUrl: string;

  const scrape = async () => {
    const response = await fetch(`${httpUrl}/metrics`);
    assert.equal(response.status, 200);
    return { contentType: response.headers.get('content-type'), text: await response.text() };
  };

  before(async () => {
    core = await startCore();
    metrics = createGatewayMetrics();
    gateway = await buildGateway(defaultGatewayConfig({ core: core.address, 'log-level': 'silent' }), {
      observer: metrics.observer,
    });
    const { upstream } = gateway;
    metrics.setUpstreamStats(() => upstream.stats());
    await gateway.app.register(metrics.plugin);
    await gateway.app.listen({ host: '127.0.0.1', port: 0 });
    const address = gateway.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    httpUrl = `http://127.0.0.1:${port}`;
    wsUrl = `ws://127.0.0.1:${port}${ROUTECHAT_PATH}`;
  });
  after(async () => {
    await gateway.app.close();
    await core.stop();
  });

  test('before any traffic: Prometheus text, known label values at 0, process metrics', async () => {
    const { contentType, text } = await scrape();
    assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(text, 'routeguide_gateway_open_connections'), 0);
    assert.equal(sample(text, 'routeguide_gateway_connections_total'), 0);
    assert.equal(sample(text, 'routeguide_gateway_frames_rejected_total', { reason: 'binary_frame' }), 0);
    assert.equal(sample(text, 'routeguide_gateway_grpc_status_total', { status: 'UNAVAILABLE' }), 0);
    assert.equal(sample(text, 'routeguide_gateway_upstream_active_calls'), 0);
    assert.notEqual(sample(text, 'nodejs_eventloop_lag_seconds'), undefined);
    assert.notEqual(sample(text, 'process_cpu_user_seconds_total'), undefined);
  });

  test('a note, a bad frame and an end are counted; the refused upgrade too', async () => {
    const client = connect(wsUrl);
    await client.opened;
    client.send(note(1, 2, 'hello'));
    await client.waitForFrames(1);
    client.send('this is not JSON');
    const frames = await client.waitForFrames(2);
    assert.ok(isError(frames[1]) && frames[1].reason === 'invalid_json');

    const during = await scrape();
    assert.equal(sample(during.text, 'routeguide_gateway_open_connections'), 1);
    assert.equal(sample(during.text, 'routeguide_gateway_notes_forwarded_total'), 1);
    assert.equal(sample(during.text, 'routeguide_gateway_upstream_active_calls'), 1);
    assert.ok((sample(during.text, 'routeguide_gateway_upstream_channels') ?? 0) >= 1);

    client.send({ type: 'end' });
    const closed = await client.closed;
    assert.equal(closed.code, 1000);
    assert.ok(isStatus(client.frames.at(-1)));
    assert.equal(await refusedStatus(wsUrl, { origin: 'https://evil.example' }), 403);

    const { text } = await scrape();
    const value = (name: string, labels?: Record<string, string>) =>
      sample(text, `routeguide_gateway_${name}`, labels);
    assert.equal(value('connections_total'), 1);
    assert.equal(value('open_connections'), 0);
    assert.equal(value('frames_in_total'), 3, 'the note, the bad frame and the end');
    assert.equal(value('frames_out_total'), 1, 'the echoed note');
    assert.equal(value('frames_rejected_total', { reason: 'invalid_json' }), 1);
    assert.equal(value('closes_total', { code: '1000', cause: 'status' }), 1);
    assert.equal(value('grpc_status_total', { status: 'OK' }), 1);
    assert.equal(value('upgrades_refused_total', { status_code: '403', reason: 'origin_not_allowed' }), 1);
    assert.equal(value('connection_duration_seconds_count'), 1);
  });

  test('a client that vanishes is counted as CANCELLED with no close code of ours', async () => {
    const client = connect(wsUrl);
    await client.opened;
    client.ws.terminate();
    await client.closed;
    let text = '';
    for (let attempt = 0; attempt < 50; attempt += 1) {
      text = (await scrape()).text;
      if (sample(text, 'routeguide_gateway_open_connections') === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(sample(text, 'routeguide_gateway_open_connections'), 0);
    assert.equal(sample(text, 'routeguide_gateway_closes_total', { code: '0', cause: 'client_closed' }), 1);
    assert.equal(sample(text, 'routeguide_gateway_grpc_status_total', { status: 'CANCELLED' }), 1);
  });

  test('observeRelayLatency feeds the gateway-added latency histogram', async () => {
    metrics.observeRelayLatency(0.0002);
    metrics.observeRelayLatency(0.003);
    const { text } = await scrape();
    const bucket = (le: string) => sample(text, 'routeguide_gateway_relay_latency_seconds_bucket', { le });
    assert.equal(bucket('0.0001'), 0);
    assert.equal(bucket('0.00025'), 1);
    assert.equal(bucket('0.005'), 2);
    assert.equal(sample(text, 'routeguide_gateway_relay_latency_seconds_count'), 2);
  });

  test('each metrics object has its own registry', () => {
    const other = createGatewayMetrics(undefined, { defaultMetrics: false });
    assert.notEqual(other.registry, metrics.registry);
    assert.equal(other.registry.getSingleMetric('nodejs_eventloop_lag_seconds'), undefined);
  });
});
