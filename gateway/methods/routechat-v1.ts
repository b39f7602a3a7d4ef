/**
 * v1's one method: RouteChat, through the same codec as every v2 method (codec.ts). v1's frame
 * parser (protocol/v1/parse-frame.ts) has already checked a note against the v1 contract, so a
 * request is only encoded; a response decodes to the v1 note frame, every field present. The stream
 * machine (session/stream.ts) is the same as v2's.
 */
import type { JsonValue } from '@bufbuild/protobuf';
import { packageDefinition } from '../../proto/index.js';
import type { NoteFrame } from '../../protocol/v1/index.js';
import { createCodec, type MessageCodec } from './codec.js';
import { descriptorsOf, registryFromDescriptors } from './descriptors.js';
import type { MethodInfo } from './method-registry.js';

const registry = registryFromDescriptors(descriptorsOf(packageDefinition));
const method = registry.getService('routeguide.RouteGuide')?.methods.find((m) => m.name === 'RouteChat');
if (!method) throw new Error('routeguide.RouteGuide/RouteChat is missing from proto/route_guide.proto');
// No size limit here: encodeValidated skips it, as v1 bounds a note by its frame.
const codec = createCodec(method.input, method.output, registry, Number.MAX_SAFE_INTEGER);

interface RouteNoteJson {
  readonly location?: { readonly latitude?: number; readonly longitude?: number } | null;
  readonly message?: string;
}

/** A decoded note with every field present, as the v1 contract sends it. */
export const toNoteFrame = (note: RouteNoteJson): NoteFrame => ({
  location: { latitude: note.location?.latitude ?? 0, longitude: note.location?.longitude ?? 0 },
  message: note.message ?? '',
});

const routeChatV1Codec: MessageCodec = {
  // Only ever given a note that v1's parser accepted: encoding it cannot fail.
  parseRequest: (note) => ({ ok: true, bytes: codec.encodeValidated(note as JsonValue) }),
  // v1 has no binary encoding (its socket refuses binary frames before any stream sees one).
  checkRequestBytes: (bytes) => codec.checkRequestBytes(bytes),
  responseToJson: (bytes) => toNoteFrame(codec.responseToJson(bytes) as RouteNoteJson) as JsonValue,
};

export const ROUTECHAT_V1_METHOD: MethodInfo = {
  name: 'routeguide.RouteGuide/RouteChat',
  path: '/routeguide.RouteGuide/RouteChat',
  requestStream: true,
  responseStream: true,
  codec: routeChatV1Codec,
};
