#include "model/config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/architecture.h"
#include "util/error.h"

namespace crossrank {

const char* ModelConfig::family() const { return arch ? arch->family() : "?"; }

long long ModelConfig::parameters() const {
  if (!arch) return 0;
  long long p = 0;
  for (const TensorSpec& t : arch->tensors(*this)) {
    long long n = 1;
    for (auto d : t.shape) n *= d;
    p += n;
  }
  return p;
}

int config_int(const nlohmann::json& j, const char* key, const std::string& where, int lo, int hi, int def) {
  if (!j.contains(key) || j[key].is_null()) {
    if (def >= 0) return def;
    throw Error(where + ": missing field '" + key + "'");
  }
  const auto& v = j[key];
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  // Accept integral floats (1e3) as JSON writers produce them; reject fractions and huge values.
  double d;
  if (v.is_number_integer()) d = static_cast<double>(v.get<long long>());
  else if (v.is_number_float()) d = v.get<double>();
  else throw Error(where + ": field '" + key + "' must be an integer in " + range);
  if (!std::isfinite(d) || d != std::floor(d) || d < lo || d > hi)
    throw Error(where + ": field '" + key + "' is " + v.dump() + "; it must be an integer in " + range);
  return static_cast<int>(d);
}

float config_float(const nlohmann::json& j, const char* key, const std::string& where, float lo, float hi, float def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  const auto& v = j[key];
  if (!v.is_number()) throw Error(where + ": field '" + key + "' must be a number");
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi)
    throw Error(where + ": field '" + key + "' is " + v.dump() + "; it must be in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  return static_cast<float>(d);
}

ModelConfig parse_config(const nlohmann::json& j, const std::string& where, const ModelHint& hint) {
  if (!j.is_object()) throw Error(where + ": config is not a JSON object");
  std::string cls;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    cls = j["architectures"][0].get<std::string>();
  const Architecture* a = find_architecture(cls);
  if (a) a = resolve_architecture(cls, hint, where);
  if (!a) {
    const std::string model_type = j.contains("model_type") && j["model_type"].is_string()
                                       ? j["model_type"].get<std::string>()
                                       : std::string();
    throw Error(ErrorCode::kUnsupported, where + ": unsupported architecture '" + (cls.empty() ? "<none>" : cls) +
                                             "' (model_type '" + model_type +
                                             "'); supported: " + supported_architectures());
  }
  ModelConfig c = a->parse_config(j, where);
  c.arch = a;
  c.architecture = cls;
  return c;
}

ModelConfig load_config(const std::string& path, const ModelHint& hint) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kNotFound, path + ": cannot open config.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
  return parse_config(j, path, hint);
}

}  // namespace crossrank
