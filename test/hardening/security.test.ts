/**
 * Security of issue 5: TLS on both sides, authentication at the gateway (static tokens, JWT) and at
 * the core, tokens kept out of logs and frames, and the security headers on the HTTP routes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { CloseCode, ROUTECHAT_PATH } from '../../protocol/index.js';
import { spawnCore, startCore } from '../helpers/core.js';
import { connect, type FakeCore, isStatus, note, startGateway } from '../helpers/gateway.js';
import {
  makeCertificate,
  openClient,
  refusal,
  roundTrip,
  spawnGateway,
  startEchoCore,
} from '../helpers/hardening.js';

const httpsGetWithCa = (url: string, ca: Buffer) =>
  new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    httpsGet(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });

describe('TLS', () => {
  let tls: ReturnType<typeof makeCertificate>;
  let ca: Buffer;
  before(() => {
    tls = makeCertificate();
    ca = readFileSync(tls.cert);
  });
  after(() => tls.remove());

  test('with --tls-cert/--tls-key the gateway serves wss:// and https:// (/healthz, HSTS)', async () => {
    const core = await startCore();
    const gateway = await startGateway(core.address, { 'tls-cert': tls.cert, 'tls-key': tls.key });
    try {
      const result = await roundTrip(`wss://localhost:${gateway.port}${ROUTECHAT_PATH}`, { ca });
      assert.equal(result.code, CloseCode.NORMAL);
      assert.ok(
        result.frames.some((f) => 'message' in f && f.message === 'ping'),
        'the note came back',
      );
      const health = await httpsGetWithCa(`https://localhost:${gateway.port}/healthz`, ca);
      assert.equal(health.status, 200);
      assert.match(String(health.headers['strict-transport-security']), /max-age=\d+/);
      // A client that does not trust the certificate gets no connection.
      const untrusted = openClient(`wss://localhost:${gateway.port}${ROUTECHAT_PATH}`);
      const failed = await Promise.race([
        once(untrusted.ws, 'error').then(() => true),
        untrusted.opened.then(() => false),
      ]);
      assert.ok(failed, 'an untrusted certificate is not accepted by a verifying client');
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('a TLS core reached with --core-ca: RouteChat works end to end', async () => {
    const core = await startCore({ tls: { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } });
    const gateway = await startGateway(core.address, { 'core-ca': tls.cert });
    try {
      const result = await roundTrip(gateway.wsUrl);
      assert.equal(result.code, CloseCode.NORMAL, JSON.stringify(result.frames));
      assert.ok(result.frames.some((f) => 'message' in f && f.message === 'ping'));
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('without --core-ca, or with a CA that did not sign it, a TLS core gives UNAVAILABLE and 4014', async () => {
    const other = makeCertificate();
    const core = await startCore({ tls: { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } });
    const plaintext = await startGateway(core.address);
    const wrongCa = await startGateway(core.address, { 'core-ca': other.cert });
    try {
      for (const gateway of [plaintext, wrongCa]) {
        const client = connect(gateway.wsUrl);
        await client.opened;
        client.send(note(41, 1, 'over plaintext'));
        const closed = await client.closed;
        assert.deepEqual(closed, { code: 4014, reason: 'UNAVAILABLE' });
        const status = client.frames.at(-1);
        assert.ok(isStatus(status) && status.name === 'UNAVAILABLE');
      }
    } finally {
      await plaintext.app.close();
      await wrongCa.app.close();
      await core.stop();
      other.remove();
    }
  });
});

describe('authentication at the gateway', () => {
  let core: FakeCore;
  let dir: string;
  before(async () => {
    core = await startEchoCore();
    dir = mkdtempSync(join(tmpdir(), 'routechat-auth-'));
  });
  after(async () => {
    await core.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Asserts a 401 before any WebSocket or call, and that the answer does not repeat the token. */
  const assertRefused = async (
    gateway: Awaited<ReturnType<typeof startGateway>>,
    token: string | undefined,
    via: 'header' | 'subprotocol',
  ) => {
    const callsBefore = core.calls.length;
    const options =
      token === undefined
        ? {}
        : via === 'header'
          ? { headers: { authorization: `Bearer ${token}` } }
          : { protocols: ['routechat.v1', `bearer.${token}`] };
    const refused = await refusal(gateway.wsUrl, options);
    assert.equal(refused.status, 401, `token ${token} via ${via}`);
    assert.equal(refused.headers['www-authenticate'], 'Bearer');
    assert.equal((JSON.parse(refused.body) as { error: string }).error, 'unauthenticated');
    if (token) assert.ok(!refused.body.includes(token), 'the answer does not repeat the token');
    assert.equal(core.calls.length, callsBefore, 'no call reached the core');
    assert.equal(gateway.app.websocketServer.clients.size, 0, 'no WebSocket exists');
  };

  test('static tokens (flag and file): valid via Authorization header or bearer subprotocol; missing or wrong → 401', async () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, '# one token per line\nfile-token-2222\n\n');
    const gateway = await startGateway(core.address, {
      'auth-tokens': 'flag-token-1111',
      'auth-tokens-file': file,
    });
    try {
      for (const token of ['flag-token-1111', 'file-token-2222']) {
        const viaHeader = await roundTrip(gateway.wsUrl, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(viaHeader.code, CloseCode.NORMAL);
        const viaProtocol = openClient(gateway.wsUrl, { protocols: ['routechat.v1', `bearer.${token}`] });
        await viaProtocol.opened;
        assert.equal(viaProtocol.ws.protocol, 'routechat.v1', 'the token is never the selected subprotocol');
        viaProtocol.send({ type: 'end' });
        assert.equal((await viaProtocol.closed).code, CloseCode.NORMAL);
      }
      await assertRefused(gateway, undefined, 'header');
      for (const wrong of ['flag-token-111', 'flag-token-11111', 'FLAG-TOKEN-1111', '# one token per line'])
        for (const via of ['header', 'subprotocol'] as const)
          if (!(via === 'subprotocol' && wrong.includes(' '))) await assertRefused(gateway, wrong, via);
    } finally {
      await gateway.app.close();
    }
  });

  test('JWT with --jwt-secret: a valid HS256 token passes; expired, wrong issuer or audience, alg none, another secret → 401', async () => {
    const secret = 'a-test-secret-of-32-characters!!';
    const gateway = await startGateway(core.address, {
      'jwt-secret': secret,
      'jwt-issuer': 'https://issuer.test',
      'jwt-audience': 'routechat',
    });
    const sign = (
      claims: { iss?: string; aud?: string; exp?: number | string },
      key = secret,
      alg = 'HS256',
    ) => {
      const jwt = new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg }).setIssuedAt();
      jwt.setIssuer(claims.iss ?? 'https://issuer.test');
      jwt.setAudience(claims.aud ?? 'routechat');
      jwt.setExpirationTime(claims.exp ?? '5m');
      return jwt.sign(new TextEncoder().encode(key));
    };
    try {
      const valid = await sign({});
      assert.equal(
        (await roundTrip(gateway.wsUrl, { headers: { authorization: `Bearer ${valid}` } })).code,
        CloseCode.NORMAL,
      );
      assert.equal(
        (
          await roundTrip(gateway.wsUrl, {
            protocols: ['routechat.v1', `bearer.${await sign({}, secret, 'HS512')}`],
          })
        ).code,
        CloseCode.NORMAL,
      );
      const [header, payload] = valid.split('.') as [string, string];
      const algNone = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
      const tampered = `${header}.${Buffer.from(JSON.stringify({ sub: 'mallory', iss: 'https://issuer.test', aud: 'routechat', exp: 9999999999 })).toString('base64url')}.${valid.split('.')[2]}`;
      const invalid = {
        expired: await sign({ exp: Math.floor(Date.now() / 1000) - 60 }),
        'wrong issuer': await sign({ iss: 'https://evil.test' }),
        'wrong audience': await sign({ aud: 'someone-else' }),
        'alg none': algNone,
        'another secret': await sign({}, 'another-secret-of-32-characters!'),
        'tampered payload': tampered,
        garbage: 'not.a.jwt',
      };
      for (const [name, token] of Object.entries(invalid)) {
        await assertRefused(gateway, token, 'header').catch((error: Error) => {
          throw new Error(`${name}: ${error.message}`);
        });
      }
      await assertRefused(gateway, invalid.expired, 'subprotocol');
    } finally {
      await gateway.app.close();
    }
  });

  test('JWT with --jwt-key (ES256 public key): a token of its private key passes; another key or HS256 with the PEM → 401', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const pem = await exportSPKI(publicKey);
    const keyFile = join(dir, 'jwt.pub.pem');
    writeFileSync(keyFile, pem);
    const gateway = await startGateway(core.address, { 'jwt-key': keyFile });
    try {
      const valid = await new SignJWT({ sub: 'bob' })
        .setProtectedHeader({ alg: 'ES256' })
        .setExpirationTime('5m')
        .sign(privateKey);
      assert.equal(
        (await roundTrip(gateway.wsUrl, { headers: { authorization: `Bearer ${valid}` } })).code,
        CloseCode.NORMAL,
      );
      const otherKey = await new SignJWT({ sub: 'bob' })
        .setProtectedHeader({ alg: 'ES256' })
        .setExpirationTime('5m')
        .sign(other.privateKey);
      // Algorithm confusion: an HMAC keyed with the public key's PEM text.
      const confused = await new SignJWT({ sub: 'bob' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(pem));
      await assertRefused(gateway, otherKey, 'header');
      await assertRefused(gateway, confused, 'header');
      await assertRefused(gateway, undefined, 'header');
    } finally {
      await gateway.app.close();
    }
  });
});

