// I-AutoRec training and scoring, compiled once per instruction set (KERNEL_NS is k_avx512,
// k_avx2 or k_generic). The hidden-wide loops (dot products and row updates of 500 floats) use
// GCC vector extensions, so each build runs them in its widest registers.
//
// An item's ratings are sparse: the encoder adds the encoder rows of the users who rated it,
// and the loss only reads the decoder rows of those users, so one item costs
// (its ratings) × hidden multiply-adds in each of the five passes below, never users × hidden.
#include "autorec.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

namespace nnmf {
namespace autorec {
namespace KERNEL_NS {

// Rows of the JavaScript arrays start anywhere: loads and stores through this type may be unaligned.
typedef float v8 __attribute__((vector_size(32), aligned(4), may_alias));

static inline v8 vload(const float* p) { return *reinterpret_cast<const v8*>(p); }
static inline void vstore(float* p, v8 x) { *reinterpret_cast<v8*>(p) = x; }

static inline float dot(const float* __restrict a, const float* __restrict b, int n) {
  v8 s0{}, s1{};
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    s0 += vload(a + k) * vload(b + k);
    s1 += vload(a + k + 8) * vload(b + k + 8);
  }
  if (k + 8 <= n) {
    s0 += vload(a + k) * vload(b + k);
    k += 8;
  }
  const v8 s = s0 + s1;
  float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; k < n; k++) t += a[k] * b[k];
  return t;
}

// y += a·x
static inline void axpy(float a, const float* __restrict x, float* __restrict y, int n) {
  const v8 av = v8{} + a;
  int k = 0;
  for (; k + 8 <= n; k += 8) vstore(y + k, vload(y + k) + av * vload(x + k));
  for (; k < n; k++) y[k] += a * x[k];
}

static inline float sigmoid(float z) { return 1.f / (1.f + std::exp(-z)); }

// h = sigmoid(b + Σ r_iu W[u]) over the users u who rated item i.
static void encode(const Params& p, const Ratings& r, int32_t i, float* h) {
  const int H = p.hidden;
  std::copy(p.b, p.b + H, h);
  for (int32_t k = r.start[i]; k < r.start[i + 1]; k++) axpy(r.ratings[k], p.W + (size_t)r.users[k] * H, h, H);
  for (int j = 0; j < H; j++) h[j] = sigmoid(h[j]);
}

// Gradients of the squared error of some items, before the penalty; one per thread.
struct Grad {
  std::vector<float> W, b, V, c;
  std::vector<float> h, dh;  // scratch for one item
  double sse = 0;
  int64_t count = 0;
  explicit Grad(const Params& p)
      : W((size_t)p.nUsers * p.hidden), b(p.hidden), V((size_t)p.nUsers * p.hidden), c(p.nUsers), h(p.hidden),
        dh(p.hidden) {}

  // Adds item i's squared error over its ratings and the gradient of it.
  void addItem(const Params& p, const Ratings& r, int32_t i) {
    const int H = p.hidden;
    float* __restrict hv = h.data();
    float* __restrict d = dh.data();
    encode(p, r, i, hv);
    std::fill(d, d + H, 0.f);
    for (int32_t k = r.start[i]; k < r.start[i + 1]; k++) {
      const int32_t u = r.users[k];
      const float* v = p.V + (size_t)u * H;
      const float e = dot(v, hv, H) + p.c[u] - r.ratings[k];
      sse += (double)e * e;
      const float g = 2.f * e;
      axpy(g, hv, V.data() + (size_t)u * H, H);
      c[u] += g;
      axpy(g, v, d, H);
    }
    count += r.start[i + 1] - r.start[i];
    for (int j = 0; j < H; j++) {
      d[j] *= hv[j] * (1.f - hv[j]);
      b[j] += d[j];
    }
    for (int32_t k = r.start[i]; k < r.start[i + 1]; k++) axpy(r.ratings[k], d, W.data() + (size_t)r.users[k] * H, H);
  }
};

// Runs body(t, lo, hi) on T threads over [0, n) cut into T contiguous ranges (the caller's
// thread takes the first).
template <class F>
static void parallel(int T, int64_t n, F body) {
  if (T <= 1) {
    body(0, (int64_t)0, n);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < T; t++) pool.emplace_back(body, t, n * t / T, n * (t + 1) / T);
  body(0, (int64_t)0, n / T);
  for (auto& th : pool) th.join();
}

struct Trainer {
  const Params& p;
  std::vector<Grad> grads;

