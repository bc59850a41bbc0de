// BPE loaders: tokenizer.json (through the shared reader), tiktoken ranks + a tokenizer.json
// skeleton, and a Qwen2 "slow" folder (vocab.json + merges.txt + tokenizer_config.json).
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/vocab_index.h"
#include "util/error.h"

namespace crossrank {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Normalizer, pre-tokenizer ([Split] ByteLevel), added and special tokens from the shared
// parts of a tokenizer.json.
void pipeline_from_json(const TokenizerJson& tj, BpeConfig& cfg) {
  cfg.normalizer = tj.normalizer;
  const auto& pt = tj.pre_tokenizer;
  std::size_t i = 0;
  if (pt.empty() && cfg.byte_fallback) {
    // No pre-tokenizer and byte fallback: SentencePiece-style BPE (Gemma, Llama; spaces
    // made "▁" by the normalizer). Needs the model options read first.
    cfg.byte_level = false;
  } else if (i < pt.size() && pt[i].kind == PreTokenizerStep::Kind::kSplit) {
    cfg.split = pt[i++].pattern;
  }
  if (!cfg.byte_level) {
  } else if (i < pt.size() && pt[i].kind == PreTokenizerStep::Kind::kByteLevel) {
    cfg.add_prefix_space = pt[i].add_prefix_space;
    cfg.byte_level_regex = pt[i].use_regex;
    ++i;
  } else {
    throw Error(tj.path + ": pre_tokenizer: a BPE tokenizer needs a ByteLevel pre-tokenizer (supported: "
                          "ByteLevel, Sequence[Split, ByteLevel], or none for SentencePiece-style BPE)");
  }
  if (i != pt.size())
    throw Error(tj.path + ": pre_tokenizer: unsupported for a BPE tokenizer (supported: ByteLevel, "
                          "Sequence[Split, ByteLevel])");
  cfg.added_tokens = tj.added_tokens;
  cfg.cls_token = tj.cls_token;
  cfg.sep_token = tj.sep_token;
  cfg.pad_token = tj.pad_token;
}

// The BPE model options other than vocab and merges.
void options_from_json(const json& model, const std::string& where, BpeConfig& cfg) {
  cfg.unk_token = json_field::get_string(model, "unk_token", "", where);
  cfg.fuse_unk = json_field::get_bool(model, "fuse_unk", false, where);
  cfg.byte_fallback = json_field::get_bool(model, "byte_fallback", false, where);
  cfg.ignore_merges = json_field::get_bool(model, "ignore_merges", false, where);
  if (const json* d = json_field::find(model, "dropout")) {
    if (!d->is_number() || d->get<double>() != 0.0) throw Error(where + ".dropout: BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!json_field::get_string(model, key, "", where).empty())
      throw Error(where + "." + key + ": a non-empty value is not supported");
  }
}

// Resolves merges given as strings to ids ("a b", or the pair [a, b]); the result is the
// token spelled a + b.
std::vector<BpeMerge> resolve_merges(const std::vector<std::pair<std::string, std::string>>& merges,
                                     const std::vector<std::pair<std::string, int32_t>>& vocab,
                                     const std::string& where) {
  std::vector<std::pair<std::string_view, int32_t>> entries(vocab.begin(), vocab.end());
  VocabIndex index;
  index.build(entries);
  std::vector<BpeMerge> out;
  out.reserve(merges.size());
  std::string joined;
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    joined = a + b;
    const BpeMerge m{index.find(a), index.find(b), index.find(joined)};
    if (m.left < 0 || m.right < 0 || m.result < 0)
      throw Error(where + "[" + std::to_string(r) + "]: merge '" + a + " " + b + "' names a token outside the vocabulary");
    out.push_back(m);
  }
  return out;
}

// One merges.txt line / legacy "a b" string: exactly two parts split on ' '.
bool split_merge(std::string_view line, std::pair<std::string, std::string>& out) {
  const std::size_t sp = line.find(' ');
  if (sp == std::string_view::npos || line.find(' ', sp + 1) != std::string_view::npos) return false;
  out = {std::string(line.substr(0, sp)), std::string(line.substr(sp + 1))};
  return true;
}

std::vector<std::pair<std::string, int32_t>> vocab_from_json(const json& v, const std::string& where) {
  if (!v.is_object()) throw Error(where + ": must be an object {token: id}");
  std::vector<std::pair<std::string, int32_t>> out;
  out.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() >= (1 << 30))
      throw Error(where + "['" + it.key() + "']: not a valid id");
    check_utf8(it.key(), "vocab token");
    out.emplace_back(it.key(), static_cast<int32_t>(it.value().get<int64_t>()));
  }
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_from_json(const TokenizerJson& tj) {
  const std::string& path = tj.path;
  if (!tj.model_type.empty() && tj.model_type != "BPE")
    throw Error(path + ": model.type is '" + tj.model_type + "', expected 'BPE'");
  BpeConfig cfg;
  try {
    const json& model = *tj.model;
    options_from_json(model, path + ": model", cfg);
    const json* vocab = json_field::find(model, "vocab");
    if (!vocab) throw Error(path + ": model.vocab: missing");
    cfg.vocab = vocab_from_json(*vocab, path + ": model.vocab");
    const json* merges = json_field::find(model, "merges");
    if (!merges || !merges->is_array()) throw Error(path + ": model.merges: missing or not an array");
    std::vector<std::pair<std::string, std::string>> pairs;
    pairs.reserve(merges->size());
    for (std::size_t r = 0; r < merges->size(); ++r) {
      const json& m = (*merges)[r];
      std::pair<std::string, std::string> p;
      if (m.is_string() && m.get_ref<const std::string&>().rfind("#version", 0) == 0) continue;
      if (m.is_string() && split_merge(m.get<std::string>(), p)) pairs.push_back(std::move(p));
      else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        pairs.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      else throw Error(path + ": model.merges[" + std::to_string(r) + "]: expected \"a b\" or [\"a\", \"b\"]");
    }
    cfg.merges = resolve_merges(pairs, cfg.vocab, path + ": model.merges");
  } catch (const json::exception& e) {
    throw Error(path + ": malformed tokenizer.json model (" + e.what() + ")");
  }
  pipeline_from_json(tj, cfg);
  return make_bpe_tokenizer(std::move(cfg), path);
}

