// XLM-R Unigram tokenizer: id-for-id parity with Hugging Face `tokenizers` for both loaders
// (tokenizer.json and sentencepiece.bpe.model), pipeline variants, the real XLM-R charsmap
// and vocab prefix, error handling on bad input/files, throughput and thread safety.
// Data: tests/data/tokenizers/xlmr-unigram/ (scripts/make_unigram_tokenizer.py,
// scripts/make_unigram_parity.py).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crossrank/crossrank.h"
#include "test_util.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unigram.h"

using namespace crossrank;
using crossrank::test::read_file;
using crossrank::test::TempDir;
using crossrank::test::write_file;
using nlohmann::json;

namespace {

const std::string kDir = std::string(CROSSRANK_TEST_DATA) + "/tokenizers/xlmr-unigram";
const std::string kShared = CROSSRANK_SHARED_DIR;
const std::string kPartial = kShared + "/models/xlm-roberta-tokenizer-PARTIAL";

const Tokenizer& json_tokenizer() {
  static const std::unique_ptr<Tokenizer> t = load_unigram_tokenizer_json(kDir + "/tokenizer.json");
  return *t;
}

const Tokenizer& spm_tokenizer() {
  static const std::unique_ptr<Tokenizer> t = load_unigram_sentencepiece(kDir + "/sentencepiece.bpe.model");
  return *t;
}

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing " << path << " (run scripts/make_unigram_parity.py)";
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
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

std::string show_text(const std::string& s) {
  std::string out = json(s.substr(0, 160)).dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 160) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

std::string show_ids(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size() && i < 40; ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  if (ids.size() > 40) out += ",...(" + std::to_string(ids.size()) + " ids)";
  return out + "]";
}

// Runs every parity record through `tok`; returns the number of mismatches and reports
// the first few with text and ids.
struct ParityResult {
  size_t compared = 0, mismatches = 0;
  std::string report;
};

ParityResult run_parity(const Tokenizer& tok, const std::vector<json>& records) {
  ParityResult r;
  for (const auto& rec : records) {
    std::string text;
    if (rec.contains("file")) {
      const std::string all = read_file(kShared + "/data/" + rec["file"].get<std::string>());
      text = all.substr(0, rec["bytes"].get<size_t>());
    } else {
      text = rec["text"].get<std::string>();
    }
    const std::vector<int32_t> got = tok.encode(text);
    bool ok;
    std::string want;
    if (rec.contains("ids")) {
      const auto expect = rec["ids"].get<std::vector<int32_t>>();
      ok = got == expect;
      want = show_ids(expect);
    } else {
      ok = got.size() == rec["n"].get<size_t>() && fnv1a64_hex(got) == rec["fnv"].get<std::string>();
      want = "n=" + std::to_string(rec["n"].get<size_t>()) + " fnv=" + rec["fnv"].get<std::string>();
    }
    ++r.compared;
    if (!ok) {
      if (++r.mismatches <= 5)
        r.report += "\n  text " + show_text(text) + "\n    want " + want + "\n    got  " + show_ids(got) +
                    " (n=" + std::to_string(got.size()) + " fnv=" + fnv1a64_hex(got) + ")";
    }
  }
  return r;
}

const std::vector<json>& parity_records() {
  static const std::vector<json> recs = read_jsonl(kDir + "/parity.jsonl");
  return recs;
}

std::string base64_encode(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(tbl[(n >> (6 * k)) & 63]);
  }
  if (i + 1 == in.size()) {
    const uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    out += {tbl[(n >> 18) & 63], tbl[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const uint32_t n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {tbl[(n >> 18) & 63], tbl[(n >> 12) & 63], tbl[(n >> 6) & 63], '='};
  }
  return out;
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_bytes_field(std::string& out, uint32_t field, const std::string& bytes) {
  put_varint(out, (field << 3) | 2);
  put_varint(out, bytes.size());
  out += bytes;
}

std::string spm_piece(const std::string& piece, float score, int type = 1) {
  std::string m;
  put_bytes_field(m, 1, piece);
  m.push_back(static_cast<char>((2 << 3) | 5));
  uint32_t bits;
  std::memcpy(&bits, &score, 4);
  for (int k = 0; k < 4; ++k) m.push_back(static_cast<char>((bits >> (8 * k)) & 0xFF));
  if (type != 1) {
    put_varint(m, 3 << 3);
    put_varint(m, type);
  }
  return m;
}

// Expects `fn` to throw crossrank::Error (and nothing else).
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

TEST(UnigramTokenizer, ParityTokenizerJson) {
  const auto& recs = parity_records();
  ASSERT_GE(recs.size(), 10000u);
  const ParityResult r = run_parity(json_tokenizer(), recs);
  std::printf("[tokenizer.json] compared %zu texts, %zu mismatches\n", r.compared, r.mismatches);
  EXPECT_EQ(r.mismatches, 0u) << r.mismatches << " of " << r.compared << " texts differ:" << r.report;
}

TEST(UnigramTokenizer, ParitySentencePieceModel) {
  const auto& recs = parity_records();
  ASSERT_GE(recs.size(), 10000u);
  const ParityResult r = run_parity(spm_tokenizer(), recs);
  std::printf("[sentencepiece.bpe.model] compared %zu texts, %zu mismatches\n", r.compared, r.mismatches);
  EXPECT_EQ(r.mismatches, 0u) << r.mismatches << " of " << r.compared << " texts differ:" << r.report;
}

TEST(UnigramTokenizer, PipelineVariants) {
  const json base = json::parse(read_file(kDir + "/tokenizer.json"));
  const json base_charsmap = base["normalizer"]["normalizers"][0]["precompiled_charsmap"];
  const auto variants = read_jsonl(kDir + "/variants.jsonl");
  ASSERT_GE(variants.size(), 8u);
  TempDir tmp;
  for (const auto& v : variants) {
    json j = base;
    std::function<void(json&)> subst = [&](json& x) {
      if (x.is_object()) {
        for (auto it = x.begin(); it != x.end(); ++it) {
          if (it.key() == "precompiled_charsmap" && it.value() == "@base") it.value() = base_charsmap;
          else subst(it.value());
        }
      } else if (x.is_array()) {
        for (auto& e : x) subst(e);
      }
    };
    json patch = v["patch"];
    subst(patch);
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      if (it.key() == "model.byte_fallback") j["model"]["byte_fallback"] = it.value();
      else if (it.key() == "model.vocab_append")
        for (const auto& e : it.value()) j["model"]["vocab"].push_back(e);
      else j[it.key()] = it.value();
    }
    const std::string path = tmp.str() + "/" + v["name"].get<std::string>() + ".json";
    write_file(path, j.dump());
    const auto tok = load_unigram_tokenizer_json(path);
    const ParityResult r = run_parity(*tok, v["cases"].get<std::vector<json>>());
    EXPECT_EQ(r.mismatches, 0u) << "variant " << v["name"] << ": " << r.mismatches << " of " << r.compared
                                << " differ:" << r.report;
  }
}

TEST(UnigramTokenizer, RealCharsmapInUse) {
  const std::string real = read_file(kPartial + "/xlmr.precompiled_charsmap.bin");
  ASSERT_EQ(real.size(), 237539u);
  const json j = json::parse(read_file(kDir + "/tokenizer.json"));
  EXPECT_EQ(j["normalizer"]["normalizers"][0]["precompiled_charsmap"].get<std::string>(), base64_encode(real));
  const SpmModel m = load_spm_model(kDir + "/sentencepiece.bpe.model");
  EXPECT_TRUE(m.precompiled_charsmap == real);
  // A few well-known nmt_nfkc behaviours of that charsmap.
  const auto* u = dynamic_cast<const UnigramTokenizer*>(&json_tokenizer());
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->normalize("\xEF\xBC\xA8\xEF\xBD\x85"), "He");     // full-width
  EXPECT_EQ(u->normalize("a\xE3\x80\x80" "b"), "a b");            // U+3000
  EXPECT_EQ(u->normalize("a\r\nb"), "a b");                        // CRLF is ONE cluster -> one space
  EXPECT_EQ(u->normalize("a  \t b"), "a b");                       // + Replace(" {2,}")
  EXPECT_EQ(u->normalize("\xEF\xAC\x81"), "fi");                   // U+FB01 ligature
}

TEST(UnigramTokenizer, RealPartialXlmrVocab) {
  // The genuine XLM-R sentencepiece.bpe.model is cut at 2 MiB (119,232 of 250,000 pieces).
  // Keep the complete pieces, pad with never-matching dummies up to 250,000 so that
  // <mask> gets its real id 250001, and add the real charsmap as normalizer_spec.
  const std::string data = read_file(kPartial + "/xlmr-large.sentencepiece.bpe.model.first2MiB");
  ASSERT_EQ(data.size(), 2097152u);
  expect_error([&] { parse_spm_model(data, "partial"); }, "truncated real .model");
  size_t pos = 0, good = 0, count = 0;
  while (pos < data.size()) {
    if (static_cast<unsigned char>(data[pos]) != 0x0A) break;
    size_t p = pos + 1;
    uint64_t len = 0;
    for (int shift = 0; p < data.size(); shift += 7) {
      const auto b = static_cast<unsigned char>(data[p++]);
      len |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) break;
    }
    if (p + len > data.size()) break;
    pos = good = p + len;
    ++count;
  }
  ASSERT_EQ(count, 119232u);
  std::string model = data.substr(0, good);
  for (size_t k = count; k < 250000; ++k) {
    std::string dummy(1, '\x01');
    dummy += std::to_string(k);
    put_bytes_field(model, 1, spm_piece(dummy, -13.5f));
  }
  std::string norm;
  put_bytes_field(norm, 1, "nmt_nfkc");
  put_bytes_field(norm, 2, read_file(kPartial + "/xlmr.precompiled_charsmap.bin"));
  put_bytes_field(model, 3, norm);
  TempDir tmp;
  write_file(tmp.path / "sentencepiece.bpe.model", model);
  const auto tok = load_tokenizer(tmp.str());
  EXPECT_EQ(tok->vocab_size(), 250002);
  EXPECT_EQ(tok->id_to_token(250001), "<mask>");
  EXPECT_EQ(tok->id_to_token(35378), "\xE2\x96\x81Hello");
  EXPECT_EQ(tok->id_to_token(4), ",");
  const SpecialTokens& sp = tok->special();
  EXPECT_EQ(sp.cls, 0);
  EXPECT_EQ(sp.pad, 1);
  EXPECT_EQ(sp.sep, 2);
  EXPECT_EQ(sp.unk, 3);
  const auto cases = read_jsonl(kDir + "/real_partial_cases.jsonl");
  ASSERT_GE(cases.size(), 15u);
  const ParityResult r = run_parity(*tok, cases);
  EXPECT_EQ(r.mismatches, 0u) << r.report;
  EXPECT_EQ(tok->encode("Hello world"), (std::vector<int32_t>{35378, 8999}));
  EXPECT_EQ(tok->encode("Hello World!"), (std::vector<int32_t>{35378, 6661, 38}));
}

