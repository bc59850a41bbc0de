#pragma once
// The backend's GEMMs on cuBLASLt: out[M, N] = in[M, K] W[N, K]^T (+ bias) (+ out), all
// row-major, as one column-major "TN" matmul D[N, M] = op(A)=W (A stored K x N, ld K,
// transposed) times B = in^T (K x M, ld = in row stride), C = D = out^T (N x M, ld = out
// row stride). Epilogue BIAS (bias in the output type) and beta = 1 for the residual;
// fp32 accumulation and scale, no TF32 (fp32 GEMMs are exact-precision SGEMMs).
//
// Caching: per shape (everything but M: N, K, strides, types, epilogue, pointer
// alignments) one matmul descriptor and A layout; per M bucket (plan.h gemm_m_bucket) the
// heuristic's algorithm; per exact M the B / C layouts and that algorithm once
// cublasLtMatmulAlgoCheck accepted it for that M (else a heuristic query for exact M).
// Not thread-safe (one per CudaContext, whose ops run one pass at a time).
#include <cublasLt.h>

#include <map>
#include <memory>
#include <tuple>

#include "backend/cuda/context.h"
#include "backend/cuda/kernels.h"

namespace crossrank::cuda {

class GemmLt {
 public:
  explicit GemmLt(CudaContext& ctx) : ctx_(ctx) {}
  ~GemmLt();
  GemmLt(const GemmLt&) = delete;
  GemmLt& operator=(const GemmLt&) = delete;

  // Enqueues the GEMM on the context's stream. Throws Error when cuBLASLt has no
  // algorithm for it or fails.
  void run(const GemmArgs& a);
  // Heuristic queries made so far (bucket + exact), for tests and logs.
  int heuristic_queries() const { return queries_; }

 private:
  struct Shape {
    int N, K, ld_in, ld_out;
    Elem w_t, in_t, out_t;
    bool bias, acc;
    unsigned align_in, align_w, align_out;
    auto key() const { return std::tie(N, K, ld_in, ld_out, w_t, in_t, out_t, bias, acc, align_in, align_w, align_out); }
    bool operator<(const Shape& o) const { return key() < o.key(); }
  };
  struct Exact {
    cublasLtMatrixLayout_t b = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr;
    std::map<int, cublasLtMatmulAlgo_t> bucket;  // M bucket -> algorithm
    std::map<int, Exact> exact;                  // M -> layouts + checked algorithm
  };

  Plan& plan(const Shape& s);
  Exact& exact(Plan& p, const Shape& s, int M);
  bool heuristic(const Plan& p, const Shape& s, cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t d,
                 cublasLtMatmulAlgo_t* algo);
  void layouts(const Shape& s, int M, cublasLtMatrixLayout_t* b, cublasLtMatrixLayout_t* d) const;

  CudaContext& ctx_;
  std::map<Shape, Plan> plans_;
  int queries_ = 0;
};

}  // namespace crossrank::cuda
