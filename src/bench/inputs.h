#pragma once
// Inputs for `crossrank bench`:
//  seedlike: deterministic (query, passage) pairs shaped like a multilingual reranking
//            workload: 70 % Chinese / 30 % English, queries ~18 words, passages ~120
//            words, cut from the shared text corpora (or a built-in sample if absent).
//  len:N:    pairs of exactly N tokens (random ids in the model's pair template),
//            run through Engine::forward without the tokenizer.
#include <cstdint>
#include <string>
#include <vector>

#include "crossrank/crossrank.h"
#include "model/config.h"

namespace crossrank {
class Tokenizer;
}

namespace crossrank::bench {

struct InputSpec {
  bool seedlike = true;
  int len = 0;  // tokens per pair for len:N
  std::string text() const { return seedlike ? "seedlike" : "len:" + std::to_string(len); }
};
// "seedlike" | "len:N" (N a positive integer); throws Error otherwise.
InputSpec parse_inputs(const std::string& s);

struct SeedPair {
  std::string query, document;
  bool chinese = false;
  int query_words = 0, document_words = 0;  // word-equivalents (Chinese: chars / 1.5)
};

// Text the seedlike pairs are cut from.
struct TextPool {
  std::u32string zh;                 // Chinese code points, whitespace removed
  std::vector<std::string> en;       // English words
  std::string source;                // human-readable origin
  bool fallback = false;             // true: built-in sample text (shared data not found)
};

// Locates the shared data folder: $CROSSRANK_SHARED_DIR (the shared/ folder or its data/
// folder), else the install's share/crossrank (shared_data_root(), src/util/paths.h).
// Returns "<...>/data" or "" when not found.
std::string shared_data_dir();

// Loads hongloumeng.zh.txt and war_and_peace.en.txt from the shared data folder, or the
// built-in sample text when they are missing.
TextPool load_text_pool();

// Pair i depends only on i (so any prefix of a longer list is the same pairs).
//  language: Chinese iff (3*i mod 10) < 7 (exactly 7 of every 10 consecutive pairs);
//  query 14..22 words (mean 18), passage 96..144 words (mean 120), uniform, seeded;
//  Chinese length unit: 1.5 characters = 1 word-equivalent (query 21..33 chars, passage
//  144..216 chars); text cut at seeded offsets.
std::vector<SeedPair> make_seedlike(const TextPool& pool, int n);

// n pairs of exactly `len` tokens in the model's pair template (the family's
// Architecture::fixed_len_pair: e.g. XLM-R <s> q </s></s> d </s>, BERT [CLS] q [SEP] d
// [SEP] with token types 0/1), query ~13 % of the content tokens, ids uniform random
// (seeded, pair i from its own seed) over ordinary vocabulary ids. `tok` may be null.
// Throws Error when len is outside [specials + 2, model max_length].
std::vector<EncodedPair> make_fixed_len(const ModelConfig& c, const Tokenizer* tok, int len, int n);

// Writes pairs as JSONL {"query","document"} (the format `crossrank score -i` reads).
void dump_pairs_jsonl(const std::vector<SeedPair>& pairs, const std::string& path);

}  // namespace crossrank::bench
