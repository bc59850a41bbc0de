// BERT WordPiece tokenizer matching Hugging Face tokenizers 0.23 id for id.
//
// Pipeline of HF TokenizerImpl::encode(text, add_special_tokens=false) for a BERT
// tokenizer.json, reproduced step by step:
//   1. added-token split of the raw text (tokens with normalized=false), leftmost-longest;
//   2. BertNormalizer on every remaining piece, then the split on normalized=true tokens;
//   3. BertPreTokenizer (whitespace removed, punctuation isolated);
//   4. WordPiece greedy longest-match-first per word ([UNK] for the whole word when it
//      cannot be covered or has more than max_input_chars_per_word code points).
#include "tokenizer/wordpiece.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace crossrank {
namespace {

using unicode::append_utf8;
using unicode::next_code_point;

// HF normalizers/bert.rs is_chinese_char: the CJK ideograph blocks BERT spaces out.
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// bert.rs is_whitespace / is_control (\t \n \r count as whitespace, not control).
bool bert_is_whitespace(char32_t c) { return unicode::is_white_space(c); }
bool bert_is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  return unicode::hf_is_other(c);
}

// Pre-tokenizer class of a code point: 0 word character, 1 whitespace, 2 punctuation.
enum : uint8_t { kWord = 0, kSpace = 1, kPunct = 2 };

constexpr std::array<uint8_t, 128> make_ascii_class() {
  std::array<uint8_t, 128> t{};
  for (unsigned c = 0; c < 128; ++c) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) t[c] = kSpace;
    else if ((c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
             (c >= 0x7B && c <= 0x7E))
      t[c] = kPunct;
    else t[c] = kWord;
  }
  return t;
}
constexpr std::array<uint8_t, 128> kAsciiClass = make_ascii_class();

// Calls f(piece) for every BertPreTokenizer piece of `s`.
template <class F>
void for_each_bert_piece(std::string_view s, F&& f) {
  std::size_t start = 0, i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const std::size_t at = i;
    const auto b = static_cast<unsigned char>(s[i]);
    uint8_t cls;
    if (b < 0x80) {
      ++i;
      cls = kAsciiClass[b];
    } else {
      const char32_t c = next_code_point(s, i);
      if (c < 0x10000) {
        const uint8_t f = unicode::hf_flags(c);
        cls = (f & unicode::kHfWhiteSpace) ? kSpace : (f & unicode::kHfPunctuation) ? kPunct : kWord;
      } else {  // no supplementary code point is White_Space
        cls = unicode::hf_is_punctuation(c) ? kPunct : kWord;
      }
    }
    if (cls == kWord) continue;
    if (at > start) f(s.substr(start, at - start));
    if (cls == kPunct) f(s.substr(at, i - at));
    start = i;
  }
  if (start < n) f(s.substr(start));
}

// Byte trie over added-token contents: leftmost-longest, non-overlapping matching
// (the semantics of daachorse MatchKind::LeftmostLongest used by HF).
class TokenTrie {
 public:
  void insert(std::string_view key, int32_t value) {
    if (key.empty()) return;
    if (nodes_.empty()) nodes_.emplace_back();
    first_[static_cast<unsigned char>(key[0])] = true;
    int32_t node = 0;
    for (char ch : key) {
      const auto b = static_cast<unsigned char>(ch);
      int32_t next = child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        auto& kids = nodes_[static_cast<std::size_t>(node)].children;
        kids.insert(std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, int32_t{-1})),
                    {b, next});
        nodes_.emplace_back();
      }
      node = next;
    }
    nodes_[static_cast<std::size_t>(node)].value = value;
  }

  bool empty() const { return nodes_.empty(); }

  // Calls f(start, end, value) for each leftmost-longest match in s, left to right.
  template <class F>
  void for_each_match(std::string_view s, F&& f) const {
    if (nodes_.empty()) return;
    const std::size_t n = s.size();
    std::size_t pos = 0;
    while (pos < n) {
      if (!first_[static_cast<unsigned char>(s[pos])]) {
        ++pos;
        continue;
      }
      int32_t node = 0, best_value = -1;
      std::size_t best_end = 0;
      for (std::size_t j = pos; j < n; ++j) {
        node = child(node, static_cast<unsigned char>(s[j]));
        if (node < 0) break;
        const int32_t v = nodes_[static_cast<std::size_t>(node)].value;
        if (v >= 0) {
          best_value = v;
          best_end = j + 1;
        }
      }
      if (best_value < 0) {
        ++pos;
        continue;
      }
      f(pos, best_end, best_value);
      pos = best_end;
    }
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
    int32_t value = -1;
  };
  int32_t child(int32_t node, unsigned char b) const {
    const auto& kids = nodes_[static_cast<std::size_t>(node)].children;
    auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, int32_t{-1}));
    return (it != kids.end() && it->first == b) ? it->second : -1;
  }
  std::vector<Node> nodes_;
  std::array<bool, 256> first_{};
};

