// Qwen3 reranker timings on synthetic weights, at the token-id level (no tokenizer needed).
//
//   qwen3_bench [--model qwen3-reranker-0.6b] [--docs 100] [--batch 100] [--dtypes fp32,bf16]
//               [--reps 3] [--dump-ids FILE] [--attention]
//
// Prefix sharing (default run): 1 query x --docs passages in the model card's prompt shape
// (the real 39 prefix / 9 suffix ids of Qwen's tokenizer around a 45-token instruction + query
// part and documents of 120..250 tokens, ids from a fixed seed), scored in passes of --batch
// pairs, once with EncodedPair::shared_prefix set (the query part's K/V computed once per
// pass) and once with shared_prefix = 0 (every pair computes its whole prompt). Prints
// seconds, pairs/s and the speed-up, and checks that both give the same scores.
// --dump-ids writes the pairs' ids as JSONL ({"ids": [...], "shared_prefix": n}) so peers
// (bench/qwen3_peers.py) run exactly the same sequences.
//
// --attention: the attention op alone, the generic CPU path (attention_generic, one
// (sequence, head) task streaming keys one by one) against the blocked kernel
// (attention_causal), on decoder shapes (16 query / 8 KV heads, head_dim 128, causal).
//
// Times are wall clock and CPU time / threads (on a shared machine the wall clock also
// measures the neighbours; run with OMP_WAIT_POLICY=passive so idle threads sleep).
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/attention.h"
#include "backend/cpu/attention_causal.h"
#include "backend/cpu/cpu_ops.h"
#include "batch/packed_batch.h"
#include "model/config.h"
#include "model/qwen3.h"
#include "model/weights.h"

using namespace crossrank;
using Clock = std::chrono::steady_clock;

namespace {

double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }
double cpu_secs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

std::vector<std::string> split(const std::string& s, char c) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, c))
    if (!item.empty()) out.push_back(item);
  return out;
}

DType parse_dt(const std::string& s) {
  if (s == "fp32") return DType::kFp32;
  if (s == "bf16") return DType::kBf16;
  if (s == "int8") return DType::kInt8;
  std::fprintf(stderr, "bad dtype %s\n", s.c_str());
  std::exit(2);
}

// The model card's prompt ids: Qwen's tokenization of the prefix and suffix strings.
const std::vector<int32_t> kPrefixIds = {151644, 8948, 198, 60256, 3425, 279, 11789, 20027, 279, 8502, 3118, 389, 279,
                                         11361, 323, 279, 758, 1235, 3897, 13, 7036, 429, 279, 4226, 646, 1172,
                                         387, 330, 9693, 1, 476, 330, 2152, 3263, 151645, 198, 151644, 872, 198};
const std::vector<int32_t> kSuffixIds = {151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271};

std::vector<EncodedPair> prompt_pairs(int docs, int head_len, int dmin, int dmax, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto tok = [&] { return static_cast<int32_t>(rng() % 151643); };
  std::vector<int32_t> head(head_len);
  for (auto& t : head) t = tok();
  std::vector<EncodedPair> out(docs);
  for (auto& p : out) {
    const int nd = dmin + static_cast<int>(rng() % static_cast<uint64_t>(dmax - dmin + 1));
    p.ids = kPrefixIds;
    p.ids.insert(p.ids.end(), head.begin(), head.end());
    for (int i = 0; i < nd; ++i) p.ids.push_back(tok());
    p.ids.insert(p.ids.end(), kSuffixIds.begin(), kSuffixIds.end());
    p.type_ids.assign(p.ids.size(), 0);
    p.shared_prefix = static_cast<int32_t>(kPrefixIds.size() + head.size());
  }
  return out;
}

struct Timing {
  double wall = 0, cpu = 0;
  std::vector<float> scores;
};

// All pairs in passes of `batch` (sorted longest first, as Engine::score does).
Timing score_all(Backend& be, const ModelConfig& c, const std::vector<EncodedPair>& pairs, int batch, int reps) {
  std::vector<const EncodedPair*> order;
  for (const auto& p : pairs) order.push_back(&p);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->ids.size() > b->ids.size(); });
  auto once = [&](std::vector<float>* out) {
    for (size_t i = 0; i < order.size(); i += batch) {
      std::vector<const EncodedPair*> b(order.begin() + i, order.begin() + std::min(order.size(), i + batch));
      const auto s = be.forward(pack_batch(b, c));
      if (out) out->insert(out->end(), s.begin(), s.end());
    }
  };
  Timing t;
  once(&t.scores);  // warm-up (and the scores, in `order`)
  const auto t0 = Clock::now();
  const double c0 = cpu_secs();
  for (int r = 0; r < reps; ++r) once(nullptr);
  t.wall = secs(t0, Clock::now()) / reps;
  t.cpu = (cpu_secs() - c0) / reps / omp_get_max_threads();
  return t;
}

