import type * as TF from '../tf';
import type { Tf } from '../tf';
import type { AutorecServed } from './native';

/**
 * The served model as a tf.LayersModel: an item index picks its code h_i (an embedding, computed
 * from the item's training ratings) and the decoder (a Dense layer, kernel Vᵀ, bias c) turns it
 * into the item's reconstructed rating of every user. With the encoder kept, a second input takes
 * an item's ratings over all users (0 where unrated) and the encoder (a sigmoid Dense layer,
 * kernel W, bias b) gives its code as a second output.
 */
export function buildAutorecLayers(tf: Tf, s: AutorecServed): TF.LayersModel {
  const item = tf.input({ shape: [1], dtype: 'int32', name: 'item' });
  const code = tf.layers.embedding({ inputDim: s.nItems, outputDim: s.hidden, name: 'item_code', embeddingsInitializer: 'zeros' }).apply(item);
  const flat = tf.layers.flatten({ name: 'item_code_flat' }).apply(code);
  const out = tf.layers
    .dense({ units: s.nUsers, activation: 'linear', name: 'decoder', kernelInitializer: 'zeros' })
    .apply(flat) as TF.SymbolicTensor;
  const withEncoder = s.encW !== undefined && s.encB !== undefined;
  let model: TF.LayersModel;
  if (withEncoder) {
    const ratings = tf.input({ shape: [s.nUsers], name: 'ratings' });
    const encoded = tf.layers
      .dense({ units: s.hidden, activation: 'sigmoid', name: 'encoder', kernelInitializer: 'zeros' })
      .apply(ratings) as TF.SymbolicTensor;
    model = tf.model({ inputs: [item, ratings], outputs: [out, encoded], name: 'autorec' });
  } else {
    model = tf.model({ inputs: item, outputs: out, name: 'autorec' });
  }
  // setWeights copies into the layers' variables; tidy frees the tensors it copied from.
  tf.tidy(() => {
    model.getLayer('item_code').setWeights([tf.tensor(s.codes, [s.nItems, s.hidden])]);
    model.getLayer('decoder').setWeights([tf.tensor(transpose(s.V, s.nUsers, s.hidden), [s.hidden, s.nUsers]), tf.tensor(s.c, [s.nUsers])]);
    if (withEncoder) model.getLayer('encoder').setWeights([tf.tensor(s.encW!, [s.nUsers, s.hidden]), tf.tensor(s.encB!, [s.hidden])]);
  });
  return model;
}

/** Reads the decoder and the item codes back from the layers model. */
export function servedFromLayers(model: TF.LayersModel, dims: { nUsers: number; nItems: number }, hidden: number): AutorecServed {
  const codes = model.getLayer('item_code').getWeights()[0].dataSync() as Float32Array;
  const [kernel, bias] = model
    .getLayer('decoder')
    .getWeights()
    .map((t) => t.dataSync() as Float32Array);
  if (codes.length !== dims.nItems * hidden || bias.length !== dims.nUsers) throw new Error('autorec checkpoint does not match its dimensions');
  const served: AutorecServed = {
    ...dims,
    hidden,
    V: transpose(kernel, hidden, dims.nUsers),
    c: Float32Array.from(bias),
    codes: Float32Array.from(codes),
  };
  const encoder = model.layers.find((l) => l.name === 'encoder');
  if (encoder) {
    const [W, b] = encoder.getWeights().map((t) => t.dataSync() as Float32Array);
    if (W.length !== dims.nUsers * hidden || b.length !== hidden) throw new Error('autorec encoder does not match its dimensions');
    served.encW = Float32Array.from(W);
    served.encB = Float32Array.from(b);
  }
  return served;
}

/** The transpose of a rows × cols row-major matrix. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = a[r * cols + k];
  return out;
}
