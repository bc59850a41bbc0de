// CpuOps (cpu_ops_impl.h): linear layers (fp32 / bf16 GEMMs with post-ops, int8 GEMMs with
// their fused dequantise + epilogue row pass and the 16-bit precise pooled rows), the
// fused residual + norm, GEMM inputs and their companions (bf16 / int8 copies).
#include "backend/cpu/cpu_ops_impl.h"
#include "backend/cpu/igemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/error.h"

namespace crossrank::cpu {

void CpuOps::do_linear(const Act& in, const Param& wp, Act& out) {
  const auto& w = static_cast<const CpuLinear&>(wp);
  const Linear& L = *w.lin;
  const int M = in.rows, N = L.N();
  const EpilogueParts parts = epilogue_parts(w.epi);
  const int outN = parts.glu ? N / 2 : N;
  check(in.cols == L.K() && out.cols == outN && out.rows == M && out.ld == out.cols, "linear: shape mismatch");
  check(out.data || prec_ == GemmPrec::kInt8, "linear: output without fp32 rows");
  if (M == 0) return;
  if (recording_) record(w, in);
  const Src src = gemm_src(in, w);
  auto t0 = Clock::now();
  if (prec_ != GemmPrec::kInt8) {
    if (parts.glu) {  // gated: z [M, 2N'] in scratch, one row pass act(gate) * up
      float* z = reinterpret_cast<float*>(scratch(static_cast<std::size_t>(M) * N * 4));
      L.run(strm(), src.p, M, z);
      t0 = tick(w.prof, t0);
      const RowAct a = row_act(parts.act);
#pragma omp parallel for schedule(static)
      for (int m = 0; m < M; ++m) {
        rk().glu(a, z + static_cast<std::size_t>(m) * N, outN, frow(out, m));
        comp_row(out, m);
      }
    } else {
      L.run(strm(), src.p, M, out.data);  // bias (+GELU erf / tanh | + residual) as post-ops
      t0 = tick(w.prof, t0);
      if (out.aux) {
#pragma omp parallel for schedule(static)
        for (int m = 0; m < M; ++m) comp_row(out, m);
      }
    }
    tick("rows", t0);
    return;
  }
  // int8: s32 accumulators (in the output's fp32 rows when the result goes there and
  // nothing has to be added to it, else in scratch), then one fused row pass. A
  // kGemmOnly output keeps only its u8 form: the fp32 row never leaves the cache.
  const bool in_place = out.data && !parts.glu && !parts.residual;
  int32_t* acc = in_place ? reinterpret_cast<int32_t*>(out.data)
                          : reinterpret_cast<int32_t*>(scratch(static_cast<std::size_t>(M) * N * 4));
  check(out.data || w.epi != Epilogue::kResidual, "linear: a residual output needs fp32 rows");
  Int8Run run;
  int8_gemm(in, src, L, acc, run);
  t0 = tick(w.prof, t0);
#pragma omp parallel for schedule(static)
  for (int m = 0; m < M; ++m) {
    float* af = reinterpret_cast<float*>(acc + static_cast<std::size_t>(m) * N);
    int8_row(run, L, m, af);
    float* y = out.data ? frow(out, m) : af;
    if (parts.residual) rk().add(y, af, N);
    else if (parts.glu) rk().glu(row_act(parts.act), af, outN, y);  // y == af only without fp32 rows
    else if (parts.act == Activation::kGeluErf) rk().gelu(y, N);
    else if (parts.act != Activation::kIdentity) rk().act(row_act(parts.act), y, N, y);
    comp_from(out, m, y);
  }
  tick("rows", t0);
}

void CpuOps::do_linear_add_norm(const Act& in, const Param& wp, Act& x, const Param& np) {
  const auto& w = static_cast<const CpuLinear&>(wp);
  const auto& n = static_cast<const CpuNorm&>(np);
  const Linear& L = *w.lin;
  const int M = in.rows, N = L.N();
  check(w.epi == Epilogue::kResidual, "linear_add_norm: the linear must be prepared with Epilogue::kResidual");
  check(in.cols == L.K() && x.cols == N && x.rows == M && x.ld == x.cols, "linear_add_norm: shape mismatch");
  if (M == 0) return;
  if (recording_) record(w, in);
  const Src src = gemm_src(in, w);
  auto t0 = Clock::now();
  if (prec_ != GemmPrec::kInt8) {
    L.run(strm(), src.p, M, x.data);  // x += in W^T + b (sum post-op)
    t0 = tick(w.prof, t0);
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; ++m) {
      norm_row(frow(x, m), nullptr, N, n);
      comp_row(x, m);
    }
    tick("rows", t0);
    return;
  }
  int32_t* acc = reinterpret_cast<int32_t*>(scratch(static_cast<std::size_t>(M) * N * 4));
  Int8Run run;
  int8_gemm(in, src, L, acc, run);
  t0 = tick(w.prof, t0);
#pragma omp parallel for schedule(static)
  for (int m = 0; m < M; ++m) {
    float* af = reinterpret_cast<float*>(acc + static_cast<std::size_t>(m) * N);
    int8_row(run, L, m, af);
    norm_row(frow(x, m), af, N, n);
    comp_row(x, m);
  }
  tick("rows", t0);
}