TEST(UnigramTokenizer, SpecialTokens) {
  for (const Tokenizer* tok : {&json_tokenizer(), &spm_tokenizer()}) {
    const SpecialTokens& sp = tok->special();
    EXPECT_EQ(sp.cls, 0);
    EXPECT_EQ(sp.pad, 1);
    EXPECT_EQ(sp.sep, 2);
    EXPECT_EQ(sp.unk, 3);
    EXPECT_EQ(tok->vocab_size(), 8002);
    EXPECT_EQ(tok->id_to_token(0), "<s>");
    EXPECT_EQ(tok->id_to_token(1), "<pad>");
    EXPECT_EQ(tok->id_to_token(2), "</s>");
    EXPECT_EQ(tok->id_to_token(3), "<unk>");
    EXPECT_EQ(tok->id_to_token(8001), "<mask>");
    EXPECT_EQ(tok->id_to_token(8002), "");
    EXPECT_EQ(tok->id_to_token(-1), "");
    EXPECT_EQ(tok->encode("<s></s><pad><unk>"), (std::vector<int32_t>{0, 2, 1, 3}));
    EXPECT_EQ(tok->encode("<mask>"), (std::vector<int32_t>{8001}));
    // <mask> has lstrip: the spaces before it belong to it.
    EXPECT_EQ(tok->encode("   <mask>"), (std::vector<int32_t>{8001}));
    EXPECT_TRUE(tok->encode("").empty());
  }
}

