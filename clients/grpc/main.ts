/** `npm run client:grpc -- --server HOST:PORT [--json]`: the canonical walkthrough over native gRPC. */
import * as grpc from '@grpc/grpc-js';
import {
  ConfigError,
  formatHostPort,
  helpText,
  parseOptions,
  readRawOptions,
} from '../../common/cli-options.js';
import { routeguide } from '../../proto/index.js';
import { grpcClientConfigSchema as schema, grpcClientOptionSpecs as specs } from './config.js';
import { runWalkthrough, type WalkthroughEvent } from './walkthrough.js';

const point = (p: { latitude?: number; longitude?: number } | null | undefined) =>
  `(${(p?.latitude ?? 0) / 1e7}, ${(p?.longitude ?? 0) / 1e7})`;

export function describe(event: WalkthroughEvent): string {
  if ('request' in event) {
    return event.feature.name
      ? `GetFeature: found feature "${event.feature.name}" at ${point(event.feature.location)}`
      : `GetFeature: no feature at ${point(event.request)}`;
  }
  if (event.step === 'ListFeatures')
    return `ListFeatures: "${event.feature.name}" at ${point(event.feature.location)}`;
  if ('visited' in event) return `RecordRoute: visiting ${point(event.visited)}`;
  if ('summary' in event) {
    const s = event.summary;
    return `RecordRoute: finished trip with ${s.point_count} points, passed ${s.feature_count} features, travelled ${s.distance} meters, took ${s.elapsed_time} seconds`;
  }
  if ('sent' in event)
    return `RouteChat: sending "${event.sent.message}" at point(${event.sent.location?.latitude}, ${event.sent.location?.longitude})`;
  return `RouteChat: got message "${event.received.message}" at point(${event.received.location?.latitude}, ${event.received.location?.longitude})`;
}

async function main(): Promise<number> {
  const { help, raw } = readRawOptions(specs, process.argv.slice(2), process.env);
  if (help) {
    process.stdout.write(
      `${helpText('routeguide-client', 'Runs the canonical RouteGuide walkthrough against a gRPC server.', specs)}\n`,
    );
    return 0;
  }
  const config = parseOptions(schema, raw, specs);
  const client = new routeguide.RouteGuide(formatHostPort(config.server), grpc.credentials.createInsecure());
  try {
    await runWalkthrough(client, (event) => {
      process.stdout.write(`${config.json ? JSON.stringify(event) : describe(event)}\n`);
    });
    return 0;
  } finally {
    client.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const status = (error as Partial<grpc.ServiceError>).code;
    const message =
      error instanceof ConfigError
        ? error.message
        : status !== undefined
          ? `${grpc.status[status]}: ${(error as grpc.ServiceError).details}`
          : String(error);
    process.stderr.write(`routeguide-client: ${message}\n`);
    process.exitCode = error instanceof ConfigError ? 2 : 1;
  },
);
