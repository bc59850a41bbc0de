// The Hugging Face cache layout: refs, blobs, relative snapshot symlinks, blob locks.
#include "hub/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <random>
#include <sstream>

#include "util/error.h"
#include "util/log.h"

namespace crossrank::hub {

namespace fs = std::filesystem;

bool is_commit_hash(const std::string& s) {
  return s.size() == 40 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

RepoCache::RepoCache(const std::string& cache_dir, const std::string& repo)
    : cache_dir_(fs::absolute(cache_dir).lexically_normal()) {
  folder_ = "models";
  std::stringstream parts(repo);
  std::string part;
  while (std::getline(parts, part, '/')) folder_ += "--" + part;
  root_ = cache_dir_ / folder_;
}

fs::path RepoCache::lock(const std::string& etag) const { return cache_dir_ / ".locks" / folder_ / (etag + ".lock"); }

std::string RepoCache::read_ref(const std::string& revision) const {
  std::ifstream in(root_ / "refs" / revision, std::ios::binary);
  if (!in) return "";
  std::string s((std::istreambuf_iterator<char>(in)), {});
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return is_commit_hash(s) ? s : "";
}

void RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit || read_ref(revision) == commit) return;
  const fs::path ref = root_ / "refs" / revision;
  std::error_code ec;
  fs::create_directories(ref.parent_path(), ec);
  const fs::path tmp = ref.parent_path() / (ref.filename().string() + "." + std::to_string(std::random_device{}()) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary);
    out << commit;  // no newline, as huggingface_hub writes it
    if (!out) {
      log_warn("cannot write " + ref.string() + " (read-only cache?); the download is kept");
      return;
    }
  }
  fs::rename(tmp, ref, ec);
  if (ec) {
    fs::remove(tmp, ec);
    log_warn("cannot write " + ref.string() + ": " + ec.message());
  }
}

void RepoCache::link(const std::string& commit, const std::string& file, const std::string& etag) const {
  const fs::path dst = snapshot(commit) / file;
  std::error_code ec;
  fs::create_directories(dst.parent_path(), ec);
  if (ec) throw Error("cannot create " + dst.parent_path().string() + ": " + ec.message());
  const fs::path target = blob(etag).lexically_relative(dst.parent_path());
  fs::remove(dst, ec);
  fs::create_symlink(target, dst, ec);
  if (ec && !(fs::is_symlink(dst) && fs::equivalent(dst, blob(etag), ec)))
    throw Error("cannot link " + dst.string() + " to its blob: " + ec.message());
}

FileLock::FileLock(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0) return;  // read-only lock folder: go on without the lock, as huggingface_hub does
  if (flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  log_info("waiting for another process downloading the same file (lock " + path.string() + ")");
  while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

}  // namespace crossrank::hub
