#pragma once
// Content checks of downloaded files against the Hub's ETag (OpenSSL's libcrypto): LFS
// files are named by their sha256, other files by their git blob id.
#include <string>

namespace crossrank::hub {

// Lower-case hex sha256 of a file's bytes. Throws Error when it cannot be read.
std::string file_sha256(const std::string& path);

// Lower-case hex git blob id of a file: sha1("blob <size>\0" + bytes).
std::string file_git_sha1(const std::string& path);

// Checks `path` against `etag` when the ETag is a digest (64 hex: sha256, 40 hex: git blob
// id). Returns "" when it matches or the ETag is no digest, else what was found instead.
std::string etag_mismatch(const std::string& path, const std::string& etag);

}  // namespace crossrank::hub
