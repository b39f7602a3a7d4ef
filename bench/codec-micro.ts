/**
 * `node dist/bench/codec-micro.js` (after `npm run bench`'s build, or `npx tsx bench/codec-micro.ts`):
 * the v2 codec's cost per RouteNote, the library path (@bufbuild/protobuf: check + fromJson +
 * toBinary; fromBinary + toJson) against the codec as built (gateway/methods/codec.ts), in the same
 * process, interleaved, median µs per message over the rounds.
 */
import { fromBinary, fromJson, type JsonValue, toBinary, toJson } from '@bufbuild/protobuf';
import { registryFromProtoFiles } from '../gateway/methods/descriptors.js';
import { createCodec } from '../gateway/methods/index.js';
import { checkMessageJson } from '../gateway/methods/json-check.js';
import { runMicro } from './micro.js';
import { PROTO_PATH } from './processes.js';

const registry = registryFromProtoFiles([PROTO_PATH]);
const note = registry.getMessage('routeguide.RouteNote');
if (!note) throw new Error('routeguide.RouteNote not found');
const codec = createCodec(note, note, registry, 4 * 1024 * 1024);
const readOptions = { registry };
const writeOptions = { alwaysEmitImplicit: true, registry };

// A note as the bench sends it (64-byte message), parsed from its frame text each time, as the gateway does.
const text = JSON.stringify({
  location: { latitude: 412345678, longitude: -741234567 },
  message: 'x'.repeat(64),
});
// A Buffer, as grpc-js hands the codec a response.
const bytes = Buffer.from(toBinary(note, fromJson(note, JSON.parse(text) as JsonValue, readOptions)));

let sink = 0;
const cases: Record<string, () => void> = {
  'request, library': () => {
    const json = JSON.parse(text) as JsonValue;
    if (checkMessageJson(note, json).length === 0)
      sink += toBinary(note, fromJson(note, json, readOptions)).length;
  },
  'request, codec': () => {
    const parsed = codec.parseRequest(JSON.parse(text));
    if (parsed.ok) sink += parsed.bytes.length;
  },
  'response, library': () => {
    sink += JSON.stringify(toJson(note, fromBinary(note, bytes), writeOptions)).length;
  },
  'response, codec': () => {
    sink += JSON.stringify(codec.responseToJson(bytes)).length;
  },
};

runMicro(cases, Number(process.argv[2] ?? 7));
process.stdout.write(
  `(JSON.parse of the frame's message and JSON.stringify of the reply included; ${sink > 0})\n`,
);
