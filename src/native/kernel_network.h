// The NNMF network as the kernel lays it out (rows padded to 8 floats, transposed copies for
// the backward pass), its gradient and per-thread scratch, and the forward and backward passes
// over a chunk of samples (kernel_network.cc). Shared by the trainer and the scorer.
#pragma once
#include <algorithm>
#include <cmath>

#include "kernel.h"
#include "kernel_simd.h"

namespace nnmf {
namespace KERNEL_NS {

// out = bias + x[0:K] * W, W is K rows of NV*8 floats with row stride ldw.
template <int NV>
void rowmat(const float* __restrict x, int K, const float* __restrict W, int ldw, const float* __restrict bias,
               float* __restrict out) {
  v8f acc[NV];
#pragma GCC unroll 16
  for (int j = 0; j < NV; j++) acc[j] = bias ? ld(bias + 8 * j) : splat(0.0f);
  for (int k = 0; k < K; k++) {
    const v8f xk = splat(x[k]);
    const float* w = W + (size_t)k * ldw;
#pragma GCC unroll 16
    for (int j = 0; j < NV; j++) acc[j] += xk * ld(w + 8 * j);
  }
#pragma GCC unroll 16
  for (int j = 0; j < NV; j++) st(out + 8 * j, acc[j]);
}

// dW[k, :] += sum_s A[s, k] * D[s, :] for k < K.
template <int NV>
void outer(const float* __restrict A, int lda, int S, const float* __restrict D, int ldd, int K,
           float* __restrict dW, int ldw) {
  for (int k = 0; k < K; k++) {
    v8f acc[NV];
    float* w = dW + (size_t)k * ldw;
#pragma GCC unroll 16
    for (int j = 0; j < NV; j++) acc[j] = ld(w + 8 * j);
    for (int s = 0; s < S; s++) {
      const v8f a = splat(A[(size_t)s * lda + k]);
      const float* d = D + (size_t)s * ldd;
#pragma GCC unroll 16
      for (int j = 0; j < NV; j++) acc[j] += a * ld(d + 8 * j);
    }
#pragma GCC unroll 16
    for (int j = 0; j < NV; j++) st(w + 8 * j, acc[j]);
  }
}

typedef void (*RowMatFn)(const float*, int, const float*, int, const float*, float*);
typedef void (*OuterFn)(const float*, int, int, const float*, int, int, float*, int);

template <int NV>
struct Pick {
  static RowMatFn rowmatFn(int nv) { return nv == NV ? &rowmat<NV> : Pick<NV - 1>::rowmatFn(nv); }
  static OuterFn outerFn(int nv) { return nv == NV ? &outer<NV> : Pick<NV - 1>::outerFn(nv); }
};
template <>
struct Pick<0> {
  static RowMatFn rowmatFn(int) { return nullptr; }
  static OuterFn outerFn(int) { return nullptr; }
};

static const int CHUNK = 32;

// One bias-corrected Adam step (the t-th, from 1) on w[0, n), with gradient g and moment slots
// s1, s2: the trainer's update of the network and the latents, and the fold-in's of one row.
static inline void adamStep(float lr, float beta1, float beta2, float eps, int64_t t, float* w, float* s1, float* s2, const float* g,
                            int64_t n) {
  const float c1 = 1.f - std::pow(beta1, (float)t), c2 = 1.f - std::pow(beta2, (float)t);
  for (int64_t k = 0; k < n; k++) {
    s1[k] = beta1 * s1[k] + (1.f - beta1) * g[k];
    s2[k] = beta2 * s2[k] + (1.f - beta2) * g[k] * g[k];
    w[k] -= lr * (s1[k] / c1) / (std::sqrt(s2[k] / c2) + eps);
  }
}

// The network re-laid for the kernels: every row padded to a multiple of 8 floats, and
// transposed copies for the backward pass. Padding is zero, so padded units never contribute.
struct Net {
  int K0, K0P, h1, h2, h3, H1P, H2P, H3P;
  Buf W1, W1T, W2, W2T, W3, W3T, b1, b2, b3, w4;
  float b4;
  RowMatFn f1, f2, f3, bx, b2f, b1f;
  OuterFn o1, o2, o3;

  explicit Net(const Model& m)
      : K0(m.inWidth()), K0P(pad8(K0)), h1(m.h1), h2(m.h2), h3(m.h3), H1P(pad8(h1)), H2P(pad8(h2)), H3P(pad8(h3)) {
    W1.resize((size_t)K0 * H1P);
    W1T.resize((size_t)h1 * K0P);
    W2.resize((size_t)h1 * H2P);
    W2T.resize((size_t)h2 * H1P);
    W3.resize((size_t)h2 * H3P);
    W3T.resize((size_t)h3 * H2P);
    b1.resize(H1P);
    b2.resize(H2P);
    b3.resize(H3P);
    w4.resize(H3P);
    f1 = Pick<16>::rowmatFn(H1P / 8);
    f2 = Pick<16>::rowmatFn(H2P / 8);
    f3 = Pick<16>::rowmatFn(H3P / 8);
    b2f = Pick<16>::rowmatFn(H2P / 8);
    b1f = Pick<16>::rowmatFn(H1P / 8);
    bx = Pick<16>::rowmatFn(K0P / 8);
    o1 = Pick<16>::outerFn(H1P / 8);
    o2 = Pick<16>::outerFn(H2P / 8);
    o3 = Pick<16>::outerFn(H3P / 8);
    load(m.net);
  }

