/**
 * Request headers HTTP/2 forbids (RFC 9113 §8.2.2). The rule (protocol/metadata.ts) is checked name
 * by name against Node's own http2 client, and the channel pool fails a call carrying one alone,
 * before it reaches the HTTP/2 session it shares with every other call.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttp2Server, connect as http2Connect } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type ChannelPool, createChannelPool } from '../../gateway/upstream/channel-pool.js';
import {
  type CallStatus,
  HTTP2_CONNECTION_HEADERS,
  http2RequestHeaderProblem,
  StatusCode,
} from '../../protocol/index.js';
import { RESERVED_METADATA_KEYS } from '../../protocol/v2/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';

/** Names to put to Node: ours, HTTP/1 hop-by-hop and framing headers, and ordinary ones. */
const CANDIDATES = [
  ...HTTP2_CONNECTION_HEADERS,
  ...RESERVED_METADATA_KEYS,
  'te',
  'trailer',
  'content-length',
  'expect',
  'cookie',
  'accept',
  'x-custom',
  'x-forwarded-for',
  'grpc-timeout',
];

describe("the HTTP/2 request header rule is Node's", () => {
  test('Node refuses a request header exactly when http2RequestHeaderProblem does, for each name and value', async () => {
    const server = createHttp2Server();
    server.on('stream', (stream) => stream.close());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const session = http2Connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    session.on('error', () => {});
    try {
      for (const name of new Set(CANDIDATES))
        for (const value of ['x', 'trailers']) {
          let nodeRefuses = false;
          try {
            const stream = session.request({ [name]: value });
            stream.on('error', () => {});
            stream.close();
          } catch (error) {
            nodeRefuses = (error as { code?: string }).code === 'ERR_HTTP2_INVALID_CONNECTION_HEADERS';
          }
          assert.equal(
            http2RequestHeaderProblem(name, value) !== undefined,
            nodeRefuses,
            `${name}: ${value} (Node ${nodeRefuses ? 'refuses' : 'accepts'} it)`,
          );
        }
    } finally {
      session.destroy();
      server.close();
    }
  });
});

const raw = (path: string) => ({
  path,
  serialize: (bytes: Buffer) => bytes,
  deserialize: (bytes: Buffer) => bytes,
});

interface Recorded {
  messages: number;
  readonly status: Promise<CallStatus>;
}

function record(
  pool: ChannelPool,
  path: string,
  metadata: Record<string, string> = {},
): Recorded & { call: ReturnType<ChannelPool['call']> } {
  let resolve: (status: CallStatus) => void = () => {};
  const recorded = {
    messages: 0,
    status: new Promise<CallStatus>((r) => {
      resolve = r;
    }),
  };
  const call = pool.call(
    raw(path),
    metadata,
    {},
    {
      onMessage: () => {
        recorded.messages += 1;
      },
      onReadEnd: () => {},
      onStatus: (status) => resolve(status),
      onDrain: () => {},
    },
  );
  return Object.assign(recorded, { call });
}

describe('a call with headers HTTP/2 refuses fails alone', () => {
  let core: RunningCore;
  let pool: ChannelPool;
  before(async () => {
    core = await startCore();
    pool = createChannelPool({
      target: core.address,
      maxStreamsPerChannel: 100,
      maxMessageBytes: 1024 * 1024,
      keepaliveMs: 30_000,
    });
  });
  after(async () => {
    pool.close();
    await core.stop();
  });

  for (const [key, value] of [
    ...[...HTTP2_CONNECTION_HEADERS].map((k) => [k, 'AAA']),
    ['te', 'gzip'],
  ] as const) {
    test(`"${key}: ${value}" fails that call INTERNAL; a RouteChat on the same channel goes on`, {
      timeout: 15_000,
    }, async () => {
      const chat = record(pool, '/routeguide.RouteGuide/RouteChat');
      // An empty RouteNote (0 bytes): the first at a place gets no answer, the second gets the first.
      chat.call.write(Buffer.alloc(0));
      const bad = record(pool, '/routeguide.RouteGuide/GetFeature', { [key]: value });
      bad.call.write(Buffer.alloc(0));
      bad.call.end();
      const badStatus = await bad.status;
      assert.equal(badStatus.code, StatusCode.INTERNAL);
      assert.equal(pool.stats().channels, 1, 'one shared channel');
      const good = record(pool, '/routeguide.RouteGuide/GetFeature');
      good.call.write(Buffer.alloc(0));
      good.call.end();
      assert.equal((await good.status).code, StatusCode.OK);
      chat.call.write(Buffer.alloc(0));
      chat.call.end();
      const chatStatus = await chat.status;
      assert.equal(
        chatStatus.code,
        StatusCode.OK,
        `the RouteChat ended ${chatStatus.name} ${chatStatus.message}`,
      );
      assert.ok(chat.messages >= 1, 'the RouteChat still answered');
    });
  }
});
