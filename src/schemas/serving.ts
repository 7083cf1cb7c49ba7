import { Type } from '@sinclair/typebox';
import { AUTOREC_SETTINGS } from '../engine/autorec/settings';
import { JOB_LEVEL_SETTINGS, MODEL_CHOICES, SHARED_MEMBER_SETTINGS } from '../engine/job-settings';
import { MF_SETTINGS } from '../engine/mf/params';
import { NNMF_SETTINGS } from '../engine/params';
import { JOB_STATUSES } from '../jobs/jobs-repository';
import { ExternalId, pageQuery } from './common';
import { settingProperties, settingSchema, settingsObject } from './settings';

const Nullable = <T extends import('@sinclair/typebox').TSchema>(t: T) => Type.Union([t, Type.Null()]);
const FreeObject = Type.Object({}, { additionalProperties: true });

const KIND_SETTINGS = { nnmf: NNMF_SETTINGS, mf: MF_SETTINGS, autorec: AUTOREC_SETTINGS } as const;

/** seed, maxEpochs, patience at the top level: every member's, each with its own default. */
const sharedSettings = Object.fromEntries(
  SHARED_MEMBER_SETTINGS.map((name) => {
    const defaults = Object.entries(KIND_SETTINGS).map(([kind, table]) => `${kind} ${String(table[name].default)}`);
    const description = `${NNMF_SETTINGS[name].description}. Given here, it applies to every member whose own object does not set it; default per kind: ${defaults.join(', ')}`;
    return [name, Type.Optional(settingSchema({ ...NNMF_SETTINGS[name], default: undefined }, description))];
  }),
);

/** NNMF's own settings, also taken at the top level (as before ensembles). */
const topLevelNnmf = Object.fromEntries(
  Object.entries(settingProperties(NNMF_SETTINGS, [...SHARED_MEMBER_SETTINGS, ...Object.keys(JOB_LEVEL_SETTINGS)])).map(([name, schema]) => [
    name,
    { ...schema, description: `NNMF member: ${schema.description}` },
  ]),
);

/** A job's training settings: generated from the engine's settings tables, with their ranges, defaults and meanings. */
export const TrainSettings = Type.Object(
  {
    ...settingProperties(JOB_LEVEL_SETTINGS),
    ...sharedSettings,
    ...topLevelNnmf,
    nnmf: Type.Optional(settingsObject(NNMF_SETTINGS, 'NNMF settings (also accepted at the top level)')),
    mf: Type.Optional(settingsObject(MF_SETTINGS, 'Biased matrix factorisation settings')),
    autorec: Type.Optional(settingsObject(AUTOREC_SETTINGS, 'I-AutoRec settings')),
  },
  { additionalProperties: false },
);

export const ModelChoiceSchema = Type.Union(
  MODEL_CHOICES.map((m) => Type.Literal(m)),
  {
    description: 'What to train: an ensemble of every available kind (default), or one kind alone',
  },
);

export const JobCreateBody = Type.Object(
  { type: Type.Literal('train'), model: Type.Optional(ModelChoiceSchema), params: Type.Optional(TrainSettings) },
  { additionalProperties: false },
);

/** RMSE and MAE of clipped predictions. */
const ScoreSchema = Type.Object({ rmse: Type.Number(), mae: Type.Number() });

/** A job's figures on the evaluation bucket (ratings no model trained or was selected on). */
const EvaluationReportSchema = Type.Object(
  {
    count: Type.Integer({ description: 'Ratings in the evaluation bucket' }),
    baselines: Type.Object(
      { globalMean: ScoreSchema, bias: ScoreSchema },
      { description: 'The global mean, and global mean plus user and item biases' },
    ),
    members: Type.Record(Type.String(), ScoreSchema, {
      description: "Each member alone, by kind ('nnmf', 'mf', 'autorec'); NNMF's second and later networks as 'nnmf-2', 'nnmf-3', …",
    }),
    blend: ScoreSchema,
  },
  { description: 'Every model of the job and the baselines on the evaluation bucket, clipped as served' },
);

/** The promotion gate's decision. Decisions recorded before the evaluation bucket existed have heldOutCount in place of evaluationCount and no fair. */
const PromotionDecisionSchema = Type.Object(
  {
    activated: Type.Boolean(),
    reason: Type.String(),
    evaluationCount: Type.Optional(Type.Integer({ description: 'Ratings of the evaluation bucket both models were judged on' })),
    newModelRmse: Nullable(Type.Number()),
    activeModelId: Nullable(Type.String()),
    activeModelRmse: Nullable(Type.Number()),
    fair: Type.Optional(Type.Boolean({ description: 'Whether the figures are comparable: neither model trained on the evaluation ratings' })),
  },
  { additionalProperties: true, description: 'Whether the new model replaced the active one, and the figures it was decided on' },
);

const MemberSummarySchema = Type.Object({
  kind: Type.String(),
  label: Type.Optional(
    Type.String({ description: "The member's name in reports: its kind, or 'nnmf-2', … for NNMF's later networks (absent in older records)" }),
  ),
  epochs: Type.Integer(),
  bestEpoch: Type.Integer(),
  validationRmse: Nullable(Type.Number()),
  seconds: Type.Number(),
});

