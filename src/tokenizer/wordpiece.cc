// BERT WordPiece tokenizer matching Hugging Face tokenizers 0.23 id for id.
//
// Pipeline of HF TokenizerImpl::encode(text, add_special_tokens=false) for a BERT
// tokenizer.json, reproduced step by step:
//   1. added-token split of the raw text (tokens with normalized=false), leftmost-longest;
//   2. the normalizer (BertNormalizer) on every remaining piece, then the split on
//      normalized=true tokens;
//   3. BertPreTokenizer (whitespace removed, punctuation isolated);
//   4. WordPiece greedy longest-match-first per word ([UNK] for the whole word when it
//      cannot be covered or has more than max_input_chars_per_word code points).
//
// Why a trie for step 4: HF tries every candidate [start, end) from the longest down, one
// hash lookup (hashing end - start bytes) each, so with vocabulary entries as long as the
// word a piece costs O(chars) lookups of O(chars) bytes. Walking a byte trie of the
// vocabulary (and one of the "##" continuation vocabulary, keyed without the prefix) from
// `start` visits every entry that starts there in one pass; the last one that ends on a
// code point boundary is HF's match. 100 KB of 99-character words, AMD EPYC (Zen 4, 2
// shared cores), WordPiece step only (vocab.txt): "www..." with the ms-marco vocabulary
// 10.9 ms -> 0.9 ms; with long entries added (tests/tokenizer/tokenizer_wordpiece_test.cc,
// AdversarialWordsStayLinear) "www..." 93 ms -> 13 ms and 4-byte-character words 85 ms -> 1.6 ms.

#include "tokenizer/wordpiece.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <utility>

#include "tokenizer/piece_trie.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_index.h"
#include "util/error.h"

namespace crossrank {
namespace {

class WordPieceTokenizer final : public Tokenizer {
 public:
  WordPieceTokenizer(WordPieceConfig cfg, const std::string& what);

  std::vector<int32_t> encode(std::string_view text) const override;
  const SpecialTokens& special() const override { return special_; }
  int32_t vocab_size() const override { return vocab_size_; }
  std::string id_to_token(int32_t id) const override {
    if (const std::string* t = added_.id_to_token(id)) return *t;
    auto it = id_to_token_.find(id);
    return it == id_to_token_.end() ? std::string() : it->second;
  }
  int32_t token_to_id(std::string_view token) const override {
    const int32_t id = added_.token_to_id(token);
    return id >= 0 ? id : whole_.find(token);
  }

 private:
  // Steps 2b-4 for one normalized piece.
  void encode_normalized(std::string_view s, std::vector<AddedPiece>& splits, std::vector<int32_t>& ids) const;
  // Step 4 for one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<int32_t>& ids) const;

