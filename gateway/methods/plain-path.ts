/**
 * The fast path of the codec, for the plain message types most traffic is (RouteNote, Point,
 * Feature…): @bufbuild/protobuf's fromJson+toBinary cost ~2 µs per small request and
 * fromBinary+toJson ~0.8 µs per response; this path writes and reads the bytes directly, in one
 * pass each. It is used only where its result is exactly the library's
 * (test/v2/plain-path.test.ts compares them on generated values, random and damaged bytes):
 * - proto3 messages whose every field is a singular int32, sint32, uint32, bool, string, double,
 *   float or open enum without presence, or a singular such message (no cycles); no oneof, proto3
 *   `optional`, list, map, 64-bit, bytes, fixed, well-known or proto2/editions type;
 * - requests: already checked by json-check.ts (or by v1's zod schema); written in field-number
 *   order, implicit fields at their zero value left out, as toBinary does. A field given under
 *   both of its names goes to the library, which refuses it.
 * - responses: read straight into proto3 JSON when they are written as writers (protobufjs,
 *   grpc-js, the library) write them: every known field at most once, in number order, with its
 *   own wire type, canonical varints, clean UTF-8, nothing unknown. For such bytes every decoder
 *   agrees; anything else goes to the library, which decodes it or throws as before.
 */
import { isUtf8 } from 'node:buffer';
import { type DescEnum, type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';
import { hasSpecialJson } from './json-check.js';

// google.protobuf.FeatureSet.FieldPresence.IMPLICIT; google.protobuf.Edition.EDITION_PROTO3
const IMPLICIT = 2;
const EDITION_PROTO3 = 999;

/** How a field's value is written: its wire type and which values are canonical. */
type Kind = 'int32' | 'sint32' | 'uint32' | 'bool' | 'double' | 'float' | 'string' | 'enum' | 'message';

const SCALAR_KINDS = new Map<ScalarType, Kind>([
  [ScalarType.INT32, 'int32'],
  [ScalarType.SINT32, 'sint32'],
  [ScalarType.UINT32, 'uint32'],
  [ScalarType.BOOL, 'bool'],
  [ScalarType.STRING, 'string'],
  [ScalarType.DOUBLE, 'double'],
  [ScalarType.FLOAT, 'float'],
]);

const WIRE_TYPE: Readonly<Record<Kind, number>> = {
  int32: 0,
  enum: 0,
  sint32: 0,
  uint32: 0,
  bool: 0,
  double: 1,
  float: 5,
  string: 2,
  message: 2,
};

/** The JSON of an absent field (`alwaysEmitImplicit`); an enum's is its zero value's name. */
const ZERO_JSON: Partial<Record<Kind, unknown>> = {
  int32: 0,
  sint32: 0,
  uint32: 0,
  bool: false,
  double: 0,
  float: 0,
  string: '',
};

/** Keys a plain JSON object cannot hold as an ordinary own property in key order. */
const UNSAFE_NAME = /^(\d+|__proto__|constructor|toJSON|\$type)$/;

interface Plan {
  /** The fields in number order, as writers write them. */
  readonly fields: readonly PlanField[];
}

interface PlanField {
  readonly jsonName: string;
  /** The proto name, also accepted in requests. */
  readonly protoName: string;
  /** field number << 3 | wire type */
  readonly tag: number;
  readonly kind: Kind;
  readonly message: Plan | undefined;
  /** An enum's value names by number (an unknown number stays a number in JSON), and back. */
  readonly enumNames: ReadonlyMap<number, string> | undefined;
  readonly enumNumbers: ReadonlyMap<string, number> | undefined;
  readonly zeroJson: unknown;
}

export interface PlainPath {
  /** Checked proto3 JSON → wire bytes; undefined: leave it to the library. */
  encode(json: unknown): Uint8Array | undefined;
  /** Wire bytes → proto3 JSON, every field present; undefined: leave it to the library. */
  decode(bytes: Uint8Array): Record<string, unknown> | undefined;
}

function enumQualifies(desc: DescEnum): boolean {
  const numbers = new Set<number>();
  for (const value of desc.values) {
    if (value.jsonName !== value.name || numbers.has(value.number)) return false; // custom names, aliases
    numbers.add(value.number);
  }
  return desc.open && desc.values[0]?.number === 0 && desc.typeName !== 'google.protobuf.NullValue';
}

function fieldKind(field: DescField): Kind | undefined {
  if (field.oneof || UNSAFE_NAME.test(field.jsonName) || UNSAFE_NAME.test(field.name)) return undefined;
  switch (field.fieldKind) {
    case 'scalar':
      return field.presence === IMPLICIT ? SCALAR_KINDS.get(field.scalar) : undefined;
    case 'enum':
      return field.presence === IMPLICIT && enumQualifies(field.enum) ? 'enum' : undefined;
    case 'message':
      return field.delimitedEncoding ? undefined : 'message';
    default:
      return undefined;
  }
}

/** The plan for `desc` and every type it uses, or null when any of it does not qualify. */
function build(desc: DescMessage): Plan | null {
  const plans = new Map<DescMessage, Plan>();
  const visit = (d: DescMessage, path: ReadonlySet<DescMessage>): Plan | null => {
    const known = plans.get(d);
    if (known) return known;
    if (path.has(d) || d.file.edition !== EDITION_PROTO3 || hasSpecialJson(d)) return null;
    if (d.typeName.startsWith('google.protobuf.') || d.oneofs.length > 0) return null;
    const inner = new Set(path).add(d);
    const fields: PlanField[] = [];
    const keys = new Set<string>();
    for (const field of d.fields) {
      const kind = fieldKind(field);
      if (!kind) return null;
      // A key that means two fields (a proto name that is another field's JSON name): the library.
      for (const key of new Set([field.jsonName, field.name])) {
        if (keys.has(key)) return null;
        keys.add(key);
      }
      const message = field.fieldKind === 'message' ? visit(field.message, inner) : undefined;
      if (message === null) return null;
      const values = field.fieldKind === 'enum' ? field.enum.values : undefined;
      fields.push({
        jsonName: field.jsonName,
        protoName: field.name,
        tag: (field.number << 3) | WIRE_TYPE[kind],
        kind,
        message,
        enumNames: values && new Map(values.map((v) => [v.number, v.name])),
        enumNumbers: values && new Map(values.map((v) => [v.name, v.number])),
        zeroJson: kind === 'enum' ? values?.[0]?.name : ZERO_JSON[kind],
      });
    }
    const plan: Plan = { fields: fields.sort((a, b) => a.tag - b.tag) };
    plans.set(d, plan);
    return plan;
  };
  return visit(desc, new Set());
}

// ---- Writing ----

/** The bytes being written; grown as needed and reused, as nothing else runs while it is in use. */
let out = Buffer.allocUnsafe(4096);
let at = 0;

function reserve(bytes: number): void {
  if (at + bytes <= out.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, at + bytes));
  out.copy(bigger, 0, 0, at);
  out = bigger;
}