std::size_t CpuOps::linear_scratch(const Act& in, const Param& wp, const Act& out) const {
  const auto& w = static_cast<const CpuLinear&>(wp);
  std::size_t s = convert_bytes(in, w);
  const bool acc = epilogue_parts(w.epi).glu ||
                   (prec_ == GemmPrec::kInt8 && (w.epi == Epilogue::kResidual || !has_main(out.use)));
  if (acc) s += align64(static_cast<std::size_t>(in.rows) * w.lin->N() * 4);
  return s + precise_scratch(in, *w.lin);
}

std::size_t CpuOps::linear_add_norm_scratch(const Act& in, const Param& wp, const Act&) const {
  const auto& w = static_cast<const CpuLinear&>(wp);
  std::size_t s = convert_bytes(in, w);
  if (prec_ == GemmPrec::kInt8) s += align64(static_cast<std::size_t>(in.rows) * w.lin->N() * 4);
  return s + precise_scratch(in, *w.lin);
}

CpuOps::Src CpuOps::gemm_src(const Act& in, const CpuLinear& w) {
  check(in.ld == in.cols, "linear: input rows must be contiguous");
  if (prec_ == GemmPrec::kF32) return {in.data};
  Act c = in;
  if (needs_convert(in, w)) {
    check(in.data != nullptr, "linear '" + w.name + "': the input's int8 form was written for another linear");
    const auto t0 = Clock::now();
    c.next = &w;
    c.aux3 = nullptr;
    c.aux = scratch(comp_bytes(in.rows, in.cols));
    if (prec_ == GemmPrec::kInt8) c.aux2 = c.aux + align64(static_cast<std::size_t>(in.rows) * in.cols * comp_elem());
    if (precise()) c.aux3 = scratch(precise_bytes(in.cols));
#pragma omp parallel for schedule(static)
    for (int m = 0; m < in.rows; ++m) comp_row(c, m);
    tick("convert", t0);
  }
  Src s{c.aux};
  if (prec_ == GemmPrec::kInt8) s.q = rowq(c);
  s.precise = c.aux3 != nullptr;
  s.precise_act = c;
  return s;
}

void CpuOps::comp_from(const Act& a, int r, const float* src) const {
  if (!a.aux) return;
  const std::size_t off = static_cast<std::size_t>(r) * a.cols;
  switch (prec_) {
    case GemmPrec::kF32: return;
    case GemmPrec::kBf16: rk().to_bf16(src, a.cols, reinterpret_cast<uint16_t*>(a.aux) + off); return;
    case GemmPrec::kBf16Emu: rk().round_bf16(src, a.cols, reinterpret_cast<float*>(a.aux) + off); return;
    case GemmPrec::kInt8: {
      RowQ& q = rowq(a)[r];
      if (const CpuLinear* l = smoothed(a)) {  // quantise x * inv_s (SmoothQuant)
        thread_local std::vector<float> t;
        t.resize(static_cast<std::size_t>(a.cols));
        const float* is = l->inv_s.data();
        for (int i = 0; i < a.cols; ++i) t[i] = src[i] * is[i];
        src = t.data();
      }
      if (s16_) {
        rk().quantize_s16(src, a.cols, igemm_range(a.cols).a, q16(a) + off, &q.scale);
        q.zp = 0;
      } else {
        rk().quantize_u8(src, a.cols, q8(a) + off, &q.scale, &q.zp);
      }
      const int p = pooled_index(a, r);
      if (p >= 0) quantize16(src, a.cols, phi(a, p), phi(a, p) + a.cols, prowq(a) + p);
      return;
    }
  }
}

void CpuOps::dequant_row(const Act& a, int r, float* dst) const {
  const RowQ q = rowq(a)[r];
  const std::size_t off = static_cast<std::size_t>(r) * a.cols;
  const CpuLinear* l = smoothed(a);
  for (int c = 0; c < a.cols; ++c) {
    const int v = s16_ ? static_cast<int>(q16(a)[off + c]) : static_cast<int>(q8(a)[off + c]);
    dst[c] = q.scale * (v - q.zp) * (l ? l->s[static_cast<std::size_t>(c)] : 1.0f);
  }
}

