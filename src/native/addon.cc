// N-API bindings for the fused NNMF kernel. Every array handed in is checked here, so bad
// input from JavaScript becomes a thrown error rather than an out-of-bounds access.
#include <napi.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernel.h"

// Biased matrix factorisation (mf.h, mf.cc, mf_binding.inc).
#include "mf.h"

#include <exception>
#include <thread>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace {

using namespace nnmf;

struct Variant {
  const char* name;
  Result (*trainEpoch)(const Model&, const Data&, Opts&);
  void (*predict)(const Model&, const int32_t*, const int32_t*, int64_t, float*);
  double (*lossAndGrad)(const Model&, const Data&, float*, float*, float*);
  void* (*prepare)(const Model&);
  void (*release)(void*);
  void (*predictPrepared)(const Model&, void*, const int32_t*, const int32_t*, int64_t, float*);
  void (*scoreUser)(const Model&, const void*, int32_t, const int32_t*, int64_t, float*);
};

// The x86-64 builds add the AVX2 and AVX-512 variants (binding.gyp defines NNMF_X86_VARIANTS);
// elsewhere (arm64, say) the portable kernel is the only one.
const Variant kGeneric{"generic", k_generic::trainEpoch, k_generic::predict, k_generic::lossAndGrad,
                       k_generic::prepare, k_generic::release, k_generic::predictPrepared,
                       k_generic::scoreUser};
#ifdef NNMF_X86_VARIANTS
const Variant kAvx512{"avx512", k_avx512::trainEpoch, k_avx512::predict, k_avx512::lossAndGrad,
                      k_avx512::prepare, k_avx512::release, k_avx512::predictPrepared, k_avx512::scoreUser};
const Variant kAvx2{"avx2", k_avx2::trainEpoch, k_avx2::predict, k_avx2::lossAndGrad,
                    k_avx2::prepare, k_avx2::release, k_avx2::predictPrepared, k_avx2::scoreUser};
#endif

const Variant& pickVariant() {
#ifdef NNMF_X86_VARIANTS
  // NNMF_KERNEL=avx2 or =generic asks for a lesser variant than the best one the CPU runs, to
  // compare them; a variant the CPU cannot run is never picked.
  const char* forced = std::getenv("NNMF_KERNEL");
  const bool generic = forced && std::strcmp(forced, "generic") == 0;
  const bool avx2 = forced && std::strcmp(forced, "avx2") == 0;
  __builtin_cpu_init();
  const bool hasAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!generic && !avx2 && hasAvx2 && __builtin_cpu_supports("avx512f")) return kAvx512;
  if (!generic && hasAvx2) return kAvx2;
#endif
  return kGeneric;
}

const Variant& variant() {
  static const Variant& v = pickVariant();
  return v;
}

// Nice value of training threads (0 = normal, 19 = lowest).
constexpr int kTrainingNice = 10;

struct Error : std::exception {
  std::string msg;
  explicit Error(std::string m) : msg(std::move(m)) {}
};

// A whole number in [lo, hi], from a property or an argument.
double integerValue(const Napi::Value& v, const char* what, double lo, double hi) {
  if (!v.IsNumber()) throw Error(std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != std::floor(d)) throw Error(std::string(what) + " is out of range");
  return d;
}

int intProp(const Napi::Object& o, const char* key, int lo, int hi) { return (int)integerValue(o.Get(key), key, lo, hi); }

double numProp(const Napi::Object& o, const char* key, double def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) throw Error(std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw Error(std::string(key) + " must be finite");
  return d;
}

// The data pointer of a typed array of the wanted type (adjusted for its byte offset) and its length.
template <typename T>
T* typedArray(napi_env env, napi_value v, napi_typedarray_type want, size_t* length, const char* what) {
  bool is = false;
  napi_typedarray_type type;
  void* data = nullptr;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, length, &data, nullptr, nullptr) != napi_ok || type != want)
    throw Error(std::string(what) + " must be a " + (want == napi_float32_array ? "Float32Array" : "Int32Array"));
  return static_cast<T*>(data);
}

