/** `npm run docs`: regenerates docs/asyncapi.json and the tables of docs/protocol.md from protocol/. */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderAsyncApi } from './asyncapi.js';
import { renderProtocolDoc } from './protocol-doc.js';

const root = new URL('../', import.meta.url);
writeFileSync(new URL('docs/asyncapi.json', root), renderAsyncApi());
const protocolDoc = new URL('docs/protocol.md', root);
writeFileSync(protocolDoc, renderProtocolDoc(readFileSync(protocolDoc, 'utf8')));
process.stdout.write('wrote docs/asyncapi.json and the generated tables of docs/protocol.md\n');
