/** Summaries: latency percentiles from hdr histograms, median and spread across rounds. */
import * as hdr from 'hdr-histogram-js';

export interface Latency {
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly count: number;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Percentiles plotted in the chart and kept in the JSON. */
export const CHART_PERCENTILES = [50, 75, 90, 95, 99, 99.9, 99.99] as const;

const round3 = (n: number) => Math.round(n * 1000) / 1000;

export function mergeHistograms(encoded: readonly string[]): hdr.Histogram {
  const merged = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
  for (const one of encoded) merged.add(hdr.decodeFromCompressedBase64(one));
  return merged;
}

/** Values are recorded in µs. */
export function latencyOf(histogram: hdr.Histogram): Latency {
  const ms = (p: number) => round3(histogram.getValueAtPercentile(p) / 1000);
  return {
    p50Ms: ms(50),
    p90Ms: ms(90),
    p99Ms: ms(99),
    p999Ms: ms(99.9),
    maxMs: round3(histogram.maxValue / 1000),
    count: histogram.totalCount,
  };
}

export function percentileCurve(histogram: hdr.Histogram): { percentile: number; ms: number }[] {
  return [
    ...CHART_PERCENTILES.map((p) => ({
      percentile: p,
      ms: round3(histogram.getValueAtPercentile(p) / 1000),
    })),
    { percentile: 100, ms: round3(histogram.maxValue / 1000) },
  ];
}

/** The median (of the two middle values, their mean), unrounded; 0 for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: 0, min: 0, max: 0 };
  return {
    median: round3(median(values)),
    min: round3(Math.min(...values)),
    max: round3(Math.max(...values)),
  };
}

export const round = (n: number, digits = 3) => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
