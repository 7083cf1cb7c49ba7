// Ridge regression for the closed-form fold-ins (MF's user and item rows, I-AutoRec's user rows):
// Cholesky of the smaller of the primal and dual systems, in double precision. The AVX2 clone is
// picked at load time.
#include "ridge.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nnmf {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RIDGE_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define RIDGE_CLONES
#endif

// Cholesky factorisation of the symmetric positive definite A (n × n, lower half used) in place,
// then the solution of A x = b into b. False when A is not positive definite.
bool choleskySolve(std::vector<double>& A, std::vector<double>& b, int n) {
  for (int j = 0; j < n; j++) {
    double* rj = &A[(size_t)j * n];
    double s = rj[j];
    for (int k = 0; k < j; k++) s -= rj[k] * rj[k];
    if (!(s > 0)) return false;
    const double djj = std::sqrt(s);
    rj[j] = djj;
    for (int i = j + 1; i < n; i++) {
      double* ri = &A[(size_t)i * n];
      double t = ri[j];
      for (int k = 0; k < j; k++) t -= ri[k] * rj[k];
      ri[j] = t / djj;
    }
  }
  for (int i = 0; i < n; i++) {
    double t = b[i];
    for (int k = 0; k < i; k++) t -= A[(size_t)i * n + k] * b[k];
    b[i] = t / A[(size_t)i * n + i];
  }
  for (int i = n - 1; i >= 0; i--) {
    double t = b[i];
    for (int k = i + 1; k < n; k++) t -= A[(size_t)k * n + i] * b[k];
    b[i] = t / A[(size_t)i * n + i];
  }
  return true;
}

RIDGE_CLONES
bool ridgeImpl(const float* X, const float* y, int64_t n, int p, const float* lambda, float* out) {
  if (p > (int64_t)n) {
    // Fewer ratings than features: the dual, (X Λ⁻¹ Xᵀ + I) a = y and w = Λ⁻¹ Xᵀ a, is n × n.
    const int N = (int)n;
    std::vector<double> A((size_t)N * N), a(y, y + N), inv(p);
    for (int k = 0; k < p; k++) inv[k] = 1.0 / lambda[k];
    for (int i = 0; i < N; i++)
      for (int j = 0; j <= i; j++) {
        const float *xi = X + (size_t)i * p, *xj = X + (size_t)j * p;
        double s = 0;
        for (int k = 0; k < p; k++) s += (double)xi[k] * xj[k] * inv[k];
        A[(size_t)i * N + j] = s + (i == j ? 1.0 : 0.0);
      }
    if (!choleskySolve(A, a, N)) return false;
    for (int k = 0; k < p; k++) {
      double s = 0;
      for (int i = 0; i < N; i++) s += (double)X[(size_t)i * p + k] * a[i];
      out[k] = (float)(s * inv[k]);
    }
    return true;
  }
  // The primal, (Xᵀ X + Λ) w = Xᵀ y, is p × p.
  std::vector<double> A((size_t)p * p, 0.0), b(p, 0.0);
  for (int64_t i = 0; i < n; i++) {
    const float* xi = X + (size_t)i * p;
    for (int r = 0; r < p; r++) {
      const double v = xi[r];
      if (v == 0) continue;
      b[r] += v * y[i];
      double* row = &A[(size_t)r * p];
      for (int c = 0; c <= r; c++) row[c] += v * xi[c];
    }
  }
  for (int k = 0; k < p; k++) A[(size_t)k * p + k] += lambda[k];
  if (!choleskySolve(A, b, p)) return false;
  for (int k = 0; k < p; k++) out[k] = (float)b[k];
  return true;
}

}  // namespace

bool ridge(const float* X, const float* y, int64_t n, int p, const float* lambda, float* out) {
  return ridgeImpl(X, y, n, p, lambda, out);
}

}  // namespace nnmf
