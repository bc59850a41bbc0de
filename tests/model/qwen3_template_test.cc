// The Qwen3 reranker prompt (model card) at the token level, with a fake tokenizer (one id
// per byte, the chat markers as added tokens): the template, truncation that keeps prefix
// and suffix, shared prefixes, long-document windows, packing with a parent prefix.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "batch/packed_batch.h"
#include "model/architecture.h"
#include "model/config.h"
#include "model/qwen3.h"
#include "tokenizer/tokenizer.h"

namespace crossrank {
namespace {

// Bytes -> 1000 + byte; <|im_start|>, <|im_end|>, <think>, </think> -> their Qwen ids.
class FakeQwenTokenizer final : public Tokenizer {
 public:
  explicit FakeQwenTokenizer(bool qwen_yes_no = true) : yes_no_(qwen_yes_no) {}
  std::vector<int32_t> encode(std::string_view text) const override {
    check_utf8(text, "text");
    std::vector<int32_t> ids;
    for (std::size_t i = 0; i < text.size();) {
      bool added = false;
      for (const auto& [tok, id] : added_) {
        if (text.substr(i, tok.size()) == tok) {
          ids.push_back(id);
          i += tok.size();
          added = true;
          break;
        }
      }
      if (!added) ids.push_back(1000 + static_cast<unsigned char>(text[i++]));
    }
    return ids;
  }
  const SpecialTokens& special() const override { return sp_; }
  int32_t vocab_size() const override { return 151669; }
  std::string id_to_token(int32_t id) const override {
    if (yes_no_ && id == qwen3::kYesId) return "yes";
    if (yes_no_ && id == qwen3::kNoId) return "no";
    for (const auto& [tok, i] : added_)
      if (i == id) return tok;
    if (id >= 1000 && id < 1256) return std::string(1, static_cast<char>(id - 1000));
    return "";
  }
  // (Tokenizer::token_to_id, once the interface has it.)
  int32_t token_to_id(std::string_view t) const {
    if (t == "yes") return qwen3::kYesId;
    if (t == "no") return qwen3::kNoId;
    for (const auto& [tok, id] : added_)
      if (tok == t) return id;
    return -1;
  }

  std::vector<int32_t> bytes(std::string_view s) const { return encode(s); }

