// Byte-level BPE: the encode pipeline and the merge loop of HF tokenizers
// (models/bpe/{model,word}.rs, pre_tokenizers/{split,byte_level}.rs).
//
// 1. Words are merged on raw bytes: the vocabulary is indexed by the bytes its byte-level
//    spelling stands for, so the ByteLevel mapping never has to be materialised.
// 2. merge_all is HF's Word::merge_all: a min-heap of (rank, position) candidates over a
//    doubly linked list of symbols, stale candidates skipped on pop: O(n log n) per word.
// 3. Words up to kCacheMaxLen bytes are cached per thread (as HF's BPE cache), which makes
//    repeated words (most of a text) one hash lookup.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <string_view>
#include <unordered_map>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab_index.h"
#include "util/error.h"

namespace crossrank {
namespace {

constexpr std::size_t kCacheMaxLen = 32;         // bytes; longer words are not cached
constexpr std::size_t kCacheMaxEntries = 16384;  // per thread and tokenizer; then cleared

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// (left, right) -> (rank, result): open addressing, linear probing.
class MergeTable {
 public:
  void build(const std::vector<BpeMerge>& merges) {
    std::size_t cap = 16;
    while (cap < merges.size() + merges.size() / 2 + 1) cap <<= 1;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (std::size_t r = 0; r < merges.size(); ++r) {
      const uint64_t k = key(merges[r].left, merges[r].right);
      std::size_t i = hash(k) & mask_;
      while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask_;
      slots_[i] = {k, static_cast<uint32_t>(r), merges[r].result};  // a later duplicate wins
    }
    dense_.assign(kDense * kDense, kEmpty);
    for (std::size_t r = 0; r < merges.size(); ++r) {
      const BpeMerge& m = merges[r];
      if (static_cast<uint32_t>(m.left | m.right) < kDense)
        dense_[(static_cast<uint32_t>(m.left) << 8) | static_cast<uint32_t>(m.right)] =
            (static_cast<uint64_t>(r) << 32) | static_cast<uint32_t>(m.result);
    }
  }
  // Starts loading the slot of (a, b) into cache (lookups are cache misses: overlap two).
  void prefetch(int32_t a, int32_t b) const {
    if (static_cast<uint32_t>(a | b) >= kDense) __builtin_prefetch(&slots_[hash(key(a, b)) & mask_]);
  }
  // True and (rank, result) when (a, b) merges.
  bool find(int32_t a, int32_t b, uint32_t& rank, int32_t& result) const {
    if (static_cast<uint32_t>(a | b) < kDense) {  // both ids small: the dense table
      const uint64_t v = dense_[(static_cast<uint32_t>(a) << 8) | static_cast<uint32_t>(b)];
      rank = static_cast<uint32_t>(v >> 32);
      result = static_cast<int32_t>(v & 0xFFFFFFFFu);
      return v != kEmpty;
    }
    const uint64_t k = key(a, b);
    for (std::size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == k) {
        rank = s.rank;
        result = s.result;
        return true;
      }
      if (s.key == kEmpty) return false;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  // Pairs of ids below 256 (the single bytes in GPT-2 / Qwen vocabularies: most lookups of a
  // word's first merges) live in a dense 512 KiB table that stays in cache.
  static constexpr uint32_t kDense = 256;
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    int32_t result = -1;
  };
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static uint64_t hash(uint64_t k) {
    k ^= k >> 31;
    k *= 0x9e3779b97f4a7c15ull;
    return k ^ (k >> 29);
  }
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::vector<uint64_t> dense_;  // (rank << 32 | result) by (left << 8 | right); kEmpty: none
};

std::atomic<uint64_t> g_next_instance{1};

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(BpeConfig cfg, const std::string& what);

  std::vector<int32_t> encode(std::string_view text) const override;
  const SpecialTokens& special() const override { return special_; }
  int32_t vocab_size() const override { return vocab_size_; }
  std::string id_to_token(int32_t id) const override {
    if (const std::string* t = added_.id_to_token(id)) return *t;
    return id >= 0 && static_cast<std::size_t>(id) < spelling_.size() ? spelling_[id] : std::string();
  }
  int32_t token_to_id(std::string_view token) const override {
    const int32_t id = added_.token_to_id(token);
    return id >= 0 ? id : by_spelling_.find(token);
  }

