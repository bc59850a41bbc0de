// jina-reranker-v2-base-multilingual: XLM-R in jinaai's "flash" layout (roberta.emb_ln,
// encoder.layers.N.mixer.Wqkv / out_proj, norm1, mlp.fc1 / fc2, norm2) read by the XLM-R
// family as data (EncoderLayout), against the model's own published modeling code run on the
// CPU (scripts/make_jina_goldens.py): the tiny folder tests/data/models/tiny-jina-xlmr and the
// published 12 x 768 shape on token ids. Tolerance fp32: |dlogit| <= 1e-5 x max(1, |logit|).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "batch/packed_batch.h"
#include "crossrank/crossrank.h"
#include "model/architecture.h"
#include "model/config.h"
#include "model/encoder.h"
#include "model/weights.h"
#include "test_util.h"

namespace crossrank {
namespace {

using test::test_data;

struct Golden {
  bool has_text = false;
  std::string query, document;
  int max_length = 0;
  EncodedPair enc;
  double logit = 0;
};

std::string folder() { return test_data("models/tiny-jina-xlmr"); }

std::vector<Golden> read_golden() {
  std::vector<Golden> out;
  std::ifstream in(folder() + "/golden.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    Golden g;
    if (j["query"].is_string()) {
      g.has_text = true;
      g.query = j["query"];
      g.document = j["document"];
      g.max_length = j["max_length"];
    }
    g.enc.ids = j["ids"].get<std::vector<int32_t>>();
    g.enc.type_ids = j["type_ids"].get<std::vector<int32_t>>();
    g.logit = j["logit"];
    out.push_back(std::move(g));
  }
  return out;
}

float forward_one(Engine& e, const EncodedPair& p) {
  const EncodedPair* ptr = &p;
  return e.forward(std::span<const EncodedPair* const>(&ptr, 1))[0];
}

double tol(double logit) { return 1e-5 * std::max(1.0, std::abs(logit)); }

// The published config (auto_map names XLMRobertaFlashConfig) selects the flash layout; the
// tensor table has the published names; a plain XLM-R config keeps the HF layout.
TEST(JinaXlmr, ConfigSelectsTheFlashLayout) {
  const auto g = nlohmann::json::parse(test::read_file(test_data("goldens/synthetic-jina-reranker-v2-base-multilingual.json")));
  const ModelConfig c = parse_config(g["config"], "config.json");
  EXPECT_STREQ(c.family(), "xlm-roberta");
  EXPECT_STREQ(encoder_layout(c).name, "flash");
  EXPECT_EQ(c.max_length, 1024);
  EXPECT_EQ(c.parameters(), g["hf_parameters"].get<long long>());
  std::vector<std::string> names;
  for (const auto& t : c.arch->tensors(c)) names.push_back(t.name);
  for (const char* n : {"roberta.emb_ln.weight", "roberta.encoder.layers.0.mixer.Wqkv.weight",
                        "roberta.encoder.layers.11.mixer.out_proj.bias", "roberta.encoder.layers.3.norm1.weight",
                        "roberta.encoder.layers.3.mlp.fc1.weight", "roberta.encoder.layers.3.mlp.fc2.bias",
                        "roberta.encoder.layers.3.norm2.bias", "classifier.dense.weight", "classifier.out_proj.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  const ModelConfig s = synthetic_config("jina-reranker-v2-base-multilingual");
  EXPECT_STREQ(encoder_layout(s).name, "flash");
  EXPECT_EQ(s.parameters(), c.parameters());
  nlohmann::json plain = g["config"];
  plain.erase("auto_map");
  EXPECT_STREQ(encoder_layout(parse_config(plain, "config.json")).name, "hf");
  EXPECT_STREQ(encoder_layout(synthetic_config("tiny-xlmr")).name, "hf");
}

class JinaFolder : public ::testing::TestWithParam<std::string> {};

// The folder's pairs tokenize as tokenizer.json with longest_first (the model's own
// compute_score), and every logit matches the published code.
TEST_P(JinaFolder, MatchesThePublishedCode) {
  EngineOptions eo;
  eo.deterministic = GetParam() == "cpu-det";
  eo.backend = parse_backend(eo.deterministic ? "cpu" : GetParam());
  auto engine = Engine::open(folder(), eo);
  const auto cases = read_golden();
  ASSERT_GT(cases.size(), 40u);
  int mismatch = 0;
  double worst = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Golden& g = cases[i];
    if (g.has_text) {
      ScoreOptions so;
      so.max_length = g.max_length;  // default truncation: the layout's longest_first applies
      if (engine->encode(g.query, g.document, so).ids != g.enc.ids && ++mismatch <= 3)
        ADD_FAILURE() << "case " << i << " ids differ (max_length " << g.max_length << ")";
    }
    const float got = forward_one(*engine, g.enc);
    worst = std::max(worst, std::abs(got - g.logit));
    EXPECT_NEAR(got, g.logit, tol(g.logit)) << "case " << i << " length " << g.enc.ids.size();
  }
  EXPECT_EQ(mismatch, 0);
  std::printf("[jina] tiny-jina-xlmr/%s: %zu cases, max |dlogit| = %.3g\n", GetParam().c_str(), cases.size(), worst);
}

INSTANTIATE_TEST_SUITE_P(Goldens, JinaFolder, ::testing::Values("ref", "cpu", "cpu-det"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// synthetic:tiny-jina-xlmr@1 is the folder's model; the last-layer shortcut (which projects
// the stacked Q|K|V for every row and keeps the first queries) changes nothing.
TEST(JinaXlmr, SyntheticMatchesFolderAndShortcutIsExact) {
  EngineOptions eo;
  eo.backend = BackendKind::kReference;
  auto saved = Engine::open(folder(), eo);
  auto synth = Engine::open("synthetic:tiny-jina-xlmr@1", eo);
  const auto cases = read_golden();
  const ModelConfig c = synthetic_config("tiny-jina-xlmr");
  auto w = synthetic_weights(c, 1);
  RunnerOptions full;
  full.last_layer_shortcut = false;
  for (const char* target : {"ref", "cpu"}) {
    auto ops = [&] { return std::string(target) == "ref" ? make_reference_ops() : make_cpu_ops(DType::kFp32); };
    auto cut = make_backend(ops(), c, w);
    auto nocut = make_backend(ops(), c, w, full);
    std::vector<const EncodedPair*> all;
    for (const auto& g : cases) all.push_back(&g.enc);
    const PackedBatch b = pack_batch(all, c);
    const auto x = cut->forward(b), y = nocut->forward(b);
    for (size_t i = 0; i < x.size(); ++i) {
      EXPECT_NEAR(x[i], y[i], 1e-6) << target << " " << i;
      EXPECT_NEAR(x[i], cases[i].logit, tol(cases[i].logit)) << target << " batched " << i;
    }
  }
  for (size_t i = 0; i < cases.size(); i += 4)
    EXPECT_EQ(forward_one(*saved, cases[i].enc), forward_one(*synth, cases[i].enc));
}

// The published shape (seed 0) on token ids: the default run takes the cases up to 64
// tokens on the CPU, the slow one every case on both backends.
void published(const std::vector<std::string>& backends, size_t max_len) {
  const auto g = nlohmann::json::parse(test::read_file(test_data("goldens/synthetic-jina-reranker-v2-base-multilingual.json")));
  for (const std::string& be : backends) {
    EngineOptions eo;
    eo.backend = parse_backend(be);
    auto engine = Engine::open("synthetic:jina-reranker-v2-base-multilingual", eo);
    double worst = 0;
    for (const auto& c : g["cases"]) {
      EncodedPair e;
      e.ids = c["ids"].get<std::vector<int32_t>>();
      if (e.ids.size() > max_len) continue;
      const double want = c["logit"];
      const float got = forward_one(*engine, e);
      worst = std::max(worst, std::abs(got - want));
      EXPECT_NEAR(got, want, tol(want)) << be << " length " << e.ids.size();
    }
    std::printf("[jina] jina-reranker-v2-base-multilingual/%s: max |dlogit| = %.3g\n", be.c_str(), worst);
  }
}

TEST(JinaXlmr, PublishedShapeShort) { published({"cpu"}, 64); }
TEST(JinaXlmr, SlowPublishedShape) { published({"cpu", "ref"}, 1u << 20); }

}  // namespace
}  // namespace crossrank
