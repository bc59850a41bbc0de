// XLM-R Unigram tokenizer: pipeline, Viterbi, and the tokenizer.json / .model loaders.
// Mirrors Hugging Face `tokenizers` (added_vocabulary.rs, normalizers/{precompiled,replace,
// strip}.rs, pre_tokenizers/{metaspace,whitespace}.rs, models/unigram/model.rs) and
// transformers' XLMRobertaConverter; see unigram.h.
#include "tokenizer/unigram.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace crossrank {

// ---------------------------------------------------------------------------------------
// PieceTrie

void PieceTrie::build(const std::vector<std::string>& pieces) {
  // Sort (piece, id); for equal strings keep the last id.
  std::vector<int32_t> order;
  order.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i)
    if (!pieces[i].empty()) order.push_back(static_cast<int32_t>(i));
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return pieces[a] < pieces[b]; });
  std::vector<int32_t> uniq;
  uniq.reserve(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    if (i + 1 < order.size() && pieces[order[i]] == pieces[order[i + 1]]) continue;
    uniq.push_back(order[i]);
  }

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
    if (lo < it.hi && pieces[uniq[lo]].size() == it.depth) {
      piece_[it.node] = uniq[lo];
      ++lo;
    }
    const auto first = static_cast<uint32_t>(piece_.size());
    uint16_t count = 0;
    size_t i = lo;
    while (i < it.hi) {
      const auto b = static_cast<unsigned char>(pieces[uniq[i]][it.depth]);
      size_t j = i + 1;
      while (j < it.hi && static_cast<unsigned char>(pieces[uniq[j]][it.depth]) == b) ++j;
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

// ---------------------------------------------------------------------------------------
// UnigramTokenizer

namespace {

constexpr double kUnkPenalty = 10.0;

// Byte offset where the trailing Rust-`\s` run of `s` starts (regex `\s*$`).
size_t trailing_space_start(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t b = end - 1;
    while (b > 0 && unicode::is_continuation_byte(s[b])) --b;
    size_t k = b;
    if (!unicode::is_white_space(unicode::next_code_point(s, k))) break;
    end = b;
  }
  return end;
}

// Byte length of the leading Rust-`\s` run of `s` (regex `^\s*`).
size_t leading_space_len(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t k = i;
    if (!unicode::is_white_space(unicode::next_code_point(s, k))) break;
    i = k;
  }
  return i;
}

bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t k = 0;
  return unicode::is_word_char(unicode::next_code_point(s, k));
}

bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t b = s.size() - 1;
  while (b > 0 && unicode::is_continuation_byte(s[b])) --b;
  return unicode::is_word_char(unicode::next_code_point(s, b));
}

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
  std::vector<Match> raw_splits, norm_splits;
  std::string norm, tmp, meta;
  std::vector<Node> lattice;
  std::vector<Match> path;
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

  // Added tokens: an id the model vocab already has for the content wins (as in HF).
  std::vector<AddedTokenSpec> added;
  for (auto& t : cfg_.added_tokens) {
    if (t.content.empty()) continue;
    check_utf8(t.content, "added token");
    const int32_t model_id = trie_.find(t.content);
    if (model_id >= 0) t.id = model_id;
    if (t.id < 0) throw Error(what + ": added token '" + t.content + "' has no valid id");
    added.push_back(t);
  }
  cfg_.added_tokens = std::move(added);
  vocab_size_ = static_cast<int32_t>(cfg_.pieces.size());
  for (const auto& t : cfg_.added_tokens) vocab_size_ = std::max(vocab_size_, t.id + 1);

  if (cfg_.byte_fallback) {
    byte_ids_.assign(256, -1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      byte_ids_[b] = trie_.find(name);
    }
  }
  raw_matcher_ = build_matcher(false);
  norm_matcher_ = build_matcher(true);

  special_.cls = find_token("<s>");
  special_.sep = find_token("</s>");
  special_.pad = find_token("<pad>");
  special_.unk = find_token("<unk>");
  if (special_.unk < 0 && cfg_.unk_id) special_.unk = *cfg_.unk_id;
}

int32_t UnigramTokenizer::find_token(std::string_view content) const {
  for (const auto& t : cfg_.added_tokens)
    if (t.content == content) return t.id;
  return trie_.find(content);
}

std::string UnigramTokenizer::id_to_token(int32_t id) const {
  if (id >= 0 && static_cast<size_t>(id) < cfg_.pieces.size()) return cfg_.pieces[id];
  for (const auto& t : cfg_.added_tokens)
    if (t.id == id) return t.content;
  return "";
}

