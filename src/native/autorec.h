// I-AutoRec kernel (Sedhain et al. 2015): each item's vector of training ratings over the users
// goes through one sigmoid layer and a linear layer back to the users. Like the NNMF kernel,
// autorec.cc is compiled once per instruction set (KERNEL_NS names the variant) and addon.cc
// picks the variant the CPU runs.
#pragma once
#include <cstdint>

#include "kernel.h"  // Result

namespace nnmf {
namespace autorec {

// The weights, one row per user so that an item's ratings touch whole rows: encoder row u is
// column u of the paper's W (hidden × users), decoder row u is row u of V (users × hidden).
struct Params {
  int nUsers, nItems, hidden;
  float *W, *b, *V, *c;  // W, V: nUsers × hidden; b: hidden; c: nUsers
};

// Adam's first and second moments, shaped like the parameters.
struct Slots {
  float *mW, *vW, *mb, *vb, *mV, *vV, *mc, *vc;
};

// Training ratings grouped by item: the users and ratings of item i are [start[i], start[i+1]).
struct Ratings {
  const int32_t* start;
  const int32_t* users;
  const float* ratings;
};

// What serving needs: the decoder and the code h_i of every item, computed from its training ratings.
struct Served {
  int nUsers, nItems, hidden;
  const float *V, *c, *codes;  // codes: nItems × hidden
};

struct Opts {
  int batchSize;  // items per step
  float lr, beta1, beta2, eps;
  // Weight of (‖W‖² + ‖V‖²)/2 in the loss of a whole pass over `order`; a step over B of its n
  // items carries B/n of it.
  float lambda;
  int64_t step;  // optimiser steps taken before this call; advanced in place
  int threads;
  volatile int32_t* cancel;  // non-zero asks the loop to stop after the current batch
  float* codes;              // when not null: every item's code after the epoch (nItems × hidden)
};

// Gradients in the parameters' layout.
struct Grads {
  float *W, *b, *V, *c;
};

#define AUTOREC_DECLARE(NS)                                                                                \
  namespace NS {                                                                                           \
  Result trainEpoch(const Params& p, const Slots& s, const Ratings& r, const int32_t* order, int64_t n,    \
                    Opts& o);                                                                              \
  double lossAndGrad(const Params& p, const Ratings& r, const int32_t* order, int64_t n, float lambda,     \
                     const Grads& g);                                                                      \
  void codes(const Params& p, const Ratings& r, float* out);                                               \
  void predict(const Served& s, const int32_t* u, const int32_t* i, int64_t n, float* out);               \
  void* prepare(const Served& s);                                                                          \
  void release(void* prepared);                                                                            \
  void scorePairs(const void* prepared, const int32_t* u, const int32_t* i, int64_t n, float* out);       \
  void scoreUser(const void* prepared, int32_t u, const int32_t* items, int64_t n, float* out);           \
  }

AUTOREC_DECLARE(k_avx512)
AUTOREC_DECLARE(k_avx2)
AUTOREC_DECLARE(k_generic)

}  // namespace autorec
}  // namespace nnmf
