// Qwen3 reranker family at the token-id level: config parsing, tensor table, the forward pass
// against HF transformers (Qwen3ForCausalLM on seeded synthetic weights, goldens from
// scripts/make_qwen3_goldens.py), shared prefixes, reduced precision, and the shape of the
// real 0.6B model. Tolerance: |dlogit| <= 1e-4 in fp32 (logit = logit_yes - logit_no).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "backend/cpu/cpu_ops.h"
#include "batch/packed_batch.h"
#include "model/architecture.h"
#include "model/config.h"
#include "model/qwen3.h"
#include "model/weights.h"
#include "test_util.h"

namespace crossrank {
namespace {

namespace fs = std::filesystem;

struct Case {
  EncodedPair enc;
  int group = -1;
  double logit = 0;
};

std::vector<Case> read_cases(const std::string& path) {
  const auto j = nlohmann::json::parse(test::read_file(path));
  std::vector<Case> out;
  for (const auto& c : j.at("cases")) {
    Case k;
    k.enc.ids = c.at("ids").get<std::vector<int32_t>>();
    k.enc.shared_prefix = c.value("shared_prefix", 0);
    k.group = c.value("group", -1);
    k.logit = c.at("logit").get<double>();
    out.push_back(std::move(k));
  }
  return out;
}

std::string golden_path(const std::string& model) { return test::test_data("goldens/qwen3/" + model + ".json"); }

std::unique_ptr<Ops> make_ops(const std::string& target) {
  if (target == "ref") return make_reference_ops();
  if (target == "cpu_fp32") return make_cpu_ops(DType::kFp32);
  if (target == "cpu_bf16") return make_cpu_ops(DType::kBf16);
  if (target == "cpu_int8") return make_cpu_ops(DType::kInt8);
  throw Error("unknown target " + target);
}

// Logits of `pairs` packed into one pass (shared prefixes where the pairs declare them).
std::vector<float> run(Backend& be, const ModelConfig& c, const std::vector<const EncodedPair*>& pairs) {
  return be.forward(pack_batch(pairs, c));
}

nlohmann::json shared_config(const std::string& size) {
  const std::string p = std::string(CROSSRANK_SHARED_DIR) + "/models/qwen3-reranker/config-" + size + ".json";
  if (!fs::exists(p)) return nullptr;
  return nlohmann::json::parse(test::read_file(p));
}

// ---------------------------------------------------------------------------------------
// Config and tensor table

TEST(Qwen3Config, PublishedConfigs) {
  struct Want {
    const char* size;
    int layers, hidden, heads, kv, inter;
    bool tied;
    long long params;
  };
  // Parameter counts as HF counts them (Qwen3ForCausalLM, tied head counted once).
  for (const Want& w : {Want{"0.6b", 28, 1024, 16, 8, 3072, true, 595776512LL},
                        Want{"4b", 36, 2560, 32, 8, 9728, true, 4021784576LL},
                        Want{"8b", 36, 4096, 32, 8, 12288, false, 8188548096LL}}) {
    const auto j = shared_config(w.size);
    if (j.is_null()) GTEST_SKIP() << "no shared Qwen3 configs";
    const ModelConfig c = parse_config(j, std::string("config-") + w.size + ".json");
    EXPECT_STREQ(c.family(), "qwen3");
    EXPECT_EQ(c.layers, w.layers);
    EXPECT_EQ(c.hidden, w.hidden);
    EXPECT_EQ(c.heads, w.heads);
    EXPECT_EQ(c.kv_heads, w.kv);
    EXPECT_EQ(c.head_dim, 128);
    EXPECT_EQ(c.intermediate, w.inter);
    EXPECT_EQ(c.vocab_size, 151669);
    EXPECT_EQ(c.tie_word_embeddings, w.tied);
    EXPECT_FLOAT_EQ(c.norm_eps, 1e-6f);
    EXPECT_FLOAT_EQ(c.rope_theta, 1e6f);
    EXPECT_EQ(c.max_length, 40960);
    EXPECT_EQ(c.parameters(), w.params) << w.size;
    bool has_head = false;
    for (const auto& t : c.arch->tensors(c)) has_head |= t.name == "lm_head.weight";
    EXPECT_EQ(has_head, !w.tied);
    // The built-in synthetic shape is the same model.
    const ModelConfig s = synthetic_config(std::string("qwen3-reranker-") + w.size);
    EXPECT_EQ(s.parameters(), c.parameters());
    EXPECT_EQ(s.kv_heads, c.kv_heads);
    EXPECT_EQ(s.tie_word_embeddings, c.tie_word_embeddings);
  }
}

TEST(Qwen3Config, RejectsAbsurdValuesNamingTheField) {
  nlohmann::json base = shared_config("0.6b");
  if (base.is_null()) GTEST_SKIP() << "no shared Qwen3 configs";
  struct Bad {
    const char* field;
    nlohmann::json value;
    const char* message;  // a part of the error
  };
  const std::vector<Bad> bad = {
      {"num_key_value_heads", 3, "num_key_value_heads"},
      {"num_key_value_heads", 32, "num_key_value_heads"},
      {"head_dim", 127, "head_dim"},
      {"head_dim", -1, "head_dim"},
      {"hidden_size", 0, "hidden_size"},
      {"num_hidden_layers", 100000, "num_hidden_layers"},
      {"vocab_size", 1000, "vocab_size"},
      {"vocab_size", "151669", "vocab_size"},
      {"intermediate_size", 1.5, "intermediate_size"},
      {"rms_norm_eps", 0, "rms_norm_eps"},
      {"rms_norm_eps", 5, "rms_norm_eps"},
      {"rope_theta", -1, "rope_theta"},
      {"max_position_embeddings", 1 << 24, "max_position_embeddings"},
      {"hidden_act", "gelu", "hidden_act"},
      {"attention_bias", true, "attention_bias"},
      {"use_sliding_window", true, "use_sliding_window"},
      {"tie_word_embeddings", "yes", "tie_word_embeddings"},
      {"rope_scaling", nlohmann::json{{"rope_type", "yarn"}, {"factor", 4.0}}, "rope_scaling"},
      {"rope_scaling", 3, "rope_scaling"},
  };
  for (const Bad& b : bad) {
    nlohmann::json j = base;
    j[b.field] = b.value;
    try {
      parse_config(j, "config.json");
      ADD_FAILURE() << b.field << " = " << b.value.dump() << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(b.message), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
    }
  }
  // Missing required fields are named too.
  for (const char* f : {"hidden_size", "num_attention_heads", "intermediate_size", "vocab_size"}) {
    nlohmann::json j = base;
    j.erase(f);
    try {
      parse_config(j, "config.json");
      ADD_FAILURE() << "missing " << f << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }
  // transformers 5 spelling: rope_parameters; defaults: head_dim = hidden / heads, KV = heads.
  nlohmann::json j = base;
  j.erase("rope_theta");
  j.erase("rope_scaling");
  j.erase("head_dim");
  j.erase("num_key_value_heads");
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 5e5}};
  const ModelConfig c = parse_config(j, "config.json");
  EXPECT_FLOAT_EQ(c.rope_theta, 5e5f);
  EXPECT_EQ(c.head_dim, 1024 / 16);
  EXPECT_EQ(c.kv_heads, 16);
}

// ---------------------------------------------------------------------------------------
// Forward pass against HF goldens

class Qwen3Goldens : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

// Every golden case alone, then all of them in one pass with shared prefixes: within 1e-4 of
// HF (fp32), and the batched logits within 1e-5 of the single ones.
TEST_P(Qwen3Goldens, MatchesTransformers) {
  const auto& [model, target] = GetParam();
  const auto cases = read_cases(golden_path(model));
  ASSERT_GE(cases.size(), 30u);
  const ModelConfig c = synthetic_config(model);
  auto w = synthetic_weights(c, 0);
  auto be = make_backend(make_ops(target), c, w);
  std::vector<float> single;
  double d_single = 0;
  for (const Case& k : cases) {
    const float got = run(*be, c, {&k.enc})[0];
    single.push_back(got);
    d_single = std::max(d_single, std::abs(got - k.logit));
  }
  std::vector<const EncodedPair*> all;
  for (const Case& k : cases) all.push_back(&k.enc);
  const PackedBatch b = pack_batch(all, c);
  EXPECT_TRUE(b.has_prefixes());  // the prompt groups share their prefixes
  const auto batched = be->forward(b);
  ASSERT_EQ(batched.size(), cases.size());
  double d_batch = 0, d_vs_single = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    d_batch = std::max(d_batch, std::abs(batched[i] - cases[i].logit));
    d_vs_single = std::max(d_vs_single, static_cast<double>(std::abs(batched[i] - single[i])));
  }
  std::printf("[qwen3] %s/%s: %zu cases, max |dlogit| vs HF: single %.3g, shared-prefix batch %.3g; "
              "batch vs single %.3g\n",
              model.c_str(), target.c_str(), cases.size(), d_single, d_batch, d_vs_single);
  EXPECT_LE(d_single, 1e-4);
  EXPECT_LE(d_batch, 1e-4);
  EXPECT_LE(d_vs_single, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Tiny, Qwen3Goldens,
                         ::testing::Combine(::testing::Values("tiny-qwen3", "tiny-qwen3-untied"),
                                            ::testing::Values("ref", "cpu_fp32")),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// Shared prefixes, the last-layer shortcut and the batch composition change nothing: the
// same pairs with shared_prefix = 0, without the shortcut, and in several passes.
TEST(Qwen3Model, SharedPrefixAndShortcutAreExact) {
  const std::string model = "tiny-qwen3";
  const auto cases = read_cases(golden_path(model));
  const ModelConfig c = synthetic_config(model);
  auto w = synthetic_weights(c, 0);
  for (const char* target : {"ref", "cpu_fp32"}) {
    auto be = make_backend(make_ops(target), c, w);
    RunnerOptions no_shortcut;
    no_shortcut.last_layer_shortcut = false;
    auto full = make_backend(make_ops(target), c, w, no_shortcut);
    std::vector<const EncodedPair*> shared, plain_ptrs;
    std::vector<EncodedPair> plain;
    for (const Case& k : cases) {
      if (k.group < 0) continue;
      shared.push_back(&k.enc);
      plain.push_back(k.enc);
      plain.back().shared_prefix = 0;
    }
    for (const auto& p : plain) plain_ptrs.push_back(&p);
    const PackedBatch bs = pack_batch(shared, c), bp = pack_batch(plain_ptrs, c);
    ASSERT_TRUE(bs.has_prefixes());
    ASSERT_FALSE(bp.has_prefixes());
    EXPECT_LT(bs.total_tokens(), bp.total_tokens());
    const auto a = be->forward(bs), p = be->forward(bp), f = full->forward(bs);
    ASSERT_EQ(a.size(), shared.size());
    double d = 0, df = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      d = std::max(d, static_cast<double>(std::abs(a[i] - p[i])));
      df = std::max(df, static_cast<double>(std::abs(a[i] - f[i])));
    }
    std::printf("[qwen3] %s: shared vs unshared %.3g, shortcut vs full last layer %.3g (%d vs %d tokens)\n", target,
                d, df, bs.total_tokens(), bp.total_tokens());
    EXPECT_LE(d, 1e-5);
    EXPECT_LE(df, 1e-5);
  }
}

// bf16 and int8 on the tiny goldens (the logits span only ~0.5 here, so these are tight
// absolute bounds): bf16 <= 2e-2, int8 <= 4e-2.
TEST(Qwen3Model, ReducedPrecision) {
  for (const std::string model : {"tiny-qwen3", "tiny-qwen3-untied"}) {
    const auto cases = read_cases(golden_path(model));
    const ModelConfig c = synthetic_config(model);
    auto w = synthetic_weights(c, 0);
    std::vector<const EncodedPair*> all;
    for (const Case& k : cases) all.push_back(&k.enc);
    for (const char* target : {"cpu_bf16", "cpu_int8"}) {
      auto be = make_backend(make_ops(target), c, w);
      const auto got = be->forward(pack_batch(all, c));
      double d = 0;
      for (size_t i = 0; i < cases.size(); ++i) d = std::max(d, std::abs(got[i] - cases[i].logit));
      std::printf("[qwen3] %s/%s: max |dlogit| vs HF fp32 = %.3g\n", model.c_str(), target, d);
      EXPECT_LE(d, std::string(target) == "cpu_bf16" ? 2e-2 : 4e-2);
    }
  }
}

// The exact 0.6B shape (seed 0) on a few cases incl. one of 8190 tokens; the reference
// backend and the reduced precisions take the cases up to 600 tokens.
TEST(Qwen3Model, Slow06bShape) {
  const std::string model = "qwen3-reranker-0.6b";
  const std::string path = golden_path(model);
  if (!fs::exists(path)) GTEST_SKIP() << "no golden " << path;
  const auto cases = read_cases(path);
  const ModelConfig c = synthetic_config(model);
  auto w = synthetic_weights(c, 0);
  for (const char* target : {"cpu_fp32", "ref", "cpu_bf16", "cpu_int8"}) {
    auto be = make_backend(make_ops(target), c, w);
    double d = 0;
    for (const Case& k : cases) {
      if (std::string(target) != "cpu_fp32" && k.enc.ids.size() > 600) continue;
      const float got = run(*be, c, {&k.enc})[0];
      std::printf("    [%s %s] len %5zu: HF %+.6f got %+.6f |d| %.2e\n", model.c_str(), target, k.enc.ids.size(),
                  k.logit, got, std::abs(got - k.logit));
      d = std::max(d, std::abs(got - k.logit));
    }
    std::printf("[qwen3] %s/%s: max |dlogit| = %.3g\n", model.c_str(), target, d);
    const std::string t = target;
    EXPECT_LE(d, t == "cpu_bf16" ? 5e-2 : t == "cpu_int8" ? 0.15 : 1e-4) << target;
  }
}

}  // namespace
}  // namespace crossrank
