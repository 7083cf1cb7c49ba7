import { loadNative } from './native';

/**
 * Ridge regression in TypeScript: w minimising ‖Xw − y‖² + Σ lambda[k]·w_k² (X: n × p,
 * row-major), by Cholesky on the smaller of the primal (p × p) and dual (n × n) systems, as the
 * native `ridge` does. The reference for the kernel in tests, and the solver without it.
 */
export function ridgeReference(X: Float32Array, y: Float32Array, lambda: Float32Array): Float32Array {
  const n = y.length;
  const p = lambda.length;
  const out = new Float32Array(p);
  if (p > n) {
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k < p; k++) s += (X[i * p + k] * X[j * p + k]) / lambda[k];
        A[i * n + j] = s + (i === j ? 1 : 0);
      }
    }
    const a = Float64Array.from(y);
    cholSolve(A, a, n);
    for (let k = 0; k < p; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += X[i * p + k] * a[i];
      out[k] = s / lambda[k];
    }
    return out;
  }
  const A = new Float64Array(p * p);
  const b = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < p; r++) {
      const v = X[i * p + r];
      b[r] += v * y[i];
      for (let c = 0; c <= r; c++) A[r * p + c] += v * X[i * p + c];
    }
  }
  for (let k = 0; k < p; k++) A[k * p + k] += lambda[k];
  cholSolve(A, b, p);
  out.set(b);
  return out;
}

/** Solves A x = b in place of b, A symmetric positive definite (its lower half is read and overwritten). */
function cholSolve(A: Float64Array, b: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let s = A[j * n + j];
    for (let k = 0; k < j; k++) s -= A[j * n + k] ** 2;
    if (!(s > 0)) throw new RangeError('ridge system is not positive definite');
    const d = Math.sqrt(s);
    A[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let t = A[i * n + j];
      for (let k = 0; k < j; k++) t -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = t / d;
    }
  }
  for (let i = 0; i < n; i++) {
    let t = b[i];
    for (let k = 0; k < i; k++) t -= A[i * n + k] * b[k];
    b[i] = t / A[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let t = b[i];
    for (let k = i + 1; k < n; k++) t -= A[k * n + i] * b[k];
    b[i] = t / A[i * n + i];
  }
}

/** Ridge regression off the JavaScript thread in the native kernel, or in TypeScript without it. */
export async function solveRidge(X: Float32Array, y: Float32Array, lambda: Float32Array): Promise<Float32Array> {
  const addon = loadNative();
  return addon ? addon.ridge(X, y, lambda) : ridgeReference(X, y, lambda);
}
