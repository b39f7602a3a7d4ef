/**
 * The library as people install it: `npm pack` of this checkout (prepare builds the compiled
 * client), the tarball installed in an empty folder, then `routeguide-gateway/client` imported from
 * plain Node (no tsx) and the `routechat` bin run. Dependencies come from npm's cache when it has them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/core.js';

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('the package: npm pack, install the tarball in an empty folder, use it', () => {
  let work: string;
  let app: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'routechat-pack-'));
    await run(npm, ['pack', '--silent', '--pack-destination', work], { cwd: REPO_ROOT, timeout: 120_000 });
    const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack made a tarball');
    app = join(work, 'app');
    await run('mkdir', ['-p', app]);
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module' }),
    );
    await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, tarball)], {
      cwd: app,
      timeout: 240_000,
    });
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the tarball holds compiled JavaScript and declarations, no TypeScript sources', async () => {
    const root = join(app, 'node_modules', 'routeguide-gateway');
    const lib = await readdir(join(root, 'dist', 'clients', 'lib'));
    assert.ok(lib.includes('index.js') && lib.includes('index.d.ts'), lib.join(' '));
    await assert.rejects(readdir(join(root, 'clients', 'lib')), 'no sources shipped');
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
});
