/**
 * v1's one method: RouteChat, with v1's own codec. v1's frame parser (protocol/v1/parse-frame.ts) has
 * already checked a note against the v1 contract, so the codec only encodes it, by proto-loader's
 * serializers (protobufjs, the same bytes grpc-js would write); a response decodes to the v1 note
 * frame, every field present. The stream machine (session/stream.ts) is the same as v2's.
 */
import type { JsonValue } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import {
  packageDefinition,
  type RouteNote,
  type RouteNote__Output,
  SERVICE_NAME,
} from '../../proto/index.js';
import type { NoteFrame } from '../../protocol/v1/index.js';
import type { MessageCodec } from './codec.js';
import type { MethodInfo } from './method-registry.js';

const definition = (packageDefinition[SERVICE_NAME] as grpc.ServiceDefinition)
  .RouteChat as grpc.MethodDefinition<RouteNote, RouteNote__Output>;

/** A decoded note with every field present, as the v1 contract sends it. */
export const toNoteFrame = (note: RouteNote__Output): NoteFrame => ({
  location: { latitude: note.location?.latitude ?? 0, longitude: note.location?.longitude ?? 0 },
  message: note.message,
});

/** The same memory as a Buffer (grpc-js hands responses over as Buffers already): no copy. */
const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const routeChatV1Codec: MessageCodec = {
  // Only ever given a note that v1's parser accepted: encoding it cannot fail.
  parseRequest: (note) => ({ ok: true, bytes: definition.requestSerialize(note as RouteNote) }),
  responseToJson: (bytes) => toNoteFrame(definition.responseDeserialize(asBuffer(bytes))) as JsonValue,
};

export const ROUTECHAT_V1_METHOD: MethodInfo = {
  name: definition.path.slice(1),
  path: definition.path,
  requestStream: true,
  responseStream: true,
  codec: routeChatV1Codec,
};
