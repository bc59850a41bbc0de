// `crossrank bench` end to end through the CLI binary: JSON / Markdown / CSV / SVG
// outputs on tiny models, hidden --dump-inputs, and one-line errors for bad options.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "crossrank/crossrank.h"
#include "bench/quality_gate.h"
#include "engine/engine_internal.h"
#include "model/architecture.h"
#include "test_util.h"

namespace {

using crossrank::test::read_file;
using crossrank::test::TempDir;
using nlohmann::json;

struct RunResult {
  int rc = -1;
  std::string out, err;
};

RunResult run_cli(const std::string& args, const TempDir& tmp) {
  const std::string out = (tmp.path / "stdout.txt").string(), err = (tmp.path / "stderr.txt").string();
  const std::string cmd = std::string("'") + CROSSRANK_CLI + "' " + args + " >'" + out + "' 2>'" + err + "'";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// Skips the test when the model cannot be opened here (its tokenizer files are missing).
#define REQUIRE_MODEL(name)                                                   \
  do {                                                                        \
    try {                                                                     \
      (void)crossrank::Engine::open(name);                                    \
    } catch (const std::exception& e) {                                       \
      GTEST_SKIP() << name << " cannot be opened here: " << e.what();         \
    }                                                                         \
  } while (0)

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

// RFC 4180 fields of one CSV line (no embedded newlines in our output).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') f.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else f.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      f.emplace_back();
    } else {
      f.back() += c;
    }
  }
  EXPECT_FALSE(quoted) << line;
  return f;
}

