// Byte-level BPE (Qwen3) tokenizer: id-for-id parity with Hugging Face `tokenizers` on the
// data of scripts/make_bpe_tokenizer.py and scripts/make_bpe_parity.py
// (tests/data/tokenizers/qwen-bpe), every code point of the split classes and of NFC,
// the three loaders, added tokens, bad files, speed and thread safety.
// Tests that need the real Qwen vocabulary read CROSSRANK_SHARED_DIR/models/qwen3-reranker/
// qwen.tiktoken and skip without it; the full tokenizer.json is optional (local/, not committed).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crossrank/crossrank.h"
#include "test_util.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

using namespace crossrank;
using crossrank::test::read_file;
using crossrank::test::TempDir;
using crossrank::test::write_file;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kDir = std::string(CROSSRANK_TEST_DATA) + "/tokenizers/qwen-bpe";
const std::string kShared = CROSSRANK_SHARED_DIR;
const std::string kTiktoken = kShared + "/models/qwen3-reranker/qwen.tiktoken";
const std::string kSkeleton = kDir + "/qwen3.tokenizer-skeleton.json";
const std::string kFullJson = kDir + "/local/tokenizer.json";
const std::string kSmallJson = kDir + "/small/tokenizer.json";

#define SKIP_WITHOUT(path, why)                                                \
  do {                                                                         \
    if (!fs::exists(path)) GTEST_SKIP() << (path) << " is absent: " << (why); \
  } while (0)
#define NEEDS_TIKTOKEN() SKIP_WITHOUT(kTiktoken, "the real Qwen vocabulary lives in /work/shared")
#define NEEDS_FULL_JSON() SKIP_WITHOUT(kFullJson, "run scripts/make_bpe_tokenizer.py to create it")

const Tokenizer& qwen() {
  static const std::unique_ptr<Tokenizer> t = load_bpe_tiktoken(kTiktoken, kSkeleton);
  return *t;
}

const Tokenizer& small() {
  static const std::unique_ptr<Tokenizer> t = load_bpe_tokenizer_json(kSmallJson);
  return *t;
}

