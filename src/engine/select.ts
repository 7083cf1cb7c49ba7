import type { Engine, EngineName } from './engine';
import { loadNative } from './native';
import { NativeEngine } from './native-engine';
import { TfjsEngine } from './tfjs-engine';

const cache = new Map<EngineName, Engine>();

/** `auto` means the native kernel, or TF.js where the kernel was not built. */
export function selectEngine(choice: 'auto' | EngineName): Engine {
  const name: EngineName = choice === 'auto' ? (loadNative() ? 'native' : 'tfjs') : choice;
  let e = cache.get(name);
  if (!e) {
    e = name === 'native' ? new NativeEngine() : new TfjsEngine();
    cache.set(name, e);
  }
  return e;
}
