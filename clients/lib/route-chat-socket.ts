/**
 * `RouteChatSocket`: RouteChat typed end to end, surviving restarts. A note session (the outbox,
 * every note's fate, slow start, the delivery mode) over a transport: a v1 WebSocket per stream, or
 * one bidi stream of a shared GatewayClient per stream. The streams' lifecycle (attempts, token,
 * backoff, Retry-After, signal, states) is the reconnecting core's, the same as GatewayClient's.
 * Runs unchanged in browsers and in Node; this file never imports `ws`. Notes are validated with
 * the protocol's own zod schemas, in both directions.
 *
 * With `reconnect`, one RouteChatSocket spans several streams: notes wait in a bounded outbox while
 * no stream is open and every note gets a fate (see fates.ts for the matching rules).
 */
import { GatewayError } from '../../protocol/common/errors.js';
import { NOTE_SEQUENCE_KEY, NOTE_SESSION_KEY, parseNoteSession } from '../../protocol/common/note-session.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import {
  type ErrorFrame,
  type NoteFrame,
  type RouteNoteInput,
  type RouteNoteJson,
  routeNoteSchema,
} from '../../protocol/v1/frames.js';
import { type Clock, systemClock } from './clock.js';
import { localStatus } from './close-status.js';
import { createInFlight, type InFlight, NOTE_OUTCOME_TRAILER, noteKey } from './fates.js';
import { withV1ErrorFrames } from './legacy-v1-words.js';
import type {
  NoteErrorFrame,
  NoteStream,
  NoteStreamReport,
  NoteTransport,
  OutgoingFrame,
} from './note-transport.js';
import { createOutbox, type Outbox } from './outbox.js';
import {
  type CoreState,
  createReconnectingCore,
  type LinkEnding,
  type LinkReport,
  type ReconnectingCore,
} from './reconnecting-core.js';
import type {
  CloseOutcome,
  ConnectionState,
  LegacyRouteChatOverV2Options,
  NoteFate,
  RouteChatEvents,
  RouteChatOverOptions,
  RouteChatSessionOptions,
  RouteChatSocketOptions,
} from './route-chat-types.js';
import { checkBearerToken } from './token.js';
import { createEmitter, type Listener, type TypedEvents } from './typed-events.js';
import { createV1NoteTransport } from './v1-note-transport.js';
import { resolveWebSocket } from './web-socket-like.js';

/** A frame waiting in the outbox or in flight. */
interface Item<F extends NoteErrorFrame> {
  readonly frame: OutgoingFrame;
  /** noteKey() for a note; undefined for a raw frame or the end frame. */
  readonly key: string | undefined;
  readonly note?: {
    readonly id: number;
    readonly value: RouteNoteJson;
    readonly settle: (fate: NoteFate<F>) => void;
    /** `exactly-once`: its number in the producer session, given when first written, kept for resends. */
    sequence?: number;
  };
  attempts: number;
}

/** 128 random bits in base64url: a producer id no other producer picks. */
function randomProducerId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

type AnyOptions<F extends NoteErrorFrame> =
  | RouteChatSocketOptions
  | RouteChatOverOptions<F>
  | LegacyRouteChatOverV2Options;

const END: OutgoingFrame = { kind: 'end' };

const outcomeOf = (ending: LinkEnding): CloseOutcome => ({
  status: ending.status,
  closeCode: ending.closeCode,
  closeReason: ending.closeReason,
  statusFrame: ending.statusFrame,
  ...(ending.httpStatus === undefined ? {} : { httpStatus: ending.httpStatus }),
});

/** The streams' carrier the options name: a transport given, else a v1 socket per stream. */
function transportFor<F extends NoteErrorFrame>(
  options: AnyOptions<F>,
  clock: Clock,
): NoteTransport<F> | NoteTransport<ErrorFrame> {
  if ('transport' in options) return options.transport;
  // The 0.1 form passed routeChatOverV2(client) as the WebSocket, and got v1's error frames.
  if (typeof options.WebSocket === 'object') return withV1ErrorFrames(options.WebSocket);
  const v1 = options as RouteChatSocketOptions;
  const WebSocket = resolveWebSocket(v1.WebSocket);
  if (typeof v1.token === 'string') checkBearerToken(v1.token);
  return createV1NoteTransport({
    url: String(v1.url),
    WebSocket,
    token: v1.token,
    handshakeTimeoutMs: v1.handshakeTimeoutMs ?? 10_000,
    clock,
  });
}

