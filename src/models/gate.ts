import { sameScheme, type BucketScheme } from '../engine/buckets';
import type { Dataset } from '../engine/dataset';
import { metrics } from '../engine/evaluate';
import type { Prediction, Predictor } from '../engine/predictor';
import { inSlices } from '../engine/slices';

export interface PromotionDecision {
  activated: boolean;
  reason: string;
  /** Ratings of the evaluation bucket both models were judged on. */
  evaluationCount: number;
  newModelRmse: number | null;
  activeModelId: string | null;
  activeModelRmse: number | null;
  /** Whether the two figures are comparable: neither model trained on the evaluation ratings. */
  fair: boolean;
}

/**
 * Decides whether a freshly trained model replaces the active one. Both are judged on the
 * current evaluation bucket, which neither trained on when the active model was trained under
 * the same bucket scheme; a model trained under another scheme (or before buckets existed) may
 * have trained on those ratings and would look better than it is, so it is replaced.
 */
export async function promotionDecision(
  ds: Dataset,
  evaluation: Int32Array,
  fresh: Predictor,
  active: Predictor | null,
  scheme: BucketScheme,
  scale: { min: number; max: number },
): Promise<PromotionDecision> {
  const pairs = Array.from(evaluation, (p) => ({ userId: ds.userIds[ds.u[p]], itemId: ds.itemIds[ds.i[p]] }));
  const truth = Float32Array.from(evaluation, (p) => ds.r[p]);
  const rmseOf = async (pr: Predictor) => {
    if (!pairs.length) return null;
    const predicted = (await inSlices(pairs.length, (a, b) => pr.predict(pairs.slice(a, b)))) as Prediction[];
    return metrics(
      Float32Array.from(predicted, (x) => x.rating),
      truth,
      scale.min,
      scale.max,
    ).rmseClipped;
  };
  const newRmse = await rmseOf(fresh);
  const base = { evaluationCount: pairs.length, newModelRmse: newRmse, activeModelId: active?.modelId ?? null };
  if (!active) return { ...base, activated: true, reason: 'no active model', activeModelRmse: null, fair: true };
  const activeRmse = await rmseOf(active);
  if (newRmse === null || activeRmse === null) {
    return {
      ...base,
      activated: true,
      reason: 'no evaluation ratings to compare on: the newest model is served',
      activeModelRmse: activeRmse,
      fair: false,
    };
  }
  if (!sameScheme(active.meta.buckets, scheme)) {
    return {
      ...base,
      activated: true,
      reason: 'the active model was trained under another held-out scheme and may have trained on the evaluation ratings; the new model replaces it',
      activeModelRmse: activeRmse,
      fair: false,
    };
  }
  const activated = newRmse <= activeRmse;
  return {
    ...base,
    activated,
    reason: activated ? 'at least as good as the active model on the evaluation bucket' : 'worse than the active model on the evaluation bucket',
    activeModelRmse: activeRmse,
    fair: true,
  };
}
