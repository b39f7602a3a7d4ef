/**
 * The fast path of the codec, for the plain message types most traffic is (RouteNote, Point,
 * Feature…): @bufbuild/protobuf's fromJson+toBinary cost ~2 µs per small request and
 * fromBinary+toJson ~0.8 µs per response; this path a fraction of that. It is used only where its
 * result is exactly the library's (test/v2/protobufjs-path.test.ts compares them on generated
 * values, random and damaged bytes):
 * - proto3 messages whose every field is a singular int32, sint32, uint32, bool, string, double,
 *   float or open enum without presence, or a singular such message (no cycles); no oneof, proto3
 *   `optional`, list, map, 64-bit, bytes, fixed, well-known or proto2/editions type;
 * - requests, by protobufjs's generated fromObject/encode: already checked by json-check.ts; keys
 *   mapped to JSON names (protobufjs knows a field by one name), and implicit fields at their zero
 *   value left off the wire, as toBinary does (protobufjs writes every field that is set). Both
 *   spellings of one field: the library's error.
 * - responses, read straight into proto3 JSON in one pass (`decodeCanonical`), when they are
 *   written as a writer writes them: every known field at most once, in number order, with its
 *   own wire type, canonical varints, clean UTF-8, nothing unknown. For such bytes every decoder
 *   agrees; anything else goes to the library, which decodes it or throws as before.
 * The protobufjs types are built from the @bufbuild descriptors, so .proto files and reflection
 * give the same result.
 */
