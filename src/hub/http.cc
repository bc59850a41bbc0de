// libcurl (Debian's libcurl4-openssl-dev) for the Hub's HTTP API. Proxies come from the
// usual environment variables (https_proxy, no_proxy), as curl reads them; loopback
// endpoints never go through a proxy.
#include "hub/http.h"

#ifdef CROSSRANK_HUB_DOWNLOADS
#include <curl/curl.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "crossrank/crossrank.h"

namespace crossrank::hub {

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

std::string url_quote(const std::string& s, const std::string& safe) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || safe.find(static_cast<char>(c)) != std::string::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

#ifndef CROSSRANK_HUB_DOWNLOADS
// Built without libcurl: every request fails with a transport error that says so, and hub
// ids resolve from the local cache only (src/hub/snapshot.cc falls back to it).
HttpResponse http_request(const HttpRequest&) {
  HttpResponse r;
  r.error = "this crossrank was built without libcurl; install libcurl4-openssl-dev libssl-dev and rebuild";
  return r;
}
HttpResponse http_download(const HttpRequest& req, int, std::int64_t&,
                           const std::function<void(std::int64_t, std::int64_t)>&) {
  return http_request(req);
}
#else
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool loopback(const std::string& url) {
  for (const char* p : {"http://127.", "https://127.", "http://localhost", "https://localhost", "http://[::1]",
                        "https://[::1]"})
    if (url.rfind(p, 0) == 0) return true;
  return false;
}

// Collects the headers of the last response (a redirect chain resets at each status line).
size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<HttpResponse*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    r->headers.clear();
  } else if (const auto colon = line.find(':'); colon != std::string::npos) {
    std::string v = line.substr(colon + 1);
    const auto b = v.find_first_not_of(" \t");
    r->headers[lower(line.substr(0, colon))] = b == std::string::npos ? "" : v.substr(b);
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// A curl easy handle with the common settings; freed by the destructor.
struct Easy {
  CURL* h = nullptr;
  curl_slist* headers = nullptr;
  char err[CURL_ERROR_SIZE] = {0};

  explicit Easy(const HttpRequest& req, HttpResponse& res) {
    global_init();
    h = curl_easy_init();
    if (!h) return;
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_USERAGENT, (std::string("crossrank/") + version()).c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.timeout_s * 1000));
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &res);
    if (loopback(req.url)) curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    if (req.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    // Custom headers: curl does not send an Authorization header to another host after a
    // redirect (a signed CDN URL), as huggingface_hub drops it there too.
    if (!req.token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + req.token).c_str());
    headers = curl_slist_append(headers, "Accept-Encoding: identity");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  }
  ~Easy() {
    if (h) curl_easy_cleanup(h);
    if (headers) curl_slist_free_all(headers);
  }
  Easy(const Easy&) = delete;
  Easy& operator=(const Easy&) = delete;

  void perform(HttpResponse& res) {
    if (!h) {
      res.error = "could not start libcurl";
      return;
    }
    const CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    char* eff = nullptr;
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    if (eff) res.url = eff;
    if (rc != CURLE_OK) {
      res.error = err[0] ? err : curl_easy_strerror(rc);
      res.status = 0;
    } else {
      res.status = status;
    }
  }
};

// State of one download's write callback.
struct Sink {
  CURL* h = nullptr;
  int fd = -1;
  std::int64_t* offset = nullptr;
  std::int64_t start = 0;  // offset asked for
  std::int64_t total = -1;
  bool decided = false, to_file = false, write_failed = false;
  std::string* error_body = nullptr;
  const std::function<void(std::int64_t, std::int64_t)>* on_bytes = nullptr;
  HttpResponse* res = nullptr;
};

std::int64_t parse_total(const HttpResponse& r, std::int64_t start, long status) {
  const std::string cr = r.header("content-range");  // bytes a-b/total
  if (const auto slash = cr.rfind('/'); status == 206 && slash != std::string::npos) {
    try {
      return std::stoll(cr.substr(slash + 1));
    } catch (const std::exception&) {
      return -1;
    }
  }
  const std::string cl = r.header("content-length");
  if (cl.empty()) return -1;
  try {
    return std::stoll(cl) + (status == 206 ? start : 0);
  } catch (const std::exception&) {
    return -1;
  }
}

size_t on_download(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  const size_t bytes = size * n;
  if (!s->decided) {
    s->decided = true;
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    s->to_file = status == 200 || status == 206;
    if (status == 200 && *s->offset > 0) {  // Range ignored: start the file over
      if (ftruncate(s->fd, 0) != 0 || lseek(s->fd, 0, SEEK_SET) != 0) {
        s->write_failed = true;
        return 0;
      }
      *s->offset = 0;
    }
    if (s->to_file) s->total = parse_total(*s->res, *s->offset, status);
  }
  if (!s->to_file) {
    if (s->error_body->size() < 65536) s->error_body->append(data, bytes);
    return bytes;
  }
  size_t done = 0;
  while (done < bytes) {
    const ssize_t w = ::write(s->fd, data + done, bytes - done);
    if (w <= 0) {
      s->write_failed = true;
      return 0;
    }
    done += static_cast<size_t>(w);
  }
  *s->offset += static_cast<std::int64_t>(bytes);
  if (*s->on_bytes) (*s->on_bytes)(*s->offset, s->total);
  return bytes;
}

}  // namespace

HttpResponse http_request(const HttpRequest& req) {
  HttpResponse res;
  Easy e(req, res);
  if (req.method != "HEAD") {
    curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &res.body);
  }
  curl_easy_setopt(e.h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout_s * 3000));
  e.perform(res);
  return res;
}

HttpResponse http_download(const HttpRequest& req, int fd, std::int64_t& offset,
                           const std::function<void(std::int64_t, std::int64_t)>& on_bytes) {
  HttpResponse res;
  Easy e(req, res);
  Sink s;
  s.h = e.h;
  s.fd = fd;
  s.offset = &offset;
  s.start = offset;
  s.error_body = &res.body;
  s.on_bytes = &on_bytes;
  s.res = &res;
  if (lseek(fd, offset, SEEK_SET) != offset) {
    res.error = "cannot seek in the partial download";
    return res;
  }
  const std::string range = std::to_string(offset) + "-";
  if (offset > 0) curl_easy_setopt(e.h, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, on_download);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &s);
  // A transfer slower than 1 byte/s for timeout_s is cut (and resumed by the caller).
  curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_TIME, std::max(1L, static_cast<long>(req.timeout_s)));
  e.perform(res);
  if (s.write_failed) {
    res.error = "cannot write the download to disk (disk full?)";
    res.status = 0;
    res.local_error = true;
  }
  return res;
}

#endif  // CROSSRANK_HUB_DOWNLOADS

}  // namespace crossrank::hub
