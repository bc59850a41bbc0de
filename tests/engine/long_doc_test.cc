// Long documents: LongDoc::kChunk scores every overlapping window of a passage and keeps
// the max, so a relevant sentence at the END of a ~3,000-token passage is found; with
// kTruncate it is cut off. Shown BY CONSTRUCTION on a hand-built "needle" model:
//
//   a 1-layer, 1-head, hidden-4 BERT whose logit is ~10 when one specific token (the
//   needle, "zebra") is anywhere in the sequence and exactly 0 otherwise:
//   * every word embeds as [1,-1,0,0], the needle as [1,-1,1,-1] (LayerNorm keeps dim 2
//     as the needle indicator: 0 or 1);
//   * attention: the query is constant (bias only) and the key is 60 x dim 2, so every
//     token puts weight ~1 - L*e^-30 on a needle if one exists, else spreads uniformly;
//     value and output projections are the identity;
//   * the FFN is all zeros (GELU(0) = 0), so the second LayerNorm changes nothing;
//   * pooler: tanh(10 * h_cls[2]) -> 0.9999 with a needle, 0 without; classifier x10.
// The weights are written as a real model folder (config.json + model.safetensors + the
// tiny-bert tokenizer files) and opened through Engine::open, so the whole path
// (tokenize, chunk, batch, forward, max) is exercised.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "crossrank/crossrank.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

// No `using namespace crossrank`: the fixture is named LongDoc (tests LongDoc.*), like the enum.
using crossrank::Engine;
using crossrank::Pair;
using crossrank::ScoreOptions;
using Mode = crossrank::LongDoc;
using namespace crossrank::test;
namespace fs = std::filesystem;

namespace {

constexpr int kH = 4, kI = 4, kP = 512, kT = 2;

std::string tokenizer_dir() { return test_data("models/tiny-bert"); }

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// Minimal safetensors writer: 8-byte header length, JSON header (padded to 8), F32 data.
void write_safetensors(const fs::path& path, const std::map<std::string, Tensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string blob;
  for (const auto& [name, t] : tensors) {
    const size_t begin = blob.size();
    blob.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
    header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {begin, blob.size()}}};
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::string out(8, '\0');
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  write_file(path, out + h + blob);
}

Tensor zeros(std::vector<int64_t> shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return {shape, std::vector<float>(static_cast<size_t>(n), 0.0f)};
}

Tensor filled(std::vector<int64_t> shape, float v) {
  Tensor t = zeros(std::move(shape));
  std::fill(t.data.begin(), t.data.end(), v);
  return t;
}

