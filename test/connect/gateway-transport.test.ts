/**
 * createGatewayTransport with createClient and the protoc-gen-es code of proto/, against a real
 * gateway in front of a real core (and a scripted core for metadata, trailers and cancellation):
 * every case runs over JSON text frames and again over binary frames.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { createGatewayTransport, type GatewayTransport } from '../../clients/lib/connect/index.js';
import type { WebSocketConstructor } from '../../clients/lib/index.js';
import { SEED_NOTES, SEED_REPLIES } from '../../clients/seed-notes.js';
import { NoteFeed } from '../../proto/es/note_feed_pb.js';
import { RouteGuide } from '../../proto/es/route_guide_pb.js';
import { unlistedService } from '../helpers/connect.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import {
  type FakeCore,
  type RunningGateway,
  startFakeCore,
  startGateway,
  until,
} from '../helpers/gateway.js';
import { countingWebSocket } from '../helpers/v2.js';

const BERKSHIRE = { latitude: 409146138, longitude: -746188906 };

const rejectsWith = (code: Code, pattern?: RegExp) => (error: unknown) => {
  assert.ok(error instanceof ConnectError, `a ConnectError, not ${String(error)}`);
  assert.equal(Code[error.code], Code[code], error.message);
  if (pattern) assert.match(error.rawMessage, pattern);
  return true;
};

async function* notes<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

for (const useBinaryFormat of [false, true]) {
  const encoding = useBinaryFormat ? 'binary frames' : 'JSON frames';

  describe(`createGatewayTransport over ${encoding}`, { timeout: 60_000 }, () => {
    let core: RunningCore;
    let gateway: RunningGateway;
    let fake: FakeCore;
    let fakeGateway: RunningGateway;
    const transports: GatewayTransport[] = [];
    const transportTo = (
      target: RunningGateway,
      extra: Partial<Parameters<typeof createGatewayTransport>[0]> = {},
    ) => {
      const transport = createGatewayTransport({
        baseUrl: target.httpUrl,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        useBinaryFormat,
        ...extra,
      });
      transports.push(transport);
      return transport;
    };

    before(async () => {
      core = await startCore();
      gateway = await startGateway(core.address, { 'max-message-size': 4096 });
      fake = await startFakeCore((call) => {
        const replyWith = call.metadata.get('x-reply-with')[0];
        if (call.metadata.get('x-send-header')[0] === 'yes') {
          const header = new grpc.Metadata();
          header.set('x-header', 'first');
          call.sendMetadata(header);
        }
        call.on('data', (note) => call.write(note));
        call.on('end', () => {
          const trailer = new grpc.Metadata();
          trailer.set('x-trailer', 'checked');
          if (replyWith === 'aborted')
            call.emit('error', { code: grpc.status.ABORTED, details: 'scripted', metadata: trailer });
          else call.end(trailer);
        });
      });
      fakeGateway = await startGateway(fake.address);
    });
    after(async () => {
      for (const transport of transports) transport.close();
      await gateway.app.close();
      await fakeGateway.app.close();
      await core.stop();
      await fake.stop();
    });

    test('RouteChat gives the seed sequence of replies', async () => {
      const client = createClient(RouteGuide, transportTo(gateway));
      const replies = [];
      for await (const reply of client.routeChat(notes(SEED_NOTES))) replies.push(reply);
      assert.deepEqual(
        replies.map((r) => ({
          location: { latitude: r.location?.latitude, longitude: r.location?.longitude },
          message: r.message,
        })),
        SEED_REPLIES,
      );
    });

    test('GetFeature, ListFeatures and RecordRoute answer as the core does', async () => {
      const client = createClient(RouteGuide, transportTo(gateway));
      const feature = await client.getFeature(BERKSHIRE);
      assert.match(feature.name, /Berkshire Valley Management Area Trail/);
      const listed = [];
      for await (const f of client.listFeatures({
        lo: { latitude: 400000000, longitude: -750000000 },
        hi: { latitude: 420000000, longitude: -730000000 },
      }))
        listed.push(f);
      assert.ok(listed.length > 10, `${listed.length} features`);
      const summary = await client.recordRoute(
        notes([BERKSHIRE, { latitude: 410248224, longitude: -747127767 }]),
      );
      assert.equal(summary.pointCount, 2);
      assert.equal(summary.featureCount, 2);
    });

    test('NoteFeed/Watch streams a note posted through RouteChat', async () => {
      const transport = transportTo(gateway);
      const feed = createClient(NoteFeed, transport);
      const chat = createClient(RouteGuide, transport);
      const where = { latitude: 123_000_000, longitude: 45_000_000 };
      const stop = new AbortController();
      const watch = feed
        .watch(
          {
            lo: { latitude: 122_000_000, longitude: 44_000_000 },
            hi: { latitude: 124_000_000, longitude: 46_000_000 },
          },
          { signal: stop.signal },
        )
        [Symbol.asyncIterator]();
      const first = watch.next();
      // The watch is registered when the gateway opens it: post until the note comes through.
      let seen: Awaited<typeof first> | undefined;
      void first.then((r) => {
        seen = r;
      });
      for (let i = 0; i < 100 && !seen; i += 1) {
        for await (const _ of chat.routeChat(notes([{ location: where, message: `live ${i}` }]))) {
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const note = (await first).value;
      assert.match(note?.message ?? '', /^live \d+$/);
      assert.deepEqual({ ...note?.location, $typeName: undefined }, { ...where, $typeName: undefined });
      stop.abort();
      await assert.rejects(watch.next(), rejectsWith(Code.Canceled));
    });

    test('many concurrent calls of every kind share one socket', async () => {
      const counting = countingWebSocket();
      const transport = transportTo(gateway, { WebSocket: counting.WebSocket });
      const client = createClient(RouteGuide, transport);
      const results = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          if (i % 3 === 0) return (await client.getFeature(BERKSHIRE)).name;
          if (i % 3 === 1) return (await client.recordRoute(notes([BERKSHIRE]))).pointCount;
          const replies = [];
          for await (const r of client.routeChat(
            notes([{ location: { latitude: 7, longitude: i }, message: `m${i}` }]),
          ))
            replies.push(r.message);
          return replies.at(-1);
        }),
      );
      results.forEach((result, i) => {
        if (i % 3 === 0) assert.match(String(result), /Berkshire/);
        else if (i % 3 === 1) assert.equal(result, 1);
        else assert.equal(result, `m${i}`);
      });
      assert.equal(counting.opened(), 1);
      const state = transport.state;
      assert.equal(
        state.name === 'open' && state.protocol,
        useBinaryFormat ? 'gateway.v2.binary' : 'gateway.v2',
      );
    });

    test('a method the gateway does not know fails Unimplemented', async () => {
      const client = createClient(unlistedService(), transportTo(gateway));
      await assert.rejects(
        (client as unknown as { getFeature(p: object): Promise<unknown> }).getFeature(BERKSHIRE),
        rejectsWith(Code.Unimplemented, /unknown method routeguide\.Unlisted\/GetFeature/),
      );
    });

    test('timeoutMs passes: DeadlineExceeded, and defaultTimeoutMs applies to calls without one', async () => {
      const feed = createClient(NoteFeed, transportTo(gateway));
      const nowhere = { lo: { latitude: 1, longitude: 1 }, hi: { latitude: 2, longitude: 2 } };
      const drain = async (stream: AsyncIterable<unknown>) => {
        for await (const _ of stream) {
        }
      };
      const started = Date.now();
      await assert.rejects(
        drain(feed.watch(nowhere, { timeoutMs: 300 })),
        rejectsWith(Code.DeadlineExceeded),
      );
      assert.ok(Date.now() - started < 5000);
      const withDefault = createClient(NoteFeed, transportTo(gateway, { defaultTimeoutMs: 300 }));
      await assert.rejects(drain(withDefault.watch(nowhere)), rejectsWith(Code.DeadlineExceeded));
    });

    test('an AbortSignal cancels the stream: Canceled here, the core call cancelled', async () => {
      const client = createClient(RouteGuide, transportTo(fakeGateway));
      const controller = new AbortController();
      const input = (async function* () {
        yield { location: { latitude: 1, longitude: 1 }, message: 'before abort' };
        await new Promise(() => {});
      })();
      const calls = fake.calls.length;
      const replies: string[] = [];
      await assert.rejects(async () => {
        for await (const reply of client.routeChat(input, { signal: controller.signal })) {
          replies.push(reply.message);
          controller.abort();
        }
      }, rejectsWith(Code.Canceled));
      assert.deepEqual(replies, ['before abort']);
      await until(() => fake.calls[calls]?.cancelled === true, 5000, 'the core call to be cancelled');
    });

    test('request headers become metadata; response headers reach onHeader and trailers onTrailer; a status error keeps code and trailers', async () => {
      const client = createClient(RouteGuide, transportTo(fakeGateway));
      const calls = fake.calls.length;
      let trailer: Headers | undefined;
      let header: Headers | undefined;
      const replies = [];
      for await (const reply of client.routeChat(notes([{ message: 'hi' }]), {
        headers: { 'x-tenant': 'blue', 'x-send-header': 'yes' },
        onHeader: (h) => {
          header = h;
        },
        onTrailer: (t) => {
          trailer = t;
        },
      }))
        replies.push(reply.message);
      assert.deepEqual(replies, ['hi']);
      assert.deepEqual(fake.calls[calls]?.metadata['x-tenant'], 'blue');
      assert.ok(header instanceof Headers);
      assert.equal(header.get('x-header'), 'first');
      assert.equal(header.get('content-type'), null, 'no transport header');
      assert.equal(trailer?.get('x-trailer'), 'checked');
      // Headers with none of the application's keys: onHeader gets an empty Headers.
      let noHeader: Headers | undefined;
      for await (const _ of client.routeChat(notes([{ message: 'plain' }]), {
        onHeader: (h) => {
          noHeader = h;
        },
      })) {
      }
      assert.deepEqual([...(noHeader ?? new Headers([['missing', 'onHeader']]))], []);
      await assert.rejects(
        async () => {
          for await (const _ of client.routeChat(notes([{ message: 'x' }]), {
            headers: { 'x-reply-with': 'aborted' },
          })) {
          }
        },
        (error: unknown) => {
          rejectsWith(Code.Aborted, /scripted/)(error);
          assert.equal((error as ConnectError).metadata.get('x-trailer'), 'checked');
          return true;
        },
      );
    });

    test('a reserved header is refused InvalidArgument under the same rules as any client', async () => {
      const client = createClient(RouteGuide, transportTo(gateway));
      await assert.rejects(
        client.getFeature(BERKSHIRE, { headers: { 'x-forwarded-for': '10.0.0.1' } }),
        rejectsWith(Code.InvalidArgument, /identity header/),
      );
    });

    test('a rejected frame becomes a ConnectError carrying the reason and details', async () => {
      const client = createClient(RouteGuide, transportTo(gateway));
      await assert.rejects(
        async () => {
          for await (const _ of client.routeChat(notes([{ message: 'x'.repeat(5000) }]))) {
          }
        },
        (error: unknown) => {
          rejectsWith(Code.ResourceExhausted, /message_too_large/)(error);
          const connectError = error as ConnectError;
          assert.equal(connectError.metadata.get('gateway-reject-reason'), 'message_too_large');
          assert.equal((connectError.cause as { reason?: string }).reason, 'message_too_large');
          return true;
        },
      );
    });

    test('interceptors run around every call and see the request and the response', async () => {
      const seen: string[] = [];
      const interceptor: Interceptor = (next) => async (req) => {
        req.header.set('x-tenant', 'intercepted');
        seen.push(`${req.method.name}:${req.stream ? 'stream' : 'unary'}`);
        const res = await next(req);
        seen.push(`${res.method.name}:done`);
        return res;
      };
      const calls = fake.calls.length;
      const chat = createClient(RouteGuide, transportTo(fakeGateway, { interceptors: [interceptor] }));
      for await (const _ of chat.routeChat(notes([{ message: 'a' }]))) {
      }
      assert.equal(fake.calls[calls]?.metadata['x-tenant'], 'intercepted');
      const guide = createClient(RouteGuide, transportTo(gateway, { interceptors: [interceptor] }));
      await guide.getFeature(BERKSHIRE);
      assert.deepEqual(seen, ['RouteChat:stream', 'RouteChat:done', 'GetFeature:unary', 'GetFeature:done']);
    });
  });
}
