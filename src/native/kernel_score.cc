// NNMF inference: predictions for pairs, and one user scored against many items in blocks of
// items that go through the network together.
#include "kernel_network.h"

namespace nnmf {
namespace KERNEL_NS {

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

}  // namespace KERNEL_NS
}  // namespace nnmf
