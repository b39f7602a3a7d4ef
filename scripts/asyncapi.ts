/**
 * The AsyncAPI 3 document of the v1 contract, built from the zod schemas in protocol/v1/frames.ts.
 * `npm run docs` writes it to docs/asyncapi.json; a test keeps the checked-in copy current.
 */
import { z } from 'zod';
import {
  NOTE_SEQUENCE_KEY,
  NOTE_SEQUENCE_PATTERN,
  NOTE_SESSION_KEY,
  NOTE_SESSION_PATTERN,
} from '../protocol/common/note-session.js';
import {
  endFrameSchema,
  errorFrameSchema,
  int32Schema,
  noteFrameSchema,
  ROUTECHAT_PATH,
  routeNoteSchema,
  SUBPROTOCOL,
  statusFrameSchema,
} from '../protocol/v1/index.js';
import {
  BINARY_MESSAGE_KIND,
  cancelFrameSchema,
  clientMessageFrameSchema,
  creditFrameSchema,
  endStreamFrameSchema,
  errorFrameV2Schema,
  headersFrameSchema,
  openFrameSchema,
  serverMessageFrameSchema,
  statusFrameV2Schema,
  V2_BINARY_SUBPROTOCOL,
  V2_PATH,
  V2_SUBPROTOCOL,
} from '../protocol/v2/index.js';