// Last / first code point of a string (valid UTF-8, non-empty).
char32_t last_code_point(std::string_view s) {
  std::size_t i = s.size() - 1;
  while (i > 0 && unicode::is_continuation_byte(s[i])) --i;
  return next_code_point(s, i);
}
char32_t first_code_point(std::string_view s) {
  std::size_t i = 0;
  return next_code_point(s, i);
}

// Byte length of the run of White_Space code points ending at s.end() / starting at s[0].
std::size_t trailing_space_bytes(std::string_view s) {
  std::size_t end = s.size();
  while (end > 0) {
    std::size_t i = end - 1;
    while (i > 0 && unicode::is_continuation_byte(s[i])) --i;
    std::size_t j = i;
    if (!unicode::is_white_space(next_code_point(s, j))) break;
    end = i;
  }
  return s.size() - end;
}
std::size_t leading_space_bytes(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = i;
    if (!unicode::is_white_space(next_code_point(s, j))) break;
    i = j;
  }
  return i;
}

// Flat open-addressing hash table from byte strings to ids; keys live in one arena, so a
// lookup by string_view allocates nothing and touches one or two cache lines.
class VocabIndex {
 public:
  // Builds the index; a later duplicate key overwrites the earlier id.
  void build(const std::vector<std::pair<std::string_view, int32_t>>& entries) {
    std::size_t cap = 16;
    while (cap < entries.size() * 2) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    std::size_t bytes = 0;
    for (const auto& e : entries) bytes += e.first.size();
    arena_.clear();
    arena_.reserve(bytes);
    for (const auto& [key, id] : entries) {
      const uint64_t h = hash(key);
      std::size_t i = h & mask_;
      while (slots_[i].id >= 0 && !equal(slots_[i], h, key)) i = (i + 1) & mask_;
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot.hash = static_cast<uint32_t>(h >> 32);
        slot.len = static_cast<uint32_t>(key.size());
        slot.offset = static_cast<uint32_t>(arena_.size());
        arena_.append(key);
        max_len_ = std::max(max_len_, key.size());
      }
      slot.id = id;
    }
  }

  // Id of `key`, or -1.
  int32_t find(std::string_view key) const {
    if (key.size() > max_len_) return -1;
    const uint64_t h = hash(key);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (equal(slot, h, key)) return slot.id;
    }
  }

  // Longest key in bytes.
  std::size_t max_len() const { return max_len_; }

 private:
  struct Slot {
    uint32_t hash = 0;  // high half of the 64-bit hash
    uint32_t len = 0;
    uint32_t offset = 0;
    int32_t id = -1;  // -1: empty
  };

  static uint64_t mix(uint64_t h) {
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
  }
  static uint64_t hash(std::string_view s) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (s.size() * 0xff51afd7ed558ccdull);
    const char* p = s.data();
    std::size_t n = s.size();
    while (n >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      h = mix(h ^ v) * 0xbf58476d1ce4e5b9ull;
      p += 8;
      n -= 8;
    }
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    return mix(h ^ v);
  }
  bool equal(const Slot& slot, uint64_t h, std::string_view key) const {
    return slot.hash == static_cast<uint32_t>(h >> 32) && slot.len == key.size() &&
           std::memcmp(arena_.data() + slot.offset, key.data(), key.size()) == 0;
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::string arena_;
  std::size_t max_len_ = 0;
};

