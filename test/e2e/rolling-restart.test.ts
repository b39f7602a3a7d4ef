/**
 * Rolling restart, nothing lost: 20 library clients send notes continuously through a real
 * gateway process in front of a real core process. The core is restarted gracefully (SIGTERM, then
 * started again on the same port), then the gateway, then the core is killed (SIGKILL) and started
 * again. Afterwards every client is streaming again by itself, every refused note was resent and
 * confirmed, unknown fates stay within each client's in-flight window, and the notes confirmed by
 * the last core are read back from its store through RouteChat.
 *
 * The core's memory store starts empty after each restart, so the read-back covers the notes
 * confirmed since the last core start. test/scale/rolling-restart.test.ts runs the same restarts on
 * the deployment (HAProxy, two gateways, two cores on Redis) and reads back every confirmed note.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type SpawnedProcess, spawnTs } from '../helpers/core.js';
import { freePort } from '../helpers/gateway.js';
import { type NoteFleet, startNoteFleet } from '../helpers/note-fleet.js';

describe('rolling restart with 20 library clients (real processes)', () => {
  let corePort: number;
  let gatewayPort: number;
  let core: SpawnedProcess | undefined;
  let gateway: SpawnedProcess | undefined;
  let fleet: NoteFleet | undefined;

  const startCore = async () => {
    core = spawnTs('core-server/main.ts', [
      '--listen',
      `127.0.0.1:${corePort}`,
      '--metrics-listen',
      '127.0.0.1:0',
      '--shutdown-grace',
      '1s',
    ]);
    await core.waitForLog('core server listening', 30_000);
    return Date.now();
  };
  const startGateway = async () => {
    gateway = spawnTs('gateway/main.ts', [
      '--listen',
      `127.0.0.1:${gatewayPort}`,
      '--core',
      `127.0.0.1:${corePort}`,
      '--shutdown-grace',
      '2s',
    ]);
    await gateway.waitForLog('gateway listening', 30_000);
  };

  before(async () => {
    corePort = await freePort();
    gatewayPort = await freePort();
    await startCore();
    await startGateway();
  });
  after(async () => {
    fleet?.close();
    await gateway?.stop('SIGKILL');
    await core?.stop('SIGKILL');
  });

  test('core SIGTERM, gateway SIGTERM, core SIGKILL: every client back by itself, nothing silently lost', async () => {
    fleet = startNoteFleet({ url: `ws://127.0.0.1:${gatewayPort}/v1/routechat` });
    await fleet.allConfirmedSince(0, 'before any restart');

    // 1. The core, gracefully.
    await core!.stop('SIGTERM');
    let t = await startCore();
    await fleet.allConfirmedSince(t, 'after the core restart');

    // 2. The gateway, gracefully (it drains: refuses new frames, finishes the calls, closes 1001).
    await gateway!.stop('SIGTERM');
    await startGateway();
    t = Date.now();
    await fleet.allConfirmedSince(t, 'after the gateway restart');

    // 3. The core, killed.
    await core!.stop('SIGKILL');
    const lastCoreStart = await startCore();
    await fleet.allConfirmedSince(lastCoreStart, 'after the core was killed and started again');

    await fleet.stopSending();
    const totals = fleet.checkFates();
    // What the last core confirmed: its memory store lost everything before it started.
    const readBack = await fleet.readBack(lastCoreStart);
    process.stdout.write(`# rolling restart: ${JSON.stringify({ ...totals, readBack })}\n`);
    assert.ok(readBack > 0);
    await fleet.endAll();
  });
});
