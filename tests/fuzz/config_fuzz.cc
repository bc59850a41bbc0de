// libFuzzer target: config.json (load_config on a scratch file). A config that loads must
// have sizes an engine could allocate: ModelConfig::parameters() is computed (UBSan
// reports signed overflow) and absurd shapes are reported as findings: a parser that
// accepts them lets Engine::open die with a bare std::bad_alloc (issue 14).
// Set CROSSRANK_FUZZ_CONFIG_STRICT=0 to only look for crashes.
#include <cstdlib>

#include "fuzz_util.h"
#include "model/config.h"
#include "util/error.h"

using namespace crossrank;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool strict = [] {
    const char* e = std::getenv("CROSSRANK_FUZZ_CONFIG_STRICT");
    return !(e && std::string(e) == "0");
  }();
  const std::string path = fuzz::write_scratch("config.json", data, size);
  try {
    const ModelConfig c = load_config(path);
    (void)c.parameters();
    // 2^40 parameters (4 TiB of fp32) is no model this engine can load.
    if (strict && (c.layers > 4096 || c.hidden > (1 << 20) || c.intermediate > (1 << 22) || c.vocab_size > (1 << 24) ||
                   c.max_position_embeddings > (1 << 22)))
      __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