TEST(Bench, JsonLenInputsAndPlot) {
  REQUIRE_MODEL("synthetic:tiny-bert");
  TempDir tmp;
  const std::string svg = (tmp.path / "bench.svg").string();
  const RunResult r = run_cli("bench --model synthetic:tiny-bert --batch-sizes 1,4 --inputs len:16 --repeats 2 --threads 1 --gemm-seconds 0.05 "
                              "--format json --plot '" + svg + "'",
                              tmp);
  ASSERT_EQ(r.rc, 0) << r.err;
  json j;
  ASSERT_NO_THROW(j = json::parse(r.out)) << r.out;
  EXPECT_EQ(j["model"]["name"], "synthetic:tiny-bert");
  EXPECT_EQ(j["model"]["layers"], 2);
  EXPECT_EQ(j["inputs"]["kind"], "len:16");
  ASSERT_TRUE(j["machine"].contains("cpu"));
  ASSERT_TRUE(j["machine"]["isa"].contains("avx512f"));
  ASSERT_TRUE(j["machine"]["gemm_peak"].contains("fp32"));
  ASSERT_TRUE(j["machine"]["gemm_peak"].contains("int8"));
  if (j["machine"]["gemm_peak"]["fp32"]["ok"].get<bool>()) {
    EXPECT_GT(j["machine"]["gemm_peak"]["fp32"]["gflops"].get<double>(), 0);
  }
  EXPECT_GE(j["machine"]["threads"].get<int>(), 1);
  ASSERT_TRUE(j.contains("flops_formula"));
  ASSERT_TRUE(j["results"].is_array());
  int ok = 0;
  bool fp32_1 = false, fp32_4 = false;
  for (const auto& c : j["results"]) {
    ASSERT_TRUE(c.contains("dtype") && c.contains("batch_size") && c.contains("status"));
    if (c["status"] != "ok") continue;
    ++ok;
    if (c["dtype"] == "fp32") (c["batch_size"] == 1 ? fp32_1 : fp32_4) = true;
    EXPECT_EQ(c["repeats"], 2);
    EXPECT_GT(c["pairs_per_s"].get<double>(), 0);
    EXPECT_GT(c["tokens_per_s"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(c["tokens_per_pair"].get<double>(), 16.0);
    EXPECT_GT(c["pair_ms"].get<double>(), 0);
    for (const char* k : {"mean", "p50", "p90", "min", "max"}) EXPECT_GT(c["batch_ms"][k].get<double>(), 0) << k;
    EXPECT_LE(c["batch_ms"]["p50"].get<double>(), c["batch_ms"]["p90"].get<double>());
    EXPECT_EQ(c["batch_ms"]["samples"].size(), 2u);
    EXPECT_GT(c["forward_ms"].get<double>(), 0);
    EXPECT_GT(c["peak_rss_mb"].get<double>(), 0);
    EXPECT_GT(c["gflops"].get<double>(), 0);
    EXPECT_GT(c["cpu_util"].get<double>(), 0);
  }
  EXPECT_TRUE(fp32_1 && fp32_4);
  EXPECT_GE(ok, 2);
  const json& rec = j["recommendation"];
  ASSERT_FALSE(rec["best_throughput"].is_null());
  EXPECT_GT(rec["best_throughput"]["pairs_per_s"].get<double>(), 0);
  EXPECT_TRUE(rec.contains("best_within_budget"));
  EXPECT_EQ(rec["latency_budget_ms"].get<double>(), 500);

  const std::string s = read_file(svg);
  ASSERT_EQ(s.rfind("<svg", 0), 0u) << s.substr(0, 80);
  EXPECT_NE(s.find("<polyline"), std::string::npos);
  EXPECT_NE(s.find("pairs/s"), std::string::npos);
  EXPECT_NE(s.find("latency per pair"), std::string::npos);
  EXPECT_NE(s.find("batch size"), std::string::npos);
  EXPECT_NE(s.find("</svg>"), std::string::npos);
}

TEST(Bench, MarkdownAndCsvParse) {
  REQUIRE_MODEL("synthetic:tiny-bert");
  TempDir tmp;
  const std::string base = "bench --model synthetic:tiny-bert --batch-sizes 1,2 --inputs len:12 --repeats 2 "
                           "--dtype fp32 --threads 1 --gemm-seconds 0 --format ";
  const RunResult md = run_cli(base + "md", tmp);
  ASSERT_EQ(md.rc, 0) << md.err;
  // The results table: a header, a separator and one row per batch size, same column count.
  const auto ls = lines_of(md.out);
  size_t hdr = 0;
  while (hdr < ls.size() && ls[hdr].rfind("| dtype | batch |", 0) != 0) ++hdr;
  ASSERT_LT(hdr + 3, ls.size()) << md.out;
  const auto cols = [](const std::string& l) { return std::count(l.begin(), l.end(), '|'); };
  EXPECT_EQ(cols(ls[hdr + 1]), cols(ls[hdr]));
  EXPECT_EQ(cols(ls[hdr + 2]), cols(ls[hdr]));
  EXPECT_EQ(cols(ls[hdr + 3]), cols(ls[hdr]));
  EXPECT_EQ(ls[hdr + 2].rfind("| fp32 | 1", 0), 0u) << ls[hdr + 2];
  EXPECT_NE(md.out.find("## Recommendation"), std::string::npos);
  EXPECT_NE(md.out.find("Best throughput"), std::string::npos);
  EXPECT_NE(md.out.find("GEMM peak"), std::string::npos);
  EXPECT_NE(md.out.find("4*L^2*Dq"), std::string::npos);  // FLOP formula footnote

  const RunResult csv = run_cli(base + "csv", tmp);
  ASSERT_EQ(csv.rc, 0) << csv.err;
  const auto rows = lines_of(csv.out);
  ASSERT_EQ(rows.size(), 3u) << csv.out;
  const auto header = csv_fields(rows[0]);
  int pps = -1, status = -1, rec = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "pairs_per_s") pps = static_cast<int>(i);
    if (header[i] == "status") status = static_cast<int>(i);
    if (header[i] == "recommendation") rec = static_cast<int>(i);
  }
  ASSERT_GE(pps, 0);
  ASSERT_GE(status, 0);
  ASSERT_GE(rec, 0);
  bool best = false;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto f = csv_fields(rows[r]);
    ASSERT_EQ(f.size(), header.size()) << rows[r];
    EXPECT_EQ(f[status], "ok");
    EXPECT_GT(std::stod(f[pps]), 0);
    best |= f[rec].find("best_throughput") != std::string::npos;
  }
  EXPECT_TRUE(best);
}

