/** Real core servers for tests: in-process on an ephemeral port, or as a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { formatHostPort } from '../../common/cli-options.js';
import { DEFAULT_FEATURE_DB, loadFeatures } from '../../core-server/features.js';
import {
  createMemoryNotes,
  DEFAULT_NOTE_LIMITS,
  type NoteStoreLimits,
} from '../../core-server/notes/index.js';
import { type CoreServerOptions, createCoreServer } from '../../core-server/server.js';
import { type RouteGuideClient, routeguide } from '../../proto/index.js';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname;

export interface RunningCore {
  readonly address: string;
  readonly client: RouteGuideClient;
  stop(graceMs?: number): Promise<void>;
}

export async function startCore(
  overrides: Partial<CoreServerOptions> & { noteLimits?: Partial<NoteStoreLimits>; port?: number } = {},
): Promise<RunningCore> {
  const { noteLimits, port = 0, ...rest } = overrides;
  // A store passed without its bus keeps this one, on which nothing is published: no live notes.
  const notes = createMemoryNotes({ ...DEFAULT_NOTE_LIMITS, ...noteLimits });
  const server = createCoreServer({
    features: loadFeatures(DEFAULT_FEATURE_DB),
    notes: notes.store,
    bus: notes.bus,
    maxMessageBytes: 1024 * 1024,
    maxConcurrentStreams: 1000,
    logger: pino({ level: 'silent' }),
    ...rest,
  });
  const bound = await server.listen({ host: '127.0.0.1', port });
  const address = formatHostPort(bound);
  const client = new routeguide.RouteGuide(address, grpc.credentials.createInsecure());
  return {
    address,
    client,
    async stop(graceMs = 0) {
      client.close();
      await server.shutdown(graceMs);
    },
  };
}

export interface SpawnedProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first stdout/stderr JSON log line whose msg matches. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a TypeScript entry point of this repo as a real process (through tsx). */
export function spawnTs(entry: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): SpawnedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: {
    match: (line: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const waiter of [...waiters]) {
      if (waiter.match(parsed)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(parsed);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  child.on('error', () => {});
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return {
    child,
    lines,
    exited,
    waitForLog(msg, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for log ${msg}; output so far:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        const match = (line: Record<string, unknown>) =>
          typeof line.msg === 'string' && (typeof msg === 'string' ? line.msg === msg : msg.test(line.msg));
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`process exited while waiting for log ${msg}; output:\n${lines.join('\n')}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The core server as a real process on an ephemeral port; resolves once it is listening. */
export async function spawnCore(
  args: readonly string[] = [],
): Promise<SpawnedProcess & { address: string; metricsUrl: string }> {
  const proc = spawnTs('core-server/main.ts', [
    '--listen',
    '127.0.0.1:0',
    '--metrics-listen',
    '127.0.0.1:0',
    ...args,
  ]);
  const line = await proc.waitForLog('core server listening');
  return Object.assign(proc, { address: String(line.address), metricsUrl: String(line.metrics) });
}
