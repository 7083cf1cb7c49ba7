// I-AutoRec training and scoring, compiled once per instruction set (KERNEL_NS is k_avx512,
// k_avx2 or k_generic). The hidden-wide loops (dot products and row updates of 500 floats) use
// GCC vector extensions, so each build runs them in its widest registers.
//
// An item's ratings are sparse: the encoder adds the encoder rows of the users who rated it,
// and the loss only reads the decoder rows of those users, so a rating costs a few hidden-wide
// multiply-adds, never users × hidden. Training goes through a batch user by user (see Batch):
// Adam then updates each weight row right after its gradient is complete, in the same pass.
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

// A minibatch of items regrouped by user: user u's entries are [start[u], start[u+1]), each the
// item's slot in the batch and the rating. Working user by user, every weight row is read and
// updated once per batch however many of the batch's items its user rated, and the batch's
// item rows (codes and their gradients) stay in cache.
struct Batch {
  int n = 0;
  std::vector<int32_t> start, slot;
  std::vector<float> rating;

  void build(const Ratings& r, const int32_t* items, int count, int nUsers) {
    n = count;
    start.assign((size_t)nUsers + 1, 0);
    for (int s = 0; s < n; s++)
      for (int32_t k = r.start[items[s]]; k < r.start[items[s] + 1]; k++) start[r.users[k] + 1]++;
    for (int u = 0; u < nUsers; u++) start[u + 1] += start[u];
    slot.resize(start[nUsers]);
    rating.resize(start[nUsers]);
    std::vector<int32_t> fill(start.begin(), start.end() - 1);
    for (int s = 0; s < n; s++)
      for (int32_t k = r.start[items[s]]; k < r.start[items[s] + 1]; k++) {
        const int32_t e = fill[r.users[k]]++;
        slot[e] = s;
        rating[e] = r.ratings[k];
      }
  }
};

// Encoder sums Z[s] += Σ r W[u] over the batch's ratings by users [lo, hi).
static void encoderSums(const Params& p, const Batch& bt, int64_t lo, int64_t hi, float* Z) {
  const int H = p.hidden;
  for (int64_t u = lo; u < hi; u++)
    for (int32_t e = bt.start[u]; e < bt.start[u + 1]; e++) axpy(bt.rating[e], p.W + (size_t)u * H, Z + (size_t)bt.slot[e] * H, H);
}

// h = sigmoid(Z + b), row by row.
static void squash(const Params& p, int n, float* Z) {
  for (int s = 0; s < n; s++)
    for (int j = 0; j < p.hidden; j++) Z[(size_t)s * p.hidden + j] = sigmoid(Z[(size_t)s * p.hidden + j] + p.b[j]);
}

enum Part { PART_W, PART_B, PART_V, PART_C };

// What becomes of a gradient once complete: an Adam step (training) or a copy (lossAndGrad).
struct AdamFinish {
  const Params& p;
  const Slots& s;
  float lr, beta1, beta2, eps, c1, c2;
  AdamFinish(const Params& params, const Slots& slots, const Opts& o, int64_t t)
      : p(params), s(slots), lr(o.lr), beta1(o.beta1), beta2(o.beta2), eps(o.eps),
        c1(1.f - std::pow(o.beta1, (float)t)), c2(1.f - std::pow(o.beta2, (float)t)) {}
  void operator()(Part part, size_t off, const float* __restrict g, int len) const {
    float* w = part == PART_W ? p.W : part == PART_B ? p.b : part == PART_V ? p.V : p.c;
    float* m = part == PART_W ? s.mW : part == PART_B ? s.mb : part == PART_V ? s.mV : s.mc;
    float* v = part == PART_W ? s.vW : part == PART_B ? s.vb : part == PART_V ? s.vV : s.vc;
    adam(w + off, m + off, v + off, g, len);
  }
  void adam(float* __restrict w, float* __restrict m, float* __restrict v, const float* __restrict g, int len) const {
    for (int k = 0; k < len; k++) {
      m[k] = beta1 * m[k] + (1.f - beta1) * g[k];
      v[k] = beta2 * v[k] + (1.f - beta2) * g[k] * g[k];
      w[k] -= lr * (m[k] / c1) / (std::sqrt(v[k] / c2) + eps);
    }
  }
};

