import { ApiError, get } from '../api';
import { card, clear, enc, errorBox, h, int, link, num, table } from '../dom';
import type { PageContext } from '../main';
import type { Item } from '../types';
import { explorerHead } from './lookup';

/** Titles of items by ID (absent when an item has none or is unknown). */
export async function titles(ids: string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  await Promise.all(
    ids.map(async (id) => {
      try {
        out.set(id, (await get<Item>(`/items/${enc(id)}`)).title);
      } catch {
        out.set(id, null);
      }
    }),
  );
  return out;
}

export function itemLink(id: string, title: string | null | undefined): HTMLElement {
  return h('span', {}, link(`#/items/${enc(id)}`, id), title ? h('span', { class: 'muted' }, ` ${title}`) : null);
}

export async function itemPage({ main, params, signal }: PageContext): Promise<void> {
  const id = explorerHead(
    main,
    'Item explorer',
    'items',
    'item ID',
    params[0],
    'Enter an item ID, or follow a link from a user or a recommendation.',
  );
  if (id === null) return;
  const item = await get<Item>(`/items/${enc(id)}`);
  if (signal.aborted) return;
  const attributes = item.attributes ? Object.entries(item.attributes) : [];
  const similarBox = h('div', { 'data-testid': 'similar' }, h('p', { class: 'muted' }, 'Loading…'));
  main.append(
    h(
      'div',
      { class: 'grid2' },
      card(
        item.title ?? id,
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'item ID'),
          h('dd', {}, h('code', {}, item.itemId)),
          h('dt', {}, 'ratings'),
          h('dd', { 'data-testid': 'item-count' }, int(item.ratingCount)),
          h('dt', {}, 'mean rating'),
          h('dd', {}, num(item.ratingMean, 3)),
        ),
        attributes.length
          ? table(
              ['attribute', 'value'],
              attributes.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
              'compact',
            )
          : h('p', { class: 'muted' }, 'No attributes (PUT /items/{itemId} sets them).'),
      ),
      card('Similar items (cosine similarity of learned embeddings)', similarBox),
    ),
  );
  try {
    const similar = await get<{ modelId: string; items: { itemId: string; score: number }[] }>(`/items/${enc(id)}/similar?n=10`);
    const names = await titles(similar.items.map((s) => s.itemId));
    if (signal.aborted) return;
    clear(
      similarBox,
      table(
        ['item', 'similarity'],
        similar.items.map((s) => [itemLink(s.itemId, names.get(s.itemId)), num(s.score, 3)]),
        'compact',
      ),
      h('p', { class: 'muted small' }, `model ${similar.modelId}`),
    );
  } catch (err) {
    clear(
      similarBox,
      err instanceof ApiError && (err.status === 404 || err.status === 503) ? h('p', { class: 'muted' }, err.message) : errorBox(err),
    );
  }
}
