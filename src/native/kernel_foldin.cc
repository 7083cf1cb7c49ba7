// Fold-in of one NNMF user: the user's row [U (d) | U' (dp) | bias] fitted to their ratings with
// the network and the item rows frozen, by full-batch Adam on the training objective
// Σ (r - y)² + λ‖row‖². The item side is the same computation with the roles swapped: an item's
// row [V (d) | V' (dp) | bias] fitted to its raters' ratings, the network and the user rows frozen.
// Each step runs the ratings through the trainer's own forward and backward passes
// (kernel_network.cc), a chunk of samples at a time on a view of the model whose one user (or
// item) is the row: the same vectorised layers that train an epoch, without the network's gradient.
#include <cmath>
#include <vector>

#include "kernel_network.h"

namespace nnmf {
namespace KERNEL_NS {

FoldInResult foldIn(const Model& m, bool itemSide, const int32_t* others, const float* ratings, int64_t n, float* row,
                    const FoldInOpts& o) {
  const int d = m.d, dp = m.dp, R = m.rowWidth();
  // The binding checks the shapes; this says so to the compiler too, whose bounds check on the
  // network's copy would otherwise warn about negative widths.
  if (m.h1 <= 0 || m.h2 <= 0 || m.h3 <= 0) return FoldInResult{0, 0};
  // The row's own latent is the first input block for a user, the second for an item.
  const int selfOff = itemSide ? d : 0;
  const float* table = itemSide ? m.users : m.items;
  Model view = m;
  if (itemSide) {
    view.items = row;
    view.nItems = 1;
  } else {
    view.users = row;
    view.nUsers = 1;
  }
  const Net net(m);
  Work w(net);
  const std::vector<int32_t> self(CHUNK, 0);
  Buf dx((size_t)CHUNK * net.K0P);  // aligned: the layers store whole vectors
  std::vector<double> grad(R);
  std::vector<float> g(R), m1(R, 0.f), m2(R, 0.f);
  FoldInResult res{0, 0};
  for (int step = 0; step <= o.steps; step++) {
    const bool last = step == o.steps;  // the last pass only measures
    std::fill(grad.begin(), grad.end(), 0.0);
    double sse = 0;
    for (int64_t c = 0; c < n; c += CHUNK) {
      const int S = (int)std::min<int64_t>(CHUNK, n - c);
      const int32_t* us = itemSide ? others + c : self.data();
      const int32_t* is = itemSide ? self.data() : others + c;
      forward(view, net, w, us, is, S);
      for (int s = 0; s < S; s++) {
        const float e = w.y[s] - ratings[c + s];
        sse += (double)e * e;
        w.dy[s] = 2.f * e;
      }
      if (last) continue;
      backward(net, w, S, false, dx.p);
      for (int s = 0; s < S; s++) {
        const float* gx = dx.p + (size_t)s * net.K0P;
        const float* other = table + (size_t)others[c + s] * R;
        // dy/dU_k is the input's gradient at U_k; dy/dU'_k is the one at (U' ⊙ V')_k times V'_k.
        for (int k = 0; k < d; k++) grad[k] += gx[selfOff + k];
        for (int k = 0; k < dp; k++) grad[d + k] += gx[2 * d + k] * other[d + k];
        grad[R - 1] += w.dy[s];
      }
    }
    double reg = 0;
    for (int k = 0; k < R; k++) reg += (double)row[k] * row[k];
    res.loss = sse + o.lambda * reg;
    res.rmse = n > 0 ? std::sqrt(sse / (double)n) : 0;
    if (last) break;
    if (!m.useBias) grad[R - 1] = 0;
    for (int k = 0; k < R; k++) g[k] = (float)grad[k] + 2.f * o.lambda * row[k];
    adamStep(o.lr, 0.9f, 0.999f, 1e-8f, step + 1, row, m1.data(), m2.data(), g.data(), R);  // Adam's usual constants
    if (!m.useBias) row[R - 1] = 0.f;
  }
  return res;
}

}  // namespace KERNEL_NS
}  // namespace nnmf