/** A value below 2^32, shortest form. */
function writeVarint(value: number): void {
  reserve(5);
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
}

const varintLength = (value: number) =>
  value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;

/** A negative int32: ten bytes, sign-extended to 64 bits. */
function writeNegativeInt32(value: number): void {
  reserve(10);
  let low = value >>> 0;
  for (let i = 0; i < 4; i += 1) {
    out[at++] = (low & 0x7f) | 0x80;
    low >>>= 7;
  }
  out[at++] = low | 0xf0; // bits 28-31, then three sign bits, continued
  for (let i = 0; i < 4; i += 1) out[at++] = 0xff;
  out[at++] = 0x01;
}

/** A JSON number or a numeric string (json-check allows both), as a number. */
const numberOf = (value: unknown) => (typeof value === 'number' ? value : Number(value));

/** Writes `field`'s value; false when this path cannot (the library then decides). */
function writeField(field: PlanField, value: unknown): boolean {
  switch (field.kind) {
    case 'int32':
    case 'enum': {
      const n =
        typeof value === 'string' && field.enumNumbers ? field.enumNumbers.get(value) : numberOf(value);
      if (n === undefined || !Number.isInteger(n)) return false;
      if (n === 0) return true;
      writeVarint(field.tag);
      if (n < 0) writeNegativeInt32(n);
      else writeVarint(n);
      return true;
    }
    case 'uint32': {
      const n = numberOf(value);
      if (n !== 0) {
        writeVarint(field.tag);
        writeVarint(n);
      }
      return true;
    }
    case 'sint32': {
      const n = numberOf(value);
      if (n !== 0) {
        writeVarint(field.tag);
        writeVarint(((n << 1) ^ (n >> 31)) >>> 0);
      }
      return true;
    }
    case 'bool':
      if (value === true) {
        writeVarint(field.tag);
        writeVarint(1);
      }
      return true;
    case 'double':
    case 'float': {
      const n = numberOf(value); // "NaN", "Infinity" and "-Infinity" read as such
      if (Object.is(n, 0)) return true; // -0 is written, as toBinary does
      writeVarint(field.tag);
      reserve(8);
      at = field.kind === 'double' ? out.writeDoubleLE(n, at) : out.writeFloatLE(n, at);
      return true;
    }
    case 'string': {
      const text = value as string;
      if (text === '') return true;
      writeVarint(field.tag);
      const length = Buffer.byteLength(text);
      writeVarint(length);
      reserve(length);
      at += out.write(text, at);
      return true;
    }
    default: {
      writeVarint(field.tag);
      // The length goes before the message: leave it one byte, and move the message if it needs more.
      reserve(1);
      const lengthAt = at;
      at += 1;
      if (!writeMessage(field.message as Plan, value as Record<string, unknown>)) return false;
      const length = at - lengthAt - 1;
      const extra = varintLength(length) - 1;
      if (extra > 0) {
        reserve(extra);
        out.copyWithin(lengthAt + 1 + extra, lengthAt + 1, at);
        at += extra;
      }
      const end = at;
      at = lengthAt;
      writeVarint(length);
      at = end;
      return true;
    }
  }
}

