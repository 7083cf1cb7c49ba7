import type { Engine, EngineName } from '../engine/engine';
import { resolveJobSettings, type JobSettings } from '../engine/job-settings';
import { memberKinds, type KindRegistry } from '../engine/kinds';
import { selectEngine } from '../engine/select';

/** A job's engine for NNMF, the model kinds it makes available, and the job's checked settings. */
export function resolveJob(
  params: Record<string, unknown>,
  defaultEngine: 'auto' | EngineName,
  maxThreads: number,
): { engine: Engine; kinds: KindRegistry; settings: JobSettings } {
  const engine = selectEngine((params.engine as 'auto' | EngineName | undefined) ?? defaultEngine);
  const kinds = memberKinds(engine);
  return { engine, kinds, settings: resolveJobSettings(params, kinds, maxThreads) };
}
