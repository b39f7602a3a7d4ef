/**
 * Limits of issue 5, attacked through real sockets: connection caps, the per-connection rate limit
 * and flood close, idle and lifetime timeouts, frame and gRPC message sizes on both sides.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCode, type StatusFrame } from '../../protocol/index.js';
import { spawnCore } from '../helpers/core.js';
import { connect, type FakeCore, isError, isStatus, note, startGateway, until } from '../helpers/gateway.js';
import { median, openClient, refusal, roundTrip, sleep, startEchoCore } from '../helpers/hardening.js';

const lastStatus = (frames: readonly unknown[]) => frames.at(-1) as StatusFrame;

describe('connection caps', () => {
  let core: FakeCore;
  before(async () => {
    core = await startEchoCore();
  });
  after(() => core.stop());

  test('past --max-connections an upgrade gets 503 with Retry-After, and no WebSocket or gRPC call exists', async () => {
    const gateway = await startGateway(core.address, { 'max-connections': 2 });
    try {
      const callsBefore = core.calls.length;
      const first = connect(gateway.wsUrl);
      const second = connect(gateway.wsUrl);
      await Promise.all([first.opened, second.opened]);
      await until(() => core.calls.length === callsBefore + 2, 3000, 'two calls at the core');

      const refused = await refusal(gateway.wsUrl);
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers['retry-after']) > 0, 'Retry-After is a positive number of seconds');
      assert.equal((JSON.parse(refused.body) as { error: string }).error, 'too_many_connections');
      await sleep(100);
      assert.equal(core.calls.length, callsBefore + 2, 'the refused upgrade made no call to the core');
      assert.equal(gateway.sessions.size, 2);
      assert.equal(gateway.app.websocketServer.clients.size, 2, 'no WebSocket was created for it');
      assert.equal(gateway.upstream.stats().activeCalls, 2);

      // A slot freed is a slot usable again.
      first.ws.close();
      await first.closed;
      await until(() => gateway.sessions.size === 1, 3000, 'the closed session to be gone');
      assert.equal((await roundTrip(gateway.wsUrl)).code, CloseCode.NORMAL);
      second.ws.close();
    } finally {
      await gateway.app.close();
    }
  });

  test('past --max-connections-per-ip one address gets 503 while another address is still served', async () => {
    const gateway = await startGateway(core.address, { 'max-connections-per-ip': 2, 'max-connections': 100 });
    try {
      const callsBefore = core.calls.length;
      const held = [connect(gateway.wsUrl), connect(gateway.wsUrl)];
      await Promise.all(held.map((c) => c.opened));
      const refused = await refusal(gateway.wsUrl);
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers['retry-after']) > 0);
      assert.equal(
        (JSON.parse(refused.body) as { error: string }).error,
        'too_many_connections_from_address',
      );
      await sleep(100);
      assert.equal(core.calls.length, callsBefore + 2, 'the refused upgrade made no call to the core');

      // 127.0.0.2 is another client address on the loopback interface.
      const other = await roundTrip(gateway.wsUrl, { localAddress: '127.0.0.2' });
      assert.equal(other.code, CloseCode.NORMAL, 'another address is not affected by this one');
      for (const c of held) c.ws.close();
    } finally {
      await gateway.app.close();
    }
  });
});

describe('rate limit', () => {
  let core: FakeCore;
  before(async () => {
    core = await startEchoCore();
  });
  after(() => core.stop());

  test('a client over its rate gets backpressure: its frames are processed at about the rate, no error frames', async (t) => {
    const rate = 50;
    const burst = 10;
    const gateway = await startGateway(core.address, {
      'rate-limit': rate,
      'rate-burst': burst,
      'flood-grace': '20s',
    });
    try {
      const client = openClient(gateway.wsUrl);
      await client.opened;
      const count = 60;
      const started = performance.now();
      // Three frames every 5 ms: ten times the rate or more.
      for (let i = 0; i < count; i += 1) {
        client.send(note(11, i, `n${i}`));
        if (i % 3 === 2) await sleep(5);
      }
      const sentIn = performance.now() - started;
      await client.waitForFrames(count, 10_000);
      const lastReply = (client.times.at(-1) as number) - started;
      const observedRate = (count - burst) / (lastReply / 1000);
      t.diagnostic(
        `sent ${count} frames in ${sentIn.toFixed(0)} ms; last reply after ${lastReply.toFixed(0)} ms; ` +
          `${observedRate.toFixed(1)} frames/s past the burst (limit ${rate}/s)`,
      );
      assert.equal(client.frames.filter(isError).length, 0, 'no error frame while within the flood grace');
      assert.deepEqual(
        client.frames.map((f) => (f as { message: string }).message),
        Array.from({ length: count }, (_, i) => `n${i}`),
        'every frame processed, in order',
      );
      // Unthrottled, the replies would follow the sends (~0.3 s); throttled, (60 - 10) / 50 = 1 s.
      assert.ok(lastReply > 700, `throttled: last reply after ${lastReply.toFixed(0)} ms`);
      assert.ok(
        lastReply - sentIn > 300,
        'the replies lag behind the sends: the gateway held the client back',
      );
      assert.ok(observedRate < rate * 1.5, `about the rate: ${observedRate.toFixed(1)} frames/s`);
      client.send({ type: 'end' });
      assert.equal((await client.closed).code, CloseCode.NORMAL);
    } finally {
      await gateway.app.close();
    }
  });

  test('a sustained flood gets rate_limited, RESOURCE_EXHAUSTED and 1008 while another connection keeps its replies prompt', async (t) => {
    const gateway = await startGateway(core.address, {
      'rate-limit': 50,
      'rate-burst': 10,
      'flood-grace': '500ms',
    });
    try {
      const calm = openClient(gateway.wsUrl);
      const flooder = openClient(gateway.wsUrl);
      await Promise.all([calm.opened, flooder.opened]);

      const latencies: number[] = [];
      const ping = async (i: number) => {
        const sentAt = performance.now();
        calm.send(note(12, i, `calm ${i}`));
        await calm.waitForFrames(i + 1, 3000);
        latencies.push((calm.times[i] as number) - sentAt);
      };
      for (let i = 0; i < 5; i += 1) {
        await ping(i);
        await sleep(50);
      }
      const before = median(latencies);

      let flooding = true;
      void flooder.closed.then(() => {
        flooding = false;
      });
      const flood = (async () => {
        const deadline = performance.now() + 8000;
        let i = 0;
        while (flooding && performance.now() < deadline) {
          // ~20 frames per ms tick: far over 50/s.
          for (let k = 0; k < 20 && flooder.ws.readyState === flooder.ws.OPEN; k += 1)
            flooder.send(note(13, i++, 'flood'));
          await sleep(1);
        }
      })();
      const floodStarted = performance.now();
      for (let i = 5; flooding && i < 80; i += 1) {
        await ping(i);
        await sleep(50);
      }
      const closed = await flooder.closed;
      const closedAfter = performance.now() - floodStarted;
      await flood;
      const during = latencies.slice(5);
      t.diagnostic(
        `flooder closed after ${closedAfter.toFixed(0)} ms; calm latency median before ${before.toFixed(1)} ms, ` +
          `during the flood median ${median(during).toFixed(1)} ms, max ${Math.max(...during).toFixed(1)} ms ` +
          `(${during.length} replies)`,
      );

      assert.equal(closed.code, CloseCode.POLICY_VIOLATION);
      const rateError = flooder.frames.find(isError);
      assert.equal(rateError?.reason, 'rate_limited');
      assert.equal(rateError?.code, 'RESOURCE_EXHAUSTED');
      const status = lastStatus(flooder.frames);
      assert.ok(isStatus(status));
      assert.equal(status.name, 'RESOURCE_EXHAUSTED');
      assert.ok(closedAfter < 5000, 'the flood is cut within a few seconds');

      assert.ok(during.length >= 3, 'the calm connection was served during the flood');
      assert.ok(
        Math.max(...during) < 1000,
        `calm replies stay prompt: max ${Math.max(...during).toFixed(0)} ms`,
      );
      assert.ok(median(during) < Math.max(100, before * 10), 'the calm median stays near its baseline');
      assert.equal(calm.frames.filter(isError).length, 0);
      calm.send({ type: 'end' });
      assert.equal((await calm.closed).code, CloseCode.NORMAL);
    } finally {
      await gateway.app.close();
    }
  });
});

describe('timeouts', () => {
  let core: FakeCore;
  before(async () => {
    core = await startEchoCore();
  });
  after(() => core.stop());

  test('--idle-timeout: a silent connection gets DEADLINE_EXCEEDED and 4004, an active one stays open', async () => {
    const gateway = await startGateway(core.address, { 'idle-timeout': '300ms' });
    try {
      const idle = connect(gateway.wsUrl);
      const active = connect(gateway.wsUrl);
      await Promise.all([idle.opened, active.opened]);
      const openedAt = performance.now();
      const idleCall = core.calls.length - 2;
      let sent = 0;
      while (performance.now() - openedAt < 1500) {
        active.send(note(21, sent, `tick ${sent}`));
        sent += 1;
        await sleep(100);
      }
      const idleClosed = await Promise.race([idle.closed, sleep(3000).then(() => undefined)]);
      assert.deepEqual(idleClosed, { code: 4004, reason: 'DEADLINE_EXCEEDED' });
      const status = lastStatus(idle.frames);
      assert.ok(isStatus(status));
      assert.equal(status.name, 'DEADLINE_EXCEEDED');
      await until(
        () => core.calls.slice(idleCall).some((c) => c.cancelled),
        2000,
        'the idle call cancelled at the core',
      );

      assert.equal(active.ws.readyState, active.ws.OPEN, 'the active connection is still open');
      await active.waitForFrames(sent);
      assert.equal(active.frames.filter((f) => isStatus(f) || isError(f)).length, 0);
      active.send({ type: 'end' });
      assert.equal((await active.closed).code, CloseCode.NORMAL);
    } finally {
      await gateway.app.close();
    }
  });

  test('--max-stream-lifetime ends even a busy stream with DEADLINE_EXCEEDED and 4004', async () => {
    const gateway = await startGateway(core.address, { 'max-stream-lifetime': '600ms', 'idle-timeout': '0' });
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      const openedAt = performance.now();
      let i = 0;
      while (client.ws.readyState === client.ws.OPEN && performance.now() - openedAt < 4000) {
        client.send(note(22, i, `busy ${i}`));
        i += 1;
        await sleep(50);
      }
      const closed = await client.closed;
      const lifetime = performance.now() - openedAt;
      assert.deepEqual(closed, { code: 4004, reason: 'DEADLINE_EXCEEDED' });
      const status = lastStatus(client.frames);
      assert.ok(isStatus(status));
      assert.equal(status.name, 'DEADLINE_EXCEEDED');
      assert.match(status.message, /lifetime/);
      assert.ok(lifetime >= 550 && lifetime < 3000, `closed after ${lifetime.toFixed(0)} ms`);
      await until(() => gateway.upstream.stats().activeCalls === 0, 2000, 'the call released');
    } finally {
      await gateway.app.close();
    }
  });
});

describe('message sizes', () => {
  test('--max-frame-size: a frame of exactly the limit is relayed, one byte more closes with 1009, others unaffected', async () => {
    const core = await startEchoCore();
    const gateway = await startGateway(core.address, { 'max-frame-size': '1KiB' });
    try {
      const sized = (bytes: number) => {
        const bare = JSON.stringify(note(31, 1, ''));
        return JSON.stringify(note(31, 1, 'x'.repeat(bytes - bare.length)));
      };
      assert.equal(sized(1024).length, 1024);
      const bystander = connect(gateway.wsUrl);
      const fits = connect(gateway.wsUrl);
      const over = connect(gateway.wsUrl);
      await Promise.all([bystander.opened, fits.opened, over.opened]);
      fits.send(sized(1024));
      await fits.waitForFrames(1);
      over.send(sized(1025));
      assert.equal((await over.closed).code, CloseCode.MESSAGE_TOO_BIG);
      bystander.send(note(31, 2, 'still here'));
      await bystander.waitForFrames(1);
      for (const c of [bystander, fits]) c.send({ type: 'end' });
      assert.equal((await fits.closed).code, CloseCode.NORMAL);
      assert.equal((await bystander.closed).code, CloseCode.NORMAL);
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test("a note over the gateway's gRPC --max-message-size ends that call with RESOURCE_EXHAUSTED, 4008; others unaffected", async (t) => {
    const core = await startEchoCore();
    const gateway = await startGateway(core.address, { 'max-message-size': '1KiB' });
    try {
      const bystander = connect(gateway.wsUrl);
      const big = connect(gateway.wsUrl);
      await Promise.all([bystander.opened, big.opened]);
      const callsBefore = core.calls.length;
      big.send(note(32, 1, 'y'.repeat(2000)));
      const closed = await big.closed;
      const status = lastStatus(big.frames);
      assert.ok(isStatus(status), `a status frame: ${JSON.stringify(big.frames)}`);
      t.diagnostic(`gateway answered ${status.name}: ${status.message}`);
      assert.equal(status.name, 'RESOURCE_EXHAUSTED');
      assert.deepEqual(closed, { code: 4000 + status.code, reason: 'RESOURCE_EXHAUSTED' });
      assert.ok(
        core.calls.slice(callsBefore - 2).every((c) => c.received.every((n) => n.message.length < 2000)),
        'the oversized note never reached the core',
      );
      bystander.send(note(32, 2, 'small'));
      await bystander.waitForFrames(1);
      bystander.send({ type: 'end' });
      assert.equal((await bystander.closed).code, CloseCode.NORMAL);
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test("the core's own --max-message-size: a 4 KB note through the gateway gets the core's status as 4000 + code", async (t) => {
    const core = await spawnCore(['--max-message-size', '2KiB']);
    const gateway = await startGateway(core.address);
    try {
      const bystander = connect(gateway.wsUrl);
      const big = connect(gateway.wsUrl);
      await Promise.all([bystander.opened, big.opened]);
      big.send(note(33, 1, 'z'.repeat(4096)));
      const closed = await big.closed;
      const status = lastStatus(big.frames);
      assert.ok(isStatus(status), `a status frame: ${JSON.stringify(big.frames)}`);
      t.diagnostic(`core answered ${status.name}: ${status.message}`);
      assert.equal(status.name, 'RESOURCE_EXHAUSTED');
      assert.deepEqual(closed, { code: 4000 + status.code, reason: status.name });
      bystander.send(note(33, 2, 'small'));
      bystander.send(note(33, 2, 'again'));
      await bystander.waitForFrames(1);
      bystander.send({ type: 'end' });
      assert.equal((await bystander.closed).code, CloseCode.NORMAL);
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });
});