class WordPieceTokenizer final : public Tokenizer {
 public:
  WordPieceTokenizer(WordPieceConfig cfg, const std::string& what);

  std::vector<int32_t> encode(std::string_view text) const override;
  const SpecialTokens& special() const override { return special_; }
  int32_t vocab_size() const override { return vocab_size_; }
  std::string id_to_token(int32_t id) const override {
    auto it = id_to_token_.find(id);
    return it == id_to_token_.end() ? std::string() : it->second;
  }

 private:
  struct Added {
    AddedTokenSpec spec;
    int32_t id;
  };

  // HF AddedVocabulary::find_matches on `s` with `trie`: calls on_piece(piece, id), id -1
  // for text between tokens.
  template <class F>
  void split_added(std::string_view s, const TokenTrie& trie, F&& on_piece) const;
  // Steps 2b-4 for one normalized piece.
  void encode_normalized(std::string_view s, std::vector<int32_t>& ids) const;
  // Step 4 for one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<int32_t>& ids) const;
  int32_t token_to_id(std::string_view token) const;

  std::unordered_map<std::string, int32_t> owned_;  // the model vocab (token -> id)
  VocabIndex whole_;  // every token
  VocabIndex cont_;   // tokens starting with the continuing-subword prefix, keyed by the rest
  std::unordered_map<int32_t, std::string> id_to_token_;
  std::size_t max_input_chars_per_word_ = 100;
  int32_t unk_id_ = -1;
  std::optional<BertNormalizerOptions> normalizer_;
  bool bert_pre_tokenizer_ = true;
  std::vector<Added> added_;
  TokenTrie raw_trie_, normalized_trie_;  // values index added_
  SpecialTokens special_;
  int32_t vocab_size_ = 0;
};

