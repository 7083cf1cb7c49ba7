// Ridge regression for the closed-form fold-ins (MF's user and item rows, I-AutoRec's user rows):
// Cholesky of the smaller of the primal and dual systems, in double precision. Compiled once per
// instruction set with the rest of the kernel (kernel.h), so its loops use the widest vectors.
#include "kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nnmf {
namespace KERNEL_NS {
namespace {

// Σ a[k]·b[k] over four partial sums: independent chains the compiler can vectorise without
// reordering a single sum (which strict floating point forbids).
inline double dot(const double* __restrict a, const double* __restrict b, int n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; k++) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

// out[0, n) += s · x[0, n)
inline void axpy(double* __restrict out, double s, const double* __restrict x, int n) {
  for (int k = 0; k < n; k++) out[k] += s * x[k];
}

// Cholesky factorisation of the symmetric positive definite A (n × n, lower half used) in place,
// then the solution of A x = b into b. False when A is not positive definite.
bool choleskySolve(std::vector<double>& A, std::vector<double>& b, int n) {
  for (int j = 0; j < n; j++) {
    double* rj = &A[(size_t)j * n];
    const double s = rj[j] - dot(rj, rj, j);
    if (!(s > 0)) return false;
    const double djj = std::sqrt(s);
    rj[j] = djj;
    for (int i = j + 1; i < n; i++) {
      double* ri = &A[(size_t)i * n];
      ri[j] = (ri[j] - dot(ri, rj, j)) / djj;
    }
  }
  for (int i = 0; i < n; i++) b[i] = (b[i] - dot(&A[(size_t)i * n], b.data(), i)) / A[(size_t)i * n + i];
  for (int i = n - 1; i >= 0; i--) {
    double t = b[i];
    for (int k = i + 1; k < n; k++) t -= A[(size_t)k * n + i] * b[k];
    b[i] = t / A[(size_t)i * n + i];
  }
  return true;
}

}  // namespace

bool ridge(const float* X, const float* y, int64_t n, int p, const float* lambda, float* out) {
  if (p > (int64_t)n) {
    // Fewer ratings than features: the dual, (X Λ⁻¹ Xᵀ + I) a = y and w = Λ⁻¹ Xᵀ a, is n × n.
    // With Z = X Λ^-1/2 (and its transpose, so that each row of A is built by contiguous axpys)
    // the matrix is Z Zᵀ + I.
    const int N = (int)n;
    std::vector<double> A((size_t)N * N, 0.0), a(y, y + N), scale(p), ZT((size_t)p * N);
    for (int k = 0; k < p; k++) scale[k] = 1.0 / std::sqrt((double)lambda[k]);
    for (int i = 0; i < N; i++)
      for (int k = 0; k < p; k++) ZT[(size_t)k * N + i] = X[(size_t)i * p + k] * scale[k];
    // Rows of A a block at a time, so that each row of ZT is read once per block.
    const int B = 8;
    for (int i0 = 0; i0 < N; i0 += B) {
      const int i1 = std::min(N, i0 + B);
      for (int k = 0; k < p; k++) {
        const double* z = &ZT[(size_t)k * N];
        for (int i = i0; i < i1; i++) axpy(&A[(size_t)i * N], z[i], z, i + 1);
      }
    }
    for (int i = 0; i < N; i++) A[(size_t)i * N + i] += 1.0;
    if (!choleskySolve(A, a, N)) return false;
    for (int k = 0; k < p; k++) out[k] = (float)(dot(&ZT[(size_t)k * N], a.data(), N) * scale[k]);
    return true;
  }
  // The primal, (Xᵀ X + Λ) w = Xᵀ y, is p × p.
  // A block of ratings at a time, so that each row of A stays in cache for the whole block.
  const int B = 16;
  std::vector<double> A((size_t)p * p, 0.0), b(p, 0.0), xd((size_t)B * p);
  for (int64_t i0 = 0; i0 < n; i0 += B) {
    const int nb = (int)std::min<int64_t>(B, n - i0);
    for (int j = 0; j < nb; j++)
      for (int k = 0; k < p; k++) xd[(size_t)j * p + k] = X[(size_t)(i0 + j) * p + k];
    for (int r = 0; r < p; r++) {
      double* row = &A[(size_t)r * p];
      for (int j = 0; j < nb; j++) {
        const double* x = &xd[(size_t)j * p];
        if (x[r] == 0) continue;
        b[r] += x[r] * y[i0 + j];
        axpy(row, x[r], x, r + 1);
      }
    }
  }
  for (int k = 0; k < p; k++) A[(size_t)k * p + k] += lambda[k];
  if (!choleskySolve(A, b, p)) return false;
  for (int k = 0; k < p; k++) out[k] = (float)b[k];
  return true;
}

}  // namespace KERNEL_NS
}  // namespace nnmf
