/**
 * The canonical RouteGuide walkthrough against any RouteGuide server, as the official example
 * clients run it. Each step reports through `emit`, so the CLI can print people- or script-friendly
 * output and tests can assert on the events.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  Feature__Output,
  Point,
  RouteGuideClient,
  RouteNote,
  RouteNote__Output,
  RouteSummary__Output,
} from '../../proto/index.js';

export type WalkthroughEvent =
  | { step: 'GetFeature'; request: Point; feature: Feature__Output }
  | { step: 'ListFeatures'; feature: Feature__Output }
  | { step: 'RecordRoute'; visited: Point }
  | { step: 'RecordRoute'; summary: RouteSummary__Output }
  | { step: 'RouteChat'; sent: RouteNote }
  | { step: 'RouteChat'; received: RouteNote__Output };

import { SEED_NOTES } from '../seed-notes.js';

export { SEED_NOTES };

export const getFeature = (client: RouteGuideClient, point: Point, deadlineMs = 10_000) =>
  new Promise<Feature__Output>((resolve, reject) => {
    client.GetFeature(point, { deadline: Date.now() + deadlineMs }, (error, feature) =>
      error || !feature ? reject(error ?? new Error('empty reply')) : resolve(feature),
    );
  });

export async function listFeatures(
  client: RouteGuideClient,
  lo: Point,
  hi: Point,
  onFeature: (f: Feature__Output) => void,
) {
  const call = client.ListFeatures({ lo, hi });
  for await (const feature of call as AsyncIterable<Feature__Output>) onFeature(feature);
}

export function recordRoute(client: RouteGuideClient, points: readonly Point[]) {
  return new Promise<RouteSummary__Output>((resolve, reject) => {
    const call = client.RecordRoute((error, summary) =>
      error || !summary ? reject(error ?? new Error('empty reply')) : resolve(summary),
    );
    for (const point of points) call.write(point);
    call.end();
  });
}

/**
 * Sends `notes` while a separate reader receives, half-closes, and waits for the server to finish,
 * exactly like the seed's Go client.
 */
export function routeChat(
  client: RouteGuideClient,
  notes: readonly RouteNote[],
  onEvent: (event: WalkthroughEvent) => void,
  metadata = new grpc.Metadata(),
): Promise<RouteNote__Output[]> {
  return new Promise((resolve, reject) => {
    const received: RouteNote__Output[] = [];
    const call = client.RouteChat(metadata);
    call.on('data', (note: RouteNote__Output) => {
      received.push(note);
      onEvent({ step: 'RouteChat', received: note });
    });
    call.on('error', reject);
    call.on('end', () => resolve(received));
    for (const note of notes) {
      call.write(note);
      onEvent({ step: 'RouteChat', sent: note });
    }
    call.end();
  });
}

/** A random route over the known features, as the official clients make one. */
export function randomRoute(
  features: readonly Feature__Output[],
  length: number,
  random = Math.random,
): Point[] {
  const points: Point[] = [];
  for (let i = 0; i < length && features.length > 0; i += 1) {
    const feature = features[Math.floor(random() * features.length)]!;
    points.push(feature.location ?? { latitude: 0, longitude: 0 });
  }
  return points;
}

export async function runWalkthrough(
  client: RouteGuideClient,
  emit: (event: WalkthroughEvent) => void,
): Promise<void> {
  for (const request of [
    { latitude: 409146138, longitude: -746188906 },
    { latitude: 0, longitude: 0 },
  ]) {
    emit({ step: 'GetFeature', request, feature: await getFeature(client, request) });
  }
  const listed: Feature__Output[] = [];
  await listFeatures(
    client,
    { latitude: 400000000, longitude: -750000000 },
    { latitude: 420000000, longitude: -730000000 },
    (feature) => {
      listed.push(feature);
      emit({ step: 'ListFeatures', feature });
    },
  );
  const route = randomRoute(listed, 10);
  for (const visited of route) emit({ step: 'RecordRoute', visited });
  emit({ step: 'RecordRoute', summary: await recordRoute(client, route) });
  await routeChat(client, SEED_NOTES, emit);
}
