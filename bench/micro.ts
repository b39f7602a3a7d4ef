/**
 * The loop of the in-process micro-benches (codec-micro.ts, frame-micro.ts): each case `n` times
 * per round, the cases interleaved round by round, round 0 as warm-up; prints each case's median
 * µs per call and its rounds. Run the built files (dist/bench/): under tsx, esbuild's keepNames
 * wraps every closure made per call in `__name` (a defineProperty): json-check with its old
 * per-call closures measured 2.3 µs per RouteNote under tsx against 0.21 µs built. Below: the v1
 * relay loop of connection-micro.ts and tracing-micro.ts.
 */
import type { ParsedRequest } from '../gateway/methods/codec.js';
import type { CallHandlers, CallOpener } from '../gateway/upstream/calls.js';

export function runMicro(cases: Readonly<Record<string, () => void>>, rounds: number, n = 200_000): void {
  const samples = new Map<string, number[]>(Object.keys(cases).map((k) => [k, []]));
  for (let r = 0; r <= rounds; r++) {
    for (const [name, run] of Object.entries(cases)) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) run();
      const us = Number(process.hrtime.bigint() - start) / 1000 / n;
      if (r > 0) samples.get(name)?.push(us);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  for (const [name, xs] of samples)
    process.stdout.write(
      `${name.padEnd(20)} median ${median(xs).toFixed(3)} µs  (rounds: ${xs.map((x) => x.toFixed(2)).join(' ')})\n`,
    );
}

/** The parts of a v1 connection machine the relay loop drives. */
export interface MicroConnection {
  onClientText(text: string): void;
  onClientGone(): void;
}

/** A socket that takes every frame and never backs up. */
export const microSocket = () => ({ bufferedAmount: 0, send() {}, close() {}, pause() {}, resume() {} });

/** v1's limits as the micro-benches run them: no rate limit, the frame limits of the build measured. */
export const microV1Limits = <Frame>(frame: Frame) => ({
  frame,
  maxRejectedFrames: 20,
  socketHighWaterMark: 1 << 20,
  rateLimit: 0,
  rateBurst: 400,
  floodGraceMs: 10_000,
});

/**
 * CPU µs per note, one in and one out, through one v1 connection machine alone (connection-micro.ts,
 * tracing-micro.ts): `connect` builds it on `upstream`, a call that takes every write; each note is
 * the bench's (64-byte message) as frame text in, and its request bytes back as the core's reply.
 */
export function v1RelayCpuPerNote(
  connect: (upstream: CallOpener) => MicroConnection,
  parseRequest: (json: unknown) => ParsedRequest,
  notes: number,
): number {
  let call: CallHandlers | undefined;
  const connection = connect({
    open(_method, _metadata, _options, handlers) {
      call = handlers;
      return { write: () => true, end() {}, cancel() {}, pause() {}, resume() {} };
    },
  });
  const note = { location: { latitude: 412345678, longitude: -741234567 }, message: 'x'.repeat(64) };
  const text = JSON.stringify(note);
  const parsed = parseRequest(note);
  if (!parsed.ok || !call) throw new Error('the note does not encode');
  const handlers = call;
  const before = process.cpuUsage();
  for (let i = 0; i < notes; i += 1) {
    connection.onClientText(text);
    handlers.onMessage(parsed.bytes);
  }
  const used = process.cpuUsage(before);
  connection.onClientGone();
  return (used.user + used.system) / notes;
}
