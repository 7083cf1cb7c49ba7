import { DEFAULT_BUCKETS, type BucketScheme } from './buckets';
import { EngineUnavailableError, type EngineName } from './engine';
import type { KindRegistry } from './kinds';
import { MEMBER_KINDS, type MemberKindName } from './member';
import { ParamError } from './params';

export const MODEL_CHOICES = ['ensemble', ...MEMBER_KINDS] as const;
export type ModelChoice = (typeof MODEL_CHOICES)[number];

/** The members of the default ensemble, in training order (the cheap ones first). */
export const ENSEMBLE_KINDS: readonly MemberKindName[] = ['mf', 'autorec', 'nnmf'];

/** Settings that every member takes from the top level of a job's params unless its own object says otherwise. */
const SHARED_MEMBER_SETTINGS = ['seed', 'maxEpochs', 'patience'] as const;
const JOB_SETTINGS = ['model', 'engine', 'validationFraction', 'evaluationFraction', 'threads', ...SHARED_MEMBER_SETTINGS] as const;

export interface JobSettings {
  model: ModelChoice;
  engine: 'auto' | EngineName;
  buckets: BucketScheme;
  /** Native kernel threads, at most the operator's limit. */
  threads: number;
  members: { kind: MemberKindName; settings: object }[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fraction(v: unknown, name: string, lo: number, hi: number, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw new ParamError(`training parameter ${name} must be a number ${lo}..${hi}`);
  return v;
}

/**
 * Reads a job's params: `model` (default `ensemble`), the held-out buckets, threads, settings
 * shared by every member (seed, maxEpochs, patience), one object of settings per kind
 * (`nnmf`, `mf`, `autorec`), and NNMF's settings also at the top level (as before ensembles).
 * Every value is checked now, so that a bad request is refused before it is queued.
 */
export function resolveJobSettings(given: Record<string, unknown>, kinds: KindRegistry, maxThreads: number): JobSettings {
  const model = (given.model ?? 'ensemble') as ModelChoice;
  if (!MODEL_CHOICES.includes(model)) throw new ParamError(`model must be one of ${MODEL_CHOICES.join(', ')}`);
  const engine = (given.engine ?? 'auto') as JobSettings['engine'];
  if (!['auto', 'native', 'tfjs'].includes(engine)) throw new ParamError('engine must be auto, native or tfjs');
  const validation = fraction(given.validationFraction, 'validationFraction', 0.001, 0.5, DEFAULT_BUCKETS.validation);
  const evaluation = fraction(given.evaluationFraction, 'evaluationFraction', 0, 0.5, DEFAULT_BUCKETS.evaluation);
  if (validation + evaluation > 0.5) throw new ParamError('validationFraction + evaluationFraction must be at most 0.5');
  let threads = maxThreads;
  if (given.threads !== undefined) {
    if (!Number.isInteger(given.threads) || (given.threads as number) < 1) throw new ParamError('training parameter threads must be an integer ≥ 1');
    // The operator's ENGINE_THREADS is a ceiling: a request may use fewer threads, never more.
    threads = Math.min(given.threads as number, maxThreads);
  }

  const shared: Record<string, unknown> = {};
  for (const k of SHARED_MEMBER_SETTINGS) if (given[k] !== undefined) shared[k] = given[k];
  const legacyNnmf: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(given)) {
    if ((JOB_SETTINGS as readonly string[]).includes(k) || (MEMBER_KINDS as readonly string[]).includes(k)) continue;
    legacyNnmf[k] = v;
  }
  const perKind = (kind: MemberKindName): Record<string, unknown> => {
    const own = given[kind];
    if (own !== undefined && !isObject(own)) throw new ParamError(`training parameter ${kind} must be an object of ${kind} settings`);
    return { ...shared, ...(kind === 'nnmf' ? legacyNnmf : {}), ...(own ?? {}) };
  };
  // NNMF's top-level settings are checked whatever the model, so a typo is never silently ignored.
  const nnmf = kinds.get('nnmf');
  if (nnmf && Object.keys(legacyNnmf).length > 0) nnmf.resolve({ ...shared, ...legacyNnmf });
  for (const k of MEMBER_KINDS) {
    if (given[k] !== undefined && !kinds.has(k)) throw new EngineUnavailableError(`model kind ${k} is not available in this installation (the native kernel was not built)`);
  }

  let chosen: MemberKindName[];
  if (model === 'ensemble') {
    chosen = ENSEMBLE_KINDS.filter((k) => kinds.has(k));
  } else {
    if (!kinds.has(model)) throw new EngineUnavailableError(`model kind ${model} is not available in this installation (the native kernel was not built)`);
    chosen = [model];
  }
  const members = chosen.map((kind) => {
    const settings = kinds.get(kind)!.resolve(perKind(kind)) as { threads?: number };
    // A member's own thread setting is capped like the job's.
    if (typeof settings.threads === 'number' && settings.threads > threads) settings.threads = threads;
    return { kind, settings: settings };
  });
  return { model, engine, buckets: { ...DEFAULT_BUCKETS, validation, evaluation }, threads, members };
}

/** How much data a job will train on: what its memory needs scale with. */
export interface DataShape {
  ratings: number;
  users: number;
  items: number;
}

/**
 * A conservative estimate of a job's peak memory: the ratings in their several forms, every
 * member's parameters (all kept until the blend is built), and the largest member's training
 * state (optimiser slots, best and averaged copies, gradients). Checked at POST /jobs so that a
 * request within each setting's bounds cannot still take the machine's memory.
 */
export function estimateTrainingBytes(settings: JobSettings, shape: DataShape): number {
  const F = 4;
  // Snapshot and dataset arrays, the buckets and the shuffled order of one epoch.
  const data = shape.ratings * 36;
  let kept = 0;
  let working = 0;
  for (const m of settings.members) {
    const s = m.settings as Record<string, unknown>;
    let params: number;
    if (m.kind === 'nnmf') params = (shape.users + shape.items) * ((s.d as number) + (s.dp as number) + 1) * F;
    else if (m.kind === 'mf') params = (shape.users + shape.items) * (((s.k as number | undefined) ?? 64) + 1) * F;
    else params = (2 * shape.users + shape.items) * ((s.hidden as number | undefined) ?? 500) * F;
    kept += params;
    working = Math.max(working, 5 * params);
  }
  return data + kept + working;
}

export function formatBytes(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GB` : `${Math.ceil(n / 1024 ** 2)} MB`;
}
