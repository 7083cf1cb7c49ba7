// Fold-in of one NNMF user or item (foldin.cc): compiled once, with an AVX2 clone picked at load time.
#pragma once
#include <cstdint>

#include "kernel.h"

namespace nnmf {

struct FoldInOpts {
  float lambda;  // weight of ‖row‖², the whole penalty of the user's ratings (as in training)
  float lr;      // Adam's step size
  int steps;
};

struct FoldInResult {
  double loss;  // Σ e² + λ‖row‖² at the returned row
  double rmse;  // over the given ratings, at the returned row
};

// Fits `row` (R = d + dp + 1 floats, read as the starting point and overwritten) to the ratings
// of `items` (indices into m.items), the network and every item frozen.
FoldInResult foldIn(const Model& m, const int32_t* items, const float* ratings, int64_t n, float* row, const FoldInOpts& o);

// The item side: fits an item's `row` (R floats, [V | V' | bias]) to its ratings by `users`
// (indices into m.users), the network and every user frozen; `o.lambda` is the item's whole penalty.
FoldInResult foldInItem(const Model& m, const int32_t* users, const float* ratings, int64_t n, float* row, const FoldInOpts& o);

// Ridge regression: w minimising ‖X w - y‖² + Σ_k lambda[k] w_k², X n × p row-major, every
// lambda[k] > 0. Solved in the smaller of its primal (p × p) and dual (n × n) forms. False when
// the system could not be factorised.
bool ridge(const float* X, const float* y, int64_t n, int p, const float* lambda, float* out);

}  // namespace nnmf
