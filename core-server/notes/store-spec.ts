/**
 * `--note-store` values: `memory`, `redis://[user:pass@]HOST:PORT[/DB]`, `rediss://…` (TLS) or
 * `redis-sentinel://[user:pass@]HOST:PORT[,HOST:PORT…]/MASTERNAME[/DB]`. Pure parsing, so the
 * config schema rejects a bad value at start-up with one line. Messages never echo the value: it
 * may carry a password.
 */
import { type HostPort, formatHostPort as hp } from '../../common/cli-options.js';

export interface RedisCredentials {
  readonly username?: string;
  readonly password?: string;
}

export type NoteStoreSpec =
  | { readonly kind: 'memory' }
  | ({
      readonly kind: 'redis';
      readonly address: HostPort;
      readonly tls: boolean;
      readonly db: number;
    } & RedisCredentials)
  | ({
      readonly kind: 'redis-sentinel';
      readonly sentinels: readonly HostPort[];
      readonly masterName: string;
      readonly db: number;
    } & RedisCredentials);

export type SpecResult = { ok: true; spec: NoteStoreSpec } | { ok: false; problem: string };

const FORMS =
  'expected memory, redis://[user:pass@]HOST:PORT[/DB], rediss://… or redis-sentinel://HOST:PORT[,HOST:PORT]/MASTERNAME';

const fail = (problem: string): SpecResult => ({ ok: false, problem: `${problem} (${FORMS})` });

function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:/[\]]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port < 1 || port > 65535) return undefined;
  return { host: (match[1] ?? match[2]) as string, port };
}

function parseCredentials(userInfo: string | undefined): RedisCredentials {
  if (userInfo === undefined) return {};
  const colon = userInfo.indexOf(':');
  const decode = (part: string) => decodeURIComponent(part);
  // `redis://:secret@host` is the common form for a password without a user name.
  const username = colon < 0 ? '' : decode(userInfo.slice(0, colon));
  const password = decode(colon < 0 ? userInfo : userInfo.slice(colon + 1));
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

function parseDb(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return 0;
  return /^\d{1,5}$/.test(text) ? Number(text) : undefined;
}

export function parseNoteStoreSpec(value: string): SpecResult {
  const text = value.trim();
  if (text === 'memory') return { ok: true, spec: { kind: 'memory' } };
  const match = /^(redis|rediss|redis-sentinel):\/\/(?:([^@/]*)@)?([^/]+)(?:\/([^/]*))?(?:\/([^/]*))?$/.exec(
    text,
  );
  if (!match) return fail('unrecognised note store');
  const [, scheme, userInfo, hosts = '', first, second] = match;
  let credentials: RedisCredentials;
  try {
    credentials = parseCredentials(userInfo);
  } catch {
    return fail('bad percent-encoding in the credentials');
  }
  if (scheme === 'redis-sentinel') {
    const sentinels = hosts.split(',').map(parseHostPort);
    if (sentinels.some((s) => s === undefined)) return fail('each sentinel must be HOST:PORT');
    if (!first) return fail('the sentinel form needs /MASTERNAME');
    const db = parseDb(second);
    if (db === undefined) return fail('the database must be a number');
    return {
      ok: true,
      spec: {
        kind: 'redis-sentinel',
        sentinels: sentinels as HostPort[],
        masterName: decodeURIComponent(first),
        db,
        ...credentials,
      },
    };
  }
  const address = parseHostPort(hosts);
  if (!address) return fail('the address must be HOST:PORT');
  const db = parseDb(first);
  if (db === undefined || second !== undefined) return fail('the database must be a number');
  return { ok: true, spec: { kind: 'redis', address, tls: scheme === 'rediss', db, ...credentials } };
}

/** The spec without its credentials, for logs. */
export function describeNoteStoreSpec(spec: NoteStoreSpec): string {
  const auth = (c: RedisCredentials) => (c.password || c.username ? '***@' : '');
  switch (spec.kind) {
    case 'memory':
      return 'memory';
    case 'redis':
      return `${spec.tls ? 'rediss' : 'redis'}://${auth(spec)}${hp(spec.address)}/${spec.db}`;
    case 'redis-sentinel':
      return `redis-sentinel://${auth(spec)}${spec.sentinels.map(hp).join(',')}/${spec.masterName}/${spec.db}`;
  }
}
