/** The latency distribution chart, direct vs gateway, rendered to SVG by vega-lite + vega (headless). */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface CurvePoint {
  readonly path: 'direct gRPC' | 'gateway (WebSocket)';
  readonly load: string;
  readonly percentile: number;
  readonly ms: number;
}

export async function latencyChartSvg(points: readonly CurvePoint[], title: string): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'solid: half of peak load (open loop) · dashed: peak (closed loop)' },
    width: 520,
    height: 300,
    data: {
      values: points.map((p) => ({
        ...p,
        percentileLabel: p.percentile === 100 ? 'max' : `p${p.percentile}`,
      })),
    },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'percentileLabel',
        type: 'ordinal',
        title: 'percentile',
        sort: { field: 'percentile', order: 'ascending' },
        axis: { labelAngle: 0 },
      },
      y: { field: 'ms', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' } },
      color: { field: 'path', type: 'nominal', title: 'path' },
      strokeDash: {
        field: 'load',
        type: 'nominal',
        // Solid: half of peak (the latency targets); dashed: peak (queueing at saturation).
        scale: {
          domain: ['half of peak', 'peak'],
          range: [
            [1, 0],
            [6, 4],
          ],
        },
        legend: null,
      },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
