import { get, post } from '../api';
import { lineChart, type Chart } from '../charts';
import { badge, card, clear, enc, errorBox, h, int, link, num, table, when } from '../dom';
import type { PageContext } from '../main';
import { decisionText, historyByMember } from '../report';
import type { Job, Model } from '../types';

/** One chart of a finished job: each member's train and validation RMSE over a shared epoch axis. */
function modelCurves(model: Model, job: Job | undefined): { el: HTMLElement; chart: Chart | null; draw: () => void } {
  const history = job?.progress?.history ?? [];
  const title = h('h3', {}, link(`#/jobs/${enc(model.jobId ?? '')}`, model.id), ' ', badge(model.kind, 'kind'));
  if (history.length === 0)
    return { el: h('div', { class: 'curve' }, title, h('p', { class: 'muted' }, 'No learning curve recorded.')), chart: null, draw: () => undefined };
  const byMember = [...historyByMember(history)];
  const names = byMember.flatMap(([m]) => [`${m} train`, `${m} validation`]);
  // Each member in its own colour: validation solid, train dashed.
  const chart = lineChart(names, 'epoch', 'RMSE', `model-curve-${model.id}`, 200, {
    dashed: names.map((n) => n.endsWith(' train')),
    colours: names.map((_, k) => Math.floor(k / 2)),
  });
  const epochs = Math.max(...history.map((p) => p.epoch));
  const xs = Array.from({ length: epochs }, (_, k) => k + 1);
  const series = byMember.flatMap(([, points]) => {
    const train: (number | null)[] = xs.map(() => null);
    const validation: (number | null)[] = xs.map(() => null);
    for (const p of points) {
      train[p.epoch - 1] = p.trainRmse;
      validation[p.epoch - 1] = p.validationRmse;
    }
    return [train, validation];
  });
  return { el: h('div', { class: 'curve' }, title, chart.el), chart, draw: () => chart.set([xs, ...series]) };
}

export async function modelsPage({ main, signal }: PageContext): Promise<void> {
  const listBox = h('div', { 'data-testid': 'models-list' });
  const compareBox = h('div', { class: 'curves' });
  const message = h('div', {});
  main.append(
    h('h1', {}, 'Models'),
    message,
    card('Registry', listBox),
    card('Learning curves side by side', h('p', { class: 'muted small' }, 'Tick models in the registry to compare them.'), compareBox),
  );
  let charts: Chart[] = [];
  signal.addEventListener('abort', () => charts.forEach((c) => c.destroy()));
  const selected = new Set<string>();

  const load = async () => {
    const [{ models }, { jobs }] = await Promise.all([get<{ models: Model[] }>('/models?limit=50'), get<{ jobs: Job[] }>('/jobs?limit=200')]);
    if (signal.aborted) return;
    const jobOf = new Map(jobs.map((j) => [j.id, j]));
    if (selected.size === 0) for (const m of models.slice(0, 3)) selected.add(m.id);

    const drawCompare = () => {
      charts.forEach((c) => c.destroy());
      charts = [];
      clear(compareBox);
      for (const m of models.filter((x) => selected.has(x.id))) {
        const c = modelCurves(m, m.jobId ? jobOf.get(m.jobId) : undefined);
        compareBox.append(c.el);
        c.draw();
        if (c.chart) charts.push(c.chart);
      }
    };

    const activate = (m: Model) => {
      if (!confirm(`Serve model ${m.id} (${m.kind}) from now on? Predictions and recommendations switch to it at once.`)) return;
      post<Model>(`/models/${enc(m.id)}/activate`)
        .then(() => {
          clear(message, h('p', { class: 'ok' }, `Model ${m.id} is now active.`));
          return load();
        })
        .catch((err: unknown) => clear(message, errorBox(err)));
    };

    clear(
      listBox,
      models.length === 0
        ? h('p', { class: 'muted' }, 'No models yet. ', link('#/jobs', 'Train one'))
        : table(
            ['', 'model', 'kind', 'created', 'data covered', 'evaluation RMSE', 'bias baseline', 'global mean', 'promotion decision', 'state', ''],
            models.map((m) => {
              const c = m.metrics.counts;
              const ev = m.metrics.evaluation;
              const job = m.jobId ? jobOf.get(m.jobId) : undefined;
              const tick = h('input', { type: 'checkbox', checked: selected.has(m.id), 'aria-label': `compare ${m.id}` });
              tick.addEventListener('change', () => {
                if (tick.checked) selected.add(m.id);
                else selected.delete(m.id);
                drawCompare();
              });
              const button = h(
                'button',
                { 'data-testid': `activate-${m.id}`, disabled: m.active || m.broken !== null },
                m.active ? 'active' : 'Activate',
              );
              button.addEventListener('click', () => activate(m));
              return [
                tick,
                h('code', {}, m.id),
                m.kind,
                when(m.createdAt),
                c ? `${int(c.train + c.validation + c.evaluation)} ratings · ${int(c.users)} users · ${int(c.items)} items` : '–',
                h('strong', {}, num(m.metrics.evaluationRmse ?? null)),
                num(ev?.baselines.bias.rmse ?? null),
                num(ev?.baselines.globalMean.rmse ?? null),
                decisionText(job?.decision),
                m.broken ? badge('broken', 'failed') : m.active ? badge('active', 'succeeded') : '',
                button,
              ];
            }),
            'models',
          ),
    );
    drawCompare();
  };
  await load();
}
