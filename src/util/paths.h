#pragma once
// Where an installed crossrank finds its data (nothing compiled in points at the source
// tree). The data folder has the layout of the repository's ../shared folder:
//   data/...            eval datasets and bench text corpora (cmake --install puts them in
//                       <prefix>/share/crossrank/data; the build tree links them)
//   models/qwen3-reranker/qwen.tiktoken   the vocabulary of the synthetic Qwen3 models
#include <string>

namespace crossrank {

// The folder of the running executable (/proc/self/exe); "" when unknown.
std::string executable_dir();

// The shared data folder: $CROSSRANK_SHARED_DIR when set, else the first that exists of
// <exe dir>/../share/crossrank (an install: bin/crossrank; also build/tests/ in the build
// tree) and <exe dir>/share/crossrank (build/crossrank in the build tree, where CMake
// links build/share/crossrank to ../shared); "" when none.
std::string shared_data_root();

}  // namespace crossrank
