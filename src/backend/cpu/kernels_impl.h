// Row kernels, written once over a small vector abstraction and compiled three times
// (kernels_scalar.cc, kernels_avx2.cc, kernels_avx512.cc) with that level's flags; the
// including file defines CR_K_WIDTH (1, 8 or 16) and CR_K_NS (the namespace) first.
// See kernels.h for each kernel's contract. Every kernel works on ONE row; callers
// parallelise over rows. No include guard: included once per ISA translation unit.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels.h"

#if CR_K_WIDTH > 1
#include <immintrin.h>
#endif

namespace crossrank::cpu::CR_K_NS {
namespace {

#if CR_K_WIDTH == 16
// ---- AVX-512: 16 floats ----------------------------------------------------------------
using VF = __m512;
using VI = __m512i;
constexpr int W = 16;
inline VF vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, VF v) { _mm512_storeu_ps(p, v); }
inline VF vload_n(const float* p, int r) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << r) - 1), p); }
inline void vstore_n(float* p, VF v, int r) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << r) - 1), v); }
inline VF vset(float a) { return _mm512_set1_ps(a); }
inline VF vzero() { return _mm512_setzero_ps(); }
inline VF vadd(VF a, VF b) { return _mm512_add_ps(a, b); }
inline VF vsub(VF a, VF b) { return _mm512_sub_ps(a, b); }
inline VF vmul(VF a, VF b) { return _mm512_mul_ps(a, b); }
inline VF vdiv(VF a, VF b) { return _mm512_div_ps(a, b); }
// 1/a: 14-bit estimate + one Newton step (~2^-27 relative), far cheaper than a division.
inline VF vrcp(VF a) {
  const VF r = _mm512_rcp14_ps(a);
  return _mm512_mul_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(2.0f)));
}
inline VF vfma(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }   // a*b + c
inline VF vfnma(VF a, VF b, VF c) { return _mm512_fnmadd_ps(a, b, c); } // c - a*b
inline VF vmax(VF a, VF b) { return _mm512_max_ps(a, b); }
inline VF vmin(VF a, VF b) { return _mm512_min_ps(a, b); }
inline VF vabs(VF a) { return _mm512_abs_ps(a); }
inline VF vround(VF a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline VF vcopysign(VF mag, VF sign) {
  const VI m = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(mag), _mm512_and_si512(_mm512_castps_si512(sign), m)));
}
inline float hsum(VF v) { return _mm512_reduce_add_ps(v); }
inline float hmax(VF v) { return _mm512_reduce_max_ps(v); }
inline float hmin(VF v) { return _mm512_reduce_min_ps(v); }
inline VI vcvt_i32(VF a) { return _mm512_cvtps_epi32(a); }  // round to nearest even
inline VF vcvt_f32(VI a) { return _mm512_cvtepi32_ps(a); }
inline VI iadd(VI a, VI b) { return _mm512_add_epi32(a, b); }
inline VI isub(VI a, VI b) { return _mm512_sub_epi32(a, b); }
inline VI imul(VI a, VI b) { return _mm512_mullo_epi32(a, b); }
inline VI iset(int a) { return _mm512_set1_epi32(a); }
inline VI iload(const int32_t* p) { return _mm512_loadu_si512(p); }
inline VF pow2i(VI e) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(127)), 23)); }
// 16 int32 (already in [0, 255]) -> 16 bytes.
inline void store_u8(uint8_t* q, VI v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtusepi32_epi8(v)); }
inline void store_s16(int16_t* q, VI v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm512_cvtsepi32_epi16(v)); }
inline VI imax(VI a, VI b) { return _mm512_max_epi32(a, b); }
inline VI imin(VI a, VI b) { return _mm512_min_epi32(a, b); }
// bf16 round-to-nearest-even of 16 floats (integer method: identical to f32_to_bf16_rne
// for finite values, denormals included, unlike VCVTNEPS2BF16 which flushes them).
inline VI bf16_bits(VF a) {
  const VI u = _mm512_castps_si512(a);
  return _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                                                _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1)))),
                           16);
}
inline void store_bf16(uint16_t* d, VF a) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm512_cvtepi32_epi16(bf16_bits(a))); }
inline VF round_bf16(VF a) { return _mm512_castsi512_ps(_mm512_slli_epi32(bf16_bits(a), 16)); }
// a < b ? x : y, per lane.
inline VF vselect_lt(VF a, VF b, VF x, VF y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x); }
#elif CR_K_WIDTH == 8
// ---- AVX2 + FMA: 8 floats --------------------------------------------------------------
using VF = __m256;
using VI = __m256i;
constexpr int W = 8;
inline __m256i tail_mask(int r) {
  alignas(32) static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 8 - r));
}
inline VF vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, VF v) { _mm256_storeu_ps(p, v); }
inline VF vload_n(const float* p, int r) { return _mm256_maskload_ps(p, tail_mask(r)); }
inline void vstore_n(float* p, VF v, int r) { _mm256_maskstore_ps(p, tail_mask(r), v); }
inline VF vset(float a) { return _mm256_set1_ps(a); }
inline VF vzero() { return _mm256_setzero_ps(); }
inline VF vadd(VF a, VF b) { return _mm256_add_ps(a, b); }
inline VF vsub(VF a, VF b) { return _mm256_sub_ps(a, b); }
inline VF vmul(VF a, VF b) { return _mm256_mul_ps(a, b); }
inline VF vdiv(VF a, VF b) { return _mm256_div_ps(a, b); }
// 1/a: 12-bit estimate + one Newton step (~2^-23 relative), far cheaper than a division.
inline VF vrcp(VF a) {
  const VF r = _mm256_rcp_ps(a);
  return _mm256_mul_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(2.0f)));
}
inline VF vfma(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
inline VF vfnma(VF a, VF b, VF c) { return _mm256_fnmadd_ps(a, b, c); }
inline VF vmax(VF a, VF b) { return _mm256_max_ps(a, b); }
inline VF vmin(VF a, VF b) { return _mm256_min_ps(a, b); }
inline VF vabs(VF a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
inline VF vround(VF a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline VF vcopysign(VF mag, VF sign) { return _mm256_or_ps(mag, _mm256_and_ps(sign, _mm256_set1_ps(-0.0f))); }
inline float hsum(VF v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline float hmax(VF v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline float hmin(VF v) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline VI vcvt_i32(VF a) { return _mm256_cvtps_epi32(a); }
inline VF vcvt_f32(VI a) { return _mm256_cvtepi32_ps(a); }
inline VI iadd(VI a, VI b) { return _mm256_add_epi32(a, b); }
inline VI isub(VI a, VI b) { return _mm256_sub_epi32(a, b); }
inline VI imul(VI a, VI b) { return _mm256_mullo_epi32(a, b); }
inline VI iset(int a) { return _mm256_set1_epi32(a); }
inline VI iload(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline VF pow2i(VI e) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23)); }
inline VI imax(VI a, VI b) { return _mm256_max_epi32(a, b); }
inline VI imin(VI a, VI b) { return _mm256_min_epi32(a, b); }
inline void store_s16(int16_t* q, VI v) {  // 8 int32 in s16 range -> 8 int16
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q),
                   _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}
inline void store_u8(uint8_t* q, VI v) {  // 8 int32 in [0, 255] -> 8 bytes
  const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
  const __m128i w = _mm_packus_epi32(lo, hi);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(q), _mm_packus_epi16(w, w));
}
inline VI bf16_bits(VF a) {
  const VI u = _mm256_castps_si256(a);
  return _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                                                                _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1)))),
                           16);
}
inline void store_bf16(uint16_t* d, VF a) {
  const VI b = bf16_bits(a);
  const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(d), w);
}
inline VF round_bf16(VF a) { return _mm256_castsi256_ps(_mm256_slli_epi32(bf16_bits(a), 16)); }
inline VF vselect_lt(VF a, VF b, VF x, VF y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
#endif

#if CR_K_WIDTH > 1
// exp(x) for x <= ~88 (Cephes expf: range reduction by ln2 in two parts + degree-6
// polynomial; max rel. error ~2 ulp). Inputs below -87 flush to ~0 (softmax only feeds
// x - max <= 0, where exp < 1e-38 is irrelevant next to the max's exp(0) = 1).
inline VF vexp(VF x) {
  x = vmin(x, vset(88.3762626647949f));
  x = vmax(x, vset(-87.0f));
  const VF fx = vround(vmul(x, vset(1.44269504088896341f)));
  x = vfnma(fx, vset(0.693359375f), x);
  x = vfnma(fx, vset(-2.12194440e-4f), x);
  VF y = vset(1.9875691500e-4f);
  y = vfma(y, x, vset(1.3981999507e-3f));
  y = vfma(y, x, vset(8.3334519073e-3f));
  y = vfma(y, x, vset(4.1665795894e-2f));
  y = vfma(y, x, vset(1.6666665459e-1f));
  y = vfma(y, x, vset(5.0000001201e-1f));
  y = vfma(y, vmul(x, x), vadd(x, vset(1.0f)));
  return vmul(y, pow2i(vcvt_i32(fx)));
}

// GELU(x) = 0.5 x (1 + erf(x/sqrt2)) with erf from Abramowitz & Stegun 7.1.26
// (|error| <= 1.5e-7 absolute; the same family oneDNN's eltwise_gelu_erf uses).
inline VF vgelu(VF x) {
  const VF z = vmul(x, vset(0.70710678118654752f));
  const VF az = vabs(z);
  const VF t = vrcp(vfma(az, vset(0.3275911f), vset(1.0f)));
  VF p = vset(1.061405429f);
  p = vfma(p, t, vset(-1.453152027f));
  p = vfma(p, t, vset(1.421413741f));
  p = vfma(p, t, vset(-0.284496736f));
  p = vfma(p, t, vset(0.254829592f));
  p = vmul(p, t);
  const VF e = vexp(vsub(vzero(), vmul(az, az)));
  const VF erf = vcopysign(vfnma(p, e, vset(1.0f)), z);
  return vmul(vmul(vset(0.5f), x), vadd(vset(1.0f), erf));
}

inline VF vsilu(VF x) { return vmul(x, vrcp(vadd(vset(1.0f), vexp(vsub(vzero(), x))))); }

// GELU-tanh: 0.5 x (1 + tanh u) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3).
inline VF vgelu_tanh(VF x) {
  const VF u2 = vmul(vmul(x, vset(2.0f * 0.7978845608028654f)), vfma(vmul(x, x), vset(0.044715f), vset(1.0f)));
  return vmul(x, vrcp(vadd(vset(1.0f), vexp(vsub(vzero(), u2)))));
}

// tanh (Cephes tanhf): x + x z P(z), z = x^2, below |x| 0.625; 1 - 2 / (exp(2|x|) + 1) with
// x's sign above (no cancellation near 0; relative error ~1e-7).
inline VF vtanh(VF x) {
  const VF ax = vabs(x);
  const VF e = vexp(vadd(ax, ax));
  const VF big = vcopysign(vfnma(vset(2.0f), vrcp(vadd(e, vset(1.0f))), vset(1.0f)), x);
  const VF z = vmul(x, x);
  VF p = vset(-5.70498872745e-3f);
  p = vfma(p, z, vset(2.06390887954e-2f));
  p = vfma(p, z, vset(-5.37397155531e-2f));
  p = vfma(p, z, vset(1.33314422036e-1f));
  p = vfma(p, z, vset(-3.33332819422e-1f));
  const VF small = vfma(vmul(p, z), x, x);
  return vselect_lt(ax, vset(0.625f), small, big);
}

template <RowAct A>
inline VF vact(VF x) {
  if constexpr (A == RowAct::kGeluErf) return vgelu(x);
  else if constexpr (A == RowAct::kGeluTanh) return vgelu_tanh(x);
  else if constexpr (A == RowAct::kSilu) return vsilu(x);
  else if constexpr (A == RowAct::kTanh) return vtanh(x);
  else return x;
}
#endif

inline float act_scalar(RowAct a, float x) {
  switch (a) {
    case RowAct::kIdentity: return x;
    case RowAct::kGeluErf: return gelu_erf_scalar(x);
    case RowAct::kGeluTanh: return 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case RowAct::kSilu: return x / (1.0f + std::exp(-x));
    case RowAct::kTanh: return std::tanh(x);
  }
  return x;
}

template <RowAct A>
void act_row_t(const float* x, int n, float* y) {
  int i = 0;
#if CR_K_WIDTH > 1
  for (; i + W <= n; i += W) vstore(y + i, vact<A>(vload(x + i)));
  if (i < n) vstore_n(y + i, vact<A>(vload_n(x + i, n - i)), n - i);
#else
  for (; i < n; ++i) y[i] = act_scalar(A, x[i]);
#endif
}

void act_row(RowAct a, const float* x, int n, float* y) {
  switch (a) {
    case RowAct::kIdentity:
      if (y != x) std::memmove(y, x, sizeof(float) * static_cast<std::size_t>(n));
      return;
    case RowAct::kGeluErf: return act_row_t<RowAct::kGeluErf>(x, n, y);
    case RowAct::kGeluTanh: return act_row_t<RowAct::kGeluTanh>(x, n, y);
    case RowAct::kSilu: return act_row_t<RowAct::kSilu>(x, n, y);
    case RowAct::kTanh: return act_row_t<RowAct::kTanh>(x, n, y);
  }
}

template <RowAct A>
void glu_row_t(const float* z, int n, float* y) {
  int i = 0;
#if CR_K_WIDTH > 1
  for (; i + W <= n; i += W) vstore(y + i, vmul(vact<A>(vload(z + i)), vload(z + n + i)));
  if (i < n) vstore_n(y + i, vmul(vact<A>(vload_n(z + i, n - i)), vload_n(z + n + i, n - i)), n - i);
#else
  for (; i < n; ++i) y[i] = act_scalar(A, z[i]) * z[n + i];
#endif
}

void glu_row(RowAct a, const float* z, int n, float* y) {
  switch (a) {
    case RowAct::kIdentity: return glu_row_t<RowAct::kIdentity>(z, n, y);
    case RowAct::kGeluErf: return glu_row_t<RowAct::kGeluErf>(z, n, y);
    case RowAct::kGeluTanh: return glu_row_t<RowAct::kGeluTanh>(z, n, y);
    case RowAct::kSilu: return glu_row_t<RowAct::kSilu>(z, n, y);
    case RowAct::kTanh: return glu_row_t<RowAct::kTanh>(z, n, y);
  }
}

void softcap_row(float* s, int n, float cap) {
  const float inv = 1.0f / cap;
  int i = 0;
#if CR_K_WIDTH > 1
  const VF vc = vset(cap), vi = vset(inv);
  for (; i + W <= n; i += W) vstore(s + i, vmul(vc, vtanh(vmul(vload(s + i), vi))));
  if (i < n) vstore_n(s + i, vmul(vc, vtanh(vmul(vload_n(s + i, n - i), vi))), n - i);
#else
  for (; i < n; ++i) s[i] = cap * std::tanh(s[i] * inv);
#endif
}

void add_row(float* x, const float* r, int n) {
  int i = 0;
#if CR_K_WIDTH > 1
  for (; i + W <= n; i += W) vstore(x + i, vadd(vload(x + i), vload(r + i)));
#endif
  for (; i < n; ++i) x[i] += r[i];
}

// Two-pass mean / variance (sums in fp32 vector lanes, as oneDNN's layer norm).
void add_layer_norm_row(float* x, const float* r, int n, const float* g, const float* b, float eps) {
  int i = 0;
  float sum = 0.f;
#if CR_K_WIDTH > 1
  {
    VF s = vzero();
    for (; i + W <= n; i += W) {
      VF a = vload(x + i);
      if (r) {
        a = vadd(a, vload(r + i));
        vstore(x + i, a);
      }
      s = vadd(s, a);
    }
    sum = hsum(s);
  }
#endif
  for (; i < n; ++i) {
    if (r) x[i] += r[i];
    sum += x[i];
  }
  const float mean = sum / static_cast<float>(n);
  float var = 0.f;
  i = 0;
#if CR_K_WIDTH > 1
  {
    const VF vm = vset(mean);
    VF v = vzero();
    for (; i + W <= n; i += W) {
      const VF d = vsub(vload(x + i), vm);
      v = vfma(d, d, v);
    }
    var = hsum(v);
  }
#endif
  for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<float>(n);
  const float inv = 1.0f / std::sqrt(var + eps);
  i = 0;
#if CR_K_WIDTH > 1
  {
    const VF vm = vset(mean), vi = vset(inv);
    for (; i + W <= n; i += W) {
      const VF d = vmul(vsub(vload(x + i), vm), vi);
      vstore(x + i, b ? vfma(d, vload(g + i), vload(b + i)) : vmul(d, vload(g + i)));
    }
  }
#endif
  for (; i < n; ++i) x[i] = (x[i] - mean) * inv * g[i] + (b ? b[i] : 0.f);
}

// Sum of squares in double (as the reference), scaling in fp32.
void add_rms_norm_row(float* x, const float* r, int n, const float* g, float eps) {
  if (r) add_row(x, r, n);
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  int i = 0;
#if CR_K_WIDTH > 1
  const VF vi = vset(inv);
  for (; i + W <= n; i += W) vstore(x + i, vmul(vload(g + i), vmul(vload(x + i), vi)));
#endif
  for (; i < n; ++i) x[i] = g[i] * (x[i] * inv);
}

void gelu_row(float* x, int n) {
  int i = 0;
#if CR_K_WIDTH > 1
  for (; i + W <= n; i += W) vstore(x + i, vgelu(vload(x + i)));
  if (i < n) vstore_n(x + i, vgelu(vload_n(x + i, n - i)), n - i);
#else
  for (; i < n; ++i) x[i] = gelu_erf_scalar(x[i]);
#endif
}

void swiglu_row(const float* z, int n, float* y) {
  int i = 0;
#if CR_K_WIDTH > 1
  for (; i + W <= n; i += W) vstore(y + i, vmul(vsilu(vload(z + i)), vload(z + n + i)));
#endif
  for (; i < n; ++i) y[i] = z[i] / (1.0f + std::exp(-z[i])) * z[n + i];
}

float exp_sub_sum_row(float* s, int n, float mx) {
  int j = 0;
  float sum = 0.f;
#if CR_K_WIDTH > 1
  const VF vm = vset(mx);
  VF acc = vzero();
  for (; j + W <= n; j += W) {
    const VF p = vexp(vsub(vload(s + j), vm));
    vstore(s + j, p);
    acc = vadd(acc, p);
  }
  if (j < n) {
    // Masked lanes load 0 and give exp(-mx) garbage: zero them before the sum.
    VF p = vexp(vsub(vload_n(s + j, n - j), vm));
    vstore_n(s + j, p, n - j);
    float tail[W];
    vstore(tail, p);
    for (int k = 0; k < n - j; ++k) sum += tail[k];
  }
  sum += hsum(acc);
#else
  for (; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
#endif
  return sum;
}

float max_row(const float* s, int n) {
  float mx = -INFINITY;
  int j = 0;
#if CR_K_WIDTH > 1
  VF vm = vset(-INFINITY);
  for (; j + W <= n; j += W) vm = vmax(vm, vload(s + j));
  mx = hmax(vm);
#endif
  for (; j < n; ++j) mx = s[j] > mx ? s[j] : mx;
  return mx;
}

void scale_row(float* x, int n, float a) {
  int i = 0;
#if CR_K_WIDTH > 1
  const VF va = vset(a);
  for (; i + W <= n; i += W) vstore(x + i, vmul(vload(x + i), va));
#endif
  for (; i < n; ++i) x[i] *= a;
}

void scale_row_to(float* dst, const float* src, int n, float a) {
  int i = 0;
#if CR_K_WIDTH > 1
  const VF va = vset(a);
  for (; i + W <= n; i += W) vstore(dst + i, vmul(vload(src + i), va));
#endif
  for (; i < n; ++i) dst[i] = src[i] * a;
}

void quantize_row_u8(const float* x, int n, uint8_t* q, float* scale_out, int32_t* zp_out) {
  float mn = 0.f, mx = 0.f;
  int i = 0;
#if CR_K_WIDTH > 1
  {
    VF vmn = vzero(), vmx = vzero();
    for (; i + W <= n; i += W) {
      const VF v = vload(x + i);
      vmn = vmin(vmn, v);
      vmx = vmax(vmx, v);
    }
    mn = hmin(vmn);
    mx = hmax(vmx);
  }
#endif
  for (; i < n; ++i) {
    mn = x[i] < mn ? x[i] : mn;
    mx = x[i] > mx ? x[i] : mx;
  }
  float scale = (mx - mn) / 255.0f;
  if (!(scale > 0.f)) scale = 1.0f;
  const float inv = 1.0f / scale;
  int32_t zp = static_cast<int32_t>(std::nearbyint(-mn * inv));
  zp = zp < 0 ? 0 : (zp > 255 ? 255 : zp);
  *scale_out = scale;
  *zp_out = zp;
  i = 0;
#if CR_K_WIDTH > 1
  {
    const VF vi = vset(inv);
    const VI vz = iset(zp), lo = iset(0), hi = iset(255);
    for (; i + W <= n; i += W) store_u8(q + i, imin(imax(iadd(vcvt_i32(vmul(vload(x + i), vi)), vz), lo), hi));
  }
#endif
  for (; i < n; ++i) {
    int32_t v = static_cast<int32_t>(std::nearbyint(x[i] * inv)) + zp;
    q[i] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

void quantize_row_s16(const float* x, int n, int qmax, int16_t* q, float* scale_out) {
  float amax = 0.f;
  int i = 0;
#if CR_K_WIDTH > 1
  {
    VF va = vzero();
    for (; i + W <= n; i += W) va = vmax(va, vabs(vload(x + i)));
    amax = hmax(va);
  }
#endif
  for (; i < n; ++i) amax = std::fabs(x[i]) > amax ? std::fabs(x[i]) : amax;
  const float scale = amax > 0.f ? amax / static_cast<float>(qmax) : 1.0f;
  const float inv = 1.0f / scale;
  *scale_out = scale;
  i = 0;
#if CR_K_WIDTH > 1
  {
    const VF vi = vset(inv);
    const VI lo = iset(-qmax), hi = iset(qmax);
    for (; i + W <= n; i += W) store_s16(q + i, imin(imax(vcvt_i32(vmul(vload(x + i), vi)), lo), hi));
  }
#endif
  for (; i < n; ++i) {
    const int32_t v = static_cast<int32_t>(std::nearbyint(x[i] * inv));
    q[i] = static_cast<int16_t>(v < -qmax ? -qmax : (v > qmax ? qmax : v));
  }
}

void dequant_rows(const int32_t* acc, std::size_t lda, int rows, int n, const RowScale* q, const int32_t* wsum,
                  const float* sw, const float* bias, float* y, std::size_t ldy) {
  for (int r = 0; r < rows; ++r, acc += lda, y += ldy) {
    const int32_t zp = q[r].zp;
    const float sa = q[r].scale;
    int i = 0;
#if CR_K_WIDTH > 1
    const VI vz = iset(zp);
    const VF vs = vset(sa);
    for (; i + W <= n; i += W) {
      const VI a = isub(iload(acc + i), imul(vz, iload(wsum + i)));
      vstore(y + i, vfma(vcvt_f32(a), vmul(vs, vload(sw + i)), vload(bias + i)));
    }
#endif
    for (; i < n; ++i) y[i] = static_cast<float>(acc[i] - zp * wsum[i]) * (sa * sw[i]) + bias[i];
  }
}

void to_bf16_row(const float* src, int n, uint16_t* dst) {
  int i = 0;
#if CR_K_WIDTH > 1
  for (; i + W <= n; i += W) store_bf16(dst + i, vload(src + i));
#endif
  for (; i < n; ++i) dst[i] = f32_to_bf16_rne(src[i]);
}

void round_bf16_row(const float* src, int n, float* dst) {
  int i = 0;
#if CR_K_WIDTH > 1
  for (; i + W <= n; i += W) vstore(dst + i, round_bf16(vload(src + i)));
#endif
  for (; i < n; ++i) dst[i] = bf16_to_f32(f32_to_bf16_rne(src[i]));
}

}  // namespace

const RowKernels& table() {
  static const RowKernels k{
      CR_K_WIDTH == 16 ? Isa::kAvx512 : CR_K_WIDTH == 8 ? Isa::kAvx2 : Isa::kScalar,
      add_row, add_layer_norm_row, add_rms_norm_row, gelu_row, swiglu_row, act_row, glu_row, softcap_row, exp_sub_sum_row,
      max_row, scale_row,
      scale_row_to, quantize_row_u8, quantize_row_s16, dequant_rows, to_bf16_row, round_bf16_row};
  return k;
}

}  // namespace crossrank::cpu::CR_K_NS
