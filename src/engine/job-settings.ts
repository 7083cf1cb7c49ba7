import { DEFAULT_BUCKETS, type BucketScheme } from './buckets';
import { EngineUnavailableError, type EngineName } from './engine';
import type { KindRegistry } from './kinds';
import { MEMBER_KINDS, type MemberKindName } from './member';
import { effectiveNetworks, NNMF_SETTINGS, type TrainParams } from './params';
import { ParamError, settingValue, type SettingsTable } from './settings-table';

export const MODEL_CHOICES = ['ensemble', ...MEMBER_KINDS] as const;
export type ModelChoice = (typeof MODEL_CHOICES)[number];

/** The members of the default ensemble, in training order (the cheap ones first). */
export const ENSEMBLE_KINDS: readonly MemberKindName[] = ['mf', 'autorec', 'nnmf'];

/** Settings that every member takes from the top level of a job's params unless its own object says otherwise. */
export const SHARED_MEMBER_SETTINGS = ['seed', 'maxEpochs', 'patience'] as const;
const JOB_SETTINGS = ['model', 'engine', 'validationFraction', 'evaluationFraction', 'threads', ...SHARED_MEMBER_SETTINGS] as const;

export interface JobSettings {
  model: ModelChoice;
  engine: 'auto' | EngineName;
  buckets: BucketScheme;
  /** Native kernel threads, at most the operator's limit. */
  threads: number;
  members: { kind: MemberKindName; settings: object }[];
}

/** The settings of the job itself, beside the members' own. */
export interface JobLevelSettings {
  /** Undefined (absent) means the server's ENGINE. */
  engine: 'auto' | EngineName | undefined;
  validationFraction: number;
  evaluationFraction: number;
  /** Undefined (absent) means the operator's ENGINE_THREADS. */
  threads: number | undefined;
}

