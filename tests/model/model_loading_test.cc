// Model folder loading: config validation, safetensors validation, clear errors.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "crossrank/crossrank.h"
#include "model/config.h"
#include "model/weights.h"
#include "test_util.h"
#include "util/safetensors.h"

using namespace crossrank;
using crossrank::test::TempDir;
using crossrank::test::write_file;

namespace {

nlohmann::json tiny_config() {
  return {{"architectures", {"XLMRobertaForSequenceClassification"}},
          {"model_type", "xlm-roberta"},
          {"vocab_size", 16},
          {"hidden_size", 8},
          {"num_hidden_layers", 1},
          {"num_attention_heads", 2},
          {"intermediate_size", 16},
          {"max_position_embeddings", 20},
          {"type_vocab_size", 1},
          {"pad_token_id", 1},
          {"layer_norm_eps", 1e-5},
          {"hidden_act", "gelu"},
          {"id2label", {{"0", "LABEL_0"}}}};
}

// Builds a safetensors file from (name, shape) with F32 zeros.
std::string make_safetensors(const std::vector<std::pair<std::string, std::vector<int64_t>>>& ts) {
  nlohmann::json h = nlohmann::json::object();
  size_t off = 0;
  for (const auto& [name, shape] : ts) {
    size_t n = 1;
    for (auto d : shape) n *= d;
    h[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {off, off + 4 * n}}};
    off += 4 * n;
  }
  std::string hs = h.dump();
  while (hs.size() % 8) hs += ' ';
  std::string out(8, '\0');
  uint64_t len = hs.size();
  std::memcpy(out.data(), &len, 8);
  return out + hs + std::string(off, '\0');
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST(ModelConfig, ParsesRealConfigs) {
  auto c = load_config(std::string(CROSSRANK_SHARED_DIR) + "/models/bge-reranker-v2-m3/config.json");
  EXPECT_STREQ(c.family(), "xlm-roberta");
  EXPECT_EQ(c.layers, 24);
  EXPECT_EQ(c.hidden, 1024);
  EXPECT_EQ(c.max_length, 8192);
  auto b = load_config(std::string(CROSSRANK_SHARED_DIR) + "/models/ms-marco-MiniLM-L-6-v2/config.json");
  EXPECT_STREQ(b.family(), "bert");
  EXPECT_EQ(b.max_length, 512);
  EXPECT_EQ(b.type_vocab_size, 2);
}

TEST(ModelConfig, RejectsUnknownArchitectureAndLabels) {
  auto j = tiny_config();
  j["architectures"] = {"GPT2LMHeadModel"};
  EXPECT_NE(error_of([&] { parse_config(j, "config.json"); }).find("unsupported architecture 'GPT2LMHeadModel'"),
            std::string::npos);
  j = tiny_config();
  j["id2label"] = {{"0", "a"}, {"1", "b"}};
  EXPECT_NE(error_of([&] { parse_config(j, "config.json"); }).find("num_labels is 2"), std::string::npos);
  j = tiny_config();
  j["hidden_act"] = "relu";
  EXPECT_NE(error_of([&] { parse_config(j, "config.json"); }).find("hidden_act 'relu'"), std::string::npos);
  j = tiny_config();
  j.erase("hidden_size");
  EXPECT_NE(error_of([&] { parse_config(j, "config.json"); }).find("missing field 'hidden_size'"), std::string::npos);
  j = tiny_config();
  j["num_attention_heads"] = 3;
  EXPECT_NE(error_of([&] { parse_config(j, "config.json"); }).find("not a multiple"), std::string::npos);
}

TEST(ModelLoading, MissingFolderAndFiles) {
  EXPECT_NE(error_of([] { Engine::open("/nonexistent/model"); }).find("model folder not found"), std::string::npos);
  TempDir d;
  EXPECT_NE(error_of([&] { Engine::open(d.str()); }).find("no config.json"), std::string::npos);
  write_file(d.path / "config.json", "{not json");
  EXPECT_NE(error_of([&] { Engine::open(d.str()); }).find("not valid JSON"), std::string::npos);
  write_file(d.path / "config.json", tiny_config().dump());
  EXPECT_NE(error_of([&] { TensorStore s(d.str()); }).find("no model.safetensors"), std::string::npos);
  write_file(d.path / "pytorch_model.bin", "x");
  EXPECT_NE(error_of([&] { TensorStore s(d.str()); }).find("pytorch_model.bin"), std::string::npos);
}

TEST(Safetensors, CorruptFiles) {
  TempDir d;
  const auto p = d.path / "model.safetensors";
  write_file(p, "abc");
  EXPECT_NE(error_of([&] { SafetensorsFile f(p.string()); }).find("truncated"), std::string::npos);
  // Header length beyond the file.
  std::string s(8, '\0');
  uint64_t big = 1 << 20;
  std::memcpy(s.data(), &big, 8);
  write_file(p, s + "{}");
  EXPECT_NE(error_of([&] { SafetensorsFile f(p.string()); }).find("header length"), std::string::npos);
  // Header not JSON.
  uint64_t len = 4;
  std::memcpy(s.data(), &len, 8);
  write_file(p, s + "{{{{");
  EXPECT_NE(error_of([&] { SafetensorsFile f(p.string()); }).find("not valid JSON"), std::string::npos);
  // Offsets out of range (file truncated after the header).
  std::string good = make_safetensors({{"a", {4, 4}}});
  write_file(p, good.substr(0, good.size() - 10));
  EXPECT_NE(error_of([&] { SafetensorsFile f(p.string()); }).find("out of range"), std::string::npos);
  // Shape and byte range disagree.
  nlohmann::json h = {{"a", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 8}}}}};
  std::string hs = h.dump();
  len = hs.size();
  std::memcpy(s.data(), &len, 8);
  write_file(p, s + hs + std::string(8, '\0'));
  EXPECT_NE(error_of([&] { SafetensorsFile f(p.string()); }).find("does not match shape"), std::string::npos);
  // Unknown dtype.
  h = {{"a", {{"dtype", "Q4"}, {"shape", {2}}, {"data_offsets", {0, 8}}}}};
  hs = h.dump();
  len = hs.size();
  std::memcpy(s.data(), &len, 8);
  write_file(p, s + hs + std::string(8, '\0'));
  EXPECT_NE(error_of([&] { SafetensorsFile f(p.string()); }).find("unknown dtype 'Q4'"), std::string::npos);
}

