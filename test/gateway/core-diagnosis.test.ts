/** Why no core serves, in one reason and one sentence: the pure rules of gateway/upstream/core-diagnosis.ts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CoreReport,
  describeCores,
  noCoreReason,
  targetAddresses,
} from '../../gateway/upstream/core-diagnosis.js';

const storeDown = (address: string): CoreReport => ({ address, condition: { kind: 'note_store_down' } });
const unreachable = (address: string): CoreReport => ({
  address,
  condition: { kind: 'unreachable', detail: 'UNAVAILABLE: connect ECONNREFUSED' },
});

test('the reason is the store only when every core reached has its store down', () => {
  assert.equal(noCoreReason([storeDown('a:1'), storeDown('b:2')]), 'note_store_down');
  // A core that cannot be reached says nothing against the store being the cause.
  assert.equal(noCoreReason([storeDown('a:1'), unreachable('b:2')]), 'note_store_down');
  assert.equal(
    noCoreReason([storeDown('a:1'), { address: 'b:2', condition: { kind: 'not_serving' } }]),
    'core_not_serving',
  );
  assert.equal(noCoreReason([unreachable('a:1'), unreachable('b:2')]), 'core_unavailable');
  assert.equal(noCoreReason([]), 'core_unavailable');
});

test('the sentence says no core is serving and names every core with its own cause', () => {
  assert.equal(
    describeCores([storeDown('10.0.0.7:50051'), unreachable('10.0.0.8:50051')]),
    'no core is serving: 10.0.0.7:50051 not serving: its note store is down; 10.0.0.8:50051 unreachable (UNAVAILABLE: connect ECONNREFUSED)',
  );
});

test('a list target is asked core by core, each as written in --core; a name as itself', () => {
  assert.deepEqual(targetAddresses('ipv4:127.0.0.1:5001,127.0.0.1:5002'), [
    { address: '127.0.0.1:5001', target: 'ipv4:127.0.0.1:5001' },
    { address: '127.0.0.1:5002', target: 'ipv4:127.0.0.1:5002' },
  ]);
  assert.deepEqual(targetAddresses('ipv6:[::1]:5001,[::1]:5002'), [
    { address: '[::1]:5001', target: 'ipv6:[::1]:5001' },
    { address: '[::1]:5002', target: 'ipv6:[::1]:5002' },
  ]);
  assert.deepEqual(targetAddresses('cores.internal:50051'), [
    { address: 'cores.internal:50051', target: 'cores.internal:50051' },
  ]);
});
