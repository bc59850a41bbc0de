#pragma once
// Row kernels of the optimised CPU backend: LayerNorm (+ residual), GELU(erf), exp,
// per-token u8 quantisation, int8 dequantisation, bf16 rounding/conversion.
//
// Every kernel works on ONE row (a token's feature vector, n = H, 3H or I floats); the
// caller parallelises over rows with OpenMP and composes several row kernels inside the
// same loop so a row is touched while it is still in L1/L2 (e.g. int8: dequant + bias +
// residual + LayerNorm + quantise of the next GEMM's input, all in one pass).
//
// ISA: the vector paths are AVX2 + FMA (8 floats), compiled when the target has them;
// otherwise the scalar loops below run (same maths, slower).
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define CR_AVX2 1
#else
#define CR_AVX2 0
#endif

namespace crossrank::cpu {

// ---------------------------------------------------------------------------------------
// Scalar helpers (also the reference semantics of the vector code).
inline uint16_t f32_to_bf16_rne(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_f32(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float gelu_erf_scalar(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

#if CR_AVX2
inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline float hmax256(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
inline float hmin256(__m256 v) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// exp(x) for x <= ~88 (Cephes expf: range reduction by ln2 in two parts + degree-6
// polynomial; max rel. error ~2 ulp). Inputs below -87 flush to ~0 (softmax only feeds
// x - max <= 0, where exp < 1e-38 is irrelevant next to the max's exp(0) = 1).
inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// GELU(x) = 0.5 x (1 + erf(x/sqrt2)) with erf from Abramowitz & Stegun 7.1.26
// (|error| <= 1.5e-7 absolute; the same family oneDNN's eltwise_gelu_erf uses).
inline __m256 gelu_erf256(__m256 x) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
  const __m256 az = _mm256_andnot_ps(sign_mask, z);
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(az, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  p = _mm256_mul_ps(p, t);
  const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(az, az)));
  __m256 erf_abs = _mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f));
  const __m256 erf = _mm256_or_ps(erf_abs, _mm256_and_ps(z, sign_mask));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), erf));
}

// Loads/stores of the n % 8 tail through a mask.
inline __m256i tail_mask(int r) {
  alignas(32) static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 8 - r));
}
#endif

// ---------------------------------------------------------------------------------------
// x[0..n) = LayerNorm(x + r) * g + b   (r may be null). Two-pass mean / variance.
inline void add_layer_norm_row(float* x, const float* r, int n, const float* g, const float* b, float eps) {
  int i = 0;
  float sum = 0.f;
#if CR_AVX2
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    __m256 a0 = _mm256_loadu_ps(x + i), a1 = _mm256_loadu_ps(x + i + 8);
    if (r) {
      a0 = _mm256_add_ps(a0, _mm256_loadu_ps(r + i));
      a1 = _mm256_add_ps(a1, _mm256_loadu_ps(r + i + 8));
      _mm256_storeu_ps(x + i, a0);
      _mm256_storeu_ps(x + i + 8, a1);
    }
    s0 = _mm256_add_ps(s0, a0);
    s1 = _mm256_add_ps(s1, a1);
  }
  sum = hsum256(_mm256_add_ps(s0, s1));
#endif
  for (; i < n; ++i) {
    if (r) x[i] += r[i];
    sum += x[i];
  }
  const float mean = sum / static_cast<float>(n);
  float var = 0.f;
  i = 0;
#if CR_AVX2
  {
    const __m256 vm = _mm256_set1_ps(mean);
    __m256 v0 = _mm256_setzero_ps(), v1 = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
      const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vm);
      const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm);
      v0 = _mm256_fmadd_ps(d0, d0, v0);
      v1 = _mm256_fmadd_ps(d1, d1, v1);
    }
    var = hsum256(_mm256_add_ps(v0, v1));
  }
#endif
  for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<float>(n);
  const float inv = 1.0f / std::sqrt(var + eps);
  i = 0;
