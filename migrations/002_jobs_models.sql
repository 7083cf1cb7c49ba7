CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  params TEXT NOT NULL,
  progress TEXT,
  model_id TEXT,
  error TEXT,
  decision TEXT,
  trigger TEXT NOT NULL DEFAULT 'api',
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX jobs_by_status ON jobs(status, created_at);

CREATE TABLE models (
  id TEXT PRIMARY KEY,
  job_id TEXT,
  created_at INTEGER NOT NULL,
  engine TEXT NOT NULL,
  params TEXT NOT NULL,
  metrics TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  data_version INTEGER NOT NULL,
  path TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX models_one_active ON models(active) WHERE active = 1;
