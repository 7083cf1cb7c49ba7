import type { MemberKind } from '../member';
import { loadMfLayers } from './layers';
import { MfMember } from './model';
import { MF_DEFAULTS, resolveMfSettings, type MfSettings } from './params';
import { trainMf } from './train';

/** Biased matrix factorisation: mean + b_u + b_i + p_u·q_i, trained by the native kernel. */
export const mfKind: MemberKind<MfSettings> = {
  kind: 'mf',
  defaults: MF_DEFAULTS,
  resolve: resolveMfSettings,
  train: trainMf,
  async load(dir, settings, dims) {
    const s = resolveMfSettings(settings);
    return new MfMember(await loadMfLayers(dir, dims, s.k), { ...s });
  },
};

export type { MfSettings } from './params';
export { MfMember, type MfParams } from './model';
