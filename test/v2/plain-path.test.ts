/**
 * The codec's plain path (gateway/methods/plain-path.ts) gives exactly what
 * @bufbuild/protobuf gives: request bytes equal fromJson+toBinary for every value json-check
 * accepts; response JSON text (keys in the same order) equals fromBinary+toJson for encoded values,
 * for bytes as the grpc-js core writes them, and for random or damaged bytes (or the bytes are left
 * to the library, which decodes them or throws as before).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type DescMessage, fromBinary, fromJson, type JsonValue, toBinary, toJson } from '@bufbuild/protobuf';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { registryFromProtoFiles } from '../../gateway/methods/descriptors.js';
import { createCodec } from '../../gateway/methods/index.js';
import { checkMessageJson } from '../../gateway/methods/json-check.js';
import { plainPath, takesPlainPath } from '../../gateway/methods/plain-path.js';
import { REPO_ROOT } from '../helpers/core.js';

const KITCHEN = `${REPO_ROOT}test/fixtures/kitchen_sink.proto`;
const ROUTE_GUIDE = `${REPO_ROOT}proto/route_guide.proto`;
const registry = registryFromProtoFiles([KITCHEN, ROUTE_GUIDE]);
const message = (name: string): DescMessage => {
  const desc = registry.getMessage(name);
  assert.ok(desc, name);
  return desc;
};
const plain = message('kitchen.v1.Plain');
const routeNote = message('routeguide.RouteNote');
const point = message('routeguide.Point');
const rectangle = message('routeguide.Rectangle');
const feature = message('routeguide.Feature');
const summary = message('routeguide.RouteSummary');

// What the grpc-js core and test servers write: protobufjs through proto-loader, every set field on the wire.
const pbjsRoot = protobuf.loadSync([KITCHEN, ROUTE_GUIDE]);
const writtenByGrpcJs = (desc: DescMessage, json: unknown): Uint8Array => {
  const type = pbjsRoot.lookupType(desc.typeName);
  return type.encode(type.fromObject(json as Record<string, unknown>)).finish();
};

const readOptions = { registry };
const writeOptions = { alwaysEmitImplicit: true, registry };
const libraryBytes = (desc: DescMessage, json: unknown) =>
  Buffer.from(toBinary(desc, fromJson(desc, json as JsonValue, readOptions)));
const libraryText = (desc: DescMessage, bytes: Uint8Array): string | Error => {
  try {
    return JSON.stringify(toJson(desc, fromBinary(desc, bytes), writeOptions));
  } catch (error) {
    return error as Error;
  }
};

// ---- generated proto3 JSON, loose on purpose: json-check decides what is a request ----
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const intJson = (arb: fc.Arbitrary<number>) =>
  fc.oneof(
    arb,
    arb.map(String),
    fc.constantFrom(0, -0, '0', '-0', '007', 1.0, 1.5, '1e2', 2 ** 32, -(2 ** 31) - 1, ''),
  );
const doubleJson = fc.oneof(
  fc.double(),
  fc.double().map((d) => (Number.isFinite(d) ? d : String(d))),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.constantFrom(0, -0, '-0', 'NaN', 'Infinity', '-Infinity', '1.', '.5', '1e5', '1E-3', ' 1', '', 'x'),
);
const floatJson = fc.oneof(
  fc.float({ noNaN: true, noDefaultInfinity: true }),
  fc.float().map((f) => (Number.isFinite(f) ? f : String(f))),
  fc.constantFrom(3.4028234663852886e38, 3.4028235e38, 1e-50, -1e-50, 1e39, 'NaN', '-0'),
  doubleJson,
);
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }), // lone surrogates too: json-check refuses them
  fc.string({ minLength: 100, maxLength: 300 }),
  fc.constant(''),
);
const enumJson = (names: readonly string[]) =>
  fc.oneof(fc.constantFrom(...names), intJson(int32), fc.constantFrom('NOPE', '1', true));
const maybe = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: arb, weight: 6 }, { arbitrary: fc.constant(null), weight: 1 });
/** A record whose keys may come under the proto name or the JSON name (rarely both). */
const fields = (spec: Record<string, readonly [string, fc.Arbitrary<unknown>]>) =>
  fc
    .tuple(
      ...Object.entries(spec).map(([jsonName, [protoName, arb]]) =>
        fc
          .tuple(fc.constantFrom('json', 'proto', 'both', 'none', 'none'), maybe(arb), maybe(arb))
          .map(([how, a, b]) =>
            how === 'none'
              ? []
              : how === 'json'
                ? [[jsonName, a]]
                : how === 'proto'
                  ? [[protoName, a]]
                  : [
                      [jsonName, a],
                      [protoName, b],
                    ],
          ),
      ),
    )
    .map((entries) => Object.fromEntries(entries.flat() as [string, unknown][]));

