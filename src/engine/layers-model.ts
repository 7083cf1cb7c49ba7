import type * as TF from '@tensorflow/tfjs';
import { netLayout, rowWidth, type Dims, type ModelParams } from './state';
import type { Tf } from './tf';

/**
 * The NNMF network as a tf.LayersModel: inputs are user and item indexes; embeddings hold
 * U, U', V, V' (and the biases); [U, V, U' ⊙ V'] feeds three sigmoid layers and a linear output.
 */
export function buildLayersModel(tf: Tf, dims: Dims): TF.LayersModel {
  const user = tf.input({ shape: [1], dtype: 'int32', name: 'user' });
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const emb = (input: TF.SymbolicTensor, rows: number, width: number, name: string) =>
    tf.layers.flatten({ name: `${name}_flat` }).apply(
      tf.layers.embedding({ inputDim: rows, outputDim: width, name, embeddingsInitializer: 'zeros' }).apply(input),
    ) as TF.SymbolicTensor;
  const U = emb(user, dims.nUsers, dims.d, 'U');
  const Up = emb(user, dims.nUsers, dims.dp, 'U_prime');
  const V = emb(item, dims.nItems, dims.d, 'V');
  const Vp = emb(item, dims.nItems, dims.dp, 'V_prime');
  const prod = tf.layers.multiply({ name: 'U_prime_x_V_prime' }).apply([Up, Vp]) as TF.SymbolicTensor;
  let h = tf.layers.concatenate({ name: 'x' }).apply([U, V, prod]) as TF.SymbolicTensor;
  [dims.h1, dims.h2, dims.h3].forEach((units, k) => {
    h = tf.layers.dense({ units, activation: 'sigmoid', name: `hidden${k + 1}` }).apply(h) as TF.SymbolicTensor;
  });
  let out = tf.layers.dense({ units: 1, activation: 'linear', name: 'output' }).apply(h) as TF.SymbolicTensor;
  if (dims.useBias) {
    const bu = emb(user, dims.nUsers, 1, 'user_bias');
    const bi = emb(item, dims.nItems, 1, 'item_bias');
    out = tf.layers.add({ name: 'rating' }).apply([out, bu, bi]) as TF.SymbolicTensor;
  }
  return tf.model({ inputs: [user, item], outputs: out, name: 'nnmf' });
}

function columns(rows: Float32Array, R: number, from: number, width: number, n: number): Float32Array {
  const out = new Float32Array(n * width);
  for (let r = 0; r < n; r++) out.set(rows.subarray(r * R + from, r * R + from + width), r * width);
  return out;
}

function setColumns(rows: Float32Array, R: number, from: number, width: number, src: Float32Array, n: number): void {
  for (let r = 0; r < n; r++) rows.set(src.subarray(r * width, r * width + width), r * R + from);
}

/** Loads flat parameters into the layers model's weights. */
export function setModelWeights(tf: Tf, model: TF.LayersModel, p: ModelParams): void {
  const R = rowWidth(p);
  const assign = (layer: string, values: Float32Array[], shapes: number[][]) =>
    model.getLayer(layer).setWeights(values.map((v, k) => tf.tensor(v, shapes[k])));
  assign('U', [columns(p.users, R, 0, p.d, p.nUsers)], [[p.nUsers, p.d]]);
  assign('U_prime', [columns(p.users, R, p.d, p.dp, p.nUsers)], [[p.nUsers, p.dp]]);
  assign('V', [columns(p.items, R, 0, p.d, p.nItems)], [[p.nItems, p.d]]);
  assign('V_prime', [columns(p.items, R, p.d, p.dp, p.nItems)], [[p.nItems, p.dp]]);
  if (p.useBias) {
    assign('user_bias', [columns(p.users, R, R - 1, 1, p.nUsers)], [[p.nUsers, 1]]);
    assign('item_bias', [columns(p.items, R, R - 1, 1, p.nItems)], [[p.nItems, 1]]);
  }
  netLayout(p).forEach((l, k) => {
    assign(
      k < 3 ? `hidden${k + 1}` : 'output',
      [p.net.slice(l.kernel, l.kernel + l.in * l.out), p.net.slice(l.bias, l.bias + l.out)],
      [[l.in, l.out], [l.out]],
    );
  });
}

/** Reads the layers model's weights back into flat parameters. */
export function paramsFromModel(model: TF.LayersModel, dims: Dims): ModelParams {
  const R = rowWidth(dims);
  const users = new Float32Array(dims.nUsers * R);
  const items = new Float32Array(dims.nItems * R);
  const w = (layer: string, k = 0) => model.getLayer(layer).getWeights()[k].dataSync() as Float32Array;
  setColumns(users, R, 0, dims.d, w('U'), dims.nUsers);
  setColumns(users, R, dims.d, dims.dp, w('U_prime'), dims.nUsers);
  setColumns(items, R, 0, dims.d, w('V'), dims.nItems);
  setColumns(items, R, dims.d, dims.dp, w('V_prime'), dims.nItems);
  if (dims.useBias) {
    setColumns(users, R, R - 1, 1, w('user_bias'), dims.nUsers);
    setColumns(items, R, R - 1, 1, w('item_bias'), dims.nItems);
  }
  const layout = netLayout(dims);
  const net = new Float32Array(layout[3].bias + 1);
  layout.forEach((l, k) => {
    const name = k < 3 ? `hidden${k + 1}` : 'output';
    net.set(w(name, 0), l.kernel);
    net.set(w(name, 1), l.bias);
  });
  return { ...dims, net, users, items };
}
