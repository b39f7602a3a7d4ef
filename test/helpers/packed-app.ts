/**
 * An empty project that installs this checkout's `npm pack` tarball beside other registry packages,
 * offline: its package-lock is made of this repo's lock entries (the tarball's runtime dependencies
 * and the closure of the extra packages), so `npm ci --offline` installs exactly the versions that
 * `npm ci` already put in npm's cache. See test/clients/package.test.ts for why a lock is written.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './core.js';

export const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface LockEntry {
  readonly version?: string;
  readonly dev?: boolean;
  readonly peer?: boolean;
  readonly optional?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly [key: string]: unknown;
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, 'utf8')) as T;

/** Where npm finds `name` for the package installed at `from` (its own node_modules, then up). */
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/** The lock paths of `names` and everything they need (required peers included). */
function closure(packages: Record<string, LockEntry>, names: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (from: string, name: string) => {
    const path = resolveIn(packages, from, name);
    if (!path || seen.has(path)) return;
    seen.add(path);
    const entry = packages[path] as LockEntry;
    const peers = Object.keys(entry.peerDependencies ?? {}).filter(
      (peer) => !entry.peerDependenciesMeta?.[peer]?.optional,
    );
    for (const dependency of [...Object.keys(entry.dependencies ?? {}), ...peers]) visit(path, dependency);
  };
  for (const name of names) visit('', name);
  return seen;
}

/**
 * The entry with its registry tarball named (this repo's lock omits `resolved`): npm then takes the
 * tarball from its cache by integrity, with no package document to look up offline.
 */
function withTarball(path: string, entry: LockEntry): LockEntry {
  if (entry.resolved || !entry.version) return entry;
  const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const base = name.slice(name.lastIndexOf('/') + 1);
  return { ...entry, resolved: `https://registry.npmjs.org/${name}/-/${base}-${entry.version}.tgz` };
}

/** Packs this checkout into `work` (prepare builds the client) and returns the tarball's name. */
export async function packProject(work: string): Promise<string> {
  await run(npm, ['pack', '--silent', '--pack-destination', work], { cwd: REPO_ROOT, timeout: 180_000 });
  const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack made a tarball');
  return tarball;
}

/**
 * `app` (inside the tarball's folder) depending on the tarball and on `extra` (names this repo's lock
 * holds, at its versions), installed with `npm ci --offline`.
 */
export async function installPackedApp(
  app: string,
  tarball: string,
  extra: readonly string[],
): Promise<void> {
  const pkg = await readJson<
    LockEntry & { name: string; license: string; overrides?: unknown; bin?: unknown; engines?: unknown }
  >(join(REPO_ROOT, 'package.json'));
  const lock = await readJson<{ packages: Record<string, LockEntry> }>(join(REPO_ROOT, 'package-lock.json'));
  const spec = `file:../${tarball}`;
  const dependencies: Record<string, string> = { [pkg.name]: spec };
  for (const name of extra) dependencies[name] = lock.packages[`node_modules/${name}`]?.version ?? '*';
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: spec,
      license: pkg.license,
      dependencies: pkg.dependencies,
      peerDependencies: pkg.peerDependencies,
      peerDependenciesMeta: pkg.peerDependenciesMeta,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages))
    if (path.startsWith('node_modules/') && !entry.dev) packages[path] = withTarball(path, entry);
  for (const path of closure(lock.packages, extra)) {
    const { dev: _dev, peer: _peer, ...entry } = lock.packages[path] as LockEntry;
    packages[path] = withTarball(path, entry);
  }
  await mkdir(app, { recursive: true });
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module', dependencies, overrides: pkg.overrides }),
  );
  await writeFile(
    join(app, 'package-lock.json'),
    JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }),
  );
  await run(npm, ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: app, timeout: 240_000 });
}
