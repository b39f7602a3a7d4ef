/**
 * The library as people install it: `npm pack` of this checkout (prepare builds the compiled
 * client), the tarball installed in an empty folder, then `routeguide-gateway/client` imported from
 * plain Node (no tsx), type-checked against by a strict TypeScript consumer, and the `routechat` bin
 * run.
 *
 * The install needs no network: the empty folder gets a package-lock made of this repo's lock entries
 * for the runtime dependencies (and this repo's overrides), so `npm ci --offline` installs exactly
 * the versions `npm ci` already put in npm's cache. Resolving the ranges afresh would need the
 * registry's package documents, which `npm ci` does not cache, and could pick newer versions.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../helpers/core.js';
import { installPackedApp, packProject, run } from '../helpers/packed-app.js';

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

interface Manifest {
  readonly name: string;
  readonly dependencies: Record<string, string>;
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, 'utf8')) as T;

/** A browser-like consumer: DOM's WebSocket, no Node types, every check on, the package's too. */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'DOM'],
    types: [],
    strict: true,
    skipLibCheck: false,
    noEmit: true,
  },
  files: ['uses-types.ts', 'wrong-types.ts'],
};

const USES_TYPES = `
import { GatewayClient, GatewayError, RouteChatSocket, StatusCode } from 'routeguide-gateway/client';

export const client = new GatewayClient('ws://localhost:8080/v2', { WebSocket });
export async function placeName(latitude: number, longitude: number): Promise<string> {
  try {
    const feature = await client.unary('routeguide.RouteGuide/GetFeature', { latitude, longitude });
    const name: string = feature.name;
    const at: number | undefined = feature.location?.latitude;
    return \`\${name} at \${at}\`;
  } catch (error) {
    if (error instanceof GatewayError && error.code === StatusCode.UNAVAILABLE) return 'offline';
    throw error;
  }
}
export const chat = new RouteChatSocket({ url: 'ws://localhost:8080/v1/routechat', WebSocket });
export const fate = chat.send({ location: { latitude: 1, longitude: 2 }, message: 'hello' });
`;

/** Each line marked `// error:` must fail with that message, and nothing else may fail. */
const WRONG_TYPES = `
import type { GatewayClient } from 'routeguide-gateway/client';

export async function wrong(client: GatewayClient): Promise<number> {
  await client.unary('routeguide.RouteGuide/GetFeature', { latitude: 'x', longitude: 2 }); // error: TS2322 Type 'string' is not assignable to type 'number'.
  const feature = await client.unary('routeguide.RouteGuide/GetFeature', {});
  const count: number = feature.name; // error: TS2322 Type 'string' is not assignable to type 'number'.
  return count;
}
`;

const expectedErrors = (file: string, source: string): string[] =>
  source.split('\n').flatMap((line, index) => {
    const marker = /\/\/ error: (TS\d+) (.*)$/.exec(line);
    return marker ? [`${file}:${index + 1}: ${marker[1]} ${marker[2]}`] : [];
  });

