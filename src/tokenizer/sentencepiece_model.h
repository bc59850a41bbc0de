#pragma once
// Minimal reader for SentencePiece's `ModelProto` (sentencepiece_model.proto), written
// against the protobuf wire format directly (no libprotobuf). Only the fields the XLM-R
// Unigram pipeline needs are kept; every other field is skipped.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crossrank {

// SentencePiece::Type values (sentencepiece_model.proto).
enum class SpmPieceType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// One `ModelProto.pieces` entry.
struct SpmPiece {
  std::string piece;
  float score = 0.0f;
  SpmPieceType type = SpmPieceType::kNormal;
};

// The parts of `ModelProto` crossrank uses; defaults are the proto defaults.
struct SpmModel {
  std::vector<SpmPiece> pieces;
  // TrainerSpec
  int32_t model_type = 1;  // 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
  int32_t unk_id = 0;
  bool byte_fallback = false;
  // NormalizerSpec
  std::string normalizer_name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses a serialized ModelProto. Throws Error("<what>: ...") on malformed wire data
// (truncation, bad varints, wrong wire types for known fields, lengths past the end).
SpmModel parse_spm_model(std::string_view bytes, const std::string& what);

// Reads and parses a `.model` file; throws Error naming `path` on I/O or parse failure.
SpmModel load_spm_model(const std::string& path);

}  // namespace crossrank
