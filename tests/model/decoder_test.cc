// Decoder rerankers as data (src/model/decoder.h, recipes.cc): every recipe against its
// reference (goldens from scripts/make_decoder_goldens.py: transformers on seeded synthetic
// weights; mxbai-rerank's MxbaiRerankV2 and the Qwen3-Reranker card's prompt code on text),
// recipe recognition by name and --reranker, and the error for an unknown *ForCausalLM.
// The qwen3-reranker recipe keeps its own tests (qwen3_*_test.cc).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "backend/ops.h"
#include "batch/packed_batch.h"
#include "crossrank/crossrank.h"
#include "model/architecture.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/weights.h"
#include "test_util.h"

namespace crossrank {
namespace {

namespace fs = std::filesystem;

nlohmann::json golden(const std::string& model) {
  return nlohmann::json::parse(test::read_file(test::test_data("goldens/decoders/" + model + ".json")));
}

bool have_qwen_vocab() { return fs::exists(std::string(CROSSRANK_SHARED_DIR) + "/models/qwen3-reranker/qwen.tiktoken"); }

std::unique_ptr<Ops> make_ops(const std::string& target) {
  if (target == "ref") return make_reference_ops();
  if (target == "cpu_fp32") return make_cpu_ops(DType::kFp32);
  if (target == "cpu_bf16") return make_cpu_ops(DType::kBf16);
  if (target == "cpu_int8") return make_cpu_ops(DType::kInt8);
  throw Error("unknown target " + target);
}

// The synthetic config of `model` with the golden's score token ids.
// A pass over one sequence.
PackedBatch one(const EncodedPair& e, const ModelConfig& c) {
  const std::vector<const EncodedPair*> v{&e};
  return pack_batch(v, c);
}

ModelConfig golden_config(const std::string& model, const nlohmann::json& g) {
  ModelConfig c = synthetic_config(model);
  if (g.contains("score_ids")) c.dec.score_tokens = g["score_ids"].get<std::vector<int32_t>>();
  return c;
}

// Tolerance vs transformers, relative to the logit scale (max |logit| over the cases, >= 1).
double tolerance(const std::string& target) {
  if (target == "ref" || target == "cpu_fp32") return 1e-5;
  // Measured (tiny shapes, logits |z| < 0.5): bf16 <= 1.5e-3, int8 <= 2.5e-3.
  if (target == "cpu_bf16") return 5e-3;
  return 1e-2;  // cpu_int8
}

class DecoderGoldens : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

// Token-id cases one by one, then all in one pass with shared prefixes (batch == single).
TEST_P(DecoderGoldens, MatchesTransformers) {
  const auto& [model, target] = GetParam();
  const auto g = golden(model);
  const ModelConfig c = golden_config(model, g);
  auto be = make_backend(make_ops(target), c, synthetic_weights(c, 0));
  std::vector<EncodedPair> enc;
  std::vector<double> want;
  double scale = 1;
  for (const auto& k : g.at("cases")) {
    if (k.at("kind") == "text") continue;
    EncodedPair e;
    e.ids = k.at("ids").get<std::vector<int32_t>>();
    e.type_ids.assign(e.ids.size(), 0);
    e.shared_prefix = k.value("shared_prefix", 0);
    enc.push_back(std::move(e));
    want.push_back(k.at("logit").get<double>());
    scale = std::max(scale, std::abs(want.back()));
  }
  ASSERT_GE(enc.size(), 10u);
  double d_single = 0, d_batch = 0, d_vs = 0;
  std::vector<float> single;
  for (size_t i = 0; i < enc.size(); ++i) {
    single.push_back(be->forward(one(enc[i], c))[0]);
    d_single = std::max(d_single, std::abs(single[i] - want[i]));
  }
  std::vector<const EncodedPair*> all;
  for (const auto& e : enc) all.push_back(&e);
  const PackedBatch b = pack_batch(all, c);
  EXPECT_TRUE(b.has_prefixes());
  const auto batched = be->forward(b);
  for (size_t i = 0; i < enc.size(); ++i) {
    d_batch = std::max(d_batch, std::abs(batched[i] - want[i]));
    d_vs = std::max(d_vs, static_cast<double>(std::abs(batched[i] - single[i])));
  }
  std::printf("[decoder] %s/%s: %zu cases, logit scale %.3g, max |dlogit| vs HF: single %.3g, batch %.3g; "
              "batch vs single %.3g\n",
              model.c_str(), target.c_str(), enc.size(), scale, d_single, d_batch, d_vs);
  const double tol = tolerance(target) * scale;
  EXPECT_LE(d_single, tol);
  EXPECT_LE(d_batch, tol);
  EXPECT_LE(d_vs, target == "ref" || target == "cpu_fp32" ? 1e-5 * scale : tol);
}

INSTANTIATE_TEST_SUITE_P(Tiny, DecoderGoldens,
                         ::testing::Combine(::testing::Values("tiny-mxbai-rerank-v2", "tiny-qwen3-seq-cls",
                                                              "tiny-bge-reranker-v2-gemma"),
                                            ::testing::Values("ref", "cpu_fp32", "cpu_bf16", "cpu_int8")),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// The published mxbai-rerank-base-v2 shape (Qwen2-0.5B: 24 x 896, 14 / 2 heads, vocab
// 151936) on a few token-id cases (scripts/make_decoder_goldens.py --large); cpu fp32 only.
TEST(DecoderGoldens, SlowMxbaiRerankBaseV2Shape) {
  const std::string path = test::test_data("goldens/decoders/mxbai-rerank-base-v2.json");
  if (!fs::exists(path)) GTEST_SKIP() << "no large golden";
  const auto g = golden("mxbai-rerank-base-v2");
  const ModelConfig c = golden_config("mxbai-rerank-base-v2", g);
  auto be = make_backend(make_ops("cpu_fp32"), c, synthetic_weights(c, 0));
  double scale = 1, d = 0;
  std::vector<EncodedPair> enc;
  for (const auto& k : g.at("cases")) {
    EncodedPair e;
    e.ids = k.at("ids").get<std::vector<int32_t>>();
    e.type_ids.assign(e.ids.size(), 0);
    const double want = k.at("logit").get<double>();
    scale = std::max(scale, std::abs(want));
    d = std::max(d, std::abs(be->forward(one(e, c))[0] - want));
  }
  std::printf("[decoder] mxbai-rerank-base-v2/cpu_fp32: %zu cases, logit scale %.3g, max |dlogit| %.3g\n",
              g.at("cases").size(), scale, d);
  EXPECT_LE(d, 1e-5 * scale);
}

// Text pairs through the engine (the recipe's prompt and truncation with the real Qwen
// vocabulary): the reference's ids exactly, its logit within 1e-5 of the scale, and the
// pairs scored together equal to one by one.
void check_text_cases(const std::string& model, const std::string& backend, const std::string& open_as = "") {
  if (open_as.empty() && !have_qwen_vocab()) GTEST_SKIP() << "no shared Qwen vocabulary";
  const auto g = golden(model);
  EngineOptions eo;
  eo.backend = parse_backend(backend);
  auto engine = Engine::open(open_as.empty() ? "synthetic:" + model : open_as, eo);
  std::vector<std::string> q, d;
  std::vector<double> want, single;
  std::vector<ScoreOptions> opts;
  double scale = 1, dl = 0;
  int n = 0;
  for (const auto& k : g.at("cases")) {
    if (k.at("kind") != "text") continue;
    ScoreOptions o;
    o.max_length = k.at("max_length").get<int>();
    if (!k.at("instruction").is_null()) o.instruction = k.at("instruction").get<std::string>();
    q.push_back(k.at("query").get<std::string>());
    d.push_back(k.at("document").get<std::string>());
    const EncodedPair e = engine->encode(q.back(), d.back(), o);
    EXPECT_EQ(e.ids, k.at("ids").get<std::vector<int32_t>>()) << model << " case " << n << " (max_length "
                                                               << o.max_length << ")";
    const Pair p{q.back(), d.back()};
    single.push_back(engine->score({&p, 1}, o)[0]);
    want.push_back(k.at("logit").get<double>());
    scale = std::max(scale, std::abs(want.back()));
    dl = std::max(dl, std::abs(single.back() - want.back()));
    opts.push_back(o);
    ++n;
  }
  ASSERT_GE(n, 8);
  EXPECT_STREQ(engine->info().family.c_str(), synthetic_config(model).family());
  // The untruncated pairs of one options set, scored together.
  std::vector<Pair> pairs;
  std::vector<size_t> idx;
  for (size_t i = 0; i < q.size(); ++i)
    if (opts[i].max_length == 8192 && opts[i].instruction.empty()) {
      pairs.push_back({q[i], d[i]});
      idx.push_back(i);
    }
  ScoreOptions o;
  o.max_length = 8192;
  const auto together = engine->score(pairs, o);
  double dv = 0;
  for (size_t i = 0; i < idx.size(); ++i) dv = std::max(dv, std::abs(together[i] - single[idx[i]]));
  std::printf("[decoder] %s text/%s: %d cases, logit scale %.3g, max |dlogit| vs reference %.3g, batch vs single %.3g\n",
              model.c_str(), backend.c_str(), n, scale, dl, dv);
  EXPECT_LE(dl, 1e-5 * scale);
  EXPECT_LE(dv, 1e-5 * scale);
}

TEST(DecoderText, MxbaiRerankV2MatchesThePackage) {
  check_text_cases("tiny-mxbai-rerank-v2", "ref");
  check_text_cases("tiny-mxbai-rerank-v2", "cpu");
}

// The Gemma recipe through a real HF folder (SentencePiece-style BPE tokenizer.json, weights
// written by transformers), recognised by its name.
TEST(DecoderText, BgeRerankerV2GemmaMatchesFlagLlmReranker) {
  const std::string folder = test::test_data("models/tiny-bge-reranker-v2-gemma");
  check_text_cases("tiny-bge-reranker-v2-gemma", "ref", folder);
  check_text_cases("tiny-bge-reranker-v2-gemma", "cpu", folder);
}

TEST(DecoderText, Qwen3SeqClsMatchesTransformers) {
  check_text_cases("tiny-qwen3-seq-cls", "ref");
  check_text_cases("tiny-qwen3-seq-cls", "cpu");
}

// ---------------------------------------------------------------------------------------
// Recognition

std::string recipe_for(const std::string& cls, const std::string& name, const std::string& reranker = "") {
  return resolve_architecture(cls, ModelHint{name, reranker}, "config.json")->recipe();
}

TEST(DecoderRecipes, RecognisedByFolderOrHubName) {
  EXPECT_EQ(recipe_for("Qwen2ForCausalLM", "/models/mxbai-rerank-base-v2"), "mxbai-rerank-v2");
  EXPECT_EQ(recipe_for("Qwen2ForCausalLM", "/models/mxbai-rerank-large-v2/"), "mxbai-rerank-v2");
  EXPECT_EQ(recipe_for("Qwen2ForCausalLM", "mixedbread-ai/mxbai-rerank-base-v2@main"), "mxbai-rerank-v2");
  EXPECT_EQ(recipe_for("Qwen2ForCausalLM", "/hf/hub/models--mixedbread-ai--mxbai-rerank-large-v2/snapshots/0123abcd"),
            "mxbai-rerank-v2");
  EXPECT_EQ(recipe_for("GemmaForCausalLM", "BAAI/bge-reranker-v2-gemma"), "bge-reranker-v2-gemma");
  EXPECT_EQ(recipe_for("Qwen3ForCausalLM", "Qwen/Qwen3-Reranker-4B"), "qwen3-reranker");
  EXPECT_EQ(recipe_for("Qwen3ForSequenceClassification", "tomaarsen/Qwen3-Reranker-0.6B-seq-cls"),
            "qwen3-reranker-seq-cls");
  EXPECT_EQ(recipe_for("Qwen2ForSequenceClassification", "/m/mxbai-rerank-base-v2-seq-cls"), "mxbai-rerank-v2-seq-cls");
  // A seq-cls model has a trained head: any name gets the class default.
  EXPECT_EQ(recipe_for("Qwen3ForSequenceClassification", "/m/my-finetune"), "qwen3-reranker-seq-cls");
  // A config parsed without a model name (API): the class's first recipe (today's behaviour).
  EXPECT_EQ(recipe_for("Qwen3ForCausalLM", ""), "qwen3-reranker");
  // Encoders are not recipes.
  EXPECT_STREQ(resolve_architecture("XLMRobertaForSequenceClassification", ModelHint{"/m/x", ""}, "c")->recipe(), "");
}

TEST(DecoderRecipes, RerankerFlagPicksExplicitly) {
  EXPECT_EQ(recipe_for("Qwen2ForCausalLM", "/models/my-copy", "mxbai-rerank-v2"), "mxbai-rerank-v2");
  EXPECT_EQ(recipe_for("Qwen2ForSequenceClassification", "/models/x", "mxbai-rerank-v2-seq-cls"),
            "mxbai-rerank-v2-seq-cls");
  // The flag wins over the name.
  EXPECT_EQ(recipe_for("Qwen3ForSequenceClassification", "/m/mxbai-rerank-base-v2", "qwen3-reranker-seq-cls"),
            "qwen3-reranker-seq-cls");
  try {
    recipe_for("Qwen2ForCausalLM", "/models/x", "bge-reranker-v2-gemma");
    ADD_FAILURE() << "a Gemma recipe was applied to Qwen2ForCausalLM";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mxbai-rerank-v2"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
  EXPECT_THROW(recipe_for("BertForSequenceClassification", "/m/x", "qwen3-reranker"), Error);
}

TEST(DecoderRecipes, UnknownCausalLmIsAnErrorListingTheRecipes) {
  for (const char* cls : {"Qwen2ForCausalLM", "GemmaForCausalLM", "Qwen3ForCausalLM"}) {
    try {
      recipe_for(cls, "/models/Qwen2.5-0.5B-Instruct");
      ADD_FAILURE() << cls << ": an arbitrary LM was accepted";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
      for (const char* r : {"qwen3-reranker", "mxbai-rerank-v2", "bge-reranker-v2-gemma", "--reranker"})
        EXPECT_NE(m.find(r), std::string::npos) << m;
    }
  }
}

// A folder is recognised by its name; a copy under another name needs --reranker; an
// unknown *ForCausalLM is refused with the list of recipes (engine and CLI).
TEST(DecoderRecipes, FolderNameRerankerFlagAndCli) {
  const fs::path src = test::test_data("models/tiny-bge-reranker-v2-gemma");
  test::TempDir tmp;
  const fs::path copy = tmp.path / "my-gemma-2b";
  fs::create_directories(copy);
  for (const auto& f : fs::directory_iterator(src)) fs::create_symlink(f.path(), copy / f.path().filename());
  EngineOptions eo;
  eo.backend = BackendKind::kCpu;
  const Pair p{"what is panda?", "The giant panda is a bear species endemic to China."};
  const double want = Engine::open(src.string(), eo)->score({&p, 1})[0];
  try {
    Engine::open(copy.string(), eo);
    ADD_FAILURE() << "an unrecognised GemmaForCausalLM folder was opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bge-reranker-v2-gemma"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--reranker"), std::string::npos) << e.what();
  }
  eo.reranker = "bge-reranker-v2-gemma";
  EXPECT_EQ(Engine::open(copy.string(), eo)->score({&p, 1})[0], want);
  eo.reranker = "mxbai-rerank-v2";
  EXPECT_THROW(Engine::open(copy.string(), eo), Error);
  // CLI score: recognised folder, --reranker on the copy, the error without it.
  const std::string pairs = (tmp.path / "pairs.jsonl").string();
  test::write_file(pairs, std::string(R"({"query": "what is panda?", "document": "The giant panda is a bear species endemic to China."})") + "\n");
  const auto a = test::run_cmd(test::cli() + " score --model " + src.string() + " --backend cpu --input " + pairs);
  const auto b = test::run_cmd(test::cli() + " score --model " + copy.string() +
                               " --backend cpu --reranker bge-reranker-v2-gemma --input " + pairs);
  const auto c = test::run_cmd(test::cli() + " score --model " + copy.string() + " --backend cpu --input " + pairs);
  EXPECT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_FALSE(a.out.empty());
  EXPECT_NE(c.code, 0);
  EXPECT_NE(c.err.find("--reranker"), std::string::npos) << c.err;
}

// ---------------------------------------------------------------------------------------
// Config dialects

TEST(DecoderConfig, DialectsAndKeyStyles) {
  // Qwen2 (mxbai-rerank-base-v2's published config, transformers 4 keys).
  nlohmann::json q2 = {{"architectures", {"Qwen2ForCausalLM"}}, {"model_type", "qwen2"}, {"hidden_size", 896},
                       {"intermediate_size", 4864}, {"num_hidden_layers", 24}, {"num_attention_heads", 14},
                       {"num_key_value_heads", 2}, {"max_position_embeddings", 32768}, {"rms_norm_eps", 1e-6},
                       {"rope_theta", 1000000.0}, {"tie_word_embeddings", true}, {"vocab_size", 151936},
                       {"hidden_act", "silu"}, {"use_sliding_window", false}, {"sliding_window", 32768}};
  ModelConfig c = parse_config(q2, "config.json", ModelHint{"/m/mxbai-rerank-base-v2", ""});
  EXPECT_STREQ(c.family(), "mxbai-rerank-v2");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_TRUE(c.dec.qkv_bias);
  EXPECT_FALSE(c.dec.qk_norm);
  EXPECT_EQ(c.dec.score_tokens, (std::vector<int32_t>{15, 16}));
  // Qwen2.5-0.5B's parameter count (tied head counted once).
  EXPECT_EQ(c.parameters(), 494032768LL);
  EXPECT_EQ(synthetic_config("mxbai-rerank-base-v2").parameters(), c.parameters());
  // transformers 5: rope_parameters.
  q2.erase("rope_theta");
  q2["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 5e5}};
  EXPECT_FLOAT_EQ(parse_config(q2, "config.json", ModelHint{"/m/mxbai-rerank-base-v2", ""}).rope_theta, 5e5f);
  q2["use_sliding_window"] = true;
  EXPECT_THROW(parse_config(q2, "config.json", ModelHint{"/m/mxbai-rerank-base-v2", ""}), Error);

  // Gemma (bge-reranker-v2-gemma = gemma-2b's shape): (1+w) norms, sqrt(H) embeddings, head_dim 256.
  nlohmann::json gm = {{"architectures", {"GemmaForCausalLM"}}, {"model_type", "gemma"}, {"hidden_size", 2048},
                       {"intermediate_size", 16384}, {"num_hidden_layers", 18}, {"num_attention_heads", 8},
                       {"num_key_value_heads", 1}, {"head_dim", 256}, {"max_position_embeddings", 8192},
                       {"rms_norm_eps", 1e-6}, {"rope_theta", 10000.0}, {"vocab_size", 256000},
                       {"hidden_act", "gelu"}, {"bos_token_id", 2}, {"pad_token_id", 0}};
  c = parse_config(gm, "config.json", ModelHint{"BAAI/bge-reranker-v2-gemma", ""});
  EXPECT_STREQ(c.family(), "bge-reranker-v2-gemma");
  EXPECT_FLOAT_EQ(c.dec.norm_offset, 1.f);
  EXPECT_TRUE(c.dec.embed_scale);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.dec.act, static_cast<std::uint8_t>(Activation::kGeluErf));  // transformers 4.57 reads hidden_act
  EXPECT_EQ(c.parameters(), 2506172416LL);  // gemma-2b
  EXPECT_EQ(synthetic_config("bge-reranker-v2-gemma").parameters(), c.parameters());
  gm["hidden_act"] = "silu";
  EXPECT_THROW(parse_config(gm, "config.json", ModelHint{"BAAI/bge-reranker-v2-gemma", ""}), Error);

  // Seq-cls: num_labels 1 only; the score head replaces the LM head.
  nlohmann::json sc = golden("tiny-qwen3-seq-cls").at("config");
  c = parse_config(sc, "config.json", ModelHint{"/m/Qwen3-Reranker-0.6B-seq-cls", ""});
  EXPECT_EQ(c.dec.num_labels, 1);
  bool score = false, lm = false;
  for (const auto& t : c.arch->tensors(c)) score |= t.name == "score.weight", lm |= t.name == "lm_head.weight";
  EXPECT_TRUE(score);
  EXPECT_FALSE(lm);
  sc["id2label"] = {{"0", "a"}, {"1", "b"}};
  sc.erase("num_labels");
  EXPECT_THROW(parse_config(sc, "config.json", ModelHint{"/m/x", ""}), Error);
}

}  // namespace
}  // namespace crossrank
