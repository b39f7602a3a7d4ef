/** The generated tables of docs/protocol.md: close codes and rejection reasons, from protocol/. */
import {
  CLOSE_CODE_MEANINGS,
  closeCodeForStatus,
  REJECT_REASON_MEANINGS,
  REJECT_REASONS,
  STATUS_NAMES,
  StatusCode,
} from '../protocol/index.js';

function closeCodeTable(): string {
  const rows = ['| close code | reason | meaning |', '| --- | --- | --- |'];
  for (const [code, meaning] of Object.entries(CLOSE_CODE_MEANINGS)) rows.push(`| ${code} | | ${meaning} |`);
  for (const name of STATUS_NAMES) {
    if (name === 'OK') continue;
    const code = StatusCode[name];
    rows.push(
      `| ${closeCodeForStatus(code)} | \`${name}\` | The call ended with gRPC status ${name} (${code}). |`,
    );
  }
  rows[2] = rows[2]?.replace('| |', '| `OK` |') ?? '';
  return rows.join('\n');
}

function rejectReasonTable(): string {
  const rows = ['| reason | code | meaning |', '| --- | --- | --- |'];
  for (const reason of REJECT_REASONS) {
    const code = reason === 'rate_limited' ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT';
    rows.push(`| \`${reason}\` | \`${code}\` | ${REJECT_REASON_MEANINGS[reason]} |`);
  }
  return rows.join('\n');
}

const SECTIONS: Record<string, () => string> = {
  'close-codes': closeCodeTable,
  'reject-reasons': rejectReasonTable,
};

/** Replaces every generated section of the document with its current content. */
export function renderProtocolDoc(current: string): string {
  let out = current;
  for (const [name, render] of Object.entries(SECTIONS)) {
    const begin = `<!-- BEGIN GENERATED: ${name} (npm run docs) -->`;
    const end = `<!-- END GENERATED: ${name} -->`;
    const start = out.indexOf(begin);
    const stop = out.indexOf(end);
    if (start < 0 || stop < start)
      throw new Error(`docs/protocol.md lacks the markers of the generated section ${name}`);
    out = `${out.slice(0, start + begin.length)}\n${render()}\n${out.slice(stop)}`;
  }
  return out;
}
