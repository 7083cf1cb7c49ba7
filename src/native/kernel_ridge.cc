// Ridge regression for the closed-form fold-ins (MF's user and item rows, I-AutoRec's user rows):
// Cholesky of the smaller of the primal and dual systems, in double precision. Compiled once per
// instruction set with the rest of the kernel (kernel.h), so its loops use the widest vectors.
#include "kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace nnmf {
namespace KERNEL_NS {
namespace {

// Four doubles as one vector (one 256-bit register with AVX2, a pair of 128-bit ones without).
typedef double v4d __attribute__((vector_size(32)));
inline v4d ld4(const double* p) {
  v4d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void st4(double* p, v4d v) { std::memcpy(p, &v, sizeof v); }

// Σ a[k]·b[k] over sixteen partial sums in four vectors: independent chains, so the
// multiply-adds overlap instead of waiting on one another (the Cholesky below is made of these).
inline double dot(const double* __restrict a, const double* __restrict b, int n) {
  v4d s0{}, s1{}, s2{}, s3{};
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    s0 += ld4(a + k) * ld4(b + k);
    s1 += ld4(a + k + 4) * ld4(b + k + 4);
    s2 += ld4(a + k + 8) * ld4(b + k + 8);
    s3 += ld4(a + k + 12) * ld4(b + k + 12);
  }
  for (; k + 4 <= n; k += 4) s0 += ld4(a + k) * ld4(b + k);
  const v4d s = (s0 + s1) + (s2 + s3);
  double t = (s[0] + s[1]) + (s[2] + s[3]);
  for (; k < n; k++) t += a[k] * b[k];
  return t;
}

// out[0, n) += s · x[0, n), x in single precision
inline void axpy(double* __restrict out, double s, const float* __restrict x, int n) {
  for (int k = 0; k < n; k++) out[k] += s * x[k];
}

// Where value k of vector s sits among J vectors packed four values wide: pk[(k / 4, s, k % 4)],
// so that four consecutive values of one vector are one 4-wide load and the next vector's follow.
inline size_t packedAt(int J, int s, int k) { return ((size_t)(k >> 2) * J + s) * 4 + (k & 3); }

// M (d × d, rows ld apart) += sign · Σ_s v_s v_sᵀ over the nb vectors packed in pk (packedAt,
// J vectors per panel): the lower half, in 4 × 8 tiles that accumulate in
// registers over the vectors (two 4-wide loads and four broadcasts feed 32 multiply-adds, where
// axpys into rows of M would load and store the row for each). Tiles that cross the diagonal
// also write a little of the upper half, so M's rows must reach d rounded up to 8 and its rows
// d rounded up to 4 must exist; pk's values past d must be finite.
void addTiles(const double* pk, int J, int nb, int d, double* M, size_t ld, double sign) {
  for (int r0 = 0; r0 < d; r0 += 4) {
    const double* rp = &pk[packedAt(J, 0, r0)];
    for (int c0 = 0; c0 <= r0; c0 += 8) {
      const double* cp = &pk[packedAt(J, 0, c0)];
      // Eight vector accumulators: independent chains, each in a register.
      v4d a00{}, a01{}, a10{}, a11{}, a20{}, a21{}, a30{}, a31{};
      for (int j = 0; j < nb; j++) {
        const double* rj = rp + (size_t)j * 4;
        const v4d x0 = ld4(cp + (size_t)j * 4), x1 = ld4(cp + ((size_t)J + j) * 4);
        a00 += rj[0] * x0;
        a01 += rj[0] * x1;
        a10 += rj[1] * x0;
        a11 += rj[1] * x1;
        a20 += rj[2] * x0;
        a21 += rj[2] * x1;
        a30 += rj[3] * x0;
        a31 += rj[3] * x1;
      }
      const v4d tile[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
      for (int a = 0; a < 4; a++) {
        double* g = &M[(size_t)(r0 + a) * ld + c0];
        st4(g, ld4(g) + sign * tile[a][0]);
        st4(g + 4, ld4(g + 4) + sign * tile[a][1]);
      }
    }
  }
}

// Cholesky factorisation of the symmetric positive definite A (n × n, rows `ld` apart, lower
// half used; ld and the rows allocated at least n rounded up to 8) in place, then the solution
// of A x = b into b. False when A is not positive definite. Right-looking in blocks of 32
// columns: each block is factorised and its panel solved with dot products, and the rest of
// the matrix is updated by the panel's Gram matrix in register tiles (addTiles), which is where
// nearly all of the n³/6 multiply-adds go.
bool choleskySolve(std::vector<double>& A, size_t ld, std::vector<double>& b, int n) {
  const int B = 32;
  std::vector<double> pk((n + 7) / 8 * 8 * (size_t)B, 0.0);
  for (int k0 = 0; k0 < n; k0 += B) {
    const int k1 = std::min(n, k0 + B);
    // The block's columns, for its rows and every row below: what earlier blocks left, less
    // this block's own columns to the left.
    for (int j = k0; j < k1; j++) {
      double* rj = &A[(size_t)j * ld];
      const double s = rj[j] - dot(rj + k0, rj + k0, j - k0);
      if (!(s > 0)) return false;
      const double djj = std::sqrt(s);
      rj[j] = djj;
      for (int i = j + 1; i < n; i++) {
        double* ri = &A[(size_t)i * ld];
        ri[j] = (ri[j] - dot(ri + k0, rj + k0, j - k0)) / djj;
      }
    }
    if (k1 == n) break;
    // The rest, A[k1.., k1..] -= L21 L21ᵀ, with the panel's columns as the vectors summed.
    const int d = n - k1, nb = k1 - k0;
    for (int i = 0; i < d; i++) {
      const double* ri = &A[(size_t)(k1 + i) * ld + k0];
      for (int j = 0; j < nb; j++) pk[packedAt(B, j, i)] = ri[j];
    }
    addTiles(pk.data(), B, nb, d, &A[(size_t)k1 * ld + k1], ld, -1.0);
  }
  // L y = b by rows, then Lᵀ x = y by rows of L (each x_i, once known, taken out of the rest).
  for (int i = 0; i < n; i++) b[i] = (b[i] - dot(&A[(size_t)i * ld], b.data(), i)) / A[(size_t)i * ld + i];
  for (int i = n - 1; i >= 0; i--) {
    const double* ri = &A[(size_t)i * ld];
    b[i] /= ri[i];
    const double xi = b[i];
    for (int k = 0; k < i; k++) b[k] -= ri[k] * xi;
  }
  return true;
}

// The lower half of Σ_s v_s v_sᵀ over m vectors of d values, v_s[k] = get(s, k), into a d × d
// matrix whose rows are W = d rounded up to 8 apart (returned in W), summed by addTiles over
// panels of up to 256 packed vectors.
template <class Get>
std::vector<double> gramLower(int64_t m, int d, Get get, int& W) {
  W = (d + 7) / 8 * 8;
  const int J = (int)std::max<int64_t>(1, std::min<int64_t>(256, m));
  // Values d..W stay zero in every panel: only the first d of each vector are ever written.
  std::vector<double> G((size_t)W * W, 0.0), pk((size_t)W * J, 0.0);
  for (int64_t s0 = 0; s0 < m; s0 += J) {
    const int nb = (int)std::min<int64_t>(J, m - s0);
    for (int j = 0; j < nb; j++)
      for (int k = 0; k < d; k++) pk[packedAt(J, j, k)] = get(s0 + j, k);
    addTiles(pk.data(), J, nb, d, G.data(), W, 1.0);
  }
  return G;
}

}  // namespace

bool ridge(const float* X, const float* y, int64_t n, int p, const float* lambda, float* out) {
  int W;
  if (p > (int64_t)n) {
    // Fewer ratings than features: the dual, (X Λ⁻¹ Xᵀ + I) a = y and w = Λ⁻¹ Xᵀ a, is n × n:
    // the Gram matrix of the ratings' rows scaled by Λ^-1/2, summed over features.
    const int N = (int)n;
    std::vector<double> a(y, y + N), scale(p), w(p, 0.0);
    for (int k = 0; k < p; k++) scale[k] = 1.0 / std::sqrt((double)lambda[k]);
    std::vector<double> A = gramLower(p, N, [&](int64_t k, int i) { return X[(size_t)i * p + k] * scale[k]; }, W);
    for (int i = 0; i < N; i++) A[(size_t)i * W + i] += 1.0;
    if (!choleskySolve(A, W, a, N)) return false;
    for (int i = 0; i < N; i++) axpy(w.data(), a[i], &X[(size_t)i * p], p);
    for (int k = 0; k < p; k++) out[k] = (float)(w[k] * scale[k] * scale[k]);
    return true;
  }
  // The primal, (Xᵀ X + Λ) w = Xᵀ y, is p × p.
  std::vector<double> b(p, 0.0);
  for (int64_t j = 0; j < n; j++) axpy(b.data(), y[j], &X[(size_t)j * p], p);
  std::vector<double> G = gramLower(n, p, [&](int64_t j, int k) { return (double)X[(size_t)j * p + k]; }, W);
  for (int k = 0; k < p; k++) G[(size_t)k * W + k] += lambda[k];
  if (!choleskySolve(G, W, b, p)) return false;
  for (int k = 0; k < p; k++) out[k] = (float)b[k];
  return true;
}

}  // namespace KERNEL_NS
}  // namespace nnmf
