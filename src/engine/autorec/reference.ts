import type { Tf } from '../tf';
import type { AutorecGradients, AutorecWeights } from './native';
import type { ItemRatings } from './ratings';

/**
 * The I-AutoRec loss written densely in TF.js, with its gradient by automatic differentiation:
 * the reference the native kernel is checked against. Rows are the items of `order` (their
 * ratings over all users, zero where unobserved), so R·W is the encoder's sparse sum and the
 * mask keeps the error to observed entries:
 *   loss = Σ mask ⊙ (sigmoid(R W + b) Vᵀ + c − R)² + λ/2 (‖W‖² + ‖V‖²).
 */
export function referenceLossAndGrad(tf: Tf, w: AutorecWeights, r: ItemRatings, order: Int32Array, lambda: number): AutorecGradients {
  const B = order.length;
  const U = w.nUsers;
  const dense = new Float32Array(B * U);
  const mask = new Float32Array(B * U);
  order.forEach((item, row) => {
    for (let k = r.start[item]; k < r.start[item + 1]; k++) {
      dense[row * U + r.users[k]] = r.ratings[k];
      mask[row * U + r.users[k]] = 1;
    }
  });
  return tf.tidy(() => {
    const R = tf.tensor2d(dense, [B, U]);
    const M = tf.tensor2d(mask, [B, U]);
    const loss = (W: TfTensor, b: TfTensor, V: TfTensor, c: TfTensor) => {
      const h = tf.sigmoid(tf.add(tf.matMul(R, W), b));
      const err = tf.mul(tf.sub(tf.add(tf.matMul(h, V, false, true), c), R), M);
      return tf.add(tf.sum(tf.square(err)), tf.mul(lambda / 2, tf.add(tf.sum(tf.square(W)), tf.sum(tf.square(V)))));
    };
    const { value, grads } = tf.valueAndGrads(loss)([
      tf.tensor2d(w.W, [U, w.hidden]),
      tf.tensor1d(w.b),
      tf.tensor2d(w.V, [U, w.hidden]),
      tf.tensor1d(w.c),
    ]);
    const data = (t: TfTensor) => t.dataSync() as Float32Array;
    return { loss: value.dataSync()[0], gW: data(grads[0]), gb: data(grads[1]), gV: data(grads[2]), gc: data(grads[3]) };
  });
}

type TfTensor = ReturnType<Tf['tensor']>;
