import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { z } from 'zod';
import { routechatConfigSchema, routechatOptionSpecs } from '../../clients/cli/config.js';
import { grpcClientConfigSchema, grpcClientOptionSpecs } from '../../clients/grpc/config.js';
import {
  ConfigError,
  helpText,
  type OptionSpecs,
  parseOptions,
  readRawOptions,
  shownDefault,
} from '../../common/cli-options.js';
import { coreConfigSchema, coreOptionSpecs } from '../../core-server/config.js';
import {
  checkGatewayConfig,
  defaultGatewayConfig,
  gatewayConfigSchema,
  gatewayOptionSpecs,
} from '../../gateway/config.js';

/** Every program that takes options, as its main.ts hands them to helpText and parseOptions. */
const PROGRAMS: readonly [string, OptionSpecs, z.ZodType<Readonly<Record<string, unknown>>>][] = [
  ['routeguide-core', coreOptionSpecs, coreConfigSchema],
  ['routeguide-gateway', gatewayOptionSpecs, gatewayConfigSchema],
  ['routechat', routechatOptionSpecs, routechatConfigSchema],
  ['routeguide-client', grpcClientOptionSpecs, grpcClientConfigSchema],
];

describe('configuration', () => {
  test('every default parses with its own schema when the option is absent, and --help shows it', () => {
    for (const [program, specs, schema] of PROGRAMS) {
      const help = helpText(program, '', specs).split('\n');
      // Parsing no options parses every default text; one its schema refuses throws, naming its flag.
      const absent = parseOptions(schema, readRawOptions(specs, [], {}).raw, specs);
      for (const [flag, spec] of Object.entries(specs)) {
        const where = `${program} --${flag}`;
        assert.ok(spec.default === undefined || spec.defaultNote === undefined, `${where}: one default`);
        const shown = shownDefault(spec);
        const line = help.find((l) => l.startsWith(`  --${flag} `)) ?? '';
        if (shown === undefined) {
          assert.doesNotMatch(line, /\(default: /, where);
          // No default --help keeps quiet about: absent is undefined, or off for a boolean flag.
          assert.equal(absent[flag], spec.type === 'boolean' ? false : undefined, where);
        } else assert.ok(line.includes(`(default: ${shown}) [env ${spec.env}]`), `${where}: ${line}`);
      }
    }
  });

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
