// The tokenizer.json reader shared by all models (see tokenizer_json.h).
#include "tokenizer/tokenizer_json.h"

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace crossrank {

using nlohmann::json;

std::string read_file_bytes(const std::string& path, const char* kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open " + kind);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error");
  return std::move(ss).str();
}

namespace json_field {

const json* find(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

bool get_bool(const json& obj, const char* key, bool dflt, const std::string& where) {
  const json* v = find(obj, key);
  if (!v) return dflt;
  if (!v->is_boolean()) throw Error(where + "." + key + ": must be a boolean");
  return v->get<bool>();
}

std::string get_string(const json& obj, const char* key, const std::string& dflt, const std::string& where) {
  const json* v = find(obj, key);
  if (!v) return dflt;
  if (!v->is_string()) throw Error(where + "." + key + ": must be a string");
  return v->get<std::string>();
}

std::string require_string(const json& obj, const char* key, const std::string& where) {
  const json* v = find(obj, key);
  if (!v || !v->is_string()) throw Error(where + "." + key + ": missing or not a string");
  return v->get<std::string>();
}

}  // namespace json_field

std::string base64_decode(const std::string& s, const std::string& where) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() % 4 != 0) throw Error(where + ": base64 length is not a multiple of 4");
  std::string out;
  out.reserve(s.size() / 4 * 3);
  for (size_t i = 0; i < s.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=' && i + 4 == s.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        if (pad) throw Error(where + ": invalid base64 padding");
        v[k] = val(c);
        if (v[k] < 0) throw Error(where + ": invalid base64 character");
      }
    }
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

namespace {

using json_field::find;
using json_field::get_bool;
using json_field::get_string;
using json_field::require_string;

std::string type_of(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": must be an object");
  return require_string(j, "type", where);
}

// Parses a Replace regex of the forms "<c>{n,}", "<c>+" or a metachar-free literal.
void parse_replace_regex(const std::string& re, NormalizerStep& step, const std::string& where) {
  static const std::string kMeta = "\\.+*?()|[]{}^$";
  auto unsupported = [&]() {
    throw Error(where + ": unsupported Replace regex '" + re + "' (supported: literal, 'c+', 'c{n,}')");
  };
  if (re.empty()) unsupported();
  if (re.find_first_of(kMeta) == std::string::npos) {
    step.pattern = re;
    return;
  }
  // One atom: an escaped punctuation char or one non-meta code point.
  size_t i = 0;
  std::string atom;
  if (re[0] == '\\') {
    if (re.size() < 2 || kMeta.find(re[1]) == std::string::npos) unsupported();
    atom = re.substr(1, 1);
    i = 2;
  } else {
    if (kMeta.find(re[0]) != std::string::npos) unsupported();
    size_t k = 0;
    unicode::next_code_point(re, k);
    atom = re.substr(0, k);
    i = k;
  }
  const std::string q = re.substr(i);
  int min_repeat = 0;
  if (q == "+") {
    min_repeat = 1;
  } else if (q.size() >= 4 && q.front() == '{' && q.substr(q.size() - 2) == ",}") {
    const std::string num = q.substr(1, q.size() - 3);
    if (num.empty() || num.size() > 6 || num.find_first_not_of("0123456789") != std::string::npos) unsupported();
    min_repeat = std::stoi(num);
    if (min_repeat < 1) unsupported();
  } else {
    unsupported();
  }
  step.pattern = atom;
  step.min_repeat = min_repeat;
}

