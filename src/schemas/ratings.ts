import { Type, type Static } from '@sinclair/typebox';
import { IMPORT_FORMATS } from '../ratings/formats';
import { ExternalId, pageQuery } from './common';

export const RatingInput = Type.Object(
  {
    userId: ExternalId('Caller-assigned user ID'),
    itemId: ExternalId('Caller-assigned item ID'),
    rating: Type.Number({ description: 'Value on the configured rating scale (default 1 to 5)' }),
    timestamp: Type.Optional(Type.Integer({ minimum: 0, description: 'Seconds since the epoch' })),
  },
  { additionalProperties: false },
);

export const RatingsBody = Type.Union([RatingInput, Type.Array(RatingInput, { minItems: 1, maxItems: 100_000 })]);

export const UpsertResponse = Type.Object({ inserted: Type.Integer(), updated: Type.Integer() });

export const ImportQuery = Type.Object({
  format: Type.Optional(
    Type.Union(
      IMPORT_FORMATS.map((f) => Type.Literal(f)),
      { default: 'auto' },
    ),
  ),
  atomic: Type.Optional(Type.Boolean({ default: false })),
});

export const ImportResponse = Type.Object({
  inserted: Type.Integer(),
  updated: Type.Integer(),
  rejected: Type.Integer(),
  format: Type.String(),
  errors: Type.Array(Type.Object({ line: Type.Integer(), reason: Type.String() })),
});

export const PageQuery = Type.Object(pageQuery(100));

export const UserRatingsResponse = Type.Object({
  userId: Type.String(),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
  ratings: Type.Array(Type.Object({ itemId: Type.String(), rating: Type.Number(), timestamp: Type.Union([Type.Integer(), Type.Null()]) })),
});

export const ItemResponse = Type.Object({
  itemId: Type.String(),
  title: Type.Union([Type.String(), Type.Null()]),
  attributes: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  hidden: Type.Boolean({ description: 'A hidden item is never recommended; its ratings still train' }),
  ratingCount: Type.Integer(),
  ratingMean: Type.Union([Type.Number(), Type.Null()]),
});

export const ItemPutBody = Type.Object(
  {
    title: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
    attributes: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
    hidden: Type.Optional(
      Type.Boolean({ description: 'Hide the item from every recommendation list (true) or show it again (false); absent keeps it as it is' }),
    ),
  },
  { additionalProperties: false },
);

export const StatsResponse = Type.Object({ users: Type.Integer(), items: Type.Integer(), ratings: Type.Integer() });

export const RatingStatsResponse = Type.Object({
  ratings: Type.Integer({ description: 'Ratings stored now' }),
  binWidth: Type.Number({ description: 'Width of the histogram bins on the rating scale (0.5: half stars)' }),
  histogram: Type.Array(
    Type.Object({
      rating: Type.Number({ description: "The bin's centre: ratings within a quarter of it count here" }),
      count: Type.Integer(),
    }),
    { description: 'Stored ratings per bin, lowest first; bins holding no rating are left out' },
  ),
  activeModel: Type.Union(
    [
      Type.Object({
        modelId: Type.String(),
        createdAt: Type.String(),
        ratingsAtTraining: Type.Union([Type.Integer(), Type.Null()], {
          description: "Ratings in the model's training snapshot (all buckets); null for models that did not record it",
        }),
        ratingsAdded: Type.Union([Type.Integer(), Type.Null()], {
          description: 'Ratings stored now minus ratings in the snapshot: the net change since the model was trained (negative after deletions)',
        }),
        writesSince: Type.Integer({ description: 'Writes committed since the snapshot (each request, import batch or deletion counts once)' }),
      }),
      Type.Null(),
    ],
    { description: 'How far the store has moved on since the active model was trained; null before any model is active' },
  ),
});

export type ItemPutBodyT = Static<typeof ItemPutBody>;
