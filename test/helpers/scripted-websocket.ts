/**
 * A WebSocket the test drives by hand, for the client library's lifecycle tests with a fake clock:
 * the test plays the server (open, reply, drop, refuse) and reads what the client sent. It has the
 * WHATWG surface the library uses plus ws's `unexpected-response` hook, so refused upgrades (HTTP
 * status, Retry-After) can be scripted too.
 */
import type { WebSocketCloseEventLike } from '../../clients/lib/web-socket-like.js';

type Handler = (event: never) => void;
type UpgradeListener = (
  request: unknown,
  response: { statusCode?: number; headers: Record<string, unknown> },
) => void;

export class ScriptedSocket {
  /** Every socket constructed, oldest first; a test resets it before it starts a client. */
  static made: ScriptedSocket[] = [];
  readyState = 0;
  protocol = '';
  bufferedAmount = 0;
  readonly sent: string[] = [];
  readonly handlers = new Map<string, Handler[]>();
  upgradeListener: UpgradeListener | undefined;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    ScriptedSocket.made.push(this);
  }
  addEventListener(type: string, listener: Handler) {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), listener]);
  }
  on(_event: 'unexpected-response', listener: UpgradeListener) {
    this.upgradeListener = listener;
  }
  emit(type: string, event: unknown) {
    for (const handler of this.handlers.get(type) ?? []) (handler as (e: unknown) => void)(event);
  }
  send(data: string) {
    this.sent.push(data);
  }
  /** As a runtime does: closing a socket still connecting aborts it, and the close says 1006. */
  close(code = 1005, reason = '') {
    if (this.readyState === 3) return;
    const wasConnecting = this.readyState === 0;
    this.readyState = 3;
    queueMicrotask(() => this.emit('close', { code: wasConnecting ? 1006 : code, reason }));
  }
  // What the server does:
  /** Accepts the upgrade, selecting the first subprotocol offered (routechat.v1, gateway.v2). */
  open() {
    this.readyState = 1;
    this.protocol = this.protocols[0] ?? '';
    this.emit('open', {});
  }
  reply(frame: unknown) {
    this.emit('message', { data: JSON.stringify(frame) });
  }
  drop(event: WebSocketCloseEventLike = { code: 1006, reason: '' }) {
    this.readyState = 3;
    this.emit('close', event);
  }
  /** Answers the upgrade with an HTTP status instead (ws's hook; browsers do not expose it). */
  refuse(statusCode: number, headers: Record<string, unknown> = {}) {
    this.upgradeListener?.({}, { statusCode, headers });
  }
  endWith(code: number, name: string, closeCode: number) {
    this.reply({ type: 'status', code, name, message: '', metadata: {} });
    this.drop({ code: closeCode, reason: name });
  }
  frames(): { type: string; id?: string; [key: string]: unknown }[] {
    return this.sent.map((text) => JSON.parse(text));
  }
}