void prefix_bench(const std::string& model, const std::vector<DType>& dts, int docs, int batch, int reps,
                  const std::string& dump) {
  const ModelConfig c = synthetic_config(model);
  auto pairs = prompt_pairs(docs, 45, 120, 250, 12);
  long tokens = 0;
  for (const auto& p : pairs) tokens += static_cast<long>(p.ids.size());
  std::printf("model synthetic:%s, %d threads; 1 query x %d passages, %ld tokens (%.0f per pair, shared prefix %d), "
              "passes of %d pairs\n",
              model.c_str(), omp_get_max_threads(), docs, tokens, double(tokens) / docs, pairs[0].shared_prefix, batch);
  if (!dump.empty()) {
    std::ofstream out(dump);
    for (const auto& p : pairs) {
      out << "{\"ids\": [";
      for (size_t i = 0; i < p.ids.size(); ++i) out << (i ? "," : "") << p.ids[i];
      out << "], \"shared_prefix\": " << p.shared_prefix << "}\n";
    }
    std::printf("wrote %s\n", dump.c_str());
  }
  std::vector<EncodedPair> plain = pairs;
  for (auto& p : plain) p.shared_prefix = 0;
  std::vector<float> fp32;  // scores of the first fp32 run: the others' reference
  auto max_diff = [](const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, double(std::abs(a[i] - b[i])));
    return d;
  };
  for (DType dt : dts) {
    auto w = synthetic_weights(c, 0);
    auto be = make_backend(cpu::make_cpu_ops_ex(dt, {}), c, w);
    for (const std::string& n : be->ops().copied_tensors()) w->release(n);
    TensorMap::trim();
    const Timing shared = score_all(*be, c, pairs, batch, reps);
    const Timing unshared = score_all(*be, c, plain, batch, reps);
    const double d = max_diff(shared.scores, unshared.scores);
    if (dt == DType::kFp32 && fp32.empty()) fp32 = shared.scores;
    std::printf("  %-4s shared prefix:    %7.3f s wall (%6.1f pairs/s), %7.3f s cpu/threads (%6.1f pairs/s)\n",
                to_string(dt), shared.wall, docs / shared.wall, shared.cpu, docs / shared.cpu);
    std::printf("  %-4s no sharing:       %7.3f s wall (%6.1f pairs/s), %7.3f s cpu/threads (%6.1f pairs/s)\n",
                to_string(dt), unshared.wall, docs / unshared.wall, unshared.cpu, docs / unshared.cpu);
    std::printf("  %-4s speed-up %.2fx wall, %.2fx cpu; max |score difference| shared vs not %.2e", to_string(dt),
                unshared.wall / shared.wall, unshared.cpu / shared.cpu, d);
    if (dt != DType::kFp32 && !fp32.empty())
      std::printf(", vs fp32: shared %.2e, not shared %.2e", max_diff(shared.scores, fp32), max_diff(unshared.scores, fp32));
    std::printf("\n");
  }
}

// ---- attention alone ----------------------------------------------------------------

PackedBatch shape_batch(const std::vector<int>& lens, const std::vector<int32_t>& parent) {
  PackedBatch b;
  b.cu_seqlens.push_back(0);
  for (size_t s = 0; s < lens.size(); ++s) {
    const int start = parent.empty() || parent[s] < 0 ? 0 : lens[parent[s]];
    for (int i = 0; i < lens[s]; ++i) {
      b.input_ids.push_back(1);
      b.token_type_ids.push_back(0);
      b.position_ids.push_back(start + i);
    }
    b.cu_seqlens.push_back(b.cu_seqlens.back() + lens[s]);
    b.max_seqlen = std::max(b.max_seqlen, lens[s]);
  }
  b.parent = parent;
  return b;
}