void parse_normalizer(const json& j, const std::string& where, std::vector<NormalizerStep>& steps) {
  const std::string type = type_of(j, where);
  NormalizerStep step;
  if (type == "Sequence") {
    const json* list = find(j, "normalizers");
    if (!list || !list->is_array()) throw Error(where + ".normalizers: must be an array");
    for (size_t i = 0; i < list->size(); ++i)
      parse_normalizer((*list)[i], where + ".normalizers[" + std::to_string(i) + "]", steps);
    return;
  } else if (type == "Precompiled") {
    step.kind = NormalizerStep::Kind::kPrecompiled;
    const json* cm = find(j, "precompiled_charsmap");
    if (!cm) return;  // no charsmap: identity
    std::string blob;
    if (cm->is_string()) {
      blob = base64_decode(cm->get<std::string>(), where + ".precompiled_charsmap");
    } else if (cm->is_array()) {
      for (const auto& b : *cm) {
        if (!b.is_number_integer() || b.get<int64_t>() < 0 || b.get<int64_t>() > 255)
          throw Error(where + ".precompiled_charsmap: array entries must be bytes");
        blob.push_back(static_cast<char>(b.get<int>()));
      }
    } else {
      throw Error(where + ".precompiled_charsmap: must be a base64 string");
    }
    step.charsmap = std::make_shared<PrecompiledCharsmap>(blob, where + ".precompiled_charsmap");
  } else if (type == "Replace") {
    step.kind = NormalizerStep::Kind::kReplace;
    const json* p = find(j, "pattern");
    if (p && find(*p, "String")) step.pattern = require_string(*p, "String", where + ".pattern");
    else if (p && find(*p, "Regex")) parse_replace_regex(require_string(*p, "Regex", where + ".pattern"), step, where + ".pattern");
    else throw Error(where + ".pattern: must have 'String' or 'Regex'");
    step.content = require_string(j, "content", where);
    check_utf8(step.pattern, "Replace pattern");
    check_utf8(step.content, "Replace content");
  } else if (type == "Strip") {
    step.kind = NormalizerStep::Kind::kStrip;
    step.strip_left = get_bool(j, "strip_left", true, where);
    step.strip_right = get_bool(j, "strip_right", true, where);
  } else if (type == "BertNormalizer") {
    step.kind = NormalizerStep::Kind::kBert;
    step.bert.clean_text = get_bool(j, "clean_text", true, where);
    step.bert.handle_chinese_chars = get_bool(j, "handle_chinese_chars", true, where);
    step.bert.lowercase = get_bool(j, "lowercase", true, where);
    if (find(j, "strip_accents")) step.bert.strip_accents = get_bool(j, "strip_accents", false, where);
  } else if (type == "NFC") {
    step.kind = NormalizerStep::Kind::kNfc;
  } else {
    throw Error(where + ": unsupported normalizer type '" + type +
                "' (supported: Sequence, Precompiled, Replace, Strip, BertNormalizer, NFC)");
  }
  steps.push_back(std::move(step));
}

MetaspaceOptions parse_metaspace(const json& j, const std::string& where) {
  MetaspaceOptions m;
  m.replacement = require_string(j, "replacement", where);
  check_utf8(m.replacement, "Metaspace replacement");
  size_t k = 0;
  if (m.replacement.empty() || (unicode::next_code_point(m.replacement, k), k != m.replacement.size()))
    throw Error(where + ".replacement: must be exactly one character");
  const std::string scheme = get_string(j, "prepend_scheme", "always", where);
  if (scheme == "always") m.prepend = MetaspaceOptions::Prepend::kAlways;
  else if (scheme == "first") m.prepend = MetaspaceOptions::Prepend::kFirst;
  else if (scheme == "never") m.prepend = MetaspaceOptions::Prepend::kNever;
  else throw Error(where + ".prepend_scheme: unknown value '" + scheme + "'");
  if (!get_bool(j, "add_prefix_space", true, where)) {
    if (m.prepend != MetaspaceOptions::Prepend::kNever)
      throw Error(where + ".add_prefix_space: false does not match prepend_scheme '" + scheme + "'");
  }
  m.split = get_bool(j, "split", true, where);
  return m;
}

