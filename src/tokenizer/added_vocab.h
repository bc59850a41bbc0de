#pragma once
// The added vocabulary shared by every tokenizer model: Hugging Face `tokenizers`
// AddedVocabulary (tokenizer/added_vocabulary.rs, 0.23) re-implemented.
//   - ids: an added token takes the id its content already has (an earlier added token, else
//     the model vocabulary), else the next free id after the model vocabulary; the ids written
//     in tokenizer.json are not used (HF warns when they differ and keeps its own);
//   - matching: two sets, tokens with normalized=false match the raw input, tokens with
//     normalized=true match the normalized text by their normalized content; leftmost-longest,
//     non-overlapping; single_word / lstrip / rstrip as in find_matches.
// Special and normal added tokens match alike (HF's default encode_special_tokens=false).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace crossrank {

// One HF AddedToken (tokenizer.json "added_tokens" entry, tokenizer_config.json
// "added_tokens_decoder" value). Defaults are HF's AddedToken::default().
struct AddedTokenSpec {
  std::string content;
  bool single_word = false;  // match only when not touching word characters (\w)
  bool lstrip = false;       // a match swallows the whitespace on its left
  bool rstrip = false;       // a match swallows the whitespace on its right
  bool normalized = true;    // match the normalized text (else the raw input)
  bool special = false;      // skipped when decoding; no effect on encoding
  bool operator==(const AddedTokenSpec&) const = default;
};

// One piece of a split: bytes [begin, end) of the split text, and the added token id it is
// (-1: plain text between tokens).
struct AddedPiece {
  std::size_t begin = 0, end = 0;
  int32_t id = -1;
};

class AddedVocabulary {
 public:
  // The model vocabulary as add_tokens sees it: id of a content (or -1), and its size.
  using ModelLookup = std::function<int32_t(std::string_view)>;
  // Applies the tokenizer's normalizer to an added token's content (normalized=true ones).
  using NormalizeFn = std::function<std::string(std::string_view)>;

  AddedVocabulary() = default;
  // Adds `tokens` in order as HF add_tokens does (empty contents and exact repeats ignored;
  // a repeated content with other flags replaces the flags). `normalize` may be empty (no
  // normalizer). Precondition: every content is valid UTF-8.
  AddedVocabulary(const std::vector<AddedTokenSpec>& tokens, const ModelLookup& model_id, int32_t model_size,
                  const NormalizeFn& normalize);

  // HF find_matches: splits `text` into added-token hits and the plain pieces between them,
  // using the raw set (normalized_set=false) or the normalized set. Clears `out`. An empty
  // `text` gives no pieces.
  void split(std::string_view text, bool normalized_set, std::vector<AddedPiece>& out) const;

  // True when the set has no token (split then returns the whole text as one piece).
  bool empty(bool normalized_set) const { return (normalized_set ? norm_trie_ : raw_trie_).empty(); }
  // Id of an added token by content, or -1.
  int32_t token_to_id(std::string_view content) const;
  // Content of the added token with this id, or nullptr.
  const std::string* id_to_token(int32_t id) const;
  // Largest added-token id, or -1 when there is none.
  int32_t max_id() const { return by_id_.empty() ? -1 : by_id_.rbegin()->first; }
  // Number of added tokens (distinct ids).
  std::size_t size() const { return by_id_.size(); }

 private:
  // Byte trie over token patterns for leftmost-longest matching (daachorse LeftmostLongest).
  class Trie {
   public:
    void insert(std::string_view key, int32_t value);
    bool empty() const { return nodes_.empty(); }
    // Longest pattern starting at s[pos]: its end and value, or value -1.
    int32_t longest_at(std::string_view s, std::size_t pos, std::size_t& end) const;
    bool may_start(unsigned char b) const { return first_[b]; }

   private:
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
      int32_t value = -1;
    };
    int32_t child(int32_t node, unsigned char b) const;
    std::vector<Node> nodes_;
    bool first_[256] = {};
  };

  std::unordered_map<std::string, int32_t> by_content_;  // HF added_tokens_map
  std::map<int32_t, AddedTokenSpec> by_id_;              // HF added_tokens_map_r
  Trie raw_trie_, norm_trie_;                            // values: token ids
};

}  // namespace crossrank