export class RouteChatSocket<F extends NoteErrorFrame = ErrorFrame>
  implements TypedEvents<RouteChatEvents<F>>, AsyncIterable<NoteFrame>
{
  /** Resolves with the final status; never rejects. */
  readonly status: Promise<CallStatus>;
  /** Resolves once the socket is closed for good (after any reconnects). */
  readonly closed: Promise<CloseOutcome>;

  readonly #events = createEmitter<RouteChatEvents<F>>();
  readonly #clock: Clock;
  readonly #settleMs: number;
  readonly #maxInFlight: number;
  /** Unknown fates are resent: `at-least-once` and `exactly-once`. */
  readonly #resendsUnknown: boolean;
  /** `exactly-once`: the producer id, and the next note's number in it. */
  readonly #producerId: string | undefined;
  #nextSequence = 0;
  /** `exactly-once`: the number the current stream's next note must have (the core counts them). */
  #streamSequence = 0;
  readonly #outbox: Outbox<Item<F>>;
  /** The streams' lifecycle: attempts, token, backoff, healthy timer, signal. */
  readonly #core: ReconnectingCore<NoteStream>;
  #state: ConnectionState = { name: 'connecting', attempt: 1 };
  /** The latest stream (kept after it ends: its protocol is still reported). */
  #stream: NoteStream | undefined;
  /** Bumped per stream: a report of an older stream is ignored. */
  #streams = 0;
  /** The current stream's frames written and not settled. */
  #inFlight: InFlight<Item<F>> = createInFlight();
  #ended = false;
  #endSent = false;
  /** The current stream echoed a note: it reaches the core, so the whole window may be used. */
  #streamProven = false;
  /** close() or the signal: whatever the stream's ending says, nothing is retried. */
  #closedByUser = false;
  #finalStatus: CallStatus | undefined;
  #nextNoteId = 1;
  /** Set while a new stream settles: nothing is written until it fires. */
  #settleTimer: unknown;
  #resolveStatus!: (status: CallStatus) => void;
  #resolveClosed!: (outcome: CloseOutcome) => void;

  /** RouteChat over v1 at `url` (`ws://host:port/v1/routechat`). */
  constructor(url: string | URL, options?: Omit<RouteChatSocketOptions, 'url'>);
  /** RouteChat over a transport: `routeChatOverV2(client)` shares a GatewayClient's socket. */
  constructor(options: RouteChatOverOptions<F>);
  /** @deprecated Pass `routeChatOverV2(client)` as `transport` (and get v2's own error reasons). */
  constructor(options: LegacyRouteChatOverV2Options);
  /** RouteChat over v1: `{ url, WebSocket?, token?, … }`. */
  constructor(options: RouteChatSocketOptions);
  constructor(first: string | URL | AnyOptions<F>, rest: Omit<RouteChatSocketOptions, 'url'> = {}) {
    const options: AnyOptions<F> =
      typeof first === 'string' || first instanceof URL ? { ...rest, url: first } : first;
    const clock = options.clock ?? systemClock;
    // A v1 socket's error frames are v1's: F is ErrorFrame whenever no transport was given.
    const transport = transportFor(options, clock) as NoteTransport<F>;
    this.#clock = clock;
    this.#settleMs = options.reconnect ? (options.settleMs ?? 250) : 0;
    this.#maxInFlight = options.maxInFlight ?? 32;
    this.#resendsUnknown = options.delivery === 'at-least-once' || options.delivery === 'exactly-once';
    if (options.delivery === 'exactly-once') {
      const id = options.producerId ?? randomProducerId();
      // The core's own rule for the id, so a bad one fails here instead of at every stream's open.
      const checked = parseNoteSession([id], ['0']);
      if (!checked.ok) throw new GatewayError(StatusCode.INVALID_ARGUMENT, `producerId: ${checked.message}`);
      this.#producerId = id;
    }
    this.#outbox = createOutbox(options.outboxCapacity ?? 1000);
    this.status = new Promise((resolve) => {
      this.#resolveStatus = resolve;
    });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const session: RouteChatSessionOptions = options;
    this.#core = createReconnectingCore<NoteStream>({
      reconnect: session.reconnect,
      token: transport.token,
      signal: session.signal,
      clock,
      random: session.random,
      dial: (token, report) => this.#dial(transport, token, report),
      onState: (state) => this.#coreState(state),
      onOpen: () => this.#streamOpened(),
      onEnded: (ending) => this.#streamEnded(ending),
      onAbort: (why) => this.#abort(why),
    });
    this.#core.connect();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The subprotocol of the latest stream (`routechat.v1`, or `gateway.v2` over a client), or ''. */
  get protocol(): string {
    return this.#stream?.protocol ?? '';
  }

  get bufferedAmount(): number {
    return this.#stream?.bufferedAmount ?? 0;
  }

  /** Notes waiting for a stream (disconnected, or the in-flight window is full). */
  get outboxSize(): number {
    return this.#outbox.items().filter((item) => item.note).length;
  }

  /** Notes written on the current stream and not settled yet. */
  get inFlight(): number {
    return this.#inFlight.notes;
  }

  /** The notes waiting in the outbox, oldest first. */
  queued(): RouteNoteJson[] {
    return this.#outbox.items().flatMap((item) => (item.note ? [item.note.value] : []));
  }

  on<K extends keyof RouteChatEvents<F>>(event: K, listener: Listener<RouteChatEvents<F>[K]>): () => void {
    return this.#events.on(event, listener);
  }

  off<K extends keyof RouteChatEvents<F>>(event: K, listener: Listener<RouteChatEvents<F>[K]>): void {
    this.#events.off(event, listener);
  }

  /**
   * Validates `note` with the protocol's RouteNote schema and queues it; it goes out at once when a
   * stream is open and the in-flight window allows. Resolves with its final fate (never rejects).
   * Throws a GatewayError: INVALID_ARGUMENT with details for a bad note, FAILED_PRECONDITION after
   * `end()` or once closed, OutboxFullError (RESOURCE_EXHAUSTED) when the outbox is full.
   */
  send(note: RouteNoteInput): Promise<NoteFate<F>> {
    const parsed = routeNoteSchema.safeParse(note);
    if (!parsed.success) {
      const details = parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      }));
      const first = details[0];
      throw new GatewayError(
        StatusCode.INVALID_ARGUMENT,
        `invalid RouteNote${first ? `: ${first.path || '(note)'}: ${first.message}` : ''}`,
        details,
      );
    }
    this.#checkWritable();
    const value = parsed.data;
    let settle!: (fate: NoteFate<F>) => void;
    const fate = new Promise<NoteFate<F>>((resolve) => {
      settle = resolve;
    });
    this.#outbox.push({
      frame: { kind: 'note', note: value },
      key: noteKey(value),
      note: { id: this.#nextNoteId, value, settle },
      attempts: 0,
    });
    this.#nextNoteId += 1;
    this.#pump();
    return fate;
  }

  /**
   * Sends a text frame as-is, unvalidated and without a fate: for tools that test the gateway. Not
   * with `exactly-once`: the core numbers every note it gets, and a raw one would shift the count.
   */
  sendRaw(text: string): void {
    this.#checkWritable();
    if (this.#producerId !== undefined)
      throw new GatewayError(
        StatusCode.FAILED_PRECONDITION,
        'sendRaw is not available with exactly-once delivery',
      );
    this.#outbox.push({ frame: { kind: 'raw', text }, key: undefined, attempts: 0 });
    this.#pump();
  }

  /**
   * Half-close: no more notes from us. The end frame goes out once the outbox is empty; the gateway
   * still delivers replies, then the status.
   */
  end(): void {
    if (this.#ended || this.#state.name === 'closed') return;
    this.#ended = true;
    if (this.#state.name === 'open') this.#setState({ name: 'half-closed' });
    this.#pump();
  }

  /** Abrupt close: the call is cancelled; the status is CANCELLED unless one already arrived. */
  close(): void {
    this.#abort('closed by the client');
  }

  /** Notes received from now on, until the final status. Create it before awaiting anything. */
  async *notes(): AsyncGenerator<NoteFrame, void, undefined> {
    const queue: NoteFrame[] = [];
    let wake: (() => void) | undefined;
    let done = this.#finalStatus !== undefined;
    const offNote = this.on('note', (note) => {
      queue.push(note);
      wake?.();
    });
    const offStatus = this.on('status', () => {
      done = true;
      wake?.();
    });
    try {
      while (true) {
        const next = queue.shift();
        if (next) yield next;
        else if (done) return;
        else
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
      }
    } finally {
      offNote();
      offStatus();
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<NoteFrame, void, undefined> {
    return this.notes();
  }

  #abort(why: string) {
    if (this.#state.name === 'closed') return;
    this.#closedByUser = true;
    const status = localStatus(StatusCode.CANCELLED, why);
    const stream = this.#core.link;
    // The stream's ending settles it (at once, or once its close is through).
    if (stream) stream.cancel(status);
    // Between streams (a backoff delay, a token being fetched): nothing to close.
    else this.#finish({ status, closeCode: 1000, closeReason: '', statusFrame: false });
  }

  #checkWritable() {
    if (this.#ended || this.#state.name === 'closed') {
      throw new GatewayError(
        StatusCode.FAILED_PRECONDITION,
        this.#ended ? 'cannot send after end()' : 'the stream is closed',
      );
    }
  }

  #setState(state: ConnectionState) {
    this.#state = state;
    this.#events.emit('state', state);
  }

  /** The core's state as ours: open is half-closed after end(); closed is ours to announce. */
  #coreState(state: CoreState) {
    if (state.name === 'closed' || state.name === 'idle') return;
    if (state.name === 'open' && this.#ended) this.#setState({ name: 'half-closed' });
    else this.#setState(state);
  }

  #clearSettleTimer() {
    if (this.#settleTimer !== undefined) this.#clock.clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
  }

  #settle(item: Item<F>, fate: Omit<NoteFate<F>, 'id' | 'note' | 'attempts'>) {
    const note = item.note;
    if (!note) return;
    const value: NoteFate<F> = { id: note.id, note: note.value, attempts: item.attempts, ...fate };
    this.#events.emit('fate', value);
    if (!value.resend) note.settle(value);
  }

  /** Writes what the outbox holds, as far as the in-flight window allows; then the end frame. */
  #pump() {
    const stream = this.#core.link;
    if (this.#state.name !== 'open' && this.#state.name !== 'half-closed') return;
    if (!stream?.writable || this.#inFlight.refusing) return;
    if (this.#settleTimer !== undefined) return;
    for (let item = this.#outbox.peek(); item; item = this.#outbox.peek()) {
      // Slow start: one note until the stream's first echo. A gateway whose core is down opens the
      // stream, then fails the call: whatever was in flight then has an unknown fate.
      const window = this.#streamProven ? this.#maxInFlight : 1;
      if (item.key !== undefined && this.#inFlight.notes >= window) return;
      if (item.note && this.#producerId !== undefined) {
        item.note.sequence ??= this.#nextSequence++;
        // By construction a stream's notes are consecutive (it opens at the outbox's first note, resends
        // come back in order, new notes follow them); were they not, the core would misnumber them.
        if (item.note.sequence !== this.#streamSequence) {
          stream.cancel(localStatus(StatusCode.INTERNAL, 'note sequence out of order (a client bug)'));
          return;
        }
        this.#streamSequence += 1;
      }
      this.#outbox.shift();
      item.attempts += 1;
      stream.write(item.frame);
      this.#inFlight.sent(item, this.#clock.now());
    }
    if (this.#ended && !this.#endSent) {
      this.#endSent = true;
      stream.write(END);
      // Tracked like a raw frame: a draining gateway's refusal of it counts in the refused suffix.
      this.#inFlight.sent({ frame: END, key: undefined, attempts: 1 }, this.#clock.now());
    }
  }

  /** A new stream: what it reports reaches this session only while it is the current one. */
  #dial(transport: NoteTransport<F>, token: string | undefined, report: LinkReport): NoteStream {
    const id = ++this.#streams;
    const current = () => id === this.#streams;
    this.#endSent = false;
    this.#streamProven = false;
    this.#inFlight = createInFlight();
    const noteReport: NoteStreamReport<F> = {
      opened: (protocol) => report.opened(protocol),
      ended: (ending) => report.ended(ending),
      waiting: (state) => report.waiting(state),
      note: (frame) => {
        if (current()) this.#received(frame);
      },
      rejected: (frame) => {
        if (current()) this.#rejected(frame);
      },
    };
    const stream = transport.open(token, noteReport, this.#producerMetadata());
    this.#stream = stream;
    return stream;
  }

  /** `exactly-once`: the new stream's first note is the outbox's first (a resend), else the next new one. */
  #producerMetadata(): Record<string, string> | undefined {
    if (this.#producerId === undefined) return undefined;
    const first = this.#outbox.items().find((item) => item.note)?.note?.sequence;
    this.#streamSequence = first ?? this.#nextSequence;
    return { [NOTE_SESSION_KEY]: this.#producerId, [NOTE_SEQUENCE_KEY]: String(this.#streamSequence) };
  }

  /** The stream opened (after the 'open' state): it settles, then what waits goes out. */
  #streamOpened() {
    if (this.#settleMs > 0) {
      this.#settleTimer = this.#clock.setTimeout(() => {
        this.#settleTimer = undefined;
        this.#pump();
      }, this.#settleMs);
    }
    this.#pump();
  }

  #received(note: NoteFrame) {
    // A reply: this stream works.
    this.#core.worked();
    this.#streamProven = true;
    const confirmed = this.#inFlight.received(noteKey(note));
    if (confirmed) {
      this.#settle(confirmed.item, {
        fate: 'confirmed',
        resend: false,
        latencyMs: this.#clock.now() - confirmed.sentAt,
      });
    }
    this.#events.emit('note', note);
    if (confirmed) this.#pump();
  }

  #rejected(frame: F) {
    const rejected = this.#inFlight.errorFrame(frame.reason);
    if (rejected) this.#settle(rejected, { fate: 'rejected', resend: false, error: frame });
    this.#events.emit('error', frame);
  }

  /** One stream is over: settle its notes, then reconnect or finish. */
  #streamEnded(ending: LinkEnding) {
    this.#clearSettleTimer();
    const { refused, unknown } = this.#inFlight.settle(ending.status.metadata[NOTE_OUTCOME_TRAILER]);
    const retryable = !this.#closedByUser && this.#core.retryable(ending);
    const refusedNotes = refused.filter((item) => item.note);
    const unknownNotes = unknown.filter((item) => item.note);
    const willResendUnknown = retryable && this.#resendsUnknown;
    for (const item of refusedNotes) {
      this.#settle(item, { fate: 'refused', resend: retryable, status: ending.status });
    }
    for (const item of unknownNotes) {
      this.#settle(item, { fate: 'unknown', resend: willResendUnknown, status: ending.status });
    }
    if (retryable) {
      this.#outbox.requeue([...(willResendUnknown ? unknownNotes : []), ...refusedNotes]);
    }
    // After end(), a new stream only to deliver what is still waiting.
    const wanted = !this.#ended || this.#outbox.items().some((item) => item.note);
    if (retryable && wanted && this.#core.reconnect(ending)) return;
    this.#finish(outcomeOf(ending));
  }

  #finish(outcome: CloseOutcome) {
    if (this.#state.name === 'closed') return;
    this.#clearSettleTimer();
    // Closed for good: no more attempts or timers; a stream still on its way is dropped.
    this.#core.close(outcome.status);
    for (const item of this.#outbox.drain()) {
      this.#settle(item, { fate: 'unsent', resend: false, status: outcome.status });
    }
    this.#finalStatus = outcome.status;
    this.#resolveStatus(outcome.status);
    this.#events.emit('status', outcome.status);
    this.#setState({ name: 'closed', outcome });
    this.#resolveClosed(outcome);
  }
}
