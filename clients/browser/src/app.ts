/**
 * The RouteChat page: connection controls, a place picker (select + map), the note form, the
 * outbox, counters and the notes grouped by place. It connects when opened and reconnects by
 * itself through restarts for as long as the tab is open (the library's backoff), with a visible
 * countdown and the status that ended the last attempt, as the gateway gave it; notes typed
 * meanwhile wait in the outbox and go out on the next stream. Disconnect stops it, Connect starts
 * it again. Only the notes list re-renders when notes arrive, so typing is never
 * interrupted; screen readers hear the new note only (one live region). Everything user-supplied
 * goes through textContent.
 *
 * One socket: the page opens one v2 socket (a GatewayClient, which reconnects by itself) and runs
 * both calls on it: RouteChat (through RouteChatSocket over a v2 stream, which keeps the outbox and
 * the fates of our notes: v2-note-transport.ts) and one NoteFeed.Watch of the map's region,
 * which shows other people's notes as they are stored. A watch gives new notes only: each time it
 * was down, the page says so (live-watch.ts).
 */
import {
  type CallStatus,
  type CloseOutcome,
  type ConnectionState,
  type ErrorFrame,
  type ErrorFrameV2,
  GatewayClient,
  GatewayError,
  type NoteFate,
  type NoteFeedMethods,
  RouteChatSocket,
  type RouteGuideMethods,
  routeChatOverV2,
} from '../../lib/index.js';
import {
  ALL_PLACES,
  degrees,
  degreesInput,
  FEATURES,
  type Feature,
  featureAt,
  parseDegrees,
} from './features.js';
import { regionGeography } from './geography.js';
import { renderGroups } from './groups-view.js';
import { type LiveState, type LiveWatch, type OfflineGap, regionOf, watchLiveNotes } from './live-watch.js';
import { renderLegend } from './map-legend.js';
import { type MapView, renderMap } from './map-view.js';
import { createNoteGroups } from './note-groups.js';
import { statusText } from './status-text.js';

/** What the page calls on its one socket. */
type PageMethods = RouteGuideMethods & NoteFeedMethods;

const STATE_TEXT: Record<Exclude<ConnectionState['name'], 'reconnecting'> | 'idle', string> = {
  idle: 'Disconnected',
  connecting: 'Connecting…',
  open: 'Connected',
  'half-closed': 'Finishing…',
  closed: 'Disconnected',
};

/** How long a graceful disconnect waits for the status before closing outright. */
const DISCONNECT_GRACE_MS = 3000;
/** How long a stream must stay open before the page stops showing why the last one ended. */
const OUTAGE_OVER_MS = 2000;
/** The page never gives up by itself: a person expects it to come back (Disconnect stops it). */
const RECONNECT = { retries: 1_000_000, initialDelayMs: 500, maxDelayMs: 10_000 } as const;

function element<T extends HTMLElement>(doc: Document, id: string, type: new () => T): T {
  const found = doc.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no #${id}`);
  return found;
}

