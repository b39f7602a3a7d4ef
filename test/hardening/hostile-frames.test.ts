/** The attacker's side of the relay: hostile frames against a real gateway and a real core. */
import { describe, test } from 'node:test';
import { startCore } from '../helpers/core.js';
import { startGateway } from '../helpers/gateway.js';
import { assertHostileFramesLoseNothing, HOSTILE_GATEWAY_OPTIONS } from '../helpers/hostile-frames.js';

describe('hostile frames', () => {
  test('each hostile frame (odd numbers, lone surrogates, junk, duplicate and forbidden keys, binary) gets one error frame or is accepted; nothing else is lost', async () => {
    const core = await startCore();
    const gateway = await startGateway(core.address, HOSTILE_GATEWAY_OPTIONS);
    try {
      await assertHostileFramesLoseNothing(gateway.wsUrl);
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });
});