  Trainer(const Params& params, int threads) : p(params) {
    for (int t = 0; t < std::max(1, threads); t++) grads.emplace_back(p);
  }

  // The data-term gradient of items[0, n) accumulated per thread; returns the threads used.
  // Threads take contiguous runs of items holding about equal numbers of ratings, so the
  // split (and the sum's rounding) is the same on every run.
  int gradients(const Ratings& r, const int32_t* items, int n) {
    const int T = std::max(1, std::min<int>((int)grads.size(), n));
    std::vector<int> cut(T + 1, n);
    int64_t total = 0;
    for (int k = 0; k < n; k++) total += r.start[items[k] + 1] - r.start[items[k]];
    cut[0] = 0;
    int64_t seen = 0;
    for (int k = 0, t = 1; k < n && t < T; k++) {
      seen += r.start[items[k] + 1] - r.start[items[k]];
      while (t < T && seen * T >= total * t) cut[t++] = k + 1;
    }
    parallel(T, T, [&](int, int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; t++)
        for (int k = cut[t]; k < cut[t + 1]; k++) grads[t].addItem(p, r, items[k]);
    });
    return T;
  }

  // Adam on w[lo, hi) with gradient Σ_t (thread t's data gradient) + reg·w; leaves the thread gradients zero.
  static void adam(const Opts& o, float c1, float c2, float reg, float* __restrict w, float* __restrict m,
                   float* __restrict v, std::vector<float*>& g, int64_t lo, int64_t hi) {
    float* __restrict g0 = g[0];
    for (size_t t = 1; t < g.size(); t++) {
      float* __restrict gt = g[t];
      for (int64_t k = lo; k < hi; k++) g0[k] += gt[k], gt[k] = 0.f;
    }
    const float b1 = o.beta1, b2 = o.beta2, lr = o.lr, eps = o.eps;
    for (int64_t k = lo; k < hi; k++) {
      const float gk = g0[k] + reg * w[k];
      g0[k] = 0.f;
      m[k] = b1 * m[k] + (1.f - b1) * gk;
      v[k] = b2 * v[k] + (1.f - b2) * gk * gk;
      w[k] -= lr * (m[k] / c1) / (std::sqrt(v[k] / c2) + eps);
    }
  }

  void step(const Slots& s, const Opts& o, int64_t t, int T, float reg) {
    const float c1 = 1.f - std::pow(o.beta1, (float)t), c2 = 1.f - std::pow(o.beta2, (float)t);
    auto slots = [&](std::vector<float> Grad::*member) {
      std::vector<float*> g;
      for (int k = 0; k < T; k++) g.push_back((grads[k].*member).data());
      return g;
    };
    std::vector<float*> gW = slots(&Grad::W), gV = slots(&Grad::V), gb = slots(&Grad::b), gc = slots(&Grad::c);
    const int64_t n = (int64_t)p.nUsers * p.hidden;
    parallel(T, n, [&](int, int64_t lo, int64_t hi) {
      adam(o, c1, c2, reg, p.W, s.mW, s.vW, gW, lo, hi);
      adam(o, c1, c2, reg, p.V, s.mV, s.vV, gV, lo, hi);
    });
    adam(o, c1, c2, 0.f, p.b, s.mb, s.vb, gb, 0, p.hidden);
    adam(o, c1, c2, 0.f, p.c, s.mc, s.vc, gc, 0, p.nUsers);
  }

  double takeSse(int64_t* count) {
    double sse = 0;
    for (auto& g : grads) sse += g.sse, *count += g.count, g.sse = 0, g.count = 0;
    return sse;
  }
};