// Every index of a[0, n) in [0, limit).
void checkIndices(const int32_t* a, size_t n, int limit, const char* what) {
  for (size_t k = 0; k < n; k++)
    if (a[k] < 0 || a[k] >= limit) throw Error(std::string(what) + " index out of range");
}

template <typename T, napi_typedarray_type Type>
T* arrayProp(const Napi::Object& o, const char* key, size_t length, std::vector<Napi::Reference<Napi::Value>>* keep,
             bool optional = false) {
  Napi::Value v = o.Get(key);
  if (optional && v.IsUndefined()) return nullptr;
  size_t n;
  T* data = typedArray<T>(o.Env(), v, Type, &n, key);
  if (length != SIZE_MAX && n != length)
    throw Error(std::string(key) + " has length " + std::to_string(n) + ", expected " + std::to_string(length));
  if (keep) keep->push_back(Napi::Persistent(v));
  return data;
}

size_t lengthOf(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray()) throw Error(std::string(key) + " must be a typed array");
  return v.As<Napi::TypedArray>().ElementLength();
}

Model readModel(const Napi::Object& o, bool withState, std::vector<Napi::Reference<Napi::Value>>* keep) {
  Model m{};
  m.nUsers = intProp(o, "nUsers", 1, 1 << 30);
  m.nItems = intProp(o, "nItems", 1, 1 << 30);
  m.d = intProp(o, "d", 0, 64);
  m.dp = intProp(o, "dp", 0, 128);
  m.h1 = intProp(o, "h1", 1, 128);
  m.h2 = intProp(o, "h2", 1, 128);
  m.h3 = intProp(o, "h3", 1, 128);
  if (m.inWidth() < 1 || m.inWidth() > 128) throw Error("2*d + dp must be between 1 and 128");
  m.useBias = o.Get("useBias").ToBoolean();
  const size_t ns = m.netSize(), nu = (size_t)m.nUsers * m.rowWidth(), ni = (size_t)m.nItems * m.rowWidth();
  using F = float;
  m.net = arrayProp<F, napi_float32_array>(o, "net", ns, keep);
  m.users = arrayProp<F, napi_float32_array>(o, "users", nu, keep);
  m.items = arrayProp<F, napi_float32_array>(o, "items", ni, keep);
  if (withState) {
    m.netS1 = arrayProp<F, napi_float32_array>(o, "netS1", ns, keep);
    m.netS2 = arrayProp<F, napi_float32_array>(o, "netS2", ns, keep);
    m.usersS1 = arrayProp<F, napi_float32_array>(o, "usersS1", nu, keep);
    m.usersS2 = arrayProp<F, napi_float32_array>(o, "usersS2", nu, keep);
    m.itemsS1 = arrayProp<F, napi_float32_array>(o, "itemsS1", ni, keep);
    m.itemsS2 = arrayProp<F, napi_float32_array>(o, "itemsS2", ni, keep);
  }
  return m;
}

Data readData(const Napi::Object& o, const Model& m, std::vector<Napi::Reference<Napi::Value>>* keep) {
  Data d{};
  const size_t n = lengthOf(o, "u");
  d.u = arrayProp<int32_t, napi_int32_array>(o, "u", n, keep);
  d.i = arrayProp<int32_t, napi_int32_array>(o, "i", n, keep);
  d.r = arrayProp<float, napi_float32_array>(o, "r", n, keep);
  d.n = (int64_t)lengthOf(o, "order");
  d.order = arrayProp<int32_t, napi_int32_array>(o, "order", d.n, keep);
  d.regU = arrayProp<float, napi_float32_array>(o, "regU", m.nUsers, keep);
  d.regI = arrayProp<float, napi_float32_array>(o, "regI", m.nItems, keep);
  for (int64_t k = 0; k < d.n; k++) {
    const int32_t p = d.order[k];
    if (p < 0 || (size_t)p >= n) throw Error("order holds a position out of range");
    if (d.u[p] < 0 || d.u[p] >= m.nUsers) throw Error("user index out of range at position " + std::to_string(p));
    if (d.i[p] < 0 || d.i[p] >= m.nItems) throw Error("item index out of range at position " + std::to_string(p));
    if (!std::isfinite(d.r[p])) throw Error("rating is not finite at position " + std::to_string(p));
  }
  return d;
}

