import type * as TF from '../tf';
import type { Tf } from '../tf';
import type { MfParams } from './model';

/** Ratings as parallel arrays (the positions already gathered). */
export interface MfRatings {
  u: Int32Array;
  i: Int32Array;
  r: Float32Array;
}

/**
 * The MF loss written in TF.js, with its gradients by autodiff: the reference the native
 * kernel's lossAndGrad is checked against. Mean over the ratings of
 * (mean + b_u + b_i + p_u·q_i - r)² + λ(‖p_u‖² + ‖q_i‖²) + λ_b(b_u² + b_i²).
 */
export function mfLossAndGradReference(
  tf: Tf,
  p: MfParams,
  data: MfRatings,
  lambda: number,
  lambdaBias: number,
): { loss: number; gUsers: Float32Array; gItems: Float32Array } {
  return tf.tidy(() => {
    const W = p.k + 1;
    const u = tf.tensor1d(data.u, 'int32');
    const i = tf.tensor1d(data.i, 'int32');
    const r = tf.tensor1d(data.r);
    const loss = (users: TF.Tensor, items: TF.Tensor): TF.Scalar => {
      const pu = tf.gather(users, u);
      const qi = tf.gather(items, i);
      const n = data.u.length;
      const [pf, bu] = tf.split(pu, [p.k, 1], 1);
      const [qf, bi] = tf.split(qi, [p.k, 1], 1);
      // Function calls rather than chained methods: tfjs-core alone does not register the chained forms.
      const pred = tf.addN([tf.sum(tf.mul(pf, qf), 1), tf.reshape(bu, [n]), tf.reshape(bi, [n]), tf.fill([n], p.mean)]);
      const err = tf.square(tf.sub(pred, r));
      const reg = tf.mul(tf.add(tf.sum(tf.square(pf), 1), tf.sum(tf.square(qf), 1)), lambda);
      const regBias = tf.mul(tf.reshape(tf.add(tf.square(bu), tf.square(bi)), [n]), lambdaBias);
      return tf.mean(tf.addN([err, reg, regBias]));
    };
    const users = tf.tensor2d(p.users, [p.nUsers, W]);
    const items = tf.tensor2d(p.items, [p.nItems, W]);
    const { value, grads } = tf.valueAndGrads(loss)([users, items]);
    return {
      loss: value.dataSync()[0],
      gUsers: grads[0].dataSync() as Float32Array,
      gItems: grads[1].dataSync() as Float32Array,
    };
  });
}