UnigramTokenizer::AddedMatcher UnigramTokenizer::build_matcher(bool normalized_set) const {
  struct Entry {
    std::string pattern;
    int32_t token;
  };
  std::vector<Entry> entries;
  std::string tmp;
  for (size_t i = 0; i < cfg_.added_tokens.size(); ++i) {
    const auto& t = cfg_.added_tokens[i];
    if (t.normalized != normalized_set) continue;
    std::string pattern = t.content;
    if (normalized_set) {
      std::string n;
      normalize_into(t.content, n, tmp);
      pattern = n;
    }
    if (pattern.empty()) continue;
    // Same content twice: the later entry wins (HF keeps one pattern per content).
    auto same = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.pattern == pattern; });
    if (same != entries.end()) {
      same->token = static_cast<int32_t>(i);
      continue;
    }
    entries.push_back({std::move(pattern), static_cast<int32_t>(i)});
  }
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    const auto fa = static_cast<unsigned char>(a.pattern[0]), fb = static_cast<unsigned char>(b.pattern[0]);
    if (fa != fb) return fa < fb;
    return a.pattern.size() > b.pattern.size();
  });
  AddedMatcher m;
  m.by_byte.assign(257, 0);
  for (auto& e : entries) {
    m.by_byte[static_cast<unsigned char>(e.pattern[0]) + 1]++;
    m.patterns.push_back(std::move(e.pattern));
    m.token.push_back(e.token);
  }
  for (int b = 0; b < 256; ++b) m.by_byte[b + 1] += m.by_byte[b];
  return m;
}

void UnigramTokenizer::split_added(const AddedMatcher& m, std::string_view s, std::vector<Match>& out) const {
  out.clear();
  if (m.empty() || s.empty()) {
    out.push_back({0, s.size(), -1});
    return;
  }
  size_t start_offset = 0;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto b = static_cast<unsigned char>(s[i]);
    const uint32_t lo = m.by_byte[b], hi = m.by_byte[b + 1];
    if (lo == hi) {
      ++i;
      continue;
    }
    int64_t hit = -1;
    for (uint32_t k = lo; k < hi; ++k) {
      if (s.compare(i, m.patterns[k].size(), m.patterns[k]) == 0) {
        hit = k;
        break;
      }
    }
    if (hit < 0) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + m.patterns[hit].size();
    i = stop;  // matches never overlap: the search resumes after this one
    const AddedTokenSpec& t = cfg_.added_tokens[m.token[hit]];
    if (t.single_word) {
      const bool start_space = start == 0 || !ends_with_word(s.substr(0, start));
      const bool stop_space = stop == n || !starts_with_word(s.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) start = std::max(trailing_space_start(s.substr(0, start)), start_offset);
    if (t.rstrip) stop += leading_space_len(s.substr(stop));
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, t.id});
    start_offset = stop;
  }
  if (start_offset != n) out.push_back({start_offset, n, -1});
}

void UnigramTokenizer::normalize_into(std::string_view in, std::string& out, std::string& tmp) const {
  out.assign(in.data(), in.size());
  for (const auto& step : cfg_.normalizers) {
    tmp.clear();
    switch (step.kind) {
      case NormalizerStep::Kind::kPrecompiled:
        step.charsmap->normalize(out, tmp);
        break;
      case NormalizerStep::Kind::kReplace: {
        const std::string& p = step.pattern;
        if (p.empty()) {
          tmp = out;
          break;
        }
        size_t i = 0;
        while (i < out.size()) {
          const size_t f = out.find(p, i);
          if (f == std::string::npos) break;
          if (step.min_repeat > 0) {  // run of >= min_repeat copies of p
            size_t e = f;
            int count = 0;
            while (out.compare(e, p.size(), p) == 0) {
              e += p.size();
              ++count;
            }
            tmp.append(out, i, f - i);
            if (count >= step.min_repeat) tmp += step.content;
            else tmp.append(out, f, e - f);
            i = e;
          } else {
            tmp.append(out, i, f - i);
            tmp += step.content;
            i = f + p.size();
          }
        }
        tmp.append(out, i, std::string::npos);
        break;
      }
      case NormalizerStep::Kind::kStrip: {
        std::string_view v = out;
        if (step.strip_left) v.remove_prefix(leading_space_len(v));
        if (step.strip_right) v = v.substr(0, trailing_space_start(v));
        tmp.assign(v.data(), v.size());
        break;
      }
    }
    out.swap(tmp);
  }
}

