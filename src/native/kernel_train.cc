// NNMF training: minibatch passes over the network on several threads, the latent rows'
// gradients, the optimiser updates (Adam or RMSProp) and the gradient check's loss and gradient.
#include <cmath>
#include <thread>
#include <vector>

#include "kernel_network.h"

namespace nnmf {
namespace KERNEL_NS {

struct Trainer {
  const Model& m;
  Net net;
  std::vector<Work> work;
  Buf dxAll;                 // per sample of the batch: d(loss)/d(input)
  std::vector<float> dyAll;  // per sample of the batch: d(loss)/d(output)
  Buf gNet;                  // flat network gradient
  Buf gUsers, gItems;        // dense latent gradients, non-zero only on touched rows
  std::vector<int32_t> touchedU, touchedI;
  std::vector<uint8_t> seenU, seenI;
  int threads;

  Trainer(const Model& model, int batch, int nThreads)
      : m(model), net(model), dxAll((size_t)batch * net.K0P), dyAll(batch), gNet(model.netSize()),
        gUsers((size_t)model.nUsers * model.rowWidth()), gItems((size_t)model.nItems * model.rowWidth()),
        seenU(model.nUsers, 0), seenI(model.nItems, 0), threads(std::max(1, nThreads)) {
    for (int t = 0; t < threads; t++) work.emplace_back(net);
  }

  // One pass over the batch; returns the summed squared error.
  double pass(const Data& data, const int32_t* pos, int B, bool wantW, bool wantX) {
    auto run = [&](int t, int lo, int hi) {
      Work& w = work[t];
      if (wantW) w.g.zero();
      w.sse = 0;
      int32_t us[CHUNK], is[CHUNK];
      for (int c = lo; c < hi; c += CHUNK) {
        const int S = std::min(CHUNK, hi - c);
        for (int s = 0; s < S; s++) us[s] = data.u[pos[c + s]], is[s] = data.i[pos[c + s]];
        forward(m, net, w, us, is, S);
        for (int s = 0; s < S; s++) {
          const float e = w.y[s] - data.r[pos[c + s]];
          w.sse += (double)e * e;
          w.dy[s] = 2.f * e;
          dyAll[c + s] = w.dy[s];
        }
        backward(net, w, S, wantW, wantX ? dxAll.p + (size_t)c * net.K0P : nullptr);
      }
    };
    const int T = std::min(threads, std::max(1, B / CHUNK));
    if (T == 1) {
      run(0, 0, B);
    } else {
      std::vector<std::thread> pool;
      const int per = ((B + T - 1) / T + CHUNK - 1) / CHUNK * CHUNK;
      for (int t = 0; t < T; t++) {
        const int lo = std::min(B, t * per), hi = std::min(B, (t + 1) * per);
        pool.emplace_back(run, t, lo, hi);
      }
      for (auto& th : pool) th.join();
    }
    double sse = 0;
    for (int t = 0; t < T; t++) sse += work[t].sse;
    if (wantW) {
      for (int t = 1; t < T; t++) work[0].g.add(work[t].g);
      work[0].g.unpad(net, gNet.p);
    }
    return sse;
  }

  // Adds the data and regularisation gradients of the batch to the touched latent rows.
  void latentGrads(const Data& data, const int32_t* pos, int B) {
    const int R = m.rowWidth(), d = m.d, dp = m.dp;
    for (int b = 0; b < B; b++) {
      const int32_t u = data.u[pos[b]], i = data.i[pos[b]];
      float* gu = gUsers.p + (size_t)u * R;
      float* gi = gItems.p + (size_t)i * R;
      const float* ur = m.users + (size_t)u * R;
      const float* ir = m.items + (size_t)i * R;
      const float* dx = dxAll.p + (size_t)b * net.K0P;
      for (int k = 0; k < d; k++) gu[k] += dx[k], gi[k] += dx[d + k];
      for (int k = 0; k < dp; k++) {
        gu[d + k] += dx[2 * d + k] * ir[d + k];
        gi[d + k] += dx[2 * d + k] * ur[d + k];
      }
      if (m.useBias) gu[R - 1] += dyAll[b], gi[R - 1] += dyAll[b];
      const float ru = 2.f * data.regU[u], ri = 2.f * data.regI[i];
      for (int k = 0; k < R; k++) gu[k] += ru * ur[k], gi[k] += ri * ir[k];
      if (!seenU[u]) seenU[u] = 1, touchedU.push_back(u);
      if (!seenI[i]) seenI[i] = 1, touchedI.push_back(i);
    }
  }

