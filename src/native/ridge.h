// Ridge regression for the closed-form fold-ins (ridge.cc): compiled once, with an AVX2 clone picked at load time.
#pragma once
#include <cstdint>

namespace nnmf {

// Ridge regression: w minimising ‖X w - y‖² + Σ_k lambda[k] w_k², X n × p row-major, every
// lambda[k] > 0. Solved in the smaller of its primal (p × p) and dual (n × n) forms. False when
// the system could not be factorised.
bool ridge(const float* X, const float* y, int64_t n, int p, const float* lambda, float* out);

}  // namespace nnmf