void parse_pre_tokenizer(const json& j, const std::string& where, std::vector<PreTokenizerStep>& steps) {
  const std::string type = type_of(j, where);
  PreTokenizerStep step;
  if (type == "Sequence") {
    const json* list = find(j, "pretokenizers");
    if (!list || !list->is_array()) throw Error(where + ".pretokenizers: must be an array");
    for (size_t i = 0; i < list->size(); ++i)
      parse_pre_tokenizer((*list)[i], where + ".pretokenizers[" + std::to_string(i) + "]", steps);
    return;
  } else if (type == "WhitespaceSplit") {
    step.kind = PreTokenizerStep::Kind::kWhitespaceSplit;
  } else if (type == "Metaspace") {
    step.kind = PreTokenizerStep::Kind::kMetaspace;
    step.metaspace = parse_metaspace(j, where);
  } else if (type == "BertPreTokenizer") {
    step.kind = PreTokenizerStep::Kind::kBert;
  } else if (type == "Split") {
    step.kind = PreTokenizerStep::Kind::kSplit;
    const json* p = find(j, "pattern");
    if (!p || !find(*p, "Regex"))
      throw Error(where + ".pattern: only a 'Regex' pattern is supported for Split");
    const std::string re = require_string(*p, "Regex", where + ".pattern");
    if (!split_pattern_from_regex(re, step.pattern))
      throw Error(where + ".pattern.Regex: unsupported split regex '" + re +
                  "' (supported: the Qwen2 and GPT-2 byte-level BPE patterns)");
    const std::string behavior = get_string(j, "behavior", "Isolated", where);
    if (behavior != "Isolated") throw Error(where + ".behavior: only 'Isolated' is supported, not '" + behavior + "'");
    if (get_bool(j, "invert", false, where)) throw Error(where + ".invert: true is not supported");
  } else if (type == "ByteLevel") {
    step.kind = PreTokenizerStep::Kind::kByteLevel;
    step.add_prefix_space = get_bool(j, "add_prefix_space", true, where);
    step.use_regex = get_bool(j, "use_regex", true, where);
  } else {
    throw Error(where + ": unsupported pre_tokenizer type '" + type +
                "' (supported: Sequence, WhitespaceSplit, Metaspace, BertPreTokenizer, Split, ByteLevel)");
  }
  steps.push_back(std::move(step));
}

// The special token content of a [content, id] pair (Roberta/BertProcessing).
std::string pair_content(const json& j, const char* key, const std::string& where) {
  const json* v = find(j, key);
  if (!v) return "";
  if (!v->is_array() || v->empty() || !(*v)[0].is_string())
    throw Error(where + "." + key + ": must be [content, id]");
  return (*v)[0].get<std::string>();
}

// cls = the special token before sequence A in TemplateProcessing.single, sep = the one after.
void parse_post_processor(const json& j, const std::string& where, TokenizerJson& tj) {
  const std::string type = type_of(j, where);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    tj.cls_token = pair_content(j, "cls", where);
    tj.sep_token = pair_content(j, "sep", where);
  } else if (type == "TemplateProcessing") {
    const json* single = find(j, "single");
    if (!single) return;
    if (!single->is_array()) throw Error(where + ".single: must be an array");
    bool seen_a = false;
    for (const auto& piece : *single) {
      if (const json* st = find(piece, "SpecialToken")) {
        const std::string id = require_string(*st, "id", where + ".single[].SpecialToken");
        if (!seen_a && tj.cls_token.empty()) tj.cls_token = id;
        if (seen_a && tj.sep_token.empty()) tj.sep_token = id;
      } else if (find(piece, "Sequence")) {
        seen_a = true;
      }
    }
  } else if (type == "Sequence") {
    const json* list = find(j, "processors");
    if (!list || !list->is_array()) throw Error(where + ".processors: must be an array");
    for (size_t i = 0; i < list->size(); ++i)
      parse_post_processor((*list)[i], where + ".processors[" + std::to_string(i) + "]", tj);
  }
  // ByteLevel and others add no special token.
}

