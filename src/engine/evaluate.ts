export interface Metrics {
  rmse: number;
  rmseClipped: number;
  mae: number;
  count: number;
}

/** RMSE and MAE of predictions against targets, raw and clipped to the rating scale. */
export function metrics(pred: Float32Array, target: Float32Array, min: number, max: number): Metrics {
  let se = 0;
  let sec = 0;
  let ae = 0;
  for (let k = 0; k < pred.length; k++) {
    const e = pred[k] - target[k];
    const c = Math.min(max, Math.max(min, pred[k])) - target[k];
    se += e * e;
    sec += c * c;
    ae += Math.abs(c);
  }
  const n = Math.max(1, pred.length);
  return { rmse: Math.sqrt(se / n), rmseClipped: Math.sqrt(sec / n), mae: ae / n, count: pred.length };
}
