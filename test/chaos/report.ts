/** The chaos run's report as text: the table the issue asks for, then what failed, if anything. */
import type { ChaosReport } from './harness.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function describeReport(report: ChaosReport): string {
  const { options } = report;
  const rows: [string, string][] = [
    ['sent', String(report.sent)],
    ['confirmed', String(report.confirmed)],
    ['refused', String(report.refused)],
    ['unknown', String(report.unknown)],
    ['rejected or unsent', String(report.other)],
    ['resent (after a refused or unknown fate)', String(report.resent)],
    ['missing (confirmed, not read back)', String(report.missing)],
    ['duplicated (stored twice)', String(report.duplicated)],
    ['longest gap (a client without a confirmation)', seconds(report.longestGapMs)],
    ['clients stuck', String(report.stuck.length)],
    ['unexpected exits', String(report.unexpectedExits.length)],
    ['error-level log lines', String(report.errorLines.length)],
    ["HAProxy's [ALERT] lines (not judged: every gateway out)", String(report.proxyAlerts.length)],
  ];
  const kills = report.events.map((e) => `${e.signal} ${e.component}`);
  const byKind = new Map<string, number>();
  for (const kill of kills) byKind.set(kill, (byKind.get(kill) ?? 0) + 1);
  const lines = [
    `chaos run: ${seconds(options.durationMs)}, ${options.clients} clients (${options.delivery}), a note every ${options.sendEveryMs.join('–')} ms each; a kill every ${options.killEveryMs.map((ms) => ms / 1000).join('–')} s, down ${options.downForMs.map((ms) => ms / 1000).join('–')} s${options.sentinel ? '; Redis under Sentinel' : ''}${options.only ? `; only ${options.only}` : ''}${options.reconnect ? `; reconnect ${JSON.stringify(options.reconnect)}` : ''}`,
    `kills (${kills.length}): ${[...byKind].map(([kill, n]) => `${kill} ×${n}`).join(', ') || 'none'}`,
    '',
    '| | |',
    '| --- | ---: |',
    ...rows.map(([name, value]) => `| ${name} | ${value} |`),
    '',
  ];
  for (const [title, items] of [
    ['stuck', report.stuck],
    ['unexpected exits', report.unexpectedExits],
    ['error-level log lines', report.errorLines],
  ] as const)
    if (items.length > 0) lines.push(`${title}:`, ...items.slice(0, 20).map((item) => `  ${item}`));
  lines.push(report.failures.length === 0 ? 'PASS' : `FAIL: ${report.failures.join('; ')}`);
  return lines.join('\n');
}
