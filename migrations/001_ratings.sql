-- Callers' string IDs map to compact integer keys so that ratings stay small and the
-- training snapshot can be read as dense integer indexes.
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  ext_id TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE items (
  id INTEGER PRIMARY KEY,
  ext_id TEXT NOT NULL UNIQUE,
  title TEXT,
  attributes TEXT,
  created_at INTEGER NOT NULL
);

CREATE TABLE ratings (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  rating REAL NOT NULL,
  ts INTEGER,
  PRIMARY KEY (user_id, item_id)
) WITHOUT ROWID;

-- Covers per-item count/mean without touching the table.
CREATE INDEX ratings_by_item ON ratings(item_id, rating);

-- data_version increases with every committed change to ratings; training jobs record it
-- so the scheduler can tell whether anything changed since the active model.
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('data_version', 0);
