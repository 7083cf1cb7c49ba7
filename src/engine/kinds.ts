import { autorecKind } from './autorec';
import type { Engine } from './engine';
import type { MemberKind, MemberKindName } from './member';
import { mfKind } from './mf';
import { loadNative } from './native';
import { nnmfKind } from './nnmf-member';

export type KindRegistry = ReadonlyMap<MemberKindName, MemberKind<object>>;

/**
 * The model kinds a job can train, or a server can load. NNMF trains and serves on `engine`
 * (the native kernel or TF.js). MF and I-AutoRec train only in the native kernel, so a job on
 * the TF.js engine (ENGINE=tfjs, or no kernel built) trains NNMF alone; their checkpoints load
 * and serve everywhere (a portable scorer stands in for the kernel).
 */
export function memberKinds(engine: Engine, purpose: 'train' | 'serve' = 'train'): KindRegistry {
  const kinds = new Map<MemberKindName, MemberKind<object>>();
  kinds.set('nnmf', nnmfKind(engine));
  if (purpose === 'serve' || (engine.name === 'native' && loadNative())) {
    kinds.set('mf', mfKind);
    kinds.set('autorec', autorecKind);
  }
  return kinds;
}
