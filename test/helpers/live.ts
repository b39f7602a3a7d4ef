/**
 * Live notes end to end: NoteFeed.Watch and RouteChat as v2 streams through a real gateway, and
 * reading the core's feed metrics.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerFrameV2 } from '../../protocol/v2/index.js';
import { sample } from './prometheus.js';
import type { V2TestClient } from './v2.js';

export const WATCH = 'routeguide.NoteFeed/Watch';
export const CHAT = 'routeguide.RouteGuide/RouteChat';

export interface LiveNote {
  readonly lat: number;
  readonly lng: number;
  readonly message: string;
}

/** A note as the v2 watcher receives it (proto3 JSON, every field present). */
export interface WireNote {
  readonly location: { readonly latitude: number; readonly longitude: number };
  readonly message: string;
}

/** Opens a watch of the rectangle (lat/lng in E7 degrees) on stream `id`: open, the one request, end. */
export function openWatch(
  client: V2TestClient,
  id: string,
  lo: { lat: number; lng: number },
  hi: { lat: number; lng: number },
): void {
  client.send({ type: 'open', id, method: WATCH });
  client.send({
    type: 'message',
    id,
    message: {
      lo: { latitude: lo.lat, longitude: lo.lng },
      hi: { latitude: hi.lat, longitude: hi.lng },
    },
  });
  client.send({ type: 'end', id });
}

/** Arrival time (performance.now()) of each message frame of stream `id`, in order. */
export function arrivalTimes(client: V2TestClient, id: string): number[] {
  const times: number[] = [];
  client.ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as ServerFrameV2;
    if (frame.type === 'message' && frame.id === id) times.push(performance.now());
  });
  return times;
}

/** Posts notes on an open RouteChat stream `id`; resolves with each note's send time (performance.now()). */
export function postNotes(client: V2TestClient, id: string, notes: readonly LiveNote[]): number[] {
  return notes.map((note) => {
    client.send({
      type: 'message',
      id,
      message: { location: { latitude: note.lat, longitude: note.lng }, message: note.message },
    });
    return performance.now();
  });
}

export const wireNotes = (client: V2TestClient, id: string): WireNote[] => client.messages(id) as WireNote[];

export async function metric(metricsUrl: string, name: string): Promise<number | undefined> {
  return sample(await (await fetch(metricsUrl)).text(), name);
}

export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/** Waits until the core has exactly `count` watchers registered (a watch through the gateway has no headers frame). */
export const watchersAre = (metricsUrl: string, count: number, timeoutMs = 10_000): Promise<void> =>
  waitUntil(
    `the core has ${count} watchers`,
    async () => (await metric(metricsUrl, 'routeguide_core_feed_watchers')) === count,
    timeoutMs,
  );