 private:
  struct Sym {
    int32_t id, prev, next;
    bool alive;
  };
  struct Cand {
    uint32_t rank, pos;
    int32_t left, right, result;  // the pair when the candidate was made
  };
  struct Scratch {
    std::vector<AddedPiece> raw, norm;
    std::string normalized, tmp, prefixed;
    std::vector<WordSpan> words, sub;
    std::vector<Sym> syms;
    std::vector<Cand> heap;
  };
  using Cache = std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>>;

  void encode_piece(std::string_view piece, Scratch& s, Cache& cache, std::vector<int32_t>& ids) const;
  void encode_byte_level(std::string_view piece, Scratch& s, Cache& cache, std::vector<int32_t>& ids) const;
  void encode_word(std::string_view word, Scratch& s, Cache& cache, std::vector<int32_t>& ids) const;
  void initial_symbols(std::string_view word, std::vector<Sym>& syms) const;
  void merge_all(Scratch& s) const;
  Cache& thread_cache() const;

  BpeConfig cfg_;
  uint64_t instance_ = 0;
  Normalizer normalizer_;
  AddedVocabulary added_;
  std::vector<std::string> spelling_;  // id -> model spelling
  VocabIndex by_spelling_;             // model spelling -> id
  VocabIndex by_bytes_;                // raw bytes -> id (tokens spelled in the byte alphabet)
  int32_t byte_id_[256];               // token of each single byte, or -1
  bool all_bytes_ = true;              // every byte has a token
  MergeTable merges_;
  int32_t unk_id_ = -1;
  SpecialTokens special_;
  int32_t vocab_size_ = 0;
};

BpeTokenizer::BpeTokenizer(BpeConfig cfg, const std::string& what) : cfg_(std::move(cfg)) {
  instance_ = g_next_instance.fetch_add(1);
  check(!cfg_.vocab.empty(), what + ": empty BPE vocabulary");
  int32_t max_id = -1;
  for (const auto& [tok, id] : cfg_.vocab) {
    check(id >= 0 && id < (1 << 30), what + ": invalid id " + std::to_string(id) + " for token '" + tok + "'");
    max_id = std::max(max_id, id);
  }
  spelling_.assign(static_cast<std::size_t>(max_id) + 1, std::string());
  std::vector<std::pair<std::string_view, int32_t>> entries;
  entries.reserve(cfg_.vocab.size());
  for (const auto& [tok, id] : cfg_.vocab) {
    entries.emplace_back(tok, id);
    spelling_[id] = tok;
  }
  by_spelling_.build(entries);
  // Raw-byte index over the final token -> id map (a later duplicate spelling wins).
  std::vector<std::string> raw;
  std::vector<std::pair<std::string_view, int32_t>> raw_entries;
  raw.reserve(entries.size());
  std::string bytes;
  for (const auto& [tok, id] : entries) {
    if (by_spelling_.find(tok) != id) continue;
    if (!cfg_.byte_level) bytes.assign(tok);  // spelled in UTF-8 itself
    else if (!byte_level_decode(tok, bytes)) continue;
    raw.push_back(bytes);
    raw_entries.emplace_back(std::string_view(), id);
  }
  for (std::size_t k = 0; k < raw.size(); ++k) raw_entries[k].first = raw[k];
  by_bytes_.build(raw_entries);
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    byte_id_[b] = by_bytes_.find(std::string_view(&c, 1));
    all_bytes_ = all_bytes_ && byte_id_[b] >= 0;
  }
  if (!cfg_.byte_level) all_bytes_ = false;  // symbols are characters, not bytes
  for (const BpeMerge& m : cfg_.merges) {
    for (const int32_t id : {m.left, m.right, m.result})
      check(id >= 0 && id <= max_id, what + ": merge names id " + std::to_string(id) + " outside the vocabulary");
  }
  merges_.build(cfg_.merges);
  cfg_.merges.clear();
  cfg_.merges.shrink_to_fit();
  cfg_.vocab.clear();
  cfg_.vocab.shrink_to_fit();
  if (!cfg_.unk_token.empty()) unk_id_ = by_spelling_.find(cfg_.unk_token);

  normalizer_ = Normalizer(cfg_.normalizer);
  const auto model_size = static_cast<int32_t>(by_spelling_.size());
  added_ = AddedVocabulary(
      cfg_.added_tokens, [&](std::string_view c) { return by_spelling_.find(c); }, model_size,
      [&](std::string_view c) { return normalizer_.normalize(c); });
  vocab_size_ = std::max({model_size, max_id + 1, added_.max_id() + 1});

