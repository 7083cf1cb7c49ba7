// N-API bindings for the fused NNMF kernel. Every array handed in is checked here, so bad
// input from JavaScript becomes a thrown error rather than an out-of-bounds access.
#include <napi.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "autorec.h"
#include "kernel.h"

// Biased matrix factorisation (mf.h, mf.cc, mf_binding.inc).
#include "mf.h"

#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <thread>
#ifdef __linux__
#if defined(__GLIBC__)
#include <malloc.h>
#endif
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
  FoldInResult (*foldIn)(const Model&, bool, const int32_t*, const float*, int64_t, float*, const FoldInOpts&);
  bool (*ridge)(const float*, const float*, int64_t, int, const float*, float*);
};

// The x86-64 builds add the AVX2 and AVX-512 variants (binding.gyp defines NNMF_X86_VARIANTS);
// elsewhere (arm64, say) the portable kernel is the only one.
const Variant kGeneric{"generic", k_generic::trainEpoch, k_generic::predict, k_generic::lossAndGrad,
                       k_generic::prepare, k_generic::release, k_generic::predictPrepared,
                       k_generic::scoreUser, k_generic::foldIn, k_generic::ridge};
#ifdef NNMF_X86_VARIANTS
const Variant kAvx512{"avx512", k_avx512::trainEpoch, k_avx512::predict, k_avx512::lossAndGrad,
                      k_avx512::prepare, k_avx512::release, k_avx512::predictPrepared, k_avx512::scoreUser,
                      k_avx512::foldIn, k_avx512::ridge};
const Variant kAvx2{"avx2", k_avx2::trainEpoch, k_avx2::predict, k_avx2::lossAndGrad,
                    k_avx2::prepare, k_avx2::release, k_avx2::predictPrepared, k_avx2::scoreUser,
                    k_avx2::foldIn, k_avx2::ridge};
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

