import type { ServingNet } from '../engine';
import { readLayersModel, writeLayersModel } from '../layers-io';
import { MemberBase, type MemberDims, type TrainedMember } from '../member';
import { loadTf } from '../tf';
import { buildAutorecLayers, servedFromLayers } from './layers';
import { loadAutorecNative, type AutorecServed } from './native';
import { resolveAutorec, type AutorecSettings } from './settings';

/** Scoring in plain JavaScript, for a checkpoint served where the addon was not built. */
export function jsServing(s: AutorecServed): ServingNet {
  const H = s.hidden;
  const one = (u: number, i: number) => {
    let t = s.c[u];
    for (let k = 0, a = u * H, b = i * H; k < H; k++) t += s.V[a + k] * s.codes[b + k];
    return t;
  };
  return {
    score(u, i, n, out) {
      for (let k = 0; k < n; k++) out[k] = one(u[k], i[k]);
    },
    async scoreUser(u, items, n, out) {
      for (let k = 0; k < n; k++) out[k] = one(u, items[k]);
    },
    async scoreAll(u, out) {
      for (let i = 0; i < s.nItems; i++) out[i] = one(u, i);
    },
  };
}

/**
 * A trained I-AutoRec member. It holds what scoring needs: the decoder and each item's code
 * h_i, computed once from the item's training ratings (so it serves without the dataset, and a
 * held-out rating never feeds its own prediction).
 */
export class AutorecMember extends MemberBase implements TrainedMember {
  readonly kind = 'autorec' as const;

  constructor(
    readonly served: AutorecServed,
    settings: Record<string, unknown>,
  ) {
    super(served, settings);
  }

  predict(u: Int32Array, i: Int32Array): Float32Array {
    const addon = loadAutorecNative();
    if (addon) return addon.autorecPredict(this.served, u, i);
    const out = new Float32Array(u.length);
    jsServing(this.served).score(u, i, u.length, out);
    return out;
  }

  prepare(): ServingNet {
    const addon = loadAutorecNative();
    return addon ? new addon.AutorecServing(this.served) : jsServing(this.served);
  }

  itemEmbedding(): { dim: number; data: Float32Array } {
    return { dim: this.served.hidden, data: this.served.codes };
  }

  async save(dir: string): Promise<void> {
    const tf = loadTf();
    const model = buildAutorecLayers(tf, this.served);
    try {
      await writeLayersModel(tf, model, dir);
    } finally {
      model.dispose();
    }
  }
}

/** Reads what AutorecMember.save wrote. */
export async function loadAutorecMember(dir: string, settings: Record<string, unknown>, dims: MemberDims): Promise<AutorecMember> {
  const resolved: AutorecSettings = resolveAutorec(settings);
  const tf = loadTf();
  const model = await readLayersModel(tf, dir);
  try {
    return new AutorecMember(servedFromLayers(model, dims, resolved.hidden), { ...resolved });
  } finally {
    model.dispose();
  }
}
