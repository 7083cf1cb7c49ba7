import { AutorecMember } from '../engine/autorec';
import type { CheckpointMeta } from '../engine/checkpoint';
import type { AutorecServed } from '../engine/autorec/native';
import type { EngineName } from '../engine/engine';
import { Ensemble, type Blend } from '../engine/ensemble';
import type { TrainedMember } from '../engine/member';
import { MfMember, type MfParams } from '../engine/mf';
import { NnmfMember } from '../engine/nnmf-member';
import { popularOrder, Predictor } from '../engine/predictor';
import { selectEngine } from '../engine/select';
import type { ModelParams } from '../engine/state';
import type { RatingSummary } from '../engine/summary';

/** One member's parameters as they cross between threads: plain objects of typed arrays. */
export type PackedMember =
  | { kind: 'nnmf'; settings: Record<string, unknown>; params: ModelParams }
  | { kind: 'mf'; settings: Record<string, unknown>; params: MfParams }
  | { kind: 'autorec'; settings: Record<string, unknown>; params: AutorecServed };

export interface PackedEnsemble {
  members: PackedMember[];
  blend: Blend;
  scale: { min: number; max: number };
}

function packMember(m: TrainedMember): PackedMember {
  if (m instanceof NnmfMember) return { kind: 'nnmf', settings: m.settings, params: m.params };
  if (m instanceof MfMember) return { kind: 'mf', settings: m.settings, params: m.params };
  if (m instanceof AutorecMember) return { kind: 'autorec', settings: m.settings, params: m.served };
  throw new Error(`a ${m.kind} member cannot be handed to another thread`);
}

/**
 * A trained ensemble as a message, with the ArrayBuffers that hold its parameters: posted with
 * them as its transfer list, the weights change threads without a copy (and the sender can no
 * longer use them).
 */
export function packEnsemble(model: Ensemble, scale: { min: number; max: number }): { packed: PackedEnsemble; transfer: ArrayBuffer[] } {
  const members = model.members.map(packMember);
  const buffers = new Set<ArrayBuffer>();
  for (const m of members) {
    for (const v of Object.values(m.params)) {
      if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) buffers.add(v.buffer);
    }
  }
  return { packed: { members, blend: model.blend, scale }, transfer: [...buffers] };
}

/** The ensemble again, on the receiving thread; NNMF members score on `engine` (the one they trained on). */
export function unpackEnsemble(p: PackedEnsemble, engine: EngineName): Ensemble {
  const members = p.members.map((m): TrainedMember => {
    switch (m.kind) {
      case 'nnmf':
        return new NnmfMember(m.params, m.settings, selectEngine(engine));
      case 'mf':
        return new MfMember(m.params, m.settings);
      case 'autorec':
        return new AutorecMember(m.params, m.settings);
    }
  });
  return new Ensemble(members, p.blend, p.scale);
}

/**
 * An ID vocabulary as it crosses threads: one string with the IDs joined by NUL (which no
 * stored ID contains), received in one piece instead of as 160K strings cloned one by one.
 */
export type PackedIds = { joined: string; count: number } | { list: string[] };

const SEP = '\u0000';

export function packIds(ids: readonly string[]): PackedIds {
  if (ids.some((id) => id.includes(SEP))) return { list: [...ids] };
  return { joined: ids.join(SEP), count: ids.length };
}

/** Rows handled between two yields to the event loop while an index is rebuilt. */
const SLICE = 8192;
const yieldNow = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The IDs and their index (ID → row), built in slices that yield to the event loop. */
export async function unpackIds(p: PackedIds): Promise<{ ids: string[]; index: Map<string, number> }> {
  const index = new Map<string, number>();
  if ('list' in p) {
    for (let k = 0; k < p.list.length; k++) {
      index.set(p.list[k], k);
      if (k % SLICE === SLICE - 1) await yieldNow();
    }
    return { ids: p.list, index };
  }
  const ids = new Array<string>(p.count);
  let at = 0;
  for (let k = 0; k < p.count; k++) {
    let end = p.joined.indexOf(SEP, at);
    if (end < 0) end = p.joined.length;
    const id = p.joined.slice(at, end);
    ids[k] = id;
    index.set(id, k);
    at = end + 1;
    if (k % SLICE === SLICE - 1) await yieldNow();
  }
  return { ids, index };
}

/** A rating summary's per-user and per-item columns as transferable arrays. */
export interface PackedSummary {
  globalMean: number;
  userMean: Float64Array;
  itemMean: Float64Array;
  itemCount: Float64Array;
}

export function packSummary(s: RatingSummary): { packed: PackedSummary; transfer: ArrayBuffer[] } {
  const packed = {
    globalMean: s.globalMean,
    userMean: Float64Array.from(s.userMean),
    itemMean: Float64Array.from(s.itemMean),
    itemCount: Float64Array.from(s.itemCount),
  };
  return { packed, transfer: [packed.userMean.buffer, packed.itemMean.buffer, packed.itemCount.buffer] };
}

export function unpackSummary(p: PackedSummary): RatingSummary {
  return { globalMean: p.globalMean, userMean: Array.from(p.userMean), itemMean: Array.from(p.itemMean), itemCount: Array.from(p.itemCount) };
}

/** A trained model ready to serve, as one message: its checkpoint's meta, weights, vocabularies and popular items. */
export interface PackedModel {
  modelId: string;
  meta: Omit<CheckpointMeta, 'userIds' | 'itemIds' | 'summary'>;
  ensemble: PackedEnsemble;
  userIds: PackedIds;
  itemIds: PackedIds;
  summary: PackedSummary;
  popular: Int32Array;
}

/** Packs a model for the thread that will serve it; after posting with `transfer`, the sender can no longer use its weights. */
export function packModel(modelId: string, meta: CheckpointMeta, model: Ensemble): { packed: PackedModel; transfer: ArrayBuffer[] } {
  const { userIds, itemIds, summary, ...rest } = meta;
  const ensemble = packEnsemble(model, meta.scale);
  const s = packSummary(summary);
  const popular = popularOrder(summary);
  return {
    packed: { modelId, meta: rest, ensemble: ensemble.packed, userIds: packIds(userIds), itemIds: packIds(itemIds), summary: s.packed, popular },
    transfer: [...ensemble.transfer, ...s.transfer, popular.buffer as ArrayBuffer],
  };
}

/**
 * The predictor over a packed model, built on the receiving thread without reading or hashing a
 * file: the weights are used where they arrived, the ID indexes are built in slices that yield
 * to the event loop, and the popular order comes ready. Only the members' serving set-up
 * (Ensemble.prepare) runs in one piece. NNMF members score on `engine`: by default the one they
 * trained on (a job's model), the server's own for a checkpoint it loaded.
 */
export async function predictorFrom(p: PackedModel, engine: EngineName = p.meta.engine as EngineName): Promise<Predictor> {
  const users = await unpackIds(p.userIds);
  const items = await unpackIds(p.itemIds);
  const meta: CheckpointMeta = { ...p.meta, userIds: users.ids, itemIds: items.ids, summary: unpackSummary(p.summary) };
  await yieldNow();
  return new Predictor(p.modelId, meta, unpackEnsemble(p.ensemble, engine), {
    users: users.index,
    items: items.index,
    popular: p.popular,
  });
}
