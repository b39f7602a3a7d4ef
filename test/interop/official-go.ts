/**
 * The official grpc-go RouteGuide example client and server, built as published: the sources come
 * straight from Debian's golang-google-grpc-dev (its examples/route_guide tree, unmodified; nothing
 * of it is kept in this repository), with stubs generated at test time from the example's own proto.
 *
 * Offline build (no module proxy, no network): protoc + protoc-gen-go + protoc-gen-go-grpc write
 * the stubs under a vendor/ directory beside the two programs, at the example's go_package path
 * (with the example's `data` package), then one `go build` in GOPATH mode with /usr/share/gocode as
 * the second GOPATH entry. The build tree lives in a temporary directory removed when the process
 * exits. The two binaries are built once per test run: the runner starts one process per test file,
 * so they are kept in a directory named after the runner's pid (this process's parent), which the
 * first build of a later run removes once that runner is gone.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../helpers/gateway.js';

const execFileAsync = promisify(execFile);

/** Where golang-google-grpc-dev installs the examples (client, server, proto, testdata). */
export const GRPC_GO_EXAMPLES = '/usr/share/doc/golang-google-grpc-dev/examples';
const ROUTE_GUIDE = join(GRPC_GO_EXAMPLES, 'route_guide');
/** The example server's feature database, passed with -json_db_file. */
export const OFFICIAL_FEATURE_DB = join(ROUTE_GUIDE, 'testdata/route_guide_db.json');
/** Where Debian's golang-*-dev packages install Go library sources (GOPATH layout). */
const GOCODE = '/usr/share/gocode';
/** option go_package of the example's proto: the import path both programs use. */
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
    what: `the official RouteGuide example in ${ROUTE_GUIDE}`,
    ok: () =>
      ['client/client.go', 'server/server.go', 'routeguide/route_guide.proto'].every((file) =>
        existsSync(join(ROUTE_GUIDE, file)),
      ),
    apt: 'golang-google-grpc-dev',
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
    // grpc-go 1.33 marshals through github.com/golang/protobuf/proto. Debian's 1.3 branch of it
    // (the first alternative golang-google-grpc-dev depends on) predates APIv2 and panics on
    // protoc-gen-go 1.28 messages; 1.4+ wraps APIv2 and has registry.go.
    what: `github.com/golang/protobuf >= 1.4 in ${GOCODE}/src/github.com/golang/protobuf`,
    ok: () => existsSync(join(GOCODE, 'src/github.com/golang/protobuf/proto/registry.go')),
    apt: 'golang-github-golang-protobuf-1-5-dev',
  },
];

function runs(command: string, args: readonly string[]): boolean {
  const probe = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  return probe.error === undefined && probe.status === 0;
}

/** Why the official Go programs cannot be built here, or null when everything is installed. */
export function officialGoUnavailable(): string | null {
  const missing = REQUIREMENTS.filter((requirement) => !requirement.ok());
  if (missing.length === 0) return null;
  const packages = [...new Set(missing.map((m) => m.apt))].join(' ');
  return `missing ${missing.map((m) => m.what).join(', ')} (apt-get install -y ${packages})`;
}

/**
 * A missing toolchain skips the test loudly on a developer's machine and fails it under CI=true,
 * where every package is installed. Returns true when the test should go on.
 */
export function requireOfficialGo(t: TestContext): boolean {
  const unavailable = officialGoUnavailable();
  if (unavailable === null) return true;
  if (process.env.CI === 'true')
    assert.fail(`the official grpc-go RouteGuide example is required in CI: ${unavailable}`);
  const warning = `SKIPPING: the official grpc-go RouteGuide example cannot be built: ${unavailable}`;
  console.warn(warning);
  t.diagnostic(warning);
  t.skip(warning);
  return false;
}

export interface OfficialGoBinaries {
  readonly client: string;
  readonly server: string;
  /** How long protoc + go build took; 0 when another test file of this run had built them. */
  readonly buildMs: number;
}

