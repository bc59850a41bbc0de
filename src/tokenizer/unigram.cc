// XLM-R Unigram tokenizer: the encode pipeline and the Viterbi search. Mirrors Hugging Face
// `tokenizers` (pre_tokenizers/{metaspace,whitespace}.rs, models/unigram/model.rs); the
// added vocabulary and the normalizers are the shared ones (added_vocab.h, normalizer.h).
#include "tokenizer/unigram.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace crossrank {

namespace {

constexpr double kUnkPenalty = 10.0;

inline size_t utf8_len(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

}  // namespace

struct UnigramTokenizer::Scratch {
  struct Node {
    double score;
    int32_t start;  // -1: not reached yet
    int32_t id;
  };
  struct Span {
    size_t begin, end;
    int32_t id;
  };
  std::vector<AddedPiece> raw_splits, norm_splits;
  std::string norm, tmp, meta;
  std::vector<Node> lattice;
  std::vector<Span> path;
};

UnigramTokenizer::UnigramTokenizer(UnigramConfig config, const std::string& what) : cfg_(std::move(config)) {
  if (cfg_.pieces.size() != cfg_.scores.size()) throw Error(what + ": vocab pieces/scores size mismatch");
  if (cfg_.pieces.size() >= (1u << 30)) throw Error(what + ": vocabulary too large");
  if (cfg_.unk_id) {
    if (cfg_.pieces.empty()) throw Error(what + ": the vocabulary is empty but at least <unk> is needed");
    if (*cfg_.unk_id < 0 || static_cast<size_t>(*cfg_.unk_id) >= cfg_.pieces.size())
      throw Error(what + ": unk_id " + std::to_string(*cfg_.unk_id) + " is outside the vocabulary");
  }
  trie_.build(cfg_.pieces);
  double min_score = std::numeric_limits<double>::infinity();
  for (double s : cfg_.scores) min_score = std::min(min_score, s);
  unk_score_ = min_score - kUnkPenalty;
  normalizer_ = Normalizer(cfg_.normalizers);

  const auto model_size = static_cast<int32_t>(cfg_.pieces.size());
  added_ = AddedVocabulary(
      cfg_.added_tokens, [&](std::string_view c) { return trie_.find(c); }, model_size,
      [&](std::string_view c) { return normalizer_.normalize(c); });
  vocab_size_ = std::max(model_size, added_.max_id() + 1);

  if (cfg_.byte_fallback) {
    byte_ids_.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      byte_ids_[b] = trie_.find(name);
    }
  }
  special_.cls = token_to_id(cfg_.cls_token);
  special_.sep = token_to_id(cfg_.sep_token);
  special_.pad = token_to_id("<pad>");
  special_.unk = token_to_id("<unk>");
  if (special_.unk < 0 && cfg_.unk_id) special_.unk = *cfg_.unk_id;
}

int32_t UnigramTokenizer::token_to_id(std::string_view token) const {
  const int32_t id = added_.token_to_id(token);
  return id >= 0 ? id : trie_.find(token);
}

std::string UnigramTokenizer::id_to_token(int32_t id) const {
  if (const std::string* t = added_.id_to_token(id)) return *t;
  if (id >= 0 && static_cast<size_t>(id) < cfg_.pieces.size()) return cfg_.pieces[id];
  return "";
}

std::string UnigramTokenizer::normalize(std::string_view in) const {
  check_utf8(in, "text");
  return normalizer_.normalize(in);
}

std::vector<int32_t> UnigramTokenizer::encode(std::string_view text) const {
  check_utf8(text, "text");
  std::vector<int32_t> ids;
  if (text.empty()) return ids;
  ids.reserve(text.size() / 3 + 4);
  Scratch s;
  added_.split(text, false, s.raw_splits);
  for (const AddedPiece& seg : s.raw_splits) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    if (seg.begin == seg.end) continue;
    normalizer_.normalize(text.substr(seg.begin, seg.end - seg.begin), s.norm, s.tmp);
    if (s.norm.empty()) continue;
    added_.split(s.norm, true, s.norm_splits);
    for (const AddedPiece& piece : s.norm_splits) {
      if (piece.id >= 0) {
        ids.push_back(piece.id);
        continue;
      }
      if (piece.begin == piece.end) continue;
      pre_tokenize_and_encode(std::string_view(s.norm).substr(piece.begin, piece.end - piece.begin),
                              seg.begin == 0 && piece.begin == 0, s, ids);
    }
  }
  return ids;
}

