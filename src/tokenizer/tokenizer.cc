// Tokenizer dispatch: picks the loader from the files a Hugging Face folder holds.
#include "tokenizer/tokenizer.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer_json.h"
#include "util/error.h"

namespace crossrank {

namespace fs = std::filesystem;

void check_utf8(std::string_view s, const char* what) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto fail = [&](size_t at) {
    throw Error(std::string("invalid UTF-8 in ") + what + " at byte " + std::to_string(at));
  };
  while (i < n) {
    unsigned c = p[i];
    if (c < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else fail(i);
    if (i + len > n) fail(i);
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) fail(i);
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Reject overlong forms, surrogates and code points beyond U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      fail(i);
    i += len;
  }
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir) {
  const fs::path dir(model_dir);
  if (fs::exists(dir / "tokenizer.json")) return load_tokenizer_json((dir / "tokenizer.json").string());
  if (fs::exists(dir / "sentencepiece.bpe.model"))
    return load_unigram_sentencepiece((dir / "sentencepiece.bpe.model").string());
  if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) return load_bpe_vocab_merges(model_dir);
  if (fs::exists(dir / "vocab.txt")) {
    bool lower = true;
    const fs::path tc = dir / "tokenizer_config.json";
    if (fs::exists(tc)) {
      try {
        auto j = nlohmann::json::parse(read_file_bytes(tc.string(), "tokenizer_config.json"));
        if (j.contains("do_lower_case") && j["do_lower_case"].is_boolean()) lower = j["do_lower_case"].get<bool>();
      } catch (const nlohmann::json::exception& e) {
        throw Error(tc.string() + ": not valid JSON (" + e.what() + ")");
      }
    }
    return load_wordpiece_vocab_txt((dir / "vocab.txt").string(), lower);
  }
  throw Error(model_dir +
              ": no tokenizer found (expected tokenizer.json, sentencepiece.bpe.model, vocab.json + merges.txt "
              "or vocab.txt)");
}

}  // namespace crossrank