TEST(Bench, SeedlikeScoresTextPairs) {
  REQUIRE_MODEL("synthetic:tiny-xlmr");
  TempDir tmp;
  const RunResult r = run_cli("bench --model synthetic:tiny-xlmr --batch-sizes 2 --repeats 3 --pairs 16 --dtype fp32 --threads 1 "
                              "--gemm-seconds 0 --format json --latency-budget-ms 100000",
                              tmp);
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["inputs"]["kind"], "seedlike");
  EXPECT_NEAR(j["inputs"]["zh_share"].get<double>(), 0.7, 0.07);
  ASSERT_EQ(j["results"].size(), 1u);
  const json& c = j["results"][0];
  ASSERT_EQ(c["status"], "ok") << c.dump();
  EXPECT_EQ(c["repeats"], 3);
  EXPECT_EQ(c["forward_repeats"], 2);
  EXPECT_GT(c["tokens_per_pair"].get<double>(), 50);  // ~18 + ~120 word-equivalents
  EXPECT_GT(c["tokenize_ms"].get<double>(), 0);
  EXPECT_GE(c["tokenize_share"].get<double>(), 0);
  EXPECT_GT(c["forward_ms"].get<double>(), 0);
  EXPECT_EQ(j["recommendation"]["best_within_budget"]["batch_size"], 2);
}

TEST(Bench, DumpInputsIsDeterministicJsonl) {
  TempDir tmp;
  const std::string a = (tmp.path / "a.jsonl").string(), b = (tmp.path / "b.jsonl").string();
  ASSERT_EQ(run_cli("bench --dump-inputs '" + a + "' --pairs 10", tmp).rc, 0);
  const RunResult r = run_cli("bench --dump-inputs '" + b + "' --pairs 20", tmp);
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto la = lines_of(read_file(a)), lb = lines_of(read_file(b));
  ASSERT_EQ(la.size(), 10u);
  ASSERT_EQ(lb.size(), 20u);
  int zh = 0;
  for (size_t i = 0; i < la.size(); ++i) {
    EXPECT_EQ(la[i], lb[i]);  // pair i does not depend on how many are drawn
    const json p = json::parse(la[i]);
    ASSERT_TRUE(p["query"].is_string() && p["document"].is_string());
    EXPECT_FALSE(p["query"].get<std::string>().empty());
    EXPECT_GT(p["document"].get<std::string>().size(), p["query"].get<std::string>().size());
    zh += p["lang"] == "zh";
  }
  EXPECT_EQ(zh, 7);
}

TEST(Bench, BadOptionsFailWithOneLineMessage) {
  TempDir tmp;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--model synthetic:tiny-bert --batch-sizes 0", "--batch-sizes"},
      {"--model synthetic:tiny-bert --batch-sizes a", "--batch-sizes"},
      {"--model synthetic:tiny-bert --batch-sizes 1,,4", "--batch-sizes"},
      {"--model synthetic:tiny-bert --inputs foo", "--inputs"},
      {"--model synthetic:tiny-bert --inputs len:0", "--inputs"},
      {"--model synthetic:tiny-bert --inputs len:100000", "--inputs"},
      {"--model synthetic:no-such-model", "unknown synthetic model"},
      {"--model /nonexistent/model/dir", "not found"},
      {"--model synthetic:tiny-bert --format xml", "--format"},
      {"--model synthetic:tiny-bert --dtype fp64", "--dtype"},
      {"--batch-sizes 1", "--model"},
      // Refused before the run (they failed only at its end).
      {"--model synthetic:tiny-bert --batch-sizes 1 --output /nonexistent/dir/r.md", "no folder /nonexistent/dir"},
      {"--model synthetic:tiny-bert --batch-sizes 1 --plot /", "it is a directory"},
      {"--model synthetic:tiny-bert --max-seconds nan", "--max-seconds"},
  };
  for (const auto& [args, needle] : cases) {
    const RunResult r = run_cli("bench " + args, tmp);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_NE(r.err.find(needle), std::string::npos) << args << " -> " << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << args << " -> " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << " -> " << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
  }
}

}  // namespace