std::unique_ptr<Tokenizer> load_bpe_tokenizer_json(const std::string& path) {
  return make_bpe_from_json(read_tokenizer_json(path));
}

std::unique_ptr<Tokenizer> load_bpe_tiktoken(const std::string& tiktoken_path, const std::string& skeleton_path) {
  return load_bpe_tiktoken_text(tiktoken_path, read_file_bytes(skeleton_path, "tokenizer.json"), skeleton_path);
}

std::unique_ptr<Tokenizer> load_bpe_tiktoken_text(const std::string& tiktoken_path, std::string_view skeleton_text,
                                                  const std::string& skeleton_path) {
  const TokenizerJson tj = parse_tokenizer_json_text(skeleton_text, skeleton_path);
  if (tj.model_type != "BPE") throw Error(skeleton_path + ": model.type must be 'BPE' for a tiktoken vocabulary");
  BpeConfig cfg;
  try {
    options_from_json(*tj.model, skeleton_path + ": model", cfg);
  } catch (const json::exception& e) {
    throw Error(skeleton_path + ": malformed model (" + e.what() + ")");
  }
  pipeline_from_json(tj, cfg);

  // Ranks: one `base64(bytes) rank` per line; the token id is its rank.
  const std::string text = read_file_bytes(tiktoken_path, "tiktoken file");
  std::vector<std::string> bytes_of;  // by rank
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string where = tiktoken_path + ": line " + std::to_string(line_no);
    const std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp + 1 == line.size()) throw Error(where + ": expected 'base64 rank'");
    const std::string_view num = line.substr(sp + 1);
    if (num.size() > 9 || num.find_first_not_of("0123456789") != std::string_view::npos)
      throw Error(where + ": bad rank '" + std::string(num) + "'");
    const auto rank = static_cast<std::size_t>(std::stoul(std::string(num)));
    if (rank >= bytes_of.size()) bytes_of.resize(rank + 1);
    std::string tok = base64_decode(std::string(line.substr(0, sp)), where);
    if (tok.empty()) throw Error(where + ": empty token");
    if (!bytes_of[rank].empty()) throw Error(where + ": rank " + std::to_string(rank) + " appears twice");
    bytes_of[rank] = std::move(tok);
  }
  if (bytes_of.empty()) throw Error(tiktoken_path + ": no ranks");
  std::vector<std::pair<std::string_view, int32_t>> entries;
  for (std::size_t r = 0; r < bytes_of.size(); ++r) {
    if (bytes_of[r].empty()) throw Error(tiktoken_path + ": rank " + std::to_string(r) + " is missing");
    entries.emplace_back(bytes_of[r], static_cast<int32_t>(r));
  }
  VocabIndex by_bytes;
  by_bytes.build(entries);
  if (by_bytes.size() != entries.size()) throw Error(tiktoken_path + ": a token appears twice");
  // transformers' TikTokenConverter: a merge for every split of a token into two tokens,
  // ordered by the rank of the result, then by the ranks of the left and right halves.
  for (std::size_t r = 0; r < bytes_of.size(); ++r) {
    const std::string_view tok = bytes_of[r];
    cfg.vocab.emplace_back(byte_level_encode(tok), static_cast<int32_t>(r));
    for (std::size_t k = 1; k < tok.size(); ++k) {
      const int32_t left = by_bytes.find(tok.substr(0, k));
      const int32_t right = left < 0 ? -1 : by_bytes.find(tok.substr(k));
      if (right >= 0) cfg.merges.push_back({left, right, static_cast<int32_t>(r)});
    }
  }
  std::stable_sort(cfg.merges.begin(), cfg.merges.end(), [](const BpeMerge& a, const BpeMerge& b) {
    if (a.result != b.result) return a.result < b.result;
    return a.left != b.left ? a.left < b.left : a.right < b.right;
  });
  return make_bpe_tokenizer(std::move(cfg), tiktoken_path);
}