describe('authentication at the core', () => {
  test('a core requiring a token: none or a wrong one gives UNAUTHENTICATED and 4016; bearer t1 works', async () => {
    const core = await spawnCore(['--auth-tokens', 't1']);
    const gateway = await startGateway(core.address);
    try {
      for (const options of [{}, { protocols: ['routechat.v1', 'bearer.wrong-core-token'] }]) {
        const client = openClient(gateway.wsUrl, options);
        await client.opened;
        client.send(note(51, 1, 'let me in'));
        const closed = await client.closed;
        assert.deepEqual(closed, { code: 4016, reason: 'UNAUTHENTICATED' });
        const status = client.frames.at(-1);
        assert.ok(isStatus(status) && status.name === 'UNAUTHENTICATED');
        assert.ok(!JSON.stringify(client.frames).includes('wrong-core-token'), 'the token is not echoed');
      }
      const viaProtocol = await roundTrip(gateway.wsUrl, { protocols: ['routechat.v1', 'bearer.t1'] });
      assert.equal(viaProtocol.code, CloseCode.NORMAL);
      const viaHeader = await roundTrip(gateway.wsUrl, { headers: { authorization: 'Bearer t1' } });
      assert.equal(viaHeader.code, CloseCode.NORMAL);
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });
});

describe('tokens stay secret', () => {
  test('no token appears in debug logs, close reasons, error frames or the selected subprotocol', async () => {
    const good = 'tok-SECRET-good-7f3a9c';
    const wrong = 'tok-SECRET-wrong-51be20';
    const core = await spawnCore(['--auth-tokens', good, '--log-level', 'debug']);
    const gateway = await spawnGateway(core.address, ['--auth-tokens', good, '--log-level', 'debug']);
    const seen: string[] = [];
    try {
      for (const options of [
        { headers: { authorization: `Bearer ${good}` } },
        { protocols: ['routechat.v1', `bearer.${good}`] },
      ]) {
        const client = openClient(gateway.wsUrl, options);
        await client.opened;
        seen.push(client.ws.protocol);
        client.send('not json');
        client.send({ location: { latitude: 'x' } });
        client.send(note(61, 1, 'hello'));
        client.send({ type: 'end' });
        client.send(note(61, 1, 'after end'));
        const closed = await client.closed;
        assert.equal(closed.code, CloseCode.NORMAL);
        seen.push(closed.reason, JSON.stringify(client.frames));
        assert.ok(client.frames.filter((f) => 'type' in f && f.type === 'error').length >= 3);
      }
      for (const options of [
        { headers: { authorization: `Bearer ${wrong}` } },
        { protocols: ['routechat.v1', `bearer.${wrong}`] },
        { headers: { authorization: `Basic ${wrong}` } },
      ]) {
        const refused = await refusal(gateway.wsUrl, options);
        assert.equal(refused.status, 401);
        seen.push(refused.body, JSON.stringify(refused.headers));
      }
      // The token passed through to the core when the gateway checks none: the core refuses it.
      const passThrough = await spawnGateway(core.address, ['--log-level', 'debug']);
      try {
        const client = openClient(passThrough.wsUrl, { protocols: ['routechat.v1', `bearer.${wrong}`] });
        await client.opened;
        client.send(note(61, 2, 'through'));
        const closed = await client.closed;
        assert.equal(closed.code, 4016);
        seen.push(client.ws.protocol, closed.reason, JSON.stringify(client.frames));
      } finally {
        await passThrough.stop();
        seen.push(...passThrough.lines);
      }
    } finally {
      await gateway.stop();
      await core.stop();
    }
    const logLines = [...gateway.lines];
    assert.ok(
      logLines.some((l) => l.includes('connection opened')) &&
        logLines.some((l) => l.includes('upgrade refused')),
      'the debug log covers the connections and the refusals',
    );
    assert.ok(logLines.length > 10, `${logLines.length} log lines`);
    for (const text of [...logLines, ...core.lines, ...seen]) {
      for (const token of [good, wrong]) assert.ok(!text.includes(token), `a token leaked: ${text}`);
    }
  });
});

describe('security headers', () => {
  test('the page and the HTTP routes carry a strict CSP, nosniff and frame-ancestors none', async (t) => {
    const core = await startCore();
    const gateway = await startGateway(core.address);
    try {
      const page = await fetch(`${gateway.httpUrl}/`);
      const routes: [string, Response][] = [['/healthz', await fetch(`${gateway.httpUrl}/healthz`)]];
      if (page.status === 200) routes.push(['/', page]);
      else t.diagnostic('the browser page is not built (npm run build:browser): only /healthz is checked');
      for (const [path, response] of routes) {
        const csp = response.headers.get('content-security-policy') ?? '';
        const directives = new Map(
          csp
            .split(';')
            .map((d) => d.trim().split(/\s+/))
            .filter((parts) => parts[0])
            .map(([name, ...values]) => [name as string, values]),
        );
        assert.deepEqual(directives.get('default-src'), ["'self'"], `${path}: ${csp}`);
        assert.deepEqual(directives.get('frame-ancestors'), ["'none'"], `${path}: ${csp}`);
        assert.deepEqual(directives.get('object-src'), ["'none'"], `${path}: ${csp}`);
        for (const name of ['script-src', 'style-src']) {
          const values = directives.get(name) ?? directives.get('default-src') ?? [];
          assert.ok(!values.some((v) => /unsafe|\*|data:/.test(v)), `${path}: ${name} ${values.join(' ')}`);
        }
        assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      }
      if (page.status === 200) {
        const html = await page.text();
        assert.ok(
          !/<script(?![^>]*\bsrc=)[^>]*>/.test(html),
          'no inline script: the strict CSP does not break the page',
        );
      }
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });
});
