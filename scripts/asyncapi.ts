/**
 * The AsyncAPI 3 document of the v1 contract, built from the zod schemas in protocol/frames.ts.
 * `npm run docs` writes it to docs/asyncapi.json; a test keeps the checked-in copy current.
 */
import { z } from 'zod';
import {
  endFrameSchema,
  errorFrameSchema,
  int32Schema,
  noteFrameSchema,
  ROUTECHAT_PATH,
  routeNoteSchema,
  SUBPROTOCOL,
  statusFrameSchema,
} from '../protocol/index.js';

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
      title: 'RouteGuide gateway: RouteChat over WebSocket',
      version: '1.0.0',
      description:
        'One WebSocket is one RouteChat call on a RouteGuide gRPC server. Generated from protocol/frames.ts by `npm run docs`; see docs/protocol.md.',
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
    },
  };
}

export const renderAsyncApi = (): string => `${JSON.stringify(buildAsyncApi(), null, 2)}\n`;
