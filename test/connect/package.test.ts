/**
 * The Connect transport as a user gets it: this checkout packed into a tarball and installed in an
 * empty project beside @connectrpc/connect and @bufbuild/protoc-gen-es (offline, from npm's cache);
 * code generated from proto/ (and one .proto of the user's own) with protoc-gen-es; a strict
 * TypeScript consumer compiled against the package's declarations (skipLibCheck off) and run with
 * plain Node against a real gateway in front of a real core, over JSON and over binary frames.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SEED_NOTES, SEED_REPLY_MESSAGES } from '../../clients/seed-notes.js';
import { REPO_ROOT, type RunningCore, startCore } from '../helpers/core.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { installPackedApp, packProject, run } from '../helpers/packed-app.js';

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** A service of the user's own, which the gateway does not relay: its calls get Unimplemented. */
const UNLISTED_PROTO = `syntax = "proto3";
package shop;
import "route_guide.proto";
service Inventory {
  rpc Locate(routeguide.Point) returns (routeguide.Feature) {}
}
`;

/** What a user writes: createClient over the generated services and the gateway's transport. */
const CALLS_TS = `
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { GatewayClient, GatewayError, type MethodsOf, type WebSocketConstructor } from 'routeguide-gateway/client';
import { createGatewayTransport } from 'routeguide-gateway/connect';
import { NoteFeed } from './gen/note_feed_pb.js';
import { RouteGuide } from './gen/route_guide_pb.js';
import { Inventory } from './gen/unlisted_pb.js';
import type { RouteNote } from './gen/route_guide_pb.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { RouteNoteSchema } from './gen/route_guide_pb.js';

type NoteInit = MessageInitShape<typeof RouteNoteSchema>;
/** GatewayClient's method map, derived from the generated services (json_types=true), ours and the user's. */
type Methods = MethodsOf<typeof RouteGuide, 'routeguide.RouteGuide'> & MethodsOf<typeof Inventory, 'shop.Inventory'>;

async function* each<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

const codeOf = (error: unknown): string =>
  error instanceof ConnectError ? Code[error.code] : \`not a ConnectError: \${String(error)}\`;

export async function scenario(
  baseUrl: string,
  useBinaryFormat: boolean,
  WebSocket: WebSocketConstructor,
  seed: readonly NoteInit[],
): Promise<Record<string, unknown>> {
  const transport = createGatewayTransport({ baseUrl, WebSocket, useBinaryFormat });
  const guide = createClient(RouteGuide, transport);
  const feed = createClient(NoteFeed, transport);
  const result: Record<string, unknown> = {};
  try {
    const replies: RouteNote[] = [];
    for await (const reply of guide.routeChat(each(seed))) replies.push(reply);
    result.seedReplies = replies.map((r) => r.message);

    const feature = await guide.getFeature({ latitude: 409146138, longitude: -746188906 });
    result.feature = feature.name;
    let listed = 0;
    for await (const _ of guide.listFeatures({
      lo: { latitude: 400000000, longitude: -750000000 },
      hi: { latitude: 420000000, longitude: -730000000 },
    }))
      listed += 1;
    result.listed = listed;
    const summary = await guide.recordRoute(
      each([{ latitude: 409146138, longitude: -746188906 }, { latitude: 410248224, longitude: -747127767 }]),
    );
    result.pointCount = summary.pointCount;

    const stopWatching = new AbortController();
    const watch = feed
      .watch({ lo: { latitude: 50, longitude: 50 }, hi: { latitude: 60, longitude: 60 } }, { signal: stopWatching.signal })
      [Symbol.asyncIterator]();
    const first = watch.next();
    let watched: string | undefined;
    void first.then((r) => {
      watched = r.value?.message;
    });
    for (let i = 0; i < 100 && watched === undefined; i += 1) {
      for await (const _ of guide.routeChat(each([{ location: { latitude: 55, longitude: 55 }, message: \`live \${i}\` }]))) {
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await first;
    result.watched = watched;
    stopWatching.abort();

    const concurrent = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        if (i % 2 === 0) return (await guide.getFeature({ latitude: 409146138, longitude: -746188906 })).name !== '';
        const echoes: string[] = [];
        for await (const r of guide.routeChat(each([{ location: { latitude: 70, longitude: i }, message: \`c\${i}\` }])))
          echoes.push(r.message);
        return echoes.at(-1) === \`c\${i}\`;
      }),
    );
    result.concurrentOk = concurrent.every(Boolean);

    const inventory = createClient(Inventory, transport);
    result.unknownMethod = await inventory.locate({}).then(() => 'OK', codeOf);

    result.deadline = await (async () => {
      for await (const _ of feed.watch({}, { timeoutMs: 300 })) {
      }
      return 'OK';
    })().catch(codeOf);

    const abort = new AbortController();
    const never = (async function* () {
      yield { message: 'before the abort' };
      await new Promise(() => {});
    })();
    result.abort = await (async () => {
      for await (const _ of guide.routeChat(never, { signal: abort.signal })) abort.abort();
      return 'OK';
    })().catch(codeOf);

    const typed = new GatewayClient<Methods>(\`\${baseUrl.replace(/^http/, 'ws')}/v2\`, { WebSocket });
    try {
      const feature = await typed.unary('routeguide.RouteGuide/GetFeature', { latitude: 409146138, longitude: -746188906 });
      const name: string = feature.name;
      result.typedFeature = name;
      result.typedUnknown = await typed
        .unary('shop.Inventory/Locate', { latitude: 1 })
        .then(() => 'OK', (error: unknown) => (error instanceof GatewayError ? error.code : String(error)));
    } finally {
      typed.close();
    }
    return result;
  } finally {
    transport.close();
  }
}
`;

