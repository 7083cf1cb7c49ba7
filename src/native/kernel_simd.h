// Vector helpers of the NNMF kernel: GCC vector types, aligned buffers, the vector exp and
// sigmoid. The kernel's files (kernel_network.cc, kernel_train.cc, kernel_score.cc) are
// compiled once per instruction set: KERNEL_NS is k_avx512 (built with -mavx512f), k_avx2
// (-mavx2 -mfma) or k_generic. GCC vector extensions let the same source use 256-bit
// registers where the build allows them and pairs of 128-bit registers elsewhere; scoring a
// user against the catalogue uses 512-bit vectors where the build has them.
#pragma once
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace nnmf {
namespace KERNEL_NS {

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

static inline v8f ld(const float* p) { return *reinterpret_cast<const v8f*>(p); }
static inline void st(float* p, v8f v) { *reinterpret_cast<v8f*>(p) = v; }
static inline v8f splat(float x) { return v8f{x, x, x, x, x, x, x, x}; }
static inline int pad8(int x) { return (x + 7) & ~7; }

// 64-byte aligned (a 512-bit vector), zero-initialised float buffer.
struct Buf {
  float* p = nullptr;
  size_t n = 0;
  Buf() = default;
  explicit Buf(size_t count) { resize(count); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  Buf(Buf&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr; o.n = 0; }
  ~Buf() { std::free(p); }
  void resize(size_t count) {
    std::free(p);
    n = count;
    size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
    p = static_cast<float*>(std::aligned_alloc(64, bytes > 0 ? bytes : 64));
    zero();
  }
  void zero() { std::memset(p, 0, n * sizeof(float)); }
  float& operator[](size_t k) { return p[k]; }
};

// Clamp and round-to-nearest for the exp below, per vector width. min/max return their second
// operand when either is NaN, so x goes second: a NaN stays NaN (as in the portable form) and
// a diverging network is not hidden. With AVX2 and AVX-512 the rounding is the conversion's
// own; the portable form rounds half away from zero, which differs only at exact ties.
// The portable forms, for every width the build uses without AVX2.
template <class V>
static inline V clampPortable(V x, float lo, float hi) {
  x = x > hi ? hi : x;
  return x < lo ? lo : x;
}
template <class V, class I>
static inline I roundPortable(V x) {
  return __builtin_convertvector(x + (x >= 0.0f ? 0.5f : -0.5f), I);
}
static inline v8f vclamp(v8f x, float lo, float hi) {
#ifdef __AVX2__
  return (v8f)_mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), (__m256)x));
#else
  return clampPortable(x, lo, hi);
#endif
}
static inline v8i vround(v8f x) {
#ifdef __AVX2__
  return (v8i)_mm256_cvtps_epi32((__m256)x);
#else
  return roundPortable<v8f, v8i>(x);
#endif
}
#if !defined(__AVX2__) && !defined(__AVX512F__)
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
static inline v4f vclamp(v4f x, float lo, float hi) { return clampPortable(x, lo, hi); }
static inline v4i vround(v4f x) { return roundPortable<v4f, v4i>(x); }
#endif
#ifdef __AVX512F__
// GCC 12's own AVX-512 headers trip -Wuninitialized (their "undefined" pass-through operands).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
static inline v16f vclamp(v16f x, float lo, float hi) {
  return (v16f)_mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), (__m512)x));
}
static inline v16i vround(v16f x) { return (v16i)_mm512_cvtps_epi32((__m512)x); }
#endif

// exp for vectors (Cephes expf): range reduction by powers of two, degree-5 polynomial.
template <class V, class I>
static inline V vexpT(V x) {
  x = vclamp(x, -87.0f, 88.0f);
  const I n = vround(x * 1.44269504088896341f);
  const V nf = __builtin_convertvector(n, V);
  const V r = x - nf * 0.693359375f - nf * -2.12194440e-4f;
  V p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V e = p * r * r + r + 1.0f;
  return e * (V)((n + 127) << 23);
}

template <class V, class I>
static inline V vsigmoidT(V z) { return 1.0f / (1.0f + vexpT<V, I>(-z)); }

static inline v8f vsigmoid(v8f z) { return vsigmoidT<v8f, v8i>(z); }

static inline void sigmoidRow(float* z, int widthPadded) {
  for (int j = 0; j < widthPadded; j += 8) {
    st(z + j, vsigmoid(ld(z + j)));
  }
}

}  // namespace KERNEL_NS
}  // namespace nnmf