WordPieceTokenizer::WordPieceTokenizer(WordPieceConfig cfg, const std::string& what) {
  check(!cfg.vocab.empty(), what + ": empty vocabulary");
  for (auto& [tok, id] : cfg.vocab) {
    check(id >= 0, what + ": negative id for token '" + tok + "'");
    owned_[std::move(tok)] = id;  // a later duplicate wins, as in HF
  }
  check(owned_.size() < (std::size_t{1} << 30), what + ": vocabulary too large");
  const std::string& prefix = cfg.continuing_subword_prefix;
  std::vector<std::pair<std::string_view, int32_t>> whole, cont;
  whole.reserve(owned_.size());
  for (const auto& [tok, id] : owned_) {
    const std::string_view v(tok);
    whole.emplace_back(v, id);
    if (v.size() >= prefix.size() && v.compare(0, prefix.size(), prefix) == 0)
      cont.emplace_back(v.substr(prefix.size()), id);
    id_to_token_[id] = tok;
  }
  whole_.build(whole);
  cont_.build(cont);
  unk_id_ = whole_.find(cfg.unk_token);
  check(unk_id_ >= 0, what + ": unk_token '" + cfg.unk_token + "' is not in the vocabulary");
  max_input_chars_per_word_ = static_cast<std::size_t>(std::max(cfg.max_input_chars_per_word, 0));
  normalizer_ = cfg.normalizer;
  bert_pre_tokenizer_ = cfg.bert_pre_tokenizer;

  // HF AddedVocabulary::add_tokens: id from the added map, else the model vocab, else the
  // next free id counted from the model's vocab size (number of distinct tokens).
  int32_t next_id = static_cast<int32_t>(owned_.size());
  std::unordered_map<std::string, std::size_t> by_content;
  for (AddedTokenSpec& t : cfg.added_tokens) {
    if (t.content.empty()) continue;
    auto prev = by_content.find(t.content);
    if (prev != by_content.end()) {
      added_[prev->second].spec = std::move(t);  // same content: properties updated
      continue;
    }
    int32_t id = whole_.find(t.content);
    if (id < 0) id = next_id++;
    by_content.emplace(t.content, added_.size());
    added_.push_back({std::move(t), id});
  }
  int32_t overlapping = 0, max_id = -1;
  for (const auto& [tok, id] : owned_) max_id = std::max(max_id, id);
  for (std::size_t k = 0; k < added_.size(); ++k) {
    const Added& a = added_[k];
    if (whole_.find(a.spec.content) >= 0) ++overlapping;
    max_id = std::max(max_id, a.id);
    const auto idx = static_cast<int32_t>(k);
    if (a.spec.normalized && normalizer_) {
      std::string normed;
      bert_normalize(a.spec.content, *normalizer_, normed);
      normalized_trie_.insert(normed, idx);
    } else if (a.spec.normalized) {
      normalized_trie_.insert(a.spec.content, idx);
    } else {
      raw_trie_.insert(a.spec.content, idx);
    }
  }
  for (const Added& a : added_) id_to_token_[a.id] = a.spec.content;  // added first, as HF
  // HF get_vocab_size(true); never less than max id + 1 so every id indexes the embedding.
  const int64_t hf_size = static_cast<int64_t>(owned_.size()) +
                          static_cast<int64_t>(added_.size()) - overlapping;
  vocab_size_ = static_cast<int32_t>(std::max<int64_t>(hf_size, int64_t{max_id} + 1));

  special_.unk = unk_id_;
  special_.cls = token_to_id("[CLS]");
  special_.sep = token_to_id("[SEP]");
  special_.pad = token_to_id("[PAD]");
}

int32_t WordPieceTokenizer::token_to_id(std::string_view token) const {
  for (const Added& a : added_)
    if (a.spec.content == token) return a.id;
  return whole_.find(token);
}

template <class F>
void WordPieceTokenizer::split_added(std::string_view s, const TokenTrie& trie, F&& on_piece) const {
  if (trie.empty()) {
    if (!s.empty()) on_piece(s, -1);
    return;
  }
  std::size_t start_offset = 0;
  trie.for_each_match(s, [&](std::size_t start, std::size_t stop, int32_t idx) {
    const AddedTokenSpec& t = added_[static_cast<std::size_t>(idx)].spec;
    if (t.single_word) {
      const bool start_space = start == 0 || !unicode::is_word_char(last_code_point(s.substr(0, start)));
      const bool stop_space = stop == s.size() || !unicode::is_word_char(first_code_point(s.substr(stop)));
      if (!start_space || !stop_space) return;  // discarded; its span stays consumed
    }
    if (t.lstrip) start = std::max(start - trailing_space_bytes(s.substr(0, start)), start_offset);
    if (t.rstrip) stop += leading_space_bytes(s.substr(stop));
    if (start_offset < start) on_piece(s.substr(start_offset, start - start_offset), -1);
    on_piece(std::string_view(), added_[static_cast<std::size_t>(idx)].id);
    start_offset = stop;
  });
  if (start_offset < s.size()) on_piece(s.substr(start_offset), -1);
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text) const {
  check_utf8(text, "text");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 4 + 4);
  std::string normalized;
  split_added(text, raw_trie_, [&](std::string_view piece, int32_t id) {
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
    if (normalizer_) {
      normalized.clear();
      bert_normalize(piece, *normalizer_, normalized);
      encode_normalized(normalized, ids);
    } else {
      encode_normalized(piece, ids);
    }
  });
  return ids;
}

void WordPieceTokenizer::encode_normalized(std::string_view s, std::vector<int32_t>& ids) const {
  split_added(s, normalized_trie_, [&](std::string_view piece, int32_t id) {
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
    if (bert_pre_tokenizer_) {
      for_each_bert_piece(piece, [&](std::string_view word) { encode_word(word, ids); });
    } else if (!piece.empty()) {
      encode_word(piece, ids);
    }
  });
}

