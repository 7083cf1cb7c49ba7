import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  logLevel: string;
  apiKeys: string[];
  ratingMin: number;
  ratingMax: number;
  bodyLimitBytes: number;
  importLimitBytes: number;
  /** Whole-request receive limit (Node's requestTimeout). */
  requestTimeoutMs: number;
  /** Longest pause between two pieces of a request body. */
  bodyTimeoutMs: number;
  /** Most bytes of an oversized or refused body read and dropped so the client receives the answer. */
  bodyDiscardBytes: number;
  maxBatch: number;
  engine: 'auto' | 'native' | 'tfjs';
  engineThreads: number;
  retrainIntervalMs: number | null;
  trustProxy: boolean;
  /** Jobs queued or running at once; more are refused with 429. */
  maxQueuedJobs: number;
  /** Largest estimated training memory a job may ask for. */
  maxTrainMemoryBytes: number;
  /** A running job that reaches this wall time is stopped and failed. */
  jobTimeLimitMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`invalid ${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function intVar(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const v = Number(raw);
  if (v < min || v > max) throw new ConfigError(name, `expected ${min}..${max}, got ${v}`);
  return v;
}

function numVar(env: Env, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new ConfigError(name, `expected a finite number, got "${raw}"`);
  return v;
}

function enumVar<T extends string>(env: Env, name: string, def: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** Parses durations such as `90s`, `15m`, `1h`, `1d`; a bare number means seconds. */
export function parseDuration(raw: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms'];
  const v = Number(m[1]) * unit;
  return v > 0 ? v : null;
}

function byteSize(env: Env, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(raw.trim());
  if (!m) throw new ConfigError(name, `expected a size such as 1mb, got "${raw}"`);
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Number(m[1]) * mult;
}

function durationVar(env: Env, name: string, def: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = parseDuration(raw);
  if (v === null || v < min) throw new ConfigError(name, `expected a duration of at least ${min} ms such as 30s or 10m, got "${raw}"`);
  return v;
}

export function loadConfig(env: Env = process.env): Config {
  const ratingMin = numVar(env, 'RATING_MIN', 1);
  const ratingMax = numVar(env, 'RATING_MAX', 5);
  if (!(ratingMin < ratingMax)) throw new ConfigError('RATING_MAX', `must be greater than RATING_MIN (${ratingMin})`);
  const apiKeys = (env.API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  for (const k of apiKeys) {
    if (k.length < 16) throw new ConfigError('API_KEYS', 'every key must be at least 16 characters long');
  }
  const retrainIntervalMs = env.RETRAIN_INTERVAL ? durationVar(env, 'RETRAIN_INTERVAL', 0, 1000) : null;
  return {
    port: intVar(env, 'PORT', 8080, 0, 65535),
    host: env.HOST && env.HOST !== '' ? env.HOST : '0.0.0.0',
    dataDir: path.resolve(env.DATA_DIR && env.DATA_DIR !== '' ? env.DATA_DIR : './data'),
    logLevel: enumVar(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
    apiKeys,
    ratingMin,
    ratingMax,
    bodyLimitBytes: byteSize(env, 'BODY_LIMIT', 4 * 1024 * 1024),
    importLimitBytes: byteSize(env, 'IMPORT_LIMIT', 512 * 1024 * 1024),
    requestTimeoutMs: durationVar(env, 'REQUEST_TIMEOUT', 15 * 60_000, 1000),
    bodyTimeoutMs: durationVar(env, 'BODY_TIMEOUT', 30_000, 100),
    bodyDiscardBytes: byteSize(env, 'BODY_DISCARD_LIMIT', 128 * 1024 * 1024),
    maxBatch: intVar(env, 'MAX_BATCH', 10_000, 1, 100_000),
    engine: enumVar(env, 'ENGINE', 'auto', ['auto', 'native', 'tfjs'] as const),
    engineThreads: intVar(env, 'ENGINE_THREADS', 1, 1, 64),
    retrainIntervalMs,
    trustProxy: enumVar(env, 'TRUST_PROXY', 'false', ['true', 'false'] as const) === 'true',
    maxQueuedJobs: intVar(env, 'MAX_QUEUED_JOBS', 20, 1, 100_000),
    maxTrainMemoryBytes: byteSize(env, 'MAX_TRAIN_MEMORY', 4 * 1024 ** 3),
    jobTimeLimitMs: durationVar(env, 'JOB_TIME_LIMIT', 6 * 3_600_000, 1000),
  };
}
