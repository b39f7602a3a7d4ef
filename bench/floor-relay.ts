/**
 * `node dist/bench/floor-relay.js --listen HOST:PORT --core HOST:PORT`: the floor of this stack. A
 * bare WebSocket → RouteChat relay on the gateway's own libraries (ws, grpc-js, the same codec),
 * speaking v1's frames, with no validation, limits, metrics, logging, auth or policy: what the
 * gateway costs above it is what its rules cost. It is a measuring stick, not a product: a bad
 * frame is dropped without an answer. Every other flag (the gateway's) is accepted and ignored, so
 * the bench can start it in the gateway's place (`ab.js --entry-b bench/floor-relay.js`).
 */
import { createServer } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { WebSocketServer } from 'ws';
import { ROUTECHAT_V1_METHOD } from '../gateway/methods/routechat-v1.js';

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && at + 1 < process.argv.length ? (process.argv[at + 1] as string) : fallback;
}

const [host, port] = flag('listen', '127.0.0.1:8080').split(':') as [string, string];
const coreAddress = flag('core', '127.0.0.1:50051');
/** The gateway's default `--max-streams-per-channel`: past a server's stream limit, calls queue silently. */
const STREAMS_PER_CHANNEL = 100;
const channels: { readonly client: grpc.Client; active: number }[] = [];
function pickChannel() {
  let best = channels.find((channel) => channel.active < STREAMS_PER_CHANNEL);
  if (!best) {
    // A local subchannel pool: without it, clients of one target share one HTTP/2 connection.
    best = {
      client: new grpc.Client(coreAddress, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
      }),
      active: 0,
    };
    channels.push(best);
  }
  best.active += 1;
  return best;
}
const { codec, path } = ROUTECHAT_V1_METHOD;
const asIs = (bytes: Buffer) => bytes;

const server = createServer((_request, response) => response.writeHead(404).end());
const sockets = new WebSocketServer({
  server,
  perMessageDeflate: false,
  handleProtocols: (offered) => (offered.has('routechat.v1') ? 'routechat.v1' : false),
});

sockets.on('connection', (socket) => {
  const channel = pickChannel();
  const call = channel.client.makeBidiStreamRequest(path, asIs, asIs);
  let ended = false;
  socket.on('message', (data: Buffer, isBinary) => {
    if (isBinary || ended) return;
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return;
    }
    if ((json as { type?: unknown }).type === 'end') {
      ended = true;
      call.end();
      return;
    }
    const request = codec.parseRequest(json);
    if (request.ok && !call.write(Buffer.from(request.bytes))) {
      // The call's buffer is full: stop reading the socket until it drains, as the gateway does.
      socket.pause();
      call.once('drain', () => socket.resume());
    }
  });
  call.on('data', (bytes: Buffer) => socket.send(JSON.stringify(codec.responseToJson(bytes))));
  call.on('status', (status: grpc.StatusObject) => {
    channel.active -= 1;
    socket.send(JSON.stringify({ type: 'status', code: status.code, name: grpc.status[status.code] }));
    socket.close(status.code === grpc.status.OK ? 1000 : 4000 + status.code);
  });
  call.on('error', () => {}); // the status above says it
  socket.on('close', () => call.cancel());
  socket.on('error', () => call.cancel());
});

server.listen(Number(port), host);
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => {
    for (const socket of sockets.clients) socket.terminate();
    server.close();
    for (const channel of channels) channel.client.close();
  });
