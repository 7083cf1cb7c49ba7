// Biased matrix factorisation kernel: training epochs (plain SGD or Adam, over minibatches of
// ratings), predictions, the loss with its gradient (for tests) and catalogue scoring.
//
// Loss per rating: (mean + b_u + b_i + p_u·q_i - r)² + λ(‖p_u‖² + ‖q_i‖²) + λ_b(b_u² + b_i²);
// a step follows the gradient of its minibatch's mean loss. With several threads the order is
// cut into one contiguous part per thread and the parts run at once on shared rows without
// locks (Hogwild): two ratings rarely touch the same row at the same moment, and a lost update
// costs less than any lock.
#include "mf.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

namespace mf {
namespace {

// Eight partial sums, so that the compiler keeps them in vector registers (a single float sum
// may not be reordered, which would keep the loop scalar).
inline float dot(const float* a, const float* b, int k) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= k; j += 8)
    for (int l = 0; l < 8; l++) acc[l] += a[j + l] * b[j + l];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < k; j++) s += a[j] * b[j];
  return s;
}

inline float predictOne(const Model& m, int32_t u, int32_t i) {
  const int W = m.width();
  const float* p = m.users + (int64_t)u * W;
  const float* q = m.items + (int64_t)i * W;
  return m.mean + p[m.k] + q[m.k] + dot(p, q, m.k);
}

// Gradient of one rating's loss, scaled by `scale`, added to the rows' gradients gp and gq.
// Returns the error (prediction - rating).
inline float addRatingGrad(const Model& m, int32_t u, int32_t i, float r, float scale, float lambda, float lambdaBias,
                           float* gp, float* gq) {
  const int W = m.width(), K = m.k;
  const float* p = m.users + (int64_t)u * W;
  const float* q = m.items + (int64_t)i * W;
  const float e = m.mean + p[K] + q[K] + dot(p, q, K) - r;
  const float ge = 2.f * e * scale, gl = 2.f * lambda * scale;
  for (int j = 0; j < K; j++) {
    gp[j] += ge * q[j] + gl * p[j];
    gq[j] += ge * p[j] + gl * q[j];
  }
  gp[K] += ge + 2.f * lambdaBias * scale * p[K];
  gq[K] += ge + 2.f * lambdaBias * scale * q[K];
  return e;
}

// Plain SGD on one rating, updating both rows from their values before the step.
inline float sgdOne(const Model& m, int32_t u, int32_t i, float r, const Opts& o) {
  const int W = m.width(), K = m.k;
  float* __restrict p = m.users + (int64_t)u * W;
  float* __restrict q = m.items + (int64_t)i * W;
  const float e = m.mean + p[K] + q[K] + dot(p, q, K) - r;
  const float ge = 2.f * o.lr * e, decay = 1.f - 2.f * o.lr * o.lambda;
  for (int j = 0; j < K; j++) {
    const float pj = p[j], qj = q[j];
    p[j] = decay * pj - ge * qj;
    q[j] = decay * qj - ge * pj;
  }
  const float bdecay = 1.f - 2.f * o.lr * o.lambdaBias;
  p[K] = bdecay * p[K] - ge;
  q[K] = bdecay * q[K] - ge;
  return e;
}

// A minibatch's gradients, for the rows it touched only.
struct Accum {
  int W;
  std::vector<float> gU, gI;
  std::vector<char> seenU, seenI;
  std::vector<int32_t> rowsU, rowsI;
  Accum(const Model& m)
      : W(m.width()), gU((size_t)m.nUsers * W), gI((size_t)m.nItems * W), seenU(m.nUsers), seenI(m.nItems) {}
  float* user(int32_t u) {
    if (!seenU[u]) seenU[u] = 1, rowsU.push_back(u);
    return &gU[(size_t)u * W];
  }
  float* item(int32_t i) {
    if (!seenI[i]) seenI[i] = 1, rowsI.push_back(i);
    return &gI[(size_t)i * W];
  }
};

// Applies the gradients of the touched rows and clears them. Adam is lazy: rows the batch did
// not touch keep their moments and values (the dense update would move them on momentum alone).
// binding.gyp builds this file with -fno-math-errno: without errno from sqrt the Adam loop vectorises.
void applyRows(float* w, float* s1, float* s2, std::vector<float>& g, std::vector<char>& seen, std::vector<int32_t>& rows,
               int W, const Opts& o, int64_t t) {
  const bool adam = o.optimizer == ADAM;
  const float c1 = adam ? 1.f - std::pow(o.beta1, (float)t) : 1.f, c2 = adam ? 1.f - std::pow(o.beta2, (float)t) : 1.f;
  for (int32_t r : rows) {
    float* __restrict wr = w + (int64_t)r * W;
    float* __restrict gr = &g[(size_t)r * W];
    if (adam) {
      float* __restrict m1 = s1 + (int64_t)r * W;
      float* __restrict m2 = s2 + (int64_t)r * W;
      for (int j = 0; j < W; j++) {
        m1[j] = o.beta1 * m1[j] + (1.f - o.beta1) * gr[j];
        m2[j] = o.beta2 * m2[j] + (1.f - o.beta2) * gr[j] * gr[j];
        wr[j] -= o.lr * (m1[j] / c1) / (std::sqrt(m2[j] / c2) + o.eps);
      }
    } else {
      for (int j = 0; j < W; j++) wr[j] -= o.lr * gr[j];
    }
    std::fill(gr, gr + W, 0.f);
    seen[r] = 0;
  }
  rows.clear();
}

