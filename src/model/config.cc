#include "model/config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace crossrank {

long long ModelConfig::parameters() const {
  const long long h = hidden, i = intermediate;
  long long p = (long long)vocab_size * h + (long long)max_position_embeddings * h +
                (long long)type_vocab_size * h + 2 * h;
  p += layers * (4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h);
  p += h * h + h + h + 1;  // head: dense + out
  return p;
}

static int get_int(const nlohmann::json& j, const char* key, const std::string& where, int def = -1) {
  if (!j.contains(key)) {
    if (def >= 0) return def;
    throw Error(where + ": missing field '" + key + "'");
  }
  if (!j[key].is_number_integer() || j[key].get<long long>() < 0 || j[key].get<long long>() > (1 << 30))
    throw Error(where + ": field '" + key + "' must be a non-negative integer");
  return j[key].get<int>();
}

ModelConfig parse_config(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": config is not a JSON object");
  ModelConfig c;
  std::string arch;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    arch = j["architectures"][0].get<std::string>();
  const std::string model_type = j.value("model_type", std::string());
  if (arch == "XLMRobertaForSequenceClassification" || arch == "RobertaForSequenceClassification") {
    c.arch = Arch::kXlmRoberta;
  } else if (arch == "BertForSequenceClassification") {
    c.arch = Arch::kBert;
  } else {
    throw Error(where + ": unsupported architecture '" + (arch.empty() ? "<none>" : arch) +
                "' (model_type '" + model_type +
                "'); supported: XLMRobertaForSequenceClassification, RobertaForSequenceClassification, "
                "BertForSequenceClassification");
  }
  c.architecture = arch;
  int labels = 1;
  if (j.contains("id2label") && j["id2label"].is_object())
    labels = static_cast<int>(j["id2label"].size());
  if (j.contains("num_labels")) labels = get_int(j, "num_labels", where);
  if (labels != 1)
    throw Error(where + ": num_labels is " + std::to_string(labels) +
                "; a reranker has exactly one label (one logit per pair)");
  c.vocab_size = get_int(j, "vocab_size", where);
  c.hidden = get_int(j, "hidden_size", where);
  c.layers = get_int(j, "num_hidden_layers", where);
  c.heads = get_int(j, "num_attention_heads", where);
  c.intermediate = get_int(j, "intermediate_size", where);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", where);
  c.type_vocab_size = get_int(j, "type_vocab_size", where, 2);
  c.pad_token_id = get_int(j, "pad_token_id", where, c.arch == Arch::kBert ? 0 : 1);
  if (j.contains("layer_norm_eps")) {
    if (!j["layer_norm_eps"].is_number()) throw Error(where + ": layer_norm_eps must be a number");
    c.layer_norm_eps = j["layer_norm_eps"].get<float>();
  } else {
    c.layer_norm_eps = c.arch == Arch::kBert ? 1e-12f : 1e-5f;
  }
  const std::string act = j.value("hidden_act", std::string("gelu"));
  if (act != "gelu")
    throw Error(where + ": hidden_act '" + act + "' is not supported (only exact erf 'gelu')");
  const std::string pet = j.value("position_embedding_type", std::string("absolute"));
  if (pet != "absolute")
    throw Error(where + ": position_embedding_type '" + pet + "' is not supported (only 'absolute')");
  if (c.hidden == 0 || c.heads == 0 || c.hidden % c.heads != 0)
    throw Error(where + ": hidden_size " + std::to_string(c.hidden) + " is not a multiple of num_attention_heads " +
                std::to_string(c.heads));
  if (c.layers == 0 || c.intermediate == 0 || c.vocab_size == 0 || c.type_vocab_size == 0)
    throw Error(where + ": layers, intermediate_size, vocab_size and type_vocab_size must be > 0");
  if (c.max_length() < 2) throw Error(where + ": max_position_embeddings too small");
  return c;
}

ModelConfig load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open config.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
  return parse_config(j, path);
}

ModelConfig synthetic_config(const std::string& name) {
  ModelConfig c;
  auto xlmr = [&](int layers, int hidden, int heads, int inter, int vocab, int maxpos) {
    c.arch = Arch::kXlmRoberta;
    c.architecture = "XLMRobertaForSequenceClassification";
    c.layers = layers; c.hidden = hidden; c.heads = heads; c.intermediate = inter;
    c.vocab_size = vocab; c.max_position_embeddings = maxpos; c.type_vocab_size = 1;
    c.pad_token_id = 1; c.layer_norm_eps = 1e-5f;
  };
  auto bert = [&](int layers, int hidden, int heads, int inter, int vocab, int maxpos) {
    c.arch = Arch::kBert;
    c.architecture = "BertForSequenceClassification";
    c.layers = layers; c.hidden = hidden; c.heads = heads; c.intermediate = inter;
    c.vocab_size = vocab; c.max_position_embeddings = maxpos; c.type_vocab_size = 2;
    c.pad_token_id = 0; c.layer_norm_eps = 1e-12f;
  };
  if (name == "bge-reranker-v2-m3") xlmr(24, 1024, 16, 4096, 250002, 8194);
  else if (name == "bge-reranker-base") xlmr(12, 768, 12, 3072, 250002, 514);
  else if (name == "ms-marco-MiniLM-L-6-v2") bert(6, 384, 12, 1536, 30522, 512);
  else if (name == "tiny-xlmr") xlmr(2, 32, 4, 64, 8002, 1026);
  else if (name == "tiny-bert") bert(2, 32, 4, 64, 30522, 512);
  else
    throw Error("unknown synthetic model '" + name +
                "' (known: bge-reranker-v2-m3, bge-reranker-base, ms-marco-MiniLM-L-6-v2, tiny-xlmr, tiny-bert)");
  return c;
}

}  // namespace crossrank