// Runs body on a thread of its own at a lower scheduling priority (threads it starts inherit
// it), so that on a busy machine the request-serving thread wins the CPU. A libuv pool thread
// is not reniced itself: an unprivileged process could not raise it back. False when body threw.
template <typename F>
bool runAtTrainingPriority(F body) {
  bool ok = true;
  std::thread t([&] {
    try {
      lowerThisThreadsPriority();
      body();
    } catch (...) {
      ok = false;
    }
  });
  t.join();
  return ok;
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
  void Execute() override {
    if (!runAtTrainingPriority([&] { res_ = variant().trainEpoch(m_, d_, o_); })) SetError("training epoch failed");
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

using Keep = std::vector<Napi::Reference<Napi::Value>>;

// The arguments of a serving model's score(users: Int32Array, items: Int32Array, count, out: Float32Array).
struct PairsArgs {
  const int32_t *u, *i;
  size_t n;
  float* out;
};

PairsArgs scoreArgs(const Napi::CallbackInfo& info, int nUsers, int nItems) {
  if (info.Length() < 4) throw Error("score(users: Int32Array, items: Int32Array, count: number, out: Float32Array)");
  napi_env env = info.Env();
  size_t nu, ni, no;
  PairsArgs a{};
  a.u = typedArray<int32_t>(env, info[0], napi_int32_array, &nu, "users");
  a.i = typedArray<int32_t>(env, info[1], napi_int32_array, &ni, "items");
  a.out = typedArray<float>(env, info[3], napi_float32_array, &no, "out");
  a.n = countArg(info[2], std::min(nu, std::min(ni, no)));
  checkIndices(a.u, a.n, nUsers, "user");
  checkIndices(a.i, a.n, nItems, "item");
  return a;
}

// The arguments of scoreUser(user, items: Int32Array, count, out: Float32Array) and of
// scoreAll(user, out: Float32Array) (items null: every item in model order), and what the
// worker must keep referenced: the serving object and the arrays.
struct UserArgs {
  int32_t u;
  const int32_t* items;
  size_t n;
  float* out;
  Keep keep;
};

int32_t userArg(const Napi::Value& v, int nUsers) { return (int32_t)integerValue(v, "user index", 0, nUsers - 1); }

Keep keepAlive(const Napi::CallbackInfo& info, std::initializer_list<Napi::Value> arrays) {
  Keep keep;
  keep.push_back(Napi::Persistent(info.This()));
  for (const auto& a : arrays) keep.push_back(Napi::Persistent(a));
  return keep;
}

UserArgs scoreUserArgs(const Napi::CallbackInfo& info, int nUsers, int nItems) {
  if (info.Length() < 4) throw Error("scoreUser(user: number, items: Int32Array, count: number, out: Float32Array)");
  UserArgs a{};
  a.u = userArg(info[0], nUsers);
  size_t ni, no;
  a.items = typedArray<int32_t>(info.Env(), info[1], napi_int32_array, &ni, "items");
  a.out = typedArray<float>(info.Env(), info[3], napi_float32_array, &no, "out");
  a.n = countArg(info[2], std::min(ni, no));
  checkIndices(a.items, a.n, nItems, "item");
  a.keep = keepAlive(info, {info[1], info[3]});
  return a;
}

UserArgs scoreAllArgs(const Napi::CallbackInfo& info, int nUsers, int nItems) {
  if (info.Length() < 2) throw Error("scoreAll(user: number, out: Float32Array)");
  UserArgs a{};
  a.u = userArg(info[0], nUsers);
  size_t no;
  a.out = typedArray<float>(info.Env(), info[1], napi_float32_array, &no, "out");
  if (no < (size_t)nItems) throw Error("out is shorter than the number of items");
  a.n = (size_t)nItems;
  a.keep = keepAlive(info, {info[1]});
  return a;
}

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
                        InstanceMethod("scoreAll", &ServingModel::ScoreAll), InstanceMethod("scoreRow", &ServingModel::ScoreRow),
                        InstanceMethod("scoreRowAll", &ServingModel::ScoreRowAll)});
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
      const PairsArgs a = scoreArgs(info, m_.nUsers, m_.nItems);
      variant().predictPrepared(m_, prepared_, a.u, a.i, (int64_t)a.n, a.out);
      return info.Env().Undefined();
    });
  }

  // scoreUser(user, items: Int32Array, count, out: Float32Array): Promise, resolved once out holds count outputs.
  Napi::Value ScoreUser(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      return queue(info, scoreUserArgs(info, m_.nUsers, m_.nItems));
    });
  }

  // scoreAll(user, out: Float32Array): Promise, resolved once out[k] holds the output for item k, every k.
  Napi::Value ScoreAll(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      return queue(info, scoreAllArgs(info, m_.nUsers, m_.nItems));
    });
  }

  // The model object and the arrays stay referenced until the worker is done with them.
  Napi::Value queue(const Napi::CallbackInfo& info, UserArgs a) {
    return (new ScoreUserWorker(info.Env(), m_, prepared_, a.u, a.items, a.n, a.out, std::move(a.keep)))->Start();
  }

  // The served model seen with one user only, whose row is `v` (a folded-in user): the item side
  // and the network are the prepared ones, so scoring it costs what scoring a trained user does.
  Model rowModel(const Napi::CallbackInfo& info, const Napi::Value& v) const {
    size_t n;
    float* row = typedArray<float>(info.Env(), v, napi_float32_array, &n, "row");
    if (n != (size_t)m_.rowWidth()) throw Error("row has length " + std::to_string(n) + ", expected " + std::to_string(m_.rowWidth()));
    Model m = m_;
    m.users = row;
    m.nUsers = 1;
    return m;
  }

  // scoreRow(row: Float32Array, items: Int32Array, count, out: Float32Array): the user of `row` against items, here and now.
  Napi::Value ScoreRow(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      if (info.Length() < 4) throw Error("scoreRow(row: Float32Array, items: Int32Array, count: number, out: Float32Array)");
      const Model m = rowModel(info, info[0]);
      size_t ni, no;
      const int32_t* items = typedArray<int32_t>(info.Env(), info[1], napi_int32_array, &ni, "items");
      float* out = typedArray<float>(info.Env(), info[3], napi_float32_array, &no, "out");
      const size_t n = countArg(info[2], std::min(ni, no));
      checkIndices(items, n, m_.nItems, "item");
      variant().scoreUser(m, prepared_, 0, items, (int64_t)n, out);
      return info.Env().Undefined();
    });
  }

  // scoreRowAll(row: Float32Array, out: Float32Array): Promise, resolved once out[k] holds the output for item k.
  Napi::Value ScoreRowAll(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      if (info.Length() < 2) throw Error("scoreRowAll(row: Float32Array, out: Float32Array)");
      const Model m = rowModel(info, info[0]);
      size_t no;
      float* out = typedArray<float>(info.Env(), info[1], napi_float32_array, &no, "out");
      if (no < (size_t)m_.nItems) throw Error("out is shorter than the number of items");
      return (new ScoreUserWorker(info.Env(), m, prepared_, 0, nullptr, (size_t)m_.nItems, out, keepAlive(info, {info[0], info[1]})))->Start();
    });
  }

  Model m_{};
  void* prepared_ = nullptr;
  std::vector<Napi::Reference<Napi::Value>> keep_;
};

