#pragma once
// What crossrank's own tools (bench, eval) may ask an Engine beyond the public API: the
// parsed config, whose family (config.arch) owns FLOP counts, bench inputs and gate status.
#include "backend/ops.h"
#include "crossrank/crossrank.h"
#include "model/config.h"

namespace crossrank {

class Tokenizer;

// The config of an engine made by Engine::open (throws std::bad_cast for any other Engine).
const ModelConfig& engine_config(const Engine& e);
// Its tokenizer (never null for an open engine).
const Tokenizer* engine_tokenizer(const Engine& e);
// Its backend's int8 precision choices (Ops::int8_facts), for the quality gate.
Int8Facts engine_int8_facts(const Engine& e);

}  // namespace crossrank
