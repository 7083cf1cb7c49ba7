// Compiled once per instruction set: KERNEL_NS is k_avx512 (built with -mavx512f), k_avx2
// (-mavx2 -mfma) or k_generic. GCC vector extensions let the same source use 256-bit
// registers where the build allows them and pairs of 128-bit registers elsewhere; scoring a
// user against the catalogue uses 512-bit vectors where the build has them.
#include "kernel.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace nnmf {
namespace KERNEL_NS {

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

static inline v8f ld(const float* p) { return *reinterpret_cast<const v8f*>(p); }
static inline void st(float* p, v8f v) { *reinterpret_cast<v8f*>(p) = v; }
static inline v8f splat(float x) { return v8f{x, x, x, x, x, x, x, x}; }
static inline int pad8(int x) { return (x + 7) & ~7; }

// 64-byte aligned (a 512-bit vector), zero-initialised float buffer.
struct Buf {
  float* p = nullptr;
  size_t n = 0;
  Buf() = default;
  explicit Buf(size_t count) { resize(count); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  Buf(Buf&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr; o.n = 0; }
  ~Buf() { std::free(p); }
  void resize(size_t count) {
    std::free(p);
    n = count;
    size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
    p = static_cast<float*>(std::aligned_alloc(64, bytes > 0 ? bytes : 64));
    zero();
  }
  void zero() { std::memset(p, 0, n * sizeof(float)); }
  float& operator[](size_t k) { return p[k]; }
};

// Clamp and round-to-nearest for the exp below, per vector width. min/max return their second
// operand when either is NaN, so x goes second: a NaN stays NaN (as in the portable form) and
// a diverging network is not hidden. With AVX2 and AVX-512 the rounding is the conversion's
// own; the portable form rounds half away from zero, which differs only at exact ties.
// The portable forms, for every width the build uses without AVX2.
template <class V>
static inline V clampPortable(V x, float lo, float hi) {
  x = x > hi ? hi : x;
  return x < lo ? lo : x;
}
template <class V, class I>
static inline I roundPortable(V x) {
  return __builtin_convertvector(x + (x >= 0.0f ? 0.5f : -0.5f), I);
}
static inline v8f vclamp(v8f x, float lo, float hi) {
#ifdef __AVX2__
  return (v8f)_mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), (__m256)x));
#else
  return clampPortable(x, lo, hi);
#endif
}
static inline v8i vround(v8f x) {
#ifdef __AVX2__
  return (v8i)_mm256_cvtps_epi32((__m256)x);
#else
  return roundPortable<v8f, v8i>(x);
#endif
}
#if !defined(__AVX2__) && !defined(__AVX512F__)
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
static inline v4f vclamp(v4f x, float lo, float hi) { return clampPortable(x, lo, hi); }
static inline v4i vround(v4f x) { return roundPortable<v4f, v4i>(x); }
#endif
#ifdef __AVX512F__
// GCC 12's own AVX-512 headers trip -Wuninitialized (their "undefined" pass-through operands).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
static inline v16f vclamp(v16f x, float lo, float hi) {
  return (v16f)_mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), (__m512)x));
}
static inline v16i vround(v16f x) { return (v16i)_mm512_cvtps_epi32((__m512)x); }
#endif

// exp for vectors (Cephes expf): range reduction by powers of two, degree-5 polynomial.
template <class V, class I>
static inline V vexpT(V x) {
  x = vclamp(x, -87.0f, 88.0f);
  const I n = vround(x * 1.44269504088896341f);
  const V nf = __builtin_convertvector(n, V);
  const V r = x - nf * 0.693359375f - nf * -2.12194440e-4f;
  V p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V e = p * r * r + r + 1.0f;
  return e * (V)((n + 127) << 23);
}

template <class V, class I>
static inline V vsigmoidT(V z) { return 1.0f / (1.0f + vexpT<V, I>(-z)); }

