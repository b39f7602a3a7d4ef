/** `npm run docs`: regenerates docs/asyncapi.json and the generated tables of the docs from the code. */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderAsyncApi } from './asyncapi.js';
import { OPERATIONS_SECTIONS, PROTOCOL_SECTIONS, renderSections, type Sections } from './doc-sections.js';

const root = new URL('../', import.meta.url);
writeFileSync(new URL('docs/asyncapi.json', root), renderAsyncApi());
const documents: [string, Sections][] = [
  ['docs/protocol.md', PROTOCOL_SECTIONS],
  ['docs/operations.md', OPERATIONS_SECTIONS],
];
for (const [path, sections] of documents) {
  const url = new URL(path, root);
  writeFileSync(url, renderSections(readFileSync(url, 'utf8'), sections));
}
process.stdout.write(
  `wrote docs/asyncapi.json and the generated tables of ${documents.map(([p]) => p).join(', ')}\n`,
);
