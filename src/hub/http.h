#pragma once
// The Hub's HTTP calls, on libcurl: metadata requests (GET JSON, HEAD with redirects left
// to the caller) and resumable file downloads. No exceptions for HTTP statuses: the caller
// maps them (src/hub/snapshot.cc) to one-line errors.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace crossrank::hub {

struct HttpResponse {
  long status = 0;                            // 0: no response (error says why)
  std::string error;                          // curl's message for a transport failure
  std::map<std::string, std::string> headers;  // of the last response, names lower-case
  std::string body;                           // GET bodies; error bodies of downloads
  std::string url;                            // the URL that answered (after redirects)
  bool local_error = false;                   // the failure is on this machine (disk), not the network

  // headers[name] or "" (name lower-case).
  std::string header(const std::string& name) const;
};

struct HttpRequest {
  std::string method = "GET";  // "GET" or "HEAD"
  std::string url;
  std::string token;           // sent as "Authorization: Bearer ..." when not empty
  bool follow_redirects = false;
  double timeout_s = 10;       // connect timeout and, for downloads, the stall timeout
};

// One request; the body is kept in memory (metadata only).
HttpResponse http_request(const HttpRequest& req);

// GET req.url into the open file descriptor `fd`, which already holds `offset` bytes of
// the file (a Range request when offset > 0; a server that answers 200 instead of 206
// makes the file start over). on_bytes(file_size_so_far, total_or_-1) reports progress.
// Returns the response (body only for error statuses); `offset` is updated to the file's
// size afterwards, also after a failed or cut transfer.
HttpResponse http_download(const HttpRequest& req, int fd, std::int64_t& offset,
                           const std::function<void(std::int64_t, std::int64_t)>& on_bytes);

// Percent-encodes everything but unreserved characters and those in `safe` (Python's
// urllib.parse.quote).
std::string url_quote(const std::string& s, const std::string& safe = "/");

}  // namespace crossrank::hub