void WordPieceTokenizer::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.size() > max_input_chars_per_word_ &&
      unicode::count_code_points(word) > max_input_chars_per_word_) {
    ids.push_back(unk_id_);
    return;
  }
  const std::size_t first = ids.size();
  const std::size_t n = word.size();
  std::size_t start = 0;
  while (start < n) {
    const VocabIndex& map = start == 0 ? whole_ : cont_;
    const std::size_t max_bytes = map.max_len();
    // No vocab entry is longer than max_bytes, so longer candidates cannot match: start
    // the search at the last code point boundary within reach.
    std::size_t end = n;
    if (end - start > max_bytes) {
      end = start + max_bytes;
      while (end > start && unicode::is_continuation_byte(word[end])) --end;
    }
    int32_t found = -1;
    while (end > start) {
      found = map.find(word.substr(start, end - start));
      if (found >= 0) break;
      --end;
      while (end > start && unicode::is_continuation_byte(word[end])) --end;
    }
    if (found < 0) {  // not fully covered: the whole word becomes [UNK]
      ids.resize(first);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(found);
    start = end;
  }
}

// ---- JSON helpers --------------------------------------------------------------------

bool get_bool(const nlohmann::json& j, const char* key, bool dflt, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  check(it->is_boolean(), what + ": field '" + key + "' must be a boolean");
  return it->get<bool>();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(static_cast<bool>(in), path + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  check(!in.bad(), path + ": read error");
  return std::move(ss).str();
}

WordPieceConfig parse_tokenizer_json(const nlohmann::json& j, const std::string& path) {
  WordPieceConfig cfg;
  check(j.is_object(), path + ": top level is not a JSON object");
  auto model = j.find("model");
  check(model != j.end() && model->is_object(), path + ": missing object 'model'");
  if (auto t = model->find("type"); t != model->end()) {
    check(t->is_string() && t->get<std::string>() == "WordPiece",
          path + ": model.type is not \"WordPiece\"");
  }
  auto vocab = model->find("vocab");
  check(vocab != model->end() && vocab->is_object(), path + ": missing object 'model.vocab'");
  cfg.vocab.reserve(vocab->size());
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    const auto& v = it.value();
    check(v.is_number_integer() && v.get<int64_t>() >= 0 &&
              v.get<int64_t>() < std::numeric_limits<int32_t>::max() / 2,
          path + ": model.vocab['" + it.key() + "'] is not a valid id");
    cfg.vocab.emplace_back(it.key(), static_cast<int32_t>(v.get<int64_t>()));
  }
  auto unk = model->find("unk_token");
  check(unk != model->end() && unk->is_string(), path + ": missing string 'model.unk_token'");
  cfg.unk_token = unk->get<std::string>();
  if (auto p = model->find("continuing_subword_prefix"); p != model->end() && !p->is_null()) {
    check(p->is_string(), path + ": model.continuing_subword_prefix must be a string");
    cfg.continuing_subword_prefix = p->get<std::string>();
  }
  if (auto m = model->find("max_input_chars_per_word"); m != model->end() && !m->is_null()) {
    check(m->is_number_integer() && m->get<int64_t>() >= 0,
          path + ": model.max_input_chars_per_word must be a non-negative integer");
    cfg.max_input_chars_per_word =
        static_cast<int>(std::min<int64_t>(m->get<int64_t>(), std::numeric_limits<int>::max()));
  }

  auto norm = j.find("normalizer");
  if (norm != j.end() && !norm->is_null()) {
    check(norm->is_object(), path + ": 'normalizer' must be an object or null");
    const std::string type = norm->value("type", std::string());
    check(type == "BertNormalizer",
          path + ": unsupported normalizer type '" + type + "' (supported: BertNormalizer)");
    const std::string w = path + ": normalizer";
    BertNormalizerOptions o;
    o.clean_text = get_bool(*norm, "clean_text", true, w);
    o.handle_chinese_chars = get_bool(*norm, "handle_chinese_chars", true, w);
    o.lowercase = get_bool(*norm, "lowercase", true, w);
    if (auto s = norm->find("strip_accents"); s != norm->end() && !s->is_null()) {
      check(s->is_boolean(), w + ": field 'strip_accents' must be a boolean or null");
      o.strip_accents = s->get<bool>();
    }
    cfg.normalizer = o;
  }

  auto pre = j.find("pre_tokenizer");
  cfg.bert_pre_tokenizer = false;
  if (pre != j.end() && !pre->is_null()) {
    check(pre->is_object(), path + ": 'pre_tokenizer' must be an object or null");
    const std::string type = pre->value("type", std::string());
    check(type == "BertPreTokenizer",
          path + ": unsupported pre_tokenizer type '" + type + "' (supported: BertPreTokenizer)");
    cfg.bert_pre_tokenizer = true;
  }

  if (auto added = j.find("added_tokens"); added != j.end() && !added->is_null()) {
    check(added->is_array(), path + ": 'added_tokens' must be an array");
    for (const auto& a : *added) {
      check(a.is_object() && a.contains("content") && a["content"].is_string(),
            path + ": added_tokens entry without string 'content'");
      AddedTokenSpec t;
      t.content = a["content"].get<std::string>();
      const std::string w = path + ": added token '" + t.content + "'";
      t.special = get_bool(a, "special", false, w);
      t.single_word = get_bool(a, "single_word", false, w);
      t.lstrip = get_bool(a, "lstrip", false, w);
      t.rstrip = get_bool(a, "rstrip", false, w);
      t.normalized = get_bool(a, "normalized", !t.special, w);
      cfg.added_tokens.push_back(std::move(t));
    }
  }
  return cfg;
}

}  // namespace