/** The binaries of one test run, in `${RUN_DIR_PREFIX}<runner pid>/bin`. */
const RUN_DIR_PREFIX = 'route-guide-official-go-run-';
const runDir = join(tmpdir(), `${RUN_DIR_PREFIX}${process.ppid}`);

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the binaries of earlier runs whose runner has exited. */
async function removeFinishedRuns(): Promise<void> {
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith(RUN_DIR_PREFIX)) continue;
    const pid = Number(entry.slice(RUN_DIR_PREFIX.length));
    if (Number.isInteger(pid) && pid !== process.ppid && !isAlive(pid))
      await rm(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

const binariesIn = (bin: string) => ({ client: join(bin, 'client'), server: join(bin, 'server') });

let built: Promise<OfficialGoBinaries> | undefined;
let workDir: string | undefined;

process.once('exit', () => {
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

async function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  try {
    await execFileAsync(command, args, {
      cwd,
      env: { ...process.env, ...env },
      timeout: 300_000,
      maxBuffer: 10 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(' ')} failed: ${(error as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
    );
  }
}

/** Generates the stubs and builds the official client and server, once per test run. */
export function buildOfficialGo(): Promise<OfficialGoBinaries> {
  built ??= (async () => {
    await removeFinishedRuns();
    const shared = binariesIn(join(runDir, 'bin'));
    if (existsSync(shared.client) && existsSync(shared.server)) return { ...shared, buildMs: 0 };
    workDir = await mkdtemp(join(tmpdir(), 'route-guide-official-go-'));
    const started = performance.now();
    const gopath = join(workDir, 'gopath');
    const root = join(gopath, 'src/routeguideofficial');
    // Vendored beside the programs so that the rest of google.golang.org/grpc still resolves to
    // GOCODE (GOPATH mode looks an import path up in one root only).
    const vendored = join(root, 'vendor/google.golang.org/grpc/examples');
    await mkdir(join(vendored, 'route_guide'), { recursive: true });
    await cp(join(GRPC_GO_EXAMPLES, 'data'), join(vendored, 'data'), { recursive: true });
    await cp(join(ROUTE_GUIDE, 'client'), join(root, 'client'), { recursive: true });
    await cp(join(ROUTE_GUIDE, 'server'), join(root, 'server'), { recursive: true });
    const protoDir = join(ROUTE_GUIDE, 'routeguide');
    await run(
      'protoc',
      [
        `-I${protoDir}`,
        `--go_out=${join(root, 'vendor')}`,
        `--go-grpc_out=${join(root, 'vendor')}`,
        join(protoDir, 'route_guide.proto'),
      ],
      workDir,
    );
    assert.ok(
      existsSync(join(root, 'vendor', STUB_IMPORT_PATH, 'route_guide_grpc.pb.go')),
      `protoc did not generate ${STUB_IMPORT_PATH}/route_guide_grpc.pb.go`,
    );
    const bin = join(workDir, 'bin');
    await mkdir(bin);
    await run('go', ['build', '-o', `${bin}/`, './client', './server'], root, {
      GO111MODULE: 'off',
      GOPATH: `${gopath}:${GOCODE}`,
      GOCACHE: join(workDir, 'gocache'),
      GOFLAGS: '',
      GOPROXY: 'off',
      // Pure Go: no C compiler needed (golang-go only recommends gcc).
      CGO_ENABLED: '0',
    });
    const buildMs = Math.round(performance.now() - started);
    // Published whole by one rename, so another file of this run sees both binaries or none.
    await mkdir(runDir, { recursive: true });
    try {
      await rename(bin, join(runDir, 'bin'));
    } catch {
      // Another test file of this run published its build first: use that one (or, should the
      // rename have failed otherwise, this process's own build).
      if (!existsSync(shared.server)) return { ...binariesIn(bin), buildMs };
    }
    return { ...shared, buildMs };
  })();
  return built;
}

export interface OfficialGoServer {
  readonly address: string;
  readonly child: ChildProcess;
  /** Everything the server wrote to stderr (its log). */
  readonly output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * The official RouteGuide server on an ephemeral port with the example's own testdata. It listens
 * on `localhost:<port>` and logs nothing when ready, so readiness is a successful TCP connect.
 */
export async function startOfficialGoServer(binary: string): Promise<OfficialGoServer> {
  const port = await freePort();
  const child = spawn(binary, ['-port', String(port), '-json_db_file', OFFICIAL_FEATURE_DB], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.on('error', () => {});
  const exited = once(child, 'exit');
  const server: OfficialGoServer = {
    address: `127.0.0.1:${port}`,
    child,
    output: () => output,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await exited;
      }
    },
  };
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await server.kill();
      assert.fail(`the official Go RouteGuide server did not start on port ${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return server;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
