/** routechat's settings, apart from main.ts so tests can read them without running it. */
import { z } from 'zod';
import type { OptionSpecs } from '../../common/cli-options.js';
import type { ReconnectOptions } from '../lib/reconnect.js';

/**
 * `--reconnect`: 20 failures in a row (the count resets once a stream works) with the library's
 * default delays, at least half of each cap: however fast each attempt fails, it gives up only
 * after 77.9 s of outage (retryHorizonMs), so a Redis outage of a minute does not end it.
 */
export const RECONNECT: ReconnectOptions = { retries: 20 };

export const routechatOptionSpecs = {
  url: {
    env: 'ROUTECHAT_URL',
    description: 'Gateway WebSocket endpoint',
    default: 'ws://127.0.0.1:8080/v1/routechat',
  },
  token: { env: 'ROUTECHAT_TOKEN', description: 'Bearer token (sent as the bearer.<token> subprotocol)' },
  note: {
    env: 'ROUTECHAT_NOTE',
    description:
      'Send LAT,LNG,TEXT instead of reading stdin (degrees if a coordinate has a decimal point, e.g. 40.7,-74.0,hi; E7 integers otherwise; repeat for more)',
    multiple: true,
  },
  demo: { env: 'ROUTECHAT_DEMO', description: "Send the seed scenario's six notes", type: 'boolean' },
  json: { env: 'ROUTECHAT_JSON', description: 'Print one JSON object per line', type: 'boolean' },
  reconnect: {
    env: 'ROUTECHAT_RECONNECT',
    description: 'Reconnect through restarts (backoff with jitter); notes wait and go out on the next stream',
    type: 'boolean',
  },
  'handshake-timeout': {
    env: 'ROUTECHAT_HANDSHAKE_TIMEOUT',
    description: 'Give up on a connection attempt without a handshake answer after this many ms',
    default: '10000',
  },
} as const satisfies OptionSpecs;

export const routechatConfigSchema = z.object({
  url: z.url({ protocol: /^wss?$/, error: 'expected a ws:// or wss:// URL' }),
  token: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: 'a token may use HTTP token characters only' })
    .optional(),
  note: z.string().optional(),
  demo: z.boolean(),
  json: z.boolean(),
  reconnect: z.boolean(),
  'handshake-timeout': z.coerce
    .number({ error: 'expected milliseconds' })
    .int({ error: 'expected milliseconds' })
    .min(1, { error: 'expected at least 1 ms' }),
});
