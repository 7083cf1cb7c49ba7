import type { Engine } from './engine';
import type { MemberKind, MemberKindName } from './member';
import { nnmfKind } from './nnmf-member';

export type KindRegistry = ReadonlyMap<MemberKindName, MemberKind<object>>;

/** Every model kind this installation can train and load; NNMF runs on `engine`. */
export function memberKinds(engine: Engine): KindRegistry {
  const kinds = new Map<MemberKindName, MemberKind<object>>();
  kinds.set('nnmf', nnmfKind(engine) as unknown as MemberKind<object>);
  return kinds;
}