std::string UnigramTokenizer::normalize(std::string_view in) const {
  check_utf8(in, "text");
  std::string out, tmp;
  normalize_into(in, out, tmp);
  return out;
}

std::vector<int32_t> UnigramTokenizer::encode(std::string_view text) const {
  check_utf8(text, "text");
  std::vector<int32_t> ids;
  if (text.empty()) return ids;
  ids.reserve(text.size() / 3 + 4);
  Scratch s;
  split_added(raw_matcher_, text, s.raw_splits);
  for (const Match& seg : s.raw_splits) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    if (seg.begin == seg.end) continue;
    normalize_into(text.substr(seg.begin, seg.end - seg.begin), s.norm, s.tmp);
    if (s.norm.empty()) continue;
    split_added(norm_matcher_, s.norm, s.norm_splits);
    for (const Match& piece : s.norm_splits) {
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
  const PreTokenizerSpec& pt = cfg_.pre_tokenizer;
  if (!pt.metaspace) {
    encode_word(piece, s, ids);
    return;
  }
  const std::string& rep = pt.replacement;
  std::string& m = s.meta;
  m.clear();
  const bool starts_with_rep = (!piece.empty() && piece[0] == ' ') || piece.substr(0, rep.size()) == rep;
  if (!starts_with_rep && (pt.prepend == PreTokenizerSpec::Prepend::kAlways ||
                           (pt.prepend == PreTokenizerSpec::Prepend::kFirst && at_text_start)))
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

// ---------------------------------------------------------------------------------------
// Loaders

namespace {

using nlohmann::json;

std::string read_whole_file(const std::string& path, const char* kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open " + kind);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error");
  return ss.str();
}

std::string base64_decode(const std::string& s, const std::string& what) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() % 4 != 0) throw Error(what + ": base64 length is not a multiple of 4");
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
        if (pad) throw Error(what + ": invalid base64 padding");
        v[k] = val(c);
        if (v[k] < 0) throw Error(what + ": invalid base64 character");
      }
    }
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

// Parses a Replace regex of the forms "<c>{n,}", "<c>+" or a metachar-free literal.
void parse_replace_regex(const std::string& re, NormalizerStep& step, const std::string& what) {
  static const std::string kMeta = "\\.+*?()|[]{}^$";
  auto unsupported = [&]() {
    throw Error(what + ": unsupported Replace regex '" + re + "' (supported: literal, 'c+', 'c{n,}')");
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

void parse_normalizer(const json& j, std::vector<NormalizerStep>& steps, const std::string& what) {
  if (j.is_null()) return;
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    for (const auto& sub : j.at("normalizers")) parse_normalizer(sub, steps, what);
  } else if (type == "Precompiled") {
    NormalizerStep step;
    step.kind = NormalizerStep::Kind::kPrecompiled;
    const auto& cm = j.at("precompiled_charsmap");
    std::string blob;
    if (cm.is_string()) blob = base64_decode(cm.get<std::string>(), what + ": Precompiled.precompiled_charsmap");
    else if (cm.is_array()) for (const auto& b : cm) blob.push_back(static_cast<char>(b.get<int>()));
    else if (cm.is_null()) return;  // no charsmap: identity
    else throw Error(what + ": Precompiled.precompiled_charsmap must be a base64 string");
    step.charsmap = std::make_shared<PrecompiledCharsmap>(blob, what);
    steps.push_back(std::move(step));
  } else if (type == "Replace") {
    NormalizerStep step;
    step.kind = NormalizerStep::Kind::kReplace;
    const auto& p = j.at("pattern");
    if (p.contains("String")) step.pattern = p.at("String").get<std::string>();
    else if (p.contains("Regex")) parse_replace_regex(p.at("Regex").get<std::string>(), step, what);
    else throw Error(what + ": Replace.pattern must have 'String' or 'Regex'");
    step.content = j.at("content").get<std::string>();
    check_utf8(step.pattern, "Replace pattern");
    check_utf8(step.content, "Replace content");
    steps.push_back(std::move(step));
  } else if (type == "Strip") {
    NormalizerStep step;
    step.kind = NormalizerStep::Kind::kStrip;
    step.strip_left = j.value("strip_left", true);
    step.strip_right = j.value("strip_right", true);
    steps.push_back(std::move(step));
  } else {
    throw Error(what + ": unsupported normalizer type '" + type +
                "' for a Unigram tokenizer (supported: Sequence, Precompiled, Replace, Strip)");
  }
}

void parse_metaspace(const json& j, PreTokenizerSpec& pt, const std::string& what) {
  pt.metaspace = true;
  const std::string rep = j.at("replacement").get<std::string>();
  check_utf8(rep, "Metaspace replacement");
  size_t k = 0;
  if (rep.empty() || (unicode::next_code_point(rep, k), k != rep.size()))
    throw Error(what + ": Metaspace.replacement must be exactly one character");
  pt.replacement = rep;
  const std::string scheme = j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()
                                 ? j["prepend_scheme"].get<std::string>()
                                 : "always";
  if (scheme == "always") pt.prepend = PreTokenizerSpec::Prepend::kAlways;
  else if (scheme == "first") pt.prepend = PreTokenizerSpec::Prepend::kFirst;
  else if (scheme == "never") pt.prepend = PreTokenizerSpec::Prepend::kNever;
  else throw Error(what + ": unknown Metaspace.prepend_scheme '" + scheme + "'");
  if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean() && !j["add_prefix_space"].get<bool>()) {
    if (pt.prepend != PreTokenizerSpec::Prepend::kNever)
      throw Error(what + ": Metaspace add_prefix_space does not match prepend_scheme");
    pt.prepend = PreTokenizerSpec::Prepend::kNever;
  }
  pt.split = j.contains("split") && !j["split"].is_null() ? j["split"].get<bool>() : true;
}