  static void update(const Opts& o, int64_t t, float* w, float* s1, float* s2, float* g, int64_t n) {
    if (o.optimizer == ADAM) {
      adamStep(o.lr, o.beta1, o.beta2, o.eps, t, w, s1, s2, g, n);
    } else {
      for (int64_t k = 0; k < n; k++) {
        s1[k] = o.rho * s1[k] + (1.f - o.rho) * g[k] * g[k];
        w[k] -= o.lr * g[k] / std::sqrt(s1[k] + o.eps);
      }
    }
  }

  void applyLatents(const Opts& o, int64_t t) {
    const int R = m.rowWidth();
    auto rows = [&](std::vector<int32_t>& touched, std::vector<uint8_t>& seen, float* W, float* S1, float* S2, Buf& G) {
      for (int32_t r : touched) {
        float* g = G.p + (size_t)r * R;
        update(o, t, W + (size_t)r * R, S1 + (size_t)r * R, S2 + (size_t)r * R, g, m.useBias ? R : R - 1);
        std::fill(g, g + R, 0.f);
        seen[r] = 0;
      }
      touched.clear();
    };
    rows(touchedU, seenU, m.users, m.usersS1, m.usersS2, gUsers);
    rows(touchedI, seenI, m.items, m.itemsS1, m.itemsS2, gItems);
  }

  double batch(const Data& data, const int32_t* pos, int B, Opts& o) {
    const int64_t t = ++o.step;
    const double sse = pass(data, pos, B, true, !o.alternating);
    update(o, t, m.net, m.netS1, m.netS2, gNet.p, m.netSize());
    net.load(m.net);
    if (o.alternating) pass(data, pos, B, false, true);
    latentGrads(data, pos, B);
    applyLatents(o, t);
    return sse;
  }
};

Result trainEpoch(const Model& m, const Data& data, Opts& o) {
  const int B = (int)std::max<int64_t>(1, std::min<int64_t>(o.batchSize, data.n));
  Trainer tr(m, B, o.threads);
  Result res{0, 0, false};
  for (int64_t start = 0; start < data.n; start += B) {
    if (o.cancel && *o.cancel) {
      res.cancelled = true;
      break;
    }
    const int n = (int)std::min<int64_t>(B, data.n - start);
    res.sse += tr.batch(data, data.order + start, n, o);
    res.count += n;
  }
  return res;
}

double lossAndGrad(const Model& m, const Data& data, float* gNet, float* gUsers, float* gItems) {
  const int B = (int)data.n;
  Trainer tr(m, B, 1);
  const double sse = tr.pass(data, data.order, B, true, true);
  std::copy(tr.gNet.p, tr.gNet.p + m.netSize(), gNet);
  tr.latentGrads(data, data.order, B);
  const int R = m.rowWidth();
  double reg = 0;
  for (int b = 0; b < B; b++) {
    const int32_t u = data.u[data.order[b]], i = data.i[data.order[b]];
    double nu = 0, ni = 0;
    for (int k = 0; k < R; k++) {
      nu += (double)m.users[(size_t)u * R + k] * m.users[(size_t)u * R + k];
      ni += (double)m.items[(size_t)i * R + k] * m.items[(size_t)i * R + k];
    }
    reg += data.regU[u] * nu + data.regI[i] * ni;
  }
  std::copy(tr.gUsers.p, tr.gUsers.p + (size_t)m.nUsers * R, gUsers);
  std::copy(tr.gItems.p, tr.gItems.p + (size_t)m.nItems * R, gItems);
  return sse + reg;
}

}  // namespace KERNEL_NS
}  // namespace nnmf
