/**
 * proto3 JSON ⇄ protobuf binary for one method, by @bufbuild/protobuf (conformance-tested mapping:
 * int64 as strings, enums by name, bytes as base64, oneofs, maps, well-known types). Requests are
 * checked first by json-check.ts, for paths and v1's strictness; responses carry every field.
 * Plain types (RouteNote, Point…) take a direct path instead, where its result is provably the
 * library's and costs a fraction of it (plain-path.ts); anything else, or any input it is not
 * sure of, goes through the library.
 */
import {
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonValue,
  type Registry,
  toBinary,
  toJson,
} from '@bufbuild/protobuf';
import type { ErrorDetail } from '../../protocol/common/index.js';
import { checkMessageJson } from './json-check.js';
import { plainPath } from './plain-path.js';
import { wireProblem } from './wire-check.js';

export type ParsedRequest =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | {
      readonly ok: false;
      readonly reason: 'invalid_message' | 'message_too_large';
      readonly message: string;
      readonly details: ErrorDetail[];
    };

export interface MessageCodec {
  /** A client's JSON → the request's wire bytes, or why not. Never throws. */
  parseRequest(json: unknown): ParsedRequest;
  /**
   * A client's protobuf bytes (v2's binary encoding), checked against the request type: within the
   * size limit, decodable, every field declared with its wire type. The bytes themselves go on
   * unchanged (`bytes` is the input); never throws.
   */
  checkRequestBytes(bytes: Uint8Array): ParsedRequest;
  /** The response's wire bytes → its proto3 JSON, every field present. Throws on malformed bytes. */
  responseToJson(bytes: Uint8Array): JsonValue;
}

/** The codec of one method, which can also encode a request another contract has already checked. */
export interface MethodCodec extends MessageCodec {
  /**
   * proto3 JSON that a stricter contract has validated (v1's zod schema) → wire bytes, skipping
   * json-check and the size limit (v1 bounds a note by its frame). Throws only on input no
   * contract would pass.
   */
  encodeValidated(json: JsonValue): Uint8Array;
}

export function createCodec(
  input: DescMessage,
  output: DescMessage,
  registry: Registry,
  maxMessageBytes: number,
): MethodCodec {
  // The options objects once per method, not once per message.
  const readOptions = { registry };
  const writeOptions = { alwaysEmitImplicit: true, registry };
  const fastInput = plainPath(input);
  const fastOutput = plainPath(output);
  const encodeValidated = (json: JsonValue): Uint8Array =>
    fastInput?.encode(json) ?? toBinary(input, fromJson(input, json, readOptions));
  const tooLarge = (bytes: Uint8Array): ParsedRequest => ({
    ok: false,
    reason: 'message_too_large',
    message: `the message is ${bytes.byteLength} bytes encoded, over the limit of ${maxMessageBytes}`,
    details: [],
  });
  const invalidBytes = (path: string, text: string): ParsedRequest => ({
    ok: false,
    reason: 'invalid_message',
    message: `invalid ${input.typeName}: ${path || '(message)'}: ${text}`,
    details: [{ path, message: text }],
  });
  return {
    encodeValidated,
    parseRequest(json) {
      const details = checkMessageJson(input, json);
      if (details.length > 0) {
        const first = details[0] as ErrorDetail;
        return {
          ok: false,
          reason: 'invalid_message',
          message: `invalid ${input.typeName}: ${first.path || '(message)'}: ${first.message}`,
          details,
        };
      }
      let bytes: Uint8Array;
      try {
        bytes = encodeValidated(json as JsonValue);
      } catch (error) {
        // A well-known type's own form (a bad Timestamp string…): the library's words, no path.
        const text = error instanceof Error ? error.message : String(error);
        return {
          ok: false,
          reason: 'invalid_message',
          message: `invalid ${input.typeName}: ${text}`,
          details: [{ path: '', message: text }],
        };
      }
      if (bytes.byteLength > maxMessageBytes) return tooLarge(bytes);
      return { ok: true, bytes };
    },
    checkRequestBytes(bytes) {
      if (bytes.byteLength > maxMessageBytes) return tooLarge(bytes);
      // The direct reader takes only bytes every decoder reads alike (canonical, known fields, clean
      // UTF-8): what it reads is valid. Anything else: the library, then the wire types.
      if (fastInput?.decode(bytes) !== undefined) return { ok: true, bytes };
      try {
        fromBinary(input, bytes);
      } catch (error) {
        return invalidBytes('', error instanceof Error ? error.message : String(error));
      }
      const problem = wireProblem(input, bytes);
      return problem ? invalidBytes(problem.path, problem.message) : { ok: true, bytes };
    },
    responseToJson: (bytes) =>
      (fastOutput?.decode(bytes) as JsonValue | undefined) ??
      toJson(output, fromBinary(output, bytes), writeOptions),
  };
}
