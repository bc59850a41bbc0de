// WordPiece tokenizer: id-for-id parity with Hugging Face `tokenizers` 0.23.3 on the real
// ms-marco-MiniLM-L-6-v2 tokenizer (data from scripts/make_wordpiece_parity.py), plus
// per-code-point Unicode behaviour, error handling, speed and thread safety.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crossrank/crossrank.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/wordpiece.h"

namespace crossrank {
namespace {

namespace fs = std::filesystem;

const std::string kData = std::string(CROSSRANK_TEST_DATA) + "/tokenizers/wordpiece-msmarco";
const std::string kModel = std::string(CROSSRANK_SHARED_DIR) + "/models/ms-marco-MiniLM-L-6-v2";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// A fresh folder under the temp dir, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("crossrank_wp_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

uint64_t fnv1a64_ids(const std::vector<int32_t>& ids) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int32_t id : ids) {
    const auto u = static_cast<uint32_t>(id);
    for (int k = 0; k < 4; ++k) {
      h ^= (u >> (8 * k)) & 0xFF;
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

std::string hex64(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string ids_str(const std::vector<int32_t>& ids, size_t max = 40) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size() && i < max; ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  if (ids.size() > max) s += ",... (" + std::to_string(ids.size()) + " ids)";
  return s + "]";
}

std::string snippet(const std::string& t) {
  nlohmann::json j = t.size() > 160 ? t.substr(0, 160) + "..." : t;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct ParityCase {
  std::string text;
  std::vector<int32_t> ids;  // empty with n >= 0 when hashed
  int64_t n = -1;
  std::string hash;
};

std::vector<ParityCase> read_parity(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing " << path << " (run scripts/make_wordpiece_parity.py)";
  std::vector<ParityCase> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    ParityCase c;
    c.text = j.at("text").get<std::string>();
    if (j.contains("ids")) {
      c.ids = j["ids"].get<std::vector<int32_t>>();
    } else {
      c.n = j.at("n").get<int64_t>();
      c.hash = j.at("fnv1a64_hex").get<std::string>();
    }
    out.push_back(std::move(c));
  }
  return out;
}

// Encodes every case; reports the count and the first few mismatches.
void expect_parity(const Tokenizer& tok, const std::vector<ParityCase>& cases, const std::string& label) {
  size_t mismatches = 0;
  std::string report;
  for (const ParityCase& c : cases) {
    std::vector<int32_t> got;
    try {
      got = tok.encode(c.text);
    } catch (const std::exception& e) {
      ++mismatches;
      if (mismatches <= 5) report += "  threw " + std::string(e.what()) + " on " + snippet(c.text) + "\n";
      continue;
    }
    bool ok;
    if (c.n >= 0) ok = static_cast<int64_t>(got.size()) == c.n && hex64(fnv1a64_ids(got)) == c.hash;
    else ok = got == c.ids;
    if (!ok) {
      ++mismatches;
      if (mismatches <= 5) {
        report += "  text " + snippet(c.text) + "\n    want " +
                  (c.n >= 0 ? "n=" + std::to_string(c.n) + " fnv=" + c.hash : ids_str(c.ids)) +
                  "\n    got  " + ids_str(got) + " (fnv=" + hex64(fnv1a64_ids(got)) + ")\n";
      }
    }
  }
  EXPECT_EQ(mismatches, 0u) << label << ": " << mismatches << " of " << cases.size()
                            << " texts differ from HF tokenizers; first ones:\n"
                            << report;
}

TEST(WordPieceTokenizer, ParityTokenizerJson) {
  auto cases = read_parity(kData + "/parity.jsonl");
  ASSERT_GE(cases.size(), 10000u);
  auto tok = load_wordpiece_tokenizer_json(kModel + "/tokenizer.json");
  expect_parity(*tok, cases, "tokenizer.json");
}

TEST(WordPieceTokenizer, ParityVocabTxt) {
  auto cases = read_parity(kData + "/parity.jsonl");
  ASSERT_GE(cases.size(), 10000u);
  auto tok = load_wordpiece_vocab_txt(kModel + "/vocab.txt", /*lowercase=*/true);
  expect_parity(*tok, cases, "vocab.txt");
}

TEST(WordPieceTokenizer, ParityCasedVocabTxt) {
  auto cases = read_parity(kData + "/parity_cased.jsonl");
  ASSERT_GE(cases.size(), 1000u);
  auto tok = load_wordpiece_vocab_txt(kModel + "/vocab.txt", /*lowercase=*/false);
  expect_parity(*tok, cases, "vocab.txt cased");
}

// Synthetic tokenizer.json files covering added-token flags (normalized, single_word,
// lstrip, rstrip), a "@@" prefix, max_input_chars_per_word 10, other normalizer flags and
// no normalizer.
TEST(WordPieceTokenizer, ParitySyntheticTokenizers) {
  for (const char* name : {"synth_a", "synth_b", "synth_c"}) {
    auto cases = read_parity(kData + "/" + name + ".jsonl");
    ASSERT_GE(cases.size(), 1000u) << name;
    auto tok = load_wordpiece_tokenizer_json(kData + "/" + name + "/tokenizer.json");
    expect_parity(*tok, cases, name);
  }
}

TEST(WordPieceTokenizer, LoadTokenizerDispatchesToWordPiece) {
  auto tok = load_tokenizer(kModel);
  EXPECT_EQ(tok->encode("How many people live in Berlin?"),
            (std::vector<int32_t>{2129, 2116, 2111, 2444, 1999, 4068, 1029}));
}

// The cross-encoder/ms-marco-MiniLM-L-6-v2 model-card pair (bert-base-uncased ids).
TEST(WordPieceTokenizer, ModelCardPair) {
  for (int loader = 0; loader < 2; ++loader) {
    auto tok = loader == 0 ? load_wordpiece_tokenizer_json(kModel + "/tokenizer.json")
                           : load_wordpiece_vocab_txt(kModel + "/vocab.txt", true);
    EXPECT_EQ(tok->encode("How many people live in Berlin?"),
              (std::vector<int32_t>{2129, 2116, 2111, 2444, 1999, 4068, 1029}));
    EXPECT_EQ(tok->encode("Berlin has a population of 3,520,031 registered inhabitants in an area "
                          "of 891.82 square kilometers."),
              (std::vector<int32_t>{4068, 2038, 1037, 2313, 1997, 1017, 1010, 19611, 1010, 6021, 2487, 5068,
                                    4864, 1999, 2019, 2181, 1997, 6486, 2487, 1012, 6445, 2675, 7338, 1012}));
    const SpecialTokens& s = tok->special();
    EXPECT_EQ(s.cls, 101);
    EXPECT_EQ(s.sep, 102);
    EXPECT_EQ(s.pad, 0);
    EXPECT_EQ(s.unk, 100);
    EXPECT_EQ(tok->vocab_size(), 30522);
    EXPECT_EQ(tok->id_to_token(4068), "berlin");
    EXPECT_EQ(tok->id_to_token(2487), "##1");
    EXPECT_EQ(tok->id_to_token(-1), "");
    EXPECT_EQ(tok->id_to_token(30522), "");
    EXPECT_TRUE(tok->encode("").empty());
    EXPECT_EQ(tok->encode("[SEP][cls]"), (std::vector<int32_t>{102, 1031, 18856, 2015, 1033}));
  }
}

// Every scalar value through each BertNormalizer stage / config and the pre-tokenizer,
// compared with per-block hashes recorded from HF (catches Unicode-version drift).
TEST(WordPieceTokenizer, UnicodeBehaviourMatchesHfForAllCodePoints) {
  auto j = nlohmann::json::parse(slurp(kData + "/unicode_blocks.json"));
  const uint32_t block = j.at("block_size").get<uint32_t>();
  struct Config {
    const char* name;
    BertNormalizerOptions opts;
  };
  auto opts = [](bool clean, bool chinese, std::optional<bool> strip, bool lower) {
    BertNormalizerOptions o;
    o.clean_text = clean;
    o.handle_chinese_chars = chinese;
    o.strip_accents = strip;
    o.lowercase = lower;
    return o;
  };
  const Config configs[] = {
      {"clean", opts(true, false, false, false)},  {"chinese", opts(false, true, false, false)},
      {"strip", opts(false, false, true, false)},  {"lower", opts(false, false, false, true)},
      {"uncased", opts(true, true, std::nullopt, true)}, {"cased", opts(true, true, std::nullopt, false)},
  };
  // order1 / order2: the strip config around a surviving spacing mark (U+1D16D ccc 226
  // before, U+1D165 ccc 216 after) to observe canonical reordering.
  const char* wrap_name[] = {"order1", "order2"};
  const char* wrap_pre[] = {"a\xF0\x9D\x85\xAD", "a"};
  const char* wrap_post[] = {"", "\xF0\x9D\x85\xA5"};
  std::string in, out, report;
  std::vector<std::string_view> pieces;
  size_t bad_blocks = 0;
  for (int k = 0; k <= 8; ++k) {
    const std::string name = k < 6 ? configs[k].name : k < 8 ? wrap_name[k - 6] : "pretok";
    const auto& want = j.at("configs").at(name);
    ASSERT_EQ(want.size(), 0x110000u / block);
    for (uint32_t b0 = 0; b0 < 0x110000; b0 += block) {
      uint64_t h = 0xcbf29ce484222325ull;
      auto feed = [&h](std::string_view s) {
        for (unsigned char c : s) {
          h ^= c;
          h *= 0x100000001b3ull;
        }
      };
      for (uint32_t c = b0; c < b0 + block; ++c) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        if (k < 8) {
          in = k < 6 ? "" : wrap_pre[k - 6];
          unicode::append_utf8(in, c);
          if (k >= 6) in += wrap_post[k - 6];
          out.clear();
          bert_normalize(in, configs[k < 6 ? k : 2].opts, out);
          feed(out);
        } else {
          in.assign(1, 'a');
          unicode::append_utf8(in, c);
          in += "a";
          pieces.clear();
          bert_pre_tokenize(in, pieces);
          feed(std::to_string(pieces.size() - 1));
        }
        feed("\xff");
      }
      if (hex64(h) != want[b0 / block].get<std::string>()) {
        ++bad_blocks;
        char buf[96];
        std::snprintf(buf, sizeof buf, "  %s: U+%04X..U+%04X\n", name.c_str(), b0, b0 + block - 1);
        if (bad_blocks <= 20) report += buf;
      }
    }
  }
  EXPECT_EQ(bad_blocks, 0u) << "blocks whose per-code-point output differs from HF (probe them "
                               "with tokenizers.normalizers.BertNormalizer in Python):\n"
                            << report;
}

TEST(WordPieceTokenizer, NormalizerSpotChecks) {
  BertNormalizerOptions uncased;  // clean, chinese, strip follows lowercase, lowercase
  auto norm = [](std::string_view s, const BertNormalizerOptions& o) {
    std::string out;
    bert_normalize(s, o, out);
    return out;
  };
  EXPECT_EQ(norm("Café NAÏVE Ångström", uncased), "cafe naive angstrom");
  EXPECT_EQ(norm("İstanbul", uncased), "istanbul");
  BertNormalizerOptions lower_only = uncased;
  lower_only.strip_accents = false;
  EXPECT_EQ(norm("İ", lower_only), "i\xCC\x87");  // multi-char lowercase mapping
  EXPECT_EQ(norm("a\tb\r\nc\xE3\x80\x80" "d\xE2\x80\x8B" "e\x01" "f", uncased), "a b  c def");
  EXPECT_EQ(norm("中文abc", uncased), " 中  文 abc");
  // Canonical ordering: dot below (ccc 220) sorts before circumflex (ccc 230), then both go.
  BertNormalizerOptions strip_only;
  strip_only.clean_text = false;
  strip_only.handle_chinese_chars = false;
  strip_only.lowercase = false;
  strip_only.strip_accents = true;
  EXPECT_EQ(norm("\xE1\xBB\x87", strip_only), "e");  // ệ
  std::vector<std::string_view> p;
  bert_pre_tokenize("Hey friend!     How are you?!?", p);
  EXPECT_EQ(p, (std::vector<std::string_view>{"Hey", "friend", "!", "How", "are", "you", "?", "!", "?"}));
}

TEST(WordPieceTokenizer, InvalidUtf8Throws) {
  auto tok = load_wordpiece_tokenizer_json(kModel + "/tokenizer.json");
  for (const std::string& bad : {std::string("\xff"), std::string("abc\xc3"), std::string("\xc0\xaf"),
                                std::string("\xed\xa0\x80"), std::string("ok \xf4\x90\x80\x80"),
                                std::string("x\x80y")}) {
    EXPECT_THROW(tok->encode(bad), Error) << snippet(bad);
  }
  EXPECT_NO_THROW(tok->encode(std::string("nul\0inside", 10)));
}

TEST(WordPieceTokenizer, BadFilesThrowError) {
  TempDir tmp;
  const std::string real = slurp(kModel + "/tokenizer.json");
  ASSERT_GT(real.size(), 1000u);
  const std::vector<std::pair<std::string, std::string>> jsons = {
      {"truncated", real.substr(0, real.size() / 2)},
      {"garbage", std::string("\x89PNG\r\n\x1a\n\xff\xfe garbage")},
      {"empty", ""},
      {"not_object", "[1,2,3]"},
      {"no_model", R"({"normalizer":null})"},
      {"bpe", R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]}})"},
      {"vocab_array", R"({"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":["a"]}})"},
      {"bad_id", R"({"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":"x"}}})"},
      {"negative_id", R"({"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":-4}}})"},
      {"missing_unk", R"({"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":0}}})"},
      {"empty_vocab", R"({"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{}}})"},
      {"bad_normalizer", R"({"normalizer":{"type":"NFKC"},"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0}}})"},
      {"bad_flag", R"({"normalizer":{"type":"BertNormalizer","lowercase":"yes"},"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0}}})"},
      {"bad_added", R"({"added_tokens":[{"id":0}],"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0}}})"},
  };
  for (const auto& [name, content] : jsons) {
    const fs::path p = tmp.path / (name + ".json");
    spit(p, content);
    EXPECT_THROW(load_wordpiece_tokenizer_json(p.string()), Error) << name;
  }
  EXPECT_THROW(load_wordpiece_tokenizer_json((tmp.path / "does_not_exist.json").string()), Error);

  const std::vector<std::pair<std::string, std::string>> vocabs = {
      {"empty", ""},
      {"no_unk", "hello\nworld\n"},
      {"bad_utf8", "[UNK]\nab\xff\n"},
  };
  for (const auto& [name, content] : vocabs) {
    const fs::path p = tmp.path / (name + ".txt");
    spit(p, content);
    EXPECT_THROW(load_wordpiece_vocab_txt(p.string(), true), Error) << name;
  }
  EXPECT_THROW(load_wordpiece_vocab_txt((tmp.path / "nope.txt").string(), true), Error);

  // A tiny valid vocab: CRLF and trailing blanks trimmed; missing specials get new ids.
  const fs::path ok = tmp.path / "ok.txt";
  spit(ok, "[UNK]\r\nhello \nworld\n##s\n");
  auto tok = load_wordpiece_vocab_txt(ok.string(), true);
  EXPECT_EQ(tok->encode("Hello worlds [MASK] xyz"), (std::vector<int32_t>{1, 2, 3, 7, 0}));
  EXPECT_EQ(tok->special().unk, 0);
  EXPECT_EQ(tok->special().sep, 4);
  EXPECT_EQ(tok->special().pad, 5);
  EXPECT_EQ(tok->special().cls, 6);
  EXPECT_EQ(tok->vocab_size(), 8);
}

