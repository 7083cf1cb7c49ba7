import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { loadCheckpoint } from '../engine/checkpoint';
import type { KindRegistry } from '../engine/kinds';
import { Predictor } from '../engine/predictor';
import type { ModelsRepository } from '../jobs/models-repository';

export class ModelNotFoundError extends Error {}

/**
 * Holds the active model. Swapping replaces one reference: a request that already took
 * `active` finishes on that predictor, the next one gets the new model.
 */
export class ModelRegistry {
  private current: Predictor | null = null;
  private readonly listeners: ((p: Predictor) => void)[] = [];

  constructor(
    private readonly models: ModelsRepository,
    readonly modelsDir: string,
    private readonly kinds: KindRegistry,
    private readonly log: FastifyBaseLogger,
  ) {}

  get active(): Predictor | null {
    return this.current;
  }

  onActivate(fn: (p: Predictor) => void): void {
    this.listeners.push(fn);
  }

  dirFor(id: string): string {
    return path.join(this.modelsDir, id);
  }

  async load(id: string): Promise<Predictor> {
    if (this.current?.modelId === id) return this.current;
    const rec = this.models.get(id);
    if (!rec) throw new ModelNotFoundError(`model ${id} not found`);
    const ckpt = await loadCheckpoint(this.dirFor(id), this.kinds);
    return new Predictor(id, ckpt.meta, ckpt.model);
  }

  /** Loads the model fully before touching the active flag or the served reference. */
  async activate(id: string, loaded?: Predictor): Promise<Predictor> {
    const predictor = loaded ?? (await this.load(id));
    this.models.setActive(id);
    this.serve(predictor);
    this.log.info({ modelId: id }, 'model activated');
    return predictor;
  }

  private serve(predictor: Predictor): void {
    this.current = predictor;
    for (const fn of this.listeners) fn(predictor);
  }

  async loadActive(): Promise<void> {
    const rec = this.models.active();
    if (!rec) {
      this.log.info('no trained model yet');
      return;
    }
    try {
      this.serve(await this.load(rec.id));
      this.log.info({ modelId: rec.id }, 'active model loaded');
    } catch (err) {
      this.log.error({ err, modelId: rec.id }, 'active model could not be loaded; serving without a model');
    }
  }
}
