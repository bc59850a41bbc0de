#include "eval/data.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>
#include <unordered_map>

#include "util/error.h"
#include "util/paths.h"

namespace crossrank::eval {

namespace fs = std::filesystem;

std::size_t EvalDataset::pairs() const {
  std::size_t n = 0;
  for (const auto& l : lists) n += l.docs.size();
  return n;
}

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names{"msmarco-trecdl", "wikiqa", "xquad-zh", "xquad-en", "cmrc2018"};
  return names;
}

std::string default_shared_dir() { return shared_data_root(); }

namespace {

// ---------------------------------------------------------------- BM25 (padding only)

// Lower-cased ASCII/Latin words, plus every CJK character and every pair of adjacent
// CJK characters (the usual character-n-gram treatment of unsegmented Chinese).
std::vector<std::string> bm25_terms(const std::string& s) {
  std::vector<std::string> out;
  std::string word, prev_cjk;
  auto flush = [&] {
    if (!word.empty()) out.push_back(std::move(word));
    word.clear();
  };
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + len > s.size()) len = 1;
    std::uint32_t cp = c;
    if (len == 2) cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    if (len == 3) cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    if (len == 4) cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
    const std::string ch = s.substr(i, len);
    i += len;
    const bool cjk = (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
                     (cp >= 0x20000 && cp <= 0x2FFFF) || (cp >= 0xF900 && cp <= 0xFAFF);
    if (cjk) {
      flush();
      out.push_back(ch);
      if (!prev_cjk.empty()) out.push_back(prev_cjk + ch);
      prev_cjk = ch;
      continue;
    }
    prev_cjk.clear();
    const bool word_char = cp < 0x80 ? std::isalnum(c) != 0 : (cp >= 0xC0 && cp < 0x2000);  // Latin/Greek/Cyrillic...
    if (!word_char) flush();
    else if (cp < 0x80) word += static_cast<char>(std::tolower(c));
    else word += ch;
  }
  flush();
  return out;
}

class Bm25 {
 public:
  explicit Bm25(const std::vector<std::string>& docs) : n_(docs.size()), len_(docs.size()) {
    double total = 0;
    for (std::size_t d = 0; d < docs.size(); ++d) {
      std::unordered_map<std::string, int> tf;
      for (auto& t : bm25_terms(docs[d])) ++tf[t];
      for (auto& [t, f] : tf) postings_[t].push_back({d, f});
      for (auto& [t, f] : tf) len_[d] += f;
      total += len_[d];
    }
    avg_ = n_ ? total / static_cast<double>(n_) : 1.0;
  }

  // The k best documents for `query` (score desc, then index asc) that `skip` allows;
  // documents sharing no term with the query come last, in index order.
  template <class Skip>
  std::vector<std::size_t> top(const std::string& query, std::size_t k, Skip skip) const {
    constexpr double k1 = 0.9, b = 0.4;  // Anserini defaults
    std::vector<double> score(n_, 0.0);
    std::set<std::string> seen;
    for (auto& t : bm25_terms(query)) {
      if (!seen.insert(t).second) continue;
      auto it = postings_.find(t);
      if (it == postings_.end()) continue;
      const double df = static_cast<double>(it->second.size());
      const double idf = std::log(1.0 + (static_cast<double>(n_) - df + 0.5) / (df + 0.5));
      for (auto [d, f] : it->second)
        score[d] += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len_[d] / avg_));
    }
    std::vector<std::size_t> idx;
    for (std::size_t d = 0; d < n_; ++d)
      if (!skip(d)) idx.push_back(d);
    const std::size_t m = std::min(k, idx.size());
    std::partial_sort(idx.begin(), idx.begin() + m, idx.end(), [&](std::size_t x, std::size_t y) {
      return score[x] != score[y] ? score[x] > score[y] : x < y;
    });
    idx.resize(m);
    return idx;
  }

 private:
  struct Posting {
    std::size_t doc;
    int tf;
  };
  std::size_t n_;
  std::vector<double> len_;
  double avg_ = 1;
  std::unordered_map<std::string, std::vector<Posting>> postings_;
};

// ---------------------------------------------------------------- common list building

// Candidate texts of a dataset, addressed by index.
struct Pool {
  std::vector<std::string> ids, texts;
};

struct ProtoList {
  std::string qid, query;
  std::vector<std::size_t> cands;  // indices into the pool, in candidate order
  std::vector<double> labels;
  std::vector<std::size_t> no_pad;  // pool indices padding must not use (beyond cands)
};