void UnigramTokenizer::pre_tokenize_and_encode(std::string_view normalized, bool at_text_start, Scratch& s,
                                               std::vector<int32_t>& ids) const {
  if (!cfg_.pre_tokenizer.whitespace_split) {
    metaspace_and_encode(normalized, at_text_start, s, ids);
    return;
  }
  // WhitespaceSplit: maximal runs of non-White_Space code points.
  size_t i = 0;
  const size_t n = normalized.size();
  while (i < n) {
    size_t word_begin = i;
    while (word_begin < n) {
      size_t k = word_begin;
      if (!unicode::is_white_space(unicode::next_code_point(normalized, k))) break;
      word_begin = k;
    }
    if (word_begin == n) break;
    size_t word_end = word_begin;
    while (word_end < n) {
      size_t k = word_end;
      if (unicode::is_white_space(unicode::next_code_point(normalized, k))) break;
      word_end = k;
    }
    metaspace_and_encode(normalized.substr(word_begin, word_end - word_begin), at_text_start && word_begin == 0, s,
                         ids);
    i = word_end;
  }
}

void UnigramTokenizer::metaspace_and_encode(std::string_view piece, bool at_text_start, Scratch& s,
                                            std::vector<int32_t>& ids) const {
  const MetaspaceOptions& pt = cfg_.pre_tokenizer.options;
  if (!cfg_.pre_tokenizer.metaspace) {
    encode_word(piece, s, ids);
    return;
  }
  const std::string& rep = pt.replacement;
  std::string& m = s.meta;
  m.clear();
  const bool starts_with_rep = (!piece.empty() && piece[0] == ' ') || piece.substr(0, rep.size()) == rep;
  if (!starts_with_rep && (pt.prepend == MetaspaceOptions::Prepend::kAlways ||
                           (pt.prepend == MetaspaceOptions::Prepend::kFirst && at_text_start)))
    m += rep;
  for (const char c : piece) {
    if (c == ' ') m += rep;
    else m.push_back(c);
  }
  if (!pt.split) {
    encode_word(m, s, ids);
    return;
  }
  // MergedWithNext on the replacement: a new piece starts at every replacement char.
  const std::string_view v = m;
  size_t begin = 0;
  size_t f = v.find(rep, rep.size() <= v.size() && v.compare(0, rep.size(), rep) == 0 ? rep.size() : 0);
  while (f != std::string_view::npos) {
    if (f > begin) encode_word(v.substr(begin, f - begin), s, ids);
    begin = f;
    f = v.find(rep, f + rep.size());
  }
  if (begin < v.size()) encode_word(v.substr(begin), s, ids);
}

void UnigramTokenizer::encode_word(std::string_view word, Scratch& s, std::vector<int32_t>& ids) const {
  const size_t n = word.size();
  if (n == 0) return;
  auto& lat = s.lattice;
  lat.assign(n + 1, Scratch::Node{0.0, -1, 0});
  const double* scores = cfg_.scores.data();
  for (size_t pos = 0; pos < n;) {
    const double base = lat[pos].score;
    const size_t mblen = utf8_len(static_cast<unsigned char>(word[pos]));
    bool has_single_node = false;
    trie_.for_each_prefix(word.substr(pos), [&](size_t len, int32_t id) {
      Scratch::Node& t = lat[pos + len];
      const double cand = scores[id] + base;
      if (t.start < 0 || cand > t.score) {
        t.score = cand;
        t.start = static_cast<int32_t>(pos);
        t.id = id;
      }
      if (len == mblen) has_single_node = true;
    });
    if (!has_single_node) {
      if (!cfg_.unk_id) throw Error("unigram: encountered an unknown character but the model has no unk_id");
      Scratch::Node& t = lat[pos + mblen];
      const double cand = unk_score_ + base;
      if (t.start < 0 || cand > t.score) {
        t.score = cand;
        t.start = static_cast<int32_t>(pos);
        t.id = *cfg_.unk_id;
      }
    }
    pos += mblen;
  }
  // Backtrack, then emit in order, fusing consecutive unk nodes (fuse_unk = true).
  auto& path = s.path;
  path.clear();
  for (size_t end = n; end > 0;) {
    const Scratch::Node& nd = lat[end];
    path.push_back({static_cast<size_t>(nd.start), end, nd.id});
    end = static_cast<size_t>(nd.start);
  }
  const int32_t unk = cfg_.unk_id ? *cfg_.unk_id : -1;
  size_t unk_begin = 0, unk_end = 0;
  bool in_unk = false;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    if (it->id == unk) {
      if (!in_unk) unk_begin = it->begin;
      unk_end = it->end;
      in_unk = true;
      continue;
    }
    if (in_unk) {
      emit_unknown(word.substr(unk_begin, unk_end - unk_begin), ids);
      in_unk = false;
    }
    ids.push_back(it->id);
  }
  if (in_unk) emit_unknown(word.substr(unk_begin, unk_end - unk_begin), ids);
}

void UnigramTokenizer::emit_unknown(std::string_view text, std::vector<int32_t>& ids) const {
  const int32_t id = trie_.find(text);
  if (id >= 0) {
    ids.push_back(id);
    return;
  }
  if (cfg_.byte_fallback) {
    bool all = true;
    for (const char c : text) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
    if (all) {
      for (const char c : text) ids.push_back(byte_ids_[static_cast<unsigned char>(c)]);
      return;
    }
  }
  ids.push_back(*cfg_.unk_id);
}

}  // namespace crossrank