// Only configurations that passed the real-weight quality gate are recommended.
TEST(BenchQualityGate, Int8OnlyInTheGatedConfiguration) {
  using crossrank::Int8Facts;
  using crossrank::bench::quality_gate;
  const Int8Facts gated{.weight_bits = 8, .s16_activations = false, .smoothquant = true, .pooled16 = true,
                        .attention_fp32 = true};
  const auto kCpu = crossrank::BackendKind::kCpu;
  EXPECT_TRUE(quality_gate(crossrank::DType::kInt8, kCpu, gated).passed);
  auto with = [&](auto edit) {
    Int8Facts f = gated;
    edit(f);
    return quality_gate(crossrank::DType::kInt8, kCpu, f);
  };
  EXPECT_FALSE(with([](Int8Facts& f) { f.weight_bits = 7; }).passed);
  // Without VNNI: wider weights and s16 activations on igemm_s16s8 passed the gates.
  const auto s16 = with([](Int8Facts& f) { f.s16_activations = true; });
  EXPECT_TRUE(s16.passed);
  EXPECT_NE(s16.why.find("s16"), std::string::npos) << s16.why;
  EXPECT_FALSE(with([](Int8Facts& f) { f.smoothquant = false; }).passed);
  EXPECT_FALSE(with([](Int8Facts& f) { f.attention_fp32 = false; }).passed);
  EXPECT_FALSE(with([](Int8Facts& f) { f.pooled16 = false; }).passed);
  EXPECT_FALSE(quality_gate(crossrank::DType::kInt8, kCpu, Int8Facts{}).passed);  // not an int8 backend
  const auto gap = [](const char* hf_class) { return crossrank::find_architecture(hf_class)->int8_gate_gap(); };
  EXPECT_TRUE(quality_gate(crossrank::DType::kInt8, kCpu, gated, gap("XLMRobertaForSequenceClassification")).passed);
  EXPECT_FALSE(quality_gate(crossrank::DType::kInt8, kCpu, gated, gap("Qwen3ForCausalLM")).passed);
  EXPECT_TRUE(quality_gate(crossrank::DType::kFp32, kCpu, {}).passed);
  EXPECT_TRUE(quality_gate(crossrank::DType::kBf16, kCpu, {}).passed);
}

// The facts come from the engine itself: a CPU int8 engine on the synthetic MiniLM is in a
// gated configuration, on whatever ISA this CPU has.
TEST(BenchQualityGate, EngineReportsItsInt8Facts) {
  crossrank::EngineOptions eo;
  eo.backend = crossrank::BackendKind::kCpu;
  eo.dtype = crossrank::DType::kInt8;
  auto e = crossrank::Engine::open("synthetic:ms-marco-MiniLM-L-6-v2", eo);
  const crossrank::Int8Facts f = crossrank::engine_int8_facts(*e);
  EXPECT_GE(f.weight_bits, 8);
  EXPECT_TRUE(f.pooled16);
  EXPECT_TRUE(crossrank::bench::quality_gate(crossrank::DType::kInt8, crossrank::BackendKind::kCpu, f).passed)
      << e->describe();
  eo.dtype = crossrank::DType::kFp32;
  EXPECT_EQ(crossrank::engine_int8_facts(*crossrank::Engine::open("synthetic:ms-marco-MiniLM-L-6-v2", eo)).weight_bits, 0);
}
