/**
 * The Origin policy, as pure functions. An `Origin` header is a serialized origin (RFC 6454 §6.2,
 * WHATWG HTML "serialization of an origin"): `scheme://host[:port]`, or `null` for an opaque origin.
 * Browsers never send anything else, so anything else is refused: no userinfo, path, query,
 * fragment, percent-encoding or whitespace. WHATWG URL parsing is too lenient for this
 * (`http://evil.com@localhost` parses to the origin `http://localhost`), so the syntax is checked here.
 */
import { isIPv6 } from 'node:net';

/** What `null` (an opaque origin: a sandboxed frame, a file:// page) is compared as. */
export const OPAQUE_ORIGIN = 'null';

const SCHEME = '[A-Za-z][A-Za-z0-9+.-]*';
/** A DNS name or IPv4 address as a browser serializes it (ASCII, IDNs in punycode; `_` occurs in the wild). */
const REG_NAME = '[A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)*\\.?';
const IPV6_LITERAL = '\\[[0-9A-Fa-f:.]+\\]';
/** Decimal, no leading zeros: the serialization never has them. */
const PORT = '0|[1-9][0-9]{0,4}';
const SERIALIZED_ORIGIN = new RegExp(`^(${SCHEME})://(${IPV6_LITERAL}|${REG_NAME})(?::(${PORT}))?$`);

const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443, ws: 80, wss: 443 };

/**
 * The origin in canonical form (scheme and host lower-cased, the scheme's default port dropped),
 * `null` for the opaque origin, or undefined when `value` is not a serialized origin.
 */
export function parseOrigin(value: string): string | undefined {
  if (value === OPAQUE_ORIGIN) return OPAQUE_ORIGIN;
  const match = SERIALIZED_ORIGIN.exec(value);
  if (!match) return undefined;
  const scheme = (match[1] as string).toLowerCase();
  const host = (match[2] as string).toLowerCase();
  if (host.startsWith('[') && !isIPv6(host.slice(1, -1))) return undefined;
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && port > 65535) return undefined;
  return port === undefined || port === DEFAULT_PORTS[scheme]
    ? `${scheme}://${host}`
    : `${scheme}://${host}:${port}`;
}

/** Loopback names a developer's page may be served from; IPv6 as browsers serialize it. */
const LOCAL_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a listen address is loopback only (127.0.0.0/8, ::1, localhost). */
export const isLoopbackAddress = (host: string): boolean =>
  host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
const WEB_SCHEMES = new Set(['http', 'https']);

const hostnameOf = (origin: string): string => {
  const authority = origin.slice(origin.indexOf('://') + 3);
  return authority.startsWith('[')
    ? authority.slice(0, authority.indexOf(']') + 1)
    : (authority.split(':', 1)[0] as string);
};

/**
 * Origin policy. No Origin header: not a browser, allowed (Origin defends against cross-site
 * hijacking only; it is no authentication). A header that is not a serialized origin: refused,
 * whatever the allow-list. `*` allows any origin, the opaque one included. With an allow-list: an
 * exact match of the canonical forms. Without one: the page's own origin (the Host header under the
 * request's scheme) and http(s) localhost on any port.
 *
 * `loopbackOnly` (a gateway listening on loopback with no proxy in front): the Host header counts
 * for "the page's own origin" only when it names loopback. Otherwise DNS rebinding gets through: a
 * page on evil.com whose name the attacker re-points at 127.0.0.1 sends `Origin: http://evil.com`
 * with `Host: evil.com`, which looks same-origin, and reaches a developer's local gateway.
 */
export function isOriginAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowList: readonly string[],
  secure: boolean,
  loopbackOnly = false,
): boolean {
  if (origin === undefined) return true;
  const canonical = parseOrigin(origin);
  if (canonical === undefined) return false;
  if (allowList.includes('*')) return true;
  if (canonical === OPAQUE_ORIGIN) return false;
  if (allowList.length > 0) return allowList.some((allowed) => parseOrigin(allowed) === canonical);
  const scheme = canonical.slice(0, canonical.indexOf(':'));
  if (WEB_SCHEMES.has(scheme) && LOCAL_HOSTNAMES.has(hostnameOf(canonical))) return true;
  if (loopbackOnly) return false;
  return host !== undefined && parseOrigin(`${secure ? 'https' : 'http'}://${host}`) === canonical;
}

/** An `--allowed-origins` entry that can never match, explained; undefined when the entry is fine. */
export function allowListEntryProblem(entry: string): string | undefined {
  if (entry === '*') return undefined;
  const canonical = parseOrigin(entry);
  if (canonical === undefined) return `"${entry}" is not an origin (scheme://host[:port])`;
  if (canonical === OPAQUE_ORIGIN) return '"null" (the opaque origin) cannot be allow-listed; use "*"';
  return undefined;
}
