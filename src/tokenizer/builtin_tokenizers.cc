// The files are pulled in by the assembler (.incbin) from CROSSRANK_EMBED_DIR, a path used
// at build time only: it is not stored in the object (CMakeLists.txt sets it, and the
// files as OBJECT_DEPENDS so that editing them rebuilds this file).
#include "tokenizer/builtin_tokenizers.h"

#ifndef CROSSRANK_EMBED_DIR
#error "CROSSRANK_EMBED_DIR (the tests/data folder) must be defined for this file"
#endif

#define CR_EMBED(sym, file)                                   \
  __asm__(".section .rodata\n"                                \
          ".balign 16\n"                                      \
          ".globl " #sym "\n.hidden " #sym "\n"                \
          ".type " #sym ", @object\n" #sym ":\n"              \
          ".incbin \"" CROSSRANK_EMBED_DIR "/" file "\"\n"    \
          ".globl " #sym "_end\n.hidden " #sym "_end\n"       \
          #sym "_end:\n"                                       \
          ".byte 0\n"                                         \
          ".previous\n");                                     \
  extern "C" const char sym[], sym##_end[];

CR_EMBED(crossrank_tok_xlmr, "tokenizers/xlmr-unigram/tokenizer.json")
CR_EMBED(crossrank_tok_bert, "models/tiny-bert/tokenizer.json")
CR_EMBED(crossrank_tok_qwen3, "tokenizers/qwen-bpe/qwen3.tokenizer-skeleton.json")
CR_EMBED(crossrank_tok_modernbert, "models/tiny-modernbert-bpe/tokenizer.json")

namespace crossrank {

std::string_view builtin_tokenizer_json(std::string_view name) {
  if (name == "xlmr-unigram") return {crossrank_tok_xlmr, static_cast<std::size_t>(crossrank_tok_xlmr_end - crossrank_tok_xlmr)};
  if (name == "bert-wordpiece") return {crossrank_tok_bert, static_cast<std::size_t>(crossrank_tok_bert_end - crossrank_tok_bert)};
  if (name == "qwen3-skeleton")
    return {crossrank_tok_qwen3, static_cast<std::size_t>(crossrank_tok_qwen3_end - crossrank_tok_qwen3)};
  if (name == "modernbert-bpe")
    return {crossrank_tok_modernbert,
            static_cast<std::size_t>(crossrank_tok_modernbert_end - crossrank_tok_modernbert)};
  return {};
}

}  // namespace crossrank
