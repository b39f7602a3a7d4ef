/** The Origin policy as pure functions (gateway/origin.ts); the wire tests are in test/contract/upgrade.test.ts. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  allowListEntryProblem,
  isLoopbackAddress,
  isOriginAllowed,
  parseOrigin,
} from '../../gateway/admission/origin.js';

describe('parseOrigin: only serialized origins (scheme://host[:port]) are origins', () => {
  test('a serialized origin comes back canonical: scheme and host lower-case, default port dropped', () => {
    for (const [value, canonical] of [
      ['http://localhost:8080', 'http://localhost:8080'],
      ['https://example.com', 'https://example.com'],
      ['https://example.com:443', 'https://example.com'],
      ['http://example.com:80', 'http://example.com'],
      ['http://example.com:443', 'http://example.com:443'],
      ['HTTP://LOCALHOST:8080', 'http://localhost:8080'],
      ['https://Example.COM', 'https://example.com'],
      ['http://[::1]:8080', 'http://[::1]:8080'],
      ['http://[::1]', 'http://[::1]'],
      ['http://[2001:DB8::1]:80', 'http://[2001:db8::1]'],
      ['http://127.0.0.1:5173', 'http://127.0.0.1:5173'],
      ['http://localhost.:8080', 'http://localhost.:8080'],
      ['https://xn--bcher-kva.example', 'https://xn--bcher-kva.example'],
      ['chrome-extension://abcdefghijklmnop', 'chrome-extension://abcdefghijklmnop'],
      ['null', 'null'],
    ] as const) {
      assert.equal(parseOrigin(value), canonical, value);
    }
  });

  test('userinfo, path, query, fragment, percent-encoding, whitespace and odd ports are not origins', () => {
    for (const value of [
      'http://evil.com@localhost',
      'http://user:pw@localhost:8080',
      'http://@localhost',
      'http://localhost:8080/',
      'http://localhost/path',
      'http://localhost?x=1',
      'http://localhost#x',
      'http://%6cocalhost',
      'http://local%2ehost',
      ' http://localhost',
      'http://localhost ',
      'http://local host',
      'http://localhost\t',
      'http://localhost:',
      'http://localhost:08080',
      'http://localhost:65536',
      'http://localhost:99999',
      'http://localhost:80:80',
      'http://localhost, http://evil.com',
      'http://[::1',
      'http://[::g]:8080',
      'http://[fe80::1%25eth0]',
      'http://a..b',
      'http://.localhost',
      'http:/localhost',
      'http:localhost',
      '//localhost',
      'localhost',
      '',
      'NULL',
      'null ',
      'file:///etc/passwd',
      'http://\u0430pple.com',
      'javascript:alert(1)',
    ]) {
      assert.equal(parseOrigin(value), undefined, JSON.stringify(value));
    }
  });

  test('canonical forms are fixed points, and no origin with userinfo parses', () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?$/);
    const origin = fc
      .record({
        scheme: fc.constantFrom('http', 'https', 'HTTP', 'Https'),
        host: fc.array(label, { minLength: 1, maxLength: 3 }).map((labels) => labels.join('.')),
        port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      })
      .map(({ scheme, host, port }) => `${scheme}://${host}${port === undefined ? '' : `:${port}`}`);
    fc.assert(
      fc.property(origin, fc.stringMatching(/^[a-z0-9:.]{0,12}$/), (value, userinfo) => {
        const canonical = parseOrigin(value);
        assert.notEqual(canonical, undefined, value);
        assert.equal(parseOrigin(canonical as string), canonical);
        const [scheme, rest] = value.split('://') as [string, string];
        assert.equal(parseOrigin(`${scheme}://${userinfo}@${rest}`), undefined);
      }),
    );
  });
});

describe('isOriginAllowed', () => {
  const allowed = (origin: string | undefined, allowList: string[] = [], host = '127.0.0.1:8080') =>
    isOriginAllowed(origin, host, allowList, false);

  test('no Origin header (not a browser) is allowed', () => {
    assert.equal(allowed(undefined), true);
    assert.equal(allowed(undefined, ['https://example.com']), true);
  });

  test('by default: the page’s own origin and http(s) localhost on any port', () => {
    for (const origin of [
      'http://127.0.0.1:8080',
      'http://localhost:5173',
      'https://localhost',
      'http://[::1]:8080',
      'HTTP://LOCALHOST:3000',
    ]) {
      assert.equal(allowed(origin), true, origin);
    }
    assert.equal(isOriginAllowed('https://gw.example', 'gw.example:443', [], true), true);
    assert.equal(isOriginAllowed('https://gw.example', 'gw.example', [], false), false, 'scheme differs');
  });

  test('by default: userinfo tricks, lookalikes, other schemes and null are refused', () => {
    for (const origin of [
      'http://evil.com@localhost',
      'http://user:pw@localhost:8080',
      'http://localhost.evil.com',
      'http://localhost.',
      'http://127.0.0.1.nip.io',
      'http://[::1]:8080/',
      'ws://localhost:8080',
      'chrome-extension://localhost',
      'null',
      'http://localhost, http://evil.com',
    ]) {
      assert.equal(allowed(origin), false, origin);
    }
    for (const origin of [
      'http://gw.example:8081',
      'https://gw.example:8080',
      'http://evil@gw.example:8080',
    ]) {
      assert.equal(allowed(origin, [], 'gw.example:8080'), false, origin);
    }
  });

  test('on a loopback listener with no proxy, a rebound name is not same-origin; loopback names still are', () => {
    // DNS rebinding: evil.com re-pointed at 127.0.0.1 sends its own name as Origin and Host.
    assert.equal(
      isOriginAllowed('http://evil.com:8080', 'evil.com:8080', [], false),
      true,
      'without the guard',
    );
    assert.equal(isOriginAllowed('http://evil.com:8080', 'evil.com:8080', [], false, true), false);
    assert.equal(isOriginAllowed('http://127.0.0.1:8080', '127.0.0.1:8080', [], false, true), true);
    assert.equal(isOriginAllowed('http://localhost:8080', 'localhost:8080', [], false, true), true);
    assert.equal(isOriginAllowed(undefined, 'evil.com:8080', [], false, true), true, 'not a browser');
    assert.equal(
      isOriginAllowed('http://evil.com:8080', 'evil.com:8080', ['http://evil.com:8080'], false, true),
      true,
      'an explicit allow-list still decides',
    );
    assert.equal(isLoopbackAddress('127.0.0.1'), true);
    assert.equal(isLoopbackAddress('::1'), true);
    assert.equal(isLoopbackAddress('0.0.0.0'), false);
    assert.equal(isLoopbackAddress('10.0.0.5'), false);
  });

  test('a Host header that is not a plain host[:port] never makes an origin same-origin', () => {
    assert.equal(isOriginAllowed('http://evil.com', 'x@evil.com', [], false), false);
    assert.equal(isOriginAllowed('http://evil.com', 'evil.com/', [], false), false);
    assert.equal(isOriginAllowed('http://gw.example', undefined, [], false), false);
  });

  test('an allow-list matches canonical forms exactly, nothing looser', () => {
    const list = ['https://example.com', 'http://example.com:8080', 'http://[::1]:9000'];
    for (const origin of [
      'https://example.com',
      'https://example.com:443',
      'HTTPS://EXAMPLE.COM',
      'http://example.com:8080',
      'http://[::1]:9000',
    ]) {
      assert.equal(allowed(origin, list), true, origin);
    }
    for (const origin of [
      'https://evil@example.com',
      'https://example.com.',
      'https://example.com/',
      'https://example.com:8443',
      'http://example.com',
      'https://sub.example.com',
      'http://localhost:3000',
      'http://127.0.0.1:8080',
      'null',
    ]) {
      assert.equal(allowed(origin, list), false, origin);
    }
  });

  test('"*" allows any serialized origin, the opaque one included, but no malformed header', () => {
    assert.equal(allowed('https://anything.example', ['*']), true);
    assert.equal(allowed('null', ['*']), true);
    assert.equal(allowed('http://evil.com@localhost', ['*']), false);
    assert.equal(allowed('https://x.example/path', ['*']), false);
  });

  test('allow-list entries that can never match are explained (a configuration error)', () => {
    assert.equal(allowListEntryProblem('*'), undefined);
    assert.equal(allowListEntryProblem('https://example.com:443'), undefined);
    assert.match(allowListEntryProblem('https://example.com/') ?? '', /not an origin/);
    assert.match(allowListEntryProblem('example.com') ?? '', /not an origin/);
    assert.match(allowListEntryProblem('https://u@example.com') ?? '', /not an origin/);
    assert.match(allowListEntryProblem('null') ?? '', /opaque/);
  });
});