// ---- public functions ----------------------------------------------------------------

void bert_normalize(std::string_view text, const BertNormalizerOptions& o, std::string& out) {
  const bool strip = o.strip_accents.value_or(o.lowercase);
  out.reserve(out.size() + text.size() + text.size() / 8);
  std::u32string marks;   // pending non-starters awaiting canonical ordering (strip only)
  std::u32string decomp;  // scratch for one decomposition

  // Last stages: drop nonspacing marks (strip), lowercase, encode.
  auto emit_final = [&](char32_t c) {
    if (strip && unicode::hf_is_mark_nonspacing(c)) return;
    if (o.lowercase) {
      char32_t low[2];
      const int k = unicode::rust_to_lowercase(c, low);
      for (int m = 0; m < k; ++m) append_utf8(out, low[m]);
    } else {
      append_utf8(out, c);
    }
  };
  auto flush_marks = [&] {
    if (marks.empty()) return;
    if (marks.size() > 1) unicode::canonical_order(marks);
    for (char32_t m : marks) emit_final(m);
    marks.clear();
  };
  // NFD stage (strip only): decompose, hold non-starters until the next starter.
  auto emit_nfd = [&](char32_t c) {
    if (!strip) {
      emit_final(c);
      return;
    }
    decomp.clear();
    unicode::append_canonical_decomposition(c, decomp);
    for (char32_t d : decomp) {
      if (unicode::combining_class(d) == 0) {
        flush_marks();
        emit_final(d);
      } else {
        marks.push_back(d);
      }
    }
  };

  // Code points with none of these flags pass every stage unchanged.
  const uint8_t interesting = (o.clean_text ? unicode::kHfOther | unicode::kHfWhiteSpace : 0) |
                              (strip ? unicode::kHfNonspacing | unicode::kHfDecomposes |
                                           unicode::kHfNonStarter
                                     : 0) |
                              (o.lowercase ? unicode::kHfLowerChanges : 0);
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      // A run of ASCII: starters without decomposition or nonspacing marks.
      flush_marks();
      std::size_t j = i;
      while (j < n && static_cast<unsigned char>(text[j]) < 0x80) ++j;
      const std::size_t base = out.size();
      out.resize(base + (j - i));
      char* dst = out.data() + base;
      for (; i < j; ++i) {
        char c = text[i];
        const auto b = static_cast<unsigned char>(c);
        if (o.clean_text && b < 0x20) {
          if (b == '\t' || b == '\n' || b == '\r') c = ' ';
          else continue;  // NUL and other Cc
        } else if (o.clean_text && b == 0x7F) {
          continue;
        }
        if (o.lowercase && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        *dst++ = c;
      }
      out.resize(static_cast<std::size_t>(dst - out.data()));
      continue;
    }
    const std::size_t at = i;
    char32_t c = next_code_point(text, i);
    if (o.handle_chinese_chars && is_chinese_char(c)) {
      // CJK ideographs: Lo starters, never removed or lowercased; only the compatibility
      // ideographs (U+F900.., U+2F800..) decompose.
      flush_marks();
      out.push_back(' ');
      if (strip && ((c >= 0xF900 && c <= 0xFAFF) || c >= 0x2F800)) emit_nfd(c);
      else out.append(text.substr(at, i - at));
      out.push_back(' ');
      continue;
    }
    if ((unicode::hf_flags(c) & interesting) == 0 && !(o.clean_text && c == 0xFFFD)) {
      flush_marks();
      out.append(text.substr(at, i - at));
      continue;
    }
    if (o.clean_text) {
      if (c == 0xFFFD || bert_is_control(c)) continue;
      if (bert_is_whitespace(c)) c = ' ';
    }
    emit_nfd(c);  // (CJK ideographs were handled above; ' ' is not one)
  }
  flush_marks();
}

