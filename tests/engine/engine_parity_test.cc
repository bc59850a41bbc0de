// End-to-end parity with Hugging Face transformers: goldens computed by
// scripts/make_goldens.py on seeded random-weight models (tests/data/models/*, and
// tests/data/goldens/synthetic-*.json for the real shapes). Tolerance: |Δlogit| ≤ 1e-4 fp32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "crossrank/crossrank.h"
#include "test_util.h"

using namespace crossrank;
using crossrank::test::test_data;
namespace fs = std::filesystem;

namespace {

struct GoldenCase {
  bool has_text = false;
  std::string query, document;
  int max_length = 512;
  Truncation truncation = Truncation::kFlagEmbedding;
  EncodedPair enc;
  double logit = 0;
};

std::vector<GoldenCase> read_golden_jsonl(const std::string& path) {
  std::vector<GoldenCase> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    GoldenCase c;
    if (j.contains("query") && j["query"].is_string()) {
      c.has_text = true;
      c.query = j["query"];
      c.document = j["document"];
      c.max_length = j.value("max_length", 512);
      c.truncation = parse_truncation(j.value("truncation", std::string("flagembedding")));
    }
    c.enc.ids = j["ids"].get<std::vector<int32_t>>();
    if (j.contains("type_ids") && j["type_ids"].is_array()) c.enc.type_ids = j["type_ids"].get<std::vector<int32_t>>();
    c.logit = j["logit"];
    out.push_back(std::move(c));
  }
  return out;
}

class FolderParity : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

std::string model_dir(const std::string& name) { return test_data("models/" + name); }

}  // namespace

// Tokenization + template + truncation must reproduce HF ids exactly, and the forward pass
// the HF logit within 1e-4, for every golden case, on the reference and the CPU backend.
TEST_P(FolderParity, MatchesTransformers) {
  const auto& [name, backend] = GetParam();
  const std::string dir = model_dir(name);
  if (!fs::exists(dir + "/golden.jsonl")) GTEST_SKIP() << "no goldens at " << dir;
  EngineOptions eo;
  eo.deterministic = backend == "cpu-det";  // batch-invariant kernels (sgemm_det)
  eo.backend = parse_backend(eo.deterministic ? "cpu" : backend);
  auto engine = Engine::open(dir, eo);
  const auto cases = read_golden_jsonl(dir + "/golden.jsonl");
  ASSERT_GT(cases.size(), 10u);
  int text_cases = 0, id_mismatch = 0;
  double max_diff = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    if (c.has_text && (c.query.empty() || c.document.empty())) {
      // HF encodes an empty side; crossrank rejects it as bad input, by design.
      ScoreOptions so;
      so.max_length = c.max_length;
      EXPECT_THROW(engine->encode(c.query, c.document, so), Error);
    } else if (c.has_text) {
      ++text_cases;
      ScoreOptions so;
      so.max_length = c.max_length;
      so.truncation = c.truncation;
      const EncodedPair e = engine->encode(c.query, c.document, so);
      if (e.ids != c.enc.ids || (!c.enc.type_ids.empty() && e.type_ids != c.enc.type_ids)) {
        if (++id_mismatch <= 3)
          ADD_FAILURE() << "case " << i << " ids differ (max_length " << c.max_length << ", "
                        << to_string(c.truncation) << "): got " << e.ids.size() << " ids, want " << c.enc.ids.size();
      }
    }
    const EncodedPair* p = &c.enc;
    const float got = engine->forward(std::span<const EncodedPair* const>(&p, 1))[0];
    max_diff = std::max(max_diff, std::abs(got - c.logit));
    EXPECT_NEAR(got, c.logit, 2e-5) << "case " << i << " length " << c.enc.ids.size();
  }
  EXPECT_EQ(id_mismatch, 0);
  EXPECT_GT(text_cases, 0);
  std::printf("[parity] %s/%s: %zu cases, max |dlogit| = %.3g\n", name.c_str(), backend.c_str(), cases.size(), max_diff);
}