TEST(UnigramTokenizer, LoadTokenizerDispatch) {
  const auto a = load_tokenizer(kDir);  // tokenizer.json preferred
  TempDir tmp;
  std::filesystem::copy_file(kDir + "/sentencepiece.bpe.model", tmp.path / "sentencepiece.bpe.model");
  const auto b = load_tokenizer(tmp.str());  // .model only
  const std::string text = "这是一个测试。This is a test <mask> with ＦＵＬＬ width\u3000and  spaces.";
  EXPECT_EQ(a->encode(text), json_tokenizer().encode(text));
  EXPECT_EQ(b->encode(text), json_tokenizer().encode(text));
}

TEST(UnigramTokenizer, InvalidUtf8Throws) {
  const std::vector<std::string> bad = {"\xFF", "abc\xC3", "\xED\xA0\x80", "\xC0\xAF", "\xF4\x90\x80\x80",
                                        "ok \x80 no", std::string("a\0\xFE", 3)};
  for (const Tokenizer* tok : {&json_tokenizer(), &spm_tokenizer()})
    for (const auto& s : bad) expect_error([&] { tok->encode(s); }, "invalid UTF-8 " + show_text(s));
  EXPECT_EQ(json_tokenizer().encode(std::string("a\0b", 3)), spm_tokenizer().encode(std::string("a\0b", 3)));
}

