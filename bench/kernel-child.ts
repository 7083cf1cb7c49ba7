import { spawnSync } from 'node:child_process';

/**
 * Runs a benchmark script in a process of its own on one kernel variant (NNMF_KERNEL picks it
 * when the addon loads; null keeps the best one the CPU runs) and returns the JSON the script
 * printed on its last line.
 */
export function runOnKernel<T>(script: string, args: string[], kernel: string | null): T {
  const env = { ...process.env };
  delete env.NNMF_KERNEL;
  if (kernel) env.NNMF_KERNEL = kernel;
  const child = spawnSync(process.execPath, [script, ...args], { env, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`kernel ${kernel ?? 'default'}: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as T;
}