export function startApp(doc: Document): void {
  const ui = {
    state: element(doc, 'state', HTMLElement),
    connect: element(doc, 'connect', HTMLButtonElement),
    disconnect: element(doc, 'disconnect', HTMLButtonElement),
    finalStatus: element(doc, 'final-status', HTMLElement),
    reason: element(doc, 'connection-reason', HTMLElement),
    form: element(doc, 'note-form', HTMLFormElement),
    feature: element(doc, 'feature', HTMLSelectElement),
    latitude: element(doc, 'latitude', HTMLInputElement),
    longitude: element(doc, 'longitude', HTMLInputElement),
    message: element(doc, 'message', HTMLInputElement),
    send: element(doc, 'send', HTMLButtonElement),
    formError: element(doc, 'form-error', HTMLElement),
    token: element(doc, 'token', HTMLInputElement),
    groups: element(doc, 'groups', HTMLOListElement),
    empty: element(doc, 'empty', HTMLElement),
    outbox: element(doc, 'outbox', HTMLElement),
    outboxList: element(doc, 'outbox-list', HTMLOListElement),
    outboxCount: element(doc, 'outbox-count', HTMLElement),
    stats: {
      sent: element(doc, 'stat-sent', HTMLElement),
      received: element(doc, 'stat-received', HTMLElement),
      rejected: element(doc, 'stat-rejected', HTMLElement),
      latency: element(doc, 'stat-latency', HTMLElement),
      live: element(doc, 'stat-live', HTMLElement),
    },
    liveState: element(doc, 'live-state', HTMLElement),
    gaps: element(doc, 'gaps', HTMLOListElement),
    announcer: element(doc, 'announcer', HTMLElement),
    mapDetails: doc.getElementById('map-details'),
    mapLegend: doc.getElementById('map-legend'),
    zoomIn: doc.getElementById('zoom-in'),
    zoomOut: doc.getElementById('zoom-out'),
    zoomReset: doc.getElementById('zoom-reset'),
  };
  const map = doc.getElementById('map');
  const fieldErrors = {
    'location.latitude': [ui.latitude, element(doc, 'latitude-error', HTMLElement)],
    'location.longitude': [ui.longitude, element(doc, 'longitude-error', HTMLElement)],
    message: [ui.message, element(doc, 'message-error', HTMLElement)],
  } as const;

  const groups = createNoteGroups();
  const counts = { sent: 0, received: 0, rejected: 0, live: 0 };
  let socket: RouteChatSocket<ErrorFrameV2> | undefined;
  /** The page's one socket, for RouteChat and the watch. */
  let client: GatewayClient<PageMethods> | undefined;
  let watch: LiveWatch | undefined;
  let countdown: ReturnType<typeof setInterval> | undefined;

  // Places.
  const custom = doc.createElement('option');
  custom.value = '';
  custom.textContent = 'Custom coordinates…';
  ui.feature.append(custom);
  for (const [index, feature] of FEATURES.entries()) {
    const option = doc.createElement('option');
    option.value = String(index);
    option.textContent = feature.name;
    ui.feature.append(option);
  }
  let mapView: MapView | undefined;
  const showPlace = (place: Feature) => {
    const index = FEATURES.indexOf(featureAt(place.latitude, place.longitude) ?? place);
    ui.feature.value = index >= 0 ? String(index) : '';
    ui.latitude.value = degreesInput(place.latitude);
    ui.longitude.value = degreesInput(place.longitude);
    mapView?.select(place);
  };
  // The map is open on wide screens, one tap away on a phone (the notes stay above the fold).
  if (ui.mapDetails instanceof HTMLDetailsElement) {
    ui.mapDetails.open = doc.defaultView?.matchMedia('(min-width: 721px)').matches ?? true;
  }
  if (map instanceof SVGSVGElement) {
    const view = renderMap(map, {
      places: ALL_PLACES,
      geography: regionGeography(),
      onPick: showPlace,
      overlays: [ui.zoomIn, ui.zoomOut, ui.zoomReset].filter((button) => button !== null),
    });
    mapView = view;
    ui.zoomIn?.addEventListener('click', () => view.zoomBy(2));
    ui.zoomOut?.addEventListener('click', () => view.zoomBy(0.5));
    ui.zoomReset?.addEventListener('click', () => view.resetZoom());
  }
  if (ui.mapLegend instanceof HTMLUListElement) renderLegend(ui.mapLegend);
  ui.feature.addEventListener('change', () => {
    const feature = ui.feature.value === '' ? undefined : FEATURES[Number(ui.feature.value)];
    if (feature) showPlace(feature);
    else mapView?.select(undefined);
  });
  const typedLocation = (): { latitude: number; longitude: number } | undefined => {
    const latitude = parseDegrees(ui.latitude.value, 90);
    const longitude = parseDegrees(ui.longitude.value, 180);
    return typeof latitude === 'number' && typeof longitude === 'number'
      ? { latitude, longitude }
      : undefined;
  };
  const onCoordinatesTyped = () => {
    const location = typedLocation();
    const place =
      location &&
      ALL_PLACES.find((p) => p.latitude === location.latitude && p.longitude === location.longitude);
    const index = place ? FEATURES.indexOf(place) : -1;
    ui.feature.value = index >= 0 ? String(index) : '';
    mapView?.select(place);
  };
  ui.latitude.addEventListener('input', onCoordinatesTyped);
  ui.longitude.addEventListener('input', onCoordinatesTyped);
  if (FEATURES[0]) showPlace(FEATURES[0]);

  // Errors next to the form.
  const clearErrors = () => {
    ui.formError.hidden = true;
    ui.formError.replaceChildren();
    for (const [input, text] of Object.values(fieldErrors)) {
      input.removeAttribute('aria-invalid');
      text.hidden = true;
      text.textContent = '';
    }
  };
  const showFieldError = (path: keyof typeof fieldErrors, message: string) => {
    const [input, text] = fieldErrors[path];
    input.setAttribute('aria-invalid', 'true');
    text.textContent = message;
    text.hidden = false;
  };
  const showFormError = (message: string, details: ErrorFrame['details'] = []) => {
    const title = doc.createElement('strong');
    title.textContent = message;
    ui.formError.replaceChildren(title);
    if (details.length > 0) {
      const list = doc.createElement('ul');
      for (const detail of details) {
        const item = doc.createElement('li');
        item.textContent = `${detail.path || '(frame)'}: ${detail.message}`;
        list.append(item);
        if (detail.path in fieldErrors)
          showFieldError(detail.path as keyof typeof fieldErrors, detail.message);
      }
      ui.formError.append(list);
    }
    ui.formError.hidden = false;
  };

  // Counters, outbox, notes.
  const renderStats = (latencyMs?: number) => {
    ui.stats.sent.textContent = String(counts.sent);
    ui.stats.received.textContent = String(counts.received);
    ui.stats.rejected.textContent = String(counts.rejected);
    ui.stats.live.textContent = String(counts.live);
    if (latencyMs !== undefined) ui.stats.latency.textContent = `${Math.round(latencyMs)} ms`;
  };
  const renderOutbox = () => {
    const queued = socket?.queued() ?? [];
    ui.outbox.hidden = queued.length === 0;
    ui.outboxCount.textContent = String(queued.length);
    ui.outboxList.replaceChildren(
      ...queued.map((note) => {
        const item = doc.createElement('li');
        const place = featureAt(note.location.latitude, note.location.longitude);
        item.textContent = `${note.message || '(empty note)'} · ${place ? place.name : `${degrees(note.location.latitude)}, ${degrees(note.location.longitude)}`}`;
        return item;
      }),
    );
  };
  const render = () => {
    const list = groups.list();
    renderGroups(ui.groups, list, featureAt, degrees);
    ui.empty.hidden = ui.groups.childElementCount > 0;
    mapView?.markNotes(new Set(list.map((group) => group.key)));
  };

  // Live notes.
  const clockTime = (ms: number) =>
    new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const showLiveState = (state: LiveState) => {
    ui.liveState.dataset.state = state.name;
    ui.liveState.textContent = {
      connecting: () => 'Live notes: connecting…',
      live: () => 'Live: notes others post in the map’s area appear as they come.',
      offline: () =>
        state.name === 'offline'
          ? `Live notes offline${state.since === undefined ? '' : ` since ${clockTime(state.since)}`} (${state.why}): retrying…`
          : '',
      failed: () => (state.name === 'failed' ? `Live notes unavailable (${state.why}).` : ''),
      stopped: () => 'Live notes: off (Connect starts them).',
    }[state.name]();
  };
  // Not a live region: screen readers hear new notes only; this stays on the page to be read.
  const showGap = (gap: OfflineGap) => {
    const item = doc.createElement('li');
    item.className = 'gap';
    const from = doc.createElement('time');
    from.dateTime = new Date(gap.from).toISOString();
    from.textContent = clockTime(gap.from);
    const to = doc.createElement('time');
    to.dateTime = new Date(gap.to).toISOString();
    to.textContent = clockTime(gap.to);
    item.append('Offline ', from, '–', to, ': notes posted meanwhile are not shown.');
    ui.gaps.prepend(item);
    ui.gaps.hidden = false;
  };
  const startWatch = (shared: GatewayClient<PageMethods>) => {
    watch?.stop();
    const started = watchLiveNotes(
      {
        client: shared,
        rectangle: regionOf(ALL_PLACES),
      },
      {
        state: (state) => {
          if (watch === started || watch === undefined) showLiveState(state);
        },
        gap: showGap,
        note: (note) => {
          const fresh = groups.live(note);
          const newest = fresh.at(-1);
          if (!newest) return;
          counts.live += 1;
          renderStats();
          render();
          const place = featureAt(note.location.latitude, note.location.longitude);
          ui.announcer.textContent = `New note at ${place ? place.name : 'an unnamed spot'}: ${newest.message || '(empty note)'}`;
        },
      },
    );
    watch = started;
    showLiveState(started.state);
  };
  const stopWatch = () => {
    watch?.stop();
  };

  // Connection.
  const stopCountdown = () => {
    if (countdown !== undefined) clearInterval(countdown);
    countdown = undefined;
  };
  /**
   * Why the connection is down, in the gateway's words (or the socket's, when nothing was said):
   * the status that ended the stream that worked, and the last attempt's when it says something
   * else (a core whose note store is down refuses a note with its reason; the attempts after it
   * are turned away as "core unavailable"). Shown until a stream stays open for OUTAGE_OVER_MS.
   */
  let outage: { readonly first: string; readonly since: number } | undefined;
  let outageOver: ReturnType<typeof setTimeout> | undefined;
  const showReason = (status: CallStatus | undefined) => {
    clearTimeout(outageOver);
    if (!status) {
      outage = undefined;
      ui.reason.hidden = true;
      return;
    }
    const latest = statusText(status);
    outage ??= { first: latest, since: Date.now() };
    const text = `${outage.first}${latest === outage.first ? '' : ` · last attempt: ${latest}`}`;
    ui.reason.hidden = false;
    if (ui.reason.dataset.text === text) return; // once per change: it is a live region
    ui.reason.dataset.text = text;
    const label = doc.createElement('strong');
    label.textContent = `Down since ${clockTime(outage.since)}: `;
    ui.reason.replaceChildren(label, text);
  };
  const showState = (state: ConnectionState | { name: 'idle' }) => {
    stopCountdown();
    ui.state.dataset.state = state.name;
    // Over v2 every attempt opens at once and may end at once: an outage is over once open holds.
    clearTimeout(outageOver);
    if (state.name === 'open' && outage) outageOver = setTimeout(() => showReason(undefined), OUTAGE_OVER_MS);
    if (state.name === 'reconnecting') {
      const until = Date.now() + state.delayMs;
      const tick = () => {
        const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        ui.state.textContent = `Reconnecting in ${seconds} s…`;
      };
      tick();
      countdown = setInterval(tick, 250);
      showReason(state.lastStatus);
    } else {
      ui.state.textContent = STATE_TEXT[state.name];
      // Ended for good, or by a person: the final status says why.
      if (state.name === 'closed' || state.name === 'idle') showReason(undefined);
    }
    const live = state.name !== 'idle' && state.name !== 'closed';
    ui.connect.disabled = live;
    ui.disconnect.disabled = !live || state.name === 'half-closed';
    // While reconnecting, Send queues (the outbox shows it); it says so.
    ui.send.textContent = state.name === 'open' || !live ? 'Send' : 'Queue';
  };
  const showFinal = (outcome: CloseOutcome) => {
    const status: CallStatus = outcome.status;
    const reason = outcome.closeReason ? ` “${outcome.closeReason}”` : '';
    ui.finalStatus.textContent = `Stream ended: ${status.name} (${status.code})${status.message ? ` · ${status.message}` : ''} · close code ${outcome.closeCode}${reason}`;
    // Green only for a stream that really finished: OK and a normal close.
    ui.finalStatus.dataset.ok = String(status.code === 0 && outcome.closeCode === 1000);
    ui.finalStatus.hidden = false;
  };
  const onFate = (fate: NoteFate<ErrorFrameV2>) => {
    if (fate.fate === 'confirmed') renderStats(fate.latencyMs);
    else if (!fate.resend) {
      groups.forget(fate.note.location, fate.note.message);
      // A rejected note was counted and explained by its error frame (the 'error' listener).
      if (fate.fate === 'unknown' || fate.fate === 'unsent') {
        const why =
          fate.fate === 'unknown'
            ? 'may not have been delivered: the connection broke while it was on its way'
            : 'was not sent: the stream ended before it could go out';
        showFormError(`Your note “${fate.note.message}” ${why}.`);
      }
    }
    renderOutbox();
  };

  /** `byPerson`: Connect was pressed, so the message field gets the focus once it is open. */
  const connect = (byPerson: boolean) => {
    let focusWhenOpen = byPerson;
    clearErrors();
    ui.finalStatus.hidden = true;
    groups.clearPending();
    const url = new URL('/v2', doc.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = ui.token.value.trim();
    let shared: GatewayClient<PageMethods>;
    try {
      // One socket for both calls; it reconnects by itself while calls wait for it.
      shared = new GatewayClient<PageMethods>(url.href, {
        reconnect: RECONNECT,
        ...(token ? { token } : {}),
      });
      // v2's own reasons reach the page; the client's one loop reconnects the socket.
      socket = new RouteChatSocket({
        transport: routeChatOverV2(shared),
        reconnect: RECONNECT,
        // A note sent while the core restarts is resent and stored once.
        delivery: 'exactly-once',
      });
    } catch (error) {
      showFormError(error instanceof Error ? error.message : String(error));
      return;
    }
    client?.close();
    client = shared;
    const current = socket;
    startWatch(shared);
    showState(current.state);
    current.on('state', (state) => {
      if (current !== socket) return;
      showState(state);
      // Once: over v2 each reconnect opens again, and the focus must not jump while someone works.
      if (state.name === 'open' && focusWhenOpen) {
        focusWhenOpen = false;
        ui.message.focus();
      }
      if (state.name === 'closed') {
        showFinal(state.outcome);
        stopWatch();
        // Both calls are over: let the socket go.
        shared.close();
      }
      // No watch.reconnect() here: a draining gateway ends the watch itself on v2, and RouteChat
      // reconnecting is a new call on the same socket.
      renderOutbox();
    });
    current.on('note', (note) => {
      counts.received += 1;
      renderStats();
      const fresh = groups.received(note);
      render();
      const newest = fresh.at(-1);
      if (newest) {
        const place = featureAt(note.location.latitude, note.location.longitude);
        ui.announcer.textContent = `${newest.mine ? 'You' : 'New note'} at ${place ? place.name : 'an unnamed spot'}: ${newest.message || '(empty note)'}`;
      }
    });
    current.on('fate', onFate);
    current.on('error', (frame) => {
      // Not this note's fault: the library sends it again.
      if (frame.reason === 'after_end' || frame.reason === 'rate_limited' || frame.reason === 'no_credit')
        return;
      counts.rejected += 1;
      renderStats();
      showFormError(
        frame.details.length > 0 ? `The gateway rejected the note (${frame.code}):` : frame.message,
        frame.details,
      );
    });
  };
  ui.connect.addEventListener('click', () => connect(true));

  ui.disconnect.addEventListener('click', () => {
    const current = socket;
    if (!current) return;
    // Half-close: the core finishes its replies and sends the status.
    current.end();
    stopWatch();
    setTimeout(() => current.close(), DISCONNECT_GRACE_MS);
  });

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors();
    const current = socket;
    if (!current || current.state.name === 'closed' || current.state.name === 'half-closed') {
      showFormError('Not connected: press Connect first.');
      return;
    }
    const latitude = parseDegrees(ui.latitude.value, 90);
    const longitude = parseDegrees(ui.longitude.value, 180);
    if (typeof latitude === 'string') showFieldError('location.latitude', `Latitude: ${latitude}`);
    if (typeof longitude === 'string') showFieldError('location.longitude', `Longitude: ${longitude}`);
    if (typeof latitude === 'string' || typeof longitude === 'string') return;
    const message = ui.message.value;
    try {
      void current.send({ location: { latitude, longitude }, message });
    } catch (error) {
      const details = error instanceof GatewayError ? [...error.details] : [];
      showFormError(error instanceof Error ? error.message : String(error), details);
      return;
    }
    counts.sent += 1;
    renderStats();
    groups.sent({ latitude, longitude }, message);
    renderOutbox();
    ui.message.value = '';
    ui.message.focus();
  });

  showState({ name: 'idle' });
  showLiveState({ name: 'stopped' });
  renderStats();
  render();
  // Connected from the start (a person opening the page expects it live), the focus left alone.
  connect(false);
}
