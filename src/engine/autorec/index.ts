import type { MemberKind } from '../member';
import { loadAutorecMember } from './member';
import { AUTOREC_DEFAULTS, resolveAutorec, type AutorecSettings } from './settings';
import { trainAutorec } from './train';

export type { AutorecSettings } from './settings';
export { AutorecMember } from './member';

/** I-AutoRec (Sedhain et al. 2015) as a member kind of an ensemble. */
export const autorecKind: MemberKind<AutorecSettings> = {
  kind: 'autorec',
  defaults: AUTOREC_DEFAULTS,
  resolve: resolveAutorec,
  train: trainAutorec,
  load: loadAutorecMember,
};