  special_.cls = cfg_.cls_token.empty() ? -1 : token_to_id(cfg_.cls_token);
  special_.sep = cfg_.sep_token.empty() ? -1 : token_to_id(cfg_.sep_token);
  for (const std::string& pad : {cfg_.pad_token, std::string("<pad>"), std::string("<|endoftext|>")}) {
    if (!pad.empty() && special_.pad < 0) special_.pad = token_to_id(pad);
  }
  special_.unk = unk_id_;
}

BpeTokenizer::Cache& BpeTokenizer::thread_cache() const {
  // One cache per (thread, tokenizer instance); instance ids are never reused, and only the
  // caches of the last few tokenizers a thread used are kept.
  thread_local std::vector<std::pair<uint64_t, Cache>> caches;
  for (auto& [inst, cache] : caches)
    if (inst == instance_) return cache;
  if (caches.size() >= 4) caches.erase(caches.begin());
  caches.emplace_back(instance_, Cache{});
  return caches.back().second;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  check_utf8(text, "text");
  std::vector<int32_t> ids;
  if (text.empty()) return ids;
  ids.reserve(text.size() / 3 + 4);
  Scratch s;
  Cache& cache = thread_cache();
  added_.split(text, false, s.raw);
  for (const AddedPiece& seg : s.raw) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
    if (!normalizer_.empty()) {
      normalizer_.normalize(piece, s.normalized, s.tmp);
      piece = s.normalized;
    }
    added_.split(piece, true, s.norm);
    for (const AddedPiece& p : s.norm) {
      if (p.id >= 0) ids.push_back(p.id);
      else encode_piece(piece.substr(p.begin, p.end - p.begin), s, cache, ids);
    }
  }
  return ids;
}

void BpeTokenizer::encode_piece(std::string_view piece, Scratch& s, Cache& cache, std::vector<int32_t>& ids) const {
  if (!cfg_.split) {
    encode_byte_level(piece, s, cache, ids);
    return;
  }
  s.words.clear();
  split_words(piece, *cfg_.split, s.words);
  for (const WordSpan& w : s.words) encode_byte_level(piece.substr(w.begin, w.end - w.begin), s, cache, ids);
}

void BpeTokenizer::encode_byte_level(std::string_view piece, Scratch& s, Cache& cache,
                                     std::vector<int32_t>& ids) const {
  if (piece.empty()) return;
  if (cfg_.add_prefix_space && piece.front() != ' ') {
    s.prefixed.assign(1, ' ');
    s.prefixed.append(piece);
    piece = s.prefixed;
  }
  if (!cfg_.byte_level_regex) {
    encode_word(piece, s, cache, ids);
    return;
  }
  s.sub.clear();
  split_words(piece, SplitPattern::kGpt2, s.sub);
  for (const WordSpan& w : s.sub) encode_word(piece.substr(w.begin, w.end - w.begin), s, cache, ids);
}