TEST(ModelLoading, MissingTensorAndWrongShape) {
  TempDir d;
  auto c = parse_config(tiny_config(), "config.json");
  write_file(d.path / "model.safetensors", make_safetensors({{"roberta.embeddings.word_embeddings.weight", {16, 8}}}));
  EXPECT_NE(error_of([&] { load_weights(d.str(), c); }).find("missing tensor 'roberta.embeddings.position_embeddings.weight'"),
            std::string::npos);
  write_file(d.path / "model.safetensors", make_safetensors({{"roberta.embeddings.word_embeddings.weight", {16, 9}}}));
  EXPECT_NE(error_of([&] { load_weights(d.str(), c); }).find("has shape [16,9], expected [16,8]"), std::string::npos);
}

TEST(Synthetic, GeneratorIsDeterministicAndBounded) {
  std::vector<float> a(1000), b(1000);
  synthetic_fill("roberta.embeddings.word_embeddings.weight", 0, a.data(), 1000);
  synthetic_fill("roberta.embeddings.word_embeddings.weight", 0, b.data(), 1000);
  EXPECT_EQ(a, b);
  for (float v : a) EXPECT_LE(std::abs(v), 0.0346410162f);
  synthetic_fill("roberta.embeddings.LayerNorm.weight", 0, a.data(), 1000);
  for (float v : a) EXPECT_NEAR(v, 1.0f, 0.1f);
}

TEST(Engine, UnknownSyntheticNameAndBadOptions) {
  EXPECT_NE(error_of([] { Engine::open("synthetic:nope"); }).find("unknown synthetic model"), std::string::npos);
  EXPECT_NE(error_of([] { parse_dtype("fp8"); }).find("unknown dtype"), std::string::npos);
  EXPECT_NE(error_of([] { parse_truncation("middle"); }).find("unknown truncation"), std::string::npos);
}

TEST(Engine, AbsurdEngineOptionsAreAClearError) {
  auto open_with = [](auto set) {
    EngineOptions o;
    set(o);
    return error_of([&] { Engine::open("synthetic:tiny-bert", o); });
  };
  EXPECT_NE(open_with([](EngineOptions& o) { o.threads = -2; }).find("threads must be in [0, 1024]"), std::string::npos);
  EXPECT_NE(open_with([](EngineOptions& o) { o.threads = 100000; }).find("threads must be in [0, 1024]"),
            std::string::npos);  // crashed in OpenMP thread creation before
  EXPECT_NE(open_with([](EngineOptions& o) { o.memory_budget_mb = std::size_t{1} << 44; }).find("at most 16777216 MB"),
            std::string::npos);  // MB << 20 wrapped to 0 before
  EXPECT_NE(open_with([](EngineOptions& o) { o.device = -1; }).find("device must be >= 0"), std::string::npos);
}

// A model whose logit comes out NaN (here its classifier bias) is an error naming the
// pair, not a score: it used to become -inf (JSON null from `crossrank score`).
TEST(Engine, NonFiniteLogitIsAnError) {
  TempDir d;
  for (const auto& f : std::filesystem::directory_iterator(crossrank::test::test_data("models/tiny-bert")))
    std::filesystem::copy(f.path(), d.path / f.path().filename());
  std::string st = crossrank::test::read_file(d.path / "model.safetensors");
  uint64_t hlen = 0;
  std::memcpy(&hlen, st.data(), 8);
  const auto h = nlohmann::json::parse(st.substr(8, hlen));
  const std::size_t off = 8 + hlen + h.at("classifier.bias").at("data_offsets")[0].get<std::size_t>();
  const float nan = std::nanf("");
  std::memcpy(st.data() + off, &nan, 4);
  write_file(d.path / "model.safetensors", st);
  auto e = Engine::open(d.str());
  const std::vector<Pair> pairs = {{"what is a panda?", "a bear"}};
  EXPECT_NE(error_of([&] { e->score(pairs, ScoreOptions{}); }).find("pair 0: the model's logit is not finite"),
            std::string::npos);
}