void CpuOps::quantize16(const float* x, int n, uint8_t* hi, uint8_t* lo, RowQ* q) {
  float mn = 0.f, mx = 0.f;
  for (int i = 0; i < n; ++i) mn = std::min(mn, x[i]), mx = std::max(mx, x[i]);
  float scale = (mx - mn) / 65535.0f;
  if (!(scale > 0.f)) scale = 1.0f;
  const float inv = 1.0f / scale;
  const int32_t zp = std::clamp(static_cast<int32_t>(std::nearbyint(-mn * inv)), 0, 65535);
  for (int i = 0; i < n; ++i) {
    const int32_t v = std::clamp(static_cast<int32_t>(std::nearbyint(x[i] * inv)) + zp, 0, 65535);
    hi[i] = static_cast<uint8_t>(v >> 8);
    lo[i] = static_cast<uint8_t>(v & 255);
  }
  q->scale = scale;
  q->zp = zp;
}

void CpuOps::int8_gemm(const Act& in, const Src& src, const Linear& L, int32_t* acc, Int8Run& r) {
  const int M = in.rows, N = L.N(), K = L.K();
  r.N = N;
  r.q = src.q;
  r.pidx.assign(static_cast<std::size_t>(M), -1);
  int P = 0;
  if (src.precise)
    for (int m = 0; m < M; ++m)
      if (pooled_index(src.precise_act, m) >= 0) r.pidx[m] = P++;
  uint8_t* hl = nullptr;   // [2 P, K]: the precise rows' hi / lo halves
  int32_t* acc2 = nullptr;  // [2 P, N]: their sums
  if (P > 0) {
    hl = reinterpret_cast<uint8_t*>(scratch(static_cast<std::size_t>(2 * P) * K * (s16_ ? 2 : 1)));
    acc2 = reinterpret_cast<int32_t*>(scratch(static_cast<std::size_t>(2 * P) * N * 4));
    r.q16.resize(static_cast<std::size_t>(P));
    for (int m = 0; m < M; ++m) {
      const int i = r.pidx[m];
      if (i < 0) continue;
      const int p = pooled_index(src.precise_act, m);
      const uint8_t* from = phi(src.precise_act, p);
      if (s16_) {  // the u8 hi / lo bytes as s16 for igemm_s16s8
        int16_t* to = reinterpret_cast<int16_t*>(hl) + static_cast<std::size_t>(2 * i) * K;
        for (int k = 0; k < 2 * K; ++k) to[k] = from[k];
      } else {
        std::memcpy(hl + static_cast<std::size_t>(2 * i) * K, from, 2 * static_cast<std::size_t>(K));
      }
      r.q16[i] = prowq(src.precise_act)[p];
    }
    r.acc2 = acc2;
  }
  if (P < M) {
    r.acc = acc;
    if (L.s16_activations()) {  // dequantised (+ bias) in the GEMM's epilogue, rows still in L1
      float* y = reinterpret_cast<float*>(acc);
      const RowQ* q = r.q;
      const RowKernels& k = rk();
      // The precise rows' hi / lo halves ride along (stored as s32, combined in int8_row).
      const IgemmExtra extra{reinterpret_cast<const int16_t*>(hl), static_cast<std::size_t>(K), 2 * P, acc2,
                             static_cast<std::size_t>(N)};
      L.run(static_cast<const int16_t*>(src.p), M, [&](int m0, int rows, int n0, int nvalid, const int32_t* sums) {
        k.dequant(sums, 16, rows, nvalid, q + m0, L.w_sum() + n0, L.w_scale() + n0, L.bias() + n0,
                  y + static_cast<std::size_t>(m0) * N + n0, N);
      }, P > 0 ? &extra : nullptr);
      r.dequantised = true;
      return;
    }
    L.run(strm(), src.p, M, acc);
  }
  if (P > 0) L.run(strm(), hl, 2 * P, acc2);  // every row is precise, or the oneDNN path
}

void CpuOps::int8_row(const Int8Run& r, const Linear& L, int m, float* y) const {
  const int i = r.pidx[m];
  if (i < 0) {
    if (r.dequantised) return;  // y is the row's own fp32 (both callers pass it)
    rk().dequant(r.acc + static_cast<std::size_t>(m) * r.N, 0, 1, r.N, r.q + m, L.w_sum(), L.w_scale(), L.bias(), y, 0);
    return;
  }
  const int32_t* hi = r.acc2 + static_cast<std::size_t>(2 * i) * r.N;
  const int32_t* lo = hi + r.N;
  const RowQ q = r.q16[i];
  for (int n = 0; n < r.N; ++n)
    y[n] = static_cast<float>((256.0 * hi[n] + lo[n] - static_cast<double>(q.zp) * L.w_sum()[n]) *
                              (static_cast<double>(q.scale) * L.w_scale()[n])) + L.bias()[n];
}

}  // namespace crossrank::cpu
