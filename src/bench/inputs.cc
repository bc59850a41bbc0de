#include "bench/inputs.h"

#include "model/architecture.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/error.h"
#include "util/paths.h"

namespace crossrank::bench {

namespace fs = std::filesystem;

namespace {

// splitmix64: a fixed, platform-independent generator (std distributions are not).
std::uint64_t mix(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Rng {
  std::uint64_t state;
  explicit Rng(std::uint64_t seed) : state(mix(seed)) {}
  std::uint64_t next() { return state = mix(state); }
  // Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
};

constexpr std::uint64_t kSeedlikeSeed = 0x5EED11CEull;
constexpr std::uint64_t kFixedLenSeed = 0x1E9F1Cull;

// Decodes UTF-8, dropping whitespace (incl. U+3000 ideographic space, U+00A0, BOM) and
// malformed bytes.
std::u32string decode_drop_space(const std::string& s) {
  std::u32string out;
  out.reserve(s.size() / 3);
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    char32_t cp;
    int n;
    if (c < 0x80) { cp = c; n = 1; }
    else if ((c >> 5) == 6) { cp = c & 0x1F; n = 2; }
    else if ((c >> 4) == 14) { cp = c & 0x0F; n = 3; }
    else if ((c >> 3) == 30) { cp = c & 0x07; n = 4; }
    else { ++i; continue; }
    if (i + n > s.size()) break;
    bool ok = true;
    for (int k = 1; k < n; ++k) {
      const unsigned char cc = s[i + k];
      if ((cc >> 6) != 2) { ok = false; break; }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) { ++i; continue; }
    i += n;
    if (cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n' || cp == 0x3000 || cp == 0xA0 || cp == 0xFEFF ||
        cp == 0x0B || cp == 0x0C)
      continue;
    out.push_back(cp);
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  std::string w;
  while (is >> w) out.push_back(std::move(w));
  return out;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Built-in sample text (written for crossrank, no third-party content), used only when
// the shared corpora are missing.
const char* kSampleZh =
    "重排序模型读取一个查询和一段文字，输出一个分数，表示这段文字能否回答这个查询。"
    "搜索系统通常先用向量检索找出一百篇候选文档，再用交叉编码器逐一打分，把最相关的结果放在前面。"
    "交叉编码器把查询和文档拼接成一个序列，让每个词都能看到另一方的每个词，因此比双塔模型更准确，但计算量也更大。"
    "在只有两个处理器核心的机器上，批量大小、数值精度和序列长度决定了每秒能处理多少对文本。"
    "中文文本通常每个汉字对应一个或两个词元，而英文单词往往被切分成几个子词。"
    "为了公平比较不同的推理引擎，我们使用相同的输入、相同的线程数和相同的模型权重。"
    "延迟是用户等待一个请求返回的时间，吞吐量是系统在单位时间内完成的工作量，两者之间往往需要权衡。"
    "较大的批次可以更好地利用矩阵乘法单元，但第一个结果要等整批计算完才能返回。";
const char* kSampleEn =
    "A reranker reads a query together with a passage and returns a single score that says how well the "
    "passage answers the query. Search systems usually retrieve a hundred candidates with a fast vector "
    "index and then score each candidate with a cross-encoder, moving the most relevant results to the top. "
    "Because every token of the query attends to every token of the passage, a cross-encoder is more "
    "accurate than a bi-encoder, but it also costs far more computation per document. On a machine with "
    "only two cores, the batch size, the numeric precision and the sequence length decide how many pairs "
    "can be scored each second. Latency is the time a user waits for one request, while throughput is "
    "the amount of work finished per unit of time, and the two often pull in opposite directions. Larger "
    "batches keep the matrix units busy, yet the first answer only arrives when the whole batch is done.";

}  // namespace

InputSpec parse_inputs(const std::string& s) {
  InputSpec spec;
  if (s == "seedlike") return spec;
  if (s.rfind("len:", 0) == 0) {
    const std::string num = s.substr(4);
    const bool digits = !num.empty() && num.size() <= 7 &&
                        std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits && std::stoi(num) > 0) {
      spec.seedlike = false;
      spec.len = std::stoi(num);
      return spec;
    }
  }
  throw Error("bad --inputs '" + s + "' (expected seedlike or len:N with N a positive token count)");
}

std::string shared_data_dir() {
  std::vector<fs::path> roots;
  if (const std::string r = shared_data_root(); !r.empty()) roots.emplace_back(r);
  for (const auto& r : roots) {
    std::error_code ec;
    if (fs::is_directory(r / "data" / "text-corpora", ec)) return fs::weakly_canonical(r / "data", ec).string();
    if (fs::is_directory(r / "text-corpora", ec)) return fs::weakly_canonical(r, ec).string();
  }
  return "";
}

TextPool load_text_pool() {
  TextPool pool;
  const std::string dir = shared_data_dir();
  if (!dir.empty()) {
    const fs::path zh = fs::path(dir) / "text-corpora" / "hongloumeng.zh.txt";
    const fs::path en = fs::path(dir) / "text-corpora" / "war_and_peace.en.txt";
    if (fs::exists(zh) && fs::exists(en)) {
      std::u32string z = decode_drop_space(read_all(zh));
      // Skip the title and the first chapter heading.
      const size_t skip = std::min<size_t>(z.size() / 100, 200);
      pool.zh = z.substr(skip);
      std::string e = read_all(en);
      // Only the book: between the Project Gutenberg START and END markers.
      if (auto s = e.find("*** START OF"); s != std::string::npos) {
        s = e.find('\n', s);
        auto t = e.find("*** END OF", s);
        e = e.substr(s, t == std::string::npos ? std::string::npos : t - s);
      }
      pool.en = split_words(e);
      pool.source = (fs::path(dir) / "text-corpora").string() + " (hongloumeng.zh.txt, war_and_peace.en.txt)";
    }
  }
  if (pool.zh.size() < 64 || pool.en.size() < 64) {
    pool.zh = decode_drop_space(kSampleZh);
    pool.en = split_words(kSampleEn);
    pool.fallback = true;
    pool.source = "built-in sample text (shared corpora not found; pass --data-dir or set CROSSRANK_SHARED_DIR)";
  }
  return pool;
}

std::vector<SeedPair> make_seedlike(const TextPool& pool, int n) {
  std::vector<SeedPair> out(std::max(0, n));
  const auto zh_cut = [&](Rng& r, int chars) {
    std::string s;
    const size_t start = r.below(pool.zh.size());
    for (int k = 0; k < chars; ++k) append_utf8(s, pool.zh[(start + k) % pool.zh.size()]);
    return s;
  };
  const auto en_cut = [&](Rng& r, int words) {
    std::string s;
    const size_t start = r.below(pool.en.size());
    for (int k = 0; k < words; ++k) {
      if (k) s += ' ';
      s += pool.en[(start + k) % pool.en.size()];
    }
    return s;
  };
  for (int i = 0; i < n; ++i) {
    Rng r(kSeedlikeSeed ^ (static_cast<std::uint64_t>(i) * 0xD1B54A32D192ED03ull));
    SeedPair& p = out[i];
    p.chinese = (3 * i) % 10 < 7;
    p.query_words = 14 + static_cast<int>(r.below(9));
    p.document_words = 96 + static_cast<int>(r.below(49));
    if (p.chinese) {
      p.query = zh_cut(r, static_cast<int>(std::lround(1.5 * p.query_words)));
      p.document = zh_cut(r, static_cast<int>(std::lround(1.5 * p.document_words)));
    } else {
      p.query = en_cut(r, p.query_words);
      p.document = en_cut(r, p.document_words);
    }
  }
  return out;
}

std::vector<EncodedPair> make_fixed_len(const ModelConfig& c, const Tokenizer* tok, int len, int n) {
  std::vector<EncodedPair> out;
  out.reserve(std::max(0, n));
  for (int i = 0; i < n; ++i)
    out.push_back(c.arch->fixed_len_pair(c, tok, len, kFixedLenSeed ^ (static_cast<std::uint64_t>(i) * 0xD1B54A32D192ED03ull)));
  return out;
}

void dump_pairs_jsonl(const std::vector<SeedPair>& pairs, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path + ": cannot open for writing");
  for (const auto& p : pairs) {
    nlohmann::json j = {{"query", p.query}, {"document", p.document}, {"lang", p.chinese ? "zh" : "en"}};
    out << j.dump() << '\n';
  }
  if (!out) throw Error(path + ": write failed");
}

}  // namespace crossrank::bench