#if CR_AVX2
  {
    const __m256 vm = _mm256_set1_ps(mean), vi = _mm256_set1_ps(inv);
    for (; i + 8 <= n; i += 8) {
      const __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vi);
      _mm256_storeu_ps(x + i, _mm256_fmadd_ps(d, _mm256_loadu_ps(g + i), _mm256_loadu_ps(b + i)));
    }
  }
#endif
  for (; i < n; ++i) x[i] = (x[i] - mean) * inv * g[i] + b[i];
}

// x[0..n) = GELU(x) in place.
inline void gelu_row(float* x, int n) {
  int i = 0;
#if CR_AVX2
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu_erf256(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    _mm256_maskstore_ps(x + i, m, gelu_erf256(_mm256_maskload_ps(x + i, m)));
  }
#else
  for (; i < n; ++i) x[i] = gelu_erf_scalar(x[i]);
#endif
}

// p[j] = exp(s[j] - mx) for j < n; returns sum_j p[j].
inline float exp_sub_sum_row(float* s, int n, float mx) {
  int j = 0;
  float sum = 0.f;
#if CR_AVX2
  const __m256 vm = _mm256_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  for (; j + 8 <= n; j += 8) {
    const __m256 p = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
    _mm256_storeu_ps(s + j, p);
    acc = _mm256_add_ps(acc, p);
  }
  if (j < n) {
    const __m256i m = tail_mask(n - j);
    const __m256 p = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(s + j, m), vm)), _mm256_castsi256_ps(m));
    _mm256_maskstore_ps(s + j, m, p);
    acc = _mm256_add_ps(acc, p);
  }
  sum = hsum256(acc);
#else
  for (; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
#endif
  return sum;
}

inline float max_row(const float* s, int n) {
  float mx = -INFINITY;
  int j = 0;
#if CR_AVX2
  __m256 vm = _mm256_set1_ps(-INFINITY);
  for (; j + 8 <= n; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(s + j));
  mx = hmax256(vm);
#endif
  for (; j < n; ++j) mx = s[j] > mx ? s[j] : mx;
  return mx;
}

inline void scale_row(float* x, int n, float a) {
  int i = 0;
#if CR_AVX2
  const __m256 va = _mm256_set1_ps(a);
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), va));
#endif
  for (; i < n; ++i) x[i] *= a;
}

// dst[i] = a * src[i]
inline void scale_row_to(float* dst, const float* src, int n, float a) {
  int i = 0;
#if CR_AVX2
  const __m256 va = _mm256_set1_ps(a);
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_loadu_ps(src + i), va));
#endif
  for (; i < n; ++i) dst[i] = src[i] * a;
}

// x[0..n) += r[0..n)
inline void add_row(float* x, const float* r, int n) {
  int i = 0;
#if CR_AVX2
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(r + i)));
#endif
  for (; i < n; ++i) x[i] += r[i];
}

// x[0..n) = RMSNorm(x + r) * g   (r may be null): x / sqrt(mean(x^2) + eps) * g, the sum
// of squares in double.
inline void add_rms_norm_row(float* x, const float* r, int n, const float* g, float eps) {
  if (r) add_row(x, r, n);
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int i = 0; i < n; ++i) x[i] = g[i] * (x[i] * inv);
}

// y[0..n) = silu(z[0..n)) * z[n..2n)  (SwiGLU over a [gate | up] row).
inline void swiglu_row(const float* z, int n, float* y) {
  for (int i = 0; i < n; ++i) {
    const float g = z[i];
    y[i] = g / (1.0f + std::exp(-g)) * z[n + i];
  }
}

