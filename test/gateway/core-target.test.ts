/** `--core` with one or several cores: the gRPC target grpc-js resolves, and the lists it cannot. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseOptions } from '../../common/cli-options.js';
import { checkGatewayConfig, gatewayConfigSchema, gatewayOptionSpecs } from '../../gateway/config.js';
import { coreTarget } from '../../gateway/upstream/index.js';

const parse = (core: string) => parseOptions(gatewayConfigSchema, { core }, gatewayOptionSpecs);

describe('--core', () => {
  test('one address, a name included, is passed to grpc-js as is (DNS gives every record)', () => {
    assert.deepEqual(coreTarget(parse('cores.internal:50051').core), {
      ok: true,
      target: 'cores.internal:50051',
    });
  });

  test('a list of IPv4 or IPv6 addresses becomes a static ipv4:/ipv6: target', () => {
    assert.deepEqual(coreTarget(parse('127.0.0.1:5001, 127.0.0.1:5002').core), {
      ok: true,
      target: 'ipv4:127.0.0.1:5001,127.0.0.1:5002',
    });
    assert.deepEqual(coreTarget(parse('[::1]:5001,[::1]:5002').core), {
      ok: true,
      target: 'ipv6:[::1]:5001,[::1]:5002',
    });
  });

  test('a list of names or of mixed families is a configuration error', () => {
    for (const core of ['core1:50051,core2:50051', '127.0.0.1:5001,[::1]:5002']) {
      assert.match(
        checkGatewayConfig(parse(core)) ?? '',
        /^invalid --core: a list of cores takes IP addresses/,
      );
    }
    assert.equal(checkGatewayConfig(parse('127.0.0.1:5001,127.0.0.1:5002')), undefined);
  });

  test('a bad entry names the flag', () => {
    assert.throws(
      () => parse('127.0.0.1:5001,nonsense'),
      (e: unknown) => e instanceof ConfigError && /^invalid --core \(GATEWAY_CORE\)/.test(e.message),
    );
    assert.throws(() => parse(' , '), ConfigError);
  });
});
