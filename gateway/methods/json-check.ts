/**
 * A descriptor-driven check of a proto3 JSON value, run before @bufbuild/protobuf's `fromJson`:
 * the library's parser reports one problem without a path, and accepts things v1 refuses (it
 * would let a lone surrogate through as U+FFFD). This walk reports every problem with its path
 * (`location.latitude`, `tags.2`, `counts.k`), in v1's `details` shape, with v1's rules for the
 * same field types. The well-known types with special JSON forms are left to the library.
 */
import { type DescEnum, type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';
import type { ErrorDetail } from '../../protocol/common/index.js';
import { isWellFormedString } from '../../protocol/common/index.js';

/** Stop collecting after this many problems: a huge bad message must not cost a huge error frame. */
const MAX_DETAILS = 20;

/** Message types whose JSON form is not an object of their fields. */
const SPECIAL_JSON_TYPES = new Set([
  'google.protobuf.Any',
  'google.protobuf.Timestamp',
  'google.protobuf.Duration',
  'google.protobuf.FieldMask',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  'google.protobuf.NullValue',
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

export const hasSpecialJson = (message: DescMessage): boolean => SPECIAL_JSON_TYPES.has(message.typeName);

const INT_RANGES: Partial<Record<ScalarType, readonly [bigint, bigint, string]>> = {
  [ScalarType.INT32]: [-(2n ** 31n), 2n ** 31n - 1n, 'int32'],
  [ScalarType.SINT32]: [-(2n ** 31n), 2n ** 31n - 1n, 'sint32'],
  [ScalarType.SFIXED32]: [-(2n ** 31n), 2n ** 31n - 1n, 'sfixed32'],
  [ScalarType.UINT32]: [0n, 2n ** 32n - 1n, 'uint32'],
  [ScalarType.FIXED32]: [0n, 2n ** 32n - 1n, 'fixed32'],
  [ScalarType.INT64]: [-(2n ** 63n), 2n ** 63n - 1n, 'int64'],
  [ScalarType.SINT64]: [-(2n ** 63n), 2n ** 63n - 1n, 'sint64'],
  [ScalarType.SFIXED64]: [-(2n ** 63n), 2n ** 63n - 1n, 'sfixed64'],
  [ScalarType.UINT64]: [0n, 2n ** 64n - 1n, 'uint64'],
  [ScalarType.FIXED64]: [0n, 2n ** 64n - 1n, 'fixed64'],
};

const DECIMAL = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const FLOAT_MAX = 3.4028234663852886e38;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The problem with a proto3 JSON scalar, or undefined. */
export function scalarProblem(type: ScalarType, value: unknown): string | undefined {
  const range = INT_RANGES[type];
  if (range) {
    const [min, max, name] = range;
    let n: bigint;
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) return `expected an integer (${name})`;
      n = BigInt(value);
    } else if (typeof value === 'string' && DECIMAL.test(value)) n = BigInt(value);
    else return `expected a ${name} (a JSON number or a decimal string)`;
    if (n < min) return `must be at least ${min} (${name})`;
    if (n > max) return `must be at most ${max} (${name})`;
    return undefined;
  }
  switch (type) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT: {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && ['NaN', 'Infinity', '-Infinity'].includes(value))
        return undefined;
      else if (typeof value === 'string' && /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value))
        n = Number(value);
      else return 'expected a number, a numeric string, "NaN", "Infinity" or "-Infinity"';
      if (!Number.isFinite(n)) return 'out of range';
      if (type === ScalarType.FLOAT && Math.abs(n) > FLOAT_MAX) return 'out of range for a float';
      return undefined;
    }
    case ScalarType.BOOL:
      return typeof value === 'boolean' ? undefined : 'expected true or false';
    case ScalarType.STRING:
      if (typeof value !== 'string') return 'expected a string';
      return isWellFormedString(value) ? undefined : 'ill-formed string (lone surrogate)';
    case ScalarType.BYTES:
      return typeof value === 'string' && BASE64.test(value) ? undefined : 'expected base64';
    default:
      return undefined;
  }
}

function enumProblem(desc: DescEnum, value: unknown): string | undefined {
  if (desc.typeName === 'google.protobuf.NullValue') return value === null ? undefined : 'expected null';
  if (typeof value === 'string')
    return desc.values.some((v) => v.name === value) ? undefined : `unknown ${desc.name} value "${value}"`;
  if (typeof value === 'number') return scalarProblem(ScalarType.INT32, value);
  return `expected a ${desc.name} name or number`;
}

const MAP_KEY_BOOL = /^(true|false)$/;

/**
 * A message's fields by JSON key (jsonName and proto name), built once per type: the first field
 * in declaration order that has the key as either name, as a search of `fields` would find.
 */
const fieldsByKey = new WeakMap<DescMessage, Map<string, DescField>>();
function fieldByKey(desc: DescMessage, key: string): DescField | undefined {
  let byKey = fieldsByKey.get(desc);
  if (!byKey) {
    byKey = new Map();
    for (const f of desc.fields) {
      if (!byKey.has(f.jsonName)) byKey.set(f.jsonName, f);
      if (!byKey.has(f.name)) byKey.set(f.name, f);
    }
    fieldsByKey.set(desc, byKey);
  }
  return byKey.get(key);
}

