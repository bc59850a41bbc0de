// HF tokenizers' AddedVocabulary (added_vocabulary.rs): id assignment and find_matches.
#include "tokenizer/added_vocab.h"

#include <algorithm>

#include "tokenizer/unicode.h"

namespace crossrank {

void AddedVocabulary::Trie::insert(std::string_view key, int32_t value) {
  if (key.empty()) return;
  if (nodes_.empty()) nodes_.emplace_back();
  first_[static_cast<unsigned char>(key[0])] = true;
  int32_t node = 0;
  for (const char ch : key) {
    const auto b = static_cast<unsigned char>(ch);
    int32_t next = child(node, b);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      auto& kids = nodes_[static_cast<std::size_t>(node)].children;
      kids.insert(std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, int32_t{-1})), {b, next});
      nodes_.emplace_back();
    }
    node = next;
  }
  nodes_[static_cast<std::size_t>(node)].value = value;
}

int32_t AddedVocabulary::Trie::child(int32_t node, unsigned char b) const {
  const auto& kids = nodes_[static_cast<std::size_t>(node)].children;
  auto it = std::lower_bound(kids.begin(), kids.end(), std::make_pair(b, int32_t{-1}));
  return (it != kids.end() && it->first == b) ? it->second : -1;
}

int32_t AddedVocabulary::Trie::longest_at(std::string_view s, std::size_t pos, std::size_t& end) const {
  int32_t node = 0, best = -1;
  for (std::size_t j = pos; j < s.size(); ++j) {
    node = child(node, static_cast<unsigned char>(s[j]));
    if (node < 0) break;
    const int32_t v = nodes_[static_cast<std::size_t>(node)].value;
    if (v >= 0) {
      best = v;
      end = j + 1;
    }
  }
  return best;
}

AddedVocabulary::AddedVocabulary(const std::vector<AddedTokenSpec>& tokens, const ModelLookup& model_id,
                                 int32_t model_size, const NormalizeFn& normalize) {
  // HF add_tokens: the first new id follows the model vocabulary (or the largest added id).
  int32_t next_id = model_size;
  for (const AddedTokenSpec& t : tokens) {
    if (t.content.empty()) continue;
    auto known = by_content_.find(t.content);
    if (known != by_content_.end() && by_id_[known->second] == t) continue;  // exact repeat
    int32_t id;
    if (known != by_content_.end()) {
      id = known->second;
    } else if (const int32_t m = model_id(t.content); m >= 0) {
      id = m;
    } else {
      id = next_id++;
    }
    by_content_[t.content] = id;
    by_id_[id] = t;
  }
  // Patterns from the id -> token map (as refresh_added_tokens builds its tries).
  for (const auto& [id, t] : by_id_) {
    if (t.normalized) norm_trie_.insert(normalize ? normalize(t.content) : t.content, id);
    else raw_trie_.insert(t.content, id);
  }
}

int32_t AddedVocabulary::token_to_id(std::string_view content) const {
  if (by_content_.empty()) return -1;
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? -1 : it->second;
}

const std::string* AddedVocabulary::id_to_token(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second.content;
}

namespace {

// Regex \w at the start / end of `s` (Rust regex crate, Unicode).
bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  std::size_t k = 0;
  return unicode::is_word_char(unicode::next_code_point(s, k));
}

bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  std::size_t b = s.size() - 1;
  while (b > 0 && unicode::is_continuation_byte(s[b])) --b;
  return unicode::is_word_char(unicode::next_code_point(s, b));
}

}  // namespace

void AddedVocabulary::split(std::string_view s, bool normalized_set, std::vector<AddedPiece>& out) const {
  out.clear();
  if (s.empty()) return;
  const Trie& trie = normalized_set ? norm_trie_ : raw_trie_;
  if (trie.empty()) {
    out.push_back({0, s.size(), -1});
    return;
  }
  const std::size_t n = s.size();
  std::size_t start_offset = 0;
  std::size_t pos = 0;
  while (pos < n) {
    if (!trie.may_start(static_cast<unsigned char>(s[pos]))) {
      ++pos;
      continue;
    }
    std::size_t stop = 0;
    const int32_t id = trie.longest_at(s, pos, stop);
    if (id < 0) {
      ++pos;
      continue;
    }
    std::size_t start = pos;
    pos = stop;  // matches never overlap: the search resumes after this one
    const AddedTokenSpec& t = by_id_.at(id);
    if (t.single_word) {
      const bool start_space = start == 0 || !ends_with_word(s.substr(0, start));
      const bool stop_space = stop == n || !starts_with_word(s.substr(stop));
      if (!start_space || !stop_space) continue;  // discarded; its span stays consumed
    }
    if (t.lstrip) start = std::max(unicode::trailing_white_space_start(s.substr(0, start)), start_offset);
    if (t.rstrip) stop += unicode::leading_white_space(s.substr(stop));
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, id});
    start_offset = stop;
  }
  if (start_offset < n) out.push_back({start_offset, n, -1});
}

}  // namespace crossrank