void attention_bench(int reps) {
  struct Shape {
    const char* what;
    std::vector<int> lens;
    std::vector<int32_t> parent;
    RowSel rows;
  };
  std::vector<Shape> shapes;
  shapes.push_back({"32 x 280 tokens", std::vector<int>(32, 280), {}, RowSel::kAll});
  {
    std::vector<int> lens{84};
    std::vector<int32_t> par{-1};
    for (int i = 0; i < 32; ++i) lens.push_back(196), par.push_back(0);
    shapes.push_back({"84 shared + 32 x 196 tokens", lens, par, RowSel::kAll});
  }
  shapes.push_back({"1 x 2048 tokens", {2048}, {}, RowSel::kAll});
  shapes.push_back({"1 x 8192 tokens", {8192}, {}, RowSel::kAll});
  shapes.push_back({"32 x 280, last rows", std::vector<int>(32, 280), {}, RowSel::kLast});
  AttnDesc d;
  d.heads = 16;
  d.kv_heads = 8;
  d.head_dim = 128;
  d.scale = 1.0f / std::sqrt(128.0f);
  d.causal = true;
  std::printf("attention, 16 query / 8 KV heads, head_dim 128, causal, %d threads (GFLOP/s counts QK^T + PV)\n",
              omp_get_max_threads());
  for (const Shape& s : shapes) {
    const PackedBatch b = shape_batch(s.lens, s.parent);
    const int T = b.total_tokens(), Q = selected_rows(b, s.rows);
    const int qc = d.heads * d.head_dim, kc = d.kv_heads * d.head_dim;
    std::vector<float> qkv(static_cast<size_t>(T) * (qc + 2 * kc)), qsel(static_cast<size_t>(Q) * qc),
        o1(static_cast<size_t>(Q) * qc), o2(o1.size());
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (auto& x : qkv) x = nd(rng);
    for (auto& x : qsel) x = nd(rng);
    auto act = [](float* p, int rows, int cols, int ld) {
      Act a;
      a.data = reinterpret_cast<char*>(p);
      a.rows = rows;
      a.cols = cols;
      a.ld = ld;
      return a;
    };
    const int ld = qc + 2 * kc;
    d.q_rows = s.rows;
    Act q = s.rows == RowSel::kAll ? act(qkv.data(), T, qc, ld) : act(qsel.data(), Q, qc, qc);
    Act k = act(qkv.data() + qc, T, kc, ld), v = act(qkv.data() + qc + kc, T, kc, ld);
    Act out1 = act(o1.data(), Q, qc, qc), out2 = act(o2.data(), Q, qc, qc);
    std::vector<float> scratch(cpu::attention_causal_scratch_bytes(d) / sizeof(float));
    double flops = 0;  // visible (query, key) pairs x heads x 4D
    for (int i = 0; i < b.num_seqs(); ++i) {
      const int n = b.seqlen(i), P = b.parent_of(i) >= 0 ? b.seqlen(b.parent_of(i)) : 0;
      flops += s.rows == RowSel::kAll ? double(n) * P + double(n) * (n + 1) / 2 : double(P + n);
    }
    flops *= 4.0 * d.head_dim * d.heads;
    auto timeit = [&](auto&& f, int n, bool warm) {
      if (warm) f();
      const auto t0 = Clock::now();
      const double c0 = cpu_secs();
      for (int r = 0; r < n; ++r) f();
      return std::pair<double, double>{secs(t0, Clock::now()) / n, (cpu_secs() - c0) / n / omp_get_max_threads()};
    };
    // The generic path once, without a warm-up (it takes minutes at 8192 tokens).
    const auto [gw, gc] = timeit([&] { cpu::attention_generic(d, q, k, v, out1, b); }, 1, false);
    const auto [bw, bc] = timeit([&] { cpu::attention_causal(d, q, k, v, out2, b, scratch.data()); }, reps, true);
    double diff = 0, scale = 1;
    for (size_t i = 0; i < o1.size(); ++i) {
      diff = std::max(diff, double(std::abs(o1[i] - o2[i])));
      scale = std::max(scale, double(std::abs(o1[i])));
    }
    std::printf("  %-28s generic %8.2f ms (%6.1f GFLOP/s cpu)  blocked %8.2f ms (%6.1f GFLOP/s cpu)  %5.1fx; "
                "rel diff %.1e\n",
                s.what, gw * 1e3, flops / gc / 1e9, bw * 1e3, flops / bc / 1e9, gc / bc, diff / scale);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string model = "qwen3-reranker-0.6b", dtypes = "fp32,bf16", dump;
  int docs = 100, batch = 100, reps = 3;
  bool attention = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") model = next();
    else if (a == "--dtypes") dtypes = next();
    else if (a == "--docs") docs = std::stoi(next());
    else if (a == "--batch") batch = std::stoi(next());
    else if (a == "--reps") reps = std::stoi(next());
    else if (a == "--dump-ids") dump = next();
    else if (a == "--attention") attention = true;
    else {
      std::fprintf(stderr, "usage: qwen3_bench [--model NAME] [--docs N] [--batch B] [--dtypes fp32,bf16,int8] "
                           "[--reps R] [--dump-ids FILE] [--attention]\n");
      return 2;
    }
  }
  if (attention) {
    attention_bench(reps);
    return 0;
  }
  std::vector<DType> dts;
  for (const auto& s : split(dtypes, ',')) dts.push_back(parse_dt(s));
  prefix_bench(model, dts, docs, batch, reps, dump);
  return 0;
}
