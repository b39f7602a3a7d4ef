/**
 * proto3 JSON ⇄ wire bytes by protobufjs, for the plain message types most traffic is (RouteNote,
 * Point, Feature…): @bufbuild/protobuf's fromJson+toBinary cost ~2 µs per small request and
 * fromBinary+toJson ~0.8 µs per response; protobufjs's generated fromObject/encode/decode/toObject
 * a fraction of that. protobufjs only approximates proto3 JSON in general (no well-known types,
 * 64-bit and bytes by options, oneofs by its own rules), so it is used only where, with these
 * options, its result is exactly the library's (test/v2/protobufjs-path.test.ts compares them on
 * generated values and random bytes):
 * - proto3 messages whose every field is a singular int32, sint32, uint32, bool, string, double,
 *   float or open enum without presence, or a singular such message (no cycles); no oneof, proto3
 *   `optional`, list, map, 64-bit, bytes, fixed, well-known or proto2/editions type;
 * - requests: already checked by json-check.ts; keys mapped to JSON names (protobufjs knows a field
 *   by one name), and implicit fields at their zero value left off the wire, as toBinary does
 *   (protobufjs writes every field that is set). Both spellings of one field: the library's error.
 * - responses: decoded, then re-encoded; only when that gives the same bytes (every known field once,
 *   in order, with its own wire type, canonical varints, clean UTF-8, nothing unknown) is the JSON
 *   protobufjs's. Anything else goes to the library, which decodes it or throws as before.
 * The protobufjs types are built from the @bufbuild descriptors, so .proto files and reflection
 * give the same result.
 */
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

/** toObject's options for proto3 JSON: enums by name (unknown ones stay numbers), "NaN"/"Infinity". */
const TO_OBJECT: protobuf.IConversionOptions = { enums: String, json: true, defaults: true };

interface Plan {
  readonly type: protobuf.Type;
  /** The fields, with what the request and response walks need of each. */
  readonly fields: readonly PlanField[];
  /** Some field in this message or below has a proto name other than its JSON name. */
  readonly renames: boolean;
  /** JSON key (JSON name and proto name) → field. */
  readonly byKey: ReadonlyMap<string, PlanField>;
}

interface PlanField {
  readonly jsonName: string;
  readonly isZero: ((value: unknown) => boolean) | undefined;
  readonly message: Plan | undefined;
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
      if (field.fieldKind === 'scalar') {
        typeName = SCALARS.get(field.scalar) as string;
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
      } else if (field.fieldKind === 'message') {
        const sub = visit(field.message, inner);
        if (!sub) return null;
        message = sub;
        typeName = sub.type.name;
      } else return null;
      type.add(new protobuf.Field(field.jsonName, field.number, typeName));
      fields.push({ jsonName: field.jsonName, isZero, message });
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

/** toObject's `defaults` also gives absent message fields as null: the library leaves them out. */
function dropAbsentMessages(plan: Plan, json: Record<string, unknown>): void {
  for (const field of plan.fields) {
    if (!field.message) continue;
    const value = json[field.jsonName];
    if (value === null) delete json[field.jsonName];
    else dropAbsentMessages(field.message, value as Record<string, unknown>);
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;

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
        let message: protobuf.Message;
        try {
          message = plan.type.decode(bytes);
        } catch {
          return undefined;
        }
        if (!sameBytes(plan.type.encode(message).finish(), bytes)) return undefined;
        const json = plan.type.toObject(message, TO_OBJECT);
        dropAbsentMessages(plan, json);
        return json;
      },
    };
    paths.set(desc, path);
  }
  return path ?? undefined;
}

/** Whether `desc` takes protobufjs's path (for tests and the docs). */
export const takesProtobufjsPath = (desc: DescMessage): boolean => protobufjsPath(desc) !== undefined;