// Biased matrix factorisation: its bindings use the checks and workers above.
#include "mf_binding.inc"
// ---- I-AutoRec (src/native/autorec.cc) ------------------------------------------------------

struct AutorecVariant {
  Result (*trainEpoch)(const autorec::Params&, const autorec::Slots&, const autorec::Ratings&, const int32_t*, int64_t,
                       autorec::Opts&);
  double (*lossAndGrad)(const autorec::Params&, const autorec::Ratings&, const int32_t*, int64_t, float,
                        const autorec::Grads&);
  void (*codes)(const autorec::Params&, const autorec::Ratings&, float*);
  void (*predict)(const autorec::Served&, const int32_t*, const int32_t*, int64_t, float*);
  void* (*prepare)(const autorec::Served&);
  void (*release)(void*);
  void (*scorePairs)(const void*, const int32_t*, const int32_t*, int64_t, float*);
  void (*scoreUser)(const void*, int32_t, const int32_t*, int64_t, float*);
};

#define AUTOREC_VARIANT(NS)                                                                                   \
  AutorecVariant {                                                                                            \
    autorec::NS::trainEpoch, autorec::NS::lossAndGrad, autorec::NS::codes, autorec::NS::predict,             \
        autorec::NS::prepare, autorec::NS::release, autorec::NS::scorePairs, autorec::NS::scoreUser           \
  }

// The instruction set the NNMF kernel runs on (NNMF_KERNEL forces both).
const AutorecVariant& autorecVariant() {
  static const AutorecVariant v = [] {
#ifdef NNMF_X86_VARIANTS
    if (std::strcmp(variant().name, "avx512") == 0) return AUTOREC_VARIANT(k_avx512);
    if (std::strcmp(variant().name, "avx2") == 0) return AUTOREC_VARIANT(k_avx2);
#endif
    return AUTOREC_VARIANT(k_generic);
  }();
  return v;
}

template <typename T>
using TypeOf = std::integral_constant<napi_typedarray_type, std::is_same<T, float>::value ? napi_float32_array
                                                                                          : napi_int32_array>;
template <typename T>
T* prop(const Napi::Object& o, const char* key, size_t length, Keep* keep) {
  return arrayProp<T, TypeOf<T>::value>(o, key, length, keep);
}

// Shapes of a model: counts no larger than the arrays a typed array can hold.
void readShape(const Napi::Object& o, int* nUsers, int* nItems, int* hidden) {
  *nUsers = intProp(o, "nUsers", 1, 1 << 30);
  *nItems = intProp(o, "nItems", 1, 1 << 30);
  *hidden = intProp(o, "hidden", 1, 4096);
}

autorec::Params readAutorecParams(const Napi::Object& o, Keep* keep) {
  autorec::Params p{};
  readShape(o, &p.nUsers, &p.nItems, &p.hidden);
  const size_t rows = (size_t)p.nUsers * p.hidden;
  p.W = prop<float>(o, "W", rows, keep);
  p.b = prop<float>(o, "b", p.hidden, keep);
  p.V = prop<float>(o, "V", rows, keep);
  p.c = prop<float>(o, "c", p.nUsers, keep);
  return p;
}