// Writes the needle model into `dir` (see the file comment); returns false if the
// tokenizer files are not there.
bool write_needle_model(const fs::path& dir, int vocab, int needle) {
  for (const char* f : {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
    const fs::path src = fs::path(tokenizer_dir()) / f;
    if (fs::exists(src)) fs::copy_file(src, dir / f);
  }
  if (!fs::exists(dir / "tokenizer.json") && !fs::exists(dir / "vocab.txt")) return false;
  nlohmann::json cfg = {{"architectures", {"BertForSequenceClassification"}},
                        {"model_type", "bert"},
                        {"hidden_size", kH},
                        {"intermediate_size", kI},
                        {"num_hidden_layers", 1},
                        {"num_attention_heads", 1},
                        {"max_position_embeddings", kP},
                        {"type_vocab_size", kT},
                        {"vocab_size", vocab},
                        {"pad_token_id", 0},
                        {"hidden_act", "gelu"},
                        {"layer_norm_eps", 1e-12},
                        {"id2label", {{"0", "LABEL_0"}}},
                        {"label2id", {{"LABEL_0", 0}}}};
  write_file(dir / "config.json", cfg.dump(2));

  std::map<std::string, Tensor> t;
  Tensor word = zeros({vocab, kH});
  for (int v = 0; v < vocab; ++v) {
    word.data[v * kH + 0] = 1;
    word.data[v * kH + 1] = -1;
  }
  word.data[needle * kH + 2] = 1;
  word.data[needle * kH + 3] = -1;
  t["bert.embeddings.word_embeddings.weight"] = word;
  t["bert.embeddings.position_embeddings.weight"] = zeros({kP, kH});
  t["bert.embeddings.token_type_embeddings.weight"] = zeros({kT, kH});
  t["bert.embeddings.LayerNorm.weight"] = filled({kH}, 1);
  t["bert.embeddings.LayerNorm.bias"] = zeros({kH});
  Tensor identity = zeros({kH, kH});
  for (int i = 0; i < kH; ++i) identity.data[i * kH + i] = 1;
  const std::string L = "bert.encoder.layer.0.";
  t[L + "attention.self.query.weight"] = zeros({kH, kH});
  Tensor qb = zeros({kH});
  qb.data[0] = 60;
  t[L + "attention.self.query.bias"] = qb;
  Tensor kw = zeros({kH, kH});
  kw.data[0 * kH + 2] = 1;  // k[0] = x[2]
  t[L + "attention.self.key.weight"] = kw;
  t[L + "attention.self.key.bias"] = zeros({kH});
  t[L + "attention.self.value.weight"] = identity;
  t[L + "attention.self.value.bias"] = zeros({kH});
  t[L + "attention.output.dense.weight"] = identity;
  t[L + "attention.output.dense.bias"] = zeros({kH});
  t[L + "attention.output.LayerNorm.weight"] = filled({kH}, 1);
  t[L + "attention.output.LayerNorm.bias"] = zeros({kH});
  t[L + "intermediate.dense.weight"] = zeros({kI, kH});
  t[L + "intermediate.dense.bias"] = zeros({kI});
  t[L + "output.dense.weight"] = zeros({kH, kI});
  t[L + "output.dense.bias"] = zeros({kH});
  t[L + "output.LayerNorm.weight"] = filled({kH}, 1);
  t[L + "output.LayerNorm.bias"] = zeros({kH});
  Tensor pool = zeros({kH, kH});
  pool.data[0 * kH + 2] = 10;  // pooled[0] = tanh(10 * h[2])
  t["bert.pooler.dense.weight"] = pool;
  t["bert.pooler.dense.bias"] = zeros({kH});
  Tensor cls = zeros({1, kH});
  cls.data[0] = 10;
  t["classifier.weight"] = cls;
  t["classifier.bias"] = zeros({1});
  write_safetensors(dir / "model.safetensors", t);
  return true;
}

const char* kQuery = "which animal is mentioned";
const char* kFiller = "the cat sat on the mat near the old garden wall and looked at the rain . ";
const char* kNeedle = "a zebra walked by .";

// A fixture that builds the needle model once per test.
class LongDoc : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(tokenizer_dir() + "/vocab.txt") && !fs::exists(tokenizer_dir() + "/tokenizer.json"))
      GTEST_SKIP() << "no tokenizer files in " << tokenizer_dir();
    tok_ = crossrank::load_tokenizer(tokenizer_dir());
    const auto ids = tok_->encode("zebra");
    ASSERT_EQ(ids.size(), 1u) << "'zebra' must be one token of the tiny-bert vocabulary";
    needle_ = ids[0];
    ASSERT_TRUE(write_needle_model(dir_.path, tok_->vocab_size(), needle_));
    engine_ = Engine::open(dir_.str());
  }

  // ~3,000 tokens of filler that never contain the needle, then the needle sentence.
  std::string long_passage(bool with_needle) const {
    std::string s;
    for (int i = 0; i < 180; ++i) s += kFiller;
    if (with_needle) s += kNeedle;
    return s;
  }

  double score(const std::string& doc, Mode mode) { return score_all({doc}, mode)[0]; }
  std::vector<double> score_all(const std::vector<std::string>& docs, Mode mode) {
    std::vector<Pair> pairs;
    for (const auto& d : docs) pairs.push_back({kQuery, d});
    ScoreOptions so;
    so.long_doc = mode;
    return engine_->score(pairs, so);
  }

  TempDir dir_;
  std::unique_ptr<crossrank::Tokenizer> tok_;
  int needle_ = -1;
  std::unique_ptr<Engine> engine_;
};

}  // namespace

// The construction works: on short inputs the needle gives ~10, anything else exactly ~0.
TEST_F(LongDoc, NeedleModelDetectsTheNeedleOnShortInputs) {
  const auto s = score_all({kNeedle, "a cat walked by .", std::string(kFiller) + kNeedle}, Mode::kTruncate);
  EXPECT_NEAR(s[0], 10.0, 0.01);
  EXPECT_NEAR(s[1], 0.0, 1e-4);
  EXPECT_NEAR(s[2], 10.0, 0.01);
}

