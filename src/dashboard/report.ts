import { h, num, table } from './dom';
import type { Decision, EvaluationReport, HistoryPoint } from './types';
import { lineChart, type Chart } from './charts';

/**
 * The evaluation report as rows with bars: the blend, each member and the two baselines, all
 * measured on the same held-out ratings, so the bars compare directly. The improvement over the
 * bias baseline is what the model adds beyond "this user rates high, this item is liked".
 */
export function scoreTable(report: EvaluationReport | null | undefined): HTMLElement {
  if (!report) return h('p', { class: 'muted' }, 'No evaluation report (no evaluation ratings, or a model from an earlier version).');
  const rows: [string, number, number, string][] = [
    ['model (blend)', report.blend.rmse, report.blend.mae, 'model'],
    ...Object.entries(report.members)
      .filter(() => Object.keys(report.members).length > 1)
      .map(([kind, s]) => [`member: ${kind}`, s.rmse, s.mae, 'member'] as [string, number, number, string]),
    ['baseline: user + item bias', report.baselines.bias.rmse, report.baselines.bias.mae, 'baseline'],
    ['baseline: global mean', report.baselines.globalMean.rmse, report.baselines.globalMean.mae, 'baseline'],
  ];
  const max = Math.max(...rows.map((r) => r[1]));
  const bias = report.baselines.bias.rmse;
  return h(
    'div',
    { class: 'scores' },
    table(
      ['', 'RMSE', 'MAE', 'vs bias baseline', ''],
      rows.map(([label, rmse, mae, kind]) => [
        label,
        h('span', { 'data-testid': kind === 'model' ? 'model-rmse' : undefined }, num(rmse)),
        num(mae),
        kind === 'baseline' ? '' : `${(((rmse - bias) / bias) * 100).toFixed(1)}%`,
        h('div', { class: 'bar-track' }, h('div', { class: `bar bar-${kind}`, 'data-width': ((rmse / max) * 100).toFixed(1) })),
      ]),
      'compact',
    ),
    h('p', { class: 'muted small' }, `${report.count.toLocaleString('en')} held-out evaluation ratings, never trained on. Lower is better.`),
  );
}

/** Sets bar widths from data-width (CSP forbids inline style attributes, but not the CSSOM). */
export function sizeBars(root: HTMLElement): void {
  for (const bar of root.querySelectorAll<HTMLElement>('.bar[data-width]')) bar.style.width = `${bar.dataset.width}%`;
}

export function decisionText(d: Decision | null | undefined): HTMLElement {
  if (!d) return h('span', { class: 'muted' }, '–');
  return h(
    'div',
    { class: 'decision', 'data-testid': 'decision' },
    h('strong', {}, d.activated ? 'activated' : 'not activated'),
    ': ',
    d.reason,
    h(
      'div',
      { class: 'small' },
      `new model RMSE ${num(d.newModelRmse)}`,
      d.activeModelId ? ` vs active ${d.activeModelId} ${num(d.activeModelRmse)}` : ' (no model was active)',
      // Decisions made before the evaluation bucket existed counted a random held-out split.
      d.evaluationCount === undefined ? ' on a held-out split' : ` on ${d.evaluationCount.toLocaleString('en')} evaluation ratings`,
      d.fair ? '' : ' (figures not comparable: the active model may have trained on them)',
    ),
  );
}

/** Learning curves grouped by member (an ensemble trains its members one after the other). */
export function historyByMember(history: HistoryPoint[]): Map<string, HistoryPoint[]> {
  const out = new Map<string, HistoryPoint[]>();
  for (const p of history) {
    const key = p.member ?? 'model';
    if (!out.has(key)) out.set(key, []);
    out.get(key)!.push(p);
  }
  return out;
}

/** One train/validation chart per member, kept and updated as the history grows. */
export class CurveSet {
  readonly el = h('div', { class: 'curves', 'data-testid': 'curves', 'data-points': 0 });
  private readonly charts = new Map<string, Chart>();

  update(history: HistoryPoint[]): void {
    for (const [member, points] of historyByMember(history)) {
      let chart = this.charts.get(member);
      if (!chart) {
        chart = lineChart(['train RMSE', 'validation RMSE'], 'epoch', 'RMSE', `curve-${member}`);
        this.charts.set(member, chart);
        this.el.append(h('div', { class: 'curve' }, h('h3', {}, member), chart.el));
      }
      chart.set([points.map((p) => p.epoch), points.map((p) => p.trainRmse), points.map((p) => p.validationRmse)]);
    }
    // Epochs drawn, for whoever watches the page (and its browser test).
    this.el.dataset.points = String(this.points());
  }

  /** Epochs drawn, over every member. */
  points(): number {
    let n = 0;
    for (const c of this.charts.values()) n += c.points();
    return n;
  }

  destroy(): void {
    for (const c of this.charts.values()) c.destroy();
  }
}
