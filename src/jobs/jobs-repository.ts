import crypto from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface JobProgress {
  epoch: number;
  maxEpochs: number;
  trainLoss: number | null;
  validationRmse: number | null;
  /** Every epoch of every member so far, in training order. */
  history: { member: string; epoch: number; trainRmse: number; validationRmse: number; seconds: number }[];
  /** The members trained so far; the last one is in training while the phase says so. */
  members: { kind: string; label: string; epochs: number; bestEpoch: number; validationRmse: number | null; seconds: number }[];
  elapsedSeconds: number;
  etaSeconds: number | null;
  phase: string;
}

export interface Job {
  id: string;
  type: 'train';
  status: JobStatus;
  params: Record<string, unknown>;
  progress: JobProgress | null;
  modelId: string | null;
  error: string | null;
  decision: Record<string, unknown> | null;
  report: Record<string, unknown> | null;
  trigger: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

interface JobRow {
  id: string;
  type: 'train';
  status: JobStatus;
  params: string;
  progress: string | null;
  model_id: string | null;
  error: string | null;
  decision: string | null;
  report: string | null;
  trigger: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

function toJob(r: JobRow): Job {
  return {
    id: r.id,
    type: r.type,
    status: r.status,
    params: JSON.parse(r.params) as Job['params'],
    progress: r.progress ? (JSON.parse(r.progress) as JobProgress) : null,
    modelId: r.model_id,
    error: r.error,
    decision: r.decision ? (JSON.parse(r.decision) as Job['decision']) : null,
    report: r.report ? (JSON.parse(r.report) as Job['report']) : null,
    trigger: r.trigger,
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  };
}

/** Jobs table access. Status changes are guarded by the expected current status so that races lose cleanly. */
export class JobsRepository {
  private readonly s: Record<string, Statement>;

  constructor(db: Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insert: p(`INSERT INTO jobs (id, type, status, params, trigger, created_at) VALUES (?, ?, 'queued', ?, ?, ?)`),
      get: p('SELECT * FROM jobs WHERE id = ?'),
      list: p('SELECT * FROM jobs WHERE (? IS NULL OR status = ?) ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?'),
      nextQueued: p(`SELECT * FROM jobs WHERE status = 'queued' ORDER BY created_at, rowid LIMIT 1`),
      start: p(`UPDATE jobs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'`),
      progress: p(`UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running'`),
      finish: p(
        `UPDATE jobs SET status = ?, finished_at = ?, error = ?, model_id = ?, decision = ?, report = ? WHERE id = ? AND status IN ('queued', 'running')`,
      ),
      interrupted: p(
        `UPDATE jobs SET status = 'failed', finished_at = ?, error = 'interrupted: the service stopped while the job was running' WHERE status = 'running'`,
      ),
      pending: p(`SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running')`),
    };
  }

  create(params: Record<string, unknown>, trigger = 'api'): Job {
    const id = `job_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
    this.s.insert.run(id, 'train', JSON.stringify(params), trigger, Date.now());
    return this.get(id)!;
  }

  get(id: string): Job | null {
    const r = this.s.get.get(id) as JobRow | undefined;
    return r ? toJob(r) : null;
  }

  list(status: JobStatus | null, limit: number, offset: number): Job[] {
    return (this.s.list.all(status, status, limit, offset) as JobRow[]).map(toJob);
  }

  nextQueued(): Job | null {
    const r = this.s.nextQueued.get() as JobRow | undefined;
    return r ? toJob(r) : null;
  }

  start(id: string): boolean {
    return this.s.start.run(Date.now(), id).changes === 1;
  }

  setProgress(id: string, progress: JobProgress): void {
    this.s.progress.run(JSON.stringify(progress), id);
  }

  finish(
    id: string,
    status: 'succeeded' | 'failed' | 'cancelled',
    extra: { error?: string; modelId?: string; decision?: Record<string, unknown>; report?: object | null } = {},
  ): boolean {
    const json = (v: object | null | undefined) => (v ? JSON.stringify(v) : null);
    return (
      this.s.finish.run(status, Date.now(), extra.error ?? null, extra.modelId ?? null, json(extra.decision), json(extra.report), id).changes === 1
    );
  }

  /** After a restart nothing is running any more: jobs left as running are failed as interrupted. */
  failInterrupted(): number {
    return this.s.interrupted.run(Date.now()).changes;
  }

  pendingCount(): number {
    return (this.s.pending.get() as { n: number }).n;
  }
}
