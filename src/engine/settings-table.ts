import { CodedError } from './coded-error';

/** A training setting out of its range, unknown, or inconsistent with the others. */
export class ParamError extends CodedError {
  readonly code = 'RECO_ERR_VALIDATION';
}

/** What a setting takes: the range the checks apply and the API schema states. */
export type SettingRange =
  | { type: 'integer'; min: number; max?: number; note?: string; auto?: true }
  | { type: 'number'; min: number; max: number; note?: string; auto?: true }
  | { type: 'boolean' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'integers'; count: number; min: number; max: number };

/** One training setting: its meaning, its range and its default. */
export type Setting<T = unknown> = SettingRange & { description: string; default: T };

/**
 * The one declaration of a settings object: the checks at POST /jobs, the error messages,
 * the defaults and the API schema (src/schemas/settings.ts) all come from it.
 */
export type SettingsTable<S> = { readonly [K in keyof S]-?: Setting<S[K]> };

const inRange = (v: unknown, lo: number, hi = Infinity) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi;

/** Whether `v` is a value the setting takes. */
export function accepts(s: SettingRange, v: unknown): boolean {
  switch (s.type) {
    case 'integer':
      return (s.auto === true && v === 'auto') || (Number.isInteger(v) && inRange(v, s.min, s.max));
    case 'number':
      return (s.auto === true && v === 'auto') || inRange(v, s.min, s.max);
    case 'boolean':
      return typeof v === 'boolean';
    case 'enum':
      return s.values.includes(v as string);
    case 'integers':
      return Array.isArray(v) && v.length === s.count && v.every((x) => Number.isInteger(x) && inRange(x, s.min, s.max));
  }
}

const quoted = (values: readonly string[]) => {
  const q = values.map((v) => `"${v}"`);
  return q.length > 1 ? `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}` : q.join('');
};

/** The values a setting takes, in words: "an integer 1..64", "\"adam\" or \"rmsprop\"". */
export function rangeText(s: SettingRange): string {
  const note = 'note' in s && s.note ? ` (${s.note})` : '';
  switch (s.type) {
    case 'integer':
      return `${s.auto ? '"auto" or ' : ''}an integer ${s.max === undefined ? `≥ ${s.min}` : `${s.min}..${s.max}`}${note}`;
    case 'number':
      return `${s.auto ? '"auto" or ' : ''}a number ${s.min}..${s.max}${note}`;
    case 'boolean':
      return 'a boolean';
    case 'enum':
      return quoted(s.values);
    case 'integers':
      return `${s.count} integers ${s.min}..${s.max}`;
  }
}

/** The defaults of a table, as a settings object (arrays copied). */
export function defaultsOf<S>(table: SettingsTable<S>): S {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries<Setting>(table)) out[k] = Array.isArray(s.default) ? [...(s.default as unknown[])] : s.default;
  return out as S;
}

function checked<S, K extends keyof S & string>(table: SettingsTable<S>, name: K, v: unknown, what: string): S[K] {
  if (!accepts(table[name], v)) throw new ParamError(`${what} ${name} must be ${rangeText(table[name])}`);
  return v as S[K];
}

/** `given[name]` checked against its setting, or the setting's default when it is absent. */
export function settingValue<S, K extends keyof S & string>(table: SettingsTable<S>, given: Record<string, unknown>, name: K, what: string): S[K] {
  return given[name] === undefined ? table[name].default : checked(table, name, given[name], what);
}

/**
 * Copies `given` over `base` after checking every name and value against `table`; `what`
 * names a setting in the ParamError messages ("training parameter d must be ...").
 */
export function applySettings<S extends object>(base: S, given: Record<string, unknown>, table: SettingsTable<S>, what: string): S {
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(given)) {
    if (!Object.hasOwn(table, k)) throw new ParamError(`unknown ${what} ${k}`);
    out[k] = checked(table, k as keyof S & string, v, what);
  }
  return out as S;
}

/** The settings every model kind has: the schedule of early stopping and the seed. */
export interface ScheduleSettings {
  /** Learning rate multiplied by this after every epoch. */
  lrDecay: number;
  maxEpochs: number;
  patience: number;
  seed: number;
}

/** Settings every model kind has, each kind with its own range and default. */
export interface KindSettings extends ScheduleSettings {
  lr: number;
  batchSize: number;
  threads: number;
}

/** The ranges and meanings of the schedule settings; each kind adds its own defaults. */
export function scheduleSettings(defaults: ScheduleSettings): SettingsTable<ScheduleSettings> {
  return {
    lrDecay: { type: 'number', min: 0.01, max: 1, default: defaults.lrDecay, description: 'Learning rate multiplied by this after every epoch' },
    maxEpochs: { type: 'integer', min: 1, max: 100_000, default: defaults.maxEpochs, description: 'Most passes over the training ratings' },
    patience: {
      type: 'integer',
      min: 1,
      max: 10_000,
      default: defaults.patience,
      description: 'Epochs without a better validation RMSE before training stops (the best epoch is kept)',
    },
    seed: {
      type: 'integer',
      min: 0,
      max: 2 ** 31 - 1,
      default: defaults.seed,
      description: 'Seed of the initial weights and the epoch order: the same seed and data train the same model',
    },
  };
}
