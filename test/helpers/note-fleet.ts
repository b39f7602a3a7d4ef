/**
 * A fleet of library clients (RouteChatSocket with reconnect) sending notes continuously, for
 * restart tests: every note's fate is recorded, and what was confirmed can be read back through
 * RouteChat afterwards.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
  type NoteFate,
  type NoteFrame,
  type ReconnectOptions,
  RouteChatSocket,
} from '../../clients/lib/index.js';
import { until } from './gateway.js';

export interface FleetClient {
  readonly index: number;
  readonly socket: RouteChatSocket;
  /** Every fate, the intermediate ones (`resend: true`) included. */
  readonly fates: NoteFate[];
  /** The final fate of each note by id. */
  readonly finals: Map<number, NoteFate>;
  /** When each confirmed note was confirmed (Date.now()). */
  readonly confirmedAt: Map<number, number>;
  /** When each stream after the first opened (Date.now()): the client's own reconnects. */
  readonly reopenedAt: number[];
  /** Why each stream ended that the client then replaced: `[Date.now(), status name: message]`. */
  readonly brokenBy: [number, string][];
  sent: number;
  lastConfirmedAt: number;
}

export interface NoteFleetOptions {
  /** The RouteChat URL (a gateway, or a load balancer in front of gateways). */
  readonly url: string;
  readonly clients?: number;
  /** One note per client this often; `[min, max]`: each client waits a random time in the range. */
  readonly sendEveryMs?: number | readonly [number, number];
  /** Notes per place: each reply repeats the place's history, so keep histories short. */
  readonly notesPerPlace?: number;
  readonly maxInFlight?: number;
  /** Default `at-most-once` (RouteChatSocket's default). */
  readonly delivery?: 'at-most-once' | 'at-least-once' | 'exactly-once';
  /** Default: 100 failures in a row, delays from 100 ms up to 1 s. */
  readonly reconnect?: ReconnectOptions;
}

export interface FleetTotals {
  sent: number;
  confirmed: number;
  refused: number;
  refusedThenConfirmed: number;
  unknown: number;
  other: number;
  reconnects: number;
  /** Why the unknown ones are unknown: the statuses (and note-outcome) of the streams that broke. */
  unknownBecause: Record<string, number>;
}

export interface NoteFleet {
  readonly clients: readonly FleetClient[];
  readonly maxInFlight: number;
  /** Resolves once every client has had a note confirmed after `since`. */
  allConfirmedSince(since: number, what: string, timeoutMs?: number): Promise<void>;
  /** Clients that opened a new stream after `since`. */
  reconnectedSince(since: number): number;
  /** Why streams broke after `since` (and before `until`), counted by status. */
  brokenBetween(since: number, until?: number): Record<string, number>;
  /** Stops sending and resolves once every note has a final fate. */
  stopSending(timeoutMs?: number): Promise<void>;
  /**
   * Asserts the fates: every client streaming, every refused note resent and confirmed, unknown
   * fates within each client's in-flight window per broken stream, nothing rejected or unsent. Returns the counts.
   */
  checkFates(): FleetTotals;
  /**
   * Reads back, with one probe note at each place, every note confirmed after `since`, and asserts
   * each is in the place's history. Resolves with how many were checked.
   */
  readBack(since?: number): Promise<number>;
  /**
   * Every place a note was sent to, read back through RouteChat with one probe note each: the
   * messages stored there, in order, a message stored twice listed twice (probes left out).
   */
  storedNotes(): Promise<Map<string, string[]>>;
  /** Half-closes every client and asserts each stream ends OK. */
  endAll(): Promise<void>;
  /** Closes every client at once (for `after()`). */
  close(): void;
}

const place = (client: number, n: number, notesPerPlace: number) => ({
  latitude: 10_000_000 + client,
  longitude: 20_000_000 + Math.floor(n / notesPerPlace),
});
const placeKey = (location: { latitude: number; longitude: number }) =>
  `${location.latitude},${location.longitude}`;

