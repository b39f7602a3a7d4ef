/**
 * The chaos run: the whole deployment (test/helpers/deployment.ts: Redis with AOF, or Redis under
 * Sentinel; two cores on it; two gateways with `--core A,B`; HAProxy with deploy/haproxy.cfg) and a
 * fleet of library clients sending unique notes with exactly-once delivery
 * (test/helpers/note-fleet.ts), while a random component is killed (SIGKILL or SIGTERM) and
 * started again a few seconds later, over and over. Afterwards every place is read back through
 * RouteChat and the run is judged: nothing confirmed missing, nothing stored twice, every note's
 * final fate confirmed, no client stuck, no process that exited unasked, no error-level log line.
 *
 * It lives with the tests because it is one: the same helpers start the same processes, and CI
 * runs it (test/chaos/chaos.test.ts) for a minute; `npm run chaos` (main.ts) runs it for longer.
 */
import type { ReconnectOptions } from '../../clients/lib/index.js';
import type { SpawnedProcess } from '../helpers/core.js';
import { type Deployment, type RedisSlot, type ServiceSlot, startDeployment } from '../helpers/deployment.js';
import { type FleetClient, type NoteFleet, startNoteFleet } from '../helpers/note-fleet.js';
import type { RedisServer } from '../helpers/redis.js';

export type Range = readonly [number, number];

export interface ChaosOptions {
  readonly durationMs: number;
  readonly clients: number;
  /** Each client sends a note after a random wait in this range. */
  readonly sendEveryMs: Range;
  /** From one kill to the next. */
  readonly killEveryMs: Range;
  /** From a kill to the restart. */
  readonly downForMs: Range;
  /** Redis under Sentinel (a primary, two replicas, three sentinels) instead of one Redis. */
  readonly sentinel: boolean;
  /**
   * The fleet's delivery. `exactly-once` is what the run judges; the others are controls that
   * show what the run catches (at-least-once stores resends twice, at-most-once loses unknowns).
   */
  readonly delivery: 'exactly-once' | 'at-least-once' | 'at-most-once';
  /** Only components whose name contains this are killed (`redis`, `core`, `gateway 1`…); all by default. */
  readonly only?: string;
  /**
   * The fleet's reconnect policy. Default: `retries: Infinity` with delays from 100 ms up to 2 s,
   * what docs/clients.md tells a service to use; `{ retries: 20 }` is the CLI's `--reconnect`.
   */
  readonly reconnect?: ReconnectOptions;
  /** Progress lines (kills, restarts, phases). */
  readonly log: (line: string) => void;
}

export const DEFAULT_CHAOS: Omit<ChaosOptions, 'log'> = {
  durationMs: 2 * 60_000,
  clients: 20,
  sendEveryMs: [100, 200],
  killEveryMs: [10_000, 20_000],
  downForMs: [2_000, 5_000],
  sentinel: false,
  delivery: 'exactly-once',
};

/** One kill and its restart. */
export interface ChaosEvent {
  /** ms since the fleet started. */
  readonly atMs: number;
  readonly component: string;
  readonly signal: 'SIGKILL' | 'SIGTERM';
  readonly downMs: number;
  /** How the process exited. */
  readonly exit: string;
}

export interface ChaosReport {
  readonly options: Omit<ChaosOptions, 'log'>;
  readonly events: readonly ChaosEvent[];
  readonly sent: number;
  readonly confirmed: number;
  /** Final fate refused. */
  readonly refused: number;
  /** Final fate unknown. */
  readonly unknown: number;
  /** Final fate rejected or unsent (never expected). */
  readonly other: number;
  /** Notes resent after an intermediate refused or unknown fate. */
  readonly resent: number;
  /** Confirmed, but not read back. */
  readonly missing: number;
  /** Copies beyond the first of a message read back at its place. */
  readonly duplicated: number;
  /** Longest time a client went without a confirmed note while it was sending. */
  readonly longestGapMs: number;
  /** Clients with notes still unsettled, or not streaming again, after the run. */
  readonly stuck: readonly string[];
  readonly unexpectedExits: readonly string[];
  /** Log lines at level error or worse (pino ≥ 50) from the cores and gateways, or crash output. */
  readonly errorLines: readonly string[];
  /**
   * HAProxy's `[ALERT]` lines, reported, not judged: it alerts "no server available" whenever every
   * gateway fails /readyz, which is the deployment's way of saying that Redis is down.
   */
  readonly proxyAlerts: readonly string[];
  /** The done-when conditions that failed; empty: the run passed. */
  readonly failures: readonly string[];
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const within = ([min, max]: Range) => Math.round(min + Math.random() * (max - min));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** A component the run kills and restarts, whatever kind of process it is. */
interface Target {
  readonly name: string;
  stop(signal: NodeJS.Signals): Promise<string>;
  start(): Promise<unknown>;
}

const exitText = ({ code, signal }: { code: number | null; signal: NodeJS.Signals | null }) =>
  signal ? `signal ${signal}` : `code ${code}`;

function serviceTarget(slot: ServiceSlot, stopped: Map<SpawnedProcess, NodeJS.Signals>): Target {
  return {
    name: slot.name,
    async stop(signal) {
      if (slot.proc) stopped.set(slot.proc, signal);
      return exitText(await slot.stop(signal));
    },
    start: () => slot.start(),
  };
}

function redisTarget(slot: RedisSlot, stopped: Map<RedisServer, NodeJS.Signals>): Target {
  return {
    name: slot.name,
    async stop(signal) {
      stopped.set(slot.server, signal);
      await slot.stop(signal);
      return exitText({ code: slot.server.child.exitCode, signal: slot.server.child.signalCode });
    },
    start: () => slot.start(),
  };
}

/** pino's level numbers: 50 error, 60 fatal. */
const ERROR_LEVEL = 50;
/** Output a crashing Node process prints (not JSON). */
const CRASH_OUTPUT = /^(\w*Error\b|Uncaught|\s+at .+:\d+:\d+\)?$|node:internal)/;

