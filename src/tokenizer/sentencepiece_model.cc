// Protobuf wire-format reader for SentencePiece ModelProto (see sentencepiece_model.h).
#include "tokenizer/sentencepiece_model.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace crossrank {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Cursor over one (sub)message; every read is bounds-checked.
class WireReader {
 public:
  WireReader(std::string_view data, const std::string& what) : data_(data), what_(what) {}

  bool done() const { return pos_ >= data_.size(); }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("truncated varint");
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }

  // Reads a field key; returns the field number and sets `wire`.
  uint32_t key(uint32_t& wire) {
    const uint64_t k = varint();
    wire = static_cast<uint32_t>(k & 7);
    const uint64_t field = k >> 3;
    if (field == 0 || field > 0x1FFFFFFF) fail("invalid field number");
    return static_cast<uint32_t>(field);
  }

  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > data_.size() - pos_) fail("length-delimited field runs past the end");
    std::string_view s = data_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

  uint32_t fixed32() {
    if (data_.size() - pos_ < 4) fail("truncated fixed32");
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(data_[pos_ + i]);
    pos_ += 4;
    return v;
  }

  void skip(uint32_t wire) {
    switch (wire) {
      case kVarint: varint(); break;
      case kFixed64:
        if (data_.size() - pos_ < 8) fail("truncated fixed64");
        pos_ += 8;
        break;
      case kLengthDelimited: bytes(); break;
      case kFixed32: fixed32(); break;
      default: fail("unsupported wire type " + std::to_string(wire));
    }
  }

  void expect(uint32_t wire, uint32_t want, const char* field) {
    if (wire != want) fail(std::string("field ") + field + " has wire type " + std::to_string(wire));
  }

  [[noreturn]] void fail(const std::string& msg) const {
    throw Error(what_ + ": malformed SentencePiece model (" + msg + " at byte offset " +
                std::to_string(pos_) + " of a " + std::to_string(data_.size()) + "-byte message)");
  }

 private:
  std::string_view data_;
  const std::string& what_;
  size_t pos_ = 0;
};

float as_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

SpmPiece parse_piece(std::string_view msg, const std::string& what) {
  SpmPiece p;
  WireReader r(msg, what);
  while (!r.done()) {
    uint32_t wire;
    switch (r.key(wire)) {
      case 1: r.expect(wire, kLengthDelimited, "SentencePiece.piece"); p.piece = std::string(r.bytes()); break;
      case 2: r.expect(wire, kFixed32, "SentencePiece.score"); p.score = as_float(r.fixed32()); break;
      case 3:
        r.expect(wire, kVarint, "SentencePiece.type");
        p.type = static_cast<SpmPieceType>(static_cast<int32_t>(r.varint()));
        break;
      default: r.skip(wire);
    }
  }
  return p;
}

void parse_trainer_spec(std::string_view msg, SpmModel& m, const std::string& what) {
  WireReader r(msg, what);
  while (!r.done()) {
    uint32_t wire;
    switch (r.key(wire)) {
      case 3: r.expect(wire, kVarint, "TrainerSpec.model_type"); m.model_type = static_cast<int32_t>(r.varint()); break;
      case 35: r.expect(wire, kVarint, "TrainerSpec.byte_fallback"); m.byte_fallback = r.varint() != 0; break;
      case 40: r.expect(wire, kVarint, "TrainerSpec.unk_id"); m.unk_id = static_cast<int32_t>(r.varint()); break;
      default: r.skip(wire);
    }
  }
}

void parse_normalizer_spec(std::string_view msg, SpmModel& m, const std::string& what) {
  WireReader r(msg, what);
  while (!r.done()) {
    uint32_t wire;
    switch (r.key(wire)) {
      case 1: r.expect(wire, kLengthDelimited, "NormalizerSpec.name"); m.normalizer_name = std::string(r.bytes()); break;
      case 2:
        r.expect(wire, kLengthDelimited, "NormalizerSpec.precompiled_charsmap");
        m.precompiled_charsmap = std::string(r.bytes());
        break;
      case 3: r.expect(wire, kVarint, "NormalizerSpec.add_dummy_prefix"); m.add_dummy_prefix = r.varint() != 0; break;
      case 4:
        r.expect(wire, kVarint, "NormalizerSpec.remove_extra_whitespaces");
        m.remove_extra_whitespaces = r.varint() != 0;
        break;
      case 5: r.expect(wire, kVarint, "NormalizerSpec.escape_whitespaces"); m.escape_whitespaces = r.varint() != 0; break;
      default: r.skip(wire);
    }
  }
}

}  // namespace

SpmModel parse_spm_model(std::string_view bytes, const std::string& what) {
  SpmModel m;
  WireReader r(bytes, what);
  while (!r.done()) {
    uint32_t wire;
    switch (r.key(wire)) {
      case 1: r.expect(wire, kLengthDelimited, "ModelProto.pieces"); m.pieces.push_back(parse_piece(r.bytes(), what)); break;
      case 2: r.expect(wire, kLengthDelimited, "ModelProto.trainer_spec"); parse_trainer_spec(r.bytes(), m, what); break;
      case 3:
        r.expect(wire, kLengthDelimited, "ModelProto.normalizer_spec");
        parse_normalizer_spec(r.bytes(), m, what);
        break;
      default: r.skip(wire);
    }
  }
  return m;
}

SpmModel load_spm_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open SentencePiece model");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error");
  return parse_spm_model(ss.str(), path);
}

}  // namespace crossrank
