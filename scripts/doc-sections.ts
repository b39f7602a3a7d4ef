/** Generated sections of the Markdown docs, between BEGIN/END GENERATED markers. */
import { type OptionSpecs, shownDefault } from '../common/cli-options.js';
import { coreOptionSpecs } from '../core-server/config.js';
import { gatewayOptionSpecs } from '../gateway/config.js';
import {
  CLOSE_CODE_MEANINGS,
  closeCodeForStatus,
  MAX_ERROR_DETAIL_LENGTH,
  MAX_ERROR_DETAILS,
  STATUS_NAMES,
  StatusCode,
} from '../protocol/common/index.js';
import { REJECT_REASON_MEANINGS, REJECT_REASONS } from '../protocol/v1/index.js';
import {
  DEFAULT_MAX_SOCKET_REJECTIONS,
  DEFAULT_MAX_STREAM_REJECTIONS,
  INITIAL_STREAM_CREDIT,
  MAX_METHOD_NAME_LENGTH,
  MAX_OPEN_METADATA_BYTES,
  MAX_OPEN_METADATA_ENTRIES,
  MAX_STREAM_ID_LENGTH,
  MAX_TIMEOUT_MS,
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
    const shown = shownDefault(spec);
    rows.push(
      `| \`--${flag}\` | \`${spec.env}\` | ${shown === undefined ? '' : `\`${shown}\``} | ${escapeCell(spec.description)} |`,
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

/** Every limit of a v2 socket, with its flag (and default) or constant, and what going over it gets. */
function v2LimitsTable(): string {
  const flag = (name: keyof typeof gatewayOptionSpecs) =>
    `\`--${name}\` (${shownDefault(gatewayOptionSpecs[name]) ?? ''})`;
  const rows: [string, string, string][] = [
    ['WebSocket message size', flag('max-frame-size'), 'close 1009'],
    [
      'Frames per second',
      `${flag('rate-limit')}, burst ${flag('rate-burst')}`,
      `the socket is not read until it is back within its rate; ${flag('flood-grace')} over it: \`rate_limited\` error, every stream a status, close 1008`,
    ],
    [
      'Stream id',
      `1 to ${MAX_STREAM_ID_LENGTH} code points of well-formed text, no control character`,
      '`invalid_frame_type` error without `id`',
    ],
    [
      'Method name',
      `${MAX_METHOD_NAME_LENGTH} characters`,
      '`invalid_frame` error, then status `INVALID_ARGUMENT`',
    ],
    [
      '`timeoutMs`',
      `1 to ${MAX_TIMEOUT_MS} ms (about 24.8 days)`,
      '`invalid_frame` error, then status `INVALID_ARGUMENT`',
    ],
    [
      'Metadata entries in one `open`',
      String(MAX_OPEN_METADATA_ENTRIES),
      'error `invalid_frame` and status `INVALID_ARGUMENT`, before any call',
    ],
    [
      'Metadata bytes in one `open` (keys and values)',
      `${MAX_OPEN_METADATA_BYTES} (8 KiB)`,
      'error `invalid_frame` and status `INVALID_ARGUMENT`, before any call',
    ],
    [
      'Open streams per socket',
      flag('max-streams-per-socket'),
      'status `RESOURCE_EXHAUSTED` for that `open`',
    ],
    [
      'Open server-streaming calls per socket',
      flag('max-server-streams-per-socket'),
      'status `RESOURCE_EXHAUSTED` for that `open`',
    ],
    [
      'Open server-streaming calls per client address (all its sockets, per gateway process)',
      flag('max-server-streams-per-ip'),
      'status `RESOURCE_EXHAUSTED` for that `open`',
    ],
    [
      'Rejected frames on one stream',
      String(DEFAULT_MAX_STREAM_REJECTIONS),
      "that stream ends with the last rejection's code",
    ],
    [
      'Rejected frames and refused opens on one socket',
      `${DEFAULT_MAX_SOCKET_REJECTIONS} (or ${flag('max-rejected-frames')} if lower)`,
      'every stream a status, close 1008',
    ],
    [
      'Messages sent without credit',
      `${INITIAL_STREAM_CREDIT} at first, then what \`credit\` frames give`,
      '`no_credit` error on that stream',
    ],
    ['Request message size', flag('max-message-size'), '`message_too_large` error on that stream'],
    [
      'Bytes queued to a client that does not read (output bound)',
      flag('socket-high-water-mark'),
      'every call and the socket itself are not read until it drains: nothing more is queued',
    ],
    [
      'Time over the output bound',
      flag('slow-reader-timeout'),
      'every stream a status (`RESOURCE_EXHAUSTED`), close 1008',
    ],
    [
      'Details in an error frame',
      `${MAX_ERROR_DETAILS}, each path and message at most ${MAX_ERROR_DETAIL_LENGTH} characters`,
      'the rest are counted in the last detail',
    ],
    [
      "A stream's life",
      flag('max-stream-lifetime'),
      'that stream ends `DEADLINE_EXCEEDED`; the socket stays open',
    ],
    [
      'No frame either way on the socket',
      flag('idle-timeout'),
      'every stream `DEADLINE_EXCEEDED`, close 1000',
    ],
  ];
  const lines = ['| limit | value (default) | over it |', '| --- | --- | --- |'];
  for (const [limit, value, over] of rows)
    lines.push(`| ${limit} | ${escapeCell(value)} | ${escapeCell(over)} |`);
  return lines.join('\n');
}

export const PROTOCOL_SECTIONS: Sections = {
  'close-codes': closeCodeTable,
  'reject-reasons': rejectReasonTable,
  'v2-reject-reasons': v2RejectReasonTable,
  'v2-limits': v2LimitsTable,
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