void lowerThisThreadsPriority() {
#ifdef __linux__
  // Per-thread on Linux: the nice value of this thread only.
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), kTrainingNice);
#endif
}

// Runs on a libuv pool thread, then settles a promise; holds the JS arrays it reads or writes
// until then, so that the garbage collector cannot free them under the worker.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::vector<Napi::Reference<Napi::Value>> keep)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), keep_(std::move(keep)) {}
  // Queues the work; the promise settles when it is done. The worker deletes itself then.
  Napi::Promise Start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  virtual Napi::Value Settled(Napi::Env env) { return env.Undefined(); }

 private:
  void OnOK() override {
    Napi::Value v = Settled(Env());
    keep_.clear();
    deferred_.Resolve(v);
  }
  void OnError(const Napi::Error& e) override {
    keep_.clear();
    deferred_.Reject(e.Value());
  }
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
};

class EpochWorker : public PromiseWorker {
 public:
  EpochWorker(Napi::Env env, Model m, Data d, Opts o, std::vector<Napi::Reference<Napi::Value>> keep)
      : PromiseWorker(env, std::move(keep)), m_(m), d_(d), o_(o) {}
  // The epoch runs on a thread of its own at a lower scheduling priority (threads it starts
  // inherit it), so that on a busy machine the request-serving thread wins the CPU. A libuv
  // pool thread is not reniced itself: an unprivileged process could not raise it back.
  void Execute() override {
    std::exception_ptr failure;
    std::thread t([&] {
      try {
        lowerThisThreadsPriority();
        res_ = variant().trainEpoch(m_, d_, o_);
      } catch (...) {
        failure = std::current_exception();
      }
    });
    t.join();
    if (failure) SetError("training epoch failed");
  }

 protected:
  Napi::Value Settled(Napi::Env env) override {
    auto out = Napi::Object::New(env);
    out.Set("sse", res_.sse);
    out.Set("count", (double)res_.count);
    out.Set("step", (double)o_.step);
    out.Set("cancelled", res_.cancelled);
    return out;
  }

 private:
  Model m_;
  Data d_;
  Opts o_;
  Result res_{};
};

template <typename F>
Napi::Value guard(const Napi::CallbackInfo& info, F body) {
  try {
    return body();
  } catch (const Error& e) {
    Napi::TypeError::New(info.Env(), e.msg).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
}

Napi::Value TrainEpoch(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsObject() || !info[2].IsObject())
      throw Error("trainEpoch(model, data, options)");
    std::vector<Napi::Reference<Napi::Value>> keep;
    Model m = readModel(info[0].As<Napi::Object>(), true, &keep);
    Data d = readData(info[1].As<Napi::Object>(), m, &keep);
    auto oo = info[2].As<Napi::Object>();
    Opts o{};
    o.batchSize = intProp(oo, "batchSize", 1, 1 << 24);
    o.lr = (float)numProp(oo, "lr", 1e-3);
    o.rho = (float)numProp(oo, "rho", 0.9);
    o.beta1 = (float)numProp(oo, "beta1", 0.9);
    o.beta2 = (float)numProp(oo, "beta2", 0.999);
    o.eps = (float)numProp(oo, "eps", 1e-7);
    o.optimizer = intProp(oo, "optimizer", 0, 1);
    o.step = (int64_t)numProp(oo, "step", 0);
    o.alternating = oo.Get("alternating").ToBoolean();
    o.threads = intProp(oo, "threads", 1, 64);
    o.cancel = arrayProp<int32_t, napi_int32_array>(oo, "cancel", 1, &keep, true);
    return (new EpochWorker(info.Env(), m, d, o, std::move(keep)))->Start();
  });
}

