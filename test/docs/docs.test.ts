import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CLOSE_CODE_MEANINGS, REJECT_REASONS, STATUS_NAMES, StatusCode } from '../../protocol/index.js';
import { renderAsyncApi } from '../../scripts/asyncapi.js';
import { OPERATIONS_SECTIONS, PROTOCOL_SECTIONS, renderSections } from '../../scripts/doc-sections.js';
import { REPO_ROOT } from '../helpers/core.js';

const read = (path: string) => readFileSync(`${REPO_ROOT}${path}`, 'utf8');

describe('generated documentation', () => {
  test('docs/asyncapi.json is current with the zod schemas (run npm run docs)', () => {
    assert.equal(read('docs/asyncapi.json'), renderAsyncApi());
  });

  test('the generated tables of docs/protocol.md and docs/operations.md are current (run npm run docs)', () => {
    const protocol = read('docs/protocol.md');
    assert.equal(protocol, renderSections(protocol, PROTOCOL_SECTIONS));
    const operations = read('docs/operations.md');
    assert.equal(operations, renderSections(operations, OPERATIONS_SECTIONS));
  });

  test('every metric the gateway and the core export is documented in docs/operations.md', async () => {
    const { createGatewayMetrics } = await import('../../gateway/observe/metrics.js');
    const { createCoreMetrics } = await import('../../core-server/metrics.js');
    const doc = read('docs/operations.md');
    for (const registry of [createGatewayMetrics().registry, createCoreMetrics().registry]) {
      for (const metric of await registry.getMetricsAsJSON()) {
        if (metric.name.startsWith('routeguide_')) assert.ok(doc.includes(`\`${metric.name}\``), metric.name);
      }
    }
  });

  test('every close code, status and rejection reason of the protocol module is documented', () => {
    const doc = read('docs/protocol.md');
    for (const code of Object.keys(CLOSE_CODE_MEANINGS))
      assert.ok(doc.includes(`| ${code} |`), `close code ${code}`);
    for (const name of STATUS_NAMES) {
      assert.ok(doc.includes(`\`${name}\``), `status ${name}`);
      if (name !== 'OK') assert.ok(doc.includes(`| ${4000 + StatusCode[name]} |`), `close code for ${name}`);
    }
    for (const reason of REJECT_REASONS) assert.ok(doc.includes(`\`${reason}\``), `reason ${reason}`);
  });

  test('the AsyncAPI document describes every frame of the contract', () => {
    const doc = JSON.parse(read('docs/asyncapi.json')) as {
      asyncapi: string;
      channels: { routechat: { address: string; messages: Record<string, unknown> } };
    };
    assert.equal(doc.asyncapi, '3.0.0');
    assert.equal(doc.channels.routechat.address, '/v1/routechat');
    assert.deepEqual(Object.keys(doc.channels.routechat.messages).sort(), [
      'end',
      'error',
      'note',
      'routeNote',
      'status',
    ]);
  });
});
