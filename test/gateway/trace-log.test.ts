import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { traceLogFields } from '../../gateway/observe/trace-log.js';

describe('trace log fields', () => {
  test("a call's traceparent gives its trace_id and span_id", () => {
    assert.deepEqual(
      traceLogFields({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }),
      { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' },
    );
  });

  test('no traceparent, or a malformed one, gives no fields', () => {
    assert.equal(traceLogFields({}), undefined);
    assert.equal(traceLogFields({ traceparent: '00-xyz-00f067aa0ba902b7-01' }), undefined);
  });
});