autorec::Slots readAutorecSlots(const Napi::Object& o, const autorec::Params& p, Keep* keep) {
  const size_t rows = (size_t)p.nUsers * p.hidden;
  return {prop<float>(o, "mW", rows, keep), prop<float>(o, "vW", rows, keep),
          prop<float>(o, "mb", p.hidden, keep), prop<float>(o, "vb", p.hidden, keep),
          prop<float>(o, "mV", rows, keep), prop<float>(o, "vV", rows, keep),
          prop<float>(o, "mc", p.nUsers, keep), prop<float>(o, "vc", p.nUsers, keep)};
}

// Ratings by item: start (nItems + 1 offsets, from 0, never decreasing, ending at the number of
// ratings), users (indexes in range) and ratings (finite).
autorec::Ratings readItemRatings(const Napi::Object& o, int nUsers, int nItems, Keep* keep) {
  autorec::Ratings r{};
  const size_t n = lengthOf(o, "users");
  r.start = prop<int32_t>(o, "start", (size_t)nItems + 1, keep);
  r.users = prop<int32_t>(o, "users", n, keep);
  r.ratings = prop<float>(o, "ratings", n, keep);
  if (r.start[0] != 0 || (size_t)r.start[nItems] != n) throw Error("start must run from 0 to the number of ratings");
  for (int i = 0; i < nItems; i++)
    if (r.start[i + 1] < r.start[i]) throw Error("start must not decrease");
  checkIndices(r.users, n, nUsers, "user");
  for (size_t k = 0; k < n; k++)
    if (!std::isfinite(r.ratings[k])) throw Error("rating is not finite at " + std::to_string(k));
  return r;
}

// The items to visit (data.order), each an item index.
const int32_t* readOrder(const Napi::Object& o, int nItems, int64_t* n, Keep* keep) {
  *n = (int64_t)lengthOf(o, "order");
  const int32_t* order = prop<int32_t>(o, "order", (size_t)*n, keep);
  checkIndices(order, (size_t)*n, nItems, "item");
  return order;
}

autorec::Served readServed(const Napi::Object& o, Keep* keep) {
  autorec::Served s{};
  readShape(o, &s.nUsers, &s.nItems, &s.hidden);
  s.V = prop<float>(o, "V", (size_t)s.nUsers * s.hidden, keep);
  s.c = prop<float>(o, "c", s.nUsers, keep);
  s.codes = prop<float>(o, "codes", (size_t)s.nItems * s.hidden, keep);
  return s;
}

Napi::Object objectArg(const Napi::CallbackInfo& info, size_t k, const char* usage) {
  if (info.Length() <= k || !info[k].IsObject()) throw Error(usage);
  return info[k].As<Napi::Object>();
}

// Runs a task on a libuv pool thread and settles the promise with what `settle` builds then.
class TaskWorker : public PromiseWorker {
 public:
  TaskWorker(Napi::Env env, Keep keep, std::function<bool()> task, std::function<Napi::Value(Napi::Env)> settle)
      : PromiseWorker(env, std::move(keep)), task_(std::move(task)), settle_(std::move(settle)) {}
  void Execute() override {
    if (!task_()) SetError("native task failed");
  }

 protected:
  Napi::Value Settled(Napi::Env env) override { return settle_(env); }

 private:
  std::function<bool()> task_;
  std::function<Napi::Value(Napi::Env)> settle_;
};