std::string fnv1a64_hex(const std::vector<int32_t>& ids) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (int32_t id : ids) {
    const auto u = static_cast<uint32_t>(id);
    for (int k = 0; k < 4; ++k) {
      h ^= (u >> (8 * k)) & 0xFF;
      h *= 0x100000001B3ull;
    }
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string show(const std::string& s) {
  std::string out = json(s.substr(0, 120)).dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 120 ? out + "...(" + std::to_string(s.size()) + " bytes)" : out;
}

std::string show_ids(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size() && i < 30; ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  if (ids.size() > 30) out += ",...(" + std::to_string(ids.size()) + ")";
  return out + "]";
}

// One parity record (see scripts/make_bpe_parity.py): the text and its ids, or n + fnv.
struct Case {
  std::string cat, text;
  std::vector<int32_t> ids;
  int64_t n = -1;
  std::string fnv;
  bool matches(const std::vector<int32_t>& got) const {
    return n < 0 ? got == ids : static_cast<int64_t>(got.size()) == n && fnv1a64_hex(got) == fnv;
  }
};

Case to_case(const json& r) {
  Case c;
  c.cat = r.value("cat", "");
  if (r.contains("file")) {
    const std::string all = read_file(kShared + "/data/" + r["file"].get<std::string>());
    c.text = all.substr(r["offset"].get<size_t>(), r["bytes"].get<size_t>());
  } else if (r.contains("unit")) {
    for (int64_t k = 0; k < r["count"].get<int64_t>(); ++k) c.text += r["unit"].get<std::string>();
  } else {
    c.text = r["text"].get<std::string>();
  }
  if (r.contains("ids")) {
    c.ids = r["ids"].get<std::vector<int32_t>>();
  } else {
    c.n = r["n"].get<int64_t>();
    c.fnv = r["fnv"].get<std::string>();
  }
  return c;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing " << path << " (run scripts/make_bpe_parity.py)";
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

const std::vector<Case>& parity_cases() {
  static const std::vector<Case> cases = [] {
    std::vector<Case> out;
    for (const json& r : read_jsonl(kDir + "/parity.jsonl")) out.push_back(to_case(r));
    return out;
  }();
  return cases;
}

struct ParityResult {
  size_t compared = 0, mismatches = 0;
  std::string report;
};

ParityResult run_parity(const Tokenizer& tok, const std::vector<Case>& cases, bool short_only = false) {
  ParityResult r;
  for (const Case& c : cases) {
    if (short_only && c.n >= 0) continue;
    const std::vector<int32_t> got = tok.encode(c.text);
    ++r.compared;
    if (!c.matches(got) && ++r.mismatches <= 5)
      r.report += "\n  [" + c.cat + "] " + show(c.text) + "\n    want " +
                  (c.n < 0 ? show_ids(c.ids) : "n=" + std::to_string(c.n) + " fnv=" + c.fnv) + "\n    got  " +
                  show_ids(got) + " fnv=" + fnv1a64_hex(got);
  }
  return r;
}

template <class Fn>
void expect_error(Fn&& fn, const std::string& what) {
  try {
    fn();
    ADD_FAILURE() << what << ": no exception";
  } catch (const Error& e) {
    EXPECT_GT(std::string(e.what()).size(), 0u) << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-crossrank exception: " << e.what();
  }
}

}  // namespace

TEST(BpeTokenizer, ParityTiktokenLoader) {
  NEEDS_TIKTOKEN();
  ASSERT_GE(parity_cases().size(), 10000u);
  const ParityResult r = run_parity(qwen(), parity_cases());
  std::printf("[qwen.tiktoken + skeleton] compared %zu texts, %zu mismatches\n", r.compared, r.mismatches);
  EXPECT_EQ(r.mismatches, 0u) << r.mismatches << " of " << r.compared << " texts differ:" << r.report;
}

TEST(BpeTokenizer, ParityFullTokenizerJsonAndBothLoadersAgree) {
  NEEDS_TIKTOKEN();
  NEEDS_FULL_JSON();
  const auto tok = load_bpe_tokenizer_json(kFullJson);
  const ParityResult r = run_parity(*tok, parity_cases());
  std::printf("[local/tokenizer.json] compared %zu texts, %zu mismatches\n", r.compared, r.mismatches);
  EXPECT_EQ(r.mismatches, 0u) << r.report;
  size_t differ = 0;
  for (const Case& c : parity_cases()) differ += tok->encode(c.text) != qwen().encode(c.text);
  std::printf("[tokenizer.json vs tiktoken loader] %zu texts, %zu differ\n", parity_cases().size(), differ);
  EXPECT_EQ(differ, 0u);
  EXPECT_EQ(tok->vocab_size(), qwen().vocab_size());
  for (int32_t id : {0, 9693, 151642, 151643, 151668}) EXPECT_EQ(tok->id_to_token(id), qwen().id_to_token(id));
}

TEST(BpeTokenizer, ParityFullSlowFolder) {
  // vocab.json + merges.txt (ignore_merges false, as transformers' Qwen2Tokenizer builds it):
  // make_bpe_parity.py checks that this flag changes none of the short texts' ids.
  SKIP_WITHOUT(kDir + "/local/merges.txt", "run scripts/make_bpe_tokenizer.py to create it");
  const auto tok = load_bpe_vocab_merges(kDir + "/local");
  const ParityResult r = run_parity(*tok, parity_cases(), /*short_only=*/true);
  std::printf("[local vocab.json + merges.txt] compared %zu texts, %zu mismatches\n", r.compared, r.mismatches);
  EXPECT_EQ(r.mismatches, 0u) << r.report;
}

TEST(BpeTokenizer, SmallTokenizerVariants) {
  const json base = json::parse(read_file(kSmallJson));
  const auto variants = read_jsonl(kDir + "/variants.jsonl");
  ASSERT_GE(variants.size(), 7u);
  TempDir tmp;
  for (const json& v : variants) {
    std::unique_ptr<Tokenizer> tok;
    const std::string name = v["name"].get<std::string>();
    if (v.contains("folder")) {
      tok = load_tokenizer(kDir + "/" + v["folder"].get<std::string>());  // no tokenizer.json there
    } else {
      json j = v.contains("tokenizer") ? v["tokenizer"] : base;
      const json patch = v.value("patch", json::object());
      for (auto it = patch.begin(); it != patch.end(); ++it) {
        if (it.key() == "model.merges_as_strings") {
          for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
        } else if (it.key().rfind("model.", 0) == 0) {
          j["model"][it.key().substr(6)] = it.value();
        } else {
          j[it.key()] = it.value();
        }
      }
      write_file(tmp.path / (name + ".json"), j.dump());
      tok = load_bpe_tokenizer_json((tmp.path / (name + ".json")).string());
    }
    std::vector<Case> cases;
    for (const json& c : v["cases"]) cases.push_back(to_case(c));
    const ParityResult r = run_parity(*tok, cases);
    std::printf("[variant %s] compared %zu texts, %zu mismatches\n", name.c_str(), r.compared, r.mismatches);
    EXPECT_EQ(r.mismatches, 0u) << "variant " << name << ":" << r.report;
  }
}

TEST(BpeTokenizer, LoadTokenizerPicksBpe) {
  const auto from_json = load_tokenizer(kDir + "/small");
  const auto from_slow = load_tokenizer(kDir + "/small-slow");
  const std::string text = "<|im_start|>user\nHello, world! 你好 don't  stop\r\n<|im_end|>";
  EXPECT_EQ(from_json->encode(text), small().encode(text));
  EXPECT_EQ(from_slow->encode(text), small().encode(text));
  for (const Tokenizer* t : std::vector<const Tokenizer*>{from_json.get(), from_slow.get(), &small()}) {
    EXPECT_EQ(t->vocab_size(), 6026);
    EXPECT_EQ(t->special().pad, 6000);  // <|endoftext|>
    EXPECT_EQ(t->special().cls, -1);
    EXPECT_EQ(t->special().unk, -1);
  }
  // A folder with both files prefers tokenizer.json; a folder with neither is an error.
  TempDir tmp;
  fs::copy(kDir + "/small-slow", tmp.path, fs::copy_options::recursive);
  fs::copy_file(kSmallJson, tmp.path / "tokenizer.json");
  EXPECT_EQ(load_tokenizer(tmp.str())->encode(text), small().encode(text));
  TempDir empty;
  expect_error([&] { load_tokenizer(empty.str()); }, "empty folder");
}

TEST(BpeTokenizer, AddedTokensInsideText) {
  EXPECT_EQ(small().encode("<|im_start|>user\nhi<|im_end|>"), (std::vector<int32_t>{6001, 872, 198, 71, 72, 6002}));
  EXPECT_EQ(small().encode("a<think>b"), (std::vector<int32_t>{64, 6024, 65}));
  NEEDS_TIKTOKEN();
  const Tokenizer& t = qwen();
  EXPECT_EQ(t.encode("<|im_start|>user\nhi<|im_end|>"), (std::vector<int32_t>{151644, 872, 198, 6023, 151645}));
  // The Qwen3-Reranker prompt suffix.
  EXPECT_EQ(t.encode("<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"),
            (std::vector<int32_t>{151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271}));
  // Every added token alone and glued to text; partial tokens are plain text.
  for (int32_t id = 151643; id <= 151668; ++id) {
    const std::string content = t.id_to_token(id);
    EXPECT_EQ(t.encode(content), std::vector<int32_t>{id}) << content;
    const auto glued = t.encode("x" + content + "y");
    ASSERT_EQ(glued.size(), 3u) << content;
    EXPECT_EQ(glued[1], id);
  }
  const auto partial = t.encode("<|im_start|");
  EXPECT_TRUE(std::find(partial.begin(), partial.end(), 151644) == partial.end());
}

TEST(BpeTokenizer, EmptyAndInvalidUtf8) {
  EXPECT_TRUE(small().encode("").empty());
  const std::vector<std::string> bad = {"\xFF", "abc\xC3", "\xED\xA0\x80", "\xC0\xAF", "\xF4\x90\x80\x80",
                                        "ok \x80 no", std::string("a\0\xFE", 3), "<|im_start|>\xE4\xB8"};
  for (const auto& s : bad) expect_error([&] { small().encode(s); }, "invalid UTF-8 " + show(s));
  EXPECT_EQ(small().encode(std::string("a\0b", 3)).size(), 3u);  // NUL is a byte like any other
  NEEDS_TIKTOKEN();
  EXPECT_TRUE(qwen().encode("").empty());
  for (const auto& s : bad) expect_error([&] { qwen().encode(s); }, "invalid UTF-8 " + show(s));
}

TEST(BpeTokenizer, TokenToId) {
  EXPECT_EQ(small().token_to_id("<|im_start|>"), 6001);
  EXPECT_EQ(small().token_to_id("no"), 2152);
  EXPECT_EQ(small().token_to_id("yes"), -1);  // rank 9693: outside the reduced vocabulary
  NEEDS_TIKTOKEN();
  const Tokenizer& t = qwen();
  // The ids Qwen3-Reranker scores with (P("yes") over {"no", "yes"}), and the chat tokens.
  EXPECT_EQ(t.token_to_id("yes"), 9693);
  EXPECT_EQ(t.token_to_id("no"), 2152);
  EXPECT_EQ(t.token_to_id("\xC4\xA0yes"), 9834);  // "Ġyes"
  EXPECT_EQ(t.token_to_id("<|endoftext|>"), 151643);
  EXPECT_EQ(t.token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(t.token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(t.token_to_id("</think>"), 151668);
  EXPECT_EQ(t.token_to_id("not-a-single-token"), -1);
  EXPECT_EQ(t.token_to_id(""), -1);
  EXPECT_EQ(t.id_to_token(9693), "yes");
  EXPECT_EQ(t.id_to_token(151644), "<|im_start|>");
  EXPECT_EQ(t.id_to_token(151669), "");
  EXPECT_EQ(t.vocab_size(), 151669);
  EXPECT_EQ(t.special().pad, 151643);
  EXPECT_EQ(t.encode("yes"), std::vector<int32_t>{9693});
  EXPECT_EQ(t.encode("no"), std::vector<int32_t>{2152});
}

TEST(BpeTokenizer, TokenToIdOtherModels) {
  const auto xlmr = load_tokenizer(std::string(CROSSRANK_TEST_DATA) + "/tokenizers/xlmr-unigram");
  EXPECT_EQ(xlmr->token_to_id("<mask>"), 8001);
  EXPECT_EQ(xlmr->token_to_id("<s>"), 0);
  EXPECT_EQ(xlmr->token_to_id(xlmr->id_to_token(1234)), 1234);
  EXPECT_EQ(xlmr->token_to_id("no such piece"), -1);
  const std::string bert = kShared + "/models/ms-marco-MiniLM-L-6-v2";
  SKIP_WITHOUT(bert, "the WordPiece model folder lives in /work/shared");
  const auto wp = load_tokenizer(bert);
  EXPECT_EQ(wp->token_to_id("[CLS]"), 101);
  EXPECT_EQ(wp->token_to_id("the"), 1996);
  EXPECT_EQ(wp->token_to_id("##ing"), 2075);
  EXPECT_EQ(wp->token_to_id("no such piece"), -1);
}

TEST(BpeTokenizer, SplitWordsMatchHfExamples) {
  auto split = [](std::string_view s, SplitPattern p) {
    std::vector<WordSpan> spans;
    split_words(s, p, spans);
    std::vector<std::string> out;
    for (const WordSpan& w : spans) out.emplace_back(s.substr(w.begin, w.end - w.begin));
    return out;
  };
  using V = std::vector<std::string>;
  const SplitPattern q = SplitPattern::kQwen2;
  // Outputs of HF's Split(Qwen2 regex, Isolated).pre_tokenize_str.
  EXPECT_EQ(split("x  \n  y", q), (V{"x", "  \n", " ", " y"}));
  EXPECT_EQ(split("a \t\n\r\n b", q), (V{"a", " \t\n\r\n", " b"}));
  EXPECT_EQ(split(" 12 ", q), (V{" ", "1", "2", " "}));
  EXPECT_EQ(split("$$ab", q), (V{"$$", "ab"}));
  EXPECT_EQ(split("'st", q), (V{"'s", "t"}));
  EXPECT_EQ(split("I'M", q), (V{"I", "'M"}));
  EXPECT_EQ(split("'\xC5\xBFt", q), (V{"'\xC5\xBF", "t"}));  // 'ſ folds to 's
  EXPECT_EQ(split("'Re'VE", q), (V{"'Re", "'VE"}));
  EXPECT_EQ(split("\xE3\x80\x80\xE3\x80\x80" "a", q), (V{"\xE3\x80\x80", "\xE3\x80\x80" "a"}));
  EXPECT_EQ(split("e\xCC\x81", q), (V{"e", "\xCC\x81"}));
  EXPECT_EQ(split("1234", SplitPattern::kQwen2Digits3), (V{"123", "4"}));
  EXPECT_EQ(split("Hello  world's 42!\n", SplitPattern::kGpt2), (V{"Hello", " ", " world", "'s", " 42", "!", "\n"}));
  EXPECT_EQ(split("'S x", SplitPattern::kGpt2), (V{"'", "S", " x"}));
}

TEST(BpeTokenizer, UnicodeTablesMatchHfForAllCodePoints) {
  const json u = json::parse(read_file(kDir + "/unicode.json"));
  // Split regex classes, run-length encoded.
  const auto& runs = u["classes"];
  size_t bad = 0;
  std::string first_bad;
  for (size_t r = 0; r < runs.size(); ++r) {
    const char32_t lo = runs[r][0].get<uint32_t>();
    const char32_t hi = r + 1 < runs.size() ? runs[r + 1][0].get<uint32_t>() : 0x110000;
    const char want = runs[r][1].get<std::string>()[0];
    for (char32_t c = lo; c < hi; ++c) {
      if (c >= 0xD800 && c <= 0xDFFF) continue;
      const RegexClass k = regex_class(c);
      const char got = k == RegexClass::kLetter ? 'L' : k == RegexClass::kNumber ? 'N' : k == RegexClass::kSpace ? 'S' : 'O';
      if (got != want && bad++ == 0) first_bad = std::to_string(c) + " want " + want + " got " + got;
    }
  }
  EXPECT_EQ(bad, 0u) << "code points with another regex class than HF, first: " << first_bad;
  // NFC of the probes of every code point, hashed per block of 4096.
  const auto& blocks = u["nfc_blocks"];
  ASSERT_EQ(blocks.size(), 272u);
  std::vector<std::string> bad_blocks;
  for (char32_t b = 0; b < 272; ++b) {
    uint64_t h = 0xCBF29CE484222325ull;
    auto feed = [&](const std::u32string& probe) {
      std::string in, out;
      for (char32_t c : probe) unicode::append_utf8(in, c);
      unicode::nfc_append(in, out);
      out.push_back('\xFF');
      for (unsigned char ch : out) h = (h ^ ch) * 0x100000001B3ull;
    };
    for (char32_t c = b * 4096; c < (b + 1) * 4096; ++c) {
      if (c >= 0xD800 && c <= 0xDFFF) continue;
      std::u32string nfd;
      unicode::append_canonical_decomposition(c, nfd);
      unicode::canonical_order(nfd);
      for (const std::u32string& p : {std::u32string{c}, std::u32string{U'A', c}, std::u32string{c, 0x301},
                                      std::u32string{0x1100, c}, std::u32string{c, 0x323, 0x302}, nfd})
        feed(p);
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    if (blocks[std::to_string(b)].get<std::string>() != hex) bad_blocks.push_back(std::to_string(b * 4096));
  }
  EXPECT_TRUE(bad_blocks.empty()) << bad_blocks.size() << " blocks differ from HF NFC, first at U+"
                                  << (bad_blocks.empty() ? "" : bad_blocks[0]);
}

TEST(BpeTokenizer, BadFilesThrowError) {
  TempDir tmp;
  const json base = json::parse(read_file(kSmallJson));
  const std::string p = tmp.str() + "/tokenizer.json";
  auto with = [&](const std::function<void(json&)>& edit, const std::string& what) {
    json j = base;
    edit(j);
    write_file(p, j.dump());
    expect_error([&] { load_bpe_tokenizer_json(p); }, what);
    expect_error([&] { load_tokenizer(tmp.str()); }, what + " via load_tokenizer");
  };
  with([](json& j) { j["model"].erase("vocab"); }, "no vocab");
  with([](json& j) { j["model"]["vocab"] = json::array(); }, "vocab array");
  with([](json& j) { j["model"]["vocab"] = json::object(); }, "empty vocab");
  with([](json& j) { j["model"]["vocab"]["!"] = "zero"; }, "vocab id string");
  with([](json& j) { j["model"]["vocab"]["!"] = -1; }, "negative vocab id");
  with([](json& j) { j["model"].erase("merges"); }, "no merges");
  with([](json& j) { j["model"]["merges"][3] = json::array({"nope", "x"}); }, "merge outside vocab");
  with([](json& j) { j["model"]["merges"][3] = "a b c"; }, "merge string with 3 parts");
  with([](json& j) { j["model"]["merges"][3] = 7; }, "merge not a string");
  with([](json& j) { j["model"]["dropout"] = 0.1; }, "dropout");
  with([](json& j) { j["model"]["continuing_subword_prefix"] = "##"; }, "subword prefix");
  with([](json& j) { j["model"]["ignore_merges"] = "yes"; }, "ignore_merges not bool");
  with([](json& j) { j["model"]["type"] = "WordLevel"; }, "model type");
  with([](json& j) { j["pre_tokenizer"] = nullptr; }, "no pre-tokenizer");
  with([](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }, "unknown pre-tokenizer");
  with([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+"; }, "other split regex");
  with([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; }, "split behavior");
  with([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["invert"] = true; }, "split invert");
  with([](json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}}; }, "metaspace for BPE");
  with([](json& j) { j["normalizer"] = {{"type", "NFKC"}}; }, "unsupported normalizer");
  with([](json& j) { j["added_tokens"][0].erase("content"); }, "added token without content");
  with([](json& j) { j["added_tokens"][0]["id"] = -3; }, "added token negative id");
  with([](json& j) { j["added_tokens"][0]["special"] = "true"; }, "added token flag string");
  // Messages name the file and the field.
  auto message = [&](const std::function<void(json&)>& edit) {
    json j = base;
    edit(j);
    write_file(p, j.dump());
    try {
      load_bpe_tokenizer_json(p);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string m1 = message([](json& j) { j["model"]["merges"][3] = json::array({"nope", "x"}); });
  EXPECT_NE(m1.find(p), std::string::npos) << m1;
  EXPECT_NE(m1.find("model.merges[3]"), std::string::npos) << m1;
  const std::string m2 = message([](json& j) { j["added_tokens"][2]["lstrip"] = 1; });
  EXPECT_NE(m2.find("added_tokens[2].lstrip"), std::string::npos) << m2;
  const std::string m3 = message([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "x"; });
  EXPECT_NE(m3.find("pre_tokenizer.pretokenizers[0].pattern.Regex"), std::string::npos) << m3;

  const std::string good = read_file(kSmallJson);
  for (size_t cut : {size_t{0}, size_t{1}, good.size() / 3, good.size() - 2}) {
    write_file(p, good.substr(0, cut));
    expect_error([&] { load_bpe_tokenizer_json(p); }, "truncated at " + std::to_string(cut));
  }
  expect_error([&] { load_bpe_tokenizer_json(tmp.str() + "/missing.json"); }, "missing file");

  // tiktoken ranks.
  const std::string tt = tmp.str() + "/ranks.tiktoken";
  auto bad_ranks = [&](const std::string& content, const std::string& what) {
    write_file(tt, content);
    expect_error([&] { load_bpe_tiktoken(tt, kSkeleton); }, what);
  };
  bad_ranks("", "empty ranks");
  bad_ranks("IQ== 0\nIg== x\n", "rank not a number");
  bad_ranks("IQ== 0\n!!!! 1\n", "bad base64");
  bad_ranks("IQ== 0\nIg== 0\n", "rank twice");
  bad_ranks("IQ== 0\nIg== 2\n", "missing rank");
  bad_ranks("IQ== 0\nIQ== 1\n", "token twice");
  bad_ranks("IQ==0\n", "no separator");
  expect_error([&] { load_bpe_tiktoken(tmp.str() + "/none.tiktoken", kSkeleton); }, "missing ranks");
  write_file(tt, "IQ== 0\nIg== 1\n");  // "!" and "\"": a valid (if useless) vocabulary
  expect_error([&] { load_bpe_tiktoken(tt, tmp.str() + "/none.json"); }, "missing skeleton");
  EXPECT_EQ(load_bpe_tiktoken(tt, kSkeleton)->encode("!\"!"), (std::vector<int32_t>{0, 1, 0}));

  // vocab.json + merges.txt folders.
  auto slow = [&](const std::string& vocab, const std::string& merges, const std::string& config,
                  const std::string& what) {
    TempDir d;
    write_file(d.path / "vocab.json", vocab);
    write_file(d.path / "merges.txt", merges);
    if (!config.empty()) write_file(d.path / "tokenizer_config.json", config);
    expect_error([&] { load_tokenizer(d.str()); }, what);
  };
  const std::string vocab = read_file(kDir + "/small-slow/vocab.json");
  const std::string merges = read_file(kDir + "/small-slow/merges.txt");
  slow("{", merges, "", "vocab.json not JSON");
  slow(vocab, "#version: 0.2\nnot-a-merge\n", "", "merges line without space");
  slow(vocab, "#version: 0.2\nnotatoken1 notatoken2\n", "", "merge outside vocab");
  slow(vocab, merges, "{\"tokenizer_class\": \"GPT2Tokenizer\"}", "other tokenizer class");
  slow(vocab, merges, "{\"added_tokens_decoder\": {\"x\": {\"content\": \"a\"}}}", "added token key not an id");
  slow(vocab, merges, "[1]", "config not an object");
}

TEST(BpeTokenizer, MultiMegabyteTextIsFastAndLinear) {
  NEEDS_TIKTOKEN();
  const Tokenizer& tok = qwen();
  auto time_it = [&](const std::string& text, const char* name) {
    size_t warm = std::min<size_t>(4096, text.size());
    while (warm < text.size() && (static_cast<unsigned char>(text[warm]) & 0xC0) == 0x80) ++warm;
    tok.encode(text.substr(0, warm));  // warm the lazily built tables
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok.encode(text);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[throughput] %-26s %6.2f MB in %6.3f s = %6.2f MB/s (%zu ids)\n", name, text.size() / 1e6, s,
                text.size() / 1e6 / s, ids.size());
    EXPECT_FALSE(ids.empty());
    return s;
  };
  const std::string zh = read_file(kShared + "/data/text-corpora/hongloumeng.zh.txt");
  const std::string en = read_file(kShared + "/data/text-corpora/war_and_peace.en.txt");
  ASSERT_GT(zh.size(), 2000000u);
  // Under a second per MB even on a loaded 2-core machine (about 0.2 s/MB for Chinese and
  // 0.05 s/MB for English when it is idle).
  EXPECT_LT(time_it(zh, "hongloumeng (zh)") / (zh.size() / 1e6), 1.0);
  EXPECT_LT(time_it(en, "war and peace (en)") / (en.size() / 1e6), 1.0);
  // Degenerate inputs: one 2 MB word, 1 MB of spaces (one word too), 1 MB of digits, 1 MB of
  // emoji. A single huge word is O(n log n) in the merge heap (about 0.5 s/MB idle); the bounds
  // only rule out quadratic behaviour, which would take minutes here.
  EXPECT_LT(time_it(std::string(2000000, 'a'), "2 MB of 'a' (one word)"), 5.0);
  EXPECT_LT(time_it(std::string(1000000, ' '), "1 MB of spaces"), 3.0);
  EXPECT_LT(time_it(std::string(1000000, '7'), "1 MB of digits"), 1.0);
  std::string emoji;
  std::mt19937 rng(5);
  while (emoji.size() < 1000000) unicode::append_utf8(emoji, 0x1F300 + rng() % 0x300);
  EXPECT_LT(time_it(emoji, "1 MB of emoji"), 3.0);
  // Linear: 4x the text takes about 4x the time (allow 8x for noise).
  const std::string quarter = en.substr(0, en.size() / 4);
  std::string a = quarter;
  while (a.size() % 4) a.pop_back();
  const double t1 = time_it(a, "war and peace / 4");
  const double t4 = time_it(a + a + a + a, "war and peace / 4, x4");
  EXPECT_LT(t4, 8 * t1 + 0.05);
}

TEST(BpeTokenizer, ConcurrentEncodeMatchesSerial) {
  std::vector<std::string> texts;
  for (size_t i = 0; i < parity_cases().size() && texts.size() < 3000; i += 3) texts.push_back(parity_cases()[i].text);
  std::vector<const Tokenizer*> toks = {&small()};
  if (fs::exists(kTiktoken)) toks.push_back(&qwen());
  for (const Tokenizer* tok : toks) {
    std::vector<std::vector<int32_t>> want;
    for (const auto& t : texts) want.push_back(tok->encode(t));
    std::vector<size_t> bad(4, 0);
    std::vector<std::thread> threads;
    for (int th = 0; th < 4; ++th) {
      threads.emplace_back([&, th] {
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t k = (i * 7 + th * 131) % texts.size();
          if (tok->encode(texts[k]) != want[k]) ++bad[th];
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int th = 0; th < 4; ++th) EXPECT_EQ(bad[th], 0u) << "thread " << th;
  }
}