Result trainEpoch(const Params& p, const Slots& s, const Ratings& r, const int32_t* order, int64_t n, Opts& o) {
  Result res{0, 0, false};
  if (n == 0) return res;
  const int B = (int)std::max<int64_t>(1, std::min<int64_t>(o.batchSize, n));
  Trainer tr(p, std::min(o.threads, B));
  for (int64_t start = 0; start < n; start += B) {
    if (o.cancel && *o.cancel) {
      res.cancelled = true;
      break;
    }
    const int nb = (int)std::min<int64_t>(B, n - start);
    const int T = tr.gradients(r, order + start, nb);
    tr.step(s, o, ++o.step, T, o.lambda * (float)nb / (float)n);
    res.sse += tr.takeSse(&res.count);
  }
  return res;
}

static double squaredNorm(const float* a, int64_t n) {
  double s = 0;
  for (int64_t k = 0; k < n; k++) s += (double)a[k] * a[k];
  return s;
}

double lossAndGrad(const Params& p, const Ratings& r, const int32_t* order, int64_t n, float lambda, const Grads& out) {
  Trainer tr(p, 1);
  tr.gradients(r, order, (int)n);
  Grad& g = tr.grads[0];
  const int64_t nw = (int64_t)p.nUsers * p.hidden;
  for (int64_t k = 0; k < nw; k++) out.W[k] = g.W[k] + lambda * p.W[k], out.V[k] = g.V[k] + lambda * p.V[k];
  std::copy(g.b.begin(), g.b.end(), out.b);
  std::copy(g.c.begin(), g.c.end(), out.c);
  return g.sse + 0.5 * lambda * (squaredNorm(p.W, nw) + squaredNorm(p.V, nw));
}

void codes(const Params& p, const Ratings& r, float* out) {
  for (int i = 0; i < p.nItems; i++) encode(p, r, i, out + (size_t)i * p.hidden);
}

static inline float score(const float* V, const float* c, const float* codes, int H, int32_t u, int32_t i) {
  return dot(V + (size_t)u * H, codes + (size_t)i * H, H) + c[u];
}

void predict(const Served& s, const int32_t* u, const int32_t* i, int64_t n, float* out) {
  for (int64_t k = 0; k < n; k++) out[k] = score(s.V, s.c, s.codes, s.hidden, u[k], i[k]);
}

// A served model's own copy, rows padded with zeros to a whole number of vectors: scoring is
// unaffected by later changes to the JavaScript arrays and runs without a scalar tail.
struct Prepared {
  int nUsers, nItems, H;
  std::vector<float> V, c, codes;
  explicit Prepared(const Served& s)
      : nUsers(s.nUsers), nItems(s.nItems), H((s.hidden + 7) & ~7), V((size_t)s.nUsers * H), c(s.c, s.c + s.nUsers),
        codes((size_t)s.nItems * H) {
    for (int u = 0; u < s.nUsers; u++) std::copy(s.V + (size_t)u * s.hidden, s.V + (size_t)(u + 1) * s.hidden, &V[(size_t)u * H]);
    for (int i = 0; i < s.nItems; i++)
      std::copy(s.codes + (size_t)i * s.hidden, s.codes + (size_t)(i + 1) * s.hidden, &codes[(size_t)i * H]);
  }
};

void* prepare(const Served& s) { return new Prepared(s); }

void release(void* prepared) { delete static_cast<Prepared*>(prepared); }

void scorePairs(const void* prepared, const int32_t* u, const int32_t* i, int64_t n, float* out) {
  const auto* p = static_cast<const Prepared*>(prepared);
  for (int64_t k = 0; k < n; k++) out[k] = score(p->V.data(), p->c.data(), p->codes.data(), p->H, u[k], i[k]);
}

// One user against a list of items (items == nullptr: every item in model order): one dot
// product of the user's decoder row with each item's code. Reads only; safe on several threads.
void scoreUser(const void* prepared, int32_t u, const int32_t* items, int64_t n, float* out) {
  const auto* p = static_cast<const Prepared*>(prepared);
  for (int64_t k = 0; k < n; k++)
    out[k] = score(p->V.data(), p->c.data(), p->codes.data(), p->H, u, items ? items[k] : (int32_t)k);
}

}  // namespace KERNEL_NS
}  // namespace autorec
}  // namespace nnmf