TEST(WordPieceTokenizer, MultiMegabyteTextIsFastAndLinear) {
  auto tok = load_wordpiece_tokenizer_json(kModel + "/tokenizer.json");
  const std::string en = slurp(std::string(CROSSRANK_SHARED_DIR) + "/data/text-corpora/war_and_peace.en.txt");
  const std::string zh = slurp(std::string(CROSSRANK_SHARED_DIR) + "/data/text-corpora/hongloumeng.zh.txt");
  ASSERT_GT(en.size(), 3000000u);
  ASSERT_GT(zh.size(), 2000000u);
  using clock = std::chrono::steady_clock;
  for (const auto* text : {&en, &zh}) {
    const auto t0 = clock::now();
    const auto ids = tok->encode(*text);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    std::printf("[ perf ] %.1f MB -> %zu ids in %.3f s (%.1f MB/s)\n", text->size() / 1e6, ids.size(), s,
                text->size() / 1e6 / s);
    EXPECT_GT(ids.size(), text->size() / 10);
    EXPECT_LT(s, 10.0);
  }
  // Adversarial inputs stay linear: one huge "word", a long run of combining marks,
  // thousands of special-token literals, and a long punctuation run.
  std::string word(2000000, 'a');
  std::string marks = "a";
  for (int i = 0; i < 300000; ++i) marks += (i % 2) ? "\xCC\x81" : "\xCC\xA3";  // U+0301, U+0323
  std::string seps;
  for (int i = 0; i < 200000; ++i) seps += "[SEP][SE";
  std::string punct(2000000, '!');
  for (const std::string* text : {&word, &marks, &seps, &punct}) {
    const auto t0 = clock::now();
    const auto ids = tok->encode(*text);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    EXPECT_LT(s, 5.0) << text->size() << " bytes";
    EXPECT_FALSE(ids.empty());
  }
  EXPECT_EQ(tok->encode(word), (std::vector<int32_t>{100}));
}