// autorecTrainEpoch(model, data, options): one pass over data.order in steps of batchSize items;
// options.codes, when given, receives every item's code after the epoch (off this thread too).
Napi::Value AutorecTrainEpoch(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* usage = "autorecTrainEpoch(model, data, options)";
    auto mo = objectArg(info, 0, usage), dob = objectArg(info, 1, usage), oo = objectArg(info, 2, usage);
    Keep keep;
    const autorec::Params p = readAutorecParams(mo, &keep);
    const autorec::Slots s = readAutorecSlots(mo, p, &keep);
    const autorec::Ratings r = readItemRatings(dob, p.nUsers, p.nItems, &keep);
    int64_t n;
    const int32_t* order = readOrder(dob, p.nItems, &n, &keep);
    auto o = std::make_shared<autorec::Opts>();
    o->batchSize = intProp(oo, "batchSize", 1, 1 << 24);
    o->lr = (float)numProp(oo, "lr", 1e-3);
    o->beta1 = (float)numProp(oo, "beta1", 0.9);
    o->beta2 = (float)numProp(oo, "beta2", 0.999);
    o->eps = (float)numProp(oo, "eps", 1e-8);
    o->lambda = (float)numProp(oo, "lambda", 0);
    if (o->lambda < 0) throw Error("lambda must not be negative");
    o->step = (int64_t)integerValue(oo.Get("step"), "step", 0, 9e15);
    o->threads = intProp(oo, "threads", 1, 64);
    o->cancel = arrayProp<int32_t, napi_int32_array>(oo, "cancel", 1, &keep, true);
    o->codes = arrayProp<float, napi_float32_array>(oo, "codes", (size_t)p.nItems * p.hidden, &keep, true);
    auto res = std::make_shared<Result>();
    auto task = [=] { return runAtTrainingPriority([&] { *res = autorecVariant().trainEpoch(p, s, r, order, n, *o); }); };
    auto settle = [=](Napi::Env env) -> Napi::Value {
      auto out = Napi::Object::New(env);
      out.Set("sse", res->sse);
      out.Set("count", (double)res->count);
      out.Set("step", (double)o->step);
      out.Set("cancelled", res->cancelled);
      return out;
    };
    return (new TaskWorker(info.Env(), std::move(keep), task, settle))->Start();
  });
}

// autorecLossAndGrad(model, data, lambda): the loss of one pass over data.order with its whole
// penalty, and its gradient.
Napi::Value AutorecLossAndGrad(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* usage = "autorecLossAndGrad(model, data, lambda)";
    const autorec::Params p = readAutorecParams(objectArg(info, 0, usage), nullptr);
    auto dob = objectArg(info, 1, usage);
    const autorec::Ratings r = readItemRatings(dob, p.nUsers, p.nItems, nullptr);
    int64_t n;
    const int32_t* order = readOrder(dob, p.nItems, &n, nullptr);
    if (info.Length() < 3 || !info[2].IsNumber()) throw Error(usage);
    const double lambda = info[2].As<Napi::Number>().DoubleValue();
    if (!(lambda >= 0 && std::isfinite(lambda))) throw Error("lambda must be a finite number, not negative");
    auto env = info.Env();
    const size_t rows = (size_t)p.nUsers * p.hidden;
    auto gW = Napi::Float32Array::New(env, rows), gV = Napi::Float32Array::New(env, rows);
    auto gb = Napi::Float32Array::New(env, p.hidden), gc = Napi::Float32Array::New(env, p.nUsers);
    const double loss =
        autorecVariant().lossAndGrad(p, r, order, n, (float)lambda, {gW.Data(), gb.Data(), gV.Data(), gc.Data()});
    auto out = Napi::Object::New(env);
    out.Set("loss", loss);
    out.Set("gW", gW);
    out.Set("gb", gb);
    out.Set("gV", gV);
    out.Set("gc", gc);
    return out;
  });
}

// autorecCodes(model, ratings): h_i of every item from its ratings, nItems × hidden.
Napi::Value AutorecCodes(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const char* usage = "autorecCodes(model, ratings)";
    const autorec::Params p = readAutorecParams(objectArg(info, 0, usage), nullptr);
    const autorec::Ratings r = readItemRatings(objectArg(info, 1, usage), p.nUsers, p.nItems, nullptr);
    auto out = Napi::Float32Array::New(info.Env(), (size_t)p.nItems * p.hidden);
    autorecVariant().codes(p, r, out.Data());
    return out;
  });
}