/**
 * Where a value is: its parent's path and its own key, joined only when a problem is reported (the
 * walk of a valid message, the common case, builds no path strings).
 */
const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function problem(details: ErrorDetail[], path: string, key: string, text: string): void {
  if (details.length < MAX_DETAILS) details.push({ path: join(path, key), message: text });
}

function walkStrings(details: ErrorDetail[], path: string, key: string, v: unknown): void {
  if (typeof v === 'string') {
    if (!isWellFormedString(v)) problem(details, path, key, 'ill-formed string (lone surrogate)');
  } else if (Array.isArray(v)) {
    const here = join(path, key);
    for (let i = 0; i < v.length; i += 1) walkStrings(details, here, String(i), v[i]);
  } else if (isObject(v)) {
    const here = join(path, key);
    for (const k of Object.keys(v)) walkStrings(details, here, k, v[k]);
  }
}

function single(
  details: ErrorDetail[],
  path: string,
  key: string,
  kind: 'scalar' | 'enum' | 'message',
  field: { scalar?: ScalarType | undefined; enum?: DescEnum | undefined; message?: DescMessage | undefined },
  v: unknown,
) {
  if (kind === 'message' && field.message) return walkMessage(details, path, key, field.message, v);
  if (kind === 'enum' && field.enum) {
    const p = enumProblem(field.enum, v);
    if (p) problem(details, path, key, p);
    return;
  }
  if (field.scalar !== undefined) {
    const p = scalarProblem(field.scalar, v);
    if (p) problem(details, path, key, p);
  }
}

function walkField(details: ErrorDetail[], path: string, key: string, field: DescField, v: unknown) {
  // null is "absent", except for google.protobuf.Value (where it is a value) — the library knows.
  if (v === null) return;
  switch (field.fieldKind) {
    case 'scalar':
    case 'enum':
    case 'message':
      return single(details, path, key, field.fieldKind, field, v);
    case 'list': {
      if (!Array.isArray(v)) return problem(details, path, key, 'expected an array');
      const here = join(path, key);
      for (let i = 0; i < v.length; i += 1) {
        const item: unknown = v[i];
        if (
          item === null &&
          !(field.listKind === 'message' && field.message.typeName === 'google.protobuf.Value')
        )
          problem(details, here, String(i), 'null is not allowed in a repeated field');
        else single(details, here, String(i), field.listKind, field, item);
      }
      return;
    }
    case 'map': {
      if (!isObject(v)) return problem(details, path, key, 'expected an object (map)');
      const here = join(path, key);
      for (const mapKey of Object.keys(v)) {
        const item = v[mapKey];
        const keyProblem =
          field.mapKey === ScalarType.BOOL
            ? MAP_KEY_BOOL.test(mapKey)
              ? undefined
              : 'a bool map key is "true" or "false"'
            : field.mapKey === ScalarType.STRING
              ? isWellFormedString(mapKey)
                ? undefined
                : 'ill-formed string (lone surrogate)'
              : scalarProblem(field.mapKey, mapKey);
        if (keyProblem) problem(details, here, mapKey, `map key: ${keyProblem}`);
        if (item === null) problem(details, here, mapKey, 'null is not allowed as a map value');
        else single(details, here, mapKey, field.mapKind, field, item);
      }
      return;
    }
  }
}

/** `v` as the JSON of message `desc`, found at `key` under `path` ('' and '' for the root). */
function walkMessage(details: ErrorDetail[], path: string, key: string, desc: DescMessage, v: unknown) {
  if (v === null) return;
  if (hasSpecialJson(desc)) return walkStrings(details, path, key, v);
  if (!isObject(v)) return problem(details, path, key, `expected an object (${desc.name})`);
  const here = join(path, key);
  // Only messages with a oneof need the map (most messages have none: no allocation per message).
  let oneofSeen: Map<string, string> | undefined;
  for (const fieldKey of Object.keys(v)) {
    const item = v[fieldKey];
    const field = fieldByKey(desc, fieldKey);
    if (!field) {
      problem(details, here, fieldKey, 'unknown field');
      continue;
    }
    if (field.oneof && item !== null) {
      oneofSeen ??= new Map();
      const other = oneofSeen.get(field.oneof.name);
      if (other !== undefined)
        problem(
          details,
          here,
          fieldKey,
          `only one of the oneof "${field.oneof.name}" may be set (also "${other}")`,
        );
      oneofSeen.set(field.oneof.name, fieldKey);
    }
    walkField(details, here, fieldKey, field, item);
  }
}

/** Every problem (at most MAX_DETAILS) of `value` as JSON of `message`; empty when it is well-formed. */
export function checkMessageJson(message: DescMessage, value: unknown): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  walkMessage(details, '', '', message, value);
  return details;
}