TEST_F(LongDoc, NeedleAtTheEndOfA3000TokenPassageIsFoundOnlyWithChunking) {
  const std::string doc = long_passage(true);
  const auto doc_ids = tok_->encode(doc);
  ASSERT_GE(doc_ids.size(), 2800u);
  ASSERT_LE(doc_ids.size(), 3400u);
  // The needle is in the passage exactly once, within its last 10 tokens.
  ASSERT_EQ(std::count(doc_ids.begin(), doc_ids.end(), needle_), 1);
  ASSERT_EQ(std::find(doc_ids.begin(), doc_ids.end(), needle_) - doc_ids.begin() >=
                static_cast<long>(doc_ids.size()) - 10,
            true);
  const double chunk = score(doc, Mode::kChunk), trunc = score(doc, Mode::kTruncate);
  EXPECT_NEAR(chunk, 10.0, 0.01) << "chunking must find the needle in the last window";
  EXPECT_NEAR(trunc, 0.0, 1e-4) << "truncation keeps only the first ~500 tokens";
  // Without the needle both modes agree on "not relevant".
  EXPECT_NEAR(score(long_passage(false), Mode::kChunk), 0.0, 1e-4);
  EXPECT_NEAR(score(long_passage(false), Mode::kTruncate), 0.0, 1e-4);
}

// Max over windows goes to the right pair when long and short passages are mixed in one
// call (windows of different pairs share batches).
TEST_F(LongDoc, ChunkMaxBelongsToTheRightPair) {
  const auto s = score_all({long_passage(false), kNeedle, long_passage(true), "a cat walked by .",
                            kNeedle + std::string(" ") + long_passage(false)},
                           Mode::kChunk);
  ASSERT_EQ(s.size(), 5u);
  EXPECT_NEAR(s[0], 0.0, 1e-4);
  EXPECT_NEAR(s[1], 10.0, 0.01);
  EXPECT_NEAR(s[2], 10.0, 0.01);
  EXPECT_NEAR(s[3], 0.0, 1e-4);
  EXPECT_NEAR(s[4], 10.0, 0.01);  // needle at the start: first window (truncate finds it too)
  EXPECT_NEAR(score(kNeedle + std::string(" ") + long_passage(false), Mode::kTruncate), 10.0, 0.01);
}

// Small windows (max_length 64, overlap 16: ~75 windows) still find the needle; a
// max_chunks cap below the needle's window loses it.
TEST_F(LongDoc, SmallWindowsAndOverlap) {
  std::vector<Pair> pairs{{kQuery, ""}};
  const std::string doc = long_passage(true);
  pairs[0].document = doc;
  ScoreOptions so;
  so.long_doc = Mode::kChunk;
  so.max_length = 64;
  so.chunk_overlap = 16;
  EXPECT_NEAR(engine_->score(pairs, so)[0], 10.0, 0.01);
  so.long_doc = Mode::kTruncate;
  EXPECT_NEAR(engine_->score(pairs, so)[0], 0.0, 1e-4);
  // max_chunks caps the windows: the needle is past the cap, so it is not found.
  so.long_doc = Mode::kChunk;
  so.max_chunks = 4;
  EXPECT_NEAR(engine_->score(pairs, so)[0], 0.0, 1e-4);
}

// A passage that fits in one window gives exactly the same score with chunk and truncate
// (same encoding, same forward pass), on a random-weight model.
TEST_F(LongDoc, FittingPassageScoresExactlyTheSameWithChunkAndTruncate) {
  std::unique_ptr<Engine> e;
  try {
    e = Engine::open("synthetic:tiny-bert");
  } catch (const std::exception& ex) {
    GTEST_SKIP() << ex.what();
  }
  const std::vector<Pair> pairs{{"what is panda?", "hi"},
                                {"what is panda?", "The giant panda is a bear species endemic to China."},
                                {"query", "passage"}};
  ScoreOptions so;
  const auto trunc = e->score(pairs, so);
  so.long_doc = Mode::kChunk;
  const auto chunk = e->score(pairs, so);
  ASSERT_EQ(trunc.size(), chunk.size());
  for (size_t i = 0; i < trunc.size(); ++i) EXPECT_EQ(trunc[i], chunk[i]) << i;
  so.normalize = true;
  const auto chunk_norm = e->score(pairs, so);
  for (size_t i = 0; i < trunc.size(); ++i) EXPECT_DOUBLE_EQ(chunk_norm[i], 1.0 / (1.0 + std::exp(-trunc[i])));
}
