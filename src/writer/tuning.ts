import type { Database } from 'better-sqlite3';

/**
 * Settings of the connection that writes. A larger page cache keeps the upper levels of the
 * ratings B-tree and the ID indexes in memory during bulk loads (64 MB, a fixed bound: memory
 * stays flat however large the import); temporary b-trees stay in memory.
 */
export function tuneForWrites(db: Database): void {
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
}
