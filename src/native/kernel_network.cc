// Forward and backward passes of the NNMF network over a chunk of samples.
#include "kernel_network.h"

namespace nnmf {
namespace KERNEL_NS {

void forward(const Model& m, const Net& n, Work& w, const int32_t* us, const int32_t* is, int S) {
  for (int s = 0; s < S; s++) gather(m, us[s], is[s], w.X.p + (size_t)s * n.K0P, n.K0P);
  for (int s = 0; s < S; s++) {
    float* h = w.H1.p + (size_t)s * n.H1P;
    n.f1(w.X.p + (size_t)s * n.K0P, n.K0, n.W1.p, n.H1P, n.b1.p, h);
    sigmoidRow(h, n.H1P);
  }
  for (int s = 0; s < S; s++) {
    float* h = w.H2.p + (size_t)s * n.H2P;
    n.f2(w.H1.p + (size_t)s * n.H1P, n.h1, n.W2.p, n.H2P, n.b2.p, h);
    sigmoidRow(h, n.H2P);
  }
  const int R = m.rowWidth();
  for (int s = 0; s < S; s++) {
    float* h = w.H3.p + (size_t)s * n.H3P;
    n.f3(w.H2.p + (size_t)s * n.H2P, n.h2, n.W3.p, n.H3P, n.b3.p, h);
    sigmoidRow(h, n.H3P);
    w.y[s] = output(m, n, h, m.users + (size_t)us[s] * R, m.items + (size_t)is[s] * R);
  }
}

static inline void sigmoidGrad(float* d, const float* h, int width) {
  for (int j = 0; j < width; j += 8) {
    v8f hv = ld(h + j);
    st(d + j, ld(d + j) * hv * (splat(1.0f) - hv));
  }
}

// Adds a dense layer's gradient for the chunk: kernel += A^T D, bias += column sums of D.
static void accumulateDense(int S, const float* A, int lda, int K, const float* D, int ldd, OuterFn outerFn, float* gW,
                            float* gb) {
  for (int s = 0; s < S; s++)
    for (int j = 0; j < ldd; j++) gb[j] += D[(size_t)s * ldd + j];
  outerFn(A, lda, S, D, ldd, K, gW, ldd);
}

// out = (D W^T) * sigmoid'(H): the error one layer down, for each sample of the chunk.
static void backSigmoid(int S, RowMatFn back, const float* D, int ldd, int nOut, const float* WT, const float* H, int ldh,
                        float* out) {
  for (int s = 0; s < S; s++) {
    float* d = out + (size_t)s * ldh;
    back(D + (size_t)s * ldd, nOut, WT, ldh, nullptr, d);
    sigmoidGrad(d, H + (size_t)s * ldh, ldh);
  }
}

void backward(const Net& n, Work& w, int S, bool wantW, float* dx) {
  float* D3 = w.DA.p;
  for (int s = 0; s < S; s++) {
    float* d = D3 + (size_t)s * n.H3P;
    const float* h = w.H3.p + (size_t)s * n.H3P;
    for (int j = 0; j < n.H3P; j++) d[j] = w.dy[s] * n.w4.p[j] * h[j] * (1.f - h[j]);
  }
  if (wantW) {
    for (int s = 0; s < S; s++) {
      const float* h = w.H3.p + (size_t)s * n.H3P;
      for (int j = 0; j < n.h3; j++) w.g.w4.p[j] += w.dy[s] * h[j];
      w.g.b4 += w.dy[s];
    }
    accumulateDense(S, w.H2.p, n.H2P, n.h2, D3, n.H3P, n.o3, w.g.W3.p, w.g.b3.p);
  }
  float* D2 = w.DB.p;
  backSigmoid(S, n.b2f, D3, n.H3P, n.h3, n.W3T.p, w.H2.p, n.H2P, D2);
  if (wantW) accumulateDense(S, w.H1.p, n.H1P, n.h1, D2, n.H2P, n.o2, w.g.W2.p, w.g.b2.p);
  float* D1 = w.DA.p;
  backSigmoid(S, n.b1f, D2, n.H2P, n.h2, n.W2T.p, w.H1.p, n.H1P, D1);
  if (wantW) accumulateDense(S, w.X.p, n.K0P, n.K0, D1, n.H1P, n.o1, w.g.W1.p, w.g.b1.p);
  if (dx)
    for (int s = 0; s < S; s++) n.bx(D1 + (size_t)s * n.H1P, n.h1, n.W1T.p, n.K0P, nullptr, dx + (size_t)s * n.K0P);
}

}  // namespace KERNEL_NS
}  // namespace nnmf
