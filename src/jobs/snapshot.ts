import type { Database } from 'better-sqlite3';
import type { Dataset } from '../engine/dataset';

export interface Snapshot {
  dataset: Dataset;
  dataVersion: number;
}

const CHUNK = 50_000;

function grow<T extends Int32Array | Float32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/**
 * Reads every rating as one consistent snapshot: a read transaction on its own connection
 * (WAL lets writers go on meanwhile), yielding to the event loop between chunks so that an
 * abort message reaches the signal.
 */
export async function readSnapshot(db: Database, signal?: AbortSignal): Promise<Snapshot> {
  db.exec('BEGIN');
  try {
    const dataVersion = (db.prepare("SELECT value FROM meta WHERE key = 'data_version'").get() as { value: number }).value;
    const userIds: string[] = [];
    const itemIds: string[] = [];
    const userIndex = new Map<number, number>();
    const itemIndex = new Map<number, number>();
    // The count the writer keeps in the same transactions as the rows (no scan of 20M rows); the
    // arrays grow should it ever be short.
    const counted = db.prepare("SELECT value FROM meta WHERE key = 'ratings'").get() as { value: number } | undefined;
    let n = counted?.value ?? (db.prepare('SELECT COUNT(*) AS n FROM ratings').get() as { n: number }).n;
    let u = new Int32Array(n);
    let i = new Int32Array(n);
    let r = new Float32Array(n);
    // Loaded up front: a connection runs no other statement while an iterator is open on it.
    const userExt = new Map(db.prepare('SELECT id, ext_id FROM users').raw().all() as [number, string][]);
    const itemExt = new Map(db.prepare('SELECT id, ext_id FROM items').raw().all() as [number, string][]);
    const it = db.prepare('SELECT user_id, item_id, rating FROM ratings').raw().iterate() as IterableIterator<[number, number, number]>;
    let k = 0;
    for (const [uid, iid, rating] of it) {
      if (k === n) {
        n = Math.max(1024, n * 2);
        [u, i, r] = [grow(u, new Int32Array(n)), grow(i, new Int32Array(n)), grow(r, new Float32Array(n))];
      }
      let a = userIndex.get(uid);
      if (a === undefined) {
        a = userIds.push(userExt.get(uid)!) - 1;
        userIndex.set(uid, a);
      }
      let b = itemIndex.get(iid);
      if (b === undefined) {
        b = itemIds.push(itemExt.get(iid)!) - 1;
        itemIndex.set(iid, b);
      }
      u[k] = a;
      i[k] = b;
      r[k] = rating;
      k++;
      if (k % CHUNK === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        if (signal?.aborted) {
          it.return?.();
          throw new Error('snapshot aborted');
        }
      }
    }
    return { dataset: { userIds, itemIds, u: u.subarray(0, k), i: i.subarray(0, k), r: r.subarray(0, k) }, dataVersion };
  } finally {
    db.exec('COMMIT');
  }
}
