/** Reading the Prometheus text exposition format in tests. */

/** One sample, e.g. `name{a="1",b="x"} 3`, matched by name and exactly these labels. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]] as const),
    );
    if (have.size === wanted.length && wanted.every(([key, value]) => have.get(key) === value)) {
      return Number(match[3]);
    }
  }
  return undefined;
}

/** A core's note counters (stored, and resends recognised as stored), read from its metrics. */
export async function noteCounters(metricsUrl: string): Promise<{ stored: number; deduplicated: number }> {
  const text = await (await fetch(metricsUrl)).text();
  return {
    stored: sample(text, 'routeguide_core_notes_stored_total') ?? 0,
    deduplicated: sample(text, 'routeguide_core_notes_deduplicated_total') ?? 0,
  };
}
