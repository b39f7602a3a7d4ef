/** RouteChat straight to the core with grpc-js: the baseline. The only bench file importing grpc-js. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  type BenchConnection,
  type ConnectionEvents,
  closedWithin,
  type OpenConnection,
} from './connection.js';

interface Note {
  readonly location?: { readonly latitude: number; readonly longitude: number } | null;
  readonly message?: string;
}

type RouteGuideClient = grpc.Client & { RouteChat(): grpc.ClientDuplexStream<Note, Note> };

/**
 * Streams are spread over channels of `streamsPerChannel` each, as the gateway spreads its upstream
 * calls (its --max-streams-per-channel default is 100), so both paths use the same HTTP/2 layout.
 */
export function createGrpcOpener(
  target: string,
  protoPath: string,
  message: string,
  streamsPerChannel = 100,
): { open: OpenConnection; close(): void } {
  const definition = protoLoader.loadSync(protoPath, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    routeguide: {
      RouteGuide: new (
        target: string,
        credentials: grpc.ChannelCredentials,
        options: object,
      ) => RouteGuideClient;
    };
  };
  const clients: RouteGuideClient[] = [];
  let opened = 0;
  const clientFor = (): RouteGuideClient => {
    const index = Math.floor(opened / streamsPerChannel);
    opened += 1;
    let client = clients[index];
    if (!client) {
      client = new loaded.routeguide.RouteGuide(target, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      });
      clients[index] = client;
    }
    return client;
  };

  const open: OpenConnection = async (events: ConnectionEvents) => {
    const call = clientFor().RouteChat();
    let status = '';
    const closeWaiters: ((status: string) => void)[] = [];
    call.on('data', (note: Note) =>
      events.onNote(note.location?.latitude ?? 0, note.location?.longitude ?? 0),
    );
    call.on('error', () => {});
    call.on('status', (s: grpc.StatusObject) => {
      status = grpc.status[s.code] ?? String(s.code);
      events.onClosed(status);
      for (const waiter of closeWaiters.splice(0)) waiter(status);
    });
    const connection: BenchConnection = {
      send(latitude, longitude) {
        call.write({ location: { latitude, longitude }, message });
      },
      end(timeoutMs) {
        if (status) return Promise.resolve(status);
        call.end();
        return closedWithin((done) => closeWaiters.push(done), timeoutMs);
      },
      destroy: () => call.cancel(),
      pauseReading: () => call.pause(),
      resumeReading: () => call.resume(),
    };
    return connection;
  };
  return {
    open,
    close: () => {
      for (const client of clients) client.close();
    },
  };
}
