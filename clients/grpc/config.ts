/** routeguide-client's settings, apart from main.ts so tests can read them without running it. */
import { z } from 'zod';
import { hostPort, type OptionSpecs } from '../../common/cli-options.js';

export const grpcClientOptionSpecs = {
  server: { env: 'ROUTEGUIDE_SERVER', description: 'RouteGuide server to call', default: '127.0.0.1:50051' },
  json: { env: 'ROUTEGUIDE_JSON', description: 'Print one JSON object per line', type: 'boolean' },
} as const satisfies OptionSpecs;

export const grpcClientConfigSchema = z.object({
  server: hostPort,
  json: z.boolean(),
});
