import fs from 'node:fs';
import path from 'node:path';
import type * as TF from './tf';
import type { Tf } from './tf';

/**
 * Writes a layers model as model.json + weights.bin into `dir` (which exists): the standard
 * TF.js artifact that tf.loadLayersModel opens, so every model kind's files are readable
 * outside this service.
 */
export async function writeLayersModel(tf: Tf, model: TF.LayersModel, dir: string): Promise<void> {
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
}

/** Reads what writeLayersModel wrote. The caller disposes the model. */
export async function readLayersModel(tf: Tf, dir: string): Promise<TF.LayersModel> {
  const modelJson = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as {
    modelTopology: TF.io.ModelArtifacts['modelTopology'];
    weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[];
  };
  const weights = fs.readFileSync(path.join(dir, modelJson.weightsManifest[0].paths[0]));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest[0].weights,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  );
}
