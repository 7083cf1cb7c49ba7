import type * as TF from './tf';
import type { Engine, EpochInput, ServingNet, TrainSession } from './engine';
import type { TrainParams } from './params';
import { netLayout, rowWidth, type Dims, type ModelParams } from './state';
import { loadTf, tfBackend, type Tf } from './tf';

type Tensor = TF.Tensor;

/** The network's weights as tensors (kernels [in, out], biases [out]). */
interface NetTensors {
  kernels: Tensor[];
  biases: Tensor[];
}

let variableCounter = 0;

function netTensors(tf: Tf, p: ModelParams, variables: boolean): NetTensors {
  const make = (a: Float32Array, shape: number[], name: string) => (variables ? tf.variable(tf.tensor(a, shape), true, name) : tf.tensor(a, shape));
  const kernels: Tensor[] = [];
  const biases: Tensor[] = [];
  netLayout(p).forEach((l, k) => {
    kernels.push(make(p.net.subarray(l.kernel, l.kernel + l.in * l.out), [l.in, l.out], `nnmf_w${k + 1}_${++variableCounter}`));
    biases.push(make(p.net.subarray(l.bias, l.bias + l.out), [l.out], `nnmf_b${k + 1}_${++variableCounter}`));
  });
  return { kernels, biases };
}

/** f([U, V, U' ⊙ V']) (+ user and item bias) for gathered rows [B, R]; returns [B]. */
function forward(tf: Tf, dims: Dims, net: NetTensors, uRows: Tensor, iRows: Tensor): Tensor {
  const R = rowWidth(dims);
  const B = uRows.shape[0];
  const cols = (t: Tensor, from: number, n: number) => tf.slice(t, [0, from], [B, n]);
  let h: Tensor = tf.concat([cols(uRows, 0, dims.d), cols(iRows, 0, dims.d), tf.mul(cols(uRows, dims.d, dims.dp), cols(iRows, dims.d, dims.dp))], 1);
  for (let k = 0; k < 4; k++) {
    h = tf.add(tf.matMul(h, net.kernels[k]), net.biases[k]);
    if (k < 3) h = tf.sigmoid(h);
  }
  let y = tf.reshape(h, [B]);
  if (dims.useBias) y = tf.add(y, tf.add(tf.reshape(cols(uRows, R - 1, 1), [B]), tf.reshape(cols(iRows, R - 1, 1), [B])));
  return y;
}

/** Σ (f(x) − r)² + Σ regU·‖user row‖² + Σ regI·‖item row‖² over one batch of gathered rows. */
function batchLoss(tf: Tf, dims: Dims, net: NetTensors, uT: Tensor, iT: Tensor, r: Tensor, regU: Tensor, regI: Tensor): TF.Scalar {
  return tf.tidy(() => {
    const e = tf.sub(forward(tf, dims, net, uT, iT), r);
    const reg = tf.add(tf.sum(tf.mul(regU, tf.sum(tf.square(uT), 1))), tf.sum(tf.mul(regI, tf.sum(tf.square(iT), 1))));
    return tf.add<TF.Scalar>(tf.sum(tf.square(e)), reg);
  });
}

function gatherRows(src: Float32Array, rows: Int32Array, R: number): Float32Array {
  const out = new Float32Array(rows.length * R);
  for (let b = 0; b < rows.length; b++) out.set(src.subarray(rows[b] * R, rows[b] * R + R), b * R);
  return out;
}

/**
 * The reference implementation with TF.js ops and optimisers. Gradients are taken with respect
 * to the gathered latent rows and scattered here, because the 'cpu' backend's gather gradient
 * (UnsortedSegmentSum) is far too slow; the network is stepped by tf.train's optimisers.
 */
export class TfjsEngine implements Engine {
  readonly name = 'tfjs' as const;
  readonly detail: string;
  private readonly tf: Tf;

  constructor() {
    this.tf = loadTf();
    this.detail = `TensorFlow.js, backend ${tfBackend()}`;
  }

