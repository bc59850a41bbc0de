#pragma once
// Tokenizer interface: text -> token ids (no special tokens), id-for-id equal to
// Hugging Face `tokenizers` for the same tokenizer files.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {

// Ids of the special tokens a pair template needs.
struct SpecialTokens {
  int32_t cls = -1;  // <s> / [CLS]
  int32_t sep = -1;  // </s> / [SEP]
  int32_t pad = -1;  // <pad> / [PAD]
  int32_t unk = -1;  // <unk> / [UNK]
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Token ids of `text` without special tokens (HF `add_special_tokens=False`).
  // Throws crossrank::Error if `text` is not valid UTF-8.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Special token ids used by the pair template.
  virtual const SpecialTokens& special() const = 0;
  // Number of ids (size of the vocabulary including added tokens).
  virtual int32_t vocab_size() const = 0;
  // The token string of an id ("" if out of range); for debugging and tests.
  virtual std::string id_to_token(int32_t id) const = 0;
  // Id of a token string, or -1 when absent: an added token by its content ("<|im_start|>"),
  // else a model vocabulary entry in the model's own spelling ("yes"; byte-level BPE spells
  // a leading space as "Ġ": "Ġyes"), as HF token_to_id / convert_tokens_to_ids.
  virtual int32_t token_to_id(std::string_view token) const = 0;
};

// Loads the tokenizer of a Hugging Face model folder. Prefers tokenizer.json (model.type
// Unigram, WordPiece or BPE); falls back to sentencepiece.bpe.model (XLM-R unigram), then
// vocab.json + merges.txt (Qwen2/Qwen3 byte-level BPE, added tokens from
// tokenizer_config.json), then vocab.txt (BERT WordPiece).
// Throws Error naming the folder when no supported tokenizer file is found.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_dir);

// Individual loaders (throw Error naming the file on any parse problem).
std::unique_ptr<Tokenizer> load_unigram_tokenizer_json(const std::string& path);
std::unique_ptr<Tokenizer> load_unigram_sentencepiece(const std::string& path);
std::unique_ptr<Tokenizer> load_wordpiece_tokenizer_json(const std::string& path);
std::unique_ptr<Tokenizer> load_wordpiece_vocab_txt(const std::string& path, bool lowercase);
// Byte-level BPE from a tokenizer.json with model.type BPE.
std::unique_ptr<Tokenizer> load_bpe_tokenizer_json(const std::string& path);
// Byte-level BPE from tiktoken ranks (one `base64(token bytes) rank` per line; id = rank;
// merges as transformers' TikTokenConverter derives them) and a tokenizer.json "skeleton":
// the tokenizer.json without model.vocab / model.merges (added tokens, normalizer,
// pre-tokenizer, model options), e.g. tests/data/tokenizers/qwen-bpe/qwen3.tokenizer-skeleton.json.
std::unique_ptr<Tokenizer> load_bpe_tiktoken(const std::string& tiktoken_path, const std::string& skeleton_path);
// Byte-level BPE from a Qwen2/Qwen3 folder without tokenizer.json: vocab.json, merges.txt and
// (optional) tokenizer_config.json for the added tokens, as transformers' Qwen2Tokenizer.
std::unique_ptr<Tokenizer> load_bpe_vocab_merges(const std::string& model_dir);

// Validates UTF-8; throws Error("invalid UTF-8 in <what> at byte N") when malformed.
void check_utf8(std::string_view text, const char* what);

}  // namespace crossrank