const pointJson = fields({
  latitude: ['latitude', intJson(int32)],
  longitude: ['longitude', intJson(int32)],
});
const noteJson = fields({ location: ['location', pointJson], message: ['message', text] });
const rectangleJson = fields({ lo: ['lo', pointJson], hi: ['hi', pointJson] });
const featureJson = fields({ name: ['name', text], location: ['location', pointJson] });
const summaryJson = fields({
  pointCount: ['point_count', intJson(int32)],
  featureCount: ['feature_count', intJson(int32)],
  distance: ['distance', intJson(int32)],
  elapsedTime: ['elapsed_time', intJson(int32)],
});
const plainInnerJson = fields({ a: ['a', intJson(int32)], bText: ['b_text', text] });
const plainJson = fields({
  later: ['later', plainInnerJson],
  pInt32: ['p_int32', intJson(int32)],
  pSint32: ['p_sint32', intJson(int32)],
  pUint32: ['p_uint32', intJson(uint32)],
  pBool: ['p_bool', fc.oneof(fc.boolean(), fc.constantFrom(0, 'true'))],
  pString: ['p_string', text],
  pDouble: ['p_double', doubleJson],
  pFloat: ['p_float', floatJson],
  color: ['color', enumJson(['COLOR_UNSPECIFIED', 'COLOR_RED', 'COLOR_GREEN'])],
  nested: ['nested', fields({ level: ['level', enumJson(['LEVEL_UNSPECIFIED', 'LEVEL_HIGH'])] })],
  inner: ['inner', plainInnerJson],
});

const CASES: readonly [string, DescMessage, fc.Arbitrary<Record<string, unknown>>][] = [
  ['Plain', plain, plainJson],
  ['RouteNote', routeNote, noteJson],
  ['Point', point, pointJson],
  ['Rectangle', rectangle, rectangleJson],
  ['Feature', feature, featureJson],
  ['RouteSummary', summary, summaryJson],
];

const path = (desc: DescMessage) => {
  const p = plainPath(desc);
  assert.ok(p, desc.typeName);
  return p;
};

/** Where json-check finds no problem: the plain path's bytes are the library's, or both refuse. */
function sameRequestBytes(desc: DescMessage, json: unknown): 'plain' | 'library' | 'refused' {
  if (checkMessageJson(desc, json).length > 0) return 'refused';
  const fast = path(desc).encode(json);
  let expected: Buffer | undefined;
  try {
    expected = libraryBytes(desc, json);
  } catch {
    expected = undefined;
  }
  if (fast === undefined) return 'library';
  assert.ok(expected, `the library refuses what the plain path encoded: ${JSON.stringify(json)}`);
  assert.equal(Buffer.from(fast).toString('hex'), expected.toString('hex'), JSON.stringify(json));
  return 'plain';
}

/** The plain path's JSON text equals the library's; or the bytes are left to the library. */
function sameResponseJson(desc: DescMessage, bytes: Uint8Array): 'plain' | 'library' {
  const fast = path(desc).decode(Buffer.from(bytes));
  if (fast === undefined) return 'library';
  const expected = libraryText(desc, bytes);
  assert.ok(
    typeof expected === 'string',
    `the library throws on bytes the plain path decoded: ${Buffer.from(bytes).toString('hex')}`,
  );
  assert.equal(JSON.stringify(fast), expected, Buffer.from(bytes).toString('hex'));
  return 'plain';
}

