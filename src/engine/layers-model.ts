import type * as TF from './tf';
import { netLayout, netSize, rowWidth, type Dims, type ModelParams } from './state';
import type { Tf } from './tf';

/** The dense layers in netLayout order. */
const denseLayerName = (k: number) => (k < 3 ? `hidden${k + 1}` : 'output');

/** An embedding layer `name` (rows × width, zeros until weights are set) looked up by `input`, flattened to [batch, width]. */
export function flatEmbedding(tf: Tf, input: TF.SymbolicTensor, rows: number, width: number, name: string): TF.SymbolicTensor {
  return tf.layers
    .flatten({ name: `${name}_flat` })
    .apply(tf.layers.embedding({ inputDim: rows, outputDim: width, name, embeddingsInitializer: 'zeros' }).apply(input)) as TF.SymbolicTensor;
}

/**
 * The NNMF network as a tf.LayersModel: inputs are user and item indexes; embeddings hold
 * U, U', V, V' (and the biases); [U, V, U' ⊙ V'] feeds three sigmoid layers and a linear output.
 */
export function buildLayersModel(tf: Tf, dims: Dims): TF.LayersModel {
  const user = tf.input({ shape: [1], dtype: 'int32', name: 'user' });
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const emb = (input: TF.SymbolicTensor, rows: number, width: number, name: string) => flatEmbedding(tf, input, rows, width, name);
  const U = emb(user, dims.nUsers, dims.d, 'U');
  const Up = emb(user, dims.nUsers, dims.dp, 'U_prime');
  const V = emb(item, dims.nItems, dims.d, 'V');
  const Vp = emb(item, dims.nItems, dims.dp, 'V_prime');
  const prod = tf.layers.multiply({ name: 'U_prime_x_V_prime' }).apply([Up, Vp]) as TF.SymbolicTensor;
  let h = tf.layers.concatenate({ name: 'x' }).apply([U, V, prod]) as TF.SymbolicTensor;
  [dims.h1, dims.h2, dims.h3].forEach((units, k) => {
    h = tf.layers.dense({ units, activation: 'sigmoid', name: denseLayerName(k) }).apply(h) as TF.SymbolicTensor;
  });
  let out = tf.layers.dense({ units: 1, activation: 'linear', name: denseLayerName(3) }).apply(h) as TF.SymbolicTensor;
  if (dims.useBias) {
    const bu = emb(user, dims.nUsers, 1, 'user_bias');
    const bi = emb(item, dims.nItems, 1, 'item_bias');
    out = tf.layers.add({ name: 'rating' }).apply([out, bu, bi]) as TF.SymbolicTensor;
  }
  return tf.model({ inputs: [user, item], outputs: out, name: 'nnmf' });
}

/** Where each embedding layer's columns sit in the user and item rows [latent | latent' | bias]. */
function embeddingColumns(dims: Dims): { layer: string; side: 'users' | 'items'; from: number; width: number }[] {
  const R = rowWidth(dims);
  const cols: ReturnType<typeof embeddingColumns> = [
    { layer: 'U', side: 'users', from: 0, width: dims.d },
    { layer: 'U_prime', side: 'users', from: dims.d, width: dims.dp },
    { layer: 'V', side: 'items', from: 0, width: dims.d },
    { layer: 'V_prime', side: 'items', from: dims.d, width: dims.dp },
  ];
  if (dims.useBias) {
    cols.push({ layer: 'user_bias', side: 'users', from: R - 1, width: 1 }, { layer: 'item_bias', side: 'items', from: R - 1, width: 1 });
  }
  return cols;
}

const rowsOf = (dims: Dims, side: 'users' | 'items') => (side === 'users' ? dims.nUsers : dims.nItems);

/** Loads flat parameters into the layers model's weights. */
export function setModelWeights(tf: Tf, model: TF.LayersModel, p: ModelParams): void {
  const R = rowWidth(p);
  const assign = (layer: string, values: Float32Array[], shapes: number[][]) =>
    model.getLayer(layer).setWeights(values.map((v, k) => tf.tensor(v, shapes[k])));
  for (const c of embeddingColumns(p)) {
    const n = rowsOf(p, c.side);
    const out = new Float32Array(n * c.width);
    for (let r = 0; r < n; r++) out.set(p[c.side].subarray(r * R + c.from, r * R + c.from + c.width), r * c.width);
    assign(c.layer, [out], [[n, c.width]]);
  }
  netLayout(p).forEach((l, k) => {
    assign(denseLayerName(k), [p.net.slice(l.kernel, l.kernel + l.in * l.out), p.net.slice(l.bias, l.bias + l.out)], [[l.in, l.out], [l.out]]);
  });
}

/** Reads the layers model's weights back into flat parameters. */
export function paramsFromModel(model: TF.LayersModel, dims: Dims): ModelParams {
  const R = rowWidth(dims);
  const rows = { users: new Float32Array(dims.nUsers * R), items: new Float32Array(dims.nItems * R) };
  const w = (layer: string, k = 0) => model.getLayer(layer).getWeights()[k].dataSync() as Float32Array;
  for (const c of embeddingColumns(dims)) {
    const src = w(c.layer);
    for (let r = 0; r < rowsOf(dims, c.side); r++) rows[c.side].set(src.subarray(r * c.width, r * c.width + c.width), r * R + c.from);
  }
  const net = new Float32Array(netSize(dims));
  netLayout(dims).forEach((l, k) => {
    net.set(w(denseLayerName(k), 0), l.kernel);
    net.set(w(denseLayerName(k), 1), l.bias);
  });
  return { ...dims, net, users: rows.users, items: rows.items };
}
