/** Rows of a row-major matrix (rows × dim) scaled to unit length; all-zero rows stay zero. */
export function unitRows(data: Float32Array, dim: number): Float32Array {
  const rows = dim > 0 ? data.length / dim : 0;
  const out = new Float32Array(data.length);
  for (let k = 0; k < rows; k++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += data[k * dim + j] ** 2;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = 0; j < dim; j++) out[k * dim + j] = data[k * dim + j] * inv;
  }
  return out;
}

/** Arrays laid end to end in one array of `length` floats (at least their total length). */
export function concatenated(parts: readonly Float32Array[], length: number): Float32Array {
  const out = new Float32Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
