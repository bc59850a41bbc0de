#pragma once
// Reranking lists for `crossrank eval`, built from the labelled sets in shared/data
// (see shared/data/SOURCES.md for provenance and licences).
//
// How each dataset becomes (query, candidates, labels) lists:
//  msmarco-trecdl  TREC DL 2019 passage subset: queries.jsonl, corpus.jsonl, qrels/test.tsv.
//                  Candidates = the passages judged for the query (grades 1-3; the subset has
//                  no grade-0 rows), in ascending passage-id order, at most --top. Labels are
//                  the grades (NDCG gain); MRR/MAP count grade >= 2 as relevant (the TREC DL
//                  convention for binary metrics on passages).
//  wikiqa          WikiQA-test-gold.tsv (the standard filtered test split): candidates = the
//                  question's sentences in file order, at most --top; label 0/1. Not padded,
//                  so MAP/MRR stay comparable with published WikiQA numbers.
//  xquad-zh/-en    XQuAD (SQuAD v1.1 format): candidates = every paragraph of the question's
//  cmrc2018        article (gold paragraph = label 1, the others 0), at most --top.
//                  CMRC 2018 has one paragraph per article and XQuAD five, so lists shorter
//                  than min(min_candidates, top) are padded with the paragraphs of OTHER
//                  articles that score highest by BM25 against the question (words for
//                  Latin script, CJK character unigrams + bigrams), label 0.
//                  min_candidates = 0 keeps pure article lists.
//  msmarco lists shorter than that are padded the same way from the corpus (unjudged
//  passages, label 0). Lists without a relevant candidate (after --top) are dropped and
//  counted. --queries keeps the first N lists in dataset order.
#include <cstddef>
#include <string>
#include <vector>

namespace crossrank::eval {

struct EvalList {
  std::string qid, query;
  std::vector<std::string> doc_ids, docs;
  std::vector<double> labels;  // graded (msmarco) or 0/1
  std::size_t padded = 0;      // trailing candidates added by BM25 padding
};

struct EvalDataset {
  std::string name;
  std::string candidates;      // one-line description of how candidates were chosen
  double relevant_threshold = 1;  // label >= threshold counts as relevant for MRR/MAP
  std::vector<EvalList> lists;
  std::size_t dropped = 0;     // lists dropped because no candidate was relevant
  std::size_t pairs() const;
};

struct EvalDataOptions {
  int top = 100;            // candidates per query, at most
  int queries = 0;          // lists kept (0 = all)
  int min_candidates = 10;  // pad shorter lists (msmarco, xquad, cmrc2018); 0 = never
};

// "msmarco-trecdl", "wikiqa", "xquad-zh", "xquad-en", "cmrc2018".
const std::vector<std::string>& dataset_names();

// shared/ folder: $CROSSRANK_SHARED_DIR, else the install's share/crossrank (see
// shared_data_root(), src/util/paths.h); "" when none.
std::string default_shared_dir();

// Builds the lists of `name` from <shared_dir>/data. Throws Error naming the file on a
// missing or malformed file, or for an unknown dataset name.
EvalDataset load_dataset(const std::string& name, const std::string& shared_dir, const EvalDataOptions& opts);

}  // namespace crossrank::eval
