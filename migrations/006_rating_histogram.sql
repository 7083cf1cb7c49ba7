-- The distribution of stored ratings, for the dashboard's overview, read in constant time
-- instead of grouping every rating. A rating counts in bin round(rating × 2): half-star bins,
-- whatever the scale (SQLite's round() rounds halves away from zero; the writer computes the
-- bin the same way, src/writer/store.ts). The writer keeps the counts in step with every
-- change it commits, in the same transaction, as it does the counts of migration 004.
CREATE TABLE rating_histogram (
  bin INTEGER PRIMARY KEY,
  count INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO rating_histogram (bin, count)
  SELECT CAST(round(rating * 2) AS INTEGER), COUNT(*) FROM ratings GROUP BY 1;
