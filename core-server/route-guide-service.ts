/** The four RouteGuide RPCs with the canonical semantics of the official examples. */
import { once } from 'node:events';
import { Metadata, type ServerDuplexStream, type ServerWritableStream, status } from '@grpc/grpc-js';
import type {
  Feature,
  RouteGuideHandlers,
  RouteNote,
  RouteNote__Output,
  RouteSummary,
} from '../proto/index.js';
import {
  NOTE_SEQUENCE_KEY,
  NOTE_SESSION_KEY,
  type NoteSessionResult,
  parseNoteSession,
} from '../protocol/common/note-session.js';
import type { FeatureIndex } from './features.js';
import {
  haversineDistance,
  inRectangle,
  type LatLng,
  pointOrOrigin,
  pointProblem,
  rectangleCorners,
} from './geo.js';
import {
  NOTE_OUTCOME_TRAILER,
  type NoteId,
  type NoteOutcome,
  NoteSequenceConflictError,
  type NoteStore,
  NoteStoreError,
  type StoredNote,
} from './notes/index.js';

/** A gRPC status to end a call with; grpc-js reads `code`, `details` and `metadata`. */
export class StatusError extends Error {
  override readonly name = 'StatusError';
  readonly details: string;
  readonly metadata = new Metadata();
  constructor(
    readonly code: status,
    details: string,
  ) {
    super(details);
    this.details = details;
  }
}

export interface RouteGuideServiceOptions {
  readonly features: FeatureIndex;
  readonly notes: NoteStore;
  /** Called once per note accepted by RouteChat (metrics, tests). */
  readonly onNoteStored?: (note: RouteNote__Output) => void;
  /** Called once per resent note RouteChat answered as already stored (note-session). */
  readonly onNoteDeduplicated?: (note: RouteNote__Output) => void;
  /** Aborted when the server drains: each RouteChat answers what it has received, then ends. */
  readonly draining?: AbortSignal;
  /** The store as one call uses it (traces.ts: a span per operation); absent: `notes` itself. */
  readonly notesForCall?: (metadata: Metadata) => NoteStore;
}

/** The details of the UNAVAILABLE that ends a RouteChat when the server drains. */
export const SHUTTING_DOWN_DETAILS = 'server shutting down';

/** Resolves when the stream can take more writes, or when the call is gone (never hangs). */
async function writable(call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>) {
  if (call.cancelled || call.destroyed) return;
  const gone = new AbortController();
  const onGone = () => gone.abort();
  call.once('cancelled', onGone);
  call.once('close', onGone);
  try {
    await once(call, 'drain', { signal: gone.signal });
  } catch {
    // Aborted because the call ended: the caller checks `cancelled` and stops.
  } finally {
    call.off('cancelled', onGone);
    call.off('close', onGone);
  }
}

/**
 * UNAVAILABLE for a note the store could not take, with a `note-outcome` trailer saying whether
 * that note (the oldest one sent on this stream without a reply) may have been stored (`unknown`)
 * or certainly was not (`not-stored`); notes sent after it were not stored either. A client
 * resends a `not-stored` note safely; an `unknown` one only if a duplicate is acceptable.
 */
function noteStoreStatus(error: unknown): StatusError {
  const outcome: NoteOutcome = error instanceof NoteStoreError ? error.outcome : 'unknown';
  const reason = error instanceof Error ? error.message : String(error);
  const statusError = new StatusError(status.UNAVAILABLE, `note ${outcome}: ${reason}`);
  statusError.metadata.set(NOTE_OUTCOME_TRAILER, outcome);
  return statusError;
}

/** The status for a failed note: the handler's own, a reused sequence, or the store's failure. */
function noteFailureStatus(error: unknown): StatusError {
  if (error instanceof StatusError) return error;
  if (error instanceof NoteSequenceConflictError)
    return new StatusError(status.ALREADY_EXISTS, error.message);
  return noteStoreStatus(error);
}

/** The call's producer session (protocol/common/note-session.ts), from every value of each key. */
function noteSessionOf(metadata: Metadata): NoteSessionResult {
  // Non-binary keys carry strings; a Buffer here would be a -bin key, which these are not.
  const values = (key: string) => metadata.get(key).map((value) => (typeof value === 'string' ? value : ''));
  return parseNoteSession(values(NOTE_SESSION_KEY), values(NOTE_SEQUENCE_KEY));
}

const toWireNote = (location: LatLng, message: string): RouteNote => ({
  location: { latitude: location.latitude, longitude: location.longitude },
  message,
});

