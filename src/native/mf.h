// Biased matrix factorisation: prediction = mean + b_u + b_i + p_u·q_i. Declared here for the
// binding (mf_binding.inc, included by addon.cc); implemented in mf.cc.
#pragma once
#include <cstdint>

#include "kernel.h"

namespace mf {

struct Model {
  int nUsers, nItems, k;
  float mean;
  // One row per user / item: [factors (k) | bias (1)]; the optimiser slots have the same shape.
  float *users, *items;
  float *usersS1, *usersS2, *itemsS1, *itemsS2;
  int width() const { return k + 1; }
};

struct Data {
  const int32_t *u, *i;
  const float* r;
  const int32_t* order;  // positions into u/i/r, visited in this order
  int64_t n;             // length of order
};

enum Optimizer { SGD = 0, ADAM = 1 };

struct Opts {
  int batchSize;
  float lr, lambda, lambdaBias, beta1, beta2, eps;
  int optimizer;
  int64_t step;  // optimiser steps taken before this call; advanced in place
  int threads;
  volatile int32_t* cancel;  // non-zero asks the loop to stop after the current batch
};

using Result = nnmf::Result;  // an epoch's summed squared error, ratings seen and whether it was cancelled

Result trainEpoch(const Model& m, const Data& data, Opts& o);
void predict(const Model& m, const int32_t* u, const int32_t* i, int64_t n, float* out);
// Mean over the positions of the per-rating loss; the gradients have the rows' layout.
double lossAndGrad(const Model& m, const Data& data, float lambda, float lambdaBias, float* gUsers, float* gItems);
// Scores user u against items[0, n) (items == nullptr: item k for k < n).
void scoreUser(const Model& m, int32_t u, const int32_t* items, int64_t n, float* out);

}  // namespace mf
