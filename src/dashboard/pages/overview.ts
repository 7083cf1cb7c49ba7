import { get } from '../api';
import { barChart } from '../charts';
import { badge, card, clear, enc, every, h, int, link, num, stat, table, when } from '../dom';
import type { PageContext } from '../main';
import { scoreTable, sizeBars } from '../report';
import { jobKind, type Job, type Model, type RatingStats, type Stats } from '../types';

const REFRESH_MS = 10_000;

export async function overviewPage({ main, signal }: PageContext): Promise<void> {
  const counts = h('div', { class: 'stats' });
  const histogram = barChart('rating', 'ratings', 'histogram');
  const modelBox = h('div', {});
  const jobsBox = h('div', {});
  const problem = h('div', {});
  main.append(
    h('h1', {}, 'Overview'),
    problem,
    counts,
    h('div', { class: 'grid2' }, card('Rating distribution', histogram.el), card('Active model', modelBox)),
    card('Recent jobs', jobsBox),
  );
  signal.addEventListener('abort', () => histogram.destroy());

  const refresh = async () => {
    const [stats, ratingStats, jobs] = await Promise.all([
      get<Stats>('/stats'),
      get<RatingStats>('/stats/ratings'),
      get<{ jobs: Job[] }>('/jobs?limit=5'),
    ]);
    if (signal.aborted) return;
    const since = ratingStats.activeModel;
    clear(
      counts,
      stat('users', int(stats.users), 'users'),
      stat('items', int(stats.items), 'items'),
      stat('ratings', int(stats.ratings), 'ratings'),
      stat(
        'ratings added since the active model',
        since ? (since.ratingsAdded === null ? '–' : `${since.ratingsAdded >= 0 ? '+' : ''}${int(since.ratingsAdded)}`) : 'no model',
        'ratings-since',
      ),
    );
    if (since)
      counts.append(
        h('p', { class: 'muted small wide' }, `${int(since.writesSince)} writes since its snapshot of ${int(since.ratingsAtTraining)} ratings.`),
      );
    histogram.set([ratingStats.histogram.map((b) => b.rating), ratingStats.histogram.map((b) => b.count)]);

    if (since) {
      const model = await get<Model>(`/models/${enc(since.modelId)}`);
      if (signal.aborted) return;
      clear(
        modelBox,
        h(
          'p',
          {},
          link(`#/models`, model.id),
          ' ',
          badge(model.kind, 'kind'),
          ' ',
          h('span', { class: 'muted' }, `trained ${when(model.createdAt)} on ${int(since.ratingsAtTraining)} ratings`),
        ),
        scoreTable(model.metrics.evaluation),
      );
      sizeBars(modelBox);
    } else {
      clear(modelBox, h('p', {}, 'No model is active yet. '), link('#/jobs', 'Start a training job'));
    }

    clear(
      jobsBox,
      jobs.jobs.length === 0
        ? h('p', { class: 'muted' }, 'No jobs yet.')
        : table(
            ['job', 'status', 'model kind', 'created', 'evaluation RMSE'],
            jobs.jobs.map((j) => [
              link(`#/jobs/${enc(j.id)}`, j.id),
              badge(j.status),
              jobKind(j.params),
              when(j.createdAt),
              num(j.report?.blend.rmse ?? null),
            ]),
          ),
    );
  };

  await every(refresh, () => REFRESH_MS, signal, problem);
}