  VocabIndex whole_;       // every token
  PieceTrie whole_trie_;   // the same, for the longest match at the start of a word
  PieceTrie cont_trie_;    // tokens starting with the continuing-subword prefix, keyed by the rest
  std::unordered_map<int32_t, std::string> id_to_token_;
  std::size_t max_input_chars_per_word_ = 100;
  int32_t unk_id_ = -1;
  Normalizer normalizer_;
  bool bert_pre_tokenizer_ = true;
  AddedVocabulary added_;
  SpecialTokens special_;
  int32_t vocab_size_ = 0;
};

WordPieceTokenizer::WordPieceTokenizer(WordPieceConfig cfg, const std::string& what) {
  check(!cfg.vocab.empty(), what + ": empty vocabulary");
  std::unordered_map<std::string, int32_t> owned;  // the model vocab (token -> id)
  for (auto& [tok, id] : cfg.vocab) {
    check(id >= 0, what + ": negative id for token '" + tok + "'");
    owned[std::move(tok)] = id;  // a later duplicate wins, as in HF
  }
  check(owned.size() < (std::size_t{1} << 30), what + ": vocabulary too large");
  const std::string& prefix = cfg.continuing_subword_prefix;
  std::vector<std::pair<std::string_view, int32_t>> whole, cont;
  whole.reserve(owned.size());
  int32_t max_id = -1;
  for (const auto& [tok, id] : owned) {
    const std::string_view v(tok);
    whole.emplace_back(v, id);
    if (v.size() >= prefix.size() && v.compare(0, prefix.size(), prefix) == 0)
      cont.emplace_back(v.substr(prefix.size()), id);
    id_to_token_[id] = tok;
    max_id = std::max(max_id, id);
  }
  whole_.build(whole);
  whole_trie_.build(whole);
  cont_trie_.build(cont);
  unk_id_ = whole_.find(cfg.unk_token);
  check(unk_id_ >= 0, what + ": unk_token '" + cfg.unk_token + "' is not in the vocabulary");
  max_input_chars_per_word_ = static_cast<std::size_t>(std::max(cfg.max_input_chars_per_word, 0));
  normalizer_ = Normalizer(std::move(cfg.normalizer));
  bert_pre_tokenizer_ = cfg.bert_pre_tokenizer;

  const auto model_size = static_cast<int32_t>(owned.size());
  added_ = AddedVocabulary(
      cfg.added_tokens, [&](std::string_view c) { return whole_.find(c); }, model_size,
      [&](std::string_view c) { return normalizer_.normalize(c); });
  // HF get_vocab_size(true); never less than max id + 1 so every id indexes the embedding.
  vocab_size_ = std::max({model_size, max_id + 1, added_.max_id() + 1});

  special_.unk = unk_id_;
  special_.cls = token_to_id(cfg.cls_token);
  special_.sep = token_to_id(cfg.sep_token);
  special_.pad = token_to_id("[PAD]");
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text) const {
  check_utf8(text, "text");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 4 + 4);
  std::string normalized, tmp;
  std::vector<AddedPiece> raw, splits;
  added_.split(text, false, raw);
  for (const AddedPiece& p : raw) {
    if (p.id >= 0) {
      ids.push_back(p.id);
      continue;
    }
    const std::string_view piece = text.substr(p.begin, p.end - p.begin);
    if (normalizer_.empty()) {
      encode_normalized(piece, splits, ids);
    } else {
      normalizer_.normalize(piece, normalized, tmp);
      encode_normalized(normalized, splits, ids);
    }
  }
  return ids;
}

void WordPieceTokenizer::encode_normalized(std::string_view s, std::vector<AddedPiece>& splits,
                                           std::vector<int32_t>& ids) const {
  added_.split(s, true, splits);
  for (const AddedPiece& p : splits) {
    if (p.id >= 0) {
      ids.push_back(p.id);
      continue;
    }
    const std::string_view piece = s.substr(p.begin, p.end - p.begin);
    if (bert_pre_tokenizer_) {
      for_each_bert_piece(piece, [&](std::string_view word) { encode_word(word, ids); });
    } else if (!piece.empty()) {
      encode_word(piece, ids);
    }
  }
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
    const PieceTrie& trie = start == 0 ? whole_trie_ : cont_trie_;
    const std::string_view rest = word.substr(start);
    // The longest entry that is a prefix of `rest` and ends on a code point boundary
    // (vocabulary entries are valid UTF-8, so the check only guards odd files).
    int32_t found = -1;
    std::size_t len = 0;
    trie.for_each_prefix(rest, [&](std::size_t k, int32_t id) {
      if (k == rest.size() || !unicode::is_continuation_byte(rest[k])) {
        found = id;
        len = k;
      }
    });
    if (found < 0) {  // not fully covered: the whole word becomes [UNK]
      ids.resize(first);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(found);
    start += len;
  }
}

}  // namespace

std::unique_ptr<Tokenizer> make_wordpiece_tokenizer(WordPieceConfig config, const std::string& what) {
  return std::make_unique<WordPieceTokenizer>(std::move(config), what);
}