static inline v8f vsigmoid(v8f z) { return vsigmoidT<v8f, v8i>(z); }

static inline void sigmoidRow(float* z, int widthPadded) {
  for (int j = 0; j < widthPadded; j += 8) {
    st(z + j, vsigmoid(ld(z + j)));
  }
}

// out = bias + x[0:K] * W, W is K rows of NV*8 floats with row stride ldw.
template <int NV>
static void rowmat(const float* __restrict x, int K, const float* __restrict W, int ldw, const float* __restrict bias,
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
static void outer(const float* __restrict A, int lda, int S, const float* __restrict D, int ldd, int K,
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

static void forward(const Model& m, const Net& n, Work& w, const int32_t* us, const int32_t* is, int S) {
  for (int s = 0; s < S; s++) gather(m, us[s], is[s], w.X.p + (size_t)s * n.K0P, n.K0P);
  for (int s = 0; s < S; s++) {
    float* h = w.H1.p + (size_t)s * n.H1P;
    n.f1(w.X.p + (size_t)s * n.K0P, n.K0, n.W1.p, n.H1P, n.b1.p, h);
    sigmoidRow(h, n.H1P);
  }
  for (int s = 0; s < S; s++) {
    float* h = w.H2.p + (size_t)s * n.H2P;
    n.f2(w.H1.p + (size_t)s * n.H1P, n.h1, n.W2.p, n.H2P, n.b2.p, h);
    sigmoidRow(h, n.H2P);
  }
  const int R = m.rowWidth();
  for (int s = 0; s < S; s++) {
    float* h = w.H3.p + (size_t)s * n.H3P;
    n.f3(w.H2.p + (size_t)s * n.H2P, n.h2, n.W3.p, n.H3P, n.b3.p, h);
    sigmoidRow(h, n.H3P);
    w.y[s] = output(m, n, h, m.users + (size_t)us[s] * R, m.items + (size_t)is[s] * R);
  }
}

static inline void sigmoidGrad(float* d, const float* h, int width) {
  for (int j = 0; j < width; j += 8) {
    v8f hv = ld(h + j);
    st(d + j, ld(d + j) * hv * (splat(1.0f) - hv));
  }
}

// Adds a dense layer's gradient for the chunk: kernel += A^T D, bias += column sums of D.
static void accumulateDense(int S, const float* A, int lda, int K, const float* D, int ldd, OuterFn outerFn, float* gW,
                            float* gb) {
  for (int s = 0; s < S; s++)
    for (int j = 0; j < ldd; j++) gb[j] += D[(size_t)s * ldd + j];
  outerFn(A, lda, S, D, ldd, K, gW, ldd);
}

// out = (D W^T) * sigmoid'(H): the error one layer down, for each sample of the chunk.
static void backSigmoid(int S, RowMatFn back, const float* D, int ldd, int nOut, const float* WT, const float* H, int ldh,
                        float* out) {
  for (int s = 0; s < S; s++) {
    float* d = out + (size_t)s * ldh;
    back(D + (size_t)s * ldd, nOut, WT, ldh, nullptr, d);
    sigmoidGrad(d, H + (size_t)s * ldh, ldh);
  }
}

// Back-propagates w.dy through the chunk. Accumulates the network gradient when wantW and
// writes d(loss)/d(input row) to dx (K0P floats per sample) when dx is not null.
static void backward(const Net& n, Work& w, int S, bool wantW, float* dx) {
  float* D3 = w.DA.p;
  for (int s = 0; s < S; s++) {
    float* d = D3 + (size_t)s * n.H3P;
    const float* h = w.H3.p + (size_t)s * n.H3P;
    for (int j = 0; j < n.H3P; j++) d[j] = w.dy[s] * n.w4.p[j] * h[j] * (1.f - h[j]);
  }
  if (wantW) {
    for (int s = 0; s < S; s++) {
      const float* h = w.H3.p + (size_t)s * n.H3P;
      for (int j = 0; j < n.h3; j++) w.g.w4.p[j] += w.dy[s] * h[j];
      w.g.b4 += w.dy[s];
    }
    accumulateDense(S, w.H2.p, n.H2P, n.h2, D3, n.H3P, n.o3, w.g.W3.p, w.g.b3.p);
  }
  float* D2 = w.DB.p;
  backSigmoid(S, n.b2f, D3, n.H3P, n.h3, n.W3T.p, w.H2.p, n.H2P, D2);
  if (wantW) accumulateDense(S, w.H1.p, n.H1P, n.h1, D2, n.H2P, n.o2, w.g.W2.p, w.g.b2.p);
  float* D1 = w.DA.p;
  backSigmoid(S, n.b1f, D2, n.H2P, n.h2, n.W2T.p, w.H1.p, n.H1P, D1);
  if (wantW) accumulateDense(S, w.X.p, n.K0P, n.K0, D1, n.H1P, n.o1, w.g.W1.p, w.g.b1.p);
  if (dx)
    for (int s = 0; s < S; s++) n.bx(D1 + (size_t)s * n.H1P, n.h1, n.W1T.p, n.K0P, nullptr, dx + (size_t)s * n.K0P);
}

struct Trainer {
  const Model& m;
  Net net;
  std::vector<Work> work;
  Buf dxAll;                 // per sample of the batch: d(loss)/d(input)
  std::vector<float> dyAll;  // per sample of the batch: d(loss)/d(output)
  Buf gNet;                  // flat network gradient
  Buf gUsers, gItems;        // dense latent gradients, non-zero only on touched rows
  std::vector<int32_t> touchedU, touchedI;
  std::vector<uint8_t> seenU, seenI;
  int threads;

  Trainer(const Model& model, int batch, int nThreads)
      : m(model), net(model), dxAll((size_t)batch * net.K0P), dyAll(batch), gNet(model.netSize()),
        gUsers((size_t)model.nUsers * model.rowWidth()), gItems((size_t)model.nItems * model.rowWidth()),
        seenU(model.nUsers, 0), seenI(model.nItems, 0), threads(std::max(1, nThreads)) {
    for (int t = 0; t < threads; t++) work.emplace_back(net);
  }

  // One pass over the batch; returns the summed squared error.
  double pass(const Data& data, const int32_t* pos, int B, bool wantW, bool wantX) {
    auto run = [&](int t, int lo, int hi) {
      Work& w = work[t];
      if (wantW) w.g.zero();
      w.sse = 0;
      int32_t us[CHUNK], is[CHUNK];
      for (int c = lo; c < hi; c += CHUNK) {
        const int S = std::min(CHUNK, hi - c);
        for (int s = 0; s < S; s++) us[s] = data.u[pos[c + s]], is[s] = data.i[pos[c + s]];
        forward(m, net, w, us, is, S);
        for (int s = 0; s < S; s++) {
          const float e = w.y[s] - data.r[pos[c + s]];
          w.sse += (double)e * e;
          w.dy[s] = 2.f * e;
          dyAll[c + s] = w.dy[s];
        }
        backward(net, w, S, wantW, wantX ? dxAll.p + (size_t)c * net.K0P : nullptr);
      }
    };
    const int T = std::min(threads, std::max(1, B / CHUNK));
    if (T == 1) {
      run(0, 0, B);
    } else {
      std::vector<std::thread> pool;
      const int per = ((B + T - 1) / T + CHUNK - 1) / CHUNK * CHUNK;
      for (int t = 0; t < T; t++) {
        const int lo = std::min(B, t * per), hi = std::min(B, (t + 1) * per);
        pool.emplace_back(run, t, lo, hi);
      }
      for (auto& th : pool) th.join();
    }
    double sse = 0;
    for (int t = 0; t < T; t++) sse += work[t].sse;
    if (wantW) {
      for (int t = 1; t < T; t++) work[0].g.add(work[t].g);
      work[0].g.unpad(net, gNet.p);
    }
    return sse;
  }

  // Adds the data and regularisation gradients of the batch to the touched latent rows.
  void latentGrads(const Data& data, const int32_t* pos, int B) {
    const int R = m.rowWidth(), d = m.d, dp = m.dp;
    for (int b = 0; b < B; b++) {
      const int32_t u = data.u[pos[b]], i = data.i[pos[b]];
      float* gu = gUsers.p + (size_t)u * R;
      float* gi = gItems.p + (size_t)i * R;
      const float* ur = m.users + (size_t)u * R;
      const float* ir = m.items + (size_t)i * R;
      const float* dx = dxAll.p + (size_t)b * net.K0P;
      for (int k = 0; k < d; k++) gu[k] += dx[k], gi[k] += dx[d + k];
      for (int k = 0; k < dp; k++) {
        gu[d + k] += dx[2 * d + k] * ir[d + k];
        gi[d + k] += dx[2 * d + k] * ur[d + k];
      }
      if (m.useBias) gu[R - 1] += dyAll[b], gi[R - 1] += dyAll[b];
      const float ru = 2.f * data.regU[u], ri = 2.f * data.regI[i];
      for (int k = 0; k < R; k++) gu[k] += ru * ur[k], gi[k] += ri * ir[k];
      if (!seenU[u]) seenU[u] = 1, touchedU.push_back(u);
      if (!seenI[i]) seenI[i] = 1, touchedI.push_back(i);
    }
  }

  static void update(const Opts& o, int64_t t, float* w, float* s1, float* s2, float* g, int64_t n) {
    if (o.optimizer == ADAM) {
      const float c1 = 1.f - std::pow(o.beta1, (float)t), c2 = 1.f - std::pow(o.beta2, (float)t);
      for (int64_t k = 0; k < n; k++) {
        s1[k] = o.beta1 * s1[k] + (1.f - o.beta1) * g[k];
        s2[k] = o.beta2 * s2[k] + (1.f - o.beta2) * g[k] * g[k];
        w[k] -= o.lr * (s1[k] / c1) / (std::sqrt(s2[k] / c2) + o.eps);
      }
    } else {
      for (int64_t k = 0; k < n; k++) {
        s1[k] = o.rho * s1[k] + (1.f - o.rho) * g[k] * g[k];
        w[k] -= o.lr * g[k] / std::sqrt(s1[k] + o.eps);
      }
    }
  }

  void applyLatents(const Opts& o, int64_t t) {
    const int R = m.rowWidth();
    auto rows = [&](std::vector<int32_t>& touched, std::vector<uint8_t>& seen, float* W, float* S1, float* S2, Buf& G) {
      for (int32_t r : touched) {
        float* g = G.p + (size_t)r * R;
        update(o, t, W + (size_t)r * R, S1 + (size_t)r * R, S2 + (size_t)r * R, g, m.useBias ? R : R - 1);
        std::fill(g, g + R, 0.f);
        seen[r] = 0;
      }
      touched.clear();
    };
    rows(touchedU, seenU, m.users, m.usersS1, m.usersS2, gUsers);
    rows(touchedI, seenI, m.items, m.itemsS1, m.itemsS2, gItems);
  }

  double batch(const Data& data, const int32_t* pos, int B, Opts& o) {
    const int64_t t = ++o.step;
    const double sse = pass(data, pos, B, true, !o.alternating);
    update(o, t, m.net, m.netS1, m.netS2, gNet.p, m.netSize());
    net.load(m.net);
    if (o.alternating) pass(data, pos, B, false, true);
    latentGrads(data, pos, B);
    applyLatents(o, t);
    return sse;
  }
};

Result trainEpoch(const Model& m, const Data& data, Opts& o) {
  const int B = (int)std::max<int64_t>(1, std::min<int64_t>(o.batchSize, data.n));
  Trainer tr(m, B, o.threads);
  Result res{0, 0, false};
  for (int64_t start = 0; start < data.n; start += B) {
    if (o.cancel && *o.cancel) {
      res.cancelled = true;
      break;
    }
    const int n = (int)std::min<int64_t>(B, data.n - start);
    res.sse += tr.batch(data, data.order + start, n, o);
    res.count += n;
  }
  return res;
}

// scoreUser puts items in vector lanes: a block of two vectors of items goes through the
// network together, each weight broadcast once for the block, so a layer is a small matrix
// product that keeps the multiply-add units busy instead of waiting on weight loads. Blocks are
// 32 items wide with AVX-512, 16 with AVX2, 8 otherwise; kTileUnits is how many units a tile
// computes at once (its accumulators and inputs fit the vector registers: 32 with AVX-512,
// 16 otherwise).
#if defined(__AVX512F__)
typedef v16f BlockVec;
typedef v16i BlockInt;
static const int kTileUnits = 10;
#elif defined(__AVX2__)
typedef v8f BlockVec;
typedef v8i BlockInt;
static const int kTileUnits = 5;
#else
// Without AVX a 256-bit vector is two SSE registers: tiles of that width would not fit the
// sixteen registers, so blocks use one register's width.
typedef v4f BlockVec;
typedef v4i BlockInt;
static const int kTileUnits = 5;
#endif
static const int kLanes = sizeof(BlockVec) / sizeof(float);
static const int IB = 2 * kLanes;

static inline BlockVec bld(const float* p) { return *reinterpret_cast<const BlockVec*>(p); }
static inline void bst(float* p, BlockVec v) { *reinterpret_cast<BlockVec*>(p) = v; }
// A broadcast, not BlockVec{} + x: adding to zero is not an identity for -0.0, so the compiler
// would keep a scalar add in front of every broadcast.
static inline BlockVec bsplat(float x) {
#if defined(__AVX512F__)
  return (BlockVec)_mm512_set1_ps(x);
#elif defined(__AVX2__)
  return (BlockVec)_mm256_set1_ps(x);
#else
  return BlockVec{x, x, x, x};
#endif
}

// Rows j0..j0+J of one layer for a block of IB items, each squashed by the sigmoid:
// out[j][.] = sigmoid(bias[j] + rows[j][.] + sum_k W[k][j] X[k][.]); rows may be null.
template <int J>
static inline void blockTile(const float* __restrict X, int K, const float* __restrict W, int ldw, int j0,
                             const float* __restrict rows, const float* __restrict bias, float* __restrict out) {
  BlockVec a0[J], a1[J];
#pragma GCC unroll 16
  for (int jj = 0; jj < J; jj++) {
    a0[jj] = a1[jj] = bsplat(bias[j0 + jj]);
    if (rows) {
      a0[jj] += bld(rows + (size_t)(j0 + jj) * IB);
      a1[jj] += bld(rows + (size_t)(j0 + jj) * IB + kLanes);
    }
  }
  for (int k = 0; k < K; k++) {
    const BlockVec x0 = bld(X + (size_t)k * IB), x1 = bld(X + (size_t)k * IB + kLanes);
    const float* w = W + (size_t)k * ldw + j0;
#pragma GCC unroll 16
    for (int jj = 0; jj < J; jj++) {
      const BlockVec s = bsplat(w[jj]);
      a0[jj] += s * x0;
      a1[jj] += s * x1;
    }
  }
#pragma GCC unroll 16
  for (int jj = 0; jj < J; jj++) {
    bst(out + (size_t)(j0 + jj) * IB, vsigmoidT<BlockVec, BlockInt>(a0[jj]));
    bst(out + (size_t)(j0 + jj) * IB + kLanes, vsigmoidT<BlockVec, BlockInt>(a1[jj]));
  }
}

template <int J>
static void blockTail(int left, const float* X, int K, const float* W, int ldw, int j, const float* rows,
                      const float* bias, float* out) {
  if (left == J) blockTile<J>(X, K, W, ldw, j, rows, bias, out);
  else if constexpr (J > 1) blockTail<J - 1>(left, X, K, W, ldw, j, rows, bias, out);
}

// A whole hidden layer of nOut units for one block of items.
static void blockLayer(const float* X, int K, const float* W, int ldw, int nOut, const float* rows, const float* bias,
                       float* out) {
  int j = 0;
  for (; j + kTileUnits <= nOut; j += kTileUnits) blockTile<kTileUnits>(X, K, W, ldw, j, rows, bias, out);
  if (j < nOut) blockTail<kTileUnits - 1>(nOut - j, X, K, W, ldw, j, rows, bias, out);
}

// A network laid out with its scratch space: predictions then cost only the forward pass.
struct Prepared {
  Net net;
  Work work;
  explicit Prepared(const Model& m) : net(m), work(net) {}
};

// A model prepared once for serving. The item side of scoring is laid out in blocks of IB items,
// unit by unit (a row per unit, a lane per item): each item's V' (d' rows) and its share of
// the first layer, V_m W1[d:2d] (h1 rows). Scoring the catalogue in model order then reads
// whole vectors; the lanes past the last item are zero.
struct Served : Prepared {
  int rows;  // d' + h1
  int64_t nBlocks;
  Buf blocks;
  explicit Served(const Model& m)
      : Prepared(m), rows(m.dp + m.h1), nBlocks((m.nItems + IB - 1) / IB), blocks((size_t)nBlocks * rows * IB) {
    const int R = m.rowWidth();
    Buf part(net.H1P);
    for (int i = 0; i < m.nItems; i++) {
      const float* ir = m.items + (size_t)i * R;
      net.f1(ir, m.d, net.W1.p + (size_t)m.d * net.H1P, net.H1P, nullptr, part.p);
      float* b = block(i / IB) + i % IB;
      for (int k = 0; k < m.dp; k++) b[(size_t)k * IB] = ir[m.d + k];
      for (int j = 0; j < m.h1; j++) b[(size_t)(m.dp + j) * IB] = part.p[j];
    }
  }
  float* block(int64_t b) const { return blocks.p + (size_t)b * rows * IB; }
};

static void forwardAll(const Model& m, const Net& net, Work& w, const int32_t* u, const int32_t* i, int64_t count, float* out) {
  for (int64_t c = 0; c < count; c += CHUNK) {
    const int S = (int)std::min<int64_t>(CHUNK, count - c);
    forward(m, net, w, u + c, i + c, S);
    for (int s = 0; s < S; s++) out[c + s] = w.y[s];
  }
}

void predict(const Model& m, const int32_t* u, const int32_t* i, int64_t count, float* out) {
  Prepared p(m);
  forwardAll(m, p.net, p.work, u, i, count, out);
}

void* prepare(const Model& m) { return new Served(m); }

void release(void* prepared) { delete static_cast<Served*>(prepared); }

void predictPrepared(const Model& m, void* prepared, const int32_t* u, const int32_t* i, int64_t count, float* out) {
  auto* p = static_cast<Served*>(prepared);
  forwardAll(m, p->net, p->work, u, i, count, out);
}

// One user against many items (items == nullptr: every item, in model order). The first layer
// splits as b1 + U W1[0:d] (once per user) + V_m W1[d:2d] (once per model, in the blocks)
// + (U' * V'_m) W1[2d:], so each item costs d' rows of the first layer instead of 2d + d'.
// Items go through the network IB at a time; a list of items is first gathered into one block.
// Safe to run on several threads at once for one prepared model: the network is only read and
// the scratch space is this call's own.
void scoreUser(const Model& m, const void* prepared, int32_t u, const int32_t* items, int64_t count, float* out) {
  const auto* p = static_cast<const Served*>(prepared);
  const Net& n = p->net;
  const int R = m.rowWidth(), d = m.d, dp = m.dp, H1P = n.H1P;
  const float* ur = m.users + (size_t)u * R;
  // The whole catalogue is read from the blocks in place; only a list of items is gathered.
  Buf a(H1P), Wu((size_t)std::max(dp, 1) * H1P), gathered(items ? (size_t)p->rows * IB : 0), h1((size_t)n.h1 * IB),
      h2((size_t)n.h2 * IB), h3((size_t)n.h3 * IB);
  n.f1(ur, d, n.W1.p, H1P, n.b1.p, a.p);
  // diag(U') W1[2d:]: the user's half of the elementwise product folded into the weights.
  for (int k = 0; k < dp; k++) {
    const v8f s = splat(ur[d + k]);
    const float* w = n.W1.p + (size_t)(2 * d + k) * H1P;
    for (int j = 0; j < H1P; j += 8) st(Wu.p + (size_t)k * H1P + j, s * ld(w + j));
  }
  alignas(64) float y[IB];
  for (int64_t c = 0; c < count; c += IB) {
    const int S = (int)std::min<int64_t>(IB, count - c);
    const float* X = gathered.p;
    if (items) {
      for (int s = 0; s < IB; s++) {
        // Lanes past the end repeat the last item; their scores are not written.
        const int32_t item = items[c + std::min(s, S - 1)];
        const float* from = p->block(item / IB) + item % IB;
        for (int k = 0; k < p->rows; k++) gathered.p[(size_t)k * IB + s] = from[(size_t)k * IB];
      }
    } else {
      X = p->block(c / IB);
    }
    blockLayer(X, dp, Wu.p, H1P, n.h1, X + (size_t)dp * IB, a.p, h1.p);
    blockLayer(h1.p, n.h1, n.W2.p, n.H2P, n.h2, nullptr, n.b2.p, h2.p);
    blockLayer(h2.p, n.h2, n.W3.p, n.H3P, n.h3, nullptr, n.b3.p, h3.p);
    BlockVec y0 = bsplat(n.b4), y1 = y0;
    for (int j = 0; j < n.h3; j++) {
      y0 += bld(h3.p + (size_t)j * IB) * n.w4.p[j];
      y1 += bld(h3.p + (size_t)j * IB + kLanes) * n.w4.p[j];
    }
    bst(y, y0);
    bst(y + kLanes, y1);
    for (int s = 0; s < S; s++) {
      const int64_t item = items ? items[c + s] : c + s;
      out[c + s] = y[s] + biasTerms(m, ur, m.items + (size_t)item * R);
    }
  }
}

double lossAndGrad(const Model& m, const Data& data, float* gNet, float* gUsers, float* gItems) {
  const int B = (int)data.n;
  Trainer tr(m, B, 1);
  const double sse = tr.pass(data, data.order, B, true, true);
  std::copy(tr.gNet.p, tr.gNet.p + m.netSize(), gNet);
  tr.latentGrads(data, data.order, B);
  const int R = m.rowWidth();
  double reg = 0;
  for (int b = 0; b < B; b++) {
    const int32_t u = data.u[data.order[b]], i = data.i[data.order[b]];
    double nu = 0, ni = 0;
    for (int k = 0; k < R; k++) {
      nu += (double)m.users[(size_t)u * R + k] * m.users[(size_t)u * R + k];
      ni += (double)m.items[(size_t)i * R + k] * m.items[(size_t)i * R + k];
    }
    reg += data.regU[u] * nu + data.regI[i] * ni;
  }
  std::copy(tr.gUsers.p, tr.gUsers.p + (size_t)m.nUsers * R, gUsers);
  std::copy(tr.gItems.p, tr.gItems.p + (size_t)m.nItems * R, gItems);
  return sse + reg;
}

}  // namespace KERNEL_NS
}  // namespace nnmf