/** A model's figures as its job recorded them; older models may lack some (and have others). */
const ModelMetricsSchema = Type.Object(
  {
    evaluationRmse: Type.Optional(Nullable(Type.Number())),
    evaluationMae: Type.Optional(Nullable(Type.Number())),
    evaluation: Type.Optional(Nullable(EvaluationReportSchema)),
    counts: Type.Optional(
      Type.Object({ train: Type.Integer(), validation: Type.Integer(), evaluation: Type.Integer(), users: Type.Integer(), items: Type.Integer() }),
    ),
    trainSeconds: Type.Optional(Type.Number()),
    members: Type.Optional(Type.Array(MemberSummarySchema)),
  },
  { additionalProperties: true },
);

export const JobCreated = Type.Object({ id: Type.String(), status: Type.Literal('queued') });

export const JobSchema = Type.Object({
  id: Type.String(),
  type: Type.Literal('train'),
  status: Type.Union(JOB_STATUSES.map((s) => Type.Literal(s))),
  params: FreeObject,
  progress: Nullable(
    Type.Object({
      phase: Type.String(),
      epoch: Type.Integer(),
      maxEpochs: Type.Integer(),
      trainLoss: Nullable(Type.Number()),
      validationRmse: Nullable(Type.Number()),
      history: Type.Array(
        Type.Object({
          member: Type.Optional(Type.String()),
          epoch: Type.Integer(),
          trainRmse: Type.Number(),
          validationRmse: Type.Number(),
          seconds: Type.Number(),
        }),
      ),
      members: Type.Optional(Type.Array(MemberSummarySchema)),
      elapsedSeconds: Type.Number(),
      etaSeconds: Nullable(Type.Number()),
    }),
  ),
  modelId: Nullable(Type.String()),
  error: Nullable(Type.String()),
  decision: Nullable(PromotionDecisionSchema),
  report: Type.Optional(Nullable(EvaluationReportSchema)),
  trigger: Type.String(),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
});

export const JobListQuery = Type.Object({
  status: Type.Optional(Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)))),
  ...pageQuery(50),
});

export const ModelListQuery = Type.Object(pageQuery(50));

export const JobList = Type.Object({ jobs: Type.Array(JobSchema) });

export const ModelSchema = Type.Object({
  id: Type.String(),
  jobId: Nullable(Type.String()),
  createdAt: Type.String(),
  kind: Type.String(),
  engine: Type.String(),
  params: FreeObject,
  metrics: ModelMetricsSchema,
  fingerprint: Type.String(),
  dataVersion: Type.Integer(),
  active: Type.Boolean(),
  broken: Nullable(Type.String({ description: 'Why the checkpoint cannot be loaded (files missing, truncated or altered); null when it loads' })),
});

export const ModelList = Type.Object({ models: Type.Array(ModelSchema) });

const Pair = Type.Object({ userId: ExternalId('User ID'), itemId: ExternalId('Item ID') }, { additionalProperties: false });

export const PredictBody = Type.Union([
  Pair,
  Type.Object({ pairs: Type.Array(Pair, { minItems: 1, maxItems: 100_000 }) }, { additionalProperties: false }),
]);

// A type list rather than anyOf: fast-json-stringify serialises anyOf by validating each branch per value.
export const FallbackSchema = Type.Unsafe<'item_mean' | 'user_mean' | 'global_mean' | 'popular' | null>({
  type: ['string', 'null'],
  enum: ['item_mean', 'user_mean', 'global_mean', 'popular', null],
  description: 'null for a model prediction; otherwise how the value was obtained for an ID the model does not know',
});

export const SourceSchema = Type.Union([Type.Literal('trained'), Type.Literal('foldin'), Type.Literal('fallback')], {
  description:
    "How it was made: 'trained' from the user's row learned in training, 'foldin' from a row fitted to the user's current ratings with the model frozen (a user the model does not know, or whose ratings changed since it was trained) or from an item's row fitted to its ratings (an item the model does not know), 'fallback' without a personal row (see fallback)",
});

export const PredictResponse = Type.Object({
  modelId: Type.String(),
  predictions: Type.Array(
    Type.Object({ userId: Type.String(), itemId: Type.String(), rating: Type.Number(), fallback: FallbackSchema, source: SourceSchema }),
  ),
});

export const ScoredItems = Type.Array(
  Type.Object({
    itemId: Type.String(),
    score: Type.Number(),
    source: Type.Optional(
      Type.Union([Type.Literal('foldin'), Type.Literal('fallback')], {
        description:
          "Present for an item the model does not know: 'foldin' when it was scored from a row fitted to its current ratings, 'fallback' when it could not be (listed at the global mean)",
      }),
    ),
  }),
);

const FilterParam = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 2000,
    description:
      'Only items whose attributes match, applied before ranking: attribute:value[,value…] (any of the values; a list attribute matches when it holds one), several conditions joined by ";" must all hold. Example: genre:Comedy,Drama',
  }),
);

export const RecommendQuery = Type.Object({
  n: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })),
  filter: FilterParam,
  exclude: Type.Optional(Type.String({ maxLength: 100_000, description: 'Comma-separated item IDs to leave out' })),
  excludeRated: Type.Optional(Type.Boolean({ default: true })),
});

export const RerankBody = Type.Object(
  {
    candidates: Type.Array(ExternalId('Item ID'), { minItems: 1, maxItems: 10_000 }),
    n: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    excludeRated: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);

export const RecommendResponse = Type.Object({
  modelId: Type.String(),
  userId: Type.String(),
  items: ScoredItems,
  fallback: FallbackSchema,
  source: SourceSchema,
});

export const SimilarQuery = Type.Object({ n: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })), filter: FilterParam });

export const SimilarResponse = Type.Object({ modelId: Type.String(), itemId: Type.String(), items: ScoredItems });
