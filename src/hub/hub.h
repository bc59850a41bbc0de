#pragma once
// Hugging Face Hub model ids ("ORG/NAME[@REVISION]") resolved to a local snapshot folder,
// with the cache layout, environment variables and HTTP API of huggingface_hub, so that
// caches are shared both ways (docs/hub.md):
//   $HF_HUB_CACHE (default $HF_HOME/hub, $HF_HOME default ~/.cache/huggingface)
//     models--ORG--NAME/blobs/<etag>               file contents (sha256 for LFS files)
//     models--ORG--NAME/snapshots/<commit>/<file>   -> ../../blobs/<etag> (relative symlink)
//     models--ORG--NAME/refs/<revision>             the commit a branch/tag pointed to
// Only the files a crossrank model needs are fetched (config, tokenizer, safetensors).
#include <cstdint>
#include <string>
#include <vector>

namespace crossrank::hub {

// Where and how to reach the Hub; from_env() reads what huggingface_hub reads.
struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT (no trailing '/')
  std::string cache_dir;                             // HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE / $HF_HOME/hub
  std::string token;                                 // HF_TOKEN / HUGGING_FACE_HUB_TOKEN / token file; "" = none
  bool offline = false;                              // HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE: no network at all
  double etag_timeout_s = 10;                        // HF_HUB_ETAG_TIMEOUT: metadata requests
  double download_timeout_s = 10;                    // HF_HUB_DOWNLOAD_TIMEOUT: a stalled transfer fails after this
  bool progress = true;                              // false with HF_HUB_DISABLE_PROGRESS_BARS

  // The options huggingface_hub would use in this environment.
  static HubOptions from_env();
};

// A parsed hub model id. revision is "main" when the id names none.
struct HubId {
  std::string repo;      // "ORG/NAME"
  std::string revision;  // branch, tag, "refs/pr/N" or a 40-hex commit
  std::string text() const { return revision == "main" ? repo : repo + "@" + revision; }
};

// True when `model` is meant as a hub id: not an existing path, not "synthetic:...", and of
// the form ORG/NAME[@REVISION] with huggingface_hub's repo id rules (letters, digits, '-',
// '_', '.'; no "--" or ".."; at most 96 characters).
bool is_hub_id(const std::string& model);

// Parses ORG/NAME[@REVISION]; throws Error naming the rule broken.
HubId parse_hub_id(const std::string& model);

// The model folder for `model`: a hub id resolves to its snapshot folder (downloading what
// is missing unless offline); anything else is returned unchanged. Resolved once per
// process per (id, options): later calls return the same folder without network.
// Throws Error (one line) for unknown/gated repos, missing revisions, repos without
// safetensors, offline cache misses and network failures.
std::string resolve_model(const std::string& model);
std::string resolve_model(const std::string& model, const HubOptions& opts);

// Downloads (or finds in the cache) the files a crossrank model needs from `id` and
// returns snapshots/<commit>. The work behind resolve_model, without its memo.
std::string snapshot_download(const HubId& id, const HubOptions& opts);

// The files of a repo listing that crossrank needs: config.json, the tokenizer files
// present, and model.safetensors (else model.safetensors.index.json; its shards are added
// once the index is read). Throws Error when there is no config.json or no safetensors
// (naming pytorch_model.bin and how to convert it when that is what the repo has).
std::vector<std::string> needed_files(const HubId& id, const std::vector<std::string>& repo_files);

}  // namespace crossrank::hub
