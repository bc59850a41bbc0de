// A hub id to a snapshot folder (huggingface_hub's snapshot_download restricted to the
// files crossrank reads): the revision's commit from the API, the files from
// .../resolve/<commit>/..., the cache as fallback when the Hub cannot be reached.
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "hub/cache.h"
#include "hub/fetch.h"
#include "hub/files.h"
#include "hub/http.h"
#include "hub/hub.h"
#include "util/error.h"
#include "util/log.h"

namespace crossrank::hub {

namespace fs = std::filesystem;

namespace {

// The cached snapshot of `id` if it has everything a crossrank model needs, else "".
// why (optional) receives the reason it is not usable.
std::string cached_snapshot(const RepoCache& rc, const HubId& id, std::string* why = nullptr) {
  const std::string commit = is_commit_hash(id.revision) ? id.revision : rc.read_ref(id.revision);
  if (commit.empty()) {
    if (why) *why = "not in the Hugging Face cache (" + rc.root().parent_path().string() + ")";
    return "";
  }
  const fs::path snap = rc.snapshot(commit);
  std::string missing;
  try {
    missing = fs::is_directory(snap) ? missing_model_file(snap.string()) : "config.json";
  } catch (const Error& e) {
    missing = std::string("a readable model.safetensors.index.json (") + e.what() + ")";
  }
  if (missing.empty()) return snap.string();
  if (why) *why = "the cached snapshot " + snap.string() + " lacks " + missing;
  return "";
}

bool transient(const HttpResponse& r) { return r.status == 0 || r.status == 429 || r.status >= 500; }

// The revision's commit and file list: GET /api/models/<repo>/revision/<rev>.
struct RepoListing {
  std::string commit;
  std::vector<std::string> files;
};

RepoListing parse_listing(const HttpResponse& res, const HubId& id, const HubOptions& opts) {
  RepoListing l;
  try {
    const auto j = nlohmann::json::parse(res.body);
    l.commit = j.at("sha").get<std::string>();
    for (const auto& s : j.at("siblings")) l.files.push_back(s.at("rfilename").get<std::string>());
  } catch (const std::exception&) {
    throw Error(id.text() + ": " + opts.endpoint + " sent a repository listing without 'sha' and 'siblings'" +
                    ": not a Hugging Face Hub endpoint (check HF_ENDPOINT)",
                ErrorCode::kUnavailable);
  }
  if (!is_commit_hash(l.commit))
    throw Error(id.text() + ": the Hub's commit id '" + l.commit + "' is not a 40-hex commit", ErrorCode::kUnavailable);
  return l;
}

}  // namespace

void throw_hub_error(const HttpResponse& res, const HubId& id, const HubOptions& opts, const std::string& what) {
  const std::string who = id.text();
  const std::string code = res.header("x-error-code");
  const std::string msg = res.header("x-error-message");
  const std::string page = opts.endpoint + "/" + id.repo;
  const std::string status = "HTTP " + std::to_string(res.status);
  if (res.status == 0)
    throw Error(who + ": cannot reach " + opts.endpoint + " (" + res.error + ")", ErrorCode::kUnavailable);
  if (code == "GatedRepo" || (res.status == 403 && code.empty())) {
    if (opts.token.empty())
      throw Error(who + ": gated model (" + status + "): accept its conditions at " + page +
                      " and set HF_TOKEN (or run `hf auth login`)",
                  ErrorCode::kInvalidInput);
    throw Error(who + ": gated model (" + status + ") and this token has no access: request it at " + page,
                ErrorCode::kInvalidInput);
  }
  if (code == "RevisionNotFound")
    throw Error(who + ": revision '" + id.revision + "' not found in " + id.repo + " on " + opts.endpoint + " (" +
                    status + ")",
                ErrorCode::kNotFound);
  if (code == "EntryNotFound")
    throw Error(who + ": file " + what + " not found in the repository (" + status + ")", ErrorCode::kNotFound);
  if (res.status == 401 && msg == "Invalid credentials in Authorization header")
    throw Error(who + ": the Hub rejected the token (" + status + " invalid credentials): check HF_TOKEN or the token file",
                ErrorCode::kInvalidInput);
  if (code == "RepoNotFound" || res.status == 401 || res.status == 404)
    throw Error(who + ": no model repository " + id.repo + " on " + opts.endpoint + " (" + status + ")" +
                    (opts.token.empty() ? "; if it is private or gated, set HF_TOKEN"
                                        : "; or this token cannot see it") +
                    " (and it is not a local folder)",
                ErrorCode::kNotFound);
  throw Error(who + ": " + opts.endpoint + " answered " + status + " for " + what +
                  (msg.empty() ? std::string() : " (" + msg + ")") +
                  (transient(res) ? "; try again later" : std::string()),
              transient(res) ? ErrorCode::kUnavailable : ErrorCode::kInvalidInput);
}

std::string snapshot_download(const HubId& id, const HubOptions& opts) {
  check(!opts.cache_dir.empty(), "Hugging Face cache folder not set");
  const RepoCache rc(opts.cache_dir, id.repo);
  const std::string who = id.text();
  // A commit id names immutable files: a complete snapshot needs no network.
  if (is_commit_hash(id.revision))
    if (std::string s = cached_snapshot(rc, id); !s.empty()) return s;
  if (opts.offline) {
    std::string why;
    const std::string s = cached_snapshot(rc, id, &why);
    if (!s.empty()) return s;
    throw Error(who + ": " + why + " and HF_HUB_OFFLINE=1 forbids downloading; run once without HF_HUB_OFFLINE " +
                    "(or `hf download " + id.repo + "`)",
                ErrorCode::kNotFound);
  }

  HttpRequest req;
  req.url = opts.endpoint + "/api/models/" + id.repo + "/revision/" + url_quote(id.revision, "");
  req.token = opts.token;
  req.follow_redirects = true;  // renamed repos redirect to their new name
  req.timeout_s = opts.etag_timeout_s;
  HttpResponse res = http_request(req);
  // Like huggingface_hub: when the Hub cannot answer (network, outage, auth), a complete
  // cached snapshot of the revision is used; only an unknown revision is final.
  if (res.status != 200 && res.header("x-error-code") != "RevisionNotFound") {
    if (std::string s = cached_snapshot(rc, id); !s.empty()) {
      log_warn(who + ": " + (res.status == 0 ? "cannot reach " + opts.endpoint + " (" + res.error + ")"
                                             : opts.endpoint + " answered HTTP " + std::to_string(res.status)) +
               "; using the cached snapshot " + s);
      return s;
    }
    for (int retry = 0; retry < 2 && transient(res); ++retry) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500 * (retry + 1)));
      res = http_request(req);
    }
  }
  if (res.status != 200) {
    if (res.status == 0)
      throw Error(who + ": cannot reach " + opts.endpoint + " (" + res.error + ") and the model is not in the cache (" +
                      opts.cache_dir + ")",
                  ErrorCode::kUnavailable);
    throw_hub_error(res, id, opts, "the repository listing");
  }
  const RepoListing listing = parse_listing(res, id, opts);
  std::vector<std::string> files = needed_files(id, listing.files);
  rc.write_ref(id.revision, listing.commit);
  const fs::path snap = rc.snapshot(listing.commit);

  // Everything missing from the snapshot: HEAD for ETags and sizes, then the downloads.
  auto ensure = [&](const std::vector<std::string>& names) {
    std::vector<FileMeta> todo;
    std::int64_t total = 0;
    for (const std::string& f : names) {
      std::error_code ec;
      if (fs::exists(snap / f, ec)) continue;
      FileMeta m = file_meta(id, listing.commit, f, opts);
      if (fs::exists(rc.blob(m.etag), ec)) {
        rc.link(listing.commit, f, m.etag);  // shared blob of another revision
        continue;
      }
      total += std::max<std::int64_t>(m.size, 0);
      todo.push_back(std::move(m));
    }
    if (todo.empty()) return;
    log_info("downloading " + std::to_string(todo.size()) + (todo.size() == 1 ? " file" : " files") + " (" +
             human_bytes(total) + ") of " + who + " (commit " + listing.commit.substr(0, 10) + ") into " +
             rc.root().string());
    for (const FileMeta& m : todo) {
      fetch_blob(rc, m, id, opts);
      rc.link(listing.commit, m.file, m.etag);
    }
  };
  ensure(files);
  if (std::find(files.begin(), files.end(), "model.safetensors.index.json") != files.end()) {
    std::vector<std::string> shards = index_shards((snap / "model.safetensors.index.json").string());
    for (const std::string& s : shards)
      if (std::find(listing.files.begin(), listing.files.end(), s) == listing.files.end())
        throw Error(who + ": model.safetensors.index.json names shard " + s + ", which the repository does not have",
                    ErrorCode::kNotFound);
    ensure(shards);
  }
  return snap.string();
}

std::string resolve_model(const std::string& model) {
  if (!is_hub_id(model)) return model;
  return resolve_model(model, HubOptions::from_env());
}

std::string resolve_model(const std::string& model, const HubOptions& opts) {
  if (!is_hub_id(model)) return model;
  static std::mutex mu;
  static std::map<std::string, std::string> resolved;
  const std::string key = model + '\n' + opts.endpoint + '\n' + opts.cache_dir + '\n' + (opts.offline ? "1" : "0");
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = resolved.find(key); it != resolved.end()) return it->second;
  const std::string dir = snapshot_download(parse_hub_id(model), opts);
  resolved[key] = dir;
  return dir;
}

}  // namespace crossrank::hub