struct Part {
  double sse = 0;
  int64_t count = 0;
  bool cancelled = false;
};

constexpr int64_t kCancelEvery = 1024;  // single-rating steps between looks at the cancel flag
constexpr int64_t kAhead = 8;           // ratings between a prefetch and the step that needs it

inline void prefetchRow(const float* row, int W) {
  for (int j = 0; j < W; j += 16) __builtin_prefetch(row + j, 1);
  __builtin_prefetch(row + W - 1, 1);
}

void runPart(const Model& m, const Data& d, const Opts& o, int64_t from, int64_t to, std::atomic<int64_t>& step, Part& out) {
  if (o.batchSize == 1 && o.optimizer == SGD) {
    const int W = m.width();
    for (int64_t k = from; k < to; k++) {
      if ((k - from) % kCancelEvery == 0 && o.cancel && *o.cancel) return void(out.cancelled = true);
      // The order is shuffled, so every rating and row is a cache miss: ask for them ahead.
      if (k + 2 * kAhead < to) {
        const int32_t far = d.order[k + 2 * kAhead];
        __builtin_prefetch(d.u + far);
        __builtin_prefetch(d.i + far);
        __builtin_prefetch(d.r + far);
      }
      if (k + kAhead < to) {
        const int32_t near = d.order[k + kAhead];
        prefetchRow(m.users + (int64_t)d.u[near] * W, W);
        prefetchRow(m.items + (int64_t)d.i[near] * W, W);
      }
      const int32_t pos = d.order[k];
      const float e = sgdOne(m, d.u[pos], d.i[pos], d.r[pos], o);
      out.sse += (double)e * e;
      out.count++;
    }
    step += to - from;
    return;
  }
  Accum acc(m);
  for (int64_t b = from; b < to; b += o.batchSize) {
    if (o.cancel && *o.cancel) return void(out.cancelled = true);
    const int64_t end = std::min(to, b + o.batchSize);
    const float scale = 1.f / (float)(end - b);
    for (int64_t k = b; k < end; k++) {
      const int32_t pos = d.order[k];
      const int32_t u = d.u[pos], i = d.i[pos];
      const float e = addRatingGrad(m, u, i, d.r[pos], scale, o.lambda, o.lambdaBias, acc.user(u), acc.item(i));
      out.sse += (double)e * e;
      out.count++;
    }
    const int64_t t = ++step;
    applyRows(m.users, m.usersS1, m.usersS2, acc.gU, acc.seenU, acc.rowsU, acc.W, o, t);
    applyRows(m.items, m.itemsS1, m.itemsS2, acc.gI, acc.seenI, acc.rowsI, acc.W, o, t);
  }
}

}  // namespace

Result trainEpoch(const Model& m, const Data& d, Opts& o) {
  // Each thread needs enough batches of its own for the split to pay for starting it.
  const int64_t perThread = std::max<int64_t>(1024, 8 * (int64_t)o.batchSize);
  const int T = (int)std::max<int64_t>(1, std::min<int64_t>(o.threads, d.n / perThread));
  std::atomic<int64_t> step(o.step);
  std::vector<Part> parts(T);
  auto bound = [&](int t) { return d.n * t / T; };
  if (T == 1) {
    runPart(m, d, o, 0, d.n, step, parts[0]);
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < T; t++) pool.emplace_back([&, t] { runPart(m, d, o, bound(t), bound(t + 1), step, parts[t]); });
    for (auto& th : pool) th.join();
  }
  Result res{0, 0, false};
  for (const Part& p : parts) {
    res.sse += p.sse;
    res.count += p.count;
    res.cancelled = res.cancelled || p.cancelled;
  }
  o.step = step;
  return res;
}

void predict(const Model& m, const int32_t* u, const int32_t* i, int64_t n, float* out) {
  for (int64_t k = 0; k < n; k++) out[k] = predictOne(m, u[k], i[k]);
}

double lossAndGrad(const Model& m, const Data& d, float lambda, float lambdaBias, float* gUsers, float* gItems) {
  const int W = m.width(), K = m.k;
  std::fill(gUsers, gUsers + (int64_t)m.nUsers * W, 0.f);
  std::fill(gItems, gItems + (int64_t)m.nItems * W, 0.f);
  if (d.n == 0) return 0;
  const float scale = 1.f / (float)d.n;
  double loss = 0;
  for (int64_t k = 0; k < d.n; k++) {
    const int32_t pos = d.order[k];
    const int32_t u = d.u[pos], i = d.i[pos];
    const float* p = m.users + (int64_t)u * W;
    const float* q = m.items + (int64_t)i * W;
    const float e = addRatingGrad(m, u, i, d.r[pos], scale, lambda, lambdaBias, gUsers + (int64_t)u * W, gItems + (int64_t)i * W);
    loss += (double)e * e + lambda * ((double)dot(p, p, K) + dot(q, q, K)) + lambdaBias * ((double)p[K] * p[K] + (double)q[K] * q[K]);
  }
  return loss / (double)d.n;
}

void scoreUser(const Model& m, int32_t u, const int32_t* items, int64_t n, float* out) {
  const int W = m.width(), K = m.k;
  const float* p = m.users + (int64_t)u * W;
  const float base = m.mean + p[K];
  for (int64_t k = 0; k < n; k++) {
    const float* q = m.items + (int64_t)(items ? items[k] : k) * W;
    out[k] = base + q[K] + dot(p, q, K);
  }
}

}  // namespace mf
