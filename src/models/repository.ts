import type { Database, Statement } from 'better-sqlite3';

export interface ModelRecord {
  id: string;
  jobId: string | null;
  createdAt: string;
  kind: string;
  engine: string;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  fingerprint: string;
  dataVersion: number;
  path: string;
  active: boolean;
  /** Why the checkpoint could not be loaded, or null. */
  broken: string | null;
}

interface ModelRow {
  id: string;
  job_id: string | null;
  created_at: number;
  kind: string;
  engine: string;
  params: string;
  metrics: string;
  fingerprint: string;
  data_version: number;
  path: string;
  active: number;
  broken: string | null;
}

const toModel = (r: ModelRow): ModelRecord => ({
  id: r.id,
  jobId: r.job_id,
  createdAt: new Date(r.created_at).toISOString(),
  kind: r.kind,
  engine: r.engine,
  params: JSON.parse(r.params) as ModelRecord['params'],
  metrics: JSON.parse(r.metrics) as ModelRecord['metrics'],
  fingerprint: r.fingerprint,
  dataVersion: r.data_version,
  path: r.path,
  active: r.active === 1,
  broken: r.broken,
});

export class ModelsRepository {
  private readonly s: Record<string, Statement>;
  readonly setActive: (id: string) => void;

  constructor(db: Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insert: p(`INSERT INTO models (id, job_id, created_at, kind, engine, params, metrics, fingerprint, data_version, path, active)
        VALUES (@id, @jobId, @createdAt, @kind, @engine, @params, @metrics, @fingerprint, @dataVersion, @path, 0)`),
      get: p('SELECT * FROM models WHERE id = ?'),
      list: p('SELECT * FROM models ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?'),
      active: p('SELECT * FROM models WHERE active = 1'),
      clear: p('UPDATE models SET active = 0 WHERE active = 1'),
      activate: p('UPDATE models SET active = 1 WHERE id = ?'),
      broken: p('UPDATE models SET broken = ? WHERE id = ?'),
      loadable: p('SELECT * FROM models WHERE broken IS NULL ORDER BY created_at DESC, rowid DESC'),
    };
    this.setActive = db.transaction((id: string) => {
      this.s.clear.run();
      this.s.activate.run(id);
    });
  }

  markBroken(id: string, reason: string | null): void {
    this.s.broken.run(reason, id);
  }

  /** Models not known to be broken, newest first: the candidates when the active one cannot be loaded. */
  loadable(): ModelRecord[] {
    return (this.s.loadable.all() as ModelRow[]).map(toModel);
  }

  insert(m: Omit<ModelRecord, 'createdAt' | 'active' | 'broken'>): void {
    this.s.insert.run({
      ...m,
      createdAt: Date.now(),
      params: JSON.stringify(m.params),
      metrics: JSON.stringify(m.metrics),
    });
  }

  get(id: string): ModelRecord | null {
    const r = this.s.get.get(id) as ModelRow | undefined;
    return r ? toModel(r) : null;
  }

  list(limit: number, offset: number): ModelRecord[] {
    return (this.s.list.all(limit, offset) as ModelRow[]).map(toModel);
  }

  active(): ModelRecord | null {
    const r = this.s.active.get() as ModelRow | undefined;
    return r ? toModel(r) : null;
  }
}