std::unique_ptr<Tokenizer> load_bpe_vocab_merges(const std::string& model_dir) {
  const fs::path dir(model_dir);
  const std::string vocab_path = (dir / "vocab.json").string(), merges_path = (dir / "merges.txt").string();
  const fs::path config_path = dir / "tokenizer_config.json";
  BpeConfig cfg;
  json config = json::object();
  try {
    try {
      cfg.vocab = vocab_from_json(json::parse(read_file_bytes(vocab_path, "vocab.json")), vocab_path);
      if (fs::exists(config_path)) config = json::parse(read_file_bytes(config_path.string(), "tokenizer_config.json"));
    } catch (const json::parse_error& e) {
      throw Error(model_dir + ": vocab.json or tokenizer_config.json is not valid JSON (" + e.what() + ")");
    }
    const std::string where = config_path.string();
    if (!config.is_object()) throw Error(where + ": must be a JSON object");
    const std::string cls = json_field::get_string(config, "tokenizer_class", "Qwen2Tokenizer", where);
    if (cls != "Qwen2Tokenizer" && cls != "Qwen2TokenizerFast")
      throw Error(where + ".tokenizer_class: '" + cls + "' is not supported without tokenizer.json (supported: Qwen2Tokenizer)");
    // transformers' Qwen2Tokenizer: NFC, Split(Qwen2 regex), ByteLevel(use_regex=false).
    NormalizerStep nfc;
    nfc.kind = NormalizerStep::Kind::kNfc;
    cfg.normalizer.push_back(nfc);
    cfg.split = SplitPattern::kQwen2;
    cfg.add_prefix_space = json_field::get_bool(config, "add_prefix_space", false, where);
    // Added tokens: added_tokens_decoder by id, then the special tokens not among them.
    if (const json* dec = json_field::find(config, "added_tokens_decoder")) {
      if (!dec->is_object()) throw Error(where + ".added_tokens_decoder: must be an object");
      std::vector<std::pair<int64_t, AddedTokenSpec>> byid;
      for (auto it = dec->begin(); it != dec->end(); ++it) {
        const std::string w = where + ".added_tokens_decoder['" + it.key() + "']";
        if (it.key().empty() || it.key().size() > 9 || it.key().find_first_not_of("0123456789") != std::string::npos)
          throw Error(w + ": the key must be a token id");
        AddedTokenSpec t;
        t.content = json_field::require_string(it.value(), "content", w);
        check_utf8(t.content, "added token");
        t.special = json_field::get_bool(it.value(), "special", false, w);
        t.single_word = json_field::get_bool(it.value(), "single_word", false, w);
        t.lstrip = json_field::get_bool(it.value(), "lstrip", false, w);
        t.rstrip = json_field::get_bool(it.value(), "rstrip", false, w);
        t.normalized = json_field::get_bool(it.value(), "normalized", !t.special, w);
        byid.emplace_back(std::stoll(it.key()), std::move(t));
      }
      std::stable_sort(byid.begin(), byid.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (auto& [id, t] : byid) cfg.added_tokens.push_back(std::move(t));
    }
    std::vector<std::string> specials;
    for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
      const json* v = json_field::find(config, key);
      if (v && v->is_string()) specials.push_back(v->get<std::string>());
      else if (v && v->is_object()) specials.push_back(json_field::require_string(*v, "content", where + "." + key));
    }
    if (const json* extra = json_field::find(config, "additional_special_tokens"); extra && extra->is_array())
      for (const json& e : *extra)
        if (e.is_string()) specials.push_back(e.get<std::string>());
    for (const std::string& s : specials) {
      const bool known = std::any_of(cfg.added_tokens.begin(), cfg.added_tokens.end(),
                                     [&](const AddedTokenSpec& t) { return t.content == s; });
      if (known || s.empty()) continue;
      AddedTokenSpec t;
      t.content = s;
      t.special = true;
      t.normalized = false;
      cfg.added_tokens.push_back(std::move(t));
    }
    cfg.pad_token = json_field::get_string(config, "pad_token", "", where);
  } catch (const json::exception& e) {
    throw Error(model_dir + ": malformed vocab.json / tokenizer_config.json (" + e.what() + ")");
  }
  // merges.txt: "#version" lines skipped, then one "a b" per line (HF convert_merges_to_hashmap).
  const std::string text = read_file_bytes(merges_path, "merges.txt");
  check_utf8(text, merges_path.c_str());
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    std::pair<std::string, std::string> p;
    if (!split_merge(line, p)) throw Error(merges_path + ": line " + std::to_string(line_no) + ": expected 'a b'");
    pairs.push_back(std::move(p));
  }
  cfg.merges = resolve_merges(pairs, cfg.vocab, merges_path);
  return make_bpe_tokenizer(std::move(cfg), model_dir);
}

}  // namespace crossrank
