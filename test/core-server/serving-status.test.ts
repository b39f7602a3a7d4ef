import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HealthImplementation } from 'grpc-health-check';
import { createServingStatus } from '../../core-server/serving-status.js';

function fakeHealth() {
  const statuses = new Map<string, string>();
  const health = { setStatus: (service: string, status: string) => statuses.set(service, status) };
  return { health: health as unknown as HealthImplementation, statuses };
}

test('SERVING only while no cause holds it down; one cause clearing does not undo another', () => {
  const { health, statuses } = fakeHealth();
  const serving = createServingStatus(health, ['', 'routeguide.RouteGuide']);
  assert.deepEqual(
    [...statuses],
    [
      ['', 'SERVING'],
      ['routeguide.RouteGuide', 'SERVING'],
    ],
  );
  serving.hold('note-store', true);
  assert.equal(statuses.get(''), 'NOT_SERVING');
  assert.equal(statuses.get('routeguide.RouteGuide'), 'NOT_SERVING');
  serving.hold('draining', true);
  serving.hold('note-store', false);
  assert.equal(statuses.get(''), 'NOT_SERVING', 'the store came back during a drain: still NOT_SERVING');
  assert.equal(serving.serving, false);
  serving.hold('draining', false);
  assert.equal(statuses.get(''), 'SERVING');
  assert.equal(serving.serving, true);
});
