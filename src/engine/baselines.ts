import type { Dataset } from './dataset';

/**
 * Regularised user and item biases around the global mean (rating ≈ μ + b_u + b_i), fitted by
 * alternating closed-form updates on the training positions: the baseline every model in a
 * report has to beat to be worth its cost.
 */
export interface BiasModel {
  globalMean: number;
  userBias: Float32Array;
  itemBias: Float32Array;
}

export function fitBiases(ds: Dataset, positions: Int32Array, lambdaUser = 10, lambdaItem = 25, iterations = 10): BiasModel {
  const nu = ds.userIds.length;
  const ni = ds.itemIds.length;
  let total = 0;
  for (const p of positions) total += ds.r[p];
  const mu = positions.length ? total / positions.length : 0;
  const bu = new Float32Array(nu);
  const bi = new Float32Array(ni);
  // One side's biases from the residuals left by the other side's: b_side = Σ residual / (λ + count).
  const update = (side: Int32Array, other: Int32Array, otherBias: Float32Array, out: Float32Array, lambda: number) => {
    const sum = new Float64Array(out.length);
    const count = new Float64Array(out.length);
    for (const p of positions) {
      sum[side[p]] += ds.r[p] - mu - otherBias[other[p]];
      count[side[p]]++;
    }
    for (let k = 0; k < out.length; k++) out[k] = sum[k] / (lambda + count[k]);
  };
  for (let it = 0; it < iterations; it++) {
    update(ds.i, ds.u, bu, bi, lambdaItem);
    update(ds.u, ds.i, bi, bu, lambdaUser);
  }
  return { globalMean: mu, userBias: bu, itemBias: bi };
}

export function predictBiases(m: BiasModel, u: Int32Array, i: Int32Array): Float32Array {
  return Float32Array.from(u, (uu, k) => m.globalMean + m.userBias[uu] + m.itemBias[i[k]]);
}
