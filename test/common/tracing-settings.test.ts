import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../common/cli-options.js';
import { tracingSettings } from '../../common/tracing.js';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };

describe('tracing settings from OTEL_* variables', () => {
  test('tracing is off without an endpoint, whatever else is set', () => {
    const settings = tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SERVICE_NAME: 'x' });
    assert.equal(settings.enabled, false);
  });

  test('either endpoint variable turns it on, with http/protobuf by default', () => {
    assert.deepEqual(tracingSettings(ENDPOINT), {
      enabled: true,
      exporters: ['otlp'],
      protocol: 'http/protobuf',
    });
    const traces = tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' });
    assert.equal(traces.enabled, true);
  });

  test('the traces protocol wins over the general one', () => {
    const settings = tracingSettings({
      ...ENDPOINT,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    });
    assert.ok(settings.enabled && settings.protocol === 'http/json');
  });

  test('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn it off with an endpoint', () => {
    assert.equal(tracingSettings({ ...ENDPOINT, OTEL_SDK_DISABLED: 'true' }).enabled, false);
    assert.equal(tracingSettings({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }).enabled, false);
  });

  test('several exporters, once each', () => {
    const settings = tracingSettings({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'otlp, console,otlp' });
    assert.ok(settings.enabled);
    assert.deepEqual(settings.exporters, ['otlp', 'console']);
  });

  test('an unknown exporter or protocol is a configuration error naming the variable', () => {
    assert.throws(
      () => tracingSettings({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'zipkin' }),
      (error: unknown) => error instanceof ConfigError && /OTEL_TRACES_EXPORTER.*zipkin/.test(error.message),
    );
    assert.throws(
      () => tracingSettings({ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml' }),
      (error: unknown) => error instanceof ConfigError && /OTEL_EXPORTER_OTLP_PROTOCOL/.test(error.message),
    );
  });
});