export function createRouteGuideHandlers({
  features,
  notes,
  onNoteStored,
  onNoteDeduplicated,
  draining,
  notesForCall,
}: RouteGuideServiceOptions): RouteGuideHandlers {
  return {
    GetFeature(call, callback) {
      const point = call.request;
      const problem = pointProblem(point, 'point');
      if (problem) return callback(new StatusError(status.INVALID_ARGUMENT, problem));
      const feature = features.namedAt(point);
      const reply: Feature = {
        name: feature?.name ?? '',
        location: { latitude: point.latitude, longitude: point.longitude },
      };
      callback(null, reply);
    },

    async ListFeatures(call) {
      const corners = rectangleCorners(call.request);
      const problem = pointProblem(corners.lo, 'lo') ?? pointProblem(corners.hi, 'hi');
      if (problem) {
        // Not destroy(): grpc-js then never sends the status (the client waits for its deadline).
        call.emit('error', new StatusError(status.INVALID_ARGUMENT, problem));
        return;
      }
      for (const feature of features.all) {
        if (call.cancelled) return;
        if (!inRectangle(feature.location, corners)) continue;
        if (!call.write(feature)) await writable(call);
      }
      if (!call.cancelled) call.end();
    },

    RecordRoute(call, callback) {
      const startedAt = Date.now();
      let pointCount = 0;
      let featureCount = 0;
      let distance = 0;
      let previous: LatLng | undefined;
      let failed = false;
      call.on('data', (point: LatLng) => {
        if (failed) return;
        const problem = pointProblem(point, `point #${pointCount + 1}`);
        if (problem) {
          failed = true;
          callback(new StatusError(status.INVALID_ARGUMENT, problem));
          return;
        }
        pointCount += 1;
        if (features.namedAt(point)) featureCount += 1;
        if (previous) distance += haversineDistance(previous, point);
        previous = point;
      });
      call.on('error', () => {
        failed = true;
      });
      call.on('end', () => {
        // 'end' is also emitted when the client cancels: answer only a real half-close.
        if (failed || call.cancelled) return;
        const summary: RouteSummary = {
          point_count: pointCount,
          feature_count: featureCount,
          distance: Math.min(Math.round(distance), 2 ** 31 - 1),
          elapsed_time: Math.floor((Date.now() - startedAt) / 1000),
        };
        callback(null, summary);
      });
    },

    RouteChat(call) {
      // With note-session and note-sequence, the stream's notes are numbered from note-sequence in
      // arrival order, and the store takes each at most once per (session, sequence).
      const noteSession = noteSessionOf(call.metadata);
      if (!noteSession.ok) {
        call.emit('error', new StatusError(status.INVALID_ARGUMENT, noteSession.message));
        return;
      }
      const session = noteSession.value;
      let nextSequence = session?.firstSequence ?? 0;
      const callNotes = notesForCall ? notesForCall(call.metadata) : notes;

      // Notes are handled one at a time, in arrival order; reading pauses while a backlog builds
      // so that a client that sends faster than it reads cannot grow the server's memory.
      const MAX_BACKLOG = 16;
      let backlog = 0;
      let chain: Promise<void> = Promise.resolve();
      let failed = false;
      let halfClosed = false;
      let drainStarted = false;

      const store = async (note: RouteNote__Output, id: NoteId | undefined) => {
        const stored: StoredNote = { location: pointOrOrigin(note.location), message: note.message };
        if (!id) {
          const atLocation = await callNotes.append(stored);
          onNoteStored?.(note);
          return atLocation;
        }
        if (!Number.isSafeInteger(id.sequence))
          throw new StatusError(
            status.OUT_OF_RANGE,
            `note-sequence passed ${Number.MAX_SAFE_INTEGER}: open a new stream with a new note-session`,
          );
        const { notes: atLocation, duplicate } = await callNotes.appendOnce(stored, id);
        if (duplicate) onNoteDeduplicated?.(note);
        else onNoteStored?.(note);
        return atLocation;
      };

      const relay = async (note: RouteNote__Output, id: NoteId | undefined): Promise<void> => {
        if (failed || call.cancelled) return;
        const atLocation = await store(note, id);
        for (const stored of atLocation) {
          if (call.cancelled) return;
          if (!call.write(toWireNote(stored.location, stored.message))) await writable(call);
        }
      };

      // A bidi stream never ends by itself: on drain, stop reading, answer every note already
      // received (each one stored was answered; none read after this is stored), then end with
      // UNAVAILABLE ("go elsewhere": retryable, unlike CANCELLED). `emit('error')` is grpc-js's
      // way to end a stream with a status after the writes already queued.
      const drain = () => {
        if (drainStarted) return;
        drainStarted = true;
        call.pause();
        void chain.then(() => {
          // A client that has half-closed gets its normal OK once its notes are answered.
          if (failed || halfClosed || call.cancelled) return;
          failed = true;
          // Every note without an answer was never read, so never stored: safe to resend elsewhere.
          const shuttingDown = new StatusError(status.UNAVAILABLE, SHUTTING_DOWN_DETAILS);
          shuttingDown.metadata.set(NOTE_OUTCOME_TRAILER, 'not-stored' satisfies NoteOutcome);
          call.emit('error', shuttingDown);
        });
      };
      if (draining?.aborted) drain();
      else draining?.addEventListener('abort', drain, { once: true });
      call.once('close', () => draining?.removeEventListener('abort', drain));

      call.on('data', (note: RouteNote__Output) => {
        if (drainStarted) return;
        backlog += 1;
        if (backlog >= MAX_BACKLOG) call.pause();
        // Numbered as it arrives: note i of the stream is firstSequence + i.
        const id = session ? { session: session.session, sequence: nextSequence++ } : undefined;
        chain = chain
          .then(() => relay(note, id))
          .catch((error: unknown) => {
            if (failed) return;
            failed = true;
            // Not destroy(): grpc-js sends a duplex call's status from its 'error' handler by ending
            // the stream, which a destroyed stream no longer does (the client would wait forever).
            call.emit('error', noteFailureStatus(error));
          })
          .finally(() => {
            backlog -= 1;
            if (backlog < MAX_BACKLOG && call.isPaused() && !drainStarted) call.resume();
          });
      });
      call.on('error', () => {
        failed = true;
      });
      call.on('end', () => {
        halfClosed = true;
        void chain.then(() => {
          if (!failed && !call.cancelled) call.end();
        });
      });
    },
  };
}
