import type { Database } from 'better-sqlite3';

/**
 * Settings of the connection that writes (the writer thread, the CLI).
 * - A larger page cache keeps the upper levels of the ratings B-tree and the ID indexes in
 *   memory during bulk loads (64 MB: a fixed bound, memory stays flat however large the import).
 * - Checkpoints every 10,000 pages (40 MB of WAL) instead of 1,000: each one syncs the database
 *   file, and at the default they cost about as much as the inserts during a bulk load. The WAL
 *   file is cut back to 64 MB after a checkpoint so a large import does not leave it large.
 * - No foreign-key checks: they cost two index lookups per inserted rating, and this connection
 *   creates every user and item before rating it and deletes a user's ratings itself
 *   (RatingsStore.deleteUser). Other connections keep the checks on.
 */
export function tuneForWrites(db: Database): void {
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  db.pragma('wal_autocheckpoint = 10000');
  db.pragma('journal_size_limit = 67108864');
  db.pragma('foreign_keys = OFF');
}
