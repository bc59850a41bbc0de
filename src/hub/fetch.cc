// One file from the Hub: HEAD for its ETag and location, then a resumable, checked GET
// into the cache (huggingface_hub's get_hf_file_metadata + http_get, with the classic
// blobs/<etag>.incomplete kept across runs so a killed download resumes).
#include "hub/fetch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "hub/digest.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank::hub {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// huggingface_hub's _normalize_etag: W/ prefix and quotes removed.
std::string normalize_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  while (!e.empty() && e.front() == '"') e.erase(e.begin());
  while (!e.empty() && e.back() == '"') e.pop_back();
  return e;
}

std::int64_t to_int(const std::string& s) {
  try {
    return s.empty() ? -1 : std::stoll(s);
  } catch (const std::exception&) {
    return -1;
  }
}

// scheme://host[:port] of a URL.
std::string origin(const std::string& url) {
  const auto p = url.find("://");
  if (p == std::string::npos) return "";
  const auto slash = url.find('/', p + 3);
  return slash == std::string::npos ? url : url.substr(0, slash);
}

// Statuses worth another try: rate limits and server-side failures.
bool transient_status(long status) { return status == 408 || status == 429 || status >= 500; }

// A redrawn progress bar on a terminal; nothing otherwise (the caller logs a line).
class Progress {
 public:
  Progress(const std::string& label, bool tty) : label_(label), tty_(tty), t0_(Clock::now()) {}
  ~Progress() {
    if (drawn_) std::fprintf(stderr, "\r\033[K"), std::fflush(stderr);
  }
  void update(std::int64_t now, std::int64_t total) {
    if (!tty_) return;
    const auto t = Clock::now();
    if (drawn_ && t - last_ < std::chrono::milliseconds(100) && now != total) return;
    last_ = t;
    drawn_ = true;
    const double secs = std::chrono::duration<double>(t - t0_).count();
    const double rate = secs > 0 ? (now - first_) / secs : 0;
    const int width = 30;
    const int filled = total > 0 ? static_cast<int>(width * static_cast<double>(now) / total) : 0;
    std::string bar(std::min(filled, width), '#');
    bar += std::string(width - bar.size(), '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %s/%s %s/s", label_.c_str(), bar.c_str(), human_bytes(now).c_str(),
                 total > 0 ? human_bytes(total).c_str() : "?", human_bytes(static_cast<std::int64_t>(rate)).c_str());
    std::fflush(stderr);
  }
  void start_at(std::int64_t n) { first_ = n; }

 private:
  std::string label_;
  bool tty_;
  bool drawn_ = false;
  std::int64_t first_ = 0;
  Clock::time_point t0_, last_;
};

