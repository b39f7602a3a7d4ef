/**
 * The gateway's metrics on their own address (`--metrics-listen`), never the public one: a real
 * gateway in front of a real core, driven by real WebSocket clients; and the gateway as a process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type MetricsServer, startMetricsServer } from '../../common/metrics-http.js';
import { buildGateway, type Gateway } from '../../gateway/app.js';
import { defaultGatewayConfig } from '../../gateway/config.js';
import { createGatewayMetrics, type GatewayMetrics } from '../../gateway/observe/metrics.js';
import { ROUTECHAT_PATH } from '../../protocol/index.js';
import { type RunningCore, spawnTs, startCore } from '../helpers/core.js';
import { connect, freePort, isError, isStatus, note, refusedStatus } from '../helpers/gateway.js';
import { spawnGateway } from '../helpers/hardening.js';
import { sample } from '../helpers/prometheus.js';
import { connectV2, v2Url } from '../helpers/v2.js';

describe('gateway metrics', () => {
  let core: RunningCore;
  let gateway: Gateway;
  let metrics: GatewayMetrics;
  let metricsServer: MetricsServer;
  let httpUrl: string;
  let wsUrl: string;

  const scrape = async () => {
    const response = await fetch(metricsServer.url);
    assert.equal(response.status, 200);
    return { contentType: response.headers.get('content-type'), text: await response.text() };
  };

  before(async () => {
    core = await startCore();
    metrics = createGatewayMetrics();
    gateway = await buildGateway(defaultGatewayConfig({ core: core.address, 'log-level': 'silent' }), {
      metrics,
    });
    await gateway.app.listen({ host: '127.0.0.1', port: 0 });
    metricsServer = await startMetricsServer(metrics.registry, { host: '127.0.0.1', port: 0 });
    const address = gateway.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    httpUrl = `http://127.0.0.1:${port}`;
    wsUrl = `ws://127.0.0.1:${port}${ROUTECHAT_PATH}`;
  });
  after(async () => {
    await gateway.app.close();
    await metricsServer.close();
    await core.stop();
  });

  test('the public address serves no /metrics, even with metrics', async () => {
    for (const path of ['/metrics', '/metrics/', '/METRICS']) {
      const response = await fetch(`${httpUrl}${path}`);
      assert.equal(response.status, 404, path);
      assert.ok(!(await response.text()).includes('routeguide_gateway_'), path);
    }
  });

  test('before any traffic: Prometheus text, known label values at 0, process metrics', async () => {
    const { contentType, text } = await scrape();
    assert.match(contentType ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(text, 'routeguide_gateway_open_connections'), 0);
    assert.equal(sample(text, 'routeguide_gateway_connections_total'), 0);
    assert.equal(sample(text, 'routeguide_gateway_frames_rejected_total', { reason: 'binary_frame' }), 0);
    assert.equal(sample(text, 'routeguide_gateway_grpc_status_total', { status: 'UNAVAILABLE' }), 0);
    assert.equal(sample(text, 'routeguide_gateway_upstream_active_calls'), 0);
    // The output bound made visible: nothing is queued to clients when none is connected.
    assert.equal(sample(text, 'routeguide_gateway_client_queued_bytes'), 0);
    assert.equal(sample(text, 'routeguide_gateway_client_queued_bytes_max'), 0);
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
    const read = (text: string) => ({
      fast: sample(text, 'routeguide_gateway_relay_latency_seconds_bucket', { le: '0.0001' }) ?? 0,
      mid: sample(text, 'routeguide_gateway_relay_latency_seconds_bucket', { le: '0.00025' }) ?? 0,
      slow: sample(text, 'routeguide_gateway_relay_latency_seconds_bucket', { le: '0.005' }) ?? 0,
      count: sample(text, 'routeguide_gateway_relay_latency_seconds_count') ?? 0,
    });
    // The notes relayed by the tests above were observed by the gateway itself.
    const before = read((await scrape()).text);
    assert.ok(before.count > 0, 'the relay reports its latency');
    metrics.observeRelayLatency(0.0002);
    metrics.observeRelayLatency(0.003);
    const now = read((await scrape()).text);
    assert.equal(now.fast - before.fast, 0);
    assert.equal(now.mid - before.mid, 1);
    assert.equal(now.slow - before.slow, 2);
    assert.equal(now.count - before.count, 2);
  });

  test('v2 is counted on its own: connections, streams by method and status, error frames by reason', async () => {
    const before = (await scrape()).text;
    assert.equal(sample(before, 'routeguide_gateway_v2_error_frames_total', { reason: 'no_credit' }), 0);
    assert.equal(sample(before, 'routeguide_gateway_v2_open_connections'), 0);
    const v1Connections = sample(before, 'routeguide_gateway_connections_total');
    const client = connectV2(v2Url(Number(new URL(httpUrl).port)));
    await client.opened;
    client.send({ type: 'open', id: 'f', method: 'routeguide.RouteGuide/GetFeature' });
    client.send({ type: 'message', id: 'f', message: { latitude: 409146138, longitude: -746188906 } });
    client.send({ type: 'open', id: 'x', method: 'routeguide.RouteGuide/Teleport' });
    client.send({ type: 'open', id: 'chat', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({ type: 'message', id: 'chat', message: { nope: 1 } });
    client.send('this is not JSON');
    assert.equal((await client.status('f')).name, 'OK');
    assert.equal((await client.status('x')).name, 'UNIMPLEMENTED');
    await client.until((f) => f.filter((x) => x.type === 'error').length >= 2, 10_000, 'two error frames');

    const during = (await scrape()).text;
    const v2 = (text: string, name: string, labels?: Record<string, string>) =>
      sample(text, `routeguide_gateway_v2_${name}`, labels);
    assert.equal(v2(during, 'open_connections'), 1);
    assert.equal(v2(during, 'open_streams'), 1, 'the RouteChat stream');
    assert.equal(sample(during, 'routeguide_gateway_upstream_active_calls'), 1, 'v2 calls share the pool');
    assert.equal(sample(during, 'routeguide_gateway_connections_total'), v1Connections, 'v1 counts only v1');

    client.ws.close();
    await client.closed;
    let text = '';
    for (let attempt = 0; attempt < 50; attempt += 1) {
      text = (await scrape()).text;
      if (v2(text, 'open_connections') === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(v2(text, 'open_connections'), 0);
    assert.equal(v2(text, 'open_streams'), 0);
    assert.equal(v2(text, 'connections_total'), 1);
    assert.equal(v2(text, 'closes_total', { code: '0', cause: 'client_closed' }), 1);
    assert.equal(v2(text, 'connection_duration_seconds_count'), 1);
    const chat = 'routeguide.RouteGuide/RouteChat';
    const feature = 'routeguide.RouteGuide/GetFeature';
    assert.equal(v2(text, 'streams_opened_total', { method: feature }), 1);
    assert.equal(v2(text, 'streams_opened_total', { method: chat }), 1);
    assert.equal(v2(text, 'streams_finished_total', { method: feature, code: 'OK' }), 1);
    assert.equal(v2(text, 'streams_finished_total', { method: '(unknown)', code: 'UNIMPLEMENTED' }), 1);
    assert.equal(v2(text, 'streams_finished_total', { method: chat, code: 'CANCELLED' }), 1);
    assert.equal(v2(text, 'error_frames_total', { reason: 'invalid_json' }), 1);
    assert.equal(v2(text, 'error_frames_total', { reason: 'invalid_message' }), 1);
  });

  test('each metrics object has its own registry', () => {
    const other = createGatewayMetrics(undefined, { defaultMetrics: false });
    assert.notEqual(other.registry, metrics.registry);
    assert.equal(other.registry.getSingleMetric('nodejs_eventloop_lag_seconds'), undefined);
  });
});

/** The 'gateway listening' log line of a spawned gateway (spawnGateway has waited for it). */
const listeningLine = (lines: readonly string[]): Record<string, unknown> =>
  JSON.parse(lines.find((line) => line.includes('"gateway listening"')) ?? '{}') as Record<string, unknown>;

