// ModernBERT cross-encoders: config (transformers 4 and 5 keys, bad values), the HF folders
// tests/data/models/tiny-modernbert (cls pooling) and tiny-modernbert-mean (mean pooling,
// transformers 5 keys, every bias) against transformers + sentence-transformers' CrossEncoder
// (scripts/make_modernbert_goldens.py), the published gte-reranker-modernbert-base shape on
// token ids, batching, the last-layer shortcut, reduced precision and the CLI.
// Tolerance fp32: |dlogit| <= 1e-5 x max(1, |logit|).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
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
#include "model/modernbert.h"
#include "model/weights.h"
#include "test_util.h"

namespace crossrank {
namespace {

namespace fs = std::filesystem;
using test::test_data;

struct Golden {
  bool has_text = false;
  std::string query, document, source;
  int max_length = 0;
  EncodedPair enc;
  double logit = 0;
};

std::vector<Golden> read_golden(const std::string& dir) {
  std::vector<Golden> out;
  std::ifstream in(dir + "/golden.jsonl");
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
    g.source = j.value("source", "");
    g.enc.ids = j["ids"].get<std::vector<int32_t>>();
    g.enc.type_ids = j["type_ids"].get<std::vector<int32_t>>();
    g.logit = j["logit"];
    out.push_back(std::move(g));
  }
  return out;
}

std::string folder(const std::string& name) { return test_data("models/" + name); }

nlohmann::json folder_config(const std::string& name) {
  return nlohmann::json::parse(test::read_file(folder(name) + "/config.json"));
}

double tol(double logit) { return 1e-5 * std::max(1.0, std::abs(logit)); }

float forward_one(Engine& e, const EncodedPair& p) {
  const EncodedPair* ptr = &p;
  return e.forward(std::span<const EncodedPair* const>(&ptr, 1))[0];
}

// ---------------------------------------------------------------------------------------
// Config

TEST(ModernBertConfig, FoldersAndPublishedShape) {
  const ModelConfig a = parse_config(folder_config("tiny-modernbert"), "config.json");
  EXPECT_STREQ(a.family(), "modernbert");
  const ModernBertParams& pa = modernbert_params(a);
  EXPECT_EQ(pa.local, (std::vector<bool>{false, true, true, false}));
  EXPECT_EQ(pa.window, 8);
  EXPECT_FALSE(pa.mean_pool);
  EXPECT_FLOAT_EQ(pa.global_theta, 160000.f);
  EXPECT_FLOAT_EQ(pa.local_theta, 10000.f);
  EXPECT_EQ(a.max_length, 1024);
  // The mean folder is written with transformers 5 keys: layer_types, rope_parameters.
  const ModelConfig b = parse_config(folder_config("tiny-modernbert-mean"), "config.json");
  const ModernBertParams& pb = modernbert_params(b);
  EXPECT_EQ(pb.local, (std::vector<bool>{false, true, false, true, false}));
  EXPECT_EQ(pb.window, 5);
  EXPECT_TRUE(pb.mean_pool);
  EXPECT_TRUE(pb.norm_bias && pb.attention_bias && pb.mlp_bias && pb.classifier_bias);
  EXPECT_EQ(pb.classifier_act, Activation::kSilu);
  EXPECT_FLOAT_EQ(pb.global_theta, 80000.f);
  EXPECT_FLOAT_EQ(pb.local_theta, 5000.f);
  // ... and the same model in transformers 4 keys parses to the same settings.
  nlohmann::json v4 = folder_config("tiny-modernbert-mean");
  v4.erase("layer_types");
  v4.erase("rope_parameters");
  v4["global_attn_every_n_layers"] = 2;
  v4["global_rope_theta"] = 80000.0;
  v4["local_rope_theta"] = 5000.0;
  const ModelConfig c4 = parse_config(v4, "config.json");
  const ModernBertParams& p4 = modernbert_params(c4);
  EXPECT_EQ(p4.local, pb.local);
  EXPECT_FLOAT_EQ(p4.global_theta, pb.global_theta);
  EXPECT_FLOAT_EQ(p4.local_theta, pb.local_theta);
  // The published shape: its config (the golden's) and the built-in synthetic shape agree,
  // and the parameter count is HF's.
  const auto g = nlohmann::json::parse(test::read_file(test_data("goldens/synthetic-gte-reranker-modernbert-base.json")));
  const ModelConfig c = parse_config(g["config"], "config.json");
  const ModelConfig s = synthetic_config("gte-reranker-modernbert-base");
  EXPECT_EQ(c.parameters(), g["hf_parameters"].get<long long>());
  EXPECT_EQ(s.parameters(), c.parameters());
  EXPECT_EQ(modernbert_params(s).local, modernbert_params(c).local);
  EXPECT_EQ(modernbert_params(s).window, 64);
  EXPECT_TRUE(modernbert_params(s).mean_pool);
  EXPECT_EQ(s.max_length, 8192);
}

TEST(ModernBertConfig, RejectsBadValuesNamingTheField) {
  const nlohmann::json base = folder_config("tiny-modernbert");
  struct Bad {
    const char* field;
    nlohmann::json value;
    const char* message;
  };
  const std::vector<Bad> bad = {
      {"hidden_size", 30, "hidden_size"},  // not a multiple of 4 heads
      {"hidden_size", 36, "must be even"},  // head_dim 9
      {"num_hidden_layers", 0, "num_hidden_layers"},
      {"vocab_size", "2048", "vocab_size"},
      {"intermediate_size", -1, "intermediate_size"},
      {"norm_eps", 0, "norm_eps"},
      {"norm_bias", "no", "norm_bias"},
      {"attention_bias", 1, "attention_bias"},
      {"classifier_pooling", "max", "classifier_pooling"},
      {"hidden_activation", "relu", "hidden_activation"},
      {"classifier_activation", "mish", "classifier_activation"},
      {"global_attn_every_n_layers", 0, "global_attn_every_n_layers"},
      {"local_attention", 0, "local_attention"},
      {"local_attention", -2, "local_attention"},
      {"global_rope_theta", -1, "global_rope_theta"},
      {"local_rope_theta", "big", "local_rope_theta"},
      {"layer_types", nlohmann::json::array({"full_attention"}), "layer_types"},
      {"layer_types", nlohmann::json::array({"full_attention", "local", "full_attention", "full_attention"}),
       "layer_types"},
      {"rope_parameters", nlohmann::json{{"full_attention", {{"rope_type", "yarn"}, {"factor", 2}}}},
       "rope_parameters.full_attention"},
      {"rope_parameters", nlohmann::json{{"sliding_attention", {{"rope_theta", 0}}}}, "rope_theta"},
      {"rope_parameters", 5, "rope_parameters"},
      {"rope_scaling", nlohmann::json{{"rope_type", "dynamic"}}, "rope_scaling"},
      {"num_labels", 2, "num_labels"},
      {"pad_token_id", 4096, "pad_token_id"},
      {"max_position_embeddings", 1 << 24, "max_position_embeddings"},
  };
  for (const Bad& b : bad) {
    nlohmann::json j = base;
    j[b.field] = b.value;
    if (std::string(b.field) == "num_labels") j.erase("id2label");
    try {
      parse_config(j, "config.json");
      ADD_FAILURE() << b.field << " = " << b.value.dump() << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------
// HF folders

class ModernBertFolder : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

// Tokenization, template and truncation reproduce the ids of tokenizer.json (longest_first,
// as CrossEncoder), and the forward pass HF's logit, for every golden line.
TEST_P(ModernBertFolder, MatchesTransformers) {
  const auto& [name, backend] = GetParam();
  EngineOptions eo;
  eo.deterministic = backend == "cpu-det";  // batch-invariant kernels (sgemm_det)
  eo.backend = parse_backend(eo.deterministic ? "cpu" : backend);
  auto engine = Engine::open(folder(name), eo);
  const auto cases = read_golden(folder(name));
  ASSERT_GT(cases.size(), 100u);
  int text = 0, mismatch = 0, long_windowed = 0;
  double worst = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Golden& g = cases[i];
    if (g.has_text) {
      ++text;
      ScoreOptions so;
      so.max_length = g.max_length;  // the default truncation (flagembedding) must not apply
      const EncodedPair e = engine->encode(g.query, g.document, so);
      if (e.ids != g.enc.ids && ++mismatch <= 3)
        ADD_FAILURE() << "case " << i << " (" << g.source << ", max_length " << g.max_length << ") ids differ: got "
                      << e.ids.size() << ", want " << g.enc.ids.size();
    }
    long_windowed += g.enc.ids.size() > 64;
    const float got = forward_one(*engine, g.enc);
    worst = std::max(worst, std::abs(got - g.logit) / std::max(1.0, std::abs(g.logit)));
    EXPECT_NEAR(got, g.logit, tol(g.logit)) << "case " << i << " length " << g.enc.ids.size();
  }
  EXPECT_EQ(mismatch, 0);
  EXPECT_GT(text, 50);
  EXPECT_GT(long_windowed, 10);  // sequences much longer than the sliding window
  std::printf("[modernbert] %s/%s: %zu cases, max |dlogit| / max(1, |logit|) = %.3g\n", name.c_str(),
              backend.c_str(), cases.size(), worst);
}

INSTANTIATE_TEST_SUITE_P(Goldens, ModernBertFolder,
                         ::testing::Combine(::testing::Values("tiny-modernbert", "tiny-modernbert-mean"),
                                            ::testing::Values("ref", "cpu", "cpu-det")),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// score() batches (sorted, packed) equal one pair at a time, and shuffling the input only
// permutes the output.
TEST(ModernBertEngine, BatchEqualsSingleAndPermutationInvariant) {
  for (const char* name : {"tiny-modernbert", "tiny-modernbert-mean"}) {
    EngineOptions eo;
    eo.backend = BackendKind::kReference;
    auto engine = Engine::open(folder(name), eo);
    std::vector<Pair> pairs;
    const auto cases = read_golden(folder(name));
    for (const auto& g : cases)
      if (g.has_text && g.max_length == 512) pairs.push_back({g.query, g.document});
    ASSERT_GE(pairs.size(), 10u);
    ScoreOptions one;
    one.batch_size = 1;
    const auto single = engine->score(pairs, one);
    ScoreOptions all;
    all.batch_size = 1000;
    const auto batched = engine->score(pairs, all);
    for (size_t i = 0; i < pairs.size(); ++i) EXPECT_NEAR(batched[i], single[i], tol(single[i])) << name << " " << i;
    std::vector<size_t> perm(pairs.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937(3));
    std::vector<Pair> shuffled;
    for (size_t i : perm) shuffled.push_back(pairs[i]);
    const auto s2 = engine->score(shuffled, all);
    for (size_t i = 0; i < perm.size(); ++i) EXPECT_NEAR(s2[i], single[perm[i]], tol(single[i]));
  }
}

// synthetic:tiny-modernbert@1 is the cls folder's model (same shape, seed 1), and the
// last-layer shortcut changes nothing.
TEST(ModernBertEngine, SyntheticMatchesFolderAndShortcutIsExact) {
  EngineOptions eo;
  eo.backend = BackendKind::kReference;
  auto saved = Engine::open(folder("tiny-modernbert"), eo);
  auto synth = Engine::open("synthetic:tiny-modernbert@1", eo);
  const auto cases = read_golden(folder("tiny-modernbert"));
  const ModelConfig c = synthetic_config("tiny-modernbert");
  auto w = synthetic_weights(c, 1);
  RunnerOptions full;
  full.last_layer_shortcut = false;
  auto cut = make_backend(make_reference_ops(), c, w);
  auto nocut = make_backend(make_reference_ops(), c, w, full);
  std::vector<const EncodedPair*> all;
  for (size_t i = 0; i < cases.size(); i += 5) {
    EXPECT_EQ(forward_one(*saved, cases[i].enc), forward_one(*synth, cases[i].enc));
    all.push_back(&cases[i].enc);
  }
  const PackedBatch b = pack_batch(all, c);
  const auto x = cut->forward(b), y = nocut->forward(b);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], 1e-6);
}

// bf16 and int8 on the CPU against HF fp32, every third golden case, relative to the logit
// scale (the largest |logit| of the folder's goldens: 5.5 cls, 11.3 mean): bf16 <= 4e-3 x
// scale, int8 <= 1e-2 x scale (measured: bf16 1.8e-3 / 2.2e-3, int8 0.9e-3 / 5.2e-3).
TEST(ModernBertEngine, ReducedPrecision) {
  for (const char* name : {"tiny-modernbert", "tiny-modernbert-mean"}) {
    const auto cases = read_golden(folder(name));
    for (DType dt : {DType::kBf16, DType::kInt8}) {
      EngineOptions eo;
      eo.backend = BackendKind::kCpu;
      eo.dtype = dt;
      auto engine = Engine::open(folder(name), eo);
      std::vector<const EncodedPair*> all;
      std::vector<double> want;
      for (size_t i = 0; i < cases.size(); i += 3) {
        all.push_back(&cases[i].enc);
        want.push_back(cases[i].logit);
      }
      const auto got = engine->forward(all);
      double d = 0, scale = 0;
      for (const auto& g : cases) scale = std::max(scale, std::abs(g.logit));
      for (size_t i = 0; i < want.size(); ++i) d = std::max(d, std::abs(got[i] - want[i]));
      const double rel = d / scale;
      std::printf("[modernbert] %s/%s: max |dlogit| vs HF fp32 = %.3g, relative %.3g\n", name,
                  dt == DType::kBf16 ? "bf16" : "int8", d, rel);
      EXPECT_LE(rel, dt == DType::kBf16 ? 4e-3 : 1e-2) << name;
    }
  }
}

// ---------------------------------------------------------------------------------------
// The published shape (22 x 768, seed 0) on token ids; the default run takes the cases up to
// 64 tokens on the CPU, the slow one every case on both backends. `deterministic` runs the
// batch-invariant kernels, which must meet the same tolerance (their K chunks exist for it).
void published_shape(const std::vector<std::string>& backends, size_t max_len, bool deterministic = false) {
  const auto g = nlohmann::json::parse(test::read_file(test_data("goldens/synthetic-gte-reranker-modernbert-base.json")));
  for (const std::string& be : backends) {
    EngineOptions eo;
    eo.backend = parse_backend(be);
    eo.deterministic = deterministic;
    auto engine = Engine::open("synthetic:gte-reranker-modernbert-base", eo);
    double worst = 0;
    int n = 0;
    for (const auto& c : g["cases"]) {
      EncodedPair e;
      e.ids = c["ids"].get<std::vector<int32_t>>();
      if (e.ids.size() > max_len) continue;
      const double want = c["logit"];
      const float got = forward_one(*engine, e);
      worst = std::max(worst, std::abs(got - want));
      EXPECT_NEAR(got, want, tol(want)) << be << " length " << e.ids.size();
      ++n;
    }
    EXPECT_GT(n, 0);
    std::printf("[modernbert] gte-reranker-modernbert-base/%s%s: %d cases, max |dlogit| = %.3g\n", be.c_str(),
                deterministic ? " deterministic" : "", n, worst);
  }
}

TEST(ModernBertShape, PublishedShapeShort) { published_shape({"cpu"}, 64); }
TEST(ModernBertShape, PublishedShapeShortDeterministic) { published_shape({"cpu"}, 64, true); }
TEST(ModernBertShape, SlowPublishedShape) { published_shape({"cpu", "ref"}, 1u << 20); }

// ---------------------------------------------------------------------------------------
// What bench and the CLI ask of the family.

TEST(ModernBertFamily, BenchInputsAndFlops) {
  const ModelConfig c = synthetic_config("gte-reranker-modernbert-base");
  for (int len : {5, 64, 8192}) {
    const EncodedPair e = c.arch->fixed_len_pair(c, nullptr, len, 7);
    ASSERT_EQ(e.ids.size(), static_cast<size_t>(len));
    EXPECT_EQ(e.ids.front(), 50281);
    EXPECT_EQ(e.ids.back(), 50282);
    EXPECT_EQ(std::count(e.ids.begin(), e.ids.end(), 50282), 2);
  }
  EXPECT_THROW(c.arch->fixed_len_pair(c, nullptr, 8193, 7), Error);
  // Sliding-window layers make long pairs cheaper than full attention everywhere.
  const double f512 = c.arch->pair_flops(c, 512), f8k = c.arch->pair_flops(c, 8192);
  EXPECT_GT(f512, 0);
  EXPECT_LT(f8k / f512, 16.0 * 16.0);
  EXPECT_NE(c.arch->flops_formula().find("sliding-window"), std::string::npos);
}

TEST(ModernBertCli, ScoreOnTheTinyFolder) {
  const auto cases = read_golden(folder("tiny-modernbert"));
  const Golden* g = nullptr;
  for (const auto& c : cases)
    if (c.has_text && c.source == "toy" && c.max_length == 512) g = &c;
  ASSERT_NE(g, nullptr);
  const auto r = test::run_cmd(test::cli() + " score --model " + folder("tiny-modernbert") + " -q '" + g->query +
                               "' -d '" + g->document + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_NEAR(j["score"].get<double>(), g->logit, 1e-4);
  // The synthetic shapes run from the built-in tokenizer.
  const auto s = test::run_cmd(test::cli() + " score --model synthetic:tiny-modernbert -q 'what is panda?' -d hi");
  EXPECT_EQ(s.code, 0) << s.err;
}

}  // namespace
}  // namespace crossrank