EvalDataset finish(std::string name, std::string candidates, double threshold, const Pool& pool,
                   std::vector<ProtoList> protos, const EvalDataOptions& o, bool pad) {
  // One candidate per list ranks nothing: every metric would be 1 by construction.
  check(o.top >= 2, "--top must be >= 2 (candidates ranked per query)");
  check(o.queries >= 0, "--queries must be >= 0");
  EvalDataset ds;
  ds.name = std::move(name);
  ds.candidates = std::move(candidates);
  ds.relevant_threshold = threshold;
  std::vector<ProtoList> kept;
  for (auto& p : protos) {
    if (p.cands.size() > static_cast<std::size_t>(o.top)) {
      p.cands.resize(o.top);
      p.labels.resize(o.top);
    }
    if (std::none_of(p.labels.begin(), p.labels.end(), [&](double l) { return l >= threshold; })) {
      ++ds.dropped;
      continue;
    }
    if (o.queries > 0 && kept.size() >= static_cast<std::size_t>(o.queries)) continue;  // keep counting drops
    kept.push_back(std::move(p));
  }
  const std::size_t want = pad ? static_cast<std::size_t>(std::min(o.min_candidates, o.top)) : 0;
  std::unique_ptr<Bm25> bm25;
  for (auto& p : kept) {
    EvalList l;
    l.qid = p.qid;
    l.query = p.query;
    for (std::size_t i = 0; i < p.cands.size(); ++i) {
      l.doc_ids.push_back(pool.ids[p.cands[i]]);
      l.docs.push_back(pool.texts[p.cands[i]]);
      l.labels.push_back(p.labels[i]);
    }
    if (p.cands.size() < want) {
      if (!bm25) bm25 = std::make_unique<Bm25>(pool.texts);
      std::vector<bool> skip(pool.texts.size(), false);
      for (auto c : p.cands) skip[c] = true;
      for (auto c : p.no_pad) skip[c] = true;
      for (auto c : bm25->top(p.query, want - p.cands.size(), [&](std::size_t d) { return skip[d]; })) {
        l.doc_ids.push_back(pool.ids[c]);
        l.docs.push_back(pool.texts[c]);
        l.labels.push_back(0);
        ++l.padded;
      }
    }
    ds.lists.push_back(std::move(l));
  }
  return ds;
}

std::ifstream open_in(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error(p.string() + ": cannot open (pass --shared-dir or set CROSSRANK_SHARED_DIR to the shared/ folder)");
  return in;
}

nlohmann::json parse_json_line(const std::string& line, const fs::path& file, std::size_t lineno) {
  try {
    return nlohmann::json::parse(line);
  } catch (const std::exception&) {
    throw Error(file.string() + ":" + std::to_string(lineno) + ": not valid JSON");
  }
}

std::string json_str(const nlohmann::json& j, const char* key, const fs::path& file, std::size_t lineno) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string())
    throw Error(file.string() + ":" + std::to_string(lineno) + ": missing string field '" + key + "'");
  return j[key].get<std::string>();
}

// Numeric order for digit strings (MS MARCO ids), lexicographic otherwise.
bool id_less(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

EvalDataset load_msmarco(const fs::path& dir, const EvalDataOptions& o) {
  Pool pool;
  std::unordered_map<std::string, std::size_t> pid_index;
  {
    const fs::path f = dir / "corpus.jsonl";
    auto in = open_in(f);
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto j = parse_json_line(line, f, n);
      const std::string id = json_str(j, "_id", f, n), text = json_str(j, "text", f, n);
      const std::string title = j.contains("title") && j["title"].is_string() ? j["title"].get<std::string>() : "";
      pid_index[id] = pool.ids.size();
      pool.ids.push_back(id);
      pool.texts.push_back(title.empty() ? text : title + " " + text);  // BEIR's title + text
    }
  }
  std::map<std::string, std::vector<std::pair<std::string, double>>> qrels;
  {
    const fs::path f = dir / "qrels" / "test.tsv";
    auto in = open_in(f);
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      std::istringstream ss(line);
      std::string qid, pid, grade;
      std::getline(ss, qid, '\t');
      std::getline(ss, pid, '\t');
      std::getline(ss, grade, '\t');
      char* end = nullptr;
      const double g = std::strtod(grade.c_str(), &end);
      if (grade.empty() || *end != '\0') {
        if (n == 1) continue;  // BEIR header "query-id corpus-id score"
        throw Error(f.string() + ":" + std::to_string(n) + ": expected qid<TAB>pid<TAB>grade");
      }
      if (!pid_index.count(pid)) throw Error(f.string() + ":" + std::to_string(n) + ": passage " + pid + " not in corpus.jsonl");
      qrels[qid].push_back({pid, g});
    }
  }
  std::vector<ProtoList> protos;
  {
    const fs::path f = dir / "queries.jsonl";
    auto in = open_in(f);
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto j = parse_json_line(line, f, n);
      const std::string qid = json_str(j, "_id", f, n);
      auto it = qrels.find(qid);
      if (it == qrels.end()) continue;  // unjudged query
      auto judged = it->second;
      std::stable_sort(judged.begin(), judged.end(), [](auto& a, auto& b) { return id_less(a.first, b.first); });
      ProtoList p;
      p.qid = qid;
      p.query = json_str(j, "text", f, n);
      for (auto& [pid, g] : judged) {
        p.cands.push_back(pid_index[pid]);
        p.labels.push_back(g);
        p.no_pad.push_back(pid_index[pid]);  // judged passages cut by --top are not negatives
      }
      protos.push_back(std::move(p));
    }
  }
  return finish("msmarco-trecdl",
                "judged passages of each query (grades 1-3) in passage-id order, at most --top; "
                "MRR/MAP count grade >= 2 as relevant",
                2.0, pool, std::move(protos), o, true);
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t t = line.find('\t', start);
    out.push_back(line.substr(start, t == std::string::npos ? std::string::npos : t - start));
    if (t == std::string::npos) break;
    start = t + 1;
  }
  return out;
}

