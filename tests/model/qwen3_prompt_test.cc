// The Qwen3 reranker end to end from text: crossrank's encode() ids and scores against the
// model card's reference code (tests/data/goldens/qwen3-prompt/, scripts/make_qwen3_goldens.py:
// the card's format_instruction / process_inputs / compute_logits run verbatim with Qwen's
// BPE tokenizer on synthetic:tiny-qwen3), batching with shared prefixes through
// Engine::score, and a real Qwen3-Reranker folder when CROSSRANK_QWEN3_DIR names one.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crossrank/crossrank.h"
#include "test_util.h"

namespace crossrank {
namespace {

namespace fs = std::filesystem;

// The Qwen BPE tokenizer synthetic:*qwen3* models use: the skeleton in
// tests/data/tokenizers/qwen-bpe over the real ranks in the shared folder.
bool have_qwen_tokenizer() {
  const char* env = std::getenv("CROSSRANK_SHARED_DIR");
  const std::string shared = env && *env ? env : CROSSRANK_SHARED_DIR;
  return fs::exists(test::test_data("tokenizers/qwen-bpe/qwen3.tokenizer-skeleton.json")) &&
         fs::exists(shared + "/models/qwen3-reranker/qwen.tiktoken");
}

struct PromptCase {
  std::string instruction, query, document;
  int max_length = 0;
  std::vector<int32_t> ids;
  int shared_prefix = 0;
  double logit = 0;
};

std::vector<PromptCase> prompt_cases() {
  const auto j = nlohmann::json::parse(test::read_file(test::test_data("goldens/qwen3-prompt/tiny-qwen3.json")));
  std::vector<PromptCase> out;
  for (const auto& c : j.at("cases")) {
    PromptCase p;
    if (c.at("instruction").is_string()) p.instruction = c.at("instruction").get<std::string>();
    p.query = c.at("query");
    p.document = c.at("document");
    p.max_length = c.at("max_length");
    p.ids = c.at("ids").get<std::vector<int32_t>>();
    p.shared_prefix = c.at("shared_prefix");
    p.logit = c.at("logit");
    out.push_back(std::move(p));
  }
  return out;
}

ScoreOptions options_of(const PromptCase& c) {
  ScoreOptions o;
  o.max_length = c.max_length;
  o.instruction = c.instruction;  // "" = the default instruction (the card's None)
  return o;
}

TEST(Qwen3Prompt, MatchesTheModelCard) {
  if (!have_qwen_tokenizer()) GTEST_SKIP() << "no Qwen BPE tokenizer (qwen3.tokenizer-skeleton.json + shared qwen.tiktoken)";
  const auto cases = prompt_cases();
  ASSERT_GE(cases.size(), 20u);
  for (const char* backend : {"ref", "cpu"}) {
    EngineOptions eo;
    eo.backend = parse_backend(backend);
    auto engine = Engine::open("synthetic:tiny-qwen3", eo);
    double d = 0;
    int mismatches = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
      const PromptCase& c = cases[i];
      const EncodedPair e = engine->encode(c.query, c.document, options_of(c));
      if (e.ids != c.ids && ++mismatches <= 3)
        ADD_FAILURE() << "case " << i << " (max_length " << c.max_length << "): " << e.ids.size() << " ids, card "
                      << c.ids.size();
      EXPECT_EQ(e.shared_prefix, c.shared_prefix) << "case " << i;
      Pair p{c.query, c.document};
      const double s = engine->score(std::span<const Pair>(&p, 1), options_of(c))[0];
      d = std::max(d, std::abs(s - c.logit));
      EXPECT_NEAR(s, c.logit, 1e-4) << "case " << i;
      // normalize: P(yes) of the card's two-way softmax.
      ScoreOptions n = options_of(c);
      n.normalize = true;
      EXPECT_NEAR(engine->score(std::span<const Pair>(&p, 1), n)[0], 1.0 / (1.0 + std::exp(-c.logit)), 3e-5);
    }
    EXPECT_EQ(mismatches, 0);
    std::printf("[qwen3-prompt] %s: %zu card cases, max |dlogit| = %.3g\n", backend, cases.size(), d);
  }
}

// One query x many passages through Engine::score (sorted, packed, prefixes shared) equals
// scoring each pair alone, and a permutation only permutes the scores.
TEST(Qwen3Prompt, BatchEqualsSingleWithSharedPrefixes) {
  if (!have_qwen_tokenizer()) GTEST_SKIP() << "no Qwen BPE tokenizer (qwen3.tokenizer-skeleton.json + shared qwen.tiktoken)";
  auto engine = Engine::open("synthetic:tiny-qwen3");
  std::vector<std::string> docs;
  for (int i = 0; i < 40; ++i) {
    std::string d = "passage " + std::to_string(i) + ":";
    for (int k = 0; k < 3 + (i * 7) % 40; ++k) d += " word" + std::to_string((i * 31 + k) % 97);
    docs.push_back(d);
  }
  std::vector<Pair> pairs;
  for (const auto& d : docs) pairs.push_back({"which passage mentions word42?", d});
  pairs.push_back({"a second query", docs[3]});
  ScoreOptions one;
  one.batch_size = 1;
  const auto single = engine->score(pairs, one);
  for (int bs : {7, 1000}) {
    ScoreOptions o;
    o.batch_size = bs;
    const auto batched = engine->score(pairs, o);
    for (size_t i = 0; i < pairs.size(); ++i) EXPECT_NEAR(batched[i], single[i], 1e-5) << "bs " << bs << " pair " << i;
  }
  // Long-document windows keep the prefix too.
  ScoreOptions chunk;
  chunk.long_doc = LongDoc::kChunk;
  chunk.max_length = 120;
  chunk.chunk_overlap = 8;
  EXPECT_NO_THROW(engine->score(pairs, chunk));
}

// A real Qwen3-Reranker folder (CROSSRANK_QWEN3_DIR): the card's example ranks as the card
// shows (relevant >> irrelevant), batch == single, bf16 close to fp32.
TEST(Qwen3Prompt, RealModel) {
  const char* dir = std::getenv("CROSSRANK_QWEN3_DIR");
  if (!dir) GTEST_SKIP() << "set CROSSRANK_QWEN3_DIR to a Qwen3-Reranker folder";
  auto engine = Engine::open(dir);
  EXPECT_EQ(engine->info().family, "qwen3");
  const std::vector<Pair> pairs = {
      {"What is the capital of China?", "The capital of China is Beijing."},
      {"Explain gravity",
       "Gravity is a force that attracts two bodies towards each other. It gives weight to physical objects and is "
       "responsible for the movement of planets around the sun."},
      {"What is the capital of China?", "Gravity is a force that attracts two bodies towards each other."},
      {"Explain gravity", "The capital of China is Beijing."},
  };
  ScoreOptions o;
  o.max_length = 8192;
  o.normalize = true;
  const auto s = engine->score(pairs, o);
  for (size_t i = 0; i < s.size(); ++i) std::printf("[qwen3-real] pair %zu: P(yes) = %.4f\n", i, s[i]);
  EXPECT_GT(s[0], 0.9);
  EXPECT_GT(s[1], 0.9);
  EXPECT_LT(s[2], 0.1);
  EXPECT_LT(s[3], 0.1);
  ScoreOptions one = o;
  one.batch_size = 1;
  const auto single = engine->score(pairs, one);
  for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(s[i], single[i], 1e-5);
}

}  // namespace
}  // namespace crossrank
