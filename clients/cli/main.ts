/**
 * `routechat` (`npm run chat -- --url ws://HOST:PORT/v1/routechat`): one RouteChat stream from the
 * command line. Notes come from `--demo`, `--note LAT,LNG,TEXT` or JSON lines on stdin; received
 * notes are printed as they arrive; the exit code maps the final status (see exit-codes.ts).
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { ConfigError, helpText, parseOptions, readRawOptions } from '../../common/cli-options.js';
import {
  type CallStatus,
  type ErrorFrame,
  GatewayError,
  type NoteFrame,
  RouteChatSocket,
  StatusCode,
} from '../lib/index.js';
import { RECONNECT, routechatConfigSchema as schema, routechatOptionSpecs as specs } from './config.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { DEMO_NOTES, fromList, jsonLines, type NoteInput, parseNoteArg } from './note-sources.js';

const PROGRAM = 'routechat';

const OUTBOX_CAPACITY = 1000;

const SUMMARY = `Chats on a RouteChat stream through the gateway. Notes: --demo, --note, or JSON lines on stdin
(e.g. {"location":{"latitude":0,"longitude":1},"message":"hi"}). Exit: 0 OK, 1 OK but input rejected,
2 usage error (also a wrong URL path: HTTP 404), 10 + gRPC status code otherwise (e.g. 24 UNAVAILABLE,
14 DEADLINE_EXCEEDED when no handshake answer came).`;

const point = (note: NoteFrame) => `(${note.location.latitude}, ${note.location.longitude})`;

/** The --note values one by one: the shared parser joins repeated values with commas. */
function noteArgs(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const { values } = parseArgs({
    args: [...argv],
    options: { note: { type: 'string', multiple: true } },
    strict: false,
    allowPositionals: true,
  });
  const notes = (values.note ?? []).filter((value): value is string => typeof value === 'string');
  const fromEnv = env[specs.note.env];
  return notes.length === 0 && fromEnv ? [fromEnv] : notes;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { help, raw } = readRawOptions(specs, argv, process.env);
  if (help) {
    process.stdout.write(`${helpText(PROGRAM, SUMMARY, specs)}\n`);
    return ExitCode.OK;
  }
  const config = parseOptions(schema, raw, specs);
  const noteValues = noteArgs(argv, process.env);
  if (config.demo && noteValues.length > 0) throw new ConfigError('use either --demo or --note, not both');
  const notes = noteValues.map((value) => {
    const note = parseNoteArg(value);
    if (typeof note === 'string') throw new ConfigError(`invalid --note: ${note}`);
    return note;
  });
  const inputs: AsyncIterable<NoteInput> = config.demo
    ? fromList(DEMO_NOTES, 'demo note')
    : notes.length > 0
      ? fromList(notes, '--note')
      : jsonLines(process.stdin);

  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  let rejected = 0;

  const socket = new RouteChatSocket({
    url: config.url,
    WebSocket,
    handshakeTimeoutMs: config['handshake-timeout'],
    outboxCapacity: OUTBOX_CAPACITY,
    // A person who asks for --reconnect wants the notes delivered: a note whose fate is unknown (in
    // flight when a stream broke) is sent again, under its sequence: the core stores it once.
    ...(config.reconnect ? { reconnect: RECONNECT, delivery: 'exactly-once' as const } : {}),
    ...(config.token === undefined ? {} : { token: config.token }),
  });
  socket.on('state', (state) => {
    if (state.name === 'reconnecting' && !config.json) {
      err(
        `${PROGRAM}: ${state.lastStatus.name}${state.lastStatus.message ? `: ${state.lastStatus.message}` : ''}; reconnecting in ${state.delayMs} ms (attempt ${state.attempt})`,
      );
    }
  });
  // Every note's fate is reported; only the final ones that are not "confirmed" are worth a line.
  socket.on('fate', (fate) => {
    if (fate.fate === 'confirmed' || fate.fate === 'rejected') return;
    const what = fate.resend ? 'resending it on the next stream' : 'not resent';
    err(
      config.json
        ? JSON.stringify({ type: 'fate', ...fate })
        : `${PROGRAM}: note ${fate.id} ${JSON.stringify(fate.note.message)}: ${fate.fate} (${what})`,
    );
  });
  socket.on('note', (note) =>
    out(config.json ? JSON.stringify(note) : `${point(note)} ${JSON.stringify(note.message)}`),
  );
  socket.on('error', (frame: ErrorFrame) => {
    rejected += 1;
    err(
      config.json
        ? JSON.stringify(frame)
        : `${PROGRAM}: gateway rejected a frame: ${frame.code} (${frame.reason}): ${frame.message}`,
    );
  });

  // First Ctrl-C half-closes (the core still answers); a second one cancels the stream.
  const onSigint = () => {
    if (socket.state.name === 'half-closed') socket.close();
    else socket.end();
  };
  process.on('SIGINT', onSigint);

  // A function, not a narrowed property read: the state changes while the loop awaits.
  const isClosed = () => socket.state.name === 'closed';
  const sending = (async () => {
    for await (const input of inputs) {
      if (socket.state.name === 'closed') return;
      if (input.kind === 'end') break;
      if (input.kind === 'problem') {
        rejected += 1;
        err(`${PROGRAM}: ${input.where}: ${input.message}`);
        continue;
      }
      try {
        // Disconnected for long (with --reconnect): wait for room in the outbox rather than fail.
        while (socket.outboxSize >= OUTBOX_CAPACITY && !isClosed()) {
          await new Promise<void>((resolve) => {
            const offFate = socket.on('fate', () => done());
            const offState = socket.on('state', () => done());
            function done() {
              offFate();
              offState();
              resolve();
            }
          });
        }
        if (isClosed()) return;
        void socket.send(input.note);
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        // The stream ended meanwhile (e.g. the core is down): the status says why.
        if (error.code === StatusCode.FAILED_PRECONDITION) return;
        rejected += 1;
        err(`${PROGRAM}: ${input.where}: ${error.message}`);
      }
    }
    socket.end();
  })();

  const outcome = await socket.closed;
  const status: CallStatus = outcome.status;
  process.off('SIGINT', onSigint);
  // The stream is over: stop reading stdin (it may still be open) so the process can exit.
  process.stdin.destroy();
  await sending.catch((error: unknown) => {
    if (!(error instanceof Error && /destroyed|aborted/i.test(error.message))) throw error;
  });
  if (config.json) out(JSON.stringify({ type: 'status', ...status }));
  else if (status.code !== 0) err(`${PROGRAM}: ${status.name}${status.message ? `: ${status.message}` : ''}`);
  const exit = exitCodeFor(status, rejected, outcome.httpStatus);
  if (exit === ExitCode.USAGE && !config.json) err(`${PROGRAM}: check --url (${config.url})`);
  return exit;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const known = error instanceof ConfigError;
    process.stderr.write(`${PROGRAM}: ${known ? error.message : String((error as Error)?.stack ?? error)}\n`);
    process.exitCode = known ? ExitCode.USAGE : ExitCode.INTERNAL;
  },
);
