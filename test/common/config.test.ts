import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseOptions, readRawOptions } from '../../common/cli-options.js';
import { coreConfigSchema, coreOptionSpecs } from '../../core-server/config.js';
import {
  checkGatewayConfig,
  defaultGatewayConfig,
  gatewayConfigSchema,
  gatewayOptionSpecs,
} from '../../gateway/config.js';

describe('configuration', () => {
  test('every setting of the core and the gateway has a flag, an env variable and help text', () => {
    for (const [schema, specs] of [
      [coreConfigSchema, coreOptionSpecs],
      [gatewayConfigSchema, gatewayOptionSpecs],
    ] as const) {
      assert.deepEqual(Object.keys(schema.shape).sort(), Object.keys(specs).sort());
    }
  });

  test('flags win over environment variables, which win over defaults', () => {
    const { raw } = readRawOptions(gatewayOptionSpecs, ['--listen', '127.0.0.1:9000'], {
      GATEWAY_LISTEN: '127.0.0.1:9001',
      GATEWAY_CORE: '127.0.0.1:9002',
    });
    const config = parseOptions(gatewayConfigSchema, raw, gatewayOptionSpecs);
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 9000 });
    assert.deepEqual(config.core, [{ host: '127.0.0.1', port: 9002 }]);
    assert.equal(config['max-frame-size'], 64 * 1024);
  });

  test('sizes and durations take units; bad values are one-line errors naming the flag', () => {
    const config = defaultGatewayConfig({ 'max-frame-size': '2KiB', 'heartbeat-interval': '1.5s' });
    assert.equal(config['max-frame-size'], 2048);
    assert.equal(config['heartbeat-interval'], 1500);
    assert.throws(
      () => parseOptions(gatewayConfigSchema, { 'heartbeat-interval': 'soon' }, gatewayOptionSpecs),
      (e: unknown) =>
        e instanceof ConfigError &&
        /^invalid --heartbeat-interval \(GATEWAY_HEARTBEAT_INTERVAL\)/.test(e.message),
    );
  });

  test('options that only make sense together are checked together', () => {
    assert.match(
      checkGatewayConfig(defaultGatewayConfig({ 'tls-cert': 'c.pem' })) ?? '',
      /--tls-cert and --tls-key/,
    );
    assert.equal(checkGatewayConfig(defaultGatewayConfig()), undefined);
  });

  test('--forward-headers refuses a header HTTP/2 forbids, naming it', () => {
    for (const name of ['Connection', 'upgrade', 'te'])
      assert.throws(
        () =>
          parseOptions(
            gatewayConfigSchema,
            { 'forward-headers': `x-request-id,${name}` },
            gatewayOptionSpecs,
          ),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.message.includes('--forward-headers') &&
          e.message.includes(`${name.toLowerCase()} cannot be sent over HTTP/2`),
      );
  });
});