// Two index arrays of one length, every index in range.
size_t readPairs(const Napi::CallbackInfo& info, size_t k, int nUsers, int nItems, const int32_t** u,
                 const int32_t** i) {
  if (info.Length() < k + 2) throw Error("users: Int32Array and items: Int32Array expected");
  size_t n, ni;
  *u = typedArray<int32_t>(info.Env(), info[k], napi_int32_array, &n, "users");
  *i = typedArray<int32_t>(info.Env(), info[k + 1], napi_int32_array, &ni, "items");
  if (ni != n) throw Error("users and items differ in length");
  checkIndices(*u, n, nUsers, "user");
  checkIndices(*i, n, nItems, "item");
  return n;
}

// autorecPredict(served, users, items): V[u]·codes[i] + c[u] for each pair.
Napi::Value AutorecPredict(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    const autorec::Served s = readServed(objectArg(info, 0, "autorecPredict(served, users, items)"), nullptr);
    const int32_t *u, *i;
    const size_t n = readPairs(info, 1, s.nUsers, s.nItems, &u, &i);
    auto out = Napi::Float32Array::New(info.Env(), n);
    autorecVariant().predict(s, u, i, (int64_t)n, out.Data());
    return out;
  });
}

// An AutoRec model prepared for serving: it scores on the decoder and item codes of the object it
// was built from, which it keeps referenced (nothing is copied, so building it takes no time).
class AutorecServing : public Napi::ObjectWrap<AutorecServing> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AutorecServing",
                       {InstanceMethod("score", &AutorecServing::Score),
                        InstanceMethod("scoreUser", &AutorecServing::ScoreUser),
                        InstanceMethod("scoreAll", &AutorecServing::ScoreAll),
                        InstanceMethod("scoreRowAll", &AutorecServing::ScoreRowAll)});
  }
  explicit AutorecServing(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AutorecServing>(info) {
    try {
      const autorec::Served s = readServed(objectArg(info, 0, "new AutorecServing(served)"), &keep_);
      served_ = s;
      nUsers_ = s.nUsers;
      nItems_ = s.nItems;
      prepared_ = autorecVariant().prepare(s);
    } catch (const Error& e) {
      Napi::TypeError::New(info.Env(), e.msg).ThrowAsJavaScriptException();
    }
  }
  ~AutorecServing() override {
    if (prepared_) autorecVariant().release(prepared_);
  }

 private:
  Napi::Value Score(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      const PairsArgs a = scoreArgs(info, nUsers_, nItems_);
      autorecVariant().scorePairs(prepared_, a.u, a.i, (int64_t)a.n, a.out);
      return info.Env().Undefined();
    });
  }

  Napi::Value ScoreUser(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      return queue(info, scoreUserArgs(info, nUsers_, nItems_));
    });
  }

  Napi::Value ScoreAll(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      return queue(info, scoreAllArgs(info, nUsers_, nItems_));
    });
  }

  // scoreRowAll(row: Float32Array, out: Float32Array): Promise, resolved once out[k] holds the
  // score of item k for the user whose decoder row is `row` ([V_u | c_u], a folded-in user), on a
  // pool thread: the served model seen with that one user.
  Napi::Value ScoreRowAll(const Napi::CallbackInfo& info) {
    return guard(info, [&]() -> Napi::Value {
      if (!prepared_) throw Error("model was not prepared");
      if (info.Length() < 2) throw Error("scoreRowAll(row: Float32Array, out: Float32Array)");
      size_t nr, no;
      const float* row = typedArray<float>(info.Env(), info[0], napi_float32_array, &nr, "row");
      float* out = typedArray<float>(info.Env(), info[1], napi_float32_array, &no, "out");
      if (nr != (size_t)served_.hidden + 1) throw Error("row has length " + std::to_string(nr) + ", expected " + std::to_string(served_.hidden + 1));
      if (no < (size_t)nItems_) throw Error("out is shorter than the number of items");
      autorec::Served view = served_;
      view.V = row;
      view.c = row + served_.hidden;
      view.nUsers = 1;
      auto task = [view, out, n = nItems_] {
        void* one = autorecVariant().prepare(view);
        autorecVariant().scoreUser(one, 0, nullptr, (int64_t)n, out);
        autorecVariant().release(one);
        return true;
      };
      return (new TaskWorker(info.Env(), keepAlive(info, {info[0], info[1]}), task, [](Napi::Env env) { return env.Undefined(); }))->Start();
    });
  }

  // Scores on a libuv pool thread; this object and the arrays stay referenced until it is done.
  Napi::Value queue(const Napi::CallbackInfo& info, UserArgs a) {
    const void* prepared = prepared_;
    auto task = [prepared, u = a.u, items = a.items, n = a.n, out = a.out] {
      autorecVariant().scoreUser(prepared, u, items, (int64_t)n, out);
      return true;
    };
    return (new TaskWorker(info.Env(), std::move(a.keep), task, [](Napi::Env env) { return env.Undefined(); }))->Start();
  }

  autorec::Served served_{};
  int nUsers_ = 0, nItems_ = 0;
  void* prepared_ = nullptr;
  Keep keep_;  // the arrays scored on
};

