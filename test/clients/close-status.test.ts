import assert from 'node:assert/strict';
import { test } from 'node:test';
import { statusForClose } from '../../clients/lib/index.js';

const nameFor = (closeCode: number, transportError?: string) =>
  statusForClose({ closeCode, closeReason: '', transportError }).name;

test('a 4000 + code close without a status frame means that gRPC status', () => {
  assert.equal(nameFor(4014), 'UNAVAILABLE');
  assert.equal(nameFor(4016), 'UNAUTHENTICATED');
  assert.equal(nameFor(1000), 'OK');
});

test('a dropped, refused or restarting connection is UNAVAILABLE', () => {
  for (const code of [1001, 1005, 1006, 1012, 1013, 1014]) assert.equal(nameFor(code), 'UNAVAILABLE');
});

test('a refused upgrade maps its HTTP status the way gRPC maps HTTP statuses', () => {
  assert.equal(nameFor(1006, 'Unexpected server response: 401'), 'UNAUTHENTICATED');
  assert.equal(nameFor(1006, 'Unexpected server response: 403'), 'PERMISSION_DENIED');
  assert.equal(nameFor(1006, 'Unexpected server response: 503'), 'UNAVAILABLE');
});

test('too big is RESOURCE_EXHAUSTED; anything else is UNKNOWN with the close reason kept', () => {
  assert.equal(nameFor(1009), 'RESOURCE_EXHAUSTED');
  const status = statusForClose({ closeCode: 1011, closeReason: 'boom' });
  assert.deepEqual(status, { code: 2, name: 'UNKNOWN', message: 'boom', metadata: {} });
});