  async createSession(params: ModelParams, s: TrainParams): Promise<TrainSession> {
    const tf = this.tf;
    const dims: Dims = params;
    const R = rowWidth(dims);
    const net = netTensors(tf, params, true);
    const vars = [...net.kernels, ...net.biases] as TF.Variable[];
    const eps = 1e-7;
    const optimizer = s.optimizer === 'adam' ? tf.train.adam(s.lr, 0.9, 0.999, eps) : tf.train.rmsprop(s.lr, 0.9, 0, eps);
    // Optimiser slots of the latent rows, updated only for rows a batch touches.
    const slots = {
      users: [new Float32Array(params.users.length), new Float32Array(params.users.length)],
      items: [new Float32Array(params.items.length), new Float32Array(params.items.length)],
    };
    let step = 0;

    const loss = (uT: Tensor, iT: Tensor, r: Tensor, regU: Tensor, regI: Tensor) => batchLoss(tf, dims, net, uT, iT, r, regU, regI);

    const stepRows = (table: Float32Array, s1: Float32Array, s2: Float32Array, rows: Int32Array, grad: Float32Array, lr: number, t: number) => {
      // Sum the per-sample gradients into one gradient per distinct row.
      const index = new Map<number, number>();
      const distinct: number[] = [];
      for (const r of rows) if (!index.has(r)) index.set(r, distinct.push(r) - 1);
      const g = new Float32Array(distinct.length * R);
      rows.forEach((r, b) => {
        const o = index.get(r)! * R;
        for (let k = 0; k < R; k++) g[o + k] += grad[b * R + k];
      });
      const rowIdx = Int32Array.from(distinct);
      const [w2, m2, v2] = tf.tidy((): [Tensor, Tensor, Tensor] => {
        const shape = [distinct.length, R];
        const w = tf.tensor(gatherRows(table, rowIdx, R), shape);
        const m = tf.tensor(gatherRows(s1, rowIdx, R), shape);
        const v = tf.tensor(gatherRows(s2, rowIdx, R), shape);
        const gt = tf.tensor(g, shape);
        if (s.optimizer === 'adam') {
          const c1 = tf.sub(1, tf.pow(tf.scalar(0.9), tf.scalar(t)));
          const c2 = tf.sub(1, tf.pow(tf.scalar(0.999), tf.scalar(t)));
          const m1 = tf.add(tf.mul(m, 0.9), tf.mul(gt, 0.1));
          const v1 = tf.add(tf.mul(v, 0.999), tf.mul(tf.square(gt), 0.001));
          const upd = tf.mul(tf.div(tf.div(m1, c1), tf.add(tf.sqrt(tf.div(v1, c2)), eps)), lr);
          return [tf.sub(w, upd), m1, v1];
        }
        const m1 = tf.add(tf.mul(m, 0.9), tf.mul(tf.square(gt), 0.1));
        return [tf.sub(w, tf.mul(tf.div(gt, tf.sqrt(tf.add(m1, eps))), lr)), m1, v];
      });
      const [wd, md, vd] = [w2.dataSync(), m2.dataSync(), v2.dataSync()];
      tf.dispose([w2, m2, v2]);
      distinct.forEach((r, k) => {
        table.set(wd.subarray(k * R, k * R + R), r * R);
        s1.set(md.subarray(k * R, k * R + R), r * R);
        s2.set(vd.subarray(k * R, k * R + R), r * R);
      });
    };

    const writeBack = () => {
      netLayout(dims).forEach((l, k) => {
        params.net.set(net.kernels[k].dataSync(), l.kernel);
        params.net.set(net.biases[k].dataSync(), l.bias);
      });
    };

    return {
      get step() {
        return step;
      },
      async epoch(input: EpochInput, cancel: Int32Array) {
        (optimizer as unknown as { learningRate: number }).learningRate = input.lr;
        let sse = 0;
        let count = 0;
        const B = Math.max(1, Math.min(s.batchSize, input.order.length));
        for (let start = 0; start < input.order.length; start += B) {
          if (cancel[0]) return { sse, count, cancelled: true };
          const pos = input.order.subarray(start, Math.min(start + B, input.order.length));
          const us = Int32Array.from(pos, (p) => input.data.u[p]);
          const is = Int32Array.from(pos, (p) => input.data.i[p]);
          const n = pos.length;
          const r = tf.tensor1d(Float32Array.from(pos, (p) => input.data.r[p]));
          const regU = tf.tensor1d(Float32Array.from(us, (u) => input.regU[u]));
          const regI = tf.tensor1d(Float32Array.from(is, (i) => input.regI[i]));
          const uT = tf.tensor2d(gatherRows(params.users, us, R), [n, R]);
          const iT = tf.tensor2d(gatherRows(params.items, is, R), [n, R]);
          step++;
          const rowGrads = () => {
            const [gu, gi] = tf.grads((a: Tensor, b: Tensor) => loss(a, b, r, regU, regI))([uT, iT]);
            const out = [gu.dataSync() as Float32Array, gi.dataSync() as Float32Array];
            tf.dispose([gu, gi]);
            return out;
          };
          const sseT = tf.tidy(() => tf.sum(tf.square(tf.sub(forward(tf, dims, net, uT, iT), r))));
          sse += (await sseT.data())[0];
          sseT.dispose();
          count += n;
          const early = s.alternating ? null : rowGrads();
          const { grads, value } = tf.variableGrads(() => loss(uT, iT, r, regU, regI), vars);
          optimizer.applyGradients(grads as never);
          tf.dispose([value, ...Object.values(grads)]);
          const [gu, gi] = early ?? rowGrads();
          stepRows(params.users, slots.users[0], slots.users[1], us, gu, input.lr, step);
          stepRows(params.items, slots.items[0], slots.items[1], is, gi, input.lr, step);
          tf.dispose([r, regU, regI, uT, iT]);
          // Let the event loop breathe between batches: this engine runs on the JS thread.
          await new Promise((resolve) => setImmediate(resolve));
        }
        writeBack();
        return { sse, count, cancelled: false };
      },
      dispose() {
        writeBack();
        tf.dispose(vars);
        optimizer.dispose();
      },
    };
  }

