/** Small gRPC calls against a core by address: one RouteChat note, a health check. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { type RouteNote, type RouteNote__Output, routeguide } from '../../proto/index.js';

export interface ChatResult {
  readonly notes: RouteNote__Output[];
  /** Set when the call ended with an error status instead of OK. */
  readonly error?: grpc.ServiceError;
  readonly ms: number;
}

/**
 * Sends one note on a new RouteChat, half-closes, and resolves with every note received and the
 * final status. The call's deadline bounds it: a hang shows up as DEADLINE_EXCEEDED.
 */
export function chatOnce(address: string, note: RouteNote, deadlineMs = 10_000): Promise<ChatResult> {
  const client = new routeguide.RouteGuide(address, grpc.credentials.createInsecure());
  const started = Date.now();
  const call = client.RouteChat({ deadline: Date.now() + deadlineMs });
  const notes: RouteNote__Output[] = [];
  return new Promise((resolve) => {
    const done = (error?: grpc.ServiceError) => {
      client.close();
      resolve({ notes, ms: Date.now() - started, ...(error ? { error } : {}) });
    };
    call.on('data', (n: RouteNote__Output) => notes.push(n));
    call.on('error', done);
    call.on('end', () => done());
    call.write(note);
    call.end();
  });
}

type HealthClient = grpc.Client & {
  Check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, reply?: { status: string }) => void,
  ): void;
};

let HealthCtor: (new (address: string, credentials: grpc.ChannelCredentials) => HealthClient) | undefined;

/** `grpc.health.v1.Health/Check` → `SERVING`, `NOT_SERVING`, … or the error's message. */
export async function checkHealth(address: string, service = ''): Promise<string> {
  if (!HealthCtor) {
    const pkg = grpc.loadPackageDefinition(
      protoLoader.loadSync(healthProtoPath, { enums: String }),
    ) as unknown as {
      grpc: { health: { v1: { Health: typeof HealthCtor } } };
    };
    HealthCtor = pkg.grpc.health.v1.Health;
  }
  const client = new HealthCtor!(address, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve) =>
      client.Check({ service }, { deadline: Date.now() + 3000 }, (error, reply) =>
        resolve(error ? `error: ${error.message}` : String(reply?.status)),
      ),
    );
  } finally {
    client.close();
  }
}

/** Polls the health service until every listed service reports `status`. */
export async function waitForHealth(
  address: string,
  status: string,
  timeoutMs = 15_000,
  services: readonly string[] = ['', 'routeguide.RouteGuide'],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await Promise.all(services.map((service) => checkHealth(address, service)));
    if (last.every((s) => s === status)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`health of ${address} stayed ${last.join(', ')}, expected ${status}`);
}
