import fs from 'node:fs';
import path from 'node:path';
import { processAlive } from '../threads';

/** Atomic imports spool under DATA_DIR/tmp, where start-up can tell whose files they are. */
export const SPOOL_SUBDIR = 'tmp';

const PREFIX = 'reco-import-';
const PATTERN = /^reco-import-(\d+)-[\w.-]+$/;

export function spoolDir(dataDir: string): string {
  return path.join(dataDir, SPOOL_SUBDIR);
}

/** The file name carries the owning process id so that leftovers can be told from live spools. */
export function spoolName(tag: string): string {
  return `${PREFIX}${process.pid}-${tag}.tsv`;
}

function remove(dir: string, which: (pid: number) => boolean): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = PATTERN.exec(name);
    if (!m || !which(Number(m[1]))) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Removes spool files left by processes that no longer run (a crash or a kill during an atomic
 * import). Files of another running process, such as a command-line import next to the server,
 * stay. Called before this process spools anything, so files bearing its own id are leftovers of
 * an earlier process that had the same id (in a container the server is often process 1 each time).
 */
export function removeLeftoverSpools(dir: string): string[] {
  return remove(dir, (pid) => pid === process.pid || !processAlive(pid));
}

/** Removes this process's spool files; synchronous, for process exit. */
export function removeOwnSpools(dir: string): void {
  remove(dir, (pid) => pid === process.pid);
}