 private:
  bool yes_no_;
  SpecialTokens sp_;
  const std::vector<std::pair<std::string, int32_t>> added_ = {
      {"<|im_start|>", 151644}, {"<|im_end|>", 151645}, {"<think>", 151667}, {"</think>", 151668}};
};

std::vector<int32_t> cat(std::initializer_list<std::vector<int32_t>> parts) {
  std::vector<int32_t> r;
  for (const auto& p : parts) r.insert(r.end(), p.begin(), p.end());
  return r;
}

struct Fixture {
  FakeQwenTokenizer tok;
  ModelConfig c = synthetic_config("tiny-qwen3");
  const Architecture& a = *c.arch;
  std::vector<int32_t> pre = tok.bytes(qwen3::kPrefix), suf = tok.bytes(qwen3::kSuffix);
  ScoreOptions opts(int max_length = 8192) const {
    ScoreOptions o;
    o.max_length = max_length;
    return o;
  }
};

TEST(Qwen3Template, PromptAsTheModelCardBuildsIt) {
  Fixture f;
  ASSERT_STREQ(f.a.family(), "qwen3");
  EXPECT_NO_THROW(f.a.check_tokenizer(f.tok, f.c));
  EXPECT_EQ(f.pre.front(), 151644);
  EXPECT_EQ(f.suf.front(), 151645);
  const EncodedPair e = f.a.encode(f.tok, f.c, "what is panda?", "The giant panda.", f.opts());
  const std::string head =
      "<Instruct>: Given a web search query, retrieve relevant passages that answer the query\n<Query>: what is "
      "panda?\n<Document>:";
  EXPECT_EQ(e.ids, cat({f.pre, f.tok.bytes(head), f.tok.bytes(" The giant panda."), f.suf}));
  EXPECT_EQ(e.shared_prefix, static_cast<int>(f.pre.size() + head.size()));
  EXPECT_EQ(e.type_ids, std::vector<int32_t>(e.ids.size(), 0));
  // The whole body tokenized at once is the same (the split at "<Document>:" is invisible).
  EXPECT_EQ(e.ids, cat({f.pre, f.tok.bytes(head + " The giant panda."), f.suf}));
  // An instruction per request.
  ScoreOptions o = f.opts();
  o.instruction = "Find the answer";
  const EncodedPair e2 = f.a.encode(f.tok, f.c, "q", "d", o);
  EXPECT_EQ(e2.ids, cat({f.pre, f.tok.bytes("<Instruct>: Find the answer\n<Query>: q\n<Document>: d"), f.suf}));
  EXPECT_EQ(e2.shared_prefix, static_cast<int>(f.pre.size() + std::string("<Instruct>: Find the answer\n<Query>: q\n<Document>:").size()));
  // The template adds prefix + suffix + the markers and the instruction.
  EXPECT_EQ(f.a.template_tokens(&f.tok, f.c, o),
            static_cast<int>(f.pre.size() + f.suf.size() + std::string("<Instruct>: Find the answer\n<Query>: \n<Document>:").size()));
  EXPECT_EQ(f.a.template_tokens(nullptr, f.c, o), 48);
}

TEST(Qwen3Template, TruncationKeepsPrefixAndSuffix) {
  Fixture f;
  const std::string q = "query text", d = "0123456789abcdefghij";  // 20 document bytes
  const EncodedPair full = f.a.encode(f.tok, f.c, q, d, f.opts());
  const int n = static_cast<int>(full.ids.size());
  const std::vector<int32_t> head = f.tok.bytes(qwen3::body_head(qwen3::kDefaultInstruction, q));
  // Exactly at the limit: nothing cut. One less: the document's last token goes.
  EXPECT_EQ(f.a.encode(f.tok, f.c, q, d, f.opts(n)).ids, full.ids);
  EncodedPair e = f.a.encode(f.tok, f.c, q, d, f.opts(n - 1));
  EXPECT_EQ(e.ids, cat({f.pre, head, f.tok.bytes(" 0123456789abcdefghi"), f.suf}));
  // Left side: the document's first tokens go.
  ScoreOptions left = f.opts(n - 5);
  left.truncation_side = TruncationSide::kLeft;
  e = f.a.encode(f.tok, f.c, q, d, left);
  EXPECT_EQ(e.ids, cat({f.pre, head, f.tok.bytes("456789abcdefghij"), f.suf}));
  EXPECT_EQ(e.shared_prefix, static_cast<int>(f.pre.size() + head.size()));
  // The whole document gone, then the head cut from its end (as the card's tokenizer call).
  const int fixed = static_cast<int>(f.pre.size() + f.suf.size());
  e = f.a.encode(f.tok, f.c, q, d, f.opts(fixed + static_cast<int>(head.size()) - 3));
  EXPECT_EQ(e.ids, cat({f.pre, std::vector<int32_t>(head.begin(), head.end() - 3), f.suf}));
  EXPECT_EQ(e.shared_prefix, static_cast<int>(e.ids.size() - f.suf.size()));
  // The smallest max_length: the instruction's head and one token each of query and
  // document (below it the card's code scores every pair alike: an error here).
  const int lo = fixed + static_cast<int>(f.tok.bytes(qwen3::body_head(qwen3::kDefaultInstruction, "")).size()) + 2;
  e = f.a.encode(f.tok, f.c, q, d, f.opts(lo));
  EXPECT_EQ(e.ids.size(), static_cast<size_t>(lo));
  EXPECT_EQ(std::vector<int32_t>(e.ids.end() - f.suf.size(), e.ids.end()), f.suf);
  try {
    f.a.encode(f.tok, f.c, q, d, f.opts(lo - 1));
    ADD_FAILURE() << "max_length " << lo - 1 << " accepted";
  } catch (const Error& x) {
    EXPECT_NE(std::string(x.what()).find("leaves no room for the query and the document"), std::string::npos) << x.what();
  }
  EXPECT_THROW(f.a.encode(f.tok, f.c, q, d, f.opts(fixed)), Error);
  EXPECT_THROW(f.a.encode(f.tok, f.c, q, d, f.opts(f.c.max_length + 1)), Error);
  // max_doc_tokens caps the document first.
  ScoreOptions cap = f.opts();
  cap.max_doc_tokens = 4;
  EXPECT_EQ(f.a.encode(f.tok, f.c, q, d, cap).ids, cat({f.pre, head, f.tok.bytes(" 012"), f.suf}));
  // truncate = false: too long is an error, fitting is fine.
  ScoreOptions strict = f.opts(n - 1);
  strict.truncate = false;
  try {
    f.a.encode(f.tok, f.c, q, d, strict);
    ADD_FAILURE() << "no kTooLong";
  } catch (const Error& x) {
    EXPECT_EQ(x.code(), ErrorCode::kTooLong);
  }
  strict.max_length = n;
  EXPECT_EQ(f.a.encode(f.tok, f.c, q, d, strict).ids, full.ids);
  // Bad texts.
  EXPECT_THROW(f.a.encode(f.tok, f.c, "", d, f.opts()), Error);
  EXPECT_THROW(f.a.encode(f.tok, f.c, q, "", f.opts()), Error);
  EXPECT_THROW(f.a.encode(f.tok, f.c, "\xff", d, f.opts()), Error);
  ScoreOptions bad_instr = f.opts();
  bad_instr.instruction = "\xc3";
  EXPECT_THROW(f.a.encode(f.tok, f.c, q, d, bad_instr), Error);
}

TEST(Qwen3Template, LongDocumentWindowsShareThePrefix) {
  Fixture f;
  std::string d;
  for (int i = 0; i < 300; ++i) d += static_cast<char>('a' + i % 26);
  ScoreOptions o = f.opts(f.pre.size() + f.suf.size() + 200);
  o.chunk_overlap = 16;
  const auto w = f.a.encode_chunks(f.tok, f.c, "q", d, o);
  ASSERT_GE(w.size(), 3u);
  const std::vector<int32_t> head = f.tok.bytes(qwen3::body_head(qwen3::kDefaultInstruction, "q"));
  std::string seen;
  for (const auto& e : w) {
    EXPECT_LE(e.ids.size(), static_cast<size_t>(o.max_length));
    EXPECT_EQ(e.shared_prefix, static_cast<int>(f.pre.size() + head.size()));
    EXPECT_EQ(std::vector<int32_t>(e.ids.begin(), e.ids.begin() + e.shared_prefix), cat({f.pre, head}));
    EXPECT_EQ(std::vector<int32_t>(e.ids.end() - f.suf.size(), e.ids.end()), f.suf);
    std::string part;
    for (auto it = e.ids.begin() + e.shared_prefix; it != e.ids.end() - f.suf.size(); ++it)
      part += static_cast<char>(*it - 1000);
    if (seen.empty()) seen = part;
    else seen += part.substr(16);  // windows overlap by chunk_overlap tokens
  }
  EXPECT_EQ(seen, " " + d);
}

TEST(Qwen3Template, PairsOfOneQueryPackWithOneParent) {
  Fixture f;
  std::vector<EncodedPair> e;
  for (const char* d : {"first document", "second", "a third, longer document"})
    e.push_back(f.a.encode(f.tok, f.c, "shared query", d, f.opts()));
  e.push_back(f.a.encode(f.tok, f.c, "another query", "doc", f.opts()));
  std::vector<const EncodedPair*> p;
  for (const auto& x : e) p.push_back(&x);
  const PackedBatch b = pack_batch(p, f.c);
  ASSERT_TRUE(b.has_prefixes());
  ASSERT_EQ(b.num_seqs(), 5);  // one parent + 4 scored sequences
  ASSERT_EQ(b.pair_seq.size(), 4u);
  const int parent = b.parent[b.pair_seq[0]];
  EXPECT_GE(parent, 0);
  EXPECT_EQ(b.parent[b.pair_seq[1]], parent);
  EXPECT_EQ(b.parent[b.pair_seq[2]], parent);
  EXPECT_EQ(b.parent[b.pair_seq[3]], -1);  // alone: no sharing
  EXPECT_EQ(b.seqlen(parent), e[0].shared_prefix);
  // The children's positions continue after the prefix.
  const int s = b.pair_seq[1];
  EXPECT_EQ(b.position_ids[b.cu_seqlens[s]], e[1].shared_prefix);
  EXPECT_EQ(b.total_tokens(), static_cast<int>(e[0].ids.size() + e[1].ids.size() + e[2].ids.size() +
                                                e[3].ids.size()) - 2 * e[0].shared_prefix);
}

TEST(Qwen3Template, ChecksTheTokenizer) {
  Fixture f;
  FakeQwenTokenizer other(false);
  try {
    f.a.check_tokenizer(other, f.c);
    ADD_FAILURE() << "accepted a tokenizer without Qwen's yes/no ids";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("yes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crossrank
