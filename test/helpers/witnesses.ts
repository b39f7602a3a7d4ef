/**
 * Other clients of a gateway under attack: a v1 RouteChat and, on v2, a Watch and a RouteChat. They
 * prove that an attack cost the attacker only.
 */
import assert from 'node:assert/strict';
import { connect } from './gateway.js';
import type { SpawnedGateway } from './hardening.js';
import { CHAT, openWatch } from './live.js';
import { connectV2 } from './v2.js';

/** A rectangle around the dataset's features (E7 degrees). */
export const AROUND_US = {
  lo: { lat: 400_000_000, lng: -750_000_000 },
  hi: { lat: 420_000_000, lng: -730_000_000 },
};

export interface Witnesses {
  /** Each witness's stream still answers, and none has ended. */
  stillServed(): Promise<void>;
  close(): void;
}

/** A witness on v1 and one on v2 (a Watch and a RouteChat): proves another client's streams go on. */
export async function witnesses(gateway: SpawnedGateway): Promise<Witnesses> {
  const v1 = connect(gateway.wsUrl);
  const v2 = connectV2(`ws://${gateway.address}/v2`);
  await Promise.all([v1.opened, v2.opened]);
  const place = { latitude: 1 + Math.floor(Math.random() * 1e8), longitude: 3 };
  v1.send({ location: place, message: 'v1 first' });
  openWatch(v2, 'watch', AROUND_US.lo, AROUND_US.hi);
  v2.send({ type: 'open', id: 'chat', method: CHAT });
  v2.send({ type: 'message', id: 'chat', message: { location: place, message: 'v2 first' } });
  await v2.until((f) => f.some((x) => x.type === 'message' && x.id === 'chat'), 10_000, 'v2 chat echo');
  return {
    async stillServed() {
      const v1Before = v1.frames.length;
      v1.send({ location: place, message: 'v1 again' });
      await v1.waitForFrames(v1Before + 1);
      const chatBefore = v2.messages('chat').length;
      v2.send({ type: 'message', id: 'chat', message: { location: place, message: 'v2 again' } });
      await v2.until((f) => f.filter((x) => x.type === 'message' && x.id === 'chat').length > chatBefore);
      assert.equal(v2.frames.filter((f) => f.type === 'status').length, 0, 'no witness stream ended');
      assert.ok(!v1.frames.some((f) => 'type' in f && f.type === 'status'), 'the v1 stream did not end');
    },
    close() {
      v1.ws.close();
      v2.ws.close();
    },
  };
}