function writeMessage(plan: Plan, json: Record<string, unknown>): boolean {
  for (const field of plan.fields) {
    let value = json[field.jsonName];
    if (field.protoName !== field.jsonName) {
      const byProtoName = json[field.protoName];
      if (byProtoName !== undefined) {
        if (value !== undefined) return false; // both spellings: the library's error
        value = byProtoName;
      }
    }
    if (value === undefined || value === null) continue;
    if (field.message && (typeof value !== 'object' || Array.isArray(value))) return false;
    if (!writeField(field, value)) return false;
  }
  return true;
}

// ---- Reading ----

const NOT_CANONICAL = -1;
const TWO_31 = 2 ** 31;
const TWO_32 = 2 ** 32;
const SEVEN_BIT_SCALE = [1, 2 ** 7, 2 ** 14, 2 ** 21, 2 ** 28];

/** The value of the varint `shortVarintEnd` last accepted. */
let shortValue = 0;

/**
 * The end of the varint at `pos` when it is the shortest form of a value below `max` (at most
 * 2^32), leaving the value in `shortValue`; NOT_CANONICAL for a longer form, a larger value or a cut.
 */
function shortVarintEnd(bytes: Uint8Array, pos: number, end: number, max: number): number {
  let value = 0;
  for (let i = 0; i < 5 && pos + i < end; i += 1) {
    const byte = bytes[pos + i] as number;
    value += (byte & 0x7f) * (SEVEN_BIT_SCALE[i] as number);
    if (byte < 0x80) {
      if ((byte === 0 && i > 0) || value >= max) return NOT_CANONICAL;
      shortValue = value;
      return pos + i + 1;
    }
  }
  return NOT_CANONICAL;
}

/** A negative int32 is written as ten bytes: the value sign-extended to 64 bits. */
function negativeInt32End(bytes: Uint8Array, pos: number, end: number): number {
  if (pos + 10 > end) return NOT_CANONICAL;
  for (let i = 0; i < 4; i += 1) if ((bytes[pos + i] as number) < 0x80) return NOT_CANONICAL;
  // Bits 28-34: the value's top nibble (its sign bit set) and three sign-extension ones, continued.
  if (((bytes[pos + 4] as number) & 0xf8) !== 0xf8) return NOT_CANONICAL;
  for (let i = 5; i < 9; i += 1) if (bytes[pos + i] !== 0xff) return NOT_CANONICAL;
  return bytes[pos + 9] === 0x01 ? pos + 10 : NOT_CANONICAL;
}

/** The low 32 bits of a ten-byte varint, as an int32. */
const lowInt32 = (bytes: Uint8Array, pos: number) =>
  ((bytes[pos] as number) & 0x7f) |
  (((bytes[pos + 1] as number) & 0x7f) << 7) |
  (((bytes[pos + 2] as number) & 0x7f) << 14) |
  (((bytes[pos + 3] as number) & 0x7f) << 21) |
  (((bytes[pos + 4] as number) & 0x0f) << 28);

/** The value `valueEnd` last read, as proto3 JSON. */
let valueJson: unknown;

/** A float or double reads back as written, except a NaN: writers write JavaScript's one quiet NaN. */
function readDouble(bytes: Buffer, pos: number): boolean {
  const value = bytes.readDoubleLE(pos);
  valueJson = Number.isFinite(value) ? value : String(value); // "NaN", "Infinity", "-Infinity"
  return (
    !Number.isNaN(value) || (bytes.readUInt32LE(pos) === 0 && bytes.readUInt32LE(pos + 4) === 0x7ff80000)
  );
}
function readFloat(bytes: Buffer, pos: number): boolean {
  const value = bytes.readFloatLE(pos);
  valueJson = Number.isFinite(value) ? value : String(value);
  return !Number.isNaN(value) || bytes.readUInt32LE(pos) === 0x7fc00000;
}

