import { autorecKind } from './autorec';
import type { Engine } from './engine';
import type { MemberKind, MemberKindName } from './member';
import { mfKind } from './mf';
import { loadNative } from './native';
import { nnmfKind } from './nnmf-member';

export type KindRegistry = ReadonlyMap<MemberKindName, MemberKind<object>>;

/**
 * Every model kind this installation can train and load. NNMF runs on `engine` (the native
 * kernel or TF.js); the other kinds exist only in the native kernel, so they are offered only
 * where it was built.
 */
export function memberKinds(engine: Engine): KindRegistry {
  const kinds = new Map<MemberKindName, MemberKind<object>>();
  kinds.set('nnmf', nnmfKind(engine) as unknown as MemberKind<object>);
  if (loadNative()) {
    kinds.set('mf', mfKind as unknown as MemberKind<object>);
    kinds.set('autorec', autorecKind as unknown as MemberKind<object>);
  }
  return kinds;
}
