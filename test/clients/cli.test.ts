import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { SEED_REPLY_MESSAGES } from '../../clients/seed-notes.js';
import { REPO_ROOT, type SpawnedProcess, spawnCore, spawnTs } from '../helpers/core.js';
import { freePort } from '../helpers/gateway.js';

interface CliRun {
  readonly code: number | null;
  readonly stdout: string[];
  readonly stderr: string[];
}

/** Runs the routechat CLI as a real process; `stdin` is written then closed (none: closed at once). */
async function runCli(args: readonly string[], stdin = '', entry = 'clients/cli/main.ts'): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.on('error', () => {});
  child.stdin.on('error', () => {});
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.end(stdin);
  const [code] = (await once(child, 'close')) as [number | null];
  const lines = (text: string) => text.split('\n').filter((line) => line.length > 0);
  return { code, stdout: lines(stdout), stderr: lines(stderr) };
}

async function spawnGateway(core: string): Promise<SpawnedProcess & { url: string }> {
  const gateway = spawnTs('gateway/main.ts', ['--listen', '127.0.0.1:0', '--core', core]);
  const line = await gateway.waitForLog('gateway listening');
  return Object.assign(gateway, { url: `ws://${String(line.address)}/v1/routechat` });
}

const SEED_SEQUENCE = [...SEED_REPLY_MESSAGES];

describe('routechat CLI against a real gateway and core (processes)', () => {
  let core: SpawnedProcess & { address: string };
  let gateway: SpawnedProcess & { url: string };
  before(async () => {
    core = await spawnCore();
    gateway = await spawnGateway(core.address);
  });
  after(async () => {
    await gateway.stop();
    await core.stop();
  });

  test('--demo --json prints the official RouteChat sequence, then status OK, and exits 0', async () => {
    const run = await runCli(['--url', gateway.url, '--demo', '--json']);
    assert.equal(run.code, 0, run.stderr.join('\n'));
    const frames = run.stdout.map((line) => JSON.parse(line) as { message?: string; type?: string });
    const notes = frames.filter((frame) => frame.type === undefined);
    assert.deepEqual(
      notes.map((note) => note.message),
      SEED_SEQUENCE,
    );
    assert.deepEqual(frames.at(-1), { type: 'status', code: 0, name: 'OK', message: '', metadata: {} });
    assert.deepEqual(run.stderr, []);
  });

  test('--note LAT,LNG,TEXT keeps commas in the text and prints human lines', async () => {
    const run = await runCli(['--url', gateway.url, '--note', '5,6,hello, world', '--note', '5,6,again']);
    assert.equal(run.code, 0, run.stderr.join('\n'));
    assert.deepEqual(run.stdout, ['(5, 6) "hello, world"', '(5, 6) "hello, world"', '(5, 6) "again"']);
  });

  test('piped JSON lines are sent as they are read: each reply prints while stdin is still open', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'clients/cli/main.ts', '--url', gateway.url, '--json'],
      {
        cwd: REPO_ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    child.on('error', () => {});
    child.stdin.on('error', () => {});
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const nextMessage = async () => {
      const { value } = await lines.next();
      return (JSON.parse(String(value)) as { message?: string; name?: string }).message;
    };
    const note = (message: string) =>
      `${JSON.stringify({ location: { latitude: 9, longitude: 9 }, message })}\n`;
    child.stdin.write(note('piped one'));
    assert.equal(await nextMessage(), 'piped one');
    child.stdin.write(note('piped two'));
    assert.equal(await nextMessage(), 'piped one');
    assert.equal(await nextMessage(), 'piped two');
    child.stdin.end();
    const { value: status } = await lines.next();
    assert.equal((JSON.parse(String(status)) as { name: string }).name, 'OK');
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(code, 0);
  });

  test('a bad input line is reported on stderr with its line number, the rest is sent, exit 1', async () => {
    const input = [
      'not json',
      JSON.stringify({ location: { latitude: 'north' }, message: 'bad' }),
      JSON.stringify({ location: { latitude: 11, longitude: 11 }, message: 'good' }),
    ].join('\n');
    const run = await runCli(['--url', gateway.url], input);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stdout, ['(11, 11) "good"']);
    assert.match(run.stderr[0] ?? '', /^routechat: stdin line 1: not JSON/);
    assert.match(run.stderr[1] ?? '', /^routechat: stdin line 2: invalid RouteNote: location\.latitude/);
  });

  test('{"type":"end"} on stdin half-closes early: later lines are not sent', async () => {
    const input = [
      JSON.stringify({ location: { latitude: 12, longitude: 12 }, message: 'before end' }),
      JSON.stringify({ type: 'end' }),
      JSON.stringify({ location: { latitude: 12, longitude: 12 }, message: 'after end' }),
    ].join('\n');
    const run = await runCli(['--url', gateway.url], input);
    assert.equal(run.code, 0, run.stderr.join('\n'));
    assert.deepEqual(run.stdout, ['(12, 12) "before end"']);
  });

  test('--note with a decimal point is degrees: 40.7,-74.0 is sent as E7 407000000,-740000000', async () => {
    const run = await runCli(['--url', gateway.url, '--note', '40.7,-74.0,in degrees', '--note', '1,2,e7']);
    assert.equal(run.code, 0, run.stderr.join('\n'));
    assert.deepEqual(run.stdout, ['(407000000, -740000000) "in degrees"', '(1, 2) "e7"']);
  });

  test('--help prints usage through the bin launcher (clients/cli/routechat.js) and exits 0', async () => {
    const run = await runCli(['--help'], '', 'clients/cli/routechat.js');
    assert.equal(run.code, 0, run.stderr.join('\n'));
    assert.match(run.stdout[0] ?? '', /^Usage: routechat/);
    assert.ok(run.stdout.some((line) => line.includes('--demo')));
  });
});