struct CopyFinish {
  const Grads& out;
  void operator()(Part part, size_t off, const float* g, int len) const {
    float* to = part == PART_W ? out.W : part == PART_B ? out.b : part == PART_V ? out.V : out.c;
    std::copy(g, g + len, to + off);
  }
};

// Scratch for one batch: per thread its share of the batch's item rows, and a row.
struct Work {
  int T;
  std::vector<std::vector<float>> Z, dH;  // per thread, batch × hidden: encoder sums, then d(loss)/d(code)
  std::vector<std::vector<float>> row;    // per thread, hidden
  std::vector<double> sse;
  Work(int threads, int batch, int H)
      : T(threads), Z(threads, std::vector<float>((size_t)batch * H)), dH(threads, std::vector<float>((size_t)batch * H)),
        row(threads, std::vector<float>(H)), sse(threads) {}
};

// Adds the other threads' shares into thread 0's.
static void reduce(std::vector<std::vector<float>>& parts, int T, size_t len) {
  float* __restrict to = parts[0].data();
  for (int t = 1; t < T; t++) {
    const float* __restrict from = parts[t].data();
    for (size_t k = 0; k < len; k++) to[k] += from[k];
  }
}

// One batch: the gradient of its squared error plus reg·(‖W‖² + ‖V‖²)/2, each part handed to
// `finish` once complete. A weight row is finished only after its last use in the batch, so
// every gradient is taken at the batch's starting weights. Returns the squared error.
template <class Finish>
static double batchPass(const Params& p, const Batch& bt, Work& w, float reg, const Finish& finish) {
  const int H = p.hidden, n = bt.n, T = w.T;
  const size_t rows = (size_t)n * H;
  for (int t = 0; t < T; t++) {
    std::fill(w.Z[t].begin(), w.Z[t].begin() + rows, 0.f);
    std::fill(w.dH[t].begin(), w.dH[t].begin() + rows, 0.f);
  }
  parallel(T, p.nUsers, [&](int t, int64_t lo, int64_t hi) { encoderSums(p, bt, lo, hi, w.Z[t].data()); });
  reduce(w.Z, T, rows);
  float* h = w.Z[0].data();
  squash(p, n, h);
  // Decoder, user by user: the errors of the user's ratings give V[u]'s and c[u]'s gradients
  // (finished here: the row has no other use) and add into the codes' gradients.
  parallel(T, p.nUsers, [&](int t, int64_t lo, int64_t hi) {
    float* dH = w.dH[t].data();
    float* g = w.row[t].data();
    double sse = 0;
    for (int64_t u = lo; u < hi; u++) {
      const float* v = p.V + (size_t)u * H;
      for (int j = 0; j < H; j++) g[j] = reg * v[j];
      float gc = 0;
      for (int32_t e = bt.start[u]; e < bt.start[u + 1]; e++) {
        const float* hs = h + (size_t)bt.slot[e] * H;
        const float err = dot(v, hs, H) + p.c[u] - bt.rating[e];
        sse += (double)err * err;
        const float ge = 2.f * err;
        axpy(ge, hs, g, H);
        gc += ge;
        axpy(ge, v, dH + (size_t)bt.slot[e] * H, H);
      }
      finish(PART_V, (size_t)u * H, g, H);
      finish(PART_C, (size_t)u, &gc, 1);
    }
    w.sse[t] = sse;
  });
  reduce(w.dH, T, rows);
  // Through the sigmoid: dZ = dH ⊙ h(1 − h); b's gradient is its sum over the batch.
  float* dZ = w.dH[0].data();
  float* gb = w.row[0].data();
  std::fill(gb, gb + H, 0.f);
  for (int s = 0; s < n; s++)
    for (int j = 0; j < H; j++) {
      const size_t k = (size_t)s * H + j;
      dZ[k] *= h[k] * (1.f - h[k]);
      gb[j] += dZ[k];
    }
  finish(PART_B, 0, gb, H);
  // Encoder rows: W[u]'s gradient is Σ r dZ[s] over the user's ratings in the batch.
  parallel(T, p.nUsers, [&](int t, int64_t lo, int64_t hi) {
    float* g = w.row[t].data();
    for (int64_t u = lo; u < hi; u++) {
      const float* wu = p.W + (size_t)u * H;
      for (int j = 0; j < H; j++) g[j] = reg * wu[j];
      for (int32_t e = bt.start[u]; e < bt.start[u + 1]; e++) axpy(bt.rating[e], dZ + (size_t)bt.slot[e] * H, g, H);
      finish(PART_W, (size_t)u * H, g, H);
    }
  });
  double sse = 0;
  for (int t = 0; t < T; t++) sse += w.sse[t];
  return sse;
}

