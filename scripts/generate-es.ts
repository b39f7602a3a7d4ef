/**
 * `npm run generate`: the protoc-gen-es code (TypeScript, @bufbuild/protobuf v2) for every .proto in
 * proto/, written to proto/es/ or to the directory given as the first argument (the up-to-date test
 * generates into a temporary one and compares). protoc comes from Debian's protobuf-compiler (.ci/run
 * installs it), the plugin from node_modules: nothing is downloaded.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const out = resolve(process.argv[2] ?? `${root}/proto/es`);
const protos = readdirSync(`${root}/proto`)
  .filter((name) => name.endsWith('.proto'))
  .sort();
mkdirSync(out, { recursive: true });
execFileSync(
  'protoc',
  [
    `--plugin=protoc-gen-es=${root}/node_modules/.bin/protoc-gen-es`,
    `--es_out=${out}`,
    // TypeScript with `.js` import suffixes, as every module of this repo imports; with the proto3 JSON
    // types (`PointJson`…), which type GatewayClient's method maps (clients/lib/method-map.ts).
    '--es_opt=target=ts,import_extension=js,json_types=true',
    `--proto_path=${root}/proto`,
    ...protos,
  ],
  { cwd: root, stdio: 'inherit' },
);