/**
 * The notes stored at each place, read with one probe note per place on one stream: RouteChat
 * answers a note with every note stored at its place before it. The probes themselves are left out.
 */
export async function readPlaces(url: string, places: ReadonlySet<string>): Promise<Map<string, string[]>> {
  const stored = new Map<string, string[]>();
  // Every probe waits in the outbox at first: room for all of them (a long run writes thousands of places).
  const probe = new RouteChatSocket({ url, WebSocket, outboxCapacity: Math.max(1000, places.size) });
  probe.on('note', (note: NoteFrame) => {
    if (note.message.startsWith(PROBE)) return;
    const key = placeKey(note.location);
    stored.set(key, [...(stored.get(key) ?? []), note.message]);
  });
  const probes = [...places].map((key) => {
    const [latitude, longitude] = key.split(',').map(Number) as [number, number];
    return probe.send({ location: { latitude, longitude }, message: `${PROBE}${key}` });
  });
  probe.end();
  for (const fate of await Promise.all(probes)) assert.equal(fate.fate, 'confirmed');
  return stored;
}

const PROBE = 'probe ';

export function startNoteFleet(options: NoteFleetOptions): NoteFleet {
  const count = options.clients ?? 20;
  const maxInFlight = options.maxInFlight ?? 32;
  const notesPerPlace = options.notesPerPlace ?? 20;
  const clients: FleetClient[] = [];
  for (let index = 0; index < count; index += 1) {
    const socket = new RouteChatSocket({
      url: options.url,
      WebSocket,
      reconnect: options.reconnect ?? { retries: 100, initialDelayMs: 100, maxDelayMs: 1000 },
      maxInFlight,
      ...(options.delivery ? { delivery: options.delivery } : {}),
      handshakeTimeoutMs: 5000,
    });
    const client: FleetClient = {
      index,
      socket,
      fates: [],
      finals: new Map(),
      confirmedAt: new Map(),
      reopenedAt: [],
      brokenBy: [],
      sent: 0,
      lastConfirmedAt: 0,
    };
    let opens = 0;
    socket.on('state', (state) => {
      if (state.name === 'reconnecting' && state.attempt === 1)
        client.brokenBy.push([Date.now(), `${state.lastStatus.name}: ${state.lastStatus.message}`]);
      if (state.name !== 'open') return;
      opens += 1;
      if (opens > 1) client.reopenedAt.push(Date.now());
    });
    socket.on('fate', (fate) => {
      client.fates.push(fate);
      if (fate.resend) return;
      client.finals.set(fate.id, fate);
      if (fate.fate === 'confirmed') {
        client.lastConfirmedAt = Date.now();
        client.confirmedAt.set(fate.id, client.lastConfirmedAt);
      }
    });
    clients.push(client);
  }
  const sendOne = (client: FleetClient) => {
    // A client that gave up (its retries used up) takes nothing more: it shows as not streaming.
    if (client.socket.state.name === 'closed' || client.socket.outboxSize >= 100) return;
    const n = client.sent;
    client.sent += 1;
    void client.socket.send({
      location: place(client.index, n, notesPerPlace),
      message: `c${client.index}-n${n}`,
    });
  };
  const every = options.sendEveryMs ?? 150;
  let sending = true;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  if (typeof every === 'number') {
    const timer = setInterval(() => {
      for (const client of clients) sendOne(client);
    }, every);
    timers.add(timer);
  } else {
    const [min, max] = every;
    const schedule = (client: FleetClient) => {
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          if (!sending) return;
          sendOne(client);
          schedule(client);
        },
        min + Math.random() * (max - min),
      );
      timers.add(timer);
    };
    for (const client of clients) schedule(client);
  }
  const stopTimers = () => {
    sending = false;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };

  return {
    clients,
    maxInFlight,
    allConfirmedSince: (since, what, timeoutMs = 45_000) =>
      until(
        () => clients.every((c) => c.lastConfirmedAt > since),
        timeoutMs,
        `every client confirming ${what}`,
      ),
    reconnectedSince: (since) => clients.filter((c) => c.reopenedAt.some((at) => at > since)).length,
    brokenBetween(since, before = Number.POSITIVE_INFINITY) {
      const out: Record<string, number> = {};
      for (const client of clients)
        for (const [at, why] of client.brokenBy)
          if (at > since && at <= before) out[why.slice(0, 60)] = (out[why.slice(0, 60)] ?? 0) + 1;
      return out;
    },
    async stopSending(timeoutMs = 45_000) {
      stopTimers();
      await until(
        () => clients.every((c) => c.finals.size === c.sent),
        timeoutMs,
        'a final fate for every note',
      );
    },
    checkFates() {
      const totals: FleetTotals = {
        sent: 0,
        confirmed: 0,
        refused: 0,
        refusedThenConfirmed: 0,
        unknown: 0,
        other: 0,
        reconnects: 0,
        unknownBecause: {},
      };
      for (const client of clients) {
        assert.equal(client.socket.state.name, 'open', `client ${client.index} is streaming again`);
        const refusedIds = new Set(client.fates.filter((f) => f.fate === 'refused').map((f) => f.id));
        const finals = [...client.finals.values()];
        const unknown = finals.filter((f) => f.fate === 'unknown');
        totals.sent += client.sent;
        totals.confirmed += finals.filter((f) => f.fate === 'confirmed').length;
        totals.refused += refusedIds.size;
        totals.unknown += unknown.length;
        totals.other += finals.filter((f) => f.fate !== 'confirmed' && f.fate !== 'unknown').length;
        totals.reconnects += client.reopenedAt.length;
        for (const id of refusedIds) {
          assert.equal(
            client.finals.get(id)?.fate,
            'confirmed',
            `client ${client.index}: refused note ${id} was resent and confirmed`,
          );
          totals.refusedThenConfirmed += 1;
        }
        // A broken stream can leave at most the in-flight window unanswered; a client's streams
        // broke as often as it opened a new one.
        const breaks = Math.max(1, client.reopenedAt.length);
        assert.ok(
          unknown.length <= maxInFlight * breaks,
          `client ${client.index}: ${unknown.length} unknown fates, more than its in-flight window × ${breaks} stream breaks`,
        );
        for (const fate of unknown) {
          const outcome = fate.status?.metadata['note-outcome'];
          const why = `${fate.status?.name}: ${fate.status?.message.slice(0, 40)}${outcome ? ` (note-outcome ${outcome})` : ''}`;
          totals.unknownBecause[why] = (totals.unknownBecause[why] ?? 0) + 1;
        }
      }
      assert.equal(totals.other, 0, 'no note rejected, and none left unsent');
      return totals;
    },
    async storedNotes() {
      const places = new Set<string>();
      for (const client of clients)
        for (let n = 0; n < client.sent; n += 1) places.add(placeKey(place(client.index, n, notesPerPlace)));
      return readPlaces(options.url, places);
    },
    async readBack(since = 0) {
      const expected = new Map<string, Set<string>>();
      for (const client of clients) {
        for (const [id, at] of client.confirmedAt) {
          if (at <= since) continue;
          const fate = client.finals.get(id) as NoteFate;
          const key = placeKey(fate.note.location);
          expected.set(key, (expected.get(key) ?? new Set()).add(fate.note.message));
        }
      }
      const stored = await readPlaces(options.url, new Set(expected.keys()));
      let checked = 0;
      for (const [key, messages] of expected) {
        for (const message of messages) {
          assert.ok(stored.get(key)?.includes(message), `${message} at ${key} is in the store`);
          checked += 1;
        }
      }
      return checked;
    },
    async endAll() {
      for (const client of clients) client.socket.end();
      for (const client of clients) assert.equal((await client.socket.status).name, 'OK');
    },
    close() {
      stopTimers();
      for (const client of clients) client.socket.close();
    },
  };
}