/** The end of the value of `field` at `pos`, its JSON left in `valueJson`; or NOT_CANONICAL. */
function valueEnd(field: PlanField, bytes: Buffer, pos: number, end: number): number {
  switch (field.kind) {
    case 'int32':
    case 'enum': {
      let to = shortVarintEnd(bytes, pos, end, TWO_31);
      let value = shortValue;
      if (to === NOT_CANONICAL) {
        to = negativeInt32End(bytes, pos, end);
        value = lowInt32(bytes, pos);
      }
      valueJson = field.enumNames ? (field.enumNames.get(value) ?? value) : value;
      return to;
    }
    case 'uint32':
      pos = shortVarintEnd(bytes, pos, end, TWO_32);
      valueJson = shortValue;
      return pos;
    case 'sint32':
      pos = shortVarintEnd(bytes, pos, end, TWO_32);
      valueJson = (shortValue >>> 1) ^ -(shortValue & 1);
      return pos;
    case 'bool':
      valueJson = bytes[pos] === 1;
      return pos < end && (bytes[pos] as number) <= 1 ? pos + 1 : NOT_CANONICAL;
    case 'double':
      return pos + 8 <= end && readDouble(bytes, pos) ? pos + 8 : NOT_CANONICAL;
    case 'float':
      return pos + 4 <= end && readFloat(bytes, pos) ? pos + 4 : NOT_CANONICAL;
    default: {
      const from = shortVarintEnd(bytes, pos, end, TWO_32);
      if (from === NOT_CANONICAL) return NOT_CANONICAL;
      const to = from + shortValue;
      if (to > end) return NOT_CANONICAL;
      if (field.kind === 'string') {
        const text = bytes.toString('utf8', from, to);
        // Bad UTF-8 decodes with U+FFFD in its place; only then is the check worth its native call.
        if (text.includes('\uFFFD') && !isUtf8(bytes.subarray(from, to))) return NOT_CANONICAL;
        valueJson = text;
      } else {
        const json = readMessage(field.message as Plan, bytes, from, to);
        if (json === undefined) return NOT_CANONICAL;
        valueJson = json;
      }
      return to;
    }
  }
}

/**
 * `bytes[start, end)` as proto3 JSON (every field present, absent messages left out, keys in number
 * order), or undefined when they are not written as writers write them (see the top of this file).
 * It may say no to bytes a writer could give (a NaN with a payload): those go to the library,
 * never wrong, only slower.
 */
function readMessage(
  plan: Plan,
  bytes: Buffer,
  start: number,
  end: number,
): Record<string, unknown> | undefined {
  const fields = plan.fields;
  const json: Record<string, unknown> = {};
  let next = 0;
  let pos = start;
  while (pos < end) {
    pos = shortVarintEnd(bytes, pos, end, TWO_32);
    if (pos === NOT_CANONICAL) return undefined;
    const tag = shortValue;
    // Fields in number order, each at most once, none unknown, each with its own wire type.
    let field = fields[next];
    while (field !== undefined && field.tag < tag) {
      if (!field.message) json[field.jsonName] = field.zeroJson;
      next += 1;
      field = fields[next];
    }
    if (field === undefined || field.tag !== tag) return undefined;
    next += 1;
    pos = valueEnd(field, bytes, pos, end);
    if (pos === NOT_CANONICAL) return undefined;
    json[field.jsonName] = valueJson;
  }
  for (; next < fields.length; next += 1) {
    const field = fields[next] as PlanField;
    if (!field.message) json[field.jsonName] = field.zeroJson;
  }
  return json;
}

const paths = new WeakMap<DescMessage, PlainPath | null>();

/** The plain path for `desc`, or undefined when the type is not one it maps exactly. */
export function plainPath(desc: DescMessage): PlainPath | undefined {
  let path = paths.get(desc);
  if (path === undefined) {
    const plan = build(desc);
    path = plan && {
      encode(json) {
        at = 0;
        if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
        if (!writeMessage(plan, json as Record<string, unknown>)) return undefined;
        return Buffer.from(out.subarray(0, at));
      },
      decode(bytes) {
        const buffer = Buffer.isBuffer(bytes)
          ? bytes
          : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return readMessage(plan, buffer, 0, buffer.byteLength);
      },
    };
    paths.set(desc, path);
  }
  return path ?? undefined;
}

/** Whether `desc` takes the plain path (for tests and the docs). */
export const takesPlainPath = (desc: DescMessage): boolean => plainPath(desc) !== undefined;