describe('gateway metrics listener (--metrics-listen, GATEWAY_METRICS_LISTEN)', () => {
  let core: RunningCore;
  before(async () => {
    core = await startCore();
  });
  after(async () => {
    await core.stop();
  });

  test('--metrics-listen serves /metrics on its own address and the public address has none', async () => {
    const gateway = await spawnGateway(core.address, ['--metrics-listen', '127.0.0.1:0']);
    try {
      const listening = listeningLine(gateway.lines);
      const metricsUrl = String(listening.metrics);
      assert.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.ok(!metricsUrl.includes(gateway.address), 'not the public address');
      const client = connect(gateway.wsUrl);
      await client.opened;
      const scraped = await fetch(metricsUrl);
      assert.equal(scraped.status, 200);
      assert.equal(sample(await scraped.text(), 'routeguide_gateway_open_connections'), 1);
      assert.equal((await fetch(`http://${gateway.address}/metrics`)).status, 404);
      assert.equal(
        (await fetch(metricsUrl.replace('/metrics', '/healthz'))).status,
        404,
        'only /metrics there',
      );
      client.ws.close();
      await client.closed;
    } finally {
      await gateway.stop();
    }
  });

  test('metrics are off by default: no listener, and nothing on the public address', async () => {
    const gateway = await spawnGateway(core.address);
    try {
      const listening = listeningLine(gateway.lines);
      assert.equal(listening.metrics, 'off');
      assert.equal((await fetch(`http://${gateway.address}/metrics`)).status, 404);
    } finally {
      await gateway.stop();
    }
  });

  test('a metrics address in use stops the gateway: exit 2 and one line', async () => {
    const taken = await startMetricsServer(
      createGatewayMetrics(undefined, { defaultMetrics: false }).registry,
      {
        host: '127.0.0.1',
        port: 0,
      },
    );
    try {
      const target = `127.0.0.1:${taken.address.port}`;
      const gateway = spawnTs('gateway/main.ts', [
        '--listen',
        '127.0.0.1:0',
        '--core',
        core.address,
        '--log-level',
        'silent',
        '--metrics-listen',
        target,
      ]);
      const timeout = setTimeout(() => void gateway.stop('SIGKILL'), 20_000);
      const { code } = await gateway.exited;
      clearTimeout(timeout);
      assert.equal(code, 2, gateway.lines.join('\n'));
      assert.deepEqual(gateway.lines, [
        `routeguide-gateway: cannot serve metrics on ${target}: address already in use`,
      ]);
    } finally {
      await taken.close();
    }
  });

  test('npm start serves the gateway metrics on a loopback address and prints it', async () => {
    const ports = await Promise.all([freePort(), freePort()]);
    const start = spawnTs('scripts/start.ts', [], {
      CORE_LISTEN: '127.0.0.1:0',
      CORE_METRICS_LISTEN: 'off',
      GATEWAY_LISTEN: `127.0.0.1:${ports[0]}`,
      GATEWAY_METRICS_LISTEN: `127.0.0.1:${ports[1]}`,
      LOG_LEVEL: 'warn',
    });
    try {
      const deadline = Date.now() + 20_000;
      const printed = () => start.lines.find((line) => line.trim().startsWith('metrics:'));
      while (!printed() && Date.now() < deadline && start.child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(
        printed()?.trim(),
        `metrics:   http://127.0.0.1:${ports[1]}/metrics (gateway)`,
        start.lines.join('\n'),
      );
      const scraped = await fetch(`http://127.0.0.1:${ports[1]}/metrics`);
      assert.equal(scraped.status, 200);
      assert.match(await scraped.text(), /routeguide_gateway_connections_total 0/);
    } finally {
      await start.stop();
    }
  });
});