import { isUtf8 } from 'node:buffer';
import { type DescEnum, type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';
import protobuf from 'protobufjs';
import { hasSpecialJson } from './json-check.js';

// google.protobuf.FeatureSet.FieldPresence.IMPLICIT; google.protobuf.Edition.EDITION_PROTO3
const IMPLICIT = 2;
const EDITION_PROTO3 = 999;

const SCALARS = new Map<ScalarType, string>([
  [ScalarType.INT32, 'int32'],
  [ScalarType.SINT32, 'sint32'],
  [ScalarType.UINT32, 'uint32'],
  [ScalarType.BOOL, 'bool'],
  [ScalarType.STRING, 'string'],
  [ScalarType.DOUBLE, 'double'],
  [ScalarType.FLOAT, 'float'],
]);

/** JSON names protobufjs could not hold as a plain field of its message objects, or that reorder keys. */
const UNSAFE_NAME = /^(\d+|__proto__|constructor|toJSON|\$type)$/;

interface Plan {
  readonly type: protobuf.Type;
  /** The fields, with what the request and response walks need of each. */
  readonly fields: readonly PlanField[];
  /** The same fields in number order, as writers write them. */
  readonly byNumber: readonly PlanField[];
  /** Some field in this message or below has a proto name other than its JSON name. */
  readonly renames: boolean;
  /** JSON key (JSON name and proto name) → field. */
  readonly byKey: ReadonlyMap<string, PlanField>;
}

/** How a field's value is written: the wire type and which values are canonical. */
type WireKind = 'int32' | 'sint32' | 'uint32' | 'bool' | 'double' | 'float' | 'string' | 'enum' | 'message';

interface PlanField {
  readonly jsonName: string;
  /** The tag protobufjs writes: field number << 3 | wire type. */
  readonly tag: number;
  readonly kind: WireKind;
  readonly isZero: ((value: unknown) => boolean) | undefined;
  readonly message: Plan | undefined;
  /** An enum's value names by number (an unknown number stays a number in JSON). */
  readonly enumNames: ReadonlyMap<number, string> | undefined;
  /** The JSON of an absent scalar or enum (`alwaysEmitImplicit`); an absent message is left out. */
  readonly zeroJson: unknown;
}

export interface ProtobufjsPath {
  /** Checked proto3 JSON → wire bytes; undefined: leave it to the library. */
  encode(json: unknown): Uint8Array | undefined;
  /** Wire bytes → proto3 JSON, every field present; undefined: leave it to the library. */
  decode(bytes: Uint8Array): Record<string, unknown> | undefined;
}

const isZeroNumber = (value: unknown) => value === 0;
const isZeroFloat = (value: unknown) => Object.is(value, 0); // -0 is written, as toBinary does
const isFalse = (value: unknown) => value === false;
const isEmpty = (value: unknown) => value === '';

function enumQualifies(desc: DescEnum): boolean {
  const numbers = new Set<number>();
  for (const value of desc.values) {
    if (value.jsonName !== value.name || numbers.has(value.number)) return false; // custom names, aliases
    numbers.add(value.number);
  }
  return desc.open && desc.values[0]?.number === 0 && desc.typeName !== 'google.protobuf.NullValue';
}

function fieldQualifies(field: DescField): boolean {
  if (field.oneof || UNSAFE_NAME.test(field.jsonName) || UNSAFE_NAME.test(field.name)) return false;
  switch (field.fieldKind) {
    case 'scalar':
      return field.presence === IMPLICIT && SCALARS.has(field.scalar);
    case 'enum':
      return field.presence === IMPLICIT && enumQualifies(field.enum);
    case 'message':
      return !field.delimitedEncoding;
    default:
      return false;
  }
}

/** Builds the protobufjs types for `desc` and what it uses, or null when any of it does not qualify. */
function build(desc: DescMessage): Plan | null {
  const root = new protobuf.Root();
  const names = new Map<DescMessage | DescEnum, string>();
  const plans = new Map<DescMessage, Plan>();
  const nameOf = (d: DescMessage | DescEnum) => {
    let name = names.get(d);
    if (!name) {
      name = `${d.kind === 'message' ? 'M' : 'E'}${names.size}`;
      names.set(d, name);
      if (d.kind === 'enum')
        root.add(new protobuf.Enum(name, Object.fromEntries(d.values.map((v) => [v.name, v.number]))));
    }
    return name;
  };
  const visit = (d: DescMessage, path: ReadonlySet<DescMessage>): Plan | null => {
    const known = plans.get(d);
    if (known) return known;
    if (path.has(d) || d.file.edition !== EDITION_PROTO3 || hasSpecialJson(d)) return null;
    if (d.typeName.startsWith('google.protobuf.') || d.oneofs.length > 0) return null;
    const inner = new Set(path).add(d);
    const type = new protobuf.Type(nameOf(d));
    const fields: PlanField[] = [];
    const jsonNames = new Set<string>();
    for (const field of d.fields) {
      if (!fieldQualifies(field) || jsonNames.has(field.jsonName)) return null;
      jsonNames.add(field.jsonName);
      let typeName: string;
      let message: Plan | undefined;
      let isZero: PlanField['isZero'];
      let kind: WireKind;
      let enumNames: Map<number, string> | undefined;
      if (field.fieldKind === 'scalar') {
        typeName = SCALARS.get(field.scalar) as string;
        kind = typeName as WireKind;
        isZero =
          field.scalar === ScalarType.DOUBLE || field.scalar === ScalarType.FLOAT
            ? isZeroFloat
            : field.scalar === ScalarType.BOOL
              ? isFalse
              : field.scalar === ScalarType.STRING
                ? isEmpty
                : isZeroNumber;
      } else if (field.fieldKind === 'enum') {
        typeName = nameOf(field.enum);
        isZero = isZeroNumber;
        kind = 'enum';
        enumNames = new Map(field.enum.values.map((v) => [v.number, v.name]));
      } else if (field.fieldKind === 'message') {
        const sub = visit(field.message, inner);
        if (!sub) return null;
        message = sub;
        typeName = sub.type.name;
        kind = 'message';
      } else return null;
      type.add(new protobuf.Field(field.jsonName, field.number, typeName));
      fields.push({
        jsonName: field.jsonName,
        tag: (field.number << 3) | WIRE_TYPE[kind],
        kind,
        isZero,
        message,
        enumNames,
        zeroJson: ZERO_JSON[kind] ?? enumNames?.get(0),
      });
    }
    // A proto name that is another field's JSON name would make a key mean two fields.
    for (const field of d.fields) if (field.name !== field.jsonName && jsonNames.has(field.name)) return null;
    const byKey = new Map<string, PlanField>();
    d.fields.forEach((field, i) => {
      const planField = fields[i] as PlanField;
      byKey.set(field.jsonName, planField).set(field.name, planField);
    });
    const plan: Plan = {
      type,
      fields,
      byNumber: [...fields].sort((a, b) => a.tag - b.tag),
      renames: d.fields.some((f) => f.name !== f.jsonName) || fields.some((f) => f.message?.renames === true),
      byKey,
    };
    root.add(type);
    plans.set(d, plan);
    return plan;
  };
  const plan = visit(desc, new Set());
  if (!plan) return null;
  root.resolveAll();
  return plan;
}

/** The request object keyed by JSON names; undefined when one field comes under both names. */
function withJsonKeys(plan: Plan, json: Record<string, unknown>): Record<string, unknown> | undefined {
  if (!plan.renames) return json;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(json)) {
    const field = plan.byKey.get(key);
    if (!field || Object.hasOwn(out, field.jsonName)) return undefined;
    let value = json[key];
    if (field.message && value !== null && typeof value === 'object') {
      value = withJsonKeys(field.message, value as Record<string, unknown>);
      if (value === undefined) return undefined;
    }
    out[field.jsonName] = value;
  }
  return out;
}