describe('the package: npm pack, install the tarball in an empty folder, use it', () => {
  let work: string;
  let app: string;
  let pkg: Manifest;

  before(async () => {
    pkg = await readJson<Manifest>(join(REPO_ROOT, 'package.json'));
    work = await mkdtemp(join(tmpdir(), 'routechat-pack-'));
    const tarball = await packProject(work);
    app = join(work, 'app');
    await installPackedApp(app, tarball, []);
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the tarball holds compiled JavaScript and declarations, no TypeScript sources', async () => {
    const root = join(app, 'node_modules', 'routeguide-gateway');
    const lib = await readdir(join(root, 'dist', 'clients', 'lib'));
    assert.ok(lib.includes('index.js') && lib.includes('index.d.ts'), lib.join(' '));
    await assert.rejects(readdir(join(root, 'clients', 'lib')), 'no sources shipped');
    const proto = await readdir(join(root, 'dist', 'proto'), { recursive: true, withFileTypes: true });
    const protoFiles = proto.filter((entry) => entry.isFile()).map((entry) => entry.name);
    assert.ok(
      protoFiles.length > 0 && protoFiles.every((name) => name.endsWith('.d.ts')),
      `only the message types' declarations from proto/: ${protoFiles.join(' ')}`,
    );
  });

  test("import { RouteChatSocket } from 'routeguide-gateway/client' works in plain Node", async () => {
    const script = [
      "import { RouteChatSocket, OutboxFullError, StatusCode } from 'routeguide-gateway/client';",
      "import WebSocket from 'ws';",
      "const chat = new RouteChatSocket({ url: 'ws://127.0.0.1:9/v1/routechat', WebSocket });",
      'const status = await chat.status;',
      'console.log(typeof RouteChatSocket, typeof OutboxFullError, status.code === StatusCode.UNAVAILABLE);',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
    assert.equal(stdout.trim(), 'function function true');
  });

  test('npx routechat --help runs the compiled bin without tsx', async () => {
    const { stdout } = await run('npx', ['--no-install', 'routechat', '--help'], {
      cwd: app,
      timeout: 60_000,
    });
    assert.match(stdout, /^Usage: routechat/);
    await assert.rejects(readdir(join(app, 'node_modules', 'tsx')), 'tsx is not installed');
  });

  describe('a strict TypeScript consumer, skipLibCheck off (one tsc run over both files)', () => {
    let exitCode: number;
    /** `file:line: TSxxxx message` for each error tsc reported. */
    let errors: string[];
    /** The packages under the app's node_modules whose files tsc read. */
    let packagesRead: Set<string>;

    before(async () => {
      await writeFile(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG));
      await writeFile(join(app, 'uses-types.ts'), USES_TYPES);
      await writeFile(join(app, 'wrong-types.ts'), WRONG_TYPES);
      const args = [TSC, '-p', '.', '--pretty', 'false', '--listFiles'];
      const output = await run(process.execPath, args, { cwd: app, timeout: 180_000 }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code?: unknown; stdout?: string }) => ({ code: error.code, stdout: error.stdout ?? '' }),
      );
      assert.equal(typeof output.code, 'number', `tsc ran to the end: ${output.stdout}`);
      exitCode = output.code as number;
      const lines = output.stdout.split('\n');
      errors = lines.flatMap((line) => {
        const match = /^(.+)\((\d+),\d+\): error (TS\d+): (.*)$/.exec(line);
        return match ? [`${match[1]}:${match[2]}: ${match[3]} ${match[4]}`] : [];
      });
      const modules = `${join(app, 'node_modules')}/`;
      packagesRead = new Set(
        lines
          .filter((line) => line.startsWith(modules))
          .map((line) => {
            const [scope = '', name = ''] = line.slice(modules.length).split('/');
            return scope.startsWith('@') ? `${scope}/${name}` : scope;
          }),
      );
    });

    test('uses GatewayClient method types and RouteChatSocket with no error, in it or in the package', () => {
      const elsewhere = errors.filter((error) => !error.startsWith('wrong-types.ts:'));
      assert.deepEqual(elsewhere, []);
    });

    test('a wrong field type in a request, or a response field used as the wrong type, fails to compile', () => {
      assert.notEqual(exitCode, 0, 'tsc failed');
      assert.deepEqual(
        errors.filter((error) => error.startsWith('wrong-types.ts:')),
        expectedErrors('wrong-types.ts', WRONG_TYPES),
      );
    });

    test('the declarations reach only declared dependencies: no gRPC package, no Node types', () => {
      assert.ok(packagesRead.has(pkg.name), [...packagesRead].join(' '));
      for (const name of packagesRead) {
        if (name === pkg.name) continue;
        assert.ok(Object.hasOwn(pkg.dependencies, name), `${name} is a dependency of ${pkg.name}`);
        assert.ok(!name.startsWith('@grpc/') && !name.startsWith('@types/'), `${name} is not needed`);
      }
    });
  });
});
