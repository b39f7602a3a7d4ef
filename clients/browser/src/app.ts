/**
 * The RouteChat page: connection controls, a place picker (select + map), the note form and the
 * notes grouped by location. Only the notes list re-renders when notes arrive, so typing is never
 * interrupted. Everything user-supplied goes through textContent.
 */
import {
  type CallStatus,
  type CloseOutcome,
  type ConnectionState,
  type ErrorFrame,
  RouteChatSocket,
} from '../../lib/index.js';
import { degrees, FEATURES, featureAt } from './features.js';
import { renderGroups } from './groups-view.js';
import { renderMap } from './map-view.js';
import { createNoteGroups } from './note-groups.js';

const STATE_TEXT: Record<ConnectionState['name'] | 'idle', string> = {
  idle: 'Disconnected',
  connecting: 'Connecting…',
  open: 'Connected',
  'half-closed': 'Finishing…',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

/** How long a graceful disconnect waits for the status before closing outright. */
const DISCONNECT_GRACE_MS = 3000;
const INTEGER = /^\s*-?\d+\s*$/;

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
    form: element(doc, 'note-form', HTMLFormElement),
    feature: element(doc, 'feature', HTMLSelectElement),
    latitude: element(doc, 'latitude', HTMLInputElement),
    longitude: element(doc, 'longitude', HTMLInputElement),
    message: element(doc, 'message', HTMLInputElement),
    formError: element(doc, 'form-error', HTMLElement),
    token: element(doc, 'token', HTMLInputElement),
    groups: element(doc, 'groups', HTMLOListElement),
    empty: element(doc, 'empty', HTMLElement),
  };
  const map = doc.getElementById('map');
  const fieldErrors = {
    'location.latitude': [ui.latitude, element(doc, 'latitude-error', HTMLElement)],
    'location.longitude': [ui.longitude, element(doc, 'longitude-error', HTMLElement)],
    message: [ui.message, element(doc, 'message-error', HTMLElement)],
  } as const;

  const groups = createNoteGroups();
  let socket: RouteChatSocket | undefined;

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
  let selectMap: ((index: number | undefined) => void) | undefined;
  const pickFeature = (index: number) => {
    const feature = FEATURES[index];
    if (!feature) return;
    ui.feature.value = String(index);
    ui.latitude.value = String(feature.latitude);
    ui.longitude.value = String(feature.longitude);
    selectMap?.(index);
  };
  if (map instanceof SVGSVGElement) selectMap = renderMap(map, FEATURES, pickFeature);
  ui.feature.addEventListener('change', () => {
    if (ui.feature.value !== '') pickFeature(Number(ui.feature.value));
    else selectMap?.(undefined);
  });
  const onCoordinatesTyped = () => {
    const lat = Number(ui.latitude.value);
    const lng = Number(ui.longitude.value);
    const index = FEATURES.findIndex((f) => f.latitude === lat && f.longitude === lng);
    ui.feature.value = index >= 0 ? String(index) : '';
    selectMap?.(index >= 0 ? index : undefined);
  };
  ui.latitude.addEventListener('input', onCoordinatesTyped);
  ui.longitude.addEventListener('input', onCoordinatesTyped);
  pickFeature(0);

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
        const field = fieldErrors[detail.path as keyof typeof fieldErrors] as
          | (typeof fieldErrors)[keyof typeof fieldErrors]
          | undefined;
        if (field) {
          field[0].setAttribute('aria-invalid', 'true');
          field[1].textContent = detail.message;
          field[1].hidden = false;
        }
      }
      ui.formError.append(list);
    }
    ui.formError.hidden = false;
  };

  // Connection.
  const showState = (name: ConnectionState['name'] | 'idle') => {
    ui.state.textContent = STATE_TEXT[name];
    ui.state.dataset.state = name;
    const live =
      name === 'connecting' || name === 'open' || name === 'half-closed' || name === 'reconnecting';
    ui.connect.disabled = live;
    ui.disconnect.disabled = !live || name === 'half-closed';
  };
  const showFinal = (outcome: CloseOutcome) => {
    const status: CallStatus = outcome.status;
    const reason = outcome.closeReason ? ` “${outcome.closeReason}”` : '';
    ui.finalStatus.textContent = `Stream ended: ${status.name} (${status.code})${status.message ? ` · ${status.message}` : ''} · close code ${outcome.closeCode}${reason}`;
    ui.finalStatus.dataset.ok = String(status.code === 0);
    ui.finalStatus.hidden = false;
  };
  const render = () => {
    renderGroups(ui.groups, groups.list(), featureAt, degrees);
    ui.empty.hidden = ui.groups.childElementCount > 0;
  };

  ui.connect.addEventListener('click', () => {
    clearErrors();
    ui.finalStatus.hidden = true;
    groups.clearPending();
    const url = new URL('/v1/routechat', doc.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = ui.token.value.trim();
    try {
      socket = new RouteChatSocket({ url, ...(token ? { token } : {}) });
    } catch (error) {
      showFormError(error instanceof Error ? error.message : String(error));
      return;
    }
    const current = socket;
    showState(current.state.name);
    current.on('state', (state) => {
      if (current !== socket) return;
      showState(state.name);
      if (state.name === 'open') ui.message.focus();
      if (state.name === 'closed') showFinal(state.outcome);
    });
    current.on('note', (note) => {
      groups.received(note);
      render();
    });
    current.on('error', (frame) => {
      groups.rejectedLast();
      showFormError(
        frame.details.length > 0 ? `The gateway rejected the note (${frame.code}):` : frame.message,
        frame.details,
      );
    });
  });

  ui.disconnect.addEventListener('click', () => {
    const current = socket;
    if (!current) return;
    // Half-close: the core finishes its replies and sends the status.
    current.end();
    setTimeout(() => current.close(), DISCONNECT_GRACE_MS);
  });

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearErrors();
    if (socket?.state.name !== 'open') {
      showFormError('Not connected: press Connect first.');
      return;
    }
    // Sent as typed: integers as numbers, anything else as the raw text, for the gateway to judge.
    const raw = (text: string) => (INTEGER.test(text) ? Number(text) : text);
    const latitude = raw(ui.latitude.value);
    const longitude = raw(ui.longitude.value);
    const message = ui.message.value;
    socket.sendRaw(JSON.stringify({ location: { latitude, longitude }, message }));
    groups.sent(
      typeof latitude === 'number' && typeof longitude === 'number' ? { latitude, longitude } : undefined,
      message,
    );
    ui.message.value = '';
    ui.message.focus();
  });

  showState('idle');
  render();
}