  static void dense(const float* src, int in, int out, int outP, float* dst, float* dstT, int inP) {
    for (int k = 0; k < in; k++)
      for (int j = 0; j < out; j++) {
        dst[(size_t)k * outP + j] = src[(size_t)k * out + j];
        dstT[(size_t)j * inP + k] = src[(size_t)k * out + j];
      }
  }

  void load(const float* net) {
    const float* p = net;
    dense(p, K0, h1, H1P, W1.p, W1T.p, K0P);
    p += (size_t)K0 * h1;
    std::copy(p, p + h1, b1.p);
    p += h1;
    dense(p, h1, h2, H2P, W2.p, W2T.p, H1P);
    p += (size_t)h1 * h2;
    std::copy(p, p + h2, b2.p);
    p += h2;
    dense(p, h2, h3, H3P, W3.p, W3T.p, H2P);
    p += (size_t)h2 * h3;
    std::copy(p, p + h3, b3.p);
    p += h3;
    std::copy(p, p + h3, w4.p);
    p += h3;
    b4 = *p;
  }
};

// Gradient of the network in padded layout, one per thread.
struct NetGrad {
  Buf W1, W2, W3, b1, b2, b3, w4;
  double b4 = 0;
  explicit NetGrad(const Net& n)
      : W1((size_t)n.K0 * n.H1P), W2((size_t)n.h1 * n.H2P), W3((size_t)n.h2 * n.H3P), b1(n.H1P), b2(n.H2P),
        b3(n.H3P), w4(n.H3P) {}
  void zero() {
    W1.zero(), W2.zero(), W3.zero(), b1.zero(), b2.zero(), b3.zero(), w4.zero();
    b4 = 0;
  }
  void add(const NetGrad& o) {
    auto acc = [](Buf& a, const Buf& b) {
      for (size_t k = 0; k < a.n; k++) a.p[k] += b.p[k];
    };
    acc(W1, o.W1), acc(W2, o.W2), acc(W3, o.W3), acc(b1, o.b1), acc(b2, o.b2), acc(b3, o.b3), acc(w4, o.w4);
    b4 += o.b4;
  }
  // Writes the gradient in the model's flat layout.
  void unpad(const Net& n, float* g) const {
    float* p = g;
    auto take = [&](const Buf& b, int rows, int cols, int ld) {
      for (int k = 0; k < rows; k++)
        for (int j = 0; j < cols; j++) *p++ = b.p[(size_t)k * ld + j];
    };
    take(W1, n.K0, n.h1, n.H1P);
    take(b1, 1, n.h1, n.H1P);
    take(W2, n.h1, n.h2, n.H2P);
    take(b2, 1, n.h2, n.H2P);
    take(W3, n.h2, n.h3, n.H3P);
    take(b3, 1, n.h3, n.H3P);
    take(w4, 1, n.h3, n.H3P);
    *p = (float)b4;
  }
};

// Per-thread scratch for one chunk of samples.
struct Work {
  Buf X, H1, H2, H3, DA, DB;
  float y[CHUNK], dy[CHUNK];
  NetGrad g;
  double sse = 0;
  explicit Work(const Net& n)
      : X((size_t)CHUNK * n.K0P), H1((size_t)CHUNK * n.H1P), H2((size_t)CHUNK * n.H2P), H3((size_t)CHUNK * n.H3P),
        DA((size_t)CHUNK * std::max(n.H1P, n.H3P)), DB((size_t)CHUNK * n.H2P), g(n) {}
};

static inline void gather(const Model& m, int32_t u, int32_t i, float* x, int K0P) {
  const int R = m.rowWidth();
  const float* ur = m.users + (size_t)u * R;
  const float* ir = m.items + (size_t)i * R;
  for (int k = 0; k < m.d; k++) x[k] = ur[k];
  for (int k = 0; k < m.d; k++) x[m.d + k] = ir[k];
  for (int k = 0; k < m.dp; k++) x[2 * m.d + k] = ur[m.d + k] * ir[m.d + k];
  for (int k = m.inWidth(); k < K0P; k++) x[k] = 0.f;
}

// The user's and the item's bias terms (the last column of their rows), when the model has them.
static inline float biasTerms(const Model& m, const float* userRow, const float* itemRow) {
  const int R = m.rowWidth();
  return m.useBias ? userRow[R - 1] + itemRow[R - 1] : 0.f;
}

// The linear output from the last hidden layer, plus the bias terms.
static inline float output(const Model& m, const Net& n, const float* h3, const float* userRow, const float* itemRow) {
  float y = n.b4;
  for (int j = 0; j < n.h3; j++) y += h3[j] * n.w4.p[j];
  return y + biasTerms(m, userRow, itemRow);
}

// Runs the chunk's S samples (user us[s], item is[s]) through the network: activations in w,
// predictions in w.y.
void forward(const Model& m, const Net& n, Work& w, const int32_t* us, const int32_t* is, int S);

// Back-propagates w.dy through the chunk. Accumulates the network gradient when wantW and
// writes d(loss)/d(input row) to dx (K0P floats per sample) when dx is not null.
void backward(const Net& n, Work& w, int S, bool wantW, float* dx);

}  // namespace KERNEL_NS
}  // namespace nnmf
