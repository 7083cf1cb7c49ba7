import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadCheckpoint, saveCheckpoint, type CheckpointFields, type CheckpointMeta } from '../engine/checkpoint';
import type { Ensemble } from '../engine/ensemble';
import type { KindRegistry } from '../engine/kinds';
import { Predictor } from '../engine/predictor';
import { processAlive } from '../threads';

/** A checkpoint being written: `.tmp-{pid}-{model id}`, so start-up can tell a crash's leftovers from a live write. */
const TMP_PATTERN = /^\.tmp-(\d+)-/;

/**
 * The checkpoints under DATA_DIR/models: one folder per model, written under a temporary name
 * and renamed into place, so a crash or a full disk never leaves a half-written model where the
 * registry would look for it. Used by the training thread (writing) and the registry (loading).
 */
export class CheckpointStore {
  constructor(readonly modelsDir: string) {}

  dirFor(id: string): string {
    return path.join(this.modelsDir, id);
  }

  static newModelId(): string {
    return `mdl_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
  }

  /** Writes the model's checkpoint as `id`; nothing named `id` exists until every file is written. */
  async write(id: string, model: Ensemble, fields: CheckpointFields): Promise<CheckpointMeta> {
    fs.mkdirSync(this.modelsDir, { recursive: true });
    const tmp = path.join(this.modelsDir, `.tmp-${process.pid}-${id}`);
    fs.rmSync(tmp, { recursive: true, force: true });
    try {
      const meta = await saveCheckpoint(tmp, model, fields);
      fs.renameSync(tmp, this.dirFor(id));
      return meta;
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Reads and verifies a checkpoint (see loadCheckpoint) and builds its predictor. */
  async load(id: string, kinds: KindRegistry): Promise<Predictor> {
    const ckpt = await loadCheckpoint(this.dirFor(id), kinds);
    return new Predictor(id, ckpt.meta, ckpt.model);
  }

  /** Removes a model's folder (a checkpoint written for a job that did not record it). */
  remove(id: string): void {
    fs.rmSync(this.dirFor(id), { recursive: true, force: true });
  }

  /**
   * Removes temporary folders left by a crash or a full disk while saving: those of processes
   * that no longer run, and those bearing this process's id (written before it started, by an
   * earlier process that had the same id, as a container's process 1 does every time).
   */
  removeLeftovers(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.modelsDir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      if (!name.startsWith('.tmp-')) continue;
      // Without a process id: written by an earlier version, which named them `.tmp-{model id}`.
      const m = TMP_PATTERN.exec(name);
      const pid = m ? Number(m[1]) : null;
      if (pid !== null && pid !== process.pid && processAlive(pid)) continue;
      fs.rmSync(path.join(this.modelsDir, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }
}
