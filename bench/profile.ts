/**
 * `npm run bench:profile`: the gateway under the peak load with `node --cpu-prof`, then its profile
 * summarised: self time by function and by package. Writes results/profile.md and keeps the raw
 * .cpuprofile in results/ (gitignored) for a flame graph (Chrome DevTools, speedscope).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfig } from './config.js';
import { BENCH_GATEWAY_ARGS } from './gateway-args.js';
import { runLoad } from './load.js';
import { forkWorker, killAll, startProduct } from './processes.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  if (url.startsWith('node:')) return url;
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + '/dist/'.length) : url;
}

export function summarise(profile: CpuProfile, top = 30): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') continue;
    busy += us;
    const where = frame.url ? `${packageOf(frame.url, frame.functionName)}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const pkg = packageOf(frame.url, frame.functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const table = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, us]) =>
          `| ${k.replaceAll('|', '\\|')} | ${(us / 1000).toFixed(0)} | ${((100 * us) / busy).toFixed(1)}% |`,
      );
  return [
    `Busy (non-idle) CPU in the profile: ${(busy / 1000).toFixed(0)} ms.`,
    '',
    '### Self time by package or file',
    '',
    '| where | ms | share of busy |',
    '| --- | --- | --- |',
    ...table(byPackage, 20),
    '',
    '### Self time by function (top)',
    '',
    '| function | ms | share of busy |',
    '| --- | --- | --- |',
    ...table(byFunction, top),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const config = readConfig(process.argv.slice(2));
  const profileDir = join(config.outDir, 'cpuprofile-tmp');
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
  const workers = [forkWorker(), forkWorker()];
  const core = await startProduct('core-server/main.js', ['--metrics-listen', 'off']);
  const gateway = await startProduct(
    'gateway/main.js',
    ['--core', core.address, ...BENCH_GATEWAY_ARGS],
    ['--cpu-prof', '--cpu-prof-dir', profileDir],
  );
  let result: Awaited<ReturnType<typeof runLoad>>;
  try {
    result = await runLoad({
      workers,
      // PROFILE_TRANSPORT=ws2 profiles protocol v2's RouteChat at the same load shape.
      transport: process.env.PROFILE_TRANSPORT === 'ws2' ? 'ws2' : 'ws',
      target: gateway.address,
      connections: config.connections,
      window: config.window,
      warmupMs: config.warmupMs,
      measureMs: config.measureMs * 2,
      messageBytes: config.messageBytes,
      latBase: 1,
      core,
      gateway,
    });
  } finally {
    // SIGTERM: the gateway closes and exits normally, which is when --cpu-prof writes the profile.
    await gateway.stop();
    await core.stop();
    await Promise.all(workers.map((w) => w.stop()));
  }
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('the gateway wrote no .cpuprofile');
  const raw = join(config.outDir, 'gateway.cpuprofile');
  renameSync(join(profileDir, file), raw);
  rmSync(profileDir, { recursive: true, force: true });
  const profile = JSON.parse(readFileSync(raw, 'utf8')) as CpuProfile;
  const markdown = [
    '# Gateway CPU profile under peak load',
    '',
    `${config.connections} connections × ${config.window} notes in flight through the gateway for ${(config.measureMs * 2) / 1000} s: ${result.notesPerSec} notes/s, ${result.gatewayCpuUsPerNote} µs gateway CPU per note (in + out), p50 ${result.latency.p50Ms} ms, p99 ${result.latency.p99Ms} ms. Raw profile: \`gateway.cpuprofile\` (not committed). Run on ${new Date().toISOString()}.`,
    '',
    summarise(profile),
  ].join('\n');
  writeFileSync(join(config.outDir, 'profile.md'), markdown);
  process.stdout.write(markdown);
}

main().catch((error: unknown) => {
  killAll();
  process.stderr.write(
    `bench:profile: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