std::vector<AddedTokenSpec> parse_added_tokens(const json& list, const std::string& where) {
  if (!list.is_array()) throw Error(where + ": must be an array");
  std::vector<AddedTokenSpec> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& a = list[i];
    const std::string w = where + "[" + std::to_string(i) + "]";
    if (!a.is_object()) throw Error(w + ": must be an object");
    const json* id = find(a, "id");
    if (!id || !id->is_number_integer() || id->get<int64_t>() < 0 ||
        id->get<int64_t>() > std::numeric_limits<int32_t>::max())
      throw Error(w + ".id: missing or not a valid token id");
    AddedTokenSpec t;
    t.content = require_string(a, "content", w);
    check_utf8(t.content, "added token");
    t.special = get_bool(a, "special", false, w);
    t.single_word = get_bool(a, "single_word", false, w);
    t.lstrip = get_bool(a, "lstrip", false, w);
    t.rstrip = get_bool(a, "rstrip", false, w);
    t.normalized = get_bool(a, "normalized", !t.special, w);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

TokenizerJson parse_tokenizer_json(json& doc, const std::string& path) {
  TokenizerJson tj;
  tj.path = path;
  try {
    if (!doc.is_object()) throw Error(path + ": the top level is not a JSON object");
    auto m = doc.find("model");
    if (m == doc.end() || !m->is_object()) throw Error(path + ": missing object 'model'");
    tj.model_type = get_string(*m, "type", "", path + ": model");
    if (const json* a = find(doc, "added_tokens")) tj.added_tokens = parse_added_tokens(*a, path + ": added_tokens");
    if (const json* n = find(doc, "normalizer")) parse_normalizer(*n, path + ": normalizer", tj.normalizer);
    if (const json* p = find(doc, "pre_tokenizer")) parse_pre_tokenizer(*p, path + ": pre_tokenizer", tj.pre_tokenizer);
    if (const json* p = find(doc, "post_processor")) parse_post_processor(*p, path + ": post_processor", tj);
    if (const json* p = find(doc, "padding")) tj.pad_token = get_string(*p, "pad_token", "", path + ": padding");
    tj.model = std::make_shared<const json>(std::move(*m));
  } catch (const json::exception& e) {
    throw Error(path + ": malformed tokenizer.json (" + e.what() + ")");
  }
  return tj;
}

TokenizerJson parse_tokenizer_json_text(std::string_view text, const std::string& path) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
  return parse_tokenizer_json(doc, path);
}

namespace {
std::unique_ptr<Tokenizer> make_from_json(const TokenizerJson& tj, const std::string& path);
}  // namespace

TokenizerJson read_tokenizer_json(const std::string& path) {
  return parse_tokenizer_json_text(read_file_bytes(path, "tokenizer.json"), path);
}

std::unique_ptr<Tokenizer> load_tokenizer_json(const std::string& path) {
  return make_from_json(read_tokenizer_json(path), path);
}

std::unique_ptr<Tokenizer> load_tokenizer_json_text(std::string_view text, const std::string& what) {
  return make_from_json(parse_tokenizer_json_text(text, what), what);
}

namespace {
std::unique_ptr<Tokenizer> make_from_json(const TokenizerJson& tj, const std::string& path) {
  std::string type = tj.model_type;
  if (type.empty()) {  // HF infers an untagged model from its fields
    const json* vocab = find(*tj.model, "vocab");
    type = vocab && vocab->is_array() ? "Unigram" : find(*tj.model, "merges") ? "BPE" : "WordPiece";
  }
  if (type == "Unigram") return make_unigram_from_json(tj);
  if (type == "WordPiece") return make_wordpiece_from_json(tj);
  if (type == "BPE") return make_bpe_from_json(tj);
  throw Error(path + ": model.type: unsupported tokenizer model type '" + type +
              "' (supported: Unigram, WordPiece, BPE)");
}
}  // namespace

}  // namespace crossrank
