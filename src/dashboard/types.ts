/**
 * The shapes of the API's JSON answers that the dashboard reads (openapi.yaml is the whole
 * contract). They restate the server's records (job reports, promotion decisions, models) as the
 * browser receives them: the page is built apart from the server code and imports none of it.
 */

export interface Stats {
  users: number;
  items: number;
  ratings: number;
}

export interface RatingStats {
  ratings: number;
  binWidth: number;
  histogram: { rating: number; count: number }[];
  activeModel: { modelId: string; createdAt: string; ratingsAtTraining: number | null; ratingsAdded: number | null; writesSince: number } | null;
}

export interface Score {
  rmse: number;
  mae: number;
}

export interface EvaluationReport {
  count: number;
  baselines: { globalMean: Score; bias: Score };
  members: Record<string, Score>;
  blend: Score;
}

export interface HistoryPoint {
  member?: string;
  epoch: number;
  trainRmse: number;
  validationRmse: number;
  seconds: number;
}

export interface Decision {
  activated: boolean;
  reason: string;
  evaluationCount: number;
  newModelRmse: number | null;
  activeModelId: string | null;
  activeModelRmse: number | null;
  fair: boolean;
}

/** The model kind a job trains (params.model, 'ensemble' when not given). */
export function jobKind(params: Record<string, unknown>): string {
  return typeof params.model === 'string' ? params.model : 'ensemble';
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Job {
  id: string;
  status: JobStatus;
  params: Record<string, unknown>;
  progress: {
    phase: string;
    epoch: number;
    maxEpochs: number;
    trainLoss: number | null;
    validationRmse: number | null;
    history: HistoryPoint[];
    members?: { kind: string; epochs: number; bestEpoch: number; validationRmse: number | null; seconds: number }[];
    elapsedSeconds: number;
    etaSeconds: number | null;
  } | null;
  modelId: string | null;
  error: string | null;
  decision: Decision | null;
  report?: EvaluationReport | null;
  trigger: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Model {
  id: string;
  jobId: string | null;
  createdAt: string;
  kind: string;
  engine: string;
  params: Record<string, unknown>;
  metrics: {
    evaluationRmse?: number | null;
    evaluationMae?: number | null;
    evaluation?: EvaluationReport | null;
    counts?: { train: number; validation: number; evaluation: number; users: number; items: number };
    trainSeconds?: number;
    members?: { kind: string; epochs: number; bestEpoch: number; validationRmse: number; seconds: number }[];
    [k: string]: unknown;
  };
  fingerprint: string;
  dataVersion: number;
  active: boolean;
  broken: string | null;
}

export interface Item {
  itemId: string;
  title: string | null;
  attributes: Record<string, unknown> | null;
  ratingCount: number;
  ratingMean: number | null;
}

export interface UserRatings {
  userId: string;
  total: number;
  limit: number;
  offset: number;
  ratings: { itemId: string; rating: number; timestamp: number | null }[];
}

/** Scored items; fields beyond itemId and score (how each was made, when the API says) are shown as they come. */
export interface Recommendations {
  modelId: string;
  userId: string;
  items: ({ itemId: string; score: number } & Record<string, unknown>)[];
  fallback: string | null;
  [k: string]: unknown;
}

export interface Predictions {
  modelId: string;
  predictions: ({ userId: string; itemId: string; rating: number; fallback: string | null } & Record<string, unknown>)[];
}

export interface ImportResult {
  inserted: number;
  updated: number;
  rejected: number;
  format: string;
  errors: { line: number; reason: string }[];
}