TEST(UnigramTokenizer, BadTokenizerJsonThrows) {
  TempDir tmp;
  const std::string p = tmp.str() + "/tokenizer.json";
  // The genuine bge-m3 tokenizer.json, cut at 2 MiB mid-vocab.
  expect_error([&] { load_unigram_tokenizer_json(kPartial + "/bge-m3.tokenizer.json.first2MiB"); }, "partial bge-m3");
  std::filesystem::copy_file(kPartial + "/bge-m3.tokenizer.json.first2MiB", p);
  expect_error([&] { load_tokenizer(tmp.str()); }, "partial bge-m3 via load_tokenizer");
  expect_error([&] { load_unigram_tokenizer_json(tmp.str() + "/missing.json"); }, "missing file");

  const std::string good = read_file(kDir + "/tokenizer.json");
  for (size_t cut : {size_t{0}, size_t{1}, size_t{100}, good.size() / 3, good.size() / 2, good.size() - 2}) {
    write_file(p, good.substr(0, cut));
    expect_error([&] { load_unigram_tokenizer_json(p); }, "truncated at " + std::to_string(cut));
  }
  std::mt19937 rng(12345);
  std::string garbage(4096, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  write_file(p, garbage);
  expect_error([&] { load_unigram_tokenizer_json(p); }, "garbage");

  const json base = json::parse(good);
  auto with = [&](const std::function<void(json&)>& edit, const std::string& what) {
    json j = base;
    edit(j);
    write_file(p, j.dump());
    expect_error([&] { load_unigram_tokenizer_json(p); }, what);
  };
  with([](json& j) { j["model"]["type"] = "BPE"; }, "model.type BPE");
  with([](json& j) { j.erase("model"); }, "no model");
  with([](json& j) { j["model"].erase("vocab"); }, "no vocab");
  with([](json& j) { j["model"]["vocab"][5] = json::array({"x", "not a number"}); }, "vocab score string");
  with([](json& j) { j["model"]["vocab"][5] = 3; }, "vocab entry int");
  with([](json& j) { j["model"]["unk_id"] = 100000; }, "unk_id out of range");
  with([](json& j) { j["model"]["vocab"] = json::array(); }, "empty vocab with unk_id");
  with([](json& j) { j["normalizer"] = {{"type", "NFKC"}}; }, "unsupported normalizer");
  with([](json& j) { j["pre_tokenizer"] = {{"type", "ByteLevel"}}; }, "unsupported pre_tokenizer");
  with([](json& j) { j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "!!!!"; }, "bad base64");
  with([](json& j) { j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "AAAA"; }, "empty charsmap trie");
  with([](json& j) { j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "/////w=="; }, "charsmap too short");
  with([](json& j) { j["normalizer"]["normalizers"][1]["pattern"] = {{"Regex", "[a-z]+"}}; }, "unsupported regex");
  with([](json& j) { j["pre_tokenizer"]["prepend_scheme"] = "sometimes"; }, "bad prepend_scheme");
  with([](json& j) { j["pre_tokenizer"]["replacement"] = "ab"; }, "bad replacement");
  with([](json& j) { j["added_tokens"][0]["id"] = "zero"; }, "added token id string");
  with([](json& j) { j["added_tokens"] = json::array({{{"id", -5}, {"content", "<new>"}}}); }, "negative id");
  {
    json j = base;
    j["model"]["vocab"][5][0] = "@@not-utf8@@";
    std::string text = j.dump();
    const size_t at = text.find("@@not-utf8@@");
    text = text.substr(0, at) + std::string(1, '\xC3') + text.substr(at + 12);
    write_file(p, text);
    expect_error([&] { load_unigram_tokenizer_json(p); }, "vocab piece not UTF-8");
  }
}

TEST(UnigramTokenizer, BadSentencePieceModelThrows) {
  TempDir tmp;
  const std::string p = tmp.str() + "/sentencepiece.bpe.model";
  const std::string good = read_file(kDir + "/sentencepiece.bpe.model");
  expect_error([&] { load_unigram_sentencepiece(kPartial + "/xlmr-large.sentencepiece.bpe.model.first2MiB"); },
               "partial real .model");
  expect_error([&] { load_unigram_sentencepiece(tmp.str() + "/missing.model"); }, "missing file");
  for (size_t cut : {size_t{1}, size_t{2}, good.size() - 1, good.size() - 7}) {
    write_file(p, good.substr(0, cut));
    expect_error([&] { load_unigram_sentencepiece(p); }, "truncated at " + std::to_string(cut));
  }
  // Any other cut either fails cleanly or (at a field boundary) loads a smaller model.
  for (size_t cut = 3; cut < good.size(); cut += good.size() / 97) {
    write_file(p, good.substr(0, cut));
    try {
      load_unigram_sentencepiece(p);
    } catch (const Error&) {
    }
  }
  write_file(p, "");
  expect_error([&] { load_unigram_sentencepiece(p); }, "empty file");
  std::mt19937 rng(777);
  for (int trial = 0; trial < 20; ++trial) {
    std::string garbage(1000 + trial, '\0');
    for (auto& c : garbage) c = static_cast<char>(rng());
    write_file(p, garbage);
    try {
      load_unigram_sentencepiece(p);
    } catch (const Error&) {
    }
  }
  write_file(p, std::string("\x0A\xFF\xFF\xFF\xFF\x0F", 6));
  expect_error([&] { load_unigram_sentencepiece(p); }, "piece length past the end");
  write_file(p, std::string("\x0B\x00", 2));
  expect_error([&] { load_unigram_sentencepiece(p); }, "group wire type");
  // A BPE model (trainer_spec.model_type = 2) is refused.
  std::string bpe;
  for (const char* s : {"<unk>", "<s>", "</s>", "a"}) put_bytes_field(bpe, 1, spm_piece(s, -1.0f));
  put_bytes_field(bpe, 2, std::string("\x18\x02", 2));
  write_file(p, bpe);
  expect_error([&] { load_unigram_sentencepiece(p); }, "BPE model");
  // Bad charsmap inside normalizer_spec.
  std::string badmap;
  for (const char* s : {"<unk>", "<s>", "</s>", "a"}) put_bytes_field(badmap, 1, spm_piece(s, -1.0f));
  std::string norm;
  put_bytes_field(norm, 2, std::string("\x10\x00\x00\x00\x01\x02", 6));
  put_bytes_field(badmap, 3, norm);
  write_file(p, badmap);
  expect_error([&] { load_unigram_sentencepiece(p); }, "bad charsmap");
}

TEST(UnigramTokenizer, MultiMegabyteText) {
  const Tokenizer& tok = json_tokenizer();
  const std::string zh = read_file(kShared + "/data/text-corpora/hongloumeng.zh.txt");
  const std::string en = read_file(kShared + "/data/text-corpora/war_and_peace.en.txt");
  ASSERT_GT(zh.size(), 2000000u);
  auto time_it = [&](const std::string& text, const char* name) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok.encode(text);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[throughput] %-22s %8.2f MB in %6.3f s = %6.2f MB/s (%zu ids)\n", name, text.size() / 1e6, s,
                text.size() / 1e6 / s, ids.size());
    EXPECT_FALSE(ids.empty());
    return s;
  };
  EXPECT_LT(time_it(zh, "hongloumeng (zh)"), 10.0);
  EXPECT_LT(time_it(en, "war and peace (en)"), 10.0);
  // Degenerate inputs: one 2 MB "word", and 1 MB of unknown characters (one fused <unk>).
  EXPECT_LT(time_it(std::string(2000000, 'a'), "2 MB of 'a'"), 10.0);
  std::string unk;
  while (unk.size() < 1000000) unk += "\xF0\x9F\xAC\x80";  // U+1FB00 (not in the vocab)
  EXPECT_LT(time_it(unk, "1 MB unknown chars"), 10.0);
  const auto unk_ids = tok.encode(unk);  // "▁" + one fused <unk>
  ASSERT_EQ(unk_ids.size(), 2u);
  EXPECT_EQ(tok.id_to_token(unk_ids[0]), "\xE2\x96\x81");
  EXPECT_EQ(unk_ids[1], 3);
}

TEST(UnigramTokenizer, ConcurrentEncode) {
  const Tokenizer& tok = json_tokenizer();
  const auto& recs = parity_records();
  std::vector<std::string> texts;
  for (size_t i = 0; i < recs.size() && texts.size() < 2000; i += 3)
    if (recs[i].contains("text")) texts.push_back(recs[i]["text"].get<std::string>());
  std::vector<std::vector<int32_t>> want;
  for (const auto& t : texts) want.push_back(tok.encode(t));
  std::vector<size_t> bad(4, 0);
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      for (size_t i = th; i < texts.size() * 2; i += 1) {
        const size_t k = (i * 7 + th) % texts.size();
        if (tok.encode(texts[k]) != want[k]) ++bad[th];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int th = 0; th < 4; ++th) EXPECT_EQ(bad[th], 0u) << "thread " << th;
}