/** Implicit fields at their zero value are not written (protobufjs writes whatever is set). */
function unsetZeros(plan: Plan, message: Record<string, unknown>): void {
  for (const field of plan.fields) {
    const value = message[field.jsonName];
    if (field.message) {
      if (value != null) unsetZeros(field.message, value as Record<string, unknown>);
    } else if (field.isZero?.(value)) message[field.jsonName] = undefined;
  }
}

const WIRE_TYPE: Readonly<Record<WireKind, number>> = {
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

const ZERO_JSON: Partial<Record<WireKind, unknown>> = {
  int32: 0,
  sint32: 0,
  uint32: 0,
  bool: false,
  double: 0,
  float: 0,
  string: '',
};

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

/** protobufjs writes a negative int32 as ten bytes: the value sign-extended to 64 bits. */
function negativeInt32End(bytes: Uint8Array, pos: number, end: number): number {
  if (pos + 10 > end) return NOT_CANONICAL;
  for (let i = 0; i < 4; i += 1) if ((bytes[pos + i] as number) < 0x80) return NOT_CANONICAL;
  // Bits 28-34: the value's top nibble (its sign bit set) and three sign-extension ones, continued.
  if (((bytes[pos + 4] as number) & 0xf8) !== 0xf8) return NOT_CANONICAL;
  for (let i = 5; i < 9; i += 1) if (bytes[pos + i] !== 0xff) return NOT_CANONICAL;
  return bytes[pos + 9] === 0x01 ? pos + 10 : NOT_CANONICAL;
}

/** The value `valueEnd` last read, as proto3 JSON. */
let valueJson: unknown;

/** A float or double comes back as it was, except a NaN: JavaScript writes its one quiet NaN. */
function readDouble(bytes: Uint8Array, pos: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset + pos, 8);
  const value = view.getFloat64(0, true);
  valueJson = Number.isFinite(value) ? value : String(value); // "NaN", "Infinity", "-Infinity"
  return !Number.isNaN(value) || (view.getUint32(0, true) === 0 && view.getUint32(4, true) === 0x7ff80000);
}
function readFloat(bytes: Uint8Array, pos: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset + pos, 4);
  const value = view.getFloat32(0, true);
  valueJson = Number.isFinite(value) ? value : String(value);
  return !Number.isNaN(value) || view.getUint32(0, true) === 0x7fc00000;
}

/** The low 32 bits of a ten-byte varint, as an int32. */
const lowInt32 = (bytes: Uint8Array, pos: number) =>
  ((bytes[pos] as number) & 0x7f) |
  (((bytes[pos + 1] as number) & 0x7f) << 7) |
  (((bytes[pos + 2] as number) & 0x7f) << 14) |
  (((bytes[pos + 3] as number) & 0x7f) << 21) |
  (((bytes[pos + 4] as number) & 0x0f) << 28);

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
        const json = decodeCanonical(field.message as Plan, bytes, from, to);
        if (json === undefined) return NOT_CANONICAL;
        valueJson = json;
      }
      return to;
    }
  }
}

/**
 * `bytes[start, end)` as proto3 JSON (every field present, absent messages left out, keys in number
 * order), when they are written as writers (protobufjs, grpc-js, the library) write them: every
 * known field at most once, in number order, with its own wire type, canonical varints, clean
 * UTF-8, nothing unknown. Otherwise undefined, and the library decides. It may say no to bytes a
 * writer could give (a NaN with a payload): those go to the library, never wrong, only slower.
 */
function decodeCanonical(
  plan: Plan,
  bytes: Buffer,
  start: number,
  end: number,
): Record<string, unknown> | undefined {
  const fields = plan.byNumber;
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

const paths = new WeakMap<DescMessage, ProtobufjsPath | null>();

/** protobufjs's path for `desc`, or undefined when the type is not one it maps exactly. */
export function protobufjsPath(desc: DescMessage): ProtobufjsPath | undefined {
  let path = paths.get(desc);
  if (path === undefined) {
    const plan = build(desc);
    path = plan && {
      encode(json) {
        const keyed = withJsonKeys(plan, json as Record<string, unknown>);
        if (!keyed) return undefined;
        let message: Record<string, unknown>;
        try {
          message = plan.type.fromObject(keyed) as unknown as Record<string, unknown>;
        } catch {
          return undefined; // not expected after json-check: the library decides
        }
        unsetZeros(plan, message);
        return plan.type.encode(message).finish();
      },
      decode(bytes) {
        const buffer = Buffer.isBuffer(bytes)
          ? bytes
          : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return decodeCanonical(plan, buffer, 0, buffer.byteLength);
      },
    };
    paths.set(desc, path);
  }
  return path ?? undefined;
}

/** Whether `desc` takes protobufjs's path (for tests and the docs). */
export const takesProtobufjsPath = (desc: DescMessage): boolean => protobufjsPath(desc) !== undefined;
