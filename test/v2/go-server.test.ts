/**
 * v2 in front of the official gRPC-Go RouteGuide example server (Debian's
 * golang-google-grpc-dev examples), built offline here the way test/interop/go-client.test.ts
 * builds the Go client: protoc stubs vendored at the example's import path, GOPATH mode.
 * (A small builder of its own; the shared official-go helper can replace it.)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/core.js';
import { freePort, type RunningGateway, startGateway } from '../helpers/gateway.js';
import { connectV2, v2Url } from '../helpers/v2.js';

const execFileAsync = promisify(execFile);
const EXAMPLES = '/usr/share/doc/golang-google-grpc-dev/examples';
const GOCODE = '/usr/share/gocode';

const runs = (command: string, args: readonly string[]) => {
  const probe = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  return probe.error === undefined && probe.status === 0;
};

function unavailable(): string | undefined {
  if (!runs('go', ['version'])) return 'go (apt-get install -y golang-go)';
  if (!runs('protoc', ['--version'])) return 'protoc (protobuf-compiler)';
  if (!runs('protoc-gen-go', ['--version']) || !runs('protoc-gen-go-grpc', ['--version']))
    return 'protoc-gen-go / protoc-gen-go-grpc';
  if (!existsSync(join(EXAMPLES, 'route_guide/server/server.go'))) return 'golang-google-grpc-dev examples';
  if (!existsSync(join(GOCODE, 'src/github.com/golang/protobuf/proto/registry.go')))
    return 'golang-github-golang-protobuf-1-5-dev';
  return undefined;
}

let workDir: string | undefined;
let server: ChildProcess | undefined;
let gateway: RunningGateway | undefined;

async function buildServer(): Promise<string> {
  workDir = await mkdtemp(join(tmpdir(), 'route-guide-go-server-'));
  const pkgDir = join(workDir, 'gopath/src/routeguideserver');
  const vendor = join(pkgDir, 'vendor');
  await mkdir(join(vendor, 'google.golang.org/grpc/examples/data'), { recursive: true });
  await copyFile(join(EXAMPLES, 'route_guide/server/server.go'), join(pkgDir, 'main.go'));
  await copyFile(
    join(EXAMPLES, 'data/data.go'),
    join(vendor, 'google.golang.org/grpc/examples/data/data.go'),
  );
  const protoDir = join(REPO_ROOT, 'proto');
  await execFileAsync('protoc', [
    `-I${protoDir}`,
    `--go_out=${vendor}`,
    `--go-grpc_out=${vendor}`,
    join(protoDir, 'route_guide.proto'),
  ]);
  const binary = join(workDir, 'route_guide_server');
  await execFileAsync('go', ['build', '-o', binary, '.'], {
    cwd: pkgDir,
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${join(workDir, 'gopath')}:${GOCODE}`,
      GOCACHE: join(workDir, 'gocache'),
      GOFLAGS: '',
      GOPROXY: 'off',
      CGO_ENABLED: '0',
    },
    timeout: 300_000,
    maxBuffer: 10 * 1024 * 1024,
  });
  return binary;
}

after(async () => {
  await gateway?.app.close();
  server?.kill('SIGKILL');
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('protocol v2 in front of the official gRPC-Go RouteGuide server', () => {
  test('all four RouteGuide methods on one socket, answered by grpc-go', { timeout: 400_000 }, async (t) => {
    const missing = unavailable();
    if (missing) {
      t.skip(`cannot build the Go server: missing ${missing}`);
      return;
    }
    const binary = await buildServer();
    const port = await freePort();
    server = spawn(binary, ['-port', String(port)], { stdio: 'ignore' });
    server.on('error', () => {});
    gateway = await startGateway(`127.0.0.1:${port}`);
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    // The server may still be starting: retry GetFeature until it answers.
    let attempt = 0;
    for (;;) {
      const id = `probe${attempt}`;
      client.send({ type: 'open', id, method: 'routeguide.RouteGuide/GetFeature' });
      client.send({ type: 'message', id, message: { latitude: 409146138, longitude: -746188906 } });
      const status = await client.status(id);
      if (status.name === 'OK') break;
      attempt += 1;
      assert.ok(attempt < 50, `the Go server never answered: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    client.send({ type: 'open', id: 'list', method: 'routeguide.RouteGuide/ListFeatures' });
    client.send({ type: 'open', id: 'record', method: 'routeguide.RouteGuide/RecordRoute' });
    client.send({ type: 'open', id: 'chat', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({
      type: 'message',
      id: 'list',
      message: {
        lo: { latitude: 400000000, longitude: -750000000 },
        hi: { latitude: 420000000, longitude: -730000000 },
      },
    });
    client.send({ type: 'message', id: 'record', message: { latitude: 409146138, longitude: -746188906 } });
    client.send({ type: 'message', id: 'record', message: { latitude: 410248224, longitude: -747127767 } });
    client.send({ type: 'end', id: 'record' });
    client.send({
      type: 'message',
      id: 'chat',
      message: { location: { latitude: 0, longitude: 1 }, message: 'first' },
    });
    client.send({
      type: 'message',
      id: 'chat',
      message: { location: { latitude: 0, longitude: 1 }, message: 'second' },
    });
    await client.until(
      (f) => f.filter((x) => x.type === 'message' && x.id === 'chat').length >= 3,
      10_000,
      'chat echoes',
    );
    client.send({ type: 'end', id: 'chat' });
    const probe = client.messages(`probe${attempt}`)[0] as { name: string; location: unknown };
    assert.equal(probe.name, 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA');
    assert.equal((await client.status('list')).name, 'OK');
    assert.ok(client.messages('list').length > 10);
    assert.equal((await client.status('record')).name, 'OK');
    const summary = client.messages('record')[0] as Record<string, number>;
    assert.equal(summary.pointCount, 2);
    assert.ok('elapsedTime' in summary);
    assert.equal((await client.status('chat')).name, 'OK');
    // grpc-go's RouteChat answers each note with every note at that location so far, itself included.
    const at = { latitude: 0, longitude: 1 };
    assert.deepEqual(client.messages('chat'), [
      { location: at, message: 'first' },
      { location: at, message: 'first' },
      { location: at, message: 'second' },
    ]);
    client.ws.close();
  });
});