function errorLines(name: string, lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    let level: unknown;
    try {
      level = (JSON.parse(line) as { level?: unknown }).level;
    } catch {
      if (CRASH_OUTPUT.test(line)) out.push(`${name}: ${line}`);
      continue;
    }
    if (typeof level === 'number' && level >= ERROR_LEVEL) out.push(`${name}: ${line}`);
  }
  return out;
}

/** A process that exited without being asked, or exited badly when asked with SIGTERM. */
function unexpectedExit(
  name: string,
  exit: { code: number | null; signal: NodeJS.Signals | null },
  askedWith: NodeJS.Signals | undefined,
): string | undefined {
  if (exit.code === null && exit.signal === null) return undefined;
  if (askedWith === undefined) return `${name} exited (${exitText(exit)}) unasked`;
  if (askedWith === 'SIGTERM' && exit.code !== 0)
    return `${name} exited with ${exitText(exit)} after SIGTERM`;
  return undefined;
}

function longestGap(client: FleetClient, from: number, to: number): number {
  const times = [from, ...[...client.confirmedAt.values()].sort((a, b) => a - b), to];
  let longest = 0;
  for (let i = 1; i < times.length; i += 1)
    longest = Math.max(longest, (times[i] as number) - (times[i - 1] as number));
  return longest;
}