EvalDataset load_wikiqa(const fs::path& dir, const EvalDataOptions& o) {
  const fs::path f = dir / "WikiQA-test-gold.tsv";
  auto in = open_in(f);
  std::string line;
  Pool pool;
  std::vector<ProtoList> protos;
  std::unordered_map<std::string, std::size_t> by_qid;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto cols = split_tabs(line);
    const std::string where = f.string() + ":" + std::to_string(n) + ": ";
    if (n == 1) {
      check(cols.size() == 7 && cols[0] == "QuestionID" && cols[6] == "Label",
            where + "expected header QuestionID Question DocumentID DocumentTitle SentenceID Sentence Label");
      continue;
    }
    check(cols.size() == 7, where + "expected 7 tab-separated columns, found " + std::to_string(cols.size()));
    check(cols[6] == "0" || cols[6] == "1", where + "label must be 0 or 1");
    auto [it, fresh] = by_qid.try_emplace(cols[0], protos.size());
    if (fresh) protos.push_back({cols[0], cols[1], {}, {}, {}});
    ProtoList& p = protos[it->second];
    p.cands.push_back(pool.ids.size());
    p.labels.push_back(cols[6] == "1" ? 1.0 : 0.0);
    pool.ids.push_back(cols[4]);
    pool.texts.push_back(cols[5]);
  }
  return finish("wikiqa", "WikiQA test-gold: each question's candidate sentences in file order, at most --top", 1.0,
                pool, std::move(protos), o, false);
}

EvalDataset load_squad(const std::string& name, const fs::path& f, const EvalDataOptions& o) {
  auto in = open_in(f);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(f.string() + ": not valid JSON");
  }
  check(j.is_object() && j.contains("data") && j["data"].is_array(), f.string() + ": expected SQuAD {\"data\": [...]}");
  Pool pool;
  std::vector<ProtoList> protos;
  std::size_t a = 0;
  for (const auto& art : j["data"]) {
    check(art.is_object() && art.contains("paragraphs") && art["paragraphs"].is_array(),
          f.string() + ": article " + std::to_string(a) + " has no 'paragraphs' array");
    const std::size_t first = pool.ids.size();
    const std::size_t count = art["paragraphs"].size();
    std::size_t pi = 0;
    for (const auto& par : art["paragraphs"]) {
      const std::string where = f.string() + ": article " + std::to_string(a) + " paragraph " + std::to_string(pi);
      check(par.is_object() && par.contains("context") && par["context"].is_string(), where + ": no 'context' string");
      pool.ids.push_back(par.contains("id") && par["id"].is_string() ? par["id"].get<std::string>()
                                                                     : std::to_string(a) + "-" + std::to_string(pi));
      pool.texts.push_back(par["context"].get<std::string>());
      if (par.contains("qas") && par["qas"].is_array())
        for (const auto& qa : par["qas"]) {
          check(qa.is_object() && qa.contains("question") && qa["question"].is_string(), where + ": question without text");
          ProtoList p;
          p.qid = qa.contains("id") && qa["id"].is_string() ? qa["id"].get<std::string>() : std::to_string(protos.size());
          p.query = qa["question"].get<std::string>();
          for (std::size_t k = 0; k < count; ++k) {
            p.cands.push_back(first + k);
            p.labels.push_back(k == pi ? 1.0 : 0.0);
          }
          protos.push_back(std::move(p));
        }
      ++pi;
    }
    ++a;
  }
  return finish(name,
                "every paragraph of the question's article (gold = 1), at most --top; lists shorter than "
                "--min-candidates padded with BM25-nearest paragraphs of other articles (label 0)",
                1.0, pool, std::move(protos), o, true);
}

}  // namespace

EvalDataset load_dataset(const std::string& name, const std::string& shared_dir, const EvalDataOptions& o) {
  const fs::path data = fs::path(shared_dir) / "data";
  if (name == "msmarco-trecdl") return load_msmarco(data / "msmarco-trecdl-subset", o);
  if (name == "wikiqa") return load_wikiqa(data / "wikiqa", o);
  if (name == "xquad-zh") return load_squad(name, data / "xquad-zh-en" / "xquad.zh.json", o);
  if (name == "xquad-en") return load_squad(name, data / "xquad-zh-en" / "xquad.en.json", o);
  if (name == "cmrc2018") return load_squad(name, data / "cmrc2018" / "cmrc2018_dev.squad-style.json", o);
  std::string known;
  for (auto& n : dataset_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown dataset '" + name + "' (expected " + known + ")");
}

}  // namespace crossrank::eval
