import type * as TF from '../tf';
import { readLayersModel, writeLayersModel } from '../layers-io';
import { flatEmbedding } from '../layers-model';
import type { MemberDims } from '../member';
import { loadTf, type Tf } from '../tf';
import type { MfParams } from './model';

/**
 * Biased MF as a tf.LayersModel: inputs are user and item indexes; embeddings P, Q,
 * user_bias and item_bias; p_u·q_i + b_u + b_i goes through a fixed 1×1 dense layer whose
 * bias is the global mean (kernel 1, not trainable).
 */
export function buildMfLayersModel(tf: Tf, dims: MemberDims, k: number): TF.LayersModel {
  const user = tf.input({ shape: [1], dtype: 'int32', name: 'user' });
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const emb = (input: TF.SymbolicTensor, rows: number, width: number, name: string) => flatEmbedding(tf, input, rows, width, name);
  const dot = tf.layers.dot({ axes: 1, name: 'P_dot_Q' }).apply([emb(user, dims.nUsers, k, 'P'), emb(item, dims.nItems, k, 'Q')]);
  const sum = tf.layers
    .add({ name: 'biased_dot' })
    .apply([dot as TF.SymbolicTensor, emb(user, dims.nUsers, 1, 'user_bias'), emb(item, dims.nItems, 1, 'item_bias')]);
  const out = tf.layers.dense({ units: 1, name: 'global_mean', kernelInitializer: 'ones', trainable: false }).apply(sum) as TF.SymbolicTensor;
  return tf.model({ inputs: [user, item], outputs: out, name: 'biased_mf' });
}

/** Column `from` .. `from + width` of every row of a [rows, k + 1] table. */
function columns(rows: Float32Array, n: number, k: number, from: number, width: number): Float32Array {
  const out = new Float32Array(n * width);
  for (let r = 0; r < n; r++) out.set(rows.subarray(r * (k + 1) + from, r * (k + 1) + from + width), r * width);
  return out;
}

export function setMfWeights(tf: Tf, model: TF.LayersModel, p: MfParams): void {
  const set = (layer: string, values: Float32Array[], shapes: number[][]) =>
    model.getLayer(layer).setWeights(values.map((v, j) => tf.tensor(v, shapes[j])));
  set('P', [columns(p.users, p.nUsers, p.k, 0, p.k)], [[p.nUsers, p.k]]);
  set('Q', [columns(p.items, p.nItems, p.k, 0, p.k)], [[p.nItems, p.k]]);
  set('user_bias', [columns(p.users, p.nUsers, p.k, p.k, 1)], [[p.nUsers, 1]]);
  set('item_bias', [columns(p.items, p.nItems, p.k, p.k, 1)], [[p.nItems, 1]]);
  set('global_mean', [Float32Array.of(1), Float32Array.of(p.mean)], [[1, 1], [1]]);
}

export function mfParamsFromModel(model: TF.LayersModel, dims: MemberDims, k: number): MfParams {
  const w = (layer: string, j = 0) => model.getLayer(layer).getWeights()[j].dataSync() as Float32Array;
  const rows = (n: number, factors: Float32Array, bias: Float32Array) => {
    const out = new Float32Array(n * (k + 1));
    for (let r = 0; r < n; r++) {
      out.set(factors.subarray(r * k, r * k + k), r * (k + 1));
      out[r * (k + 1) + k] = bias[r];
    }
    return out;
  };
  if (w('global_mean', 0)[0] !== 1) throw new Error('the global_mean layer must have kernel 1');
  return {
    nUsers: dims.nUsers,
    nItems: dims.nItems,
    k,
    mean: w('global_mean', 1)[0],
    users: rows(dims.nUsers, w('P'), w('user_bias')),
    items: rows(dims.nItems, w('Q'), w('item_bias')),
  };
}

export async function saveMfLayers(dir: string, p: MfParams): Promise<void> {
  const tf = loadTf();
  const model = buildMfLayersModel(tf, p, p.k);
  try {
    setMfWeights(tf, model, p);
    await writeLayersModel(tf, model, dir);
  } finally {
    model.dispose();
  }
}

/** Reads a saved model back; its shape must match `dims` and `k`. */
export async function loadMfLayers(dir: string, dims: MemberDims, k: number): Promise<MfParams> {
  const tf = loadTf();
  const model = await readLayersModel(tf, dir);
  try {
    const shape = model.getLayer('P').getWeights()[0].shape;
    const qShape = model.getLayer('Q').getWeights()[0].shape;
    if (shape[0] !== dims.nUsers || shape[1] !== k || qShape[0] !== dims.nItems || qShape[1] !== k) {
      throw new Error(`mf checkpoint has P ${shape.join('×')} and Q ${qShape.join('×')}, expected ${dims.nUsers}×${k} and ${dims.nItems}×${k}`);
    }
    return mfParamsFromModel(model, dims, k);
  } finally {
    model.dispose();
  }
}
