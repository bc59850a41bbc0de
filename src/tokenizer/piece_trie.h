#pragma once
// Byte trie over a vocabulary (the Unigram model's pieces, the WordPiece vocabulary), for
// prefix enumeration: every vocabulary entry that starts a text, found in one walk.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace crossrank {

// Byte trie over the vocabulary pieces. Children of a node are contiguous, sorted by byte.
class PieceTrie {
 public:
  // Builds the trie; `pieces[i]` has id i. For duplicate strings the LAST id wins (as HF's
  // token->id map does). Empty pieces are never matched.
  void build(const std::vector<std::string>& pieces);
  // Builds the trie from (piece, id) entries (ids >= 0); for duplicate strings the LAST entry
  // wins. Empty pieces are never matched.
  void build(const std::vector<std::pair<std::string_view, int32_t>>& entries);

  // Calls fn(byte_length, id) for every piece that is a prefix of `s`, shortest first.
  template <class Fn>
  void for_each_prefix(std::string_view s, Fn&& fn) const {
    if (s.empty()) return;
    uint32_t node = root_[static_cast<unsigned char>(s[0])];
    size_t len = 1;
    while (node != 0) {
      if (piece_[node] >= 0) fn(len, piece_[node]);
      if (len == s.size()) return;
      node = child(node, static_cast<unsigned char>(s[len]));
      ++len;
    }
  }

  // Id of the piece equal to `s`, or -1.
  int32_t find(std::string_view s) const;

 private:
  uint32_t child(uint32_t node, unsigned char label) const;

  uint32_t root_[256] = {};            // child of the root per first byte; 0 = none
  std::vector<int32_t> piece_;         // piece id ending at a node, or -1 (node 0 = root)
  std::vector<uint32_t> first_child_;  // index of the node's first child
  std::vector<uint16_t> num_children_;
  std::vector<uint8_t> label_;         // byte on the edge into a node
};

}  // namespace crossrank
