/**
 * Interop: the official gRPC-Go RouteGuide example client (adapted in
 * go/route_guide_client.go) against our core server as a real process.
 *
 * The client is built offline from Debian's Go packages (no module proxy, no
 * network): stubs are generated with protoc + protoc-gen-go + protoc-gen-go-grpc
 * from proto/route_guide.proto into a temporary GOPATH (vendored under the
 * client, at the example's go_package path), then `go build` in GOPATH mode
 * with /usr/share/gocode as the second GOPATH entry. The binary and the Go
 * build cache live in that temporary directory for this test run only.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT, spawnCore } from '../helpers/core.js';
import { assertCanonicalAnswers, requireToolchain, runClient } from './official-client.js';

const execFileAsync = promisify(execFile);

const CLIENT_SOURCE = join(REPO_ROOT, 'test/interop/go/route_guide_client.go');
const PROTO_DIR = join(REPO_ROOT, 'proto');
/** Where Debian's golang-*-dev packages install Go library sources (GOPATH layout). */
const GOCODE = '/usr/share/gocode';
/** option go_package of proto/route_guide.proto: the import path the official client uses. */
const STUB_IMPORT_PATH = 'google.golang.org/grpc/examples/route_guide/routeguide';

/** Things the build needs, each with the Debian package that provides it. */
const REQUIREMENTS: readonly { what: string; ok: () => boolean; apt: string }[] = [
  { what: '`go`', ok: () => runs('go', ['version']), apt: 'golang-go' },
  { what: '`protoc`', ok: () => runs('protoc', ['--version']), apt: 'protobuf-compiler' },
  { what: '`protoc-gen-go`', ok: () => runs('protoc-gen-go', ['--version']), apt: 'protoc-gen-go' },
  {
    what: '`protoc-gen-go-grpc`',
    ok: () => runs('protoc-gen-go-grpc', ['--version']),
    apt: 'protoc-gen-go-grpc',
  },
  {
    what: `grpc-go sources in ${GOCODE}/src/google.golang.org/grpc`,
    ok: () => existsSync(join(GOCODE, 'src/google.golang.org/grpc/clientconn.go')),
    apt: 'golang-google-grpc-dev',
  },
  {
    what: `protobuf-go (APIv2) sources in ${GOCODE}/src/google.golang.org/protobuf`,
    ok: () => existsSync(join(GOCODE, 'src/google.golang.org/protobuf/proto/decode.go')),
    apt: 'golang-google-protobuf-dev',
  },
  {
    // grpc-go 1.33 marshals through github.com/golang/protobuf/proto. Debian's
    // 1.3 branch of it (the first alternative golang-google-grpc-dev depends on)
    // predates APIv2 and panics on protoc-gen-go 1.28 messages; 1.4+ wraps APIv2
    // and has registry.go.
    what: `github.com/golang/protobuf >= 1.4 in ${GOCODE}/src/github.com/golang/protobuf`,
    ok: () => existsSync(join(GOCODE, 'src/github.com/golang/protobuf/proto/registry.go')),
    apt: 'golang-github-golang-protobuf-1-5-dev',
  },
];

function runs(command: string, args: readonly string[]): boolean {
  const probe = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  return probe.error === undefined && probe.status === 0;
}

/** Why the Go client cannot be built here, or null when everything is installed. */
function goToolchainUnavailable(): string | null {
  const missing = REQUIREMENTS.filter((requirement) => !requirement.ok());
  if (missing.length === 0) return null;
  return `missing ${missing.map((m) => m.what).join(', ')} (apt-get install -y ${missing.map((m) => m.apt).join(' ')})`;
}

/** Per-run scratch directory: generated stubs, GOPATH, Go build cache and the client binary. */
let workDir: string | undefined;
let built: Promise<{ binary: string; buildMs: number }> | undefined;

/** Generates the stubs and builds the client once per test run. */
function buildClient(): Promise<{ binary: string; buildMs: number }> {
  built ??= (async () => {
    workDir = await mkdtemp(join(tmpdir(), 'route-guide-go-client-'));
    const gopath = join(workDir, 'gopath');
    const pkgDir = join(gopath, 'src/routeguideclient');
    // Vendored under the client so that the rest of google.golang.org/grpc still
    // resolves to GOCODE (GOPATH mode looks an import path up in one root only).
    const vendorDir = join(pkgDir, 'vendor');
    await mkdir(vendorDir, { recursive: true });
    await copyFile(CLIENT_SOURCE, join(pkgDir, 'main.go'));
    const binary = join(workDir, 'route_guide_client');
    const started = performance.now();
    const run = async (
      command: string,
      args: readonly string[],
      cwd: string,
      env: NodeJS.ProcessEnv = {},
    ) => {
      try {
        await execFileAsync(command, args, {
          cwd,
          env: { ...process.env, ...env },
          timeout: 120_000,
          maxBuffer: 10 * 1024 * 1024,
        });
      } catch (error) {
        const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
        throw new Error(
          `${command} ${args.join(' ')} failed: ${(error as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        );
      }
    };
    await run(
      'protoc',
      [
        `-I${PROTO_DIR}`,
        `--go_out=${vendorDir}`,
        `--go-grpc_out=${vendorDir}`,
        join(PROTO_DIR, 'route_guide.proto'),
      ],
      REPO_ROOT,
    );
    assert.ok(
      existsSync(join(vendorDir, STUB_IMPORT_PATH, 'route_guide_grpc.pb.go')),
      `protoc did not generate ${STUB_IMPORT_PATH}/route_guide_grpc.pb.go`,
    );
    await run('go', ['build', '-o', binary, '.'], pkgDir, {
      GO111MODULE: 'off',
      GOPATH: `${gopath}:${GOCODE}`,
      GOCACHE: join(workDir, 'gocache'),
      GOFLAGS: '',
      GOPROXY: 'off',
      // Pure Go: no C compiler needed (golang-go only recommends gcc).
      CGO_ENABLED: '0',
    });
    const buildMs = Math.round(performance.now() - started);
    return { binary, buildMs };
  })();
  return built;
}

after(async () => {
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('official gRPC-Go RouteGuide client (interop)', () => {
  test('the official Go RouteGuide client gets the canonical answers from our core server', async (t) => {
    if (!requireToolchain(t, 'Go', goToolchainUnavailable())) return;

    const { binary, buildMs } = await buildClient();
    t.diagnostic(`protoc + go build of the Go client took ${buildMs} ms`);

    // A fresh core: RouteChat's echoes depend on no earlier notes at (0,1)..(0,3).
    const core = await spawnCore();
    try {
      const lines = await runClient('Go client', binary, ['-addr', core.address], 30_000);
      assertCanonicalAnswers(lines);
      // The Go client also says whether each feature carried a location at all.
      for (const line of lines.filter((l) => l.rpc === 'GetFeature' || l.rpc === 'ListFeatures')) {
        assert.equal((line as { has_location?: boolean }).has_location, true, JSON.stringify(line));
      }
    } finally {
      await core.stop();
    }
  });
});
