// PieceTrie: a breadth-first built byte trie with sorted, contiguous children.
#include "tokenizer/piece_trie.h"

#include <algorithm>

namespace crossrank {

void PieceTrie::build(const std::vector<std::string>& pieces) {
  std::vector<std::pair<std::string_view, int32_t>> entries;
  entries.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) entries.emplace_back(pieces[i], static_cast<int32_t>(i));
  build(entries);
}

void PieceTrie::build(const std::vector<std::pair<std::string_view, int32_t>>& entries) {
  // Sort the entries by string; for equal strings keep the last one.
  std::vector<int32_t> order;
  order.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i)
    if (!entries[i].first.empty()) order.push_back(static_cast<int32_t>(i));
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return entries[a].first < entries[b].first; });
  std::vector<int32_t> uniq;  // indices into entries
  uniq.reserve(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    if (i + 1 < order.size() && entries[order[i]].first == entries[order[i + 1]].first) continue;
    uniq.push_back(order[i]);
  }
  auto key = [&](size_t k) -> std::string_view { return entries[uniq[k]].first; };

  piece_.assign(1, -1);
  first_child_.assign(1, 0);
  num_children_.assign(1, 0);
  label_.assign(1, 0);
  std::fill(std::begin(root_), std::end(root_), 0u);

  // Breadth-first: each work item is a node and the range of sorted strings below it
  // (all sharing its `depth`-byte prefix). A string equal to the prefix sorts first.
  struct Item {
    uint32_t node;
    size_t lo, hi, depth;
  };
  std::vector<Item> queue{{0, 0, uniq.size(), 0}};
  for (size_t q = 0; q < queue.size(); ++q) {
    const Item it = queue[q];
    size_t lo = it.lo;
    if (lo < it.hi && key(lo).size() == it.depth) {
      piece_[it.node] = entries[uniq[lo]].second;
      ++lo;
    }
    const auto first = static_cast<uint32_t>(piece_.size());
    uint16_t count = 0;
    size_t i = lo;
    while (i < it.hi) {
      const auto b = static_cast<unsigned char>(key(i)[it.depth]);
      size_t j = i + 1;
      while (j < it.hi && static_cast<unsigned char>(key(j)[it.depth]) == b) ++j;
      const auto child = static_cast<uint32_t>(piece_.size());
      piece_.push_back(-1);
      first_child_.push_back(0);
      num_children_.push_back(0);
      label_.push_back(b);
      if (it.node == 0) root_[b] = child;
      queue.push_back({child, i, j, it.depth + 1});
      ++count;
      i = j;
    }
    first_child_[it.node] = first;
    num_children_[it.node] = count;
  }
}

uint32_t PieceTrie::child(uint32_t node, unsigned char label) const {
  const uint32_t first = first_child_[node];
  const uint32_t n = num_children_[node];
  if (n <= 8) {
    for (uint32_t k = first; k < first + n; ++k)
      if (label_[k] == label) return k;
    return 0;
  }
  const uint8_t* b = label_.data() + first;
  const uint8_t* e = b + n;
  const uint8_t* p = std::lower_bound(b, e, label);
  return (p != e && *p == label) ? static_cast<uint32_t>(p - label_.data()) : 0;
}

int32_t PieceTrie::find(std::string_view s) const {
  if (s.empty() || piece_.empty()) return -1;
  uint32_t node = root_[static_cast<unsigned char>(s[0])];
  for (size_t k = 1; k < s.size() && node != 0; ++k) node = child(node, static_cast<unsigned char>(s[k]));
  return node == 0 ? -1 : piece_[node];
}

}  // namespace crossrank