  /**
   * Loss and gradients of one batch by TF.js autodiff, in the flat layouts of ModelParams
   * (latent gradients summed per row): the reference the native kernel is checked against.
   */
  gradients(
    params: ModelParams,
    batch: { u: Int32Array; i: Int32Array; r: Float32Array; regU: Float32Array; regI: Float32Array },
  ): { loss: number; gNet: Float32Array; gUsers: Float32Array; gItems: Float32Array } {
    const tf = this.tf;
    const R = rowWidth(params);
    const n = batch.u.length;
    const net = netTensors(tf, params, false);
    const uT = tf.tensor2d(gatherRows(params.users, batch.u, R), [n, R]);
    const iT = tf.tensor2d(gatherRows(params.items, batch.i, R), [n, R]);
    const r = tf.tensor1d(batch.r);
    const regU = tf.tensor1d(Float32Array.from(batch.u, (u) => batch.regU[u]));
    const regI = tf.tensor1d(Float32Array.from(batch.i, (i) => batch.regI[i]));
    const weights = [...net.kernels, ...net.biases];
    const f = (...xs: Tensor[]) => batchLoss(tf, params, { kernels: xs.slice(0, 4), biases: xs.slice(4, 8) }, xs[8], xs[9], r, regU, regI);
    const { value, grads } = tf.valueAndGrads(f)([...weights, uT, iT]);
    const gNet = new Float32Array(params.net.length);
    netLayout(params).forEach((l, k) => {
      gNet.set(grads[k].dataSync(), l.kernel);
      gNet.set(grads[4 + k].dataSync(), l.bias);
    });
    const scatter = (g: Float32Array, rows: Int32Array, total: number) => {
      const out = new Float32Array(total * R);
      rows.forEach((row, b) => {
        for (let k = 0; k < R; k++) out[row * R + k] += g[b * R + k];
      });
      return out;
    };
    const gUsers = scatter(grads[8].dataSync() as Float32Array, batch.u, params.nUsers);
    const gItems = scatter(grads[9].dataSync() as Float32Array, batch.i, params.nItems);
    const loss = value.dataSync()[0];
    tf.dispose([value, ...grads, uT, iT, r, regU, regI, ...weights]);
    return { loss, gNet, gUsers, gItems };
  }

  prepare(params: ModelParams): ServingNet {
    const score = (u: Int32Array, i: Int32Array, n: number, out: Float32Array) => out.set(this.predict(params, u.subarray(0, n), i.subarray(0, n)));
    const scoreUser = async (u: number, items: Int32Array, n: number, out: Float32Array) => score(new Int32Array(n).fill(u), items, n, out);
    const allItems = Int32Array.from({ length: params.nItems }, (_, k) => k);
    // A folded-in user is the only user of a one-row copy of the model.
    const scoreRow = (row: Float32Array, items: Int32Array, n: number, out: Float32Array) =>
      out.set(this.predict({ ...params, users: row, nUsers: 1 }, new Int32Array(n), items.subarray(0, n)));
    return {
      score,
      scoreUser,
      scoreAll: (u, out) => scoreUser(u, allItems, params.nItems, out),
      scoreRow,
      scoreRowAll: async (row, out) => scoreRow(row, allItems, params.nItems, out),
    };
  }

  predict(params: ModelParams, u: Int32Array, i: Int32Array): Float32Array {
    const tf = this.tf;
    const R = rowWidth(params);
    const out = new Float32Array(u.length);
    const chunk = 65536;
    const net = netTensors(tf, params, false);
    try {
      for (let start = 0; start < u.length; start += chunk) {
        const us = u.subarray(start, start + chunk);
        const is = i.subarray(start, start + chunk);
        for (const [a, n] of [
          [us, params.nUsers],
          [is, params.nItems],
        ] as const) {
          for (const x of a) if (x < 0 || x >= n) throw new RangeError('index out of range');
        }
        const y = tf.tidy(() =>
          forward(
            tf,
            params,
            net,
            tf.tensor2d(gatherRows(params.users, us, R), [us.length, R]),
            tf.tensor2d(gatherRows(params.items, is, R), [is.length, R]),
          ),
        );
        out.set(y.dataSync(), start);
        y.dispose();
      }
    } finally {
      tf.dispose([...net.kernels, ...net.biases]);
    }
    return out;
  }
}
