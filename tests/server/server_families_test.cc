// `crossrank serve` for the families that came after the first three (ModernBERT, the jina
// flash layout, the decoder recipes): their reference scores through a real HTTP request,
// the TEI dialect with raw scores (logits), a decoder's instruction field included. The
// engines themselves are checked against the same goldens in the family tests; this proves
// the server path (templates, options, instruction) adds nothing of its own.
#include <filesystem>
#include <fstream>

#include "server_test_util.h"
#include "test_util.h"

using namespace server_test;

namespace {

struct Case {
  std::string query, document, instruction;
  double logit = 0;
};

// Untruncated text cases of an encoder folder's golden.jsonl (the server truncates at its
// own max_length; these fit below it, so truncation cannot matter).
std::vector<Case> encoder_cases(const std::string& folder) {
  std::ifstream in(folder + "/golden.jsonl");
  std::vector<Case> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json c = json::parse(line);
    if (!c.contains("query") || c["query"].is_null() || c["query"].get<std::string>().empty() ||
        c["document"].get<std::string>().empty())
      continue;
    const std::size_t n = c["ids"].size();
    if (n >= static_cast<std::size_t>(c["max_length"].get<int>()) || n > 256) continue;
    out.push_back({c["query"], c["document"], "", c["logit"]});
  }
  return out;
}

// Untruncated text cases of a decoder golden (tests/data/goldens/decoders).
std::vector<Case> decoder_cases(const json& g) {
  std::vector<Case> out;
  for (const auto& c : g["cases"]) {
    if (c["kind"] != "text" || c["max_length"] != 8192) continue;
    out.push_back({c["query"], c["document"], c["instruction"].is_null() ? "" : c["instruction"].get<std::string>(),
                   c["logit"]});
  }
  return out;
}

void expect_served_logits(const std::string& model, const std::vector<Case>& cases, int max_length) {
  ASSERT_GE(cases.size(), 3u) << model;
  auto engine = Engine::open(model);
  ServerOptions o = test_options();
  o.max_length = max_length;
  auto s = start(*engine, o);
  auto c = s.client();
  double scale = 1, d = 0;
  bool with_instruction = false;
  for (const auto& k : cases) {
    json body = {{"query", k.query}, {"texts", {k.document, "an unrelated second text"}}, {"raw_scores", true}};
    if (!k.instruction.empty()) body["instruction"] = k.instruction, with_instruction = true;
    const json r = post_json(c, "/rerank", body, 200);
    ASSERT_TRUE(r.is_array() && r.size() == 2) << r.dump();
    for (const auto& x : r)
      if (x["index"] == 0) d = std::max(d, std::abs(x["score"].get<double>() - k.logit));
    scale = std::max(scale, std::abs(k.logit));
  }
  std::printf("    [serve %s] %zu requests, max |dlogit| vs reference %.3g (scale %.3g)%s\n", model.c_str(),
              cases.size(), d, scale, with_instruction ? ", instruction field included" : "");
  EXPECT_LE(d, 1e-5 * scale) << model;
}

json decoder_golden(const std::string& name) {
  std::ifstream in(test::test_data("goldens/decoders/" + name + ".json"));
  return json::parse(in);
}

}  // namespace

TEST(ServerFamilies, ModernBertAndJinaFoldersServeTheirGoldens) {
  for (const char* f : {"tiny-modernbert", "tiny-modernbert-mean", "tiny-jina-xlmr"}) {
    const std::string folder = test::test_data(std::string("models/") + f);
    expect_served_logits(folder, encoder_cases(folder), 512);
  }
}

TEST(ServerFamilies, DecoderRecipesServeTheirReferences) {
  const json gemma = decoder_golden("tiny-bge-reranker-v2-gemma");
  expect_served_logits(test::test_data("models/tiny-bge-reranker-v2-gemma"), decoder_cases(gemma), 8192);
  if (!std::filesystem::exists(std::string(CROSSRANK_SHARED_DIR) + "/models/qwen3-reranker/qwen.tiktoken"))
    GTEST_SKIP() << "no shared Qwen vocabulary (mxbai-rerank-v2 recipe)";
  expect_served_logits("synthetic:tiny-mxbai-rerank-v2", decoder_cases(decoder_golden("tiny-mxbai-rerank-v2")), 8192);
}
