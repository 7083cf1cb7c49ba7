// Fold-in of one NNMF user: the user's row [U (d) | U' (dp) | bias] fitted to their ratings
// with the network and the item rows frozen, by full-batch Adam on the training objective
// Σ (r - y)² + λ‖row‖². The item side is the same computation with the roles swapped: an item's
// row [V (d) | V' (dp) | bias] fitted to its raters' ratings, the network and the user rows frozen
// (only which block of the first layer each side's latent feeds differs). A few dozen steps over a hundred ratings: every inner loop runs over a
// layer's units, contiguous, so the compiler vectorises it; the AVX2 clone is picked at load time.
#include "foldin.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nnmf {
namespace {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FOLDIN_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define FOLDIN_CLONES
#endif

// exp for the sigmoid, accurate to a few ulp on the range a network produces, written so that a
// loop of it vectorises (libm's expf would be one call per unit).
inline float fastExp(float x) {
  x = std::min(88.f, std::max(-88.f, x));
  const float t = x * 1.44269504f;  // x / ln 2
  const float fi = std::floor(t);
  const float f = t - fi;  // in [0, 1)
  // 2^f on [0, 1), degree-6 minimax polynomial.
  float p = 1.535336188319500e-4f;
  p = p * f + 1.339887440266574e-3f;
  p = p * f + 9.618437357674640e-3f;
  p = p * f + 5.550332471162809e-2f;
  p = p * f + 2.402264791363012e-1f;
  p = p * f + 6.931472028550421e-1f;
  p = p * f + 1.f;
  union {
    int32_t i;
    float f;
  } s;
  s.i = ((int32_t)fi + 127) << 23;
  return p * s.f;
}

// Sigmoid of z[0, n) in place.
inline void sigmoid(float* z, int n) {
  for (int j = 0; j < n; j++) z[j] = 1.f / (1.f + fastExp(-z[j]));
}

// out[0, n) += s · row[0, n)
inline void axpy(float* __restrict out, float s, const float* __restrict row, int n) {
  for (int j = 0; j < n; j++) out[j] += s * row[j];
}

inline float dot(const float* a, const float* b, int n) {
  float s = 0;
  for (int j = 0; j < n; j++) s += a[j] * b[j];
  return s;
}

struct Layer {
  const float *W, *b;  // W: [in, out] row-major
  int in, out;
};

// `itemSide`: `row` is an item's and `others` index users; otherwise `row` is a user's and `others` index items.
FOLDIN_CLONES
FoldInResult foldInImpl(const Model& m, bool itemSide, const int32_t* others, const float* ratings, int64_t n, float* row,
                        const FoldInOpts& o) {
  const int d = m.d, dp = m.dp, R = m.rowWidth(), K0 = m.inWidth();
  // The first layer reads [U | V | U' ⊙ V']: the row's own latent is one of the first two blocks.
  const int selfOff = itemSide ? d : 0, otherOff = itemSide ? 0 : d;
  const float* table = itemSide ? m.users : m.items;
  const int h1 = m.h1, h2 = m.h2, h3 = m.h3;
  // The flat network: W1 [K0, h1] b1, W2 [h1, h2] b2, W3 [h2, h3] b3, w4 [h3] b4.
  const float* W1 = m.net;
  const float* b1 = W1 + (size_t)K0 * h1;
  const float* W2 = b1 + h1;
  const float* b2 = W2 + (size_t)h1 * h2;
  const float* W3 = b2 + h2;
  const float* b3 = W3 + (size_t)h2 * h3;
  const float* w4 = b3 + h3;
  const float b4 = w4[h3];
  // Transposes, so that back-propagation is also a run of axpys: WT[j, i] = W[i, j].
  std::vector<float> W2T((size_t)h2 * h1), W3T((size_t)h3 * h2);
  for (int i = 0; i < h1; i++)
    for (int j = 0; j < h2; j++) W2T[(size_t)j * h1 + i] = W2[(size_t)i * h2 + j];
  for (int i = 0; i < h2; i++)
    for (int j = 0; j < h3; j++) W3T[(size_t)j * h2 + i] = W3[(size_t)i * h3 + j];

  // What does not depend on the row: b1 + the other side's latent times its block of W1 per
  // rating, and the other side's bias.
  std::vector<float> itemPart((size_t)n * h1), itemBias(n);
  for (int64_t j = 0; j < n; j++) {
    const float* ir = table + (size_t)others[j] * R;
    float* c = &itemPart[(size_t)j * h1];
    std::copy(b1, b1 + h1, c);
    for (int k = 0; k < d; k++) axpy(c, ir[k], W1 + (size_t)(otherOff + k) * h1, h1);
    itemBias[j] = m.useBias ? ir[R - 1] : 0.f;
  }

  std::vector<float> a(h1), z1(h1), z2(h2), z3(h3), g1(h1), g2(h2), g3(h3);
  std::vector<float> sumD1(h1), prodD1((size_t)std::max(dp, 1) * h1), grad(R), m1(R, 0.f), m2(R, 0.f);
  const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  FoldInResult res{0, 0};
  for (int step = 0; step <= o.steps; step++) {
    // The row's own share of the first layer, once per step.
    std::fill(a.begin(), a.end(), 0.f);
    for (int k = 0; k < d; k++) axpy(a.data(), row[k], W1 + (size_t)(selfOff + k) * h1, h1);
    std::fill(sumD1.begin(), sumD1.end(), 0.f);
    std::fill(prodD1.begin(), prodD1.end(), 0.f);
    double sse = 0, gBias = 0;
    for (int64_t j = 0; j < n; j++) {
      const float* ir = table + (size_t)others[j] * R;
      const float* c = &itemPart[(size_t)j * h1];
      for (int t = 0; t < h1; t++) z1[t] = a[t] + c[t];
      for (int k = 0; k < dp; k++) axpy(z1.data(), row[d + k] * ir[d + k], W1 + (size_t)(2 * d + k) * h1, h1);
      sigmoid(z1.data(), h1);
      std::copy(b2, b2 + h2, z2.begin());
      for (int i = 0; i < h1; i++) axpy(z2.data(), z1[i], W2 + (size_t)i * h2, h2);
      sigmoid(z2.data(), h2);
      std::copy(b3, b3 + h3, z3.begin());
      for (int i = 0; i < h2; i++) axpy(z3.data(), z2[i], W3 + (size_t)i * h3, h3);
      sigmoid(z3.data(), h3);
      const float y = dot(z3.data(), w4, h3) + b4 + (m.useBias ? row[R - 1] : 0.f) + itemBias[j];
      const float e = y - ratings[j];
      sse += (double)e * e;
      if (step == o.steps) continue;  // the last pass only measures
      const float dy = 2.f * e;
      gBias += dy;
      for (int t = 0; t < h3; t++) g3[t] = dy * w4[t] * z3[t] * (1.f - z3[t]);
      std::fill(g2.begin(), g2.end(), 0.f);
      for (int t = 0; t < h3; t++) axpy(g2.data(), g3[t], &W3T[(size_t)t * h2], h2);
      for (int t = 0; t < h2; t++) g2[t] *= z2[t] * (1.f - z2[t]);
      std::fill(g1.begin(), g1.end(), 0.f);
      for (int t = 0; t < h2; t++) axpy(g1.data(), g2[t], &W2T[(size_t)t * h1], h1);
      for (int t = 0; t < h1; t++) g1[t] *= z1[t] * (1.f - z1[t]);
      // dL/dU_k = W1[selfOff + k] · Σ_j δ1_j and dL/dU'_k = W1[2d+k] · Σ_j V'_jk δ1_j: summed here, dotted once per step.
      axpy(sumD1.data(), 1.f, g1.data(), h1);
      for (int k = 0; k < dp; k++) axpy(&prodD1[(size_t)k * h1], ir[d + k], g1.data(), h1);
    }
    double reg = 0;
    for (int k = 0; k < R; k++) reg += (double)row[k] * row[k];
    res.loss = sse + o.lambda * reg;
    res.rmse = n > 0 ? std::sqrt(sse / (double)n) : 0;
    if (step == o.steps) break;
    for (int k = 0; k < d; k++) grad[k] = dot(W1 + (size_t)(selfOff + k) * h1, sumD1.data(), h1);
    for (int k = 0; k < dp; k++) grad[d + k] = dot(W1 + (size_t)(2 * d + k) * h1, &prodD1[(size_t)k * h1], h1);
    grad[R - 1] = m.useBias ? (float)gBias : 0.f;
    for (int k = 0; k < R; k++) grad[k] += 2.f * o.lambda * row[k];
    // Adam, bias-corrected.
    const float c1 = 1.f - std::pow(beta1, (float)(step + 1)), c2 = 1.f - std::pow(beta2, (float)(step + 1));
    for (int k = 0; k < R; k++) {
      m1[k] = beta1 * m1[k] + (1 - beta1) * grad[k];
      m2[k] = beta2 * m2[k] + (1 - beta2) * grad[k] * grad[k];
      row[k] -= o.lr * (m1[k] / c1) / (std::sqrt(m2[k] / c2) + eps);
    }
    if (!m.useBias) row[R - 1] = 0.f;
  }
  return res;
}

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

FOLDIN_CLONES
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

FoldInResult foldIn(const Model& m, const int32_t* items, const float* ratings, int64_t n, float* row, const FoldInOpts& o) {
  return foldInImpl(m, false, items, ratings, n, row, o);
}

FoldInResult foldInItem(const Model& m, const int32_t* users, const float* ratings, int64_t n, float* row, const FoldInOpts& o) {
  return foldInImpl(m, true, users, ratings, n, row, o);
}

}  // namespace nnmf