void parse_pre_tokenizer(const json& j, PreTokenizerSpec& pt, const std::string& what) {
  if (j.is_null()) return;
  const std::string type = j.at("type").get<std::string>();
  auto unsupported = [&]() {
    throw Error(what + ": unsupported pre_tokenizer '" + j.dump().substr(0, 200) +
                "' (supported: Metaspace, WhitespaceSplit, Sequence[WhitespaceSplit, Metaspace])");
  };
  if (type == "Metaspace") {
    parse_metaspace(j, pt, what);
  } else if (type == "WhitespaceSplit") {
    pt.whitespace_split = true;
  } else if (type == "Sequence") {
    const auto& list = j.at("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string t = list[i].at("type").get<std::string>();
      if (t == "WhitespaceSplit" && i == 0 && !pt.whitespace_split) pt.whitespace_split = true;
      else if (t == "Metaspace" && !pt.metaspace) parse_metaspace(list[i], pt, what);
      else unsupported();
    }
  } else {
    unsupported();
  }
}

}  // namespace

std::unique_ptr<Tokenizer> load_unigram_tokenizer_json(const std::string& path) {
  const std::string text = read_whole_file(path, "tokenizer.json");
  UnigramConfig cfg;
  try {
    json j;
    try {
      j = json::parse(text);
    } catch (const json::parse_error& e) {
      throw Error(path + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
      throw Error(path + ": no 'model' object");
    const json& model = j["model"];
    const std::string type = model.value("type", std::string());
    if (type != "Unigram") throw Error(path + ": model.type is '" + type + "', expected 'Unigram'");
    const json& vocab = model.at("vocab");
    if (!vocab.is_array()) throw Error(path + ": model.vocab must be an array");
    cfg.pieces.reserve(vocab.size());
    cfg.scores.reserve(vocab.size());
    for (const auto& e : vocab) {
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
        throw Error(path + ": model.vocab entry " + std::to_string(cfg.pieces.size()) + " is not [piece, score]");
      cfg.pieces.push_back(e[0].get<std::string>());
      check_utf8(cfg.pieces.back(), "vocab piece");
      cfg.scores.push_back(e[1].get<double>());
    }
    if (model.contains("unk_id") && !model["unk_id"].is_null()) {
      const auto u = model["unk_id"].get<int64_t>();
      if (u < 0 || u > INT32_MAX) throw Error(path + ": model.unk_id out of range");
      cfg.unk_id = static_cast<int32_t>(u);
    }
    if (model.contains("byte_fallback") && !model["byte_fallback"].is_null())
      cfg.byte_fallback = model["byte_fallback"].get<bool>();
    if (j.contains("normalizer")) parse_normalizer(j["normalizer"], cfg.normalizers, path);
    if (j.contains("pre_tokenizer")) parse_pre_tokenizer(j["pre_tokenizer"], cfg.pre_tokenizer, path);
    if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
      for (const auto& a : j["added_tokens"]) {
        AddedTokenSpec t;
        const auto id = a.at("id").get<int64_t>();
        if (id < 0 || id > INT32_MAX) throw Error(path + ": added token id out of range");
        t.id = static_cast<int32_t>(id);
        t.content = a.at("content").get<std::string>();
        t.single_word = a.value("single_word", false);
        t.lstrip = a.value("lstrip", false);
        t.rstrip = a.value("rstrip", false);
        t.special = a.value("special", false);
        t.normalized = a.value("normalized", !t.special);
        cfg.added_tokens.push_back(std::move(t));
      }
    }
  } catch (const json::exception& e) {
    throw Error(path + ": malformed tokenizer.json (" + e.what() + ")");
  }
  return std::make_unique<UnigramTokenizer>(std::move(cfg), path);
}

std::unique_ptr<Tokenizer> load_unigram_sentencepiece(const std::string& path) {
  const SpmModel spm = load_spm_model(path);
  if (spm.model_type != 1)
    throw Error(path + ": SentencePiece model_type " + std::to_string(spm.model_type) +
                " is not Unigram (1); only Unigram models are supported");
  if (spm.pieces.size() < 3) throw Error(path + ": SentencePiece model has fewer than 3 pieces");
  // transformers XLMRobertaConverter: fairseq ids <s>=0 <pad>=1 </s>=2 <unk>=3, spm piece
  // k >= 3 -> k + 1, <mask> last. Normalizer: Precompiled + Replace(" {2,}" -> " ");
  // pre-tokenizer: Metaspace("▁", prepend_scheme always, split). byte_fallback is not
  // carried over by that converter (it only warns), so it is off here too.
  UnigramConfig cfg;
  const size_t n = spm.pieces.size() + 2;
  cfg.pieces.reserve(n);
  cfg.scores.reserve(n);
  for (const char* s : {"<s>", "<pad>", "</s>", "<unk>"}) {
    cfg.pieces.emplace_back(s);
    cfg.scores.push_back(0.0);
  }
  for (size_t k = 3; k < spm.pieces.size(); ++k) {
    check_utf8(spm.pieces[k].piece, "SentencePiece piece");
    cfg.pieces.push_back(spm.pieces[k].piece);
    cfg.scores.push_back(static_cast<double>(spm.pieces[k].score));
  }
  cfg.pieces.emplace_back("<mask>");
  cfg.scores.push_back(0.0);
  cfg.unk_id = 3;
  if (!spm.precompiled_charsmap.empty()) {
    NormalizerStep pre;
    pre.kind = NormalizerStep::Kind::kPrecompiled;
    pre.charsmap = std::make_shared<PrecompiledCharsmap>(spm.precompiled_charsmap, path);
    cfg.normalizers.push_back(std::move(pre));
  }
  NormalizerStep rep;
  rep.kind = NormalizerStep::Kind::kReplace;
  rep.pattern = " ";
  rep.min_repeat = 2;
  rep.content = " ";
  cfg.normalizers.push_back(std::move(rep));
  cfg.pre_tokenizer.metaspace = true;
  cfg.pre_tokenizer.prepend = PreTokenizerSpec::Prepend::kAlways;
  cfg.pre_tokenizer.split = true;
  // Control (3) and user-defined (4) spm pieces become added tokens (control ones special),
  // then the tokenizer's own special tokens; <mask> has lstrip.
  for (size_t k = 3; k < spm.pieces.size(); ++k) {
    const auto type = spm.pieces[k].type;
    if (type != SpmPieceType::kControl && type != SpmPieceType::kUserDefined) continue;
    AddedTokenSpec t;
    t.id = static_cast<int32_t>(k + 1);
    t.content = spm.pieces[k].piece;
    t.special = type == SpmPieceType::kControl;
    t.normalized = false;
    cfg.added_tokens.push_back(std::move(t));
  }
  const struct {
    const char* content;
    int32_t id;
    bool lstrip;
  } specials[] = {{"<s>", 0, false}, {"<pad>", 1, false}, {"</s>", 2, false}, {"<unk>", 3, false},
                  {"<mask>", static_cast<int32_t>(n - 1), true}};
  for (const auto& s : specials) {
    AddedTokenSpec t;
    t.id = s.id;
    t.content = s.content;
    t.lstrip = s.lstrip;
    t.special = true;
    t.normalized = false;
    cfg.added_tokens.push_back(std::move(t));
  }
  return std::make_unique<UnigramTokenizer>(std::move(cfg), path);
}

}  // namespace crossrank
