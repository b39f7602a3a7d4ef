/**
 * Rolling restart of the deployment, nothing silently lost (issue 11 on the scale-out of issue 10):
 * 20 library clients (RouteChatSocket with reconnect) send notes continuously through HAProxy → two
 * gateways → two cores on Redis (test/helpers/deployment.ts). Core A is restarted gracefully
 * (SIGTERM, then started again on its port), then gateway 1, then core B is killed (SIGKILL) and
 * started again. Afterwards every client is streaming again by itself, every refused note was
 * resent and confirmed, unknown fates stay within each client's in-flight window (and are
 * reported), and every confirmed note is read back through RouteChat: Redis keeps the notes across
 * every core restart, so all of them, not only those since the last one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Deployment, deploymentSkip, startDeployment } from '../helpers/deployment.js';
import { type NoteFleet, startNoteFleet } from '../helpers/note-fleet.js';

describe('rolling restart of the deployment with 20 library clients', { skip: deploymentSkip }, () => {
  let deployment: Deployment;
  let fleet: NoteFleet | undefined;

  before(async () => {
    deployment = await startDeployment({ keyPrefix: `rolling-${process.pid}:` });
  });
  after(async () => {
    fleet?.close();
    await deployment?.stop();
  });

  test('core A SIGTERM, gateway 1 SIGTERM, core B SIGKILL: every client back by itself, every confirmed note in Redis', async () => {
    fleet = startNoteFleet({ url: deployment.url });
    await fleet.allConfirmedSince(0, 'before any restart');
    const [coreA, coreB] = deployment.cores;
    const [gateway1] = deployment.gateways;
    const reconnected: Record<string, number> = {};
    const brokenBy: Record<string, Record<string, number>> = {};

    // 1. Core A, gracefully: its streams end UNAVAILABLE, their clients come back through core B.
    let t = Date.now();
    assert.equal((await coreA.stop('SIGTERM')).code, 0);
    await coreA.start();
    await fleet.allConfirmedSince(Date.now(), 'after core A restarted');
    await deployment.waitForCoreInRotation(coreA);
    reconnected['core A SIGTERM'] = fleet.reconnectedSince(t);
    brokenBy['core A SIGTERM'] = fleet.brokenBetween(t);

    // 2. Gateway 1, gracefully: it fails /readyz, closes its sockets 1001; HAProxy sends them to 2.
    t = Date.now();
    assert.equal((await gateway1.stop('SIGTERM')).code, 0);
    await gateway1.start();
    await fleet.allConfirmedSince(Date.now(), 'after gateway 1 restarted');
    reconnected['gateway 1 SIGTERM'] = fleet.reconnectedSince(t);
    brokenBy['gateway 1 SIGTERM'] = fleet.brokenBetween(t);
    await deployment.waitForGateways('UP');
    await Promise.all(deployment.cores.map((core) => deployment.waitForCoreInRotation(core)));
    const streamsBeforeKill = await Promise.all(deployment.cores.map((core) => core.routeChats()));

    // 3. Core B, killed.
    t = Date.now();
    await coreB.stop('SIGKILL');
    await coreB.start();
    await fleet.allConfirmedSince(Date.now(), 'after core B was killed and started again');
    await deployment.waitForCoreInRotation(coreB);
    reconnected['core B SIGKILL'] = fleet.reconnectedSince(t);
    brokenBy['core B SIGKILL'] = fleet.brokenBetween(t);

    await fleet.stopSending();
    const totals = fleet.checkFates();
    const readBack = await fleet.readBack();
    // Redis commands per stored note, for docs/scaling.md: every note and probe is one append.
    const redisCalls = Object.fromEntries(
      [...(await deployment.redis.cli('INFO', 'commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map(
        (m) => [m[1], Number(m[2])],
      ),
    );
    process.stdout.write(
      `# rolling restart of the deployment: ${JSON.stringify({ ...totals, readBack, reconnected, brokenBy, streamsBeforeKill, redisCalls })}\n`,
    );
    for (const [step, clients] of Object.entries(reconnected))
      assert.ok(clients > 0, `${step} made some clients reconnect`);
    // Core A was back in rotation: clients that reconnected after its restart landed on it too.
    assert.ok(
      streamsBeforeKill.every((n) => n > 0),
      `streams on both cores before core B was killed: ${streamsBeforeKill}`,
    );
    assert.equal(readBack, totals.confirmed, 'every confirmed note was read back');
    await fleet.endAll();
  });
});