INSTANTIATE_TEST_SUITE_P(
    Goldens, FolderParity,
    ::testing::Combine(::testing::Values("tiny-xlmr", "tiny-bert", "tiny-xlmr-bf16-noprefix"),
                       ::testing::Values("ref", "cpu", "cpu-det")),
    [](const auto& info) {
      std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

// score() (tokenize, sort, pack, batch) gives the same as one pair at a time, whatever the
// batch size, and shuffling the input only permutes the output.
TEST(EngineBatching, BatchEqualsSingleAndPermutationInvariant) {
  const std::string dir = model_dir("tiny-xlmr");
  if (!fs::exists(dir + "/golden.jsonl")) GTEST_SKIP();
  auto engine = Engine::open(dir);
  auto cases = read_golden_jsonl(dir + "/golden.jsonl");
  std::vector<Pair> pairs;
  for (const auto& c : cases)
    if (c.has_text && !c.query.empty() && !c.document.empty() && c.max_length == 512 && c.truncation == Truncation::kFlagEmbedding)
      pairs.push_back({c.query, c.document});
  ASSERT_GE(pairs.size(), 8u);
  ScoreOptions one;
  one.batch_size = 1;
  const auto single = engine->score(pairs, one);
  for (int bs : {3, 8, 1000}) {
    ScoreOptions so;
    so.batch_size = bs;
    const auto batched = engine->score(pairs, so);
    for (size_t i = 0; i < pairs.size(); ++i) EXPECT_NEAR(batched[i], single[i], 1e-5) << "bs " << bs << " pair " << i;
  }
  ScoreOptions tok;
  tok.max_batch_tokens = 300;
  const auto capped = engine->score(pairs, tok);
  for (size_t i = 0; i < pairs.size(); ++i) EXPECT_NEAR(capped[i], single[i], 1e-5);
  std::vector<size_t> perm(pairs.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(7));
  std::vector<Pair> shuffled;
  for (size_t i : perm) shuffled.push_back(pairs[i]);
  const auto s2 = engine->score(shuffled, {});
  for (size_t i = 0; i < perm.size(); ++i) EXPECT_NEAR(s2[i], single[perm[i]], 1e-5);
  // normalize = sigmoid of the logit, in double.
  ScoreOptions norm;
  norm.normalize = true;
  const auto sig = engine->score(pairs, norm);
  for (size_t i = 0; i < pairs.size(); ++i) EXPECT_NEAR(sig[i], 1.0 / (1.0 + std::exp(-single[i])), 1e-6);
}

// synthetic:tiny-xlmr@1 generates the same weights the golden folder holds.
TEST(EngineSynthetic, SyntheticMatchesSavedFolder) {
  const std::string dir = model_dir("tiny-xlmr");
  if (!fs::exists(dir + "/golden.jsonl")) GTEST_SKIP();
  EngineOptions eo;
  eo.backend = BackendKind::kReference;
  auto folder = Engine::open(dir, eo);
  auto synth = Engine::open("synthetic:tiny-xlmr@1", eo);
  const auto cases = read_golden_jsonl(dir + "/golden.jsonl");
  for (size_t i = 0; i < std::min<size_t>(cases.size(), 20); ++i) {
    const EncodedPair* p = &cases[i].enc;
    std::span<const EncodedPair* const> b(&p, 1);
    EXPECT_EQ(folder->forward(b)[0], synth->forward(b)[0]);
  }
}

// Real-shape synthetic models (seed 0) against HF logits on explicit token ids. The
// reference backend covers the short cases; the CPU backend all of them.
class ShapeParity : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(ShapeParity, MatchesTransformers) {
  const auto& [name, backend] = GetParam();
  const std::string path = test_data("goldens/synthetic-" + name + ".json");
  if (!fs::exists(path)) GTEST_SKIP() << "no golden " << path;
  std::ifstream in(path);
  auto j = nlohmann::json::parse(in);
  EngineOptions eo;
  eo.backend = parse_backend(backend);
  auto engine = Engine::open("synthetic:" + name, eo);
  const size_t ref_limit = backend == "ref" ? 600 : 1u << 30;
  double max_diff = 0;
  for (const auto& c : j["cases"]) {
    EncodedPair e;
    e.ids = c["ids"].get<std::vector<int32_t>>();
    if (c.contains("type_ids")) e.type_ids = c["type_ids"].get<std::vector<int32_t>>();
    if (e.ids.size() > ref_limit) continue;
    const EncodedPair* p = &e;
    const float got = engine->forward(std::span<const EncodedPair* const>(&p, 1))[0];
    const double want = c["logit"];
    max_diff = std::max(max_diff, std::abs(got - want));
    EXPECT_NEAR(got, want, 1e-3) << name << " length " << e.ids.size();
  }
  std::printf("[parity] synthetic:%s/%s max |dlogit| = %.3g\n", name.c_str(), backend.c_str(), max_diff);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ShapeParity,
                         ::testing::Values(std::make_tuple("ms-marco-MiniLM-L-6-v2", "ref"),
                                           std::make_tuple("bge-reranker-base", "ref")),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// Model-card scores; runs only when CROSSRANK_MODEL_DIR names a real bge-reranker-v2-m3.
TEST(RealModel, ModelCardScores) {
  const char* dir = std::getenv("CROSSRANK_MODEL_DIR");
  if (!dir) GTEST_SKIP() << "set CROSSRANK_MODEL_DIR to a bge-reranker-v2-m3 folder";
  std::ifstream in(std::string(CROSSRANK_SHARED_DIR) + "/models/reference_scores.json");
  auto j = nlohmann::json::parse(in);
  auto engine = Engine::open(dir);
  for (const auto& c : j["BAAI/bge-reranker-v2-m3"]["cases"]) {
    const std::string q = c["query"], d = c["passage"];
    Pair p{q, d};
    const double s = engine->score(std::span<const Pair>(&p, 1), {})[0];
    // The card's numbers are fp16 runs: allow fp16-level differences.
    EXPECT_NEAR(s, c["score"].get<double>(), 0.02) << q << " | " << d;
  }
}