std::unique_ptr<Tokenizer> make_wordpiece_from_json(const TokenizerJson& tj) {
  const std::string& path = tj.path;
  if (!tj.model_type.empty() && tj.model_type != "WordPiece")
    throw Error(path + ": model.type is '" + tj.model_type + "', expected 'WordPiece'");
  WordPieceConfig cfg;
  try {
    const nlohmann::json& model = *tj.model;
    const std::string where = path + ": model";
    const nlohmann::json* vocab = json_field::find(model, "vocab");
    check(vocab && vocab->is_object(), path + ": missing object 'model.vocab'");
    cfg.vocab.reserve(vocab->size());
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
      const auto& v = it.value();
      check(v.is_number_integer() && v.get<int64_t>() >= 0 &&
                v.get<int64_t>() < std::numeric_limits<int32_t>::max() / 2,
            path + ": model.vocab['" + it.key() + "'] is not a valid id");
      cfg.vocab.emplace_back(it.key(), static_cast<int32_t>(v.get<int64_t>()));
    }
    cfg.unk_token = json_field::require_string(model, "unk_token", where);
    cfg.continuing_subword_prefix = json_field::get_string(model, "continuing_subword_prefix", "##", where);
    if (const nlohmann::json* m = json_field::find(model, "max_input_chars_per_word")) {
      check(m->is_number_integer() && m->get<int64_t>() >= 0,
            path + ": model.max_input_chars_per_word must be a non-negative integer");
      cfg.max_input_chars_per_word =
          static_cast<int>(std::min<int64_t>(m->get<int64_t>(), std::numeric_limits<int>::max()));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": malformed tokenizer.json model (" + e.what() + ")");
  }
  cfg.normalizer = tj.normalizer;
  cfg.bert_pre_tokenizer = false;
  for (const PreTokenizerStep& st : tj.pre_tokenizer) {
    check(st.kind == PreTokenizerStep::Kind::kBert && !cfg.bert_pre_tokenizer,
          path + ": pre_tokenizer: unsupported for a WordPiece tokenizer (supported: BertPreTokenizer)");
    cfg.bert_pre_tokenizer = true;
  }
  cfg.added_tokens = tj.added_tokens;
  if (!tj.cls_token.empty()) cfg.cls_token = tj.cls_token;
  if (!tj.sep_token.empty()) cfg.sep_token = tj.sep_token;
  return make_wordpiece_tokenizer(std::move(cfg), path);
}

std::unique_ptr<Tokenizer> load_wordpiece_tokenizer_json(const std::string& path) {
  return make_wordpiece_from_json(read_tokenizer_json(path));
}

std::unique_ptr<Tokenizer> load_wordpiece_vocab_txt(const std::string& path, bool lowercase) {
  // As HF WordPiece::read_file (what BertTokenizerFast.from_pretrained uses): one token per
  // '\n'-terminated line, trailing White_Space trimmed, id = line number.
  const std::string content = read_file_bytes(path, "vocab.txt");
  check_utf8(content, path.c_str());
  WordPieceConfig cfg;
  std::size_t pos = 0;
  int32_t index = 0;
  while (pos < content.size()) {
    std::size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) nl = content.size();
    std::string_view line(content.data() + pos, nl - pos);
    line = line.substr(0, unicode::trailing_white_space_start(line));
    check(index < std::numeric_limits<int32_t>::max(), path + ": too many lines");
    cfg.vocab.emplace_back(std::string(line), index++);
    pos = nl + 1;
  }
  check(!cfg.vocab.empty(), path + ": empty vocabulary");
  NormalizerStep bert;
  bert.kind = NormalizerStep::Kind::kBert;
  bert.bert.lowercase = lowercase;  // strip_accents unset: follows lowercase, as BertTokenizerFast
  cfg.normalizer.push_back(std::move(bert));
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
