/**
 * `routechat` (`npm run chat -- --url ws://HOST:PORT/v1/routechat`): one RouteChat stream from the
 * command line. Notes come from `--demo`, `--note LAT,LNG,TEXT` or JSON lines on stdin; received
 * notes are printed as they arrive; the exit code maps the final status (see exit-codes.ts).
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { z } from 'zod';
import {
  ConfigError,
  helpText,
  type OptionSpecs,
  parseOptions,
  readRawOptions,
} from '../../common/cli-options.js';
import {
  type CallStatus,
  type ErrorFrame,
  GatewayError,
  type NoteFrame,
  RouteChatSocket,
  StatusCode,
} from '../lib/index.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { DEMO_NOTES, fromList, jsonLines, type NoteInput, parseNoteArg } from './note-sources.js';

const PROGRAM = 'routechat';

const specs = {
  url: {
    env: 'ROUTECHAT_URL',
    description: 'Gateway WebSocket endpoint',
    defaultText: 'ws://127.0.0.1:8080/v1/routechat',
  },
  token: { env: 'ROUTECHAT_TOKEN', description: 'Bearer token (sent as the bearer.<token> subprotocol)' },
  note: {
    env: 'ROUTECHAT_NOTE',
    description: 'Send LAT,LNG,TEXT (E7 integers; repeat for more) instead of reading stdin',
    multiple: true,
  },
  demo: { env: 'ROUTECHAT_DEMO', description: "Send the seed scenario's six notes", type: 'boolean' },
  json: { env: 'ROUTECHAT_JSON', description: 'Print one JSON object per line', type: 'boolean' },
} as const satisfies OptionSpecs;

const schema = z.object({
  url: z
    .url({ protocol: /^wss?$/, error: 'expected a ws:// or wss:// URL' })
    .default('ws://127.0.0.1:8080/v1/routechat'),
  token: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: 'a token may use HTTP token characters only' })
    .optional(),
  note: z.string().optional(),
  demo: z.boolean().default(false),
  json: z.boolean().default(false),
});

const SUMMARY = `Chats on a RouteChat stream through the gateway. Notes: --demo, --note, or JSON lines on stdin
(e.g. {"location":{"latitude":0,"longitude":1},"message":"hi"}). Exit: 0 OK, 1 OK but input rejected,
2 usage error, 10 + gRPC status code otherwise (e.g. 24 UNAVAILABLE).`;

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
    ...(config.token === undefined ? {} : { token: config.token }),
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
        socket.send(input.note);
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

  const status: CallStatus = await socket.status;
  process.off('SIGINT', onSigint);
  // The stream is over: stop reading stdin (it may still be open) so the process can exit.
  process.stdin.destroy();
  await sending.catch((error: unknown) => {
    if (!(error instanceof Error && /destroyed|aborted/i.test(error.message))) throw error;
  });
  if (config.json) out(JSON.stringify({ type: 'status', ...status }));
  else if (status.code !== 0) err(`${PROGRAM}: ${status.name}${status.message ? `: ${status.message}` : ''}`);
  return exitCodeFor(status, rejected);
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
