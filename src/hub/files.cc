// The files of a Hub repo that a crossrank model needs: config, tokenizer, safetensors.
#include "hub/files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "hub/hub.h"
#include "util/error.h"

namespace crossrank::hub {

namespace fs = std::filesystem;

namespace {

bool has(const std::vector<std::string>& files, const std::string& f) {
  return std::find(files.begin(), files.end(), f) != files.end();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const std::vector<std::string>& tokenizer_files() {
  static const std::vector<std::string> files = {
      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "sentencepiece.bpe.model",
      "vocab.txt",      "vocab.json",            "merges.txt",              "added_tokens.json"};
  return files;
}

std::vector<std::string> needed_files(const HubId& id, const std::vector<std::string>& repo_files) {
  const std::string who = id.text();
  if (!has(repo_files, "config.json"))
    throw Error(who + ": the repository has no config.json (not a transformers model repository)",
                ErrorCode::kUnsupported);
  std::vector<std::string> out = {"config.json"};
  for (const std::string& f : tokenizer_files())
    if (has(repo_files, f)) out.push_back(f);
  if (has(repo_files, "model.safetensors")) {
    out.push_back("model.safetensors");
    return out;
  }
  if (has(repo_files, "model.safetensors.index.json")) {
    out.push_back("model.safetensors.index.json");
    return out;
  }
  std::string other;
  for (const std::string& f : repo_files)
    if (f.find('/') == std::string::npos &&
        (ends_with(f, ".bin") || ends_with(f, ".onnx") || ends_with(f, ".gguf") || ends_with(f, ".h5") ||
         ends_with(f, ".msgpack") || ends_with(f, ".pt") || ends_with(f, ".pth") || ends_with(f, ".ckpt"))) {
      other = f;
      if (f.rfind("pytorch_model", 0) == 0) break;
    }
  if (other.rfind("pytorch_model", 0) == 0)
    throw Error(who + ": the repository has only " + other +
                    " (PyTorch pickle) and crossrank loads safetensors weights; convert once with python -c "
                    "\"from transformers import AutoModelForSequenceClassification as M, AutoTokenizer as T; "
                    "M.from_pretrained('" + id.repo + "').save_pretrained('model-st'); T.from_pretrained('" + id.repo +
                    "').save_pretrained('model-st')\" and use --model model-st (or pick a revision with "
                    "model.safetensors, e.g. the Hub's conversion PR: " + id.repo + "@refs/pr/N)",
                ErrorCode::kUnsupported);
  throw Error(who + ": the repository has no model.safetensors or model.safetensors.index.json" +
                  (other.empty() ? std::string() : " (only " + other + ")") + "; crossrank loads safetensors weights",
              ErrorCode::kUnsupported);
}

std::vector<std::string> index_shards(const std::string& index_path) {
  nlohmann::json j;
  try {
    std::ifstream in(index_path);
    j = nlohmann::json::parse(in);
  } catch (const std::exception&) {
    throw Error(index_path + ": not valid JSON");
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error(index_path + ": missing object 'weight_map'");
  std::set<std::string> names;
  for (const auto& v : j["weight_map"]) {
    if (!v.is_string()) throw Error(index_path + ": weight_map values must be file names");
    const std::string n = v.get<std::string>();
    if (n.empty() || n.find('/') != std::string::npos || n.find('\\') != std::string::npos || n == "." ||
        n.find("..") != std::string::npos)
      throw Error(index_path + ": shard name '" + n + "' must be a plain file name");
    names.insert(n);
  }
  if (names.empty()) throw Error(index_path + ": weight_map is empty");
  return {names.begin(), names.end()};
}

std::string missing_model_file(const std::string& dir) {
  const fs::path d(dir);
  if (!fs::exists(d / "config.json")) return "config.json";
  if (fs::exists(d / "model.safetensors")) return "";
  if (!fs::exists(d / "model.safetensors.index.json")) return "model.safetensors";
  for (const std::string& s : index_shards((d / "model.safetensors.index.json").string()))
    if (!fs::exists(d / s)) return s;
  return "";
}

}  // namespace crossrank::hub
