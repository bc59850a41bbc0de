#pragma once
// One file of a Hub repo: its metadata (HEAD .../resolve/<commit>/<file>) and its blob,
// downloaded resumably into the cache and checked against the ETag before it is renamed
// into blobs/ (a cut or killed download leaves only blobs/<etag>.incomplete).
#include <cstdint>
#include <string>

#include "hub/cache.h"
#include "hub/http.h"
#include "hub/hub.h"

namespace crossrank::hub {

// What the Hub says about one file.
struct FileMeta {
  std::string file;    // path in the repo
  std::string commit;  // X-Repo-Commit
  std::string etag;    // X-Linked-Etag or ETag, without quotes / W/ (the blob's name)
  std::string url;     // where to GET it (a CDN URL after a redirect)
  std::int64_t size = -1;  // X-Linked-Size or Content-Length; -1 unknown
};

// Throws the one-line Error for a failed Hub request `res` about `id` ("what" names the
// request, e.g. "config.json").
[[noreturn]] void throw_hub_error(const HttpResponse& res, const HubId& id, const HubOptions& opts,
                                  const std::string& what);

// HEAD of `file` at `commit`; relative (Hub) redirects are followed, an absolute one
// gives the download URL. Throws Error for errors and for responses without ETag/commit.
FileMeta file_meta(const HubId& id, const std::string& commit, const std::string& file, const HubOptions& opts);

// Makes blobs/<etag> exist: downloads it under the blob's lock unless it is there,
// resuming blobs/<etag>.incomplete, retrying cut transfers, checking size and digest;
// a progress bar on a terminal, one log line per file otherwise.
void fetch_blob(const RepoCache& rc, const FileMeta& meta, const HubId& id, const HubOptions& opts);

// "1.9 MiB" style size for messages.
std::string human_bytes(std::int64_t n);

}  // namespace crossrank::hub