const INT32_JSON = {
  description: 'int32 in the proto3 JSON mapping: a JSON number or a decimal string',
  oneOf: [
    { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
    { type: 'string', pattern: '^-?\\d{1,10}$' },
  ],
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, {
    io,
    override: (ctx) => {
      if (ctx.zodSchema === int32Schema) {
        for (const key of Object.keys(ctx.jsonSchema))
          delete (ctx.jsonSchema as Record<string, unknown>)[key];
        Object.assign(ctx.jsonSchema, INT32_JSON);
      }
    },
  }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

export function buildAsyncApi(): Record<string, unknown> {
  const message = (name: string, title: string, summary: string, payload: Record<string, unknown>) => ({
    name,
    title,
    summary,
    contentType: 'application/json',
    payload,
  });
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'RouteGuide gateway: RouteChat (v1) and any method (v2) over WebSocket',
      version: '1.0.0',
      description:
        'One WebSocket is one RouteChat call on a RouteGuide gRPC server. Generated from protocol/v1/frames.ts by `npm run docs`; see docs/protocol.md.',
      license: { name: 'Apache-2.0' },
    },
    defaultContentType: 'application/json',
    servers: {
      local: { host: '127.0.0.1:8080', protocol: 'ws', description: 'The default `npm start` gateway' },
    },
    channels: {
      routechat: {
        address: ROUTECHAT_PATH,
        title: 'RouteChat stream',
        description: `Optional subprotocol \`${SUBPROTOCOL}\`; \`bearer.<token>\` becomes \`authorization: Bearer <token>\`.`,
        messages: {
          routeNote: message(
            'RouteNote',
            'RouteNote (client → gateway)',
            'A note to send on the call.',
            jsonSchema(routeNoteSchema, 'input'),
          ),
          end: message(
            'End',
            'End (client → gateway)',
            'The client has finished sending (gRPC half-close).',
            jsonSchema(endFrameSchema, 'input'),
          ),
          note: message(
            'Note',
            'RouteNote (gateway → client)',
            'A note from the server, every field present.',
            jsonSchema(noteFrameSchema, 'output'),
          ),
          error: message(
            'Error',
            'Error (gateway → client)',
            'A client frame was rejected; the stream stays open.',
            jsonSchema(errorFrameSchema, 'output'),
          ),
          status: message(
            'Status',
            'Status (gateway → client)',
            'The call ended; always the last frame.',
            jsonSchema(statusFrameSchema, 'output'),
          ),
        },
        bindings: {
          ws: {
            method: 'GET',
            // The only query parameters the gateway reads (docs/protocol.md, idempotent notes).
            query: {
              type: 'object',
              properties: {
                [NOTE_SESSION_KEY]: {
                  type: 'string',
                  pattern: NOTE_SESSION_PATTERN,
                  description: `The producer session of idempotent notes; with ${NOTE_SEQUENCE_KEY}, or neither.`,
                },
                [NOTE_SEQUENCE_KEY]: {
                  type: 'string',
                  pattern: NOTE_SEQUENCE_PATTERN,
                  description: `The sequence number of the stream's first note (0 to ${Number.MAX_SAFE_INTEGER}); the core numbers the next ones.`,
                },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
      v2: {
        address: V2_PATH,
        title: 'Protocol v2: many calls of any method',
        description: `Optional subprotocol \`${V2_SUBPROTOCOL}\` (every frame JSON text), or \`${V2_BINARY_SUBPROTOCOL}\`: the binary encoding, where message frames in both directions are BinaryMessage frames (protobuf bytes) and every other frame stays JSON text; same streams, credit and limits. Streams are multiplexed by the client-chosen \`id\`; see docs/protocol.md (Protocol v2, Binary encoding).`,
        messages: {
          open: message(
            'Open',
            'Open (client → gateway)',
            'Starts one call of a method.',
            jsonSchema(openFrameSchema, 'input'),
          ),
          clientMessage: message(
            'ClientMessage',
            'Message (client → gateway)',
            'A request message in proto3 JSON; uses one credit.',
            jsonSchema(clientMessageFrameSchema, 'input'),
          ),
          end: message(
            'EndStream',
            'End (client → gateway)',
            'Half-close of one stream.',
            jsonSchema(endStreamFrameSchema, 'input'),
          ),
          cancel: message(
            'Cancel',
            'Cancel (client → gateway)',
            'Cancels one stream.',
            jsonSchema(cancelFrameSchema, 'input'),
          ),
          binaryMessage: {
            name: 'BinaryMessage',
            title: `Binary message (either way, ${V2_BINARY_SUBPROTOCOL} only)`,
            summary:
              'A request or response message as protobuf bytes, in one binary WebSocket frame; a request uses one credit.',
            contentType: 'application/octet-stream',
            payload: {
              type: 'string',
              format: 'binary',
              description: `Byte 0: kind 0x${BINARY_MESSAGE_KIND.toString(16).padStart(2, '0')} (message; no other kind is defined). Bytes 1-2: n, the stream id's length in UTF-8 bytes, unsigned big-endian, at least 1. Then the id (UTF-8, the rule of the JSON frames' id), then the message's protobuf encoding in the method's request (client → gateway) or response (gateway → client) type, possibly empty. The gateway checks a request against its type (size, decoding, declared fields with their wire types) and passes the original bytes to the core; responses are the core's bytes, unchanged.`,
            },
          },
          serverMessage: message(
            'ServerMessage',
            'Message (gateway → client)',
            'A response message in proto3 JSON, every field present.',
            jsonSchema(serverMessageFrameSchema, 'output'),
          ),
          headers: message(
            'Headers',
            'Headers (gateway → client)',
            "The core's response headers, before the first message, for a stream opened with responseHeaders.",
            jsonSchema(headersFrameSchema, 'output'),
          ),
          credit: message(
            'Credit',
            'Credit (gateway → client)',
            'More messages the client may send on a stream.',
            jsonSchema(creditFrameSchema, 'output'),
          ),
          error: message(
            'ErrorV2',
            'Error (gateway → client)',
            'A rejected client frame: with id, of that stream; without, of the socket.',
            jsonSchema(errorFrameV2Schema, 'output'),
          ),
          status: message(
            'StatusV2',
            'Status (gateway → client)',
            'The last frame of every stream.',
            jsonSchema(statusFrameV2Schema, 'output'),
          ),
        },
        bindings: { ws: { method: 'GET', bindingVersion: '0.1.0' } },
      },
    },
    operations: {
      sendNotes: {
        action: 'send',
        channel: { $ref: '#/channels/routechat' },
        messages: [
          { $ref: '#/channels/routechat/messages/routeNote' },
          { $ref: '#/channels/routechat/messages/end' },
        ],
      },
      receiveFrames: {
        action: 'receive',
        channel: { $ref: '#/channels/routechat' },
        messages: [
          { $ref: '#/channels/routechat/messages/note' },
          { $ref: '#/channels/routechat/messages/error' },
          { $ref: '#/channels/routechat/messages/status' },
        ],
      },
      sendStreamFrames: {
        action: 'send',
        channel: { $ref: '#/channels/v2' },
        messages: ['open', 'clientMessage', 'binaryMessage', 'end', 'cancel'].map((m) => ({
          $ref: `#/channels/v2/messages/${m}`,
        })),
      },
      receiveStreamFrames: {
        action: 'receive',
        channel: { $ref: '#/channels/v2' },
        messages: ['serverMessage', 'binaryMessage', 'headers', 'credit', 'error', 'status'].map((m) => ({
          $ref: `#/channels/v2/messages/${m}`,
        })),
      },
    },
  };
}

export const renderAsyncApi = (): string => `${JSON.stringify(buildAsyncApi(), null, 2)}\n`;
