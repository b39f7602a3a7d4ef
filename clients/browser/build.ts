/**
 * `npm run build:browser`: bundles the page with esbuild into clients/browser/dist/ (index.html,
 * app.js, styles.css), which the gateway serves at `/`. Tests call `buildBrowserClient()` directly.
 * The map's counties (`atlas:region`) are cut from us-atlas here and bundled: the page fetches
 * nothing for its map.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { loadRegion } from './atlas.js';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export const BROWSER_DIST = here('./dist/');
const ZOD_FOR_BROWSER = here('./zod-for-browser.ts');

/** Fails the build when a bundled source uses a `z.<member>` that zod-for-browser.ts lacks. */
async function checkZodMembers(inputs: readonly string[]): Promise<void> {
  const provided = new Set(Object.keys((await import('./zod-for-browser.js')).z));
  for (const input of inputs) {
    if (input.includes('node_modules') || !/\.ts$/.test(input)) continue;
    const source = await readFile(input, 'utf8');
    if (!/from 'zod'/.test(source)) continue;
    for (const [, member] of source.matchAll(/\bz\.(\w+)\(/g)) {
      if (member && !provided.has(member)) {
        throw new Error(`${input} uses z.${member}: add it to clients/browser/zod-for-browser.ts`);
      }
    }
  }
}

export async function buildBrowserClient(outDir = BROWSER_DIST): Promise<{ bytes: number }> {
  await mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: [here('./src/main.ts')],
    outfile: `${outDir}/app.js`,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'zod-for-browser',
        setup(b) {
          // Exactly `zod`: the shim itself imports `zod/v4`.
          b.onResolve({ filter: /^zod$/ }, () => ({ path: ZOD_FOR_BROWSER }));
        },
      },
      {
        name: 'atlas-region',
        setup(b) {
          b.onResolve({ filter: /^atlas:region$/ }, () => ({ path: 'region', namespace: 'atlas' }));
          b.onLoad({ filter: /.*/, namespace: 'atlas' }, async () => ({
            contents: JSON.stringify(await loadRegion()),
            loader: 'json',
          }));
        },
      },
    ],
  });
  await checkZodMembers(Object.keys(result.metafile.inputs));
  await copyFile(here('./index.html'), `${outDir}/index.html`);
  await copyFile(here('./styles.css'), `${outDir}/styles.css`);
  await copyFile(here('./favicon.svg'), `${outDir}/favicon.svg`);
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  return { bytes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { bytes } = await buildBrowserClient();
  process.stdout.write(`clients/browser/dist/app.js: ${(bytes / 1024).toFixed(1)} KiB\n`);
}