Result trainEpoch(const Params& p, const Slots& s, const Ratings& r, const int32_t* order, int64_t n, Opts& o) {
  Result res{0, 0, false};
  if (n == 0) return res;
  const int B = (int)std::max<int64_t>(1, std::min<int64_t>(o.batchSize, n));
  Work w(std::max(1, std::min(o.threads, p.nUsers)), B, p.hidden);
  Batch bt;
  for (int64_t start = 0; start < n; start += B) {
    if (o.cancel && *o.cancel) {
      res.cancelled = true;
      break;
    }
    const int nb = (int)std::min<int64_t>(B, n - start);
    bt.build(r, order + start, nb, p.nUsers);
    const AdamFinish adam(p, s, o, ++o.step);
    res.sse += batchPass(p, bt, w, o.lambda * (float)nb / (float)n, adam);
    res.count += (int64_t)bt.slot.size();
  }
  if (o.codes && !res.cancelled) codes(p, r, o.codes);
  return res;
}

static double squaredNorm(const float* a, int64_t n) {
  double s = 0;
  for (int64_t k = 0; k < n; k++) s += (double)a[k] * a[k];
  return s;
}

double lossAndGrad(const Params& p, const Ratings& r, const int32_t* order, int64_t n, float lambda, const Grads& out) {
  const int64_t nw = (int64_t)p.nUsers * p.hidden;
  const double penalty = 0.5 * lambda * (squaredNorm(p.W, nw) + squaredNorm(p.V, nw));
  Work w(1, (int)std::max<int64_t>(1, n), p.hidden);
  Batch bt;
  bt.build(r, order, (int)n, p.nUsers);
  return batchPass(p, bt, w, lambda, CopyFinish{out}) + penalty;
}

// Every item's code from its ratings: the whole catalogue as one batch, user by user.
void codes(const Params& p, const Ratings& r, float* out) {
  std::vector<int32_t> all(p.nItems);
  for (int i = 0; i < p.nItems; i++) all[i] = i;
  Batch bt;
  bt.build(r, all.data(), p.nItems, p.nUsers);
  std::fill(out, out + (size_t)p.nItems * p.hidden, 0.f);
  encoderSums(p, bt, 0, p.nUsers, out);
  squash(p, p.nItems, out);
}

static inline float score(const float* V, const float* c, const float* codes, int H, int32_t u, int32_t i) {
  return dot(V + (size_t)u * H, codes + (size_t)i * H, H) + c[u];
}

void predict(const Served& s, const int32_t* u, const int32_t* i, int64_t n, float* out) {
  for (int64_t k = 0; k < n; k++) out[k] = score(s.V, s.c, s.codes, s.hidden, u[k], i[k]);
}

// A served model: the caller's decoder and item codes, borrowed (not copied; at 162K users the
// decoder alone is 300 MB). The caller keeps the arrays alive and unmoved while it is used.
struct Prepared {
  Served s;
  explicit Prepared(const Served& served) : s(served) {}
};

void* prepare(const Served& s) { return new Prepared(s); }

void release(void* prepared) { delete static_cast<Prepared*>(prepared); }

void scorePairs(const void* prepared, const int32_t* u, const int32_t* i, int64_t n, float* out) {
  const Served& s = static_cast<const Prepared*>(prepared)->s;
  for (int64_t k = 0; k < n; k++) out[k] = score(s.V, s.c, s.codes, s.hidden, u[k], i[k]);
}

// One user against a list of items (items == nullptr: every item in model order): one dot
// product of the user's decoder row with each item's code. Reads only; safe on several threads.
void scoreUser(const void* prepared, int32_t u, const int32_t* items, int64_t n, float* out) {
  const Served& s = static_cast<const Prepared*>(prepared)->s;
  for (int64_t k = 0; k < n; k++) out[k] = score(s.V, s.c, s.codes, s.hidden, u, items ? items[k] : (int32_t)k);
}

}  // namespace KERNEL_NS
}  // namespace autorec
}  // namespace nnmf