// ---- end of I-AutoRec -----------------------------------------------------------------------

// foldIn(model, items: Int32Array, ratings: Float32Array, row: Float32Array, options: {lambda, lr, steps}):
// Promise of {loss, rmse}; fits a user's `row` (the starting point, overwritten) to the ratings on a pool thread.
// foldInItem(model, users: Int32Array, ratings, row, options): the same for an item's row, fitted to its raters' ratings.
Napi::Value FoldInSide(const Napi::CallbackInfo& info, bool itemSide) {
  return guard(info, [&]() -> Napi::Value {
    const char* usage = itemSide ? "foldInItem(model, users: Int32Array, ratings: Float32Array, row: Float32Array, options)"
                                 : "foldIn(model, items: Int32Array, ratings: Float32Array, row: Float32Array, options)";
    if (info.Length() < 5 || !info[0].IsObject() || !info[4].IsObject()) throw Error(usage);
    Keep keep;
    const Model m = readModel(info[0].As<Napi::Object>(), false, &keep);
    size_t n, nr, nrow;
    const char* what = itemSide ? "users" : "items";
    const int32_t* others = typedArray<int32_t>(info.Env(), info[1], napi_int32_array, &n, what);
    const float* ratings = typedArray<float>(info.Env(), info[2], napi_float32_array, &nr, "ratings");
    float* row = typedArray<float>(info.Env(), info[3], napi_float32_array, &nrow, "row");
    if (nr != n) throw Error(itemSide ? "users and ratings differ in length" : "items and ratings differ in length");
    if (nrow != (size_t)m.rowWidth()) throw Error("row has the wrong length");
    if (itemSide)
      checkIndices(others, n, m.nUsers, "user");
    else
      checkIndices(others, n, m.nItems, "item");
    for (size_t k = 0; k < n; k++)
      if (!std::isfinite(ratings[k])) throw Error("rating is not finite");
    for (size_t k = 0; k < nrow; k++)
      if (!std::isfinite(row[k])) throw Error("row is not finite");
    auto oo = info[4].As<Napi::Object>();
    const FoldInOpts o{(float)numProp(oo, "lambda", 0), (float)numProp(oo, "lr", 0.05), intProp(oo, "steps", 0, 10000)};
    if (o.lambda < 0 || o.lr <= 0) throw Error("lambda must be >= 0 and lr > 0");
    for (auto v : {info[1], info[2], info[3]}) keep.push_back(Napi::Persistent(v));
    auto res = std::make_shared<FoldInResult>();
    auto task = [m, itemSide, others, ratings, n, row, o, res] {
      *res = variant().foldIn(m, itemSide, others, ratings, (int64_t)n, row, o);
      return true;
    };
    auto settle = [res](Napi::Env env) -> Napi::Value {
      auto out = Napi::Object::New(env);
      out.Set("loss", res->loss);
      out.Set("rmse", res->rmse);
      return out;
    };
    return (new TaskWorker(info.Env(), std::move(keep), task, settle))->Start();
  });
}