// HF's WordPiece step as HF writes it (models/wordpiece/mod.rs): for each start, candidates
// from the whole rest down to one code point, one vocabulary lookup each.
std::vector<int32_t> reference_wordpiece(const std::unordered_map<std::string, int32_t>& vocab, const std::string& word,
                                         int32_t unk) {
  std::vector<int32_t> out;
  std::size_t start = 0;
  while (start < word.size()) {
    std::size_t end = word.size();
    int32_t found = -1;
    while (end > start) {
      const std::string sub = (start > 0 ? "##" : "") + word.substr(start, end - start);
      if (auto it = vocab.find(sub); it != vocab.end()) {
        found = it->second;
        break;
      }
      do --end;
      while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80);
    }
    if (found < 0) return {unk};
    out.push_back(found);
    start = end;
  }
  return out;
}

// The trie walk (wordpiece.cc) against the lookup loop above, on random vocabularies over a
// small alphabet with multi-byte code points (shared prefixes, entries ending mid-word).
TEST(WordPieceTokenizer, TrieMatchesGreedyLookupOnRandomVocabularies) {
  const std::vector<std::string> alphabet = {"a", "b", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80"};
  std::mt19937 rng(7);
  auto random_word = [&](std::size_t max_chars) {
    std::string w;
    const std::size_t n = 1 + rng() % max_chars;
    for (std::size_t i = 0; i < n; ++i) w += alphabet[rng() % alphabet.size()];
    return w;
  };
  std::size_t words = 0, unks = 0;
  for (int trial = 0; trial < 40; ++trial) {
    WordPieceConfig cfg;
    cfg.vocab.emplace_back("[UNK]", 0);
    cfg.normalizer.clear();
    cfg.bert_pre_tokenizer = false;
    std::unordered_map<std::string, int32_t> ref{{"[UNK]", 0}};
    const int entries = 5 + static_cast<int>(rng() % 60);
    for (int e = 0; e < entries; ++e) {
      const std::string tok = (rng() % 2 ? "##" : "") + random_word(1 + rng() % 8);
      const int32_t id = static_cast<int32_t>(cfg.vocab.size());
      cfg.vocab.emplace_back(tok, id);
      ref[tok] = id;  // a later duplicate wins, in both
    }
    auto tok = make_wordpiece_tokenizer(cfg, "random vocabulary");
    for (int k = 0; k < 200; ++k, ++words) {
      const std::string w = random_word(30);
      const auto want = reference_wordpiece(ref, w, 0);
      unks += want == std::vector<int32_t>{0};
      ASSERT_EQ(tok->encode(w), want) << "trial " << trial << " word " << w;
    }
  }
  EXPECT_GT(unks, 0u);
  EXPECT_LT(unks, words);
}

// Issue: greedy longest-match-first costs O(chars^2) lookups of O(chars) bytes per word when
// the vocabulary has long entries. 100 KB of 99-character words (the longest that are not
// [UNK]) must tokenize in well under a second, with the real vocabulary and with one that
// has long entries sharing the text's prefixes (measured on an AMD EPYC, Zen 4: 11 ms
// and 93 ms with the hash-lookup loop, 1 ms and 13 ms with the trie).
TEST(WordPieceTokenizer, AdversarialWordsStayLinear) {
  auto real = load_wordpiece_tokenizer_json(kModel + "/tokenizer.json");
  WordPieceConfig cfg;
  cfg.vocab = {{"[UNK]", 0}, {"w", 1}, {"##w", 2}, {"\xF0\x9D\x95\xA8", 3}, {"##\xF0\x9D\x95\xA8", 4}};
  cfg.vocab.emplace_back("##" + std::string(400, 'q'), 5);
  for (int k = 1; k < 99; ++k) {
    cfg.vocab.emplace_back(std::string(k, 'w') + "x", static_cast<int32_t>(cfg.vocab.size()));
    cfg.vocab.emplace_back("##" + std::string(k, 'w') + "x", static_cast<int32_t>(cfg.vocab.size()));
  }
  auto adversarial = make_wordpiece_tokenizer(cfg, "adversarial vocabulary");
  auto repeat = [](const std::string& unit, std::size_t bytes) {
    std::string s;
    while (s.size() < bytes) s += unit;
    return s;
  };
  std::string wide;
  for (int i = 0; i < 99; ++i) wide += "\xF0\x9D\x95\xA8";  // U+1D568, 4 bytes
  const std::string www = repeat(std::string(99, 'w') + " ", 100000);
  const std::string wide_words = repeat(wide + " ", 100000);
  using clock = std::chrono::steady_clock;
  for (const Tokenizer* tok : {real.get(), adversarial.get()}) {
    for (const std::string* text : {&www, &wide_words}) {
      const auto t0 = clock::now();
      const auto ids = tok->encode(*text);
      const double s = std::chrono::duration<double>(clock::now() - t0).count();
      std::printf("[ perf ] %zu bytes -> %zu ids in %.4f s\n", text->size(), ids.size(), s);
      EXPECT_LT(s, 1.0);
    }
  }
  // Every 99-character word is 99 tokens with the adversarial vocabulary ("w" then "##w"...).
  const auto ids = adversarial->encode(www);
  EXPECT_EQ(ids.size(), 1000u * 99);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(ids[1], 2);
}

TEST(WordPieceTokenizer, ConcurrentEncodeMatchesSerial) {
  auto tok = load_wordpiece_tokenizer_json(kModel + "/tokenizer.json");
  auto cases = read_parity(kData + "/parity.jsonl");
  cases.resize(std::min<size_t>(cases.size(), 2000));
  std::vector<std::vector<int32_t>> serial;
  for (const auto& c : cases) serial.push_back(tok->encode(c.text));
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < cases.size() * 2; i += 3) {
        const size_t k = i % cases.size();
        if (tok->encode(cases[k].text) != serial[k]) ++bad[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace crossrank