/** Waits until `condition` holds or `timeoutMs` passes; resolves with whether it held. */
async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { log } = options;
  log(`starting the deployment${options.sentinel ? ' (Redis under Sentinel)' : ''}`);
  const deployment: Deployment = await startDeployment({
    keyPrefix: `chaos-${process.pid}:`,
    sentinel: options.sentinel,
  });
  let fleet: NoteFleet | undefined;
  try {
    const stoppedServices = new Map<SpawnedProcess, NodeJS.Signals>();
    const stoppedRedis = new Map<RedisServer, NodeJS.Signals>();
    const targets: Target[] = [
      ...deployment.cores.map((slot) => serviceTarget(slot, stoppedServices)),
      ...deployment.gateways.map((slot) => serviceTarget(slot, stoppedServices)),
      ...deployment.redisSlots.map((slot) => redisTarget(slot, stoppedRedis)),
    ].filter((target) => options.only === undefined || target.name.includes(options.only));
    if (targets.length === 0) throw new Error(`no component's name contains ${JSON.stringify(options.only)}`);
    log(`deployment up: ${deployment.url}; ${options.clients} clients, ${options.delivery}`);
    fleet = startNoteFleet({
      url: deployment.url,
      clients: options.clients,
      sendEveryMs: options.sendEveryMs,
      delivery: options.delivery,
      // The setting docs/clients.md recommends for a service that must ride out any outage.
      reconnect: options.reconnect ?? {
        retries: Number.POSITIVE_INFINITY,
        initialDelayMs: 100,
        maxDelayMs: 2_000,
      },
    });
    const started = Date.now();
    const endAt = started + options.durationMs;
    const events: ChaosEvent[] = [];
    const failures: string[] = [];
    let nextKill = started + within(options.killEveryMs);
    while (nextKill < endAt) {
      await sleep(nextKill - Date.now());
      const killedAt = Date.now();
      const target = pick(targets);
      const signal = pick(['SIGKILL', 'SIGTERM'] as const);
      const atMs = Date.now() - started;
      const exit = await target.stop(signal);
      const downMs = within(options.downForMs);
      await sleep(downMs);
      try {
        await target.start();
      } catch (error) {
        failures.push(`${target.name} did not start again: ${(error as Error).message.split('\n')[0]}`);
        break;
      }
      events.push({ atMs, component: target.name, signal, downMs, exit });
      log(
        `${(atMs / 1000).toFixed(1)} s: ${signal} ${target.name} (${exit}), started again after ${downMs} ms`,
      );
      nextKill = killedAt + within(options.killEveryMs);
      // An outage longer than the interval: the next kill comes an interval after the restart.
      if (nextKill < Date.now()) nextKill = Date.now() + within(options.killEveryMs);
    }
    await sleep(endAt - Date.now());

    log('chaos over: waiting for every client to stream again');
    const calm = Date.now();
    await deployment.waitForGateways('UP', 30_000).catch((error: Error) => failures.push(error.message));
    await waitFor(() => fleet?.clients.every((c) => c.lastConfirmedAt > calm) ?? false, 60_000);
    const sendingStopped = Date.now();
    await fleet.stopSending(60_000).catch(() => {});
    const stuck: string[] = [];
    for (const client of fleet.clients) {
      const unsettled = client.sent - client.finals.size;
      if (client.lastConfirmedAt <= calm)
        stuck.push(`client ${client.index}: nothing confirmed after the chaos (${client.socket.state.name})`);
      else if (unsettled > 0) stuck.push(`client ${client.index}: ${unsettled} notes without a final fate`);
    }

    log('reading every place back through RouteChat');
    const stored = await fleet.storedNotes();
    let missing = 0;
    let duplicated = 0;
    for (const messages of stored.values()) duplicated += messages.length - new Set(messages).size;
    const counts = { sent: 0, confirmed: 0, refused: 0, unknown: 0, other: 0, resent: 0 };
    let longestGapMs = 0;
    for (const client of fleet.clients) {
      counts.sent += client.sent;
      counts.resent += client.fates.filter((fate) => fate.resend).length;
      for (const fate of client.finals.values()) {
        if (fate.fate === 'confirmed') {
          counts.confirmed += 1;
          const key = `${fate.note.location.latitude},${fate.note.location.longitude}`;
          if (!stored.get(key)?.includes(fate.note.message)) missing += 1;
        } else if (fate.fate === 'refused') counts.refused += 1;
        else if (fate.fate === 'unknown') counts.unknown += 1;
        else counts.other += 1;
      }
      longestGapMs = Math.max(longestGapMs, longestGap(client, started, sendingStopped));
    }

    const unexpectedExits: string[] = [];
    const logErrors: string[] = [];
    for (const slot of [...deployment.cores, ...deployment.gateways]) {
      for (const [run, proc] of slot.runs.entries()) {
        const name = `${slot.name} (run ${run + 1})`;
        const exit = { code: proc.child.exitCode, signal: proc.child.signalCode };
        const why = unexpectedExit(name, exit, stoppedServices.get(proc));
        if (why) unexpectedExits.push(why);
        logErrors.push(...errorLines(name, proc.lines));
      }
    }
    for (const slot of deployment.redisSlots) {
      for (const [run, server] of slot.runs.entries()) {
        const exit = { code: server.child.exitCode, signal: server.child.signalCode };
        const why = unexpectedExit(`${slot.name} (run ${run + 1})`, exit, stoppedRedis.get(server));
        if (why) unexpectedExits.push(why);
      }
    }
    if (deployment.haproxy.exited) unexpectedExits.push('haproxy exited unasked');
    const proxyAlerts = deployment.haproxy.output
      .join('')
      .split('\n')
      .filter((line) => line.includes('[ALERT]'));

    const judged = { ...counts, missing, duplicated, stuck, unexpectedExits, errorLines: logErrors };
    if (judged.missing > 0) failures.push(`${judged.missing} confirmed notes missing`);
    if (judged.duplicated > 0) failures.push(`${judged.duplicated} notes stored twice`);
    if (judged.confirmed !== judged.sent)
      failures.push(`${judged.sent - judged.confirmed} of ${judged.sent} notes not confirmed in the end`);
    if (stuck.length > 0) failures.push(`${stuck.length} clients stuck`);
    if (unexpectedExits.length > 0) failures.push(`${unexpectedExits.length} unexpected exits`);
    if (logErrors.length > 0) failures.push(`${logErrors.length} error-level log lines`);
    if (events.length === 0) failures.push('nothing was killed: the run is too short for its kill interval');
    const { log: _log, ...plain } = options;
    const report: ChaosReport = { options: plain, events, ...judged, longestGapMs, proxyAlerts, failures };
    return report;
  } finally {
    fleet?.close();
    await deployment.stop();
  }
}
