/**
 * `routeguide.NoteFeed`: adapts a server stream to the feed's `WatcherSink`. The rules (who gets
 * which note, the byte budget, draining) live in note-feed.ts; this file only maps them to gRPC.
 */
import { Metadata, type ServerWritableStream, status } from '@grpc/grpc-js';
import type { NoteFeedHandlers, Rectangle__Output, RouteNote } from '../../proto/index.js';
import { pointProblem, rectangleCorners } from '../geo.js';
import { StatusError } from '../route-guide-service.js';
import type { NoteFeed, WatchEndReason, WatcherSink, WatchRefusal } from './note-feed.js';

/**
 * The status each ending gets. UNAVAILABLE whenever coming back later helps (shutdown: to another
 * core; a lost bus subscription: once it is back), so that clients reconnect.
 */
export const WATCH_END_STATUS: Record<WatchEndReason | WatchRefusal, { code: status; details: string }> = {
  too_slow: { code: status.RESOURCE_EXHAUSTED, details: 'watcher too slow' },
  too_many_watchers: { code: status.RESOURCE_EXHAUSTED, details: 'too many watchers' },
  shutting_down: { code: status.UNAVAILABLE, details: 'server shutting down' },
  interrupted: { code: status.UNAVAILABLE, details: 'live notes interrupted' },
  unavailable: { code: status.UNAVAILABLE, details: 'live notes unavailable' },
};

type WatchCall = ServerWritableStream<Rectangle__Output, RouteNote>;

/**
 * Ends the call with a status. grpc-js's documented way for a server stream is `emit('error')`: it
 * ends the stream after the notes already queued, then sends the status as trailers (HTTP/2 keeps
 * them in order). `destroy(error)` would drop the status once notes were written.
 */
const endWith = (call: WatchCall, reason: WatchEndReason | WatchRefusal): void => {
  if (call.cancelled || call.writableEnded) return;
  const { code, details } = WATCH_END_STATUS[reason];
  call.emit('error', new StatusError(code, details));
};

const isWritable = (call: WatchCall): boolean => !call.cancelled && !call.destroyed && !call.writableEnded;

export function createNoteFeedHandlers(feed: NoteFeed): NoteFeedHandlers {
  return {
    Watch(call: WatchCall) {
      const corners = rectangleCorners(call.request);
      const problem = pointProblem(corners.lo, 'lo') ?? pointProblem(corners.hi, 'hi');
      if (problem) {
        call.emit('error', new StatusError(status.INVALID_ARGUMENT, problem));
        return;
      }
      if (call.cancelled) return;
      const sink: WatcherSink = {
        write(note, flushed) {
          if (!isWritable(call)) return;
          const wire: RouteNote = {
            location: { latitude: note.location.latitude, longitude: note.location.longitude },
            message: note.message,
          };
          // The callback runs once grpc-js has handed the frame to the connection: until then the
          // note counts against the watcher's budget, whatever buffer holds it.
          call.write(wire, () => flushed());
        },
        end: (reason) => endWith(call, reason),
      };
      const result = feed.watch(corners, sink);
      if (!result.ok) {
        endWith(call, result.reason);
        return;
      }
      const cancel = () => result.watch.cancel();
      call.once('cancelled', cancel);
      call.once('close', cancel);
      call.once('finish', cancel);
      // Headers now, before any note: a client that has them knows it is registered, and gets every
      // note stored from then on.
      call.sendMetadata(new Metadata());
    },
  };
}
