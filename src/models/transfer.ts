import { AutorecMember } from '../engine/autorec';
import type { AutorecServed } from '../engine/autorec/native';
import type { EngineName } from '../engine/engine';
import { Ensemble, type Blend } from '../engine/ensemble';
import type { TrainedMember } from '../engine/member';
import { MfMember, type MfParams } from '../engine/mf';
import { NnmfMember } from '../engine/nnmf-member';
import { selectEngine } from '../engine/select';
import type { ModelParams } from '../engine/state';

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
