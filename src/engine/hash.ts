/** Small non-cryptographic hashes: stable across processes and versions, cheap enough for every rating. */

/** FNV-1a over the UTF-16 code units of s, started from `seed`. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let k = 0; k < s.length; k++) {
    h ^= s.charCodeAt(k);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's finaliser: every input bit affects every output bit. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One well-mixed 32-bit value for an ordered pair of 32-bit hashes. */
export function pairHash(a: number, b: number): number {
  return mix32((a ^ Math.imul(mix32(b ^ 0x9e3779b9), 0x27d4eb2f)) >>> 0);
}