describe('the codec: the plain path', () => {
  test('takes plain proto3 types (RouteGuide messages, a type with every plain field kind) and leaves the rest to the library', () => {
    for (const desc of [plain, message('kitchen.v1.PlainInner'), message('kitchen.v1.Everything.Nested')])
      assert.equal(takesPlainPath(desc), true, desc.typeName);
    for (const desc of [routeNote, point, rectangle, feature, summary])
      assert.equal(takesPlainPath(desc), true, desc.typeName);
    // int64, bytes, repeated, map, oneof, optional, well-known types: the library.
    for (const name of [
      'kitchen.v1.Everything',
      'kitchen.v1.Inner',
      'google.protobuf.Timestamp',
      'google.protobuf.Empty',
      'google.protobuf.Int64Value',
      'google.protobuf.Struct',
    ])
      assert.equal(takesPlainPath(message(name)), false, name);
  });

  for (const [name, desc, arb] of CASES) {
    test(`encodes every checked ${name} request to the same bytes as fromJson+toBinary`, () => {
      const seen = { plain: 0, library: 0, refused: 0 };
      fc.assert(
        fc.property(arb, (json) => {
          seen[sameRequestBytes(desc, json)] += 1;
        }),
        { numRuns: name === 'Plain' ? 3000 : 1000 },
      );
      assert.ok(seen.plain > 100, JSON.stringify(seen)); // the property is not vacuous
    });

    test(`decodes every encoded ${name} (as the library and as grpc-js write it) to the same JSON text as fromBinary+toJson`, () => {
      fc.assert(
        fc.property(arb, (json) => {
          if (checkMessageJson(desc, json).length > 0) return;
          let canonical: Uint8Array;
          try {
            canonical = libraryBytes(desc, json);
          } catch {
            return;
          }
          assert.equal(sameResponseJson(desc, canonical), 'plain');
          // grpc-js (protobufjs) writes zero values that are set, under JSON names.
          const asJsonNames = toJson(desc, fromBinary(desc, canonical), writeOptions);
          const byGrpcJs = writtenByGrpcJs(desc, asJsonNames);
          sameResponseJson(desc, byGrpcJs);
        }),
        { numRuns: name === 'Plain' ? 3000 : 1000 },
      );
    });
  }

  test('decodes random bytes to the same JSON as the library, or leaves them to it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        for (const [, desc] of CASES) sameResponseJson(desc, bytes);
      }),
      { numRuns: 5000 },
    );
  });

  test('decodes damaged encodings (a byte changed, inserted or dropped) to the same JSON as the library, or leaves them to it', () => {
    const damage = fc.tuple(
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom('set', 'insert', 'drop'),
    );
    for (const [, desc, arb] of CASES)
      fc.assert(
        fc.property(arb, damage, (json, [at, byte, how]) => {
          if (checkMessageJson(desc, json).length > 0) return;
          let bytes: Buffer;
          try {
            bytes = libraryBytes(desc, json);
          } catch {
            return;
          }
          if (bytes.length === 0) return;
          const i = at % bytes.length;
          const damaged =
            how === 'set'
              ? Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i + 1)])
              : how === 'insert'
                ? Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)])
                : Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
          sameResponseJson(desc, damaged);
        }),
        { numRuns: 1500 },
      );
  });

  test('leaves unknown fields, a field twice, another wire type, bad UTF-8 and truncation to the library', () => {
    const cases = {
      'unknown field 3': '0a04080110021201781801',
      'location twice (the library merges)': '0a0208010a021002',
      'message as a varint': '1001',
      'bad UTF-8': '1202c328',
      'string cut short': '120578',
    };
    for (const [what, hex] of Object.entries(cases)) {
      assert.equal(path(routeNote).decode(Buffer.from(hex, 'hex')), undefined, what);
    }
    // p_bool = 2^32: protobufjs would read false from the low 32 bits; the library reads true.
    assert.equal(path(plain).decode(Buffer.from('208080808010', 'hex')), undefined);
  });

  test('gives a RouteNote every field, proto3 JSON names and the library key order, absent messages left out', () => {
    assert.equal(JSON.stringify(path(routeNote).decode(Buffer.alloc(0))), '{"message":""}');
    assert.equal(
      JSON.stringify(path(summary).decode(Buffer.from('0801', 'hex'))),
      '{"pointCount":1,"featureCount":0,"distance":0,"elapsedTime":0}',
    );
    // Fields in number order, whatever the declaration order (`later` is declared first, numbered 100000).
    const later = path(plain).decode(writtenByGrpcJs(plain, { later: { a: 1 } }));
    assert.equal(
      Object.keys(later ?? {}).join(),
      'pInt32,pSint32,pUint32,pBool,pString,pDouble,pFloat,color,later',
    );
  });

  test('the codec on this path: both spellings of a field and over-limit messages are refused as before; malformed responses still throw', () => {
    const note = registry.getMessage('routeguide.RouteNote');
    assert.ok(note);
    const codec = createCodec(summary, note, registry, 16);
    const both = codec.parseRequest({ pointCount: 1, point_count: 2 });
    assert.equal(both.ok, false);
    assert.match(both.ok ? '' : both.message, /set multiple times/);
    const big = createCodec(note, note, registry, 16).parseRequest({ message: 'x'.repeat(20) });
    assert.equal(big.ok ? 'ok' : big.reason, 'message_too_large');
    assert.throws(() => codec.responseToJson(Buffer.from('1202c328', 'hex')));
    assert.throws(() => codec.responseToJson(Buffer.from('120578', 'hex')));
  });
});
