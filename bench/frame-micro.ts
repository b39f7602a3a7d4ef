/**
 * `npx tsx bench/frame-micro.ts [rounds]`: the gateway's own work per RouteChat note without I/O,
 * v1 against v2 in one process, interleaved: a client frame's text to request bytes (frame parse,
 * checks, encode) and response bytes to the frame's text. What the end-to-end v2/v1 ratio is made
 * of, apart from ws and grpc-js (which cost the same per note in both). Median µs per note.
 */

import { registryFromProtoFiles } from '../gateway/methods/descriptors.js';
import { createCodec } from '../gateway/methods/index.js';
import { ROUTECHAT_V1_METHOD } from '../gateway/methods/routechat-v1.js';
import { PROTO_PATH } from '../proto/index.js';
import { DEFAULT_FRAME_LIMITS } from '../protocol/common/index.js';
import { parseClientFrame } from '../protocol/v1/index.js';
import {
  DEFAULT_V2_FRAME_LIMITS,
  MESSAGE_FRAME_SUFFIX,
  messageFramePrefix,
  parseClientFrameV2,
} from '../protocol/v2/index.js';
import { runMicro } from './micro.js';

const registry = registryFromProtoFiles([PROTO_PATH]);
const noteType = registry.getMessage('routeguide.RouteNote');
if (!noteType) throw new Error('routeguide.RouteNote not found');
const v2Codec = createCodec(noteType, noteType, registry, 4 * 1024 * 1024);
const v1Codec = ROUTECHAT_V1_METHOD.codec;

// A note as the bench sends it (64-byte message).
const note = { location: { latitude: 412345678, longitude: -741234567 }, message: 'x'.repeat(64) };
const v1Text = JSON.stringify(note);
const v2Text = JSON.stringify({ type: 'message', id: 's12', message: note });
const prefix = messageFramePrefix('s12');
const parsedV1 = v1Codec.parseRequest(note);
if (!parsedV1.ok) throw new Error('the note does not encode');
const bytes = Buffer.from(parsedV1.bytes);

let sink = 0;
const cases: Record<string, () => void> = {
  'in, v1': () => {
    const frame = parseClientFrame(v1Text, DEFAULT_FRAME_LIMITS);
    if (frame.kind !== 'note') throw new Error('rejected');
    const parsed = v1Codec.parseRequest(frame.note);
    if (parsed.ok) sink += parsed.bytes.length;
  },
  'in, v2': () => {
    const frame = parseClientFrameV2(v2Text, DEFAULT_V2_FRAME_LIMITS);
    if (frame.kind !== 'frame' || frame.frame.type !== 'message') throw new Error('rejected');
    const parsed = v2Codec.parseRequest(frame.frame.message);
    if (parsed.ok) sink += parsed.bytes.length;
  },
  'out, v1': () => {
    sink += JSON.stringify(v1Codec.responseToJson(bytes)).length;
  },
  'out, v2': () => {
    sink += (prefix + JSON.stringify(v2Codec.responseToJson(bytes)) + MESSAGE_FRAME_SUFFIX).length;
  },
};

runMicro(cases, Number(process.argv[2] ?? 5));
// Printing the sink keeps the work observable, so none of it can be optimised away.
process.stdout.write(`(frame text in and out included; ${sink > 0})\n`);
