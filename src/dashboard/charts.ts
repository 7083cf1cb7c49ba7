import uPlot from 'uplot';
import { h } from './dom';

/** Colours of the series, in order (train, validation; or one per model). */
export const COLOURS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];

function widthOf(el: HTMLElement): number {
  return Math.max(240, Math.floor(el.clientWidth || el.parentElement?.clientWidth || 480) - 8);
}

/** A chart box that sizes its uPlot to its own width, now and when the window is resized. */
export class Chart {
  readonly el: HTMLElement;
  private plot: uPlot | null = null;
  private readonly onResize = () => this.plot?.setSize({ width: widthOf(this.el), height: this.height });

  constructor(
    private readonly make: (width: number) => uPlot.Options,
    private readonly height = 220,
    testId?: string,
  ) {
    this.el = h('div', { class: 'chart', 'data-testid': testId });
    window.addEventListener('resize', this.onResize);
  }

  /** Draws (the first time, once the box is in the page) or redraws with new data. */
  set(data: uPlot.AlignedData): void {
    if (!this.plot) {
      if (!this.el.isConnected) return;
      this.plot = new uPlot({ ...this.make(widthOf(this.el)), height: this.height }, data, this.el);
    } else {
      this.plot.setData(data);
    }
  }

  points(): number {
    return this.plot ? (this.plot.data[0]?.length ?? 0) : 0;
  }

  destroy(): void {
    window.removeEventListener('resize', this.onResize);
    this.plot?.destroy();
    this.plot = null;
  }
}

const axis = (label: string): uPlot.Axis => ({
  label,
  stroke: '#475569',
  grid: { stroke: '#e2e8f0', width: 1 },
  ticks: { stroke: '#cbd5e1', width: 1 },
});

/**
 * The y range of learning curves: from the lowest value to a little above the 95th percentile, so
 * that a first epoch far above the rest does not flatten the curves that matter.
 */
function curveRange(u: uPlot): uPlot.Range.MinMax {
  const ys: number[] = [];
  for (let s = 1; s < u.data.length; s++) for (const v of u.data[s]) if (typeof v === 'number' && Number.isFinite(v)) ys.push(v);
  if (ys.length === 0) return [0, 1];
  ys.sort((a, b) => a - b);
  const lo = ys[0];
  const hi = Math.min(ys[ys.length - 1], ys[Math.floor(0.95 * (ys.length - 1))] * 1.1);
  const pad = Math.max((hi - lo) * 0.05, 1e-3);
  return [lo - pad, hi + pad];
}

/**
 * Curves over epochs: one line per named series, x the epoch. `dashed` series (train curves
 * next to validation ones) are drawn dashed; `colours` gives each series its colour index.
 */
export function lineChart(
  names: string[],
  xLabel = 'epoch',
  yLabel = 'RMSE',
  testId?: string,
  height = 220,
  style: { dashed?: boolean[]; colours?: number[] } = {},
): Chart {
  return new Chart(
    (width) => ({
      width,
      height,
      scales: { x: { time: false }, y: { range: curveRange } },
      axes: [axis(xLabel), axis(yLabel)],
      series: [
        { label: xLabel },
        ...names.map((label, k) => ({
          label,
          stroke: COLOURS[(style.colours?.[k] ?? k) % COLOURS.length],
          width: style.dashed?.[k] ? 1.5 : 2,
          dash: style.dashed?.[k] ? [5, 4] : undefined,
          points: { size: 4 },
        })),
      ],
      legend: { live: true },
    }),
    height,
    testId,
  );
}

/** Bars of counts over values (the rating histogram). */
export function barChart(xLabel: string, yLabel: string, testId?: string): Chart {
  const bars = uPlot.paths.bars!({ size: [0.8, 60], align: 0 });
  return new Chart(
    (width) => ({
      width,
      height: 200,
      scales: { x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] } },
      axes: [axis(xLabel), { ...axis(yLabel), size: 70 }],
      series: [{ label: xLabel }, { label: yLabel, fill: 'rgba(37, 99, 235, 0.55)', stroke: '#2563eb', paths: bars, points: { show: false } }],
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
    }),
    200,
    testId,
  );
}

/**
 * Predicted against actual ratings: points, with the diagonal where a perfect model would put
 * them. Actual ratings are few distinct values, so each point is moved sideways by a small
 * fixed amount (by its index) to keep them apart.
 */
export function scatterChart(
  scale: { min: number; max: number },
  testId?: string,
): { chart: Chart; data: (pairs: [number, number][]) => uPlot.AlignedData } {
  const chart = new Chart(
    (width) => ({
      width: Math.min(width, 520),
      height: 360,
      scales: { x: { time: false, range: [scale.min - 0.5, scale.max + 0.5] }, y: { range: [scale.min - 0.25, scale.max + 0.25] } },
      axes: [axis('actual rating'), axis('predicted rating')],
      series: [
        { label: 'actual' },
        {
          label: 'predicted',
          stroke: '#2563eb',
          fill: 'rgba(37, 99, 235, 0.35)',
          paths: () => null,
          points: { show: true, size: 6, space: 0, fill: 'rgba(37, 99, 235, 0.5)' },
        },
        { label: 'perfect', stroke: '#94a3b8', width: 1, dash: [4, 4], points: { show: false }, spanGaps: true },
      ],
    }),
    360,
    testId,
  );
  const data = (pairs: [number, number][]): uPlot.AlignedData => {
    const jittered = pairs.map(([actual, predicted], k) => [actual + (((k * 0.618034) % 1) - 0.5) * 0.3, predicted] as [number, number]);
    jittered.sort((a, b) => a[0] - b[0]);
    const xs = [scale.min - 0.5, ...jittered.map((p) => p[0]), scale.max + 0.5];
    const ys: (number | null)[] = [null, ...jittered.map((p) => p[1]), null];
    const diagonal: (number | null)[] = xs.map((_, k) => (k === 0 ? scale.min - 0.5 : k === xs.length - 1 ? scale.max + 0.5 : null));
    return [xs, ys, diagonal];
  };
  return { chart, data };
}
