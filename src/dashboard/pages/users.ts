import { ApiError, get, loadConfig, post } from '../api';
import { scatterChart } from '../charts';
import { card, clear, enc, errorBox, h, int, num, table } from '../dom';
import type { PageContext } from '../main';
import type { Predictions, Recommendations, UserRatings } from '../types';
import { itemLink, titles } from './items';
import { explorerHead } from './lookup';

/**
 * How a recommendation was made, from whatever the API says: a per-item field (source,
 * fallback, ...) when there is one, else the answer's own (fallback "popular" for a user the
 * model does not know), else a trained model's score.
 */
function how(item: Record<string, unknown>, answer: Recommendations): string {
  const extra = Object.entries(item).filter(([k, v]) => k !== 'itemId' && k !== 'score' && v !== null && v !== undefined);
  if (extra.length > 0) return extra.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
  if (answer.fallback) return `fallback: ${answer.fallback}`;
  return answer.source === 'foldin' ? 'folded in from current ratings' : 'trained model';
}

export async function userPage({ main, params, signal }: PageContext): Promise<void> {
  const id = explorerHead(
    main,
    'User explorer',
    'users',
    'user ID',
    params[0],
    "Enter a user ID to see the user's ratings, recommendations, and predicted against actual ratings.",
  );
  if (id === null) return;
  const config = await loadConfig();
  let ratings: UserRatings;
  try {
    ratings = await get<UserRatings>(`/users/${enc(id)}/ratings?limit=1000`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      main.append(h('p', {}, `No ratings stored for user ${id}. Recommendations for an unknown user are popular items:`));
      ratings = { userId: id, total: 0, limit: 0, offset: 0, ratings: [] };
    } else throw err;
  }
  if (signal.aborted) return;

  const recBox = h('div', { 'data-testid': 'recommendations' }, h('p', { class: 'muted' }, 'Loading…'));
  const scatter = scatterChart({ min: config.ratingMin, max: config.ratingMax }, 'scatter');
  const scatterNote = h('p', { class: 'muted small' });
  signal.addEventListener('abort', () => scatter.chart.destroy());
  const ratingsBox = h('div', {});
  main.append(
    h('div', { class: 'grid2' }, card('Recommendations', recBox), card('Predicted against actual', scatter.chart.el, scatterNote)),
    card(`Ratings (${int(ratings.total)})`, ratingsBox),
  );
  const showRatings = (predicted?: Map<string, number>) =>
    clear(
      ratingsBox,
      ratings.ratings.length === 0
        ? h('p', { class: 'muted' }, 'None.')
        : h(
            'div',
            { class: 'scroll' },
            table(
              ['item', 'rating', 'predicted now', 'time'],
              ratings.ratings.map((r) => [
                itemLink(r.itemId, null),
                num(r.rating, 1),
                num(predicted?.get(r.itemId) ?? null, 2),
                r.timestamp ? new Date(r.timestamp * 1000).toISOString().slice(0, 10) : '–',
              ]),
              'compact',
            ),
          ),
      ratings.total > ratings.ratings.length ? h('p', { class: 'muted small' }, `the first ${int(ratings.ratings.length)} shown`) : null,
    );
  showRatings();

  try {
    const recs = await get<Recommendations>(`/users/${enc(id)}/recommendations?n=20`);
    const names = await titles(recs.items.map((r) => r.itemId));
    if (signal.aborted) return;
    clear(
      recBox,
      table(
        ['#', 'item', 'predicted', 'how'],
        recs.items.map((r, k) => [
          String(k + 1),
          itemLink(r.itemId, names.get(r.itemId)),
          num(r.score, 3),
          h('span', { class: 'how' }, how(r, recs)),
        ]),
        'compact',
      ),
      h('p', { class: 'muted small' }, `model ${recs.modelId}; rated items are left out`),
    );
  } catch (err) {
    clear(recBox, err instanceof ApiError && err.status === 503 ? h('p', { class: 'muted' }, err.message) : errorBox(err));
    return;
  }

  if (ratings.ratings.length === 0) {
    scatterNote.textContent = 'No ratings to compare with.';
    return;
  }
  const rated = ratings.ratings.slice(0, config.maxBatch);
  const predicted = await post<Predictions>('/predict', { pairs: rated.map((r) => ({ userId: id, itemId: r.itemId })) });
  if (signal.aborted) return;
  const pairs = rated.map((r, k) => [r.rating, predicted.predictions[k].rating] as [number, number]);
  scatter.chart.set(scatter.data(pairs));
  showRatings(new Map(predicted.predictions.map((p) => [p.itemId, p.rating])));
  const rmse = Math.sqrt(pairs.reduce((s, [a, p]) => s + (a - p) ** 2, 0) / pairs.length);
  const fallbacks = predicted.predictions.filter((p) => p.fallback !== null).length;
  scatterNote.textContent =
    `${int(pairs.length)} rated items, RMSE ${num(rmse)} (mostly ratings the model trained on, so better than on new ones)` +
    (fallbacks ? `; ${int(fallbacks)} by fallback` : '');
}