describe('routechat CLI exit codes for failures', () => {
  test('core down: the gateway reports UNAVAILABLE and the CLI exits 10 + 14 = 24', async () => {
    const gateway = await spawnGateway(`127.0.0.1:${await freePort()}`);
    try {
      const run = await runCli(['--url', gateway.url, '--demo']);
      assert.equal(run.code, 24, run.stderr.join('\n'));
      assert.match(run.stderr.join('\n'), /^routechat: UNAVAILABLE/m);
    } finally {
      await gateway.stop();
    }
  });

  test('no gateway listening: UNAVAILABLE, exit 24', async () => {
    const run = await runCli(['--url', `ws://127.0.0.1:${await freePort()}/v1/routechat`, '--demo']);
    assert.equal(run.code, 24);
    assert.match(run.stderr.join('\n'), /UNAVAILABLE/);
  });

  test('configuration errors exit 2 before connecting', async () => {
    const badUrl = await runCli(['--url', 'http://127.0.0.1:1/v1/routechat', '--demo']);
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr[0] ?? '', /invalid --url/);
    const both = await runCli(['--demo', '--note', '1,2,x']);
    assert.equal(both.code, 2);
    const badNote = await runCli(['--note', 'north,-74,x']);
    assert.equal(badNote.code, 2);
    assert.match(badNote.stderr[0] ?? '', /degrees .*E7/);
    const outOfRange = await runCli(['--note', '91.5,0,x']);
    assert.equal(outOfRange.code, 2);
    assert.match(outOfRange.stderr[0] ?? '', /out of range/);
  });

  test('a server that accepts TCP and never answers: the handshake times out (exit 14), no hang', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      const started = performance.now();
      const run = await runCli([
        '--url',
        `ws://127.0.0.1:${port}/v1/routechat`,
        '--handshake-timeout',
        '700',
        '--demo',
      ]);
      const elapsed = performance.now() - started;
      assert.equal(run.code, 14, run.stderr.join('\n'));
      assert.match(run.stderr.join('\n'), /DEADLINE_EXCEEDED: no WebSocket handshake answer within 700 ms/);
      assert.ok(elapsed < 15_000, `took ${Math.round(elapsed)} ms`);
      assert.ok(sockets.length >= 1, 'the server did accept the connection');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  test('a wrong path (HTTP 404 to the upgrade) is a usage error, exit 2, not "server down"', async () => {
    const http = createHttpServer((_request, response) => response.writeHead(404).end());
    http.on('upgrade', (_request, socket) => {
      socket.on('error', () => {});
      socket.end(
        'HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}',
      );
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    try {
      const run = await runCli(['--url', `ws://127.0.0.1:${port}/v1/wrong`, '--demo', '--reconnect']);
      assert.equal(run.code, 2, run.stderr.join('\n'));
      assert.match(run.stderr.join('\n'), /upgrade refused: HTTP 404 \(no WebSocket endpoint at this URL/);
      assert.doesNotMatch(run.stderr.join('\n'), /reconnecting/, 'a 404 is never retried');
    } finally {
      http.close();
    }
  });
});

describe('routechat --reconnect', () => {
  test('core down at first: the CLI waits, reconnects by itself and delivers the note once the core is up', async () => {
    const corePort = await freePort();
    const gateway = await spawnGateway(`127.0.0.1:${corePort}`);
    let core: SpawnedProcess | undefined;
    try {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'clients/cli/main.ts',
          '--url',
          gateway.url,
          '--reconnect',
          '--note',
          '3.5,4.5,patience',
        ],
        { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      child.on('error', () => {});
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      child.stdin.end();
      const deadline = Date.now() + 20_000;
      while (!/reconnecting in \d+ ms/.test(stderr) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.match(stderr, /UNAVAILABLE[\s\S]*reconnecting in \d+ ms \(attempt 1\)/);
      core = spawnTs('core-server/main.ts', [
        '--listen',
        `127.0.0.1:${corePort}`,
        '--metrics-listen',
        '127.0.0.1:0',
      ]);
      await core.waitForLog('core server listening');
      const [code] = (await once(child, 'close')) as [number | null];
      assert.equal(code, 0, stderr);
      assert.equal(stdout.trim(), '(35000000, 45000000) "patience"');
    } finally {
      await gateway.stop();
      await core?.stop();
    }
  });
});
