/**
 * Protobuf bytes checked against a message type at the wire level, for v2's binary encoding: every
 * field is one the type declares, with a wire type its type may use; nested messages the same.
 * @bufbuild/protobuf's fromBinary checks the rest (lengths, UTF-8) but reads a known field by its
 * declared type whatever its wire type says, and keeps unknown fields: bytes it accepts could still
 * reach the core as something else than the type says. Pure; the first problem only.
 */
import { type DescField, type DescMessage, ScalarType } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/** Nesting this deep is refused (the library's own default recursion limit is 100). */
const MAX_DEPTH = 64;

function scalarWireType(scalar: ScalarType): WireType {
  switch (scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

/** The wire types a field may arrive with (a packable list: packed or not, as parsers must accept). */
function allowedWireTypes(field: DescField): readonly WireType[] {
  switch (field.fieldKind) {
    case 'scalar':
      return [scalarWireType(field.scalar)];
    case 'enum':
      return [WireType.Varint];
    case 'message':
      return [field.delimitedEncoding ? WireType.StartGroup : WireType.LengthDelimited];
    case 'map':
      return [WireType.LengthDelimited];
    case 'list': {
      if (field.listKind === 'message')
        return [field.delimitedEncoding ? WireType.StartGroup : WireType.LengthDelimited];
      const element = field.listKind === 'enum' ? WireType.Varint : scalarWireType(field.scalar);
      return element === WireType.LengthDelimited ? [element] : [WireType.LengthDelimited, element];
    }
  }
}

const fieldsByNumber = new WeakMap<DescMessage, ReadonlyMap<number, DescField>>();

function fieldByNumber(desc: DescMessage, number: number): DescField | undefined {
  let fields = fieldsByNumber.get(desc);
  if (!fields) {
    fields = new Map(desc.fields.map((f) => [f.number, f]));
    fieldsByNumber.set(desc, fields);
  }
  return fields.get(number);
}

/** The first problem of `bytes` as a `desc` (a path and a message), or undefined when none. */
export function wireProblem(
  desc: DescMessage,
  bytes: Uint8Array,
  path = '',
  depth = 0,
): { path: string; message: string } | undefined {
  if (depth > MAX_DEPTH) return { path, message: `nested more than ${MAX_DEPTH} messages deep` };
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    const field = fieldByNumber(desc, number);
    if (!field) return { path, message: `field number ${number} is not a field of ${desc.typeName}` };
    const at = path ? `${path}.${field.jsonName}` : field.jsonName;
    if (!allowedWireTypes(field).includes(wireType))
      return { path: at, message: `wire type ${wireType} is not the wire type of ${field.name}` };
    const nested =
      wireType === WireType.LengthDelimited &&
      (field.fieldKind === 'message' || (field.fieldKind === 'list' && field.listKind === 'message'))
        ? field.message
        : undefined;
    if (nested) {
      const problem = wireProblem(nested, reader.bytes(), at, depth + 1);
      if (problem) return problem;
    } else reader.skip(wireType, number);
  }
  return undefined;
}
