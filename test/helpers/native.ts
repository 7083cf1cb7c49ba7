import { loadNative, nativeLoadError } from '../../src/engine/native';

/** True when the compiled kernel (build/Release/nnmf_native.node) loads. */
export const nativeBuilt = loadNative() !== null;

/**
 * describe() for tests that construct the native engine or call the addon. Without the addon the
 * block is replaced by one skipped test whose name says why, instead of failing on a null addon.
 */
export function describeNative(name: string, body: () => void): void {
  if (nativeBuilt) describe(name, body);
  else describe(name, () => test.skip(`skipped: the native kernel is not built (${nativeLoadError()})`, () => undefined));
}