void bert_pre_tokenize(std::string_view text, std::vector<std::string_view>& out) {
  for_each_bert_piece(text, [&](std::string_view piece) { out.push_back(piece); });
}

std::unique_ptr<Tokenizer> make_wordpiece_tokenizer(WordPieceConfig config, const std::string& what) {
  return std::make_unique<WordPieceTokenizer>(std::move(config), what);
}

std::unique_ptr<Tokenizer> load_wordpiece_tokenizer_json(const std::string& path) {
  const std::string content = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(content);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
  try {
    return make_wordpiece_tokenizer(parse_tokenizer_json(j, path), path);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": malformed tokenizer.json (" + e.what() + ")");
  }
}

std::unique_ptr<Tokenizer> load_wordpiece_vocab_txt(const std::string& path, bool lowercase) {
  // As HF WordPiece::read_file (what BertTokenizerFast.from_pretrained uses): one token per
  // '\n'-terminated line, trailing White_Space trimmed, id = line number.
  const std::string content = read_file(path);
  check_utf8(content, path.c_str());
  WordPieceConfig cfg;
  std::size_t pos = 0;
  int32_t index = 0;
  while (pos < content.size()) {
    std::size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) nl = content.size();
    std::string_view line(content.data() + pos, nl - pos);
    line.remove_suffix(trailing_space_bytes(line));
    check(index < std::numeric_limits<int32_t>::max(), path + ": too many lines");
    cfg.vocab.emplace_back(std::string(line), index++);
    pos = nl + 1;
  }
  check(!cfg.vocab.empty(), path + ": empty vocabulary");
  BertNormalizerOptions o;
  o.lowercase = lowercase;  // strip_accents unset: follows lowercase, as BertTokenizerFast
  cfg.normalizer = o;
  cfg.bert_pre_tokenizer = true;
  // transformers' TokenizersBackend registers the special tokens in this order; ids of
  // those missing from the file are assigned after the vocab in this order.
  for (const char* s : {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"}) {
    AddedTokenSpec t;
    t.content = s;
    t.special = true;
    t.normalized = false;
    cfg.added_tokens.push_back(std::move(t));
  }
  return make_wordpiece_tokenizer(std::move(cfg), path);
}

}  // namespace crossrank