export const JOB_LEVEL_SETTINGS: SettingsTable<JobLevelSettings> = {
  engine: {
    type: 'enum',
    values: ['auto', 'native', 'tfjs'],
    default: undefined,
    description: "Engine of the NNMF member: native, tfjs, or auto (native when the kernel is built); the server's ENGINE when absent",
  },
  validationFraction: {
    type: 'number',
    min: 0.001,
    max: 0.5,
    default: DEFAULT_BUCKETS.validation,
    description: 'Share of ratings in the validation bucket (early stopping, blend weights); with evaluationFraction at most 0.5',
  },
  evaluationFraction: {
    type: 'number',
    min: 0,
    max: 0.5,
    default: DEFAULT_BUCKETS.evaluation,
    description: 'Share of ratings in the evaluation bucket, never trained on: reports and the promotion gate',
  },
  threads: {
    type: 'integer',
    min: 1,
    default: undefined,
    description: "Native kernel threads of the job; never more than the server's ENGINE_THREADS (the default)",
  },
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a job's params: `model` (default `ensemble`), the held-out buckets, threads, settings
 * shared by every member (seed, maxEpochs, patience), one object of settings per kind
 * (`nnmf`, `mf`, `autorec`), and NNMF's settings also at the top level (as before ensembles).
 * Every value is checked now, so that a bad request is refused before it is queued.
 */
export function resolveJobSettings(given: Record<string, unknown>, kinds: KindRegistry, maxThreads: number): JobSettings {
  const model = (given.model ?? 'ensemble') as ModelChoice;
  if (!MODEL_CHOICES.includes(model)) throw new ParamError(`model must be one of ${MODEL_CHOICES.join(', ')}`);
  const what = 'training parameter';
  const engine = settingValue(JOB_LEVEL_SETTINGS, given, 'engine', what) ?? 'auto';
  const validation = settingValue(JOB_LEVEL_SETTINGS, given, 'validationFraction', what);
  const evaluation = settingValue(JOB_LEVEL_SETTINGS, given, 'evaluationFraction', what);
  if (validation + evaluation > 0.5) throw new ParamError('validationFraction + evaluationFraction must be at most 0.5');
  // The operator's ENGINE_THREADS is a ceiling: a request may use fewer threads, never more.
  const threads = Math.min(settingValue(JOB_LEVEL_SETTINGS, given, 'threads', what) ?? maxThreads, maxThreads);

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
  const nnmf = kinds.get('nnmf');
  // NNMF's top-level settings are refused when the model trains no NNMF ({"model":"autorec","hidden":300} would set nothing)...
  const nnmfOnly = Object.keys(legacyNnmf).filter(isNnmfSetting);
  if (trainsNoNnmf(model) && nnmfOnly.length > 0) throw misplacedNnmfSettings(nnmfOnly, model);
  // ... and checked whatever the model, so a typo is never silently ignored.
  if (nnmf && Object.keys(legacyNnmf).length > 0) nnmf.resolve({ ...shared, ...legacyNnmf });
  for (const k of MEMBER_KINDS) {
    if (given[k] !== undefined && !kinds.has(k))
      throw new EngineUnavailableError(`model kind ${k} is not available in this installation (the native kernel was not built)`);
  }

  let chosen: MemberKindName[];
  if (model === 'ensemble') {
    chosen = ENSEMBLE_KINDS.filter((k) => kinds.has(k));
  } else {
    if (!kinds.has(model))
      throw new EngineUnavailableError(`model kind ${model} is not available in this installation (the native kernel was not built)`);
    chosen = [model];
  }
  const members = chosen.flatMap((kind) => {
    const settings = kinds.get(kind)!.resolve(perKind(kind)) as { threads?: number };
    // A member's own thread setting is capped like the job's.
    if (typeof settings.threads === 'number' && settings.threads > threads) settings.threads = threads;
    return kind === 'nnmf' ? nnmfNetworks(settings as TrainParams, model === 'nnmf') : [{ kind, settings }];
  });
  return { model, engine, buckets: { ...DEFAULT_BUCKETS, validation, evaluation }, threads, members };
}

const isNnmfSetting = (name: string) => Object.hasOwn(NNMF_SETTINGS, name);

/** Whether `model` is one kind other than NNMF, so that a job of it has no NNMF member. */
const trainsNoNnmf = (model: unknown): model is MemberKindName => (MEMBER_KINDS as readonly unknown[]).includes(model) && model !== 'nnmf';

/** The error for NNMF's top-level settings in a job whose model (one other kind) trains no NNMF. */
export function misplacedNnmfSettings(names: string[], model: string): ParamError {
  return new ParamError(
    `training parameter ${names.join(', ')} at the top level of params is NNMF's, and model ${model} trains no NNMF; give ${model}'s settings as params.${model}, e.g. {"${model}":{"${names[0]}":…}}`,
  );
}

/**
 * The clearer error for a job body that the schema refused: when the model is one kind other
 * than NNMF and the refused values are top-level NNMF settings (`{"model":"autorec",
 * "params":{"hidden":300}}` fails as "must be array", NNMF's hidden being three widths), it
 * says where that kind's settings go; otherwise null.
 */
export function misplacedSettingsError(body: unknown, paths: string[]): ParamError | null {
  if (!isObject(body) || !trainsNoNnmf(body.model)) return null;
  const names = paths.map((p) => /^\/params\/([^/]+)/.exec(p)?.[1]);
  if (names.length === 0 || names.some((n) => n === undefined || !isNnmfSetting(n))) return null;
  return misplacedNnmfSettings([...new Set(names as string[])], body.model);
}

/**
 * NNMF's members: one per network, each with its own seed (seed, seed + 1, …) and `networks`
 * resolved, so that a checkpoint records what was trained.
 */
function nnmfNetworks(s: TrainParams, alone: boolean): { kind: MemberKindName; settings: object }[] {
  const n = effectiveNetworks(s, alone);
  return Array.from({ length: n }, (_, k) => ({
    kind: 'nnmf' as const,
    settings: { ...s, hidden: [...s.hidden], networks: n, seed: (s.seed + k) % 2 ** 31 },
  }));
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