Napi::Value Predict(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsTypedArray() || !info[2].IsTypedArray())
      throw Error("predict(model, users: Int32Array, items: Int32Array)");
    Model m = readModel(info[0].As<Napi::Object>(), false, nullptr);
    size_t n, ni;
    const int32_t* u = typedArray<int32_t>(info.Env(), info[1], napi_int32_array, &n, "users");
    const int32_t* i = typedArray<int32_t>(info.Env(), info[2], napi_int32_array, &ni, "items");
    if (ni != n) throw Error("users and items differ in length");
    checkIndices(u, n, m.nUsers, "user");
    checkIndices(i, n, m.nItems, "item");
    auto out = Napi::Float32Array::New(info.Env(), n);
    variant().predict(m, u, i, (int64_t)n, out.Data());
    return out;
  });
}

Napi::Value LossAndGrad(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject()) throw Error("lossAndGrad(model, data)");
    Model m = readModel(info[0].As<Napi::Object>(), false, nullptr);
    Data d = readData(info[1].As<Napi::Object>(), m, nullptr);
    auto env = info.Env();
    auto gNet = Napi::Float32Array::New(env, m.netSize());
    auto gUsers = Napi::Float32Array::New(env, (size_t)m.nUsers * m.rowWidth());
    auto gItems = Napi::Float32Array::New(env, (size_t)m.nItems * m.rowWidth());
    double loss = variant().lossAndGrad(m, d, gNet.Data(), gUsers.Data(), gItems.Data());
    auto out = Napi::Object::New(env);
    out.Set("loss", loss);
    out.Set("gNet", gNet);
    out.Set("gUsers", gUsers);
    out.Set("gItems", gItems);
    return out;
  });
}

size_t countArg(const Napi::Value& v, size_t max) { return (size_t)integerValue(v, "count", 0, (double)max); }

// Scores one user against a list of items (items == nullptr: the whole catalogue) on a libuv
// pool thread, so that long lists leave the JavaScript thread free and several requests use
// several cores.
class ScoreUserWorker : public PromiseWorker {
 public:
  ScoreUserWorker(Napi::Env env, const Model& m, const void* prepared, int32_t u, const int32_t* items, size_t n,
                  float* out, std::vector<Napi::Reference<Napi::Value>> keep)
      : PromiseWorker(env, std::move(keep)), m_(m), prepared_(prepared), u_(u), items_(items), n_(n), out_(out) {}
  void Execute() override { variant().scoreUser(m_, prepared_, u_, items_, (int64_t)n_, out_); }

 private:
  Model m_;
  const void* prepared_;
  int32_t u_;
  const int32_t* items_;
  size_t n_;
  float* out_;
};

