/**
 * One channel pool per gateway (gateway/upstream/channel-pool.ts): v1's RouteChat calls and v2's
 * calls share its connections, its stats and its rapid-reset retirement. A real gateway in front of
 * an echoing fake core, real v1 and v2 WebSocket clients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RouteNote__Output } from '../../proto/index.js';
import {
  connect,
  type FakeCore,
  note,
  type RunningGateway,
  startFakeCore,
  startGateway,
  until,
} from '../helpers/gateway.js';
import { connectV2, v2Url } from '../helpers/v2.js';

const CHAT = 'routeguide.RouteGuide/RouteChat';

let core: FakeCore;
let gateway: RunningGateway;

before(async () => {
  core = await startFakeCore((call) => {
    call.on('data', (n: RouteNote__Output) => call.write(n));
    call.on('end', () => call.end());
  });
  // 400 streams a channel: a channel is retired below 800 resets left (of nghttp2's 1000), so ~200
  // cancels retire it, and the cancelled calls still in flight never reach the cap that opens a channel.
  gateway = await startGateway(core.address, { 'rate-limit': 0, 'max-streams-per-channel': 400 });
});
after(async () => {
  await gateway.app.close();
  await core.stop();
});

describe('one channel pool for v1 and v2', () => {
  test('a v1 call and a v2 call share one channel to the core and one set of stats', async () => {
    const v1 = connect(gateway.wsUrl);
    const v2 = connectV2(v2Url(gateway.port));
    try {
      await Promise.all([v1.opened, v2.opened]);
      v1.send(note(1, 2, 'v1'));
      await v1.waitForFrames(1);
      v2.send({ type: 'open', id: 'a', method: CHAT });
      v2.send({ type: 'message', id: 'a', message: { message: 'v2' } });
      await v2.until((f) => f.some((x) => x.type === 'message' && x.id === 'a'), 10_000, 'the echo');
      assert.deepEqual(gateway.upstream.stats(), { channels: 1, activeCalls: 2 });
    } finally {
      v1.ws.close();
      v2.ws.close();
    }
    await until(() => gateway.upstream.stats().activeCalls === 0, 5000, 'both calls released');
  });

  test("v2 cancels spend the channel's rapid-reset allowance: the channel is retired and new calls get a new one", async () => {
    const held = connect(gateway.wsUrl);
    const v2 = connectV2(v2Url(gateway.port));
    try {
      await Promise.all([held.opened, v2.opened]);
      // A v1 call keeps the first channel open once it is retired.
      held.send(note(1, 2, 'held'));
      await held.waitForFrames(1);
      assert.equal(gateway.upstream.stats().channels, 1);
      const cancels = 300;
      for (let i = 0; i < cancels; i += 1) {
        v2.send({ type: 'open', id: `c${i}`, method: CHAT });
        v2.send({ type: 'cancel', id: `c${i}` });
      }
      await v2.status(`c${cancels - 1}`, 20_000);
      v2.send({ type: 'open', id: 'after', method: CHAT });
      v2.send({ type: 'message', id: 'after', message: { message: 'fresh' } });
      await v2.until((f) => f.some((x) => x.type === 'message' && x.id === 'after'), 10_000, 'the echo');
      await until(() => gateway.upstream.stats().activeCalls === 2, 5000, 'the cancelled calls released');
      assert.deepEqual(gateway.upstream.stats(), { channels: 2, activeCalls: 2 });
    } finally {
      held.ws.close();
      v2.ws.close();
    }
  });
});