const MAIN_MJS = `
import WebSocket from 'ws';
import { scenario } from './out/calls.js';
let sockets = 0;
class Counting extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    sockets += 1;
  }
}
const [baseUrl, encoding, seed] = process.argv.slice(2);
const result = await scenario(baseUrl, encoding === 'binary', Counting, JSON.parse(seed));
console.log(JSON.stringify({ ...result, sockets }));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'DOM', 'DOM.AsyncIterable'],
    types: [],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    rootDir: 'src',
    outDir: 'out',
  },
  include: ['src'],
};

describe('the Connect transport from the packed tarball, with code generated by protoc-gen-es', {
  timeout: 600_000,
}, () => {
  let work: string;
  let app: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'connect-pack-'));
    const tarball = await packProject(work);
    app = join(work, 'app');
    await installPackedApp(app, tarball, ['@connectrpc/connect', '@bufbuild/protoc-gen-es']);
    await mkdir(join(app, 'src', 'gen'), { recursive: true });
    await mkdir(join(app, 'proto'), { recursive: true });
    await writeFile(join(app, 'proto', 'unlisted.proto'), UNLISTED_PROTO);
    await run(
      'protoc',
      [
        `--plugin=protoc-gen-es=${join(app, 'node_modules', '.bin', 'protoc-gen-es')}`,
        '--es_out=src/gen',
        // json_types: the proto3 JSON types that GatewayClient's MethodsOf reads.
        '--es_opt=target=ts,import_extension=js,json_types=true',
        `--proto_path=${join(REPO_ROOT, 'proto')}`,
        '--proto_path=proto',
        'route_guide.proto',
        'note_feed.proto',
        'unlisted.proto',
      ],
      { cwd: app, timeout: 60_000 },
    );
    await writeFile(join(app, 'src', 'calls.ts'), CALLS_TS);
    await writeFile(join(app, 'main.mjs'), MAIN_MJS);
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the generated code and the consumer compile against the package, strict, skipLibCheck off', async () => {
    const output = await run(process.execPath, [TSC, '-p', '.', '--pretty', 'false'], {
      cwd: app,
      timeout: 180_000,
    }).then(
      ({ stdout }) => stdout,
      (error: { stdout?: string }) => `tsc failed: ${error.stdout ?? String(error)}`,
    );
    assert.equal(output.trim(), '');
  });

  for (const encoding of ['json', 'binary'] as const) {
    test(`createClient through the transport over ${encoding} frames: the four RouteGuide methods, Watch, concurrency, Unimplemented, a deadline, an abort`, async () => {
      // A fresh core: RouteChat's replies to the seed notes are the seed's sequence only on a new one.
      const core: RunningCore = await startCore();
      const gateway: RunningGateway = await startGateway(core.address);
      try {
        const { stdout } = await run(
          process.execPath,
          ['main.mjs', gateway.httpUrl, encoding, JSON.stringify(SEED_NOTES)],
          { cwd: app, timeout: 60_000 },
        );
        const result = JSON.parse(stdout) as Record<string, unknown>;
        assert.deepEqual(result.seedReplies, SEED_REPLY_MESSAGES);
        assert.match(String(result.feature), /Berkshire Valley Management Area Trail/);
        assert.ok(Number(result.listed) > 10, `listed ${result.listed}`);
        assert.equal(result.pointCount, 2);
        assert.match(String(result.watched), /^live \d+$/);
        assert.equal(result.concurrentOk, true);
        assert.equal(result.sockets, 2, "every Connect call on one socket, and the GatewayClient's");
        assert.match(String(result.typedFeature), /Berkshire Valley Management Area Trail/);
        assert.equal(result.typedUnknown, 12, 'UNIMPLEMENTED');
        assert.equal(result.unknownMethod, 'Unimplemented');
        assert.equal(result.deadline, 'DeadlineExceeded');
        assert.equal(result.abort, 'Canceled');
      } finally {
        await gateway.app.close();
        await core.stop();
      }
    });
  }
});
