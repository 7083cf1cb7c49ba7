/**
 * The shapes of the API's JSON answers that the dashboard reads, taken from the types that
 * openapi-typescript generates from openapi.yaml (openapi.d.ts, written by `npm run openapi`): the
 * page is built apart from the server code and imports none of it, and the spec is the contract.
 */
import type { operations } from './openapi';

/** The JSON body of an operation's 200 (or 201) answer. */
type Answer<Op extends keyof operations> = operations[Op]['responses'] extends { 200: { content: { 'application/json': infer B } } }
  ? B
  : operations[Op]['responses'] extends { 201: { content: { 'application/json': infer B } } }
    ? B
    : never;

export type Stats = Answer<'getStats'>;
export type RatingStats = Answer<'getRatingStats'>;
export type Job = Answer<'getJob'>;
export type JobStatus = Job['status'];
export type HistoryPoint = NonNullable<Job['progress']>['history'][number];
export type Decision = NonNullable<Job['decision']>;
export type EvaluationReport = NonNullable<Job['report']>;
export type Score = EvaluationReport['blend'];
export type Model = Answer<'getModel'>;
export type Item = Answer<'getItem'>;
export type UserRatings = Answer<'listUserRatings'>;
export type Recommendations = Answer<'getRecommendations'>;
export type Predictions = Answer<'predictRatings'>;
export type ImportResult = Answer<'importRatings'>;

/** The model kind a job trains (params.model, 'ensemble' when not given). */
export function jobKind(params: Record<string, unknown>): string {
  return typeof params.model === 'string' ? params.model : 'ensemble';
}
