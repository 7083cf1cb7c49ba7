import type { Dataset } from './dataset';

/** Per-user and per-item rating means and counts: the fallbacks for IDs the network has no latents for. */
export interface RatingSummary {
  globalMean: number;
  userMean: number[];
  itemMean: number[];
  itemCount: number[];
}

export function summarize(ds: Dataset, positions?: Int32Array): RatingSummary {
  const nu = ds.userIds.length;
  const ni = ds.itemIds.length;
  const us = new Float64Array(nu);
  const uc = new Float64Array(nu);
  const is = new Float64Array(ni);
  const ic = new Float64Array(ni);
  let total = 0;
  const n = positions ? positions.length : ds.r.length;
  for (let k = 0; k < n; k++) {
    const p = positions ? positions[k] : k;
    us[ds.u[p]] += ds.r[p];
    uc[ds.u[p]]++;
    is[ds.i[p]] += ds.r[p];
    ic[ds.i[p]]++;
    total += ds.r[p];
  }
  const globalMean = n ? total / n : 0;
  // Means are shrunk toward the global mean so that one rating does not make an item "the best".
  const shrink = (sum: number, count: number) => (sum + 5 * globalMean) / (count + 5);
  return {
    globalMean,
    userMean: Array.from(us, (s, k) => shrink(s, uc[k])),
    itemMean: Array.from(is, (s, k) => shrink(s, ic[k])),
    itemCount: Array.from(ic),
  };
}
