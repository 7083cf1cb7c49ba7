import fs from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { loadNative } from './engine/native';

/** Whether a process with this id runs (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Lowers the priority of the calling thread only (Linux: a thread id passed as a process id
 * names one thread), as for the training kernels' threads: where such a thread shares a core
 * with the request thread, requests win it. On an otherwise idle core it runs at full speed.
 */
export function lowerThreadPriority(nice: number): void {
  try {
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, nice);
  } catch {
    // Not Linux, or /proc unavailable: the thread keeps the process's priority.
  }
}

/**
 * Returns memory freed by threads that have ended (a training job's, a checkpoint loader's) to
 * the system: glibc keeps each thread's arena, and the free pages inside it count as resident
 * until trimmed. Runs on a pool thread; does nothing where the addon was not built.
 */
export async function returnFreedMemory(): Promise<boolean> {
  const addon = loadNative();
  if (!addon?.trimMemory) return false;
  try {
    return await addon.trimMemory();
  } catch {
    return false;
  }
}

let fullGc: (() => void) | null = null;

/**
 * A full garbage collection of the calling thread's heap, now. The server runs with
 * --no-memory-reducer (see runtime-tuning.ts), so an idle heap is never collected or shrunk on
 * its own: a thread that has just dropped a lot (the writer after a bulk import) calls this to
 * give the pages back. It blocks the calling thread for the collection; never call it on the
 * request thread.
 */
export function collectGarbage(): void {
  if (!fullGc) {
    v8.setFlagsFromString('--expose-gc');
    fullGc = vm.runInNewContext('gc') as () => void;
  }
  fullGc();
}