// Downloads meta.url into `incomplete` (resuming it); returns normally once the transfer
// ended with a complete body. Throws Error for HTTP errors and repeated cuts.
void transfer(const std::string& incomplete, const FileMeta& meta, const HubId& id, const HubOptions& opts) {
  const int fd = ::open(incomplete.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) throw Error("cannot write " + incomplete + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st{};
  std::int64_t offset = fstat(fd, &st) == 0 ? st.st_size : 0;
  if (meta.size >= 0 && offset > meta.size) {
    if (ftruncate(fd, 0) != 0) throw Error("cannot truncate " + incomplete);
    offset = 0;
  }
  if (offset > 0) log_info(meta.file + ": resuming a partial download at " + human_bytes(offset));
  Progress bar(id.repo + " " + meta.file, opts.progress && isatty(2));
  bar.start_at(offset);
  HttpRequest req;
  req.url = meta.url;
  // The token goes to the Hub's own host only (a CDN URL is signed).
  if (origin(meta.url) == origin(opts.endpoint)) req.token = opts.token;
  req.follow_redirects = true;
  req.timeout_s = opts.download_timeout_s;
  int tries_left = 5;
  for (;;) {
    if (meta.size >= 0 && offset == meta.size) return;
    const std::int64_t before = offset;
    HttpResponse res = http_download(req, fd, offset, [&](std::int64_t now, std::int64_t total) {
      bar.update(now, total > 0 ? total : meta.size);
    });
    if (res.status == 200 || res.status == 206) {
      // Complete, or longer than announced (the size check after the transfer reports it).
      if (meta.size < 0 || offset >= meta.size) return;
    } else if (res.status == 416 && meta.size >= 0 && offset >= meta.size) {
      return;
    } else if (res.status != 0 && !transient_status(res.status)) {
      throw_hub_error(res, id, opts, meta.file);
    }
    if (res.local_error) throw Error(id.text() + ": " + meta.file + ": " + res.error + " (" + incomplete + ")");
    const std::string why = res.status != 0 ? "HTTP " + std::to_string(res.status)
                            : res.error.empty()  ? "connection closed early"
                                                 : res.error;
    if (offset > before) tries_left = 5;  // progress: the budget of retries starts over
    if (--tries_left <= 0)
      throw Error(id.text() + ": download of " + meta.file + " from " + origin(meta.url) + " failed (" + why +
                      ") at " + human_bytes(offset) + "; run again to resume",
                  ErrorCode::kUnavailable);
    log_warn(meta.file + ": transfer interrupted at " + human_bytes(offset) + " (" + why + "); retrying");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

std::string human_bytes(std::int64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n < 0 ? 0 : n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

FileMeta file_meta(const HubId& id, const std::string& commit, const std::string& file, const HubOptions& opts) {
  FileMeta m;
  m.file = file;
  HttpRequest req;
  req.method = "HEAD";
  req.token = opts.token;
  req.timeout_s = opts.etag_timeout_s;
  req.url = opts.endpoint + "/" + id.repo + "/resolve/" + url_quote(commit, "") + "/" + url_quote(file);
  HttpResponse res;
  for (int hop = 0, tries = 0;; ++hop) {
    res = http_request(req);
    if ((res.status == 0 || transient_status(res.status)) && ++tries < 3) {  // as huggingface_hub's backoff
      std::this_thread::sleep_for(std::chrono::milliseconds(500 * tries));
      continue;
    }
    if (res.status == 0)
      throw Error(id.text() + ": cannot reach " + opts.endpoint + " (" + res.error + ")", ErrorCode::kUnavailable);
    const std::string loc = res.header("location");
    // Relative redirects stay on the Hub (a renamed repo): follow them, as huggingface_hub does.
    if (res.status / 100 == 3 && !loc.empty() && loc.front() == '/' && hop < 5) {
      req.url = origin(req.url) + loc;
      continue;
    }
    break;
  }
  if (res.status / 100 != 2 && res.status / 100 != 3) throw_hub_error(res, id, opts, file);
  m.commit = res.header("x-repo-commit");
  std::string etag = res.header("x-linked-etag");
  if (etag.empty()) etag = res.header("etag");
  m.etag = normalize_etag(etag);
  m.size = to_int(res.header("x-linked-size"));
  if (m.size < 0 && res.status / 100 == 2) m.size = to_int(res.header("content-length"));
  m.url = res.status / 100 == 3 && !res.header("location").empty() ? res.header("location") : req.url;
  if (m.commit.empty() || m.etag.empty() || m.etag.find('/') != std::string::npos || m.etag.find("..") != std::string::npos)
    throw Error(id.text() + ": " + opts.endpoint + " answered for " + file + " without " +
                    (m.commit.empty() ? "the X-Repo-Commit header" : "a usable ETag") +
                    ": not a Hugging Face Hub endpoint (check HF_ENDPOINT and proxies)",
                ErrorCode::kUnavailable);
  return m;
}

void fetch_blob(const RepoCache& rc, const FileMeta& meta, const HubId& id, const HubOptions& opts) {
  const fs::path blob = rc.blob(meta.etag);
  std::error_code ec;
  if (fs::exists(blob, ec)) return;
  fs::create_directories(blob.parent_path(), ec);
  if (ec) throw Error("cannot create " + blob.parent_path().string() + ": " + ec.message());
  FileLock lock(rc.lock(meta.etag));
  if (fs::exists(blob, ec)) return;  // another process finished it while we waited
  const std::string incomplete = blob.string() + ".incomplete";
  const auto t0 = Clock::now();
  for (int attempt = 0;; ++attempt) {
    const bool resumed = fs::exists(incomplete, ec) && fs::file_size(incomplete, ec) > 0;
    transfer(incomplete, meta, id, opts);
    const std::int64_t got = static_cast<std::int64_t>(fs::file_size(incomplete, ec));
    std::string bad;
    if (meta.size >= 0 && got != meta.size)
      bad = "size " + std::to_string(got) + " instead of " + std::to_string(meta.size);
    else
      bad = etag_mismatch(incomplete, meta.etag);
    if (bad.empty()) break;
    fs::remove(incomplete, ec);
    // A partial file from an earlier run may hold other bytes: start over once.
    if (resumed && attempt == 0) {
      log_warn(meta.file + ": the resumed download did not match its checksum; downloading it again");
      continue;
    }
    throw Error(id.text() + ": " + meta.file + " does not match the Hub's ETag " + meta.etag + " (got " + bad +
                    "); the partial file was removed, run again",
                ErrorCode::kUnavailable);
  }
  fs::rename(incomplete, blob, ec);
  if (ec) throw Error("cannot move the download into " + blob.string() + ": " + ec.message());
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  char rate[64];
  std::snprintf(rate, sizeof rate, " in %.1f s", secs);
  log_info("downloaded " + id.repo + " " + meta.file + " (" + human_bytes(meta.size >= 0 ? meta.size : 0) + rate + ")");
}

}  // namespace crossrank::hub
