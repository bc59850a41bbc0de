#pragma once
// Qwen3 decoder rerankers (Qwen3-Reranker-0.6B / 4B / 8B: Qwen3ForCausalLM checkpoints):
// the qwen3-reranker recipe of the parameterised decoder (model/decoder.h, recipes.cc) and
// the model card's prompt and truncation (qwen3.cc).
//
// Score: at the last token of the prompt, logit("yes") - logit("no") of the LM head (the
// raw score; P(yes) of the card's two-way softmax is its sigmoid). Only those two rows of
// the head are multiplied, and only the last row of each sequence reaches the final norm.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/architecture.h"

namespace crossrank {

// The qwen3-reranker recipe's family.
const Architecture& qwen3_architecture();

// The model card's prompt (Qwen/Qwen3-Reranker-*, "Transformers Usage"):
//   prefix + "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}" + suffix
namespace qwen3 {
inline constexpr std::string_view kPrefix =
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
    "provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n";
inline constexpr std::string_view kSuffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
inline constexpr std::string_view kDefaultInstruction =
    "Given a web search query, retrieve relevant passages that answer the query";
// Ids of the tokens "yes" and "no" (no leading space) in the Qwen vocabulary (qwen.tiktoken
// ranks, shared by every Qwen2/Qwen3 tokenizer); check_tokenizer verifies them.
inline constexpr std::int32_t kYesId = 9693;
inline constexpr std::int32_t kNoId = 2152;

// The body up to and including "<Document>:" (depends on instruction and query only); the
// document follows as " " + document. Tokenizing the two parts separately gives the ids of
// the whole body: byte-level BPE pre-tokens never span the ':' / ' ' boundary.
std::string body_head(std::string_view instruction, std::string_view query);
// " " + document: the rest of the body.
std::string document_part(std::string_view document);

// The prompt's ids from already tokenized parts: prefix + head + doc + suffix, cut to
// o.max_length as the card does (its tokenizer call truncates the body from the right,
// keeping prefix and suffix): max_doc_tokens first, then the document (from its end, or
// its start with TruncationSide::kLeft), then the head from its end (query, then
// instruction). shared_prefix = prefix + what is left of the head. Throws Error(kTooLong)
// when o.truncate is false and the prompt is longer than o.max_length.
EncodedPair build_prompt(const std::vector<int32_t>& prefix, std::vector<int32_t> head, std::vector<int32_t> doc,
                         const std::vector<int32_t>& suffix, const ScoreOptions& o);
}  // namespace qwen3

}  // namespace crossrank
