/** Generated sections of the Markdown docs, between BEGIN/END GENERATED markers. */
import type { OptionSpecs } from '../common/cli-options.js';
import { coreOptionSpecs } from '../core-server/config.js';
import { gatewayOptionSpecs } from '../gateway/config.js';
import {
  CLOSE_CODE_MEANINGS,
  closeCodeForStatus,
  REJECT_REASON_MEANINGS,
  REJECT_REASONS,
  STATUS_NAMES,
  StatusCode,
} from '../protocol/index.js';
import {
  RESOURCE_REJECT_REASONS,
  V2_REJECT_REASON_MEANINGS,
  V2_REJECT_REASONS,
} from '../protocol/v2/index.js';

export type Sections = Readonly<Record<string, () => string>>;

const escapeCell = (text: string) => text.replaceAll('|', '\\|');

function closeCodeTable(): string {
  const rows = ['| close code | reason | meaning |', '| --- | --- | --- |'];
  for (const [code, meaning] of Object.entries(CLOSE_CODE_MEANINGS)) {
    rows.push(`| ${code} | ${code === '1000' ? '`OK`' : ''} | ${meaning} |`);
  }
  for (const name of STATUS_NAMES) {
    if (name === 'OK') continue;
    const code = StatusCode[name];
    rows.push(
      `| ${closeCodeForStatus(code)} | \`${name}\` | The call ended with gRPC status ${name} (${code}). |`,
    );
  }
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

function settingsTable(specs: OptionSpecs): string {
  const rows = ['| flag | environment | default | meaning |', '| --- | --- | --- | --- |'];
  for (const [flag, spec] of Object.entries(specs)) {
    rows.push(
      `| \`--${flag}\` | \`${spec.env}\` | ${spec.defaultText === undefined ? '' : `\`${spec.defaultText}\``} | ${escapeCell(spec.description)} |`,
    );
  }
  return rows.join('\n');
}

function v2RejectReasonTable(): string {
  const rows = ['| reason | code | meaning |', '| --- | --- | --- |'];
  for (const reason of V2_REJECT_REASONS) {
    const code = RESOURCE_REJECT_REASONS.has(reason) ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT';
    rows.push(`| \`${reason}\` | \`${code}\` | ${escapeCell(V2_REJECT_REASON_MEANINGS[reason])} |`);
  }
  return rows.join('\n');
}

export const PROTOCOL_SECTIONS: Sections = {
  'close-codes': closeCodeTable,
  'reject-reasons': rejectReasonTable,
  'v2-reject-reasons': v2RejectReasonTable,
};
export const OPERATIONS_SECTIONS: Sections = {
  'gateway-settings': () => settingsTable(gatewayOptionSpecs),
  'core-settings': () => settingsTable(coreOptionSpecs),
  'close-codes': closeCodeTable,
};

/** Replaces every generated section of a document with its current content. */
export function renderSections(current: string, sections: Sections): string {
  let out = current;
  for (const [name, render] of Object.entries(sections)) {
    const begin = `<!-- BEGIN GENERATED: ${name} (npm run docs) -->`;
    const end = `<!-- END GENERATED: ${name} -->`;
    const start = out.indexOf(begin);
    const stop = out.indexOf(end);
    if (start < 0 || stop < start)
      throw new Error(`the document lacks the markers of the generated section ${name}`);
    out = `${out.slice(0, start + begin.length)}\n${render()}\n${out.slice(stop)}`;
  }
  return out;
}
