import type { FastifyBaseLogger } from 'fastify';
import { CheckpointError } from '../engine/checkpoint';
import { CodedError } from '../engine/coded-error';
import type { EngineName } from '../engine/engine';
import type { Predictor } from '../engine/predictor';
import type { ModelsRepository } from '../models/repository';
import { loadInThread } from '../models/loader';
import type { CheckpointStore } from '../models/store';
import { predictorFrom } from '../models/transfer';

export class ModelNotFoundError extends CodedError {
  readonly code = 'RECO_ERR_MODEL_NOT_FOUND';
}

const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Holds the active model. Swapping replaces one reference: a request that already took
 * `active` finishes on that predictor, the next one gets the new model.
 */
export class ModelRegistry {
  private current: Predictor | null = null;
  private degradedReason: string | null = null;
  private readonly listeners: ((p: Predictor) => void)[] = [];

  constructor(
    private readonly models: ModelsRepository,
    readonly store: CheckpointStore,
    /** The engine NNMF members of loaded checkpoints serve on. */
    private readonly engine: EngineName,
    private readonly log: FastifyBaseLogger,
  ) {}

  get active(): Predictor | null {
    return this.current;
  }

  onActivate(fn: (p: Predictor) => void): void {
    this.listeners.push(fn);
  }

  /**
   * A checkpoint read, verified and parsed in a loading thread; on this thread only the
   * predictor is built over the weights it hands back (ID indexes in slices that yield).
   */
  async load(id: string): Promise<Predictor> {
    if (this.current?.modelId === id) return this.current;
    const rec = this.models.get(id);
    if (!rec) throw new ModelNotFoundError(`model ${id} not found`);
    const packed = await loadInThread({ modelsDir: this.store.modelsDir, modelId: id, engine: this.engine });
    return predictorFrom(packed, this.engine);
  }

  /**
   * Loads the model fully before touching the active flag or the served reference; with a
   * predictor already built (a job's, over the weights its thread handed over), activation is
   * the flag and the reference swap alone.
   */
  async activate(id: string, loaded?: Predictor): Promise<Predictor> {
    let predictor = loaded;
    if (!predictor) {
      try {
        predictor = await this.load(id);
      } catch (err) {
        if (err instanceof CheckpointError) this.markBroken(id, err);
        throw err;
      }
    }
    this.models.setActive(id);
    this.models.markBroken(id, null);
    this.degradedReason = null;
    this.serve(predictor);
    this.log.info({ modelId: id }, 'model activated');
    return predictor;
  }

  private serve(predictor: Predictor): void {
    this.current = predictor;
    for (const fn of this.listeners) fn(predictor);
  }

  /**
   * Loads the active model at start-up. When its checkpoint cannot be loaded (files missing,
   * truncated or altered), it is marked broken and the newest model that loads is served and
   * made active instead; `degraded` says so until a model is activated again.
   */
  async loadActive(): Promise<void> {
    const rec = this.models.active();
    if (!rec) {
      this.log.info('no trained model yet');
      return;
    }
    try {
      this.serve(await this.load(rec.id));
      this.log.info({ modelId: rec.id }, 'active model loaded');
      return;
    } catch (err) {
      this.markBroken(rec.id, err);
      this.degradedReason = `active model ${rec.id} could not be loaded: ${reasonOf(err)}`;
    }
    for (const candidate of this.models.loadable()) {
      if (candidate.id === rec.id) continue;
      try {
        const predictor = await this.load(candidate.id);
        this.models.setActive(candidate.id);
        this.serve(predictor);
        this.degradedReason += `; serving ${candidate.id} instead`;
        this.log.error({ brokenModelId: rec.id, modelId: candidate.id }, 'active model could not be loaded; serving the newest model that loads');
        return;
      } catch (err) {
        this.markBroken(candidate.id, err);
      }
    }
    this.degradedReason += '; no other model could be loaded';
    this.log.error({ modelId: rec.id }, 'active model could not be loaded and no other model loads; serving without a model');
  }

  /** Why serving is not what the registry says should be served, or null. */
  get degraded(): string | null {
    return this.degradedReason;
  }

  private markBroken(id: string, err: unknown): void {
    this.models.markBroken(id, reasonOf(err));
    this.log.error({ err, modelId: id }, 'model checkpoint could not be loaded; marked broken');
  }
}
