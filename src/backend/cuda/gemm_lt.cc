#include "backend/cuda/gemm_lt.h"

#include <cstdint>
#include <string>

#include "backend/cuda/plan.h"
#include "util/error.h"

namespace crossrank::cuda {
namespace {

cudaDataType_t cuda_type(Elem e) {
  switch (e) {
    case Elem::kF16: return CUDA_R_16F;
    case Elem::kBF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

// Largest power of two <= 256 dividing the address.
unsigned alignment(const void* p) {
  const auto v = reinterpret_cast<std::uintptr_t>(p);
  unsigned a = 256;
  while (a > 1 && v % a) a >>= 1;
  return a;
}

template <class T>
void set(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const T& v) {
  CROSSRANK_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof v));
}

std::string describe(int M, int N, int K, Elem w, Elem o) {
  return "GEMM M" + std::to_string(M) + " N" + std::to_string(N) + " K" + std::to_string(K) + " " + to_string(w) +
         " -> " + to_string(o);
}

}  // namespace

GemmLt::~GemmLt() {
  for (auto& [s, p] : plans_) {
    for (auto& [m, e] : p.exact) {
      cublasLtMatrixLayoutDestroy(e.b);
      cublasLtMatrixLayoutDestroy(e.d);
    }
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatmulDescDestroy(p.desc);
  }
}

void GemmLt::layouts(const Shape& s, int M, cublasLtMatrixLayout_t* b, cublasLtMatrixLayout_t* d) const {
  CROSSRANK_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(b, cuda_type(s.in_t), s.K, M, s.ld_in));
  CROSSRANK_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(d, cuda_type(s.out_t), s.N, M, s.ld_out));
}

GemmLt::Plan& GemmLt::plan(const Shape& s) {
  auto it = plans_.find(s);
  if (it != plans_.end()) return it->second;
  Plan p;
  CROSSRANK_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  set(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
  set(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
  set(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, s.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
  if (s.bias) set(p.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<std::int32_t>(cuda_type(s.out_t)));
  CROSSRANK_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, cuda_type(s.w_t), s.K, s.N, s.K));
  return plans_.emplace(s, p).first->second;
}

bool GemmLt::heuristic(const Plan& p, const Shape& s, cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t d,
                       cublasLtMatmulAlgo_t* algo) {
  ++queries_;
  cublasLtMatmulPreference_t pref;
  CROSSRANK_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const std::uint64_t ws = ctx_.workspace_bytes;
  const std::uint32_t aa = s.align_w, ab = s.align_in, ad = s.align_out;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aa, sizeof aa);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ab, sizeof ab);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ad, sizeof ad);
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ad, sizeof ad);
  cublasLtMatmulHeuristicResult_t r{};
  int found = 0;
  const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(ctx_.lt, p.desc, p.a, b, d, d, pref, 1, &r, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS || found == 0) return false;
  *algo = r.algo;
  return true;
}

GemmLt::Exact& GemmLt::exact(Plan& p, const Shape& s, int M) {
  auto it = p.exact.find(M);
  if (it != p.exact.end()) return it->second;
  Exact e;
  layouts(s, M, &e.b, &e.d);
  // The bucket's algorithm, if cuBLASLt confirms it for this M.
  const int mb = gemm_m_bucket(M);
  auto bt = p.bucket.find(mb);
  if (bt == p.bucket.end()) {
    cublasLtMatrixLayout_t b, d;
    layouts(s, mb, &b, &d);
    cublasLtMatmulAlgo_t algo{};
    const bool ok = heuristic(p, s, b, d, &algo);
    cublasLtMatrixLayoutDestroy(b);
    cublasLtMatrixLayoutDestroy(d);
    if (ok) bt = p.bucket.emplace(mb, algo).first;
  }
  bool have = false;
  if (bt != p.bucket.end()) {
    cublasLtMatmulHeuristicResult_t r{};
    have = cublasLtMatmulAlgoCheck(ctx_.lt, p.desc, p.a, e.b, e.d, e.d, &bt->second, &r) == CUBLAS_STATUS_SUCCESS &&
           r.workspaceSize <= ctx_.workspace_bytes;
    if (have) e.algo = bt->second;
  }
  if (!have && !heuristic(p, s, e.b, e.d, &e.algo)) {
    cublasLtMatrixLayoutDestroy(e.b);
    cublasLtMatrixLayoutDestroy(e.d);
    throw Error(ErrorCode::kUnsupported, "cuBLASLt has no algorithm for " + describe(M, s.N, s.K, s.w_t, s.out_t));
  }
  return p.exact.emplace(M, e).first->second;
}

void GemmLt::run(const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0) return;
  check(g.in.t == g.w_t, "cuda gemm: input and weight types differ");
  Shape s{g.N, g.K, g.in.ld, g.out.ld, g.w_t, g.in.t, g.out.t, g.bias != nullptr, g.accumulate,
          alignment(g.in.p), alignment(g.w), alignment(g.out.p)};
  Plan& p = plan(s);
  if (s.bias) set(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, g.bias);
  Exact& e = exact(p, s, g.M);
  const float alpha = 1.f, beta = g.accumulate ? 1.f : 0.f;
  const cublasStatus_t st = cublasLtMatmul(ctx_.lt, p.desc, &alpha, g.w, p.a, g.in.p, e.b, &beta, g.out.p, e.d,
                                           g.out.p, e.d, &e.algo, ctx_.workspace, ctx_.workspace_bytes, ctx_.stream);
  if (st != CUBLAS_STATUS_SUCCESS)
    throw Error(ErrorCode::kInternal, "cuBLASLt matmul failed (status " + std::to_string(int(st)) + ") for " +
                                          describe(g.M, g.N, g.K, g.w_t, g.out.t));
}

}  // namespace crossrank::cuda