void BpeTokenizer::encode_word(std::string_view word, Scratch& s, Cache& cache, std::vector<int32_t>& ids) const {
  if (cfg_.ignore_merges) {
    const int32_t id = by_bytes_.find(word);
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() <= kCacheMaxLen;
  if (cacheable) {
    auto it = cache.find(word);
    if (it != cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  initial_symbols(word, s.syms);
  merge_all(s);
  const std::size_t first = ids.size();
  for (const Sym& y : s.syms)
    if (y.alive) ids.push_back(y.id);
  if (cacheable) {
    if (cache.size() >= kCacheMaxEntries) cache.clear();
    cache.emplace(std::string(word), std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end()));
  }
}

void BpeTokenizer::initial_symbols(std::string_view word, std::vector<Sym>& syms) const {
  syms.clear();
  auto add = [&](int32_t id) {
    const auto k = static_cast<int32_t>(syms.size());
    syms.push_back({id, k - 1, k + 1, true});
  };
  if (all_bytes_) {
    for (const char c : word) add(byte_id_[static_cast<unsigned char>(c)]);
  } else if (!cfg_.byte_level) {
    // HF merge_word: each character's token, else its <0xXX> byte tokens (byte_fallback,
    // all of them present), else <unk> (runs fused with fuse_unk).
    int32_t pending_unk = -1;
    for (std::size_t i = 0; i < word.size();) {
      std::size_t n = 1;
      const auto lead = static_cast<unsigned char>(word[i]);
      if (lead >= 0xF0) n = 4;
      else if (lead >= 0xE0) n = 3;
      else if (lead >= 0xC0) n = 2;
      n = std::min(n, word.size() - i);
      const std::string_view ch = word.substr(i, n);
      i += n;
      int32_t id = by_bytes_.find(ch);
      if (id >= 0) {
        if (pending_unk >= 0) add(pending_unk);
        pending_unk = -1;
        add(id);
        continue;
      }
      if (cfg_.byte_fallback) {
        int32_t fb[4];
        bool ok = true;
        for (std::size_t k = 0; k < ch.size() && ok; ++k) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned char>(ch[k]));
          fb[k] = by_spelling_.find(name);
          ok = fb[k] >= 0;
        }
        if (ok) {  // (HF adds a pending <unk> only later, as here)
          for (std::size_t k = 0; k < ch.size(); ++k) add(fb[k]);
          continue;
        }
      }
      if (cfg_.unk_token.empty()) continue;
      if (unk_id_ < 0) throw Error("BPE: unk_token '" + cfg_.unk_token + "' is not in the vocabulary");
      if (pending_unk >= 0 && !cfg_.fuse_unk) add(pending_unk);
      pending_unk = unk_id_;
    }
    if (pending_unk >= 0) add(pending_unk);
  } else {
    // HF merge_word for a byte whose character is not in the vocabulary: byte fallback
    // (<0xXX> of the character's UTF-8), else <unk> (fused runs with fuse_unk), else dropped.
    int32_t pending_unk = -1;
    for (const char c : word) {
      const int32_t id = byte_id_[static_cast<unsigned char>(c)];
      if (id >= 0) {
        if (pending_unk >= 0) add(pending_unk);
        pending_unk = -1;
        add(id);
        continue;
      }
      if (cfg_.byte_fallback) {
        std::string ch;
        unicode::append_utf8(ch, byte_to_char(static_cast<uint8_t>(c)));
        int32_t fb[4];
        bool ok = true;
        for (std::size_t k = 0; k < ch.size() && ok; ++k) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned char>(ch[k]));
          fb[k] = by_spelling_.find(name);
          ok = fb[k] >= 0;
        }
        if (ok) {
          for (std::size_t k = 0; k < ch.size(); ++k) add(fb[k]);
          continue;
        }
      }
      if (cfg_.unk_token.empty()) continue;
      if (unk_id_ < 0) throw Error("BPE: unk_token '" + cfg_.unk_token + "' is not in the vocabulary");
      if (pending_unk >= 0 && !cfg_.fuse_unk) add(pending_unk);
      pending_unk = unk_id_;
    }
    if (pending_unk >= 0) add(pending_unk);
  }
  if (!syms.empty()) syms.back().next = -1;
}

void BpeTokenizer::merge_all(Scratch& s) const {
  std::vector<Sym>& sym = s.syms;
  std::vector<Cand>& heap = s.heap;
  heap.clear();
  auto later = [](const Cand& a, const Cand& b) { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; };
  uint32_t rank;
  int32_t result;
  for (std::size_t i = 0; i + 1 < sym.size(); ++i)
    if (merges_.find(sym[i].id, sym[i + 1].id, rank, result))
      heap.push_back({rank, static_cast<uint32_t>(i), sym[i].id, sym[i + 1].id, result});
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Cand top = heap.back();
    heap.pop_back();
    Sym& cur = sym[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const int32_t nx = cur.next;
    // A stale candidate: the pair at this position is no longer the one it was made for (HF
    // compares the result of the current pair; an unchanged pair needs no lookup).
    if ((cur.id != top.left || sym[nx].id != top.right) &&
        (!merges_.find(cur.id, sym[nx].id, rank, result) || result != top.result))
      continue;
    cur.id = top.result;
    cur.next = sym[nx].next;
    sym[nx].alive = false;
    if (cur.next >= 0) sym[cur.next].prev = static_cast<int32_t>(top.pos);
    if (cur.next >= 0) merges_.prefetch(cur.id, sym[cur.next].id);
    if (cur.prev >= 0 && merges_.find(sym[cur.prev].id, cur.id, rank, result)) {
      heap.push_back({rank, static_cast<uint32_t>(cur.prev), sym[cur.prev].id, cur.id, result});
      std::push_heap(heap.begin(), heap.end(), later);
    }
    if (cur.next >= 0 && merges_.find(cur.id, sym[cur.next].id, rank, result)) {
      heap.push_back({rank, top.pos, cur.id, sym[cur.next].id, result});
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
}

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeConfig config, const std::string& what) {
  return std::make_unique<BpeTokenizer>(std::move(config), what);
}

}  // namespace crossrank
