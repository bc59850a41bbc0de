#pragma once
// The one tokenizer.json reader: parses what every model shares (added_tokens, normalizer,
// pre_tokenizer, post_processor special tokens, padding token, model.type) once, keeps the
// "model" object for the model-specific builders, and dispatches on model.type.
// Every problem throws crossrank::Error("<path>: <field>: <what is wrong>").
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_vocab.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace crossrank {

// The shared parts of a tokenizer.json.
struct TokenizerJson {
  std::string path;        // for error messages
  std::string model_type;  // model.type ("" when the field is absent)
  std::vector<AddedTokenSpec> added_tokens;     // in file order
  std::vector<NormalizerStep> normalizer;       // flattened Sequence; empty: none
  std::vector<PreTokenizerStep> pre_tokenizer;  // flattened Sequence; empty: none
  std::string cls_token, sep_token;  // from the post_processor ("" when it names none)
  std::string pad_token;             // padding.pad_token ("" when none)
  std::shared_ptr<const nlohmann::json> model;  // the "model" object
};

// Parses the shared parts of the document `doc` (read from `path`); `doc["model"]` is moved
// into the result. Throws Error naming `path` and the field.
TokenizerJson parse_tokenizer_json(nlohmann::json& doc, const std::string& path);

// Reads `path` (throws Error when it cannot be read or is not JSON) and parses it as above.
TokenizerJson read_tokenizer_json(const std::string& path);
// The same from the document's text; `path` names it in errors.
TokenizerJson parse_tokenizer_json_text(std::string_view text, const std::string& path);

// Loads any supported tokenizer.json, dispatching on model.type (Unigram, WordPiece, BPE).
std::unique_ptr<Tokenizer> load_tokenizer_json(const std::string& path);
// The same from the document's text; `what` names it in errors (e.g. "<built-in xlmr>").
std::unique_ptr<Tokenizer> load_tokenizer_json_text(std::string_view text, const std::string& what);
// load_bpe_tiktoken (tokenizer.h) with the skeleton given as text; `skeleton_what` names
// it in errors.
std::unique_ptr<Tokenizer> load_bpe_tiktoken_text(const std::string& tiktoken_path, std::string_view skeleton_text,
                                                  const std::string& skeleton_what);

// Model builders, one per model file (unigram_loader.cc, wordpiece.cc, bpe_loader.cc). Each
// checks that `tj.model_type` is its type (or empty) and that the pipeline is one it supports.
std::unique_ptr<Tokenizer> make_unigram_from_json(const TokenizerJson& tj);
std::unique_ptr<Tokenizer> make_wordpiece_from_json(const TokenizerJson& tj);
std::unique_ptr<Tokenizer> make_bpe_from_json(const TokenizerJson& tj);

// Small typed accessors for the model builders; `where` names the object in messages
// ("<path>: model"). A null or absent field gives the default.
namespace json_field {
// The field `key` of object `obj`, or nullptr when absent or null.
const nlohmann::json* find(const nlohmann::json& obj, const char* key);
bool get_bool(const nlohmann::json& obj, const char* key, bool dflt, const std::string& where);
std::string get_string(const nlohmann::json& obj, const char* key, const std::string& dflt, const std::string& where);
// A required string field.
std::string require_string(const nlohmann::json& obj, const char* key, const std::string& where);
}  // namespace json_field

// Decodes standard base64 ('=' padding); throws Error("<where>: ...") when malformed.
std::string base64_decode(const std::string& s, const std::string& where);

// The whole file as bytes; throws Error("<path>: cannot open <kind>") / read errors.
std::string read_file_bytes(const std::string& path, const char* kind);

}  // namespace crossrank
