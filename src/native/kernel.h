// Fused NNMF training and inference kernel. This header is included by the kernel's files
// (kernel_simd.h: vector helpers; kernel_network.*: the network's layout and its forward and
// backward passes; kernel_train.cc: training; kernel_score.cc: inference; kernel_foldin.cc:
// fold-in of one row; kernel_ridge.cc: the ridge solver of the closed-form fold-ins), which are compiled
// once per instruction set (KERNEL_NS names the variant), and by addon.cc, which picks a
// variant at run time from the CPU's features.
#pragma once
#include <cstdint>

namespace nnmf {

struct Model {
  int nUsers, nItems, d, dp, h1, h2, h3;
  bool useBias;
  // Network weights, flat: W1[in*h1] b1 W2[h1*h2] b2 W3[h2*h3] b3 W4[h3] b4[1] (Dense kernels are [in, out]).
  float *net, *netS1, *netS2;
  // One row per user / item: [U (d) | U' (dp) | bias (1)].
  float *users, *usersS1, *usersS2;
  float *items, *itemsS1, *itemsS2;
  int rowWidth() const { return d + dp + 1; }
  int inWidth() const { return 2 * d + dp; }
  int64_t netSize() const {
    return (int64_t)inWidth() * h1 + h1 + (int64_t)h1 * h2 + h2 + (int64_t)h2 * h3 + h3 + h3 + 1;
  }
};

struct Data {
  const int32_t *u, *i;
  const float* r;
  const int32_t* order;  // positions into u/i/r, visited in this order
  int64_t n;             // length of order
  const float *regU, *regI;  // per-row regularisation weight (lambda / rating count of that row)
};

enum Optimizer { RMSPROP = 0, ADAM = 1 };

struct Opts {
  int batchSize;
  float lr, rho, beta1, beta2, eps;
  int optimizer;
  int64_t step;      // optimiser steps taken before this call; advanced in place
  bool alternating;  // recompute latent gradients after the network step (true) or reuse one pass (false)
  int threads;
  volatile int32_t* cancel;  // non-zero asks the loop to stop after the current batch
};

struct Result {
  double sse;
  int64_t count;
  bool cancelled;
};

// Fold-in of one user's or item's row (kernel_foldin.cc).
struct FoldInOpts {
  float lambda;  // weight of ‖row‖², the whole penalty of the row's ratings (as in training)
  float lr;      // Adam's step size
  int steps;
};

struct FoldInResult {
  double loss;  // Σ e² + λ‖row‖² at the returned row
  double rmse;  // over the given ratings, at the returned row
};

// ridge(X, y, n, p, lambda, out) (kernel_ridge.cc): w minimising ‖X w - y‖² + Σ_k lambda[k] w_k²,
// X n × p row-major, every lambda[k] > 0, solved in the smaller of its primal (p × p) and dual
// (n × n) forms; false when the system could not be factorised.
#define NNMF_DECLARE(NS)                                                                  \
  namespace NS {                                                                          \
  Result trainEpoch(const Model& m, const Data& data, Opts& o);                           \
  void predict(const Model& m, const int32_t* u, const int32_t* i, int64_t n, float* out); \
  double lossAndGrad(const Model& m, const Data& data, float* gNet, float* gUsers, float* gItems); \
  void* prepare(const Model& m);                                                          \
  void release(void* prepared);                                                           \
  void predictPrepared(const Model& m, void* prepared, const int32_t* u, const int32_t* i, int64_t n, float* out); \
  void scoreUser(const Model& m, const void* prepared, int32_t u, const int32_t* items, int64_t n, float* out); \
  FoldInResult foldIn(const Model& m, bool itemSide, const int32_t* others, const float* ratings, int64_t n, float* row, \
                      const FoldInOpts& o);                                                \
  bool ridge(const float* X, const float* y, int64_t n, int p, const float* lambda, float* out); \
  }

NNMF_DECLARE(k_avx512)
NNMF_DECLARE(k_avx2)
NNMF_DECLARE(k_generic)

}  // namespace nnmf
