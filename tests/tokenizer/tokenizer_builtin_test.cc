// The synthetic models' tokenizers compiled into the binary (src/tokenizer/builtin_tokenizers.h)
// are the files of tests/data, byte for byte, and tokenize as the folders do; the shared
// data folder is found relative to the executable (src/util/paths.h).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crossrank/crossrank.h"
#include "tokenizer/builtin_tokenizers.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "util/paths.h"

using namespace crossrank;

namespace {
std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST(BuiltinTokenizers, AreTheTestDataFilesAndTokenizeAlike) {
  const std::string data = CROSSRANK_TEST_DATA;
  const std::pair<const char*, std::string> cases[] = {
      {"xlmr-unigram", data + "/tokenizers/xlmr-unigram"},
      {"bert-wordpiece", data + "/models/tiny-bert"},
      {"modernbert-bpe", data + "/models/tiny-modernbert-bpe"}};
  for (const auto& [name, dir] : cases) {
    const std::string_view text = builtin_tokenizer_json(name);
    ASSERT_EQ(text, read(dir + "/tokenizer.json")) << name;
    auto builtin = load_tokenizer_json_text(text, name);
    auto folder = load_tokenizer(dir);
    for (const char* s : {"what is a giant panda?", "Zürich liegt in der Schweiz; 東京は日本の首都です。", "  x  "})
      EXPECT_EQ(builtin->encode(s), folder->encode(s)) << name << ": " << s;
  }
  EXPECT_EQ(builtin_tokenizer_json("qwen3-skeleton"),
            read(data + "/tokenizers/qwen-bpe/qwen3.tokenizer-skeleton.json"));
  EXPECT_TRUE(builtin_tokenizer_json("nope").empty());
}

TEST(BuiltinTokenizers, SyntheticModelsNeedNoFiles) {
  // CROSSRANK_TOKENIZER_DIR unset: the built-in tokenizer is used.
  if (std::getenv("CROSSRANK_TOKENIZER_DIR")) GTEST_SKIP() << "CROSSRANK_TOKENIZER_DIR is set";
  for (const char* m : {"synthetic:tiny-bert", "synthetic:tiny-xlmr", "synthetic:tiny-modernbert"}) {
    auto e = Engine::open(m);
    const Pair p{"what is a panda?", "a bear from China"};
    ScoreOptions so;
    EXPECT_EQ(e->score(std::span<const Pair>(&p, 1), so).size(), 1u) << m;
  }
}

TEST(BuiltinTokenizers, SharedDataRootFollowsTheEnvironmentThenTheExecutable) {
  const char* old = std::getenv("CROSSRANK_SHARED_DIR");
  const std::string saved = old ? old : "";
  setenv("CROSSRANK_SHARED_DIR", "/some/where", 1);
  EXPECT_EQ(shared_data_root(), "/some/where");
  unsetenv("CROSSRANK_SHARED_DIR");
  // The test binary is build/tests/crossrank_tests: build/share/crossrank (links to the
  // shared folder, made by CMake) is <exe>/../share/crossrank.
  const std::string root = shared_data_root();
  EXPECT_FALSE(executable_dir().empty());
  if (!root.empty()) {
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(root) / "data")) << root;
  }
  if (old) setenv("CROSSRANK_SHARED_DIR", saved.c_str(), 1);
}
