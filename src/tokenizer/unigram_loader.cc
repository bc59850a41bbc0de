// Unigram loaders: tokenizer.json (through the shared reader, tokenizer_json.h) and a
// sentencepiece `.model` converted as transformers' XLMRobertaConverter does.
#include <nlohmann/json.hpp>

#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/unigram.h"
#include "util/error.h"

namespace crossrank {

using nlohmann::json;

std::unique_ptr<Tokenizer> make_unigram_from_json(const TokenizerJson& tj) {
  const std::string& path = tj.path;
  if (!tj.model_type.empty() && tj.model_type != "Unigram")
    throw Error(path + ": model.type is '" + tj.model_type + "', expected 'Unigram'");
  UnigramConfig cfg;
  try {
    const json& model = *tj.model;
    const json* vocab = json_field::find(model, "vocab");
    if (!vocab || !vocab->is_array()) throw Error(path + ": model.vocab must be an array");
    cfg.pieces.reserve(vocab->size());
    cfg.scores.reserve(vocab->size());
    for (const auto& e : *vocab) {
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number())
        throw Error(path + ": model.vocab[" + std::to_string(cfg.pieces.size()) + "] is not [piece, score]");
      cfg.pieces.push_back(e[0].get<std::string>());
      check_utf8(cfg.pieces.back(), "vocab piece");
      cfg.scores.push_back(e[1].get<double>());
    }
    if (const json* u = json_field::find(model, "unk_id")) {
      if (!u->is_number_integer() || u->get<int64_t>() < 0 || u->get<int64_t>() > INT32_MAX)
        throw Error(path + ": model.unk_id out of range");
      cfg.unk_id = static_cast<int32_t>(u->get<int64_t>());
    }
    cfg.byte_fallback = json_field::get_bool(model, "byte_fallback", false, path + ": model");
  } catch (const json::exception& e) {
    throw Error(path + ": malformed tokenizer.json model (" + e.what() + ")");
  }
  cfg.normalizers = tj.normalizer;
  // Supported pre-tokenizers: [WhitespaceSplit] then [Metaspace].
  for (size_t i = 0; i < tj.pre_tokenizer.size(); ++i) {
    const PreTokenizerStep& st = tj.pre_tokenizer[i];
    if (st.kind == PreTokenizerStep::Kind::kWhitespaceSplit && i == 0) {
      cfg.pre_tokenizer.whitespace_split = true;
    } else if (st.kind == PreTokenizerStep::Kind::kMetaspace && !cfg.pre_tokenizer.metaspace) {
      cfg.pre_tokenizer.metaspace = true;
      cfg.pre_tokenizer.options = st.metaspace;
    } else {
      throw Error(path + ": pre_tokenizer: unsupported for a Unigram tokenizer (supported: Metaspace, "
                         "WhitespaceSplit, Sequence[WhitespaceSplit, Metaspace])");
    }
  }
  cfg.added_tokens = tj.added_tokens;
  if (!tj.cls_token.empty()) cfg.cls_token = tj.cls_token;
  if (!tj.sep_token.empty()) cfg.sep_token = tj.sep_token;
  return std::make_unique<UnigramTokenizer>(std::move(cfg), path);
}

std::unique_ptr<Tokenizer> load_unigram_tokenizer_json(const std::string& path) {
  return make_unigram_from_json(read_tokenizer_json(path));
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
  cfg.pre_tokenizer.options.prepend = MetaspaceOptions::Prepend::kAlways;
  cfg.pre_tokenizer.options.split = true;
  // Control (3) and user-defined (4) spm pieces become added tokens (control ones special),
  // then the tokenizer's own special tokens; <mask> has lstrip. All are in the vocabulary, so
  // they keep their vocabulary ids.
  for (size_t k = 3; k < spm.pieces.size(); ++k) {
    const auto type = spm.pieces[k].type;
    if (type != SpmPieceType::kControl && type != SpmPieceType::kUserDefined) continue;
    AddedTokenSpec t;  // its id: piece k has id k + 1
    t.content = spm.pieces[k].piece;
    t.special = type == SpmPieceType::kControl;
    t.normalized = false;
    cfg.added_tokens.push_back(std::move(t));
  }
  const struct {
    const char* content;
    bool lstrip;
  } specials[] = {{"<s>", false}, {"<pad>", false}, {"</s>", false}, {"<unk>", false}, {"<mask>", true}};
  for (const auto& s : specials) {
    AddedTokenSpec t;
    t.content = s.content;
    t.lstrip = s.lstrip;
    t.special = true;
    t.normalized = false;
    cfg.added_tokens.push_back(std::move(t));
  }
  return std::make_unique<UnigramTokenizer>(std::move(cfg), path);
}

}  // namespace crossrank