Napi::Value FoldIn(const Napi::CallbackInfo& info) { return FoldInSide(info, false); }
Napi::Value FoldInItem(const Napi::CallbackInfo& info) { return FoldInSide(info, true); }

// ridge(X: Float32Array (n × p), y: Float32Array (n), lambda: Float32Array (p)): Promise of the
// weights (Float32Array (p)) minimising ‖X w - y‖² + Σ lambda[k] w_k², solved on a pool thread.
Napi::Value Ridge(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    if (info.Length() < 3) throw Error("ridge(X: Float32Array, y: Float32Array, lambda: Float32Array)");
    size_t nx, n, p;
    const float* X = typedArray<float>(info.Env(), info[0], napi_float32_array, &nx, "X");
    const float* y = typedArray<float>(info.Env(), info[1], napi_float32_array, &n, "y");
    const float* lambda = typedArray<float>(info.Env(), info[2], napi_float32_array, &p, "lambda");
    if (p == 0 || p > 65536 || nx != n * p) throw Error("X must hold y.length rows of lambda.length features");
    for (size_t k = 0; k < p; k++)
      if (!(lambda[k] > 0) || !std::isfinite(lambda[k])) throw Error("every lambda must be positive and finite");
    for (size_t k = 0; k < nx; k++)
      if (!std::isfinite(X[k])) throw Error("X is not finite");
    for (size_t k = 0; k < n; k++)
      if (!std::isfinite(y[k])) throw Error("y is not finite");
    auto out = Napi::Float32Array::New(info.Env(), p);
    Keep keep;
    for (auto v : {info[0], info[1], info[2], Napi::Value(out)}) keep.push_back(Napi::Persistent(v));
    float* o = out.Data();
    auto task = [X, y, n, p, lambda, o] { return variant().ridge(X, y, (int64_t)n, (int)p, lambda, o); };
    auto settle = [ref = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(Napi::Value(out)))](Napi::Env) -> Napi::Value {
      return ref->Value();
    };
    return (new TaskWorker(info.Env(), std::move(keep), task, settle))->Start();
  });
}

// trimMemory(): Promise of whether memory went back to the system. Freed memory inside glibc's
// heaps (one arena per thread that allocated: a finished training or loading thread leaves its
// arena with free pages between the blocks still in use) is returned with malloc_trim(0), on a
// pool thread because it walks every arena. Elsewhere it does nothing.
Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return guard(info, [&]() -> Napi::Value {
    auto released = std::make_shared<bool>(false);
    auto task = [released] {
#if defined(__GLIBC__)
      *released = malloc_trim(0) != 0;
#endif
      return true;
    };
    auto settle = [released](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, *released); };
    return (new TaskWorker(info.Env(), Keep{}, task, settle))->Start();
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ServingModel", ServingModel::Define(env));
  exports.Set("trainEpoch", Napi::Function::New(env, TrainEpoch));
  exports.Set("predict", Napi::Function::New(env, Predict));
  exports.Set("lossAndGrad", Napi::Function::New(env, LossAndGrad));
  exports.Set("foldIn", Napi::Function::New(env, FoldIn));
  exports.Set("foldInItem", Napi::Function::New(env, FoldInItem));
  exports.Set("ridge", Napi::Function::New(env, Ridge));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory));
  exports.Set("kernel", Napi::String::New(env, variant().name));
  // Biased matrix factorisation.
  initMf(env, exports);
  // I-AutoRec
  exports.Set("AutorecServing", AutorecServing::Define(env));
  exports.Set("autorecTrainEpoch", Napi::Function::New(env, AutorecTrainEpoch));
  exports.Set("autorecLossAndGrad", Napi::Function::New(env, AutorecLossAndGrad));
  exports.Set("autorecCodes", Napi::Function::New(env, AutorecCodes));
  exports.Set("autorecPredict", Napi::Function::New(env, AutorecPredict));
  return exports;
}

}  // namespace

NODE_API_MODULE(nnmf_native, Init)
