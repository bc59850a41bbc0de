#pragma once
// Which files of a repo crossrank needs, and whether a local snapshot has them.
#include <string>
#include <vector>

namespace crossrank::hub {

// The tokenizer files crossrank's loaders read (src/tokenizer/tokenizer.cc), all optional.
const std::vector<std::string>& tokenizer_files();

// The shard file names of a model.safetensors.index.json (sorted, unique). Throws Error
// for bad JSON or shard names that are not plain file names.
std::vector<std::string> index_shards(const std::string& index_path);

// The first file a crossrank model needs that snapshot folder `dir` lacks ("config.json",
// "model.safetensors", a shard name), or "" when config and weights are all there.
std::string missing_model_file(const std::string& dir);

}  // namespace crossrank::hub