// A model prepared for serving. It keeps the latent tables alive and a padded copy of the
// network, so later changes to the JavaScript `net` array do not reach it.
class ServingModel : public Napi::ObjectWrap<ServingModel> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ServingModel",
                       {InstanceMethod("score", &ServingModel::Score), InstanceMethod("scoreUser", &ServingModel::ScoreUser),
                        InstanceMethod("scoreAll", &ServingModel::ScoreAll)});
  }
  explicit ServingModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ServingModel>(info) {
    try {
      if (info.Length() < 1 || !info[0].IsObject()) throw Error("new ServingModel(model)");
      m_ = readModel(info[0].As<Napi::Object>(), false, &keep_);
      prepared_ = variant().prepare(m_);
    } catch (const Error& e) {
      Napi::TypeError::New(info.Env(), e.msg).ThrowAsJavaScriptException();
    }
  }
  ~ServingModel() override {
    if (prepared_) variant().release(prepared_);
  }

 private:
  // score(users: Int32Array, items: Int32Array, count, out: Float32Array): writes count outputs, allocates nothing.
  Napi::Value Score(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      if (info.Length() < 4) throw Error("score(users: Int32Array, items: Int32Array, count: number, out: Float32Array)");
      napi_env env = info.Env();
      size_t nu, ni, no;
      const int32_t* u = typedArray<int32_t>(env, info[0], napi_int32_array, &nu, "users");
      const int32_t* i = typedArray<int32_t>(env, info[1], napi_int32_array, &ni, "items");
      float* out = typedArray<float>(env, info[3], napi_float32_array, &no, "out");
      const size_t n = countArg(info[2], std::min(nu, std::min(ni, no)));
      checkIndices(u, n, m_.nUsers, "user");
      checkIndices(i, n, m_.nItems, "item");
      variant().predictPrepared(m_, prepared_, u, i, (int64_t)n, out);
      return info.Env().Undefined();
    });
  }

  // scoreUser(user, items: Int32Array, count, out: Float32Array): Promise, resolved once out holds count outputs.
  Napi::Value ScoreUser(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      if (info.Length() < 4) throw Error("scoreUser(user: number, items: Int32Array, count: number, out: Float32Array)");
      const int32_t u = userArg(info[0]);
      napi_env env = info.Env();
      size_t ni, no;
      const int32_t* items = typedArray<int32_t>(env, info[1], napi_int32_array, &ni, "items");
      float* out = typedArray<float>(env, info[3], napi_float32_array, &no, "out");
      const size_t n = countArg(info[2], std::min(ni, no));
      checkIndices(items, n, m_.nItems, "item");
      return queue(info, u, items, n, out, {info[1], info[3]});
    });
  }

  // scoreAll(user, out: Float32Array): Promise, resolved once out[k] holds the output for item k, every k.
  Napi::Value ScoreAll(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      if (info.Length() < 2) throw Error("scoreAll(user: number, out: Float32Array)");
      const int32_t u = userArg(info[0]);
      size_t no;
      float* out = typedArray<float>(info.Env(), info[1], napi_float32_array, &no, "out");
      if (no < (size_t)m_.nItems) throw Error("out is shorter than the number of items");
      return queue(info, u, nullptr, (size_t)m_.nItems, out, {info[1]});
    });
  }

  int32_t userArg(const Napi::Value& v) const { return (int32_t)integerValue(v, "user index", 0, m_.nUsers - 1); }

  Napi::Value queue(const Napi::CallbackInfo& info, int32_t u, const int32_t* items, size_t n, float* out,
                    std::initializer_list<Napi::Value> arrays) {
    // The model object and the arrays stay referenced until the worker is done with them.
    std::vector<Napi::Reference<Napi::Value>> keep;
    keep.push_back(Napi::Persistent(Value().As<Napi::Value>()));
    for (const auto& a : arrays) keep.push_back(Napi::Persistent(a));
    return (new ScoreUserWorker(info.Env(), m_, prepared_, u, items, n, out, std::move(keep)))->Start();
  }

  Model m_{};
  void* prepared_ = nullptr;
  std::vector<Napi::Reference<Napi::Value>> keep_;
};

// Biased matrix factorisation: its bindings use the checks and workers above.
#include "mf_binding.inc"

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ServingModel", ServingModel::Define(env));
  exports.Set("trainEpoch", Napi::Function::New(env, TrainEpoch));
  exports.Set("predict", Napi::Function::New(env, Predict));
  exports.Set("lossAndGrad", Napi::Function::New(env, LossAndGrad));
  exports.Set("kernel", Napi::String::New(env, variant().name));
  // Biased matrix factorisation.
  initMf(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(nnmf_native, Init)
