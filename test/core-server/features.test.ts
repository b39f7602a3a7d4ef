import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  createFeatureIndex,
  DEFAULT_FEATURE_DB,
  FeatureDbError,
  loadFeatures,
} from '../../core-server/features.js';

const dir = mkdtempSync(join(tmpdir(), 'features-'));
const fileWith = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

describe('feature database', () => {
  test('the bundled database has the canonical 100 features, 64 of them named', () => {
    const features = loadFeatures(DEFAULT_FEATURE_DB);
    assert.equal(features.length, 100);
    assert.equal(features.filter((f) => f.name !== '').length, 64);
  });

  test('a missing file is an error naming the file', () => {
    assert.throws(
      () => loadFeatures(join(dir, 'nope.json')),
      (e: unknown) => e instanceof FeatureDbError && /nope\.json: no such file/.test(e.message),
    );
  });

  test('invalid JSON is an error naming the file and the problem', () => {
    const file = fileWith('broken.json', '[{"name": ');
    assert.throws(
      () => loadFeatures(file),
      (e: unknown) =>
        e instanceof FeatureDbError && e.message.includes(file) && /not valid JSON/.test(e.message),
    );
  });

  test('a wrongly shaped entry is an error naming where it is', () => {
    const file = fileWith(
      'shape.json',
      '[{"name":"a","location":{"latitude":1,"longitude":2}},{"name":"b","location":{"latitude":"x"}}]',
    );
    assert.throws(
      () => loadFeatures(file),
      (e: unknown) => e instanceof FeatureDbError && /at 1\.location\.latitude/.test(e.message),
    );
  });

  test('the index finds named features only', () => {
    const index = createFeatureIndex([
      { name: '', location: { latitude: 1, longitude: 1 } },
      { name: 'Named', location: { latitude: 2, longitude: 2 } },
    ]);
    assert.equal(index.namedAt({ latitude: 1, longitude: 1 }), undefined);
    assert.equal(index.namedAt({ latitude: 2, longitude: 2 })?.name, 'Named');
  });
});
