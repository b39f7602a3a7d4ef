/** The upgrade rules as a pure function (gateway/upgrade-policy.ts); the wire tests are in test/hardening/upgrade-requests.test.ts. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type UpgradeRequest,
  upgradeRefusal,
  WEBSOCKET_PATHS,
} from '../../gateway/admission/upgrade-policy.js';
import { ROUTECHAT_PATH } from '../../protocol/index.js';
import { V2_PATH } from '../../protocol/v2/index.js';

const valid: UpgradeRequest = {
  method: 'GET',
  url: ROUTECHAT_PATH,
  httpVersionMajor: 1,
  httpVersionMinor: 1,
  headers: {
    host: '127.0.0.1:8080',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
    'sec-websocket-protocol': 'routechat.v1, bearer.abc',
  },
};
const withHeaders = (headers: UpgradeRequest['headers']): UpgradeRequest => ({
  ...valid,
  headers: { ...valid.headers, ...headers },
});
const reason = (request: UpgradeRequest, paths?: readonly string[]) => upgradeRefusal(request, paths)?.error;

describe('upgradeRefusal', () => {
  test('a valid opening handshake to a WebSocket path passes', () => {
    assert.ok(WEBSOCKET_PATHS.includes(ROUTECHAT_PATH));
    assert.equal(upgradeRefusal(valid), undefined);
    assert.equal(upgradeRefusal({ ...valid, url: `${ROUTECHAT_PATH}?a=1` }), undefined);
  });

  test('the path is checked first and exactly; another endpoint is one more list entry', () => {
    for (const url of [
      '/',
      '/V1/ROUTECHAT',
      `${ROUTECHAT_PATH}/`,
      `/${ROUTECHAT_PATH}`,
      '/v1/%72outechat',
      undefined,
    ]) {
      assert.equal(reason({ ...valid, url, method: 'POST' }), 'not_found', String(url));
    }
    assert.equal(reason({ ...valid, url: '/v3' }), 'not_found');
    assert.equal(reason({ ...valid, url: '/v3' }, [...WEBSOCKET_PATHS, '/v3']), undefined);
    assert.equal(reason({ ...valid, url: V2_PATH }), undefined);
  });

  test('each malformed handshake has its refusal', () => {
    assert.equal(reason({ ...valid, method: 'POST' }), 'bad_handshake');
    assert.equal(reason({ ...valid, httpVersionMinor: 0 }), 'bad_handshake');
    assert.equal(reason(withHeaders({ host: undefined })), 'bad_handshake');
    assert.equal(reason(withHeaders({ 'content-length': '1' })), 'bad_handshake');
    assert.equal(reason(withHeaders({ 'content-length': '0' })), undefined);
    assert.equal(reason(withHeaders({ 'transfer-encoding': 'chunked' })), 'bad_handshake');
    assert.equal(reason(withHeaders({ upgrade: 'h2c' })), 'upgrade_required');
    assert.equal(reason(withHeaders({ upgrade: 'WebSocket' })), undefined);
    assert.equal(reason(withHeaders({ connection: 'keep-alive' })), 'bad_handshake');
    assert.equal(reason(withHeaders({ 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ' })), 'bad_handshake');
    assert.equal(reason(withHeaders({ 'sec-websocket-key': ['a', 'b'] })), 'bad_handshake');
    const version = upgradeRefusal(withHeaders({ 'sec-websocket-version': '8' }));
    assert.equal(version?.statusCode, 426);
    assert.deepEqual(version?.headers, { 'sec-websocket-version': '13' });
    assert.equal(reason(withHeaders({ 'sec-websocket-protocol': 'a b' })), 'bad_subprotocol');
    assert.equal(reason(withHeaders({ 'sec-websocket-protocol': 'a,a' })), 'bad_subprotocol');
    assert.equal(reason(withHeaders({ 'sec-websocket-protocol': 'x'.repeat(5000) })), 'bad_subprotocol');
    assert.equal(reason(withHeaders({ 'sec-websocket-protocol': undefined })), undefined);
  });
});
