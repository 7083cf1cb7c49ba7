import { concatenated } from './vectors';

/**
 * Runs a synchronous scorer over a long list in slices and yields to the event loop between
 * them. Scoring thousands of validation pairs with a network takes tens of milliseconds on the
 * calling thread; in slices, requests that arrive meanwhile are answered between two slices
 * instead of after the whole list.
 */
export async function inSlices<T>(count: number, score: (from: number, to: number) => T[] | Float32Array, slice = 2048): Promise<T[] | Float32Array> {
  const parts: (T[] | Float32Array)[] = [];
  for (let from = 0; from < count; from += slice) {
    parts.push(score(from, Math.min(count, from + slice)));
    if (from + slice < count) await new Promise((resolve) => setImmediate(resolve));
  }
  if (parts.length === 1) return parts[0];
  if (parts.every((p) => p instanceof Float32Array)) return concatenated(parts, count);
  return (parts as T[][]).flat();
}

/** A model's raw outputs for index pairs, computed in slices (see inSlices). */
export async function predictInSlices(predict: (u: Int32Array, i: Int32Array) => Float32Array, u: Int32Array, i: Int32Array): Promise<Float32Array> {
  return (await inSlices(u.length, (a, b) => predict(u.subarray(a, b), i.subarray(a, b)))) as Float32Array;
}
