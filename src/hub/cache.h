#pragma once
// One repo's folder in the Hugging Face cache, laid out as huggingface_hub lays it out
// (file_download.py: repo_folder_name, _cache_commit_hash_for_specific_revision,
// _create_symlink), so either tool reads what the other wrote.
#include <filesystem>
#include <string>

namespace crossrank::hub {

// True for a full 40-hex commit id (huggingface_hub's REGEX_COMMIT_HASH).
bool is_commit_hash(const std::string& s);

class RepoCache {
 public:
  // cache_dir/models--ORG--NAME for repo "ORG/NAME".
  RepoCache(const std::string& cache_dir, const std::string& repo);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path blob(const std::string& etag) const { return root_ / "blobs" / etag; }
  std::filesystem::path snapshot(const std::string& commit) const { return root_ / "snapshots" / commit; }
  // cache_dir/.locks/models--ORG--NAME/<etag>.lock (huggingface_hub's lock of a blob).
  std::filesystem::path lock(const std::string& etag) const;

  // The commit refs/<revision> holds, or "" when there is none (or it is unreadable).
  std::string read_ref(const std::string& revision) const;
  // Writes refs/<revision> atomically unless revision is a commit or already holds it.
  // Best effort: a read-only cache logs a warning.
  void write_ref(const std::string& revision, const std::string& commit) const;
  // snapshots/<commit>/<file> -> relative symlink to blobs/<etag>, replacing what is there.
  // Throws Error when the link cannot be made.
  void link(const std::string& commit, const std::string& file, const std::string& etag) const;

 private:
  std::filesystem::path cache_dir_, root_;
  std::string folder_;
};

// An exclusive flock(2) on a lock file, as huggingface_hub's FileLock takes it; waits,
// logging once, while another process holds it. Released by the destructor.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace crossrank::hub
