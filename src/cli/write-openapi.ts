import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { buildApp } from '../app';
import { loadConfig } from '../config';
import { projectRoot } from '../root';

/** The spec as the app serves it, rendered as YAML. */
export async function renderOpenApi(): Promise<string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reco-openapi-'));
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir }), logger: false });
  try {
    await app.ready();
    return YAML.stringify(app.swagger(), { aliasDuplicateObjects: false, lineWidth: 0 });
  } finally {
    await app.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  renderOpenApi().then(
    (text) => {
      const file = path.join(projectRoot(), 'openapi.yaml');
      fs.writeFileSync(
        file,
        `# Generated from the route schemas by \`npm run openapi\`; a test fails when this file and the served spec differ.\n${text}`,
      );
      process.stdout.write(`wrote ${file}\n`);
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
