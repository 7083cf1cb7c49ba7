import fs from 'node:fs';
import path from 'node:path';
import type * as TF from './tf';
import { buildLayersModel, paramsFromModel, setModelWeights } from './layers-model';
import type { RatingSummary } from './summary';
import { dimsOf, type Dims, type ModelParams } from './state';
import { loadTf } from './tf';

export const CHECKPOINT_FORMAT = 'nnmf-recommender/checkpoint-v1';

/** The sidecar next to model.json: what a server needs besides the weights. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  dims: Dims;
  userIds: string[];
  itemIds: string[];
  scale: { min: number; max: number };
  summary: RatingSummary;
  engine: string;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
  fingerprint: string;
  createdAt: string;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  params: ModelParams;
}

export type CheckpointFields = Omit<CheckpointMeta, 'format' | 'dims'>;

/** The full sidecar for parameters and the caller's fields: what meta.json holds and a Predictor needs. */
export function checkpointMeta(params: ModelParams, fields: CheckpointFields): CheckpointMeta {
  return { format: CHECKPOINT_FORMAT, dims: dimsOf(params), ...fields };
}

/**
 * Writes model.json + weights.bin (a standard TF.js layers-model artifact that
 * tf.loadLayersModel opens) and meta.json into `dir`, which must not exist yet.
 */
export async function saveCheckpoint(dir: string, params: ModelParams, meta: CheckpointFields): Promise<void> {
  const tf = loadTf();
  const model = buildLayersModel(tf, params);
  try {
    setModelWeights(tf, model, params);
    fs.mkdirSync(dir, { recursive: false });
    await model.save(
      tf.io.withSaveHandler(async (artifacts: TF.io.ModelArtifacts) => {
        const weightData = artifacts.weightData as ArrayBuffer;
        fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(weightData));
        const modelJson = {
          modelTopology: artifacts.modelTopology,
          format: 'layers-model',
          generatedBy: artifacts.generatedBy,
          convertedBy: null,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        };
        fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(checkpointMeta(params, meta)));
  } finally {
    model.dispose();
  }
}

export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const tf = loadTf();
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as CheckpointMeta;
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`unsupported checkpoint format ${String(meta.format)}`);
  const modelJson = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as TF.io.ModelJSON;
  const weights = fs.readFileSync(path.join(dir, modelJson.weightsManifest[0].paths[0]));
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
  try {
    return { meta, params: paramsFromModel(model, meta.dims) };
  } finally {
    model.dispose();
  }
}