// ---------------------------------------------------------------------------------------
// Per-token asymmetric u8 quantisation of one row:
//   scale = (max(x,0) - min(x,0)) / 255, zp = round(-min/scale), q = clamp(rne(x/scale) + zp)
// so that x ~= scale * (q - zp) and 0 is exact. An all-zero row gets scale 1, zp 0.
inline void quantize_row_u8(const float* x, int n, uint8_t* q, float* scale_out, int32_t* zp_out) {
  float mn = 0.f, mx = 0.f;
  int i = 0;
#if CR_AVX2
  {
    __m256 vmn = _mm256_setzero_ps(), vmx = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      vmn = _mm256_min_ps(vmn, v);
      vmx = _mm256_max_ps(vmx, v);
    }
    mn = hmin256(vmn);
    mx = hmax256(vmx);
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
#if CR_AVX2
  {
    const __m256 vi = _mm256_set1_ps(inv);
    const __m256i vz = _mm256_set1_epi32(zp);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (; i + 32 <= n; i += 32) {
      __m256i a = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vi)), vz);
      __m256i b = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vi)), vz);
      __m256i c = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), vi)), vz);
      __m256i d = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), vi)), vz);
      // packs saturate s32->s16 then s16->u8 (clamping to [0,255]); they work per 128-bit
      // lane, so the result is lane-interleaved: undo with a dword permutation.
      const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
      const __m256i abcd = _mm256_packus_epi16(ab, cd);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), _mm256_permutevar8x32_epi32(abcd, perm));
    }
  }
#endif
  for (; i < n; ++i) {
    int32_t v = static_cast<int32_t>(std::nearbyint(x[i] * inv)) + zp;
    q[i] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

// Int8 GEMM epilogue for one row m:
//   y[n] = (acc[n] - zp_m * wsum[n]) * (sa_m * sw[n]) + bias[n]
// acc is the s32 u8*s8 dot product; the zero-point correction is an exact int32
// subtraction (|terms| < 2^31 for K <= 4096 ... 65536), then one float scale.
// y may alias acc (in-place s32 -> f32).
inline void dequant_row(const int32_t* acc, int n, int32_t zp, float sa, const int32_t* wsum, const float* sw,
                        const float* bias, float* y) {
  int i = 0;
#if CR_AVX2
  const __m256i vz = _mm256_set1_epi32(zp);
  const __m256 vs = _mm256_set1_ps(sa);
  for (; i + 8 <= n; i += 8) {
    const __m256i a = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i)),
                                       _mm256_mullo_epi32(vz, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wsum + i))));
    const __m256 s = _mm256_mul_ps(vs, _mm256_loadu_ps(sw + i));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_cvtepi32_ps(a), s, _mm256_loadu_ps(bias + i)));
  }
#endif
  for (; i < n; ++i) y[i] = static_cast<float>(acc[i] - zp * wsum[i]) * (sa * sw[i]) + bias[i];
}

// dst[i] = bf16(src[i]) (round to nearest even).
inline void to_bf16_row(const float* src, int n, uint16_t* dst) {
  int i = 0;
#if CR_AVX2
  const __m256i r = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1);
  for (; i + 16 <= n; i += 16) {
    __m256i a = _mm256_castps_si256(_mm256_loadu_ps(src + i));
    __m256i b = _mm256_castps_si256(_mm256_loadu_ps(src + i + 8));
    a = _mm256_srli_epi32(_mm256_add_epi32(a, _mm256_add_epi32(r, _mm256_and_si256(_mm256_srli_epi32(a, 16), one))), 16);
    b = _mm256_srli_epi32(_mm256_add_epi32(b, _mm256_add_epi32(r, _mm256_and_si256(_mm256_srli_epi32(b, 16), one))), 16);
    const __m256i ab = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), ab);
  }
#endif
  for (; i < n; ++i) dst[i] = f32_to_bf16_rne(src[i]);
}

// dst[i] = float(bf16(src[i])): bf16 rounding kept in fp32 storage (emulated bf16 GEMM).
inline void round_bf16_row(const float* src, int n, float* dst) {
  int i = 0;
#if CR_AVX2
  const __m256i r = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1),
                hi = _mm256_set1_epi32(static_cast<int32_t>(0xffff0000u));
  for (; i + 8 <= n; i += 8) {
    __m256i a = _mm256_castps_si256(_mm256_loadu_ps(src + i));
    a = _mm256_and_si256(_mm256_add_epi32(a, _mm256_add_epi32(r, _mm256_and_si256(_mm256_srli_epi32(a, 16), one))), hi);
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(a));
  }
#endif
  for (; i < n; ++i) dst[i] = bf16_to_f32(f32_to_bf16_rne(src[i]));
}

}  // namespace crossrank::cpu
