// sha256 / git blob sha1 of files, streamed through OpenSSL's EVP digests.
#include "hub/digest.h"

#ifdef CROSSRANK_HUB_DOWNLOADS
#include <openssl/evp.h>
#endif

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "util/error.h"

namespace crossrank::hub {

namespace {

// Lower-case hex digest (sha256, else sha1) of `prefix` followed by the file's bytes.
std::string digest_file(const std::string& path, bool sha256, const std::string& prefix) {
#ifndef CROSSRANK_HUB_DOWNLOADS
  (void)sha256, (void)prefix;
  throw Error(path + ": this crossrank was built without libcrypto (libssl-dev): cannot check digests");
#else
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read the downloaded file");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), sha256 ? EVP_sha256() : EVP_sha1(), nullptr) != 1)
    throw Error("OpenSSL: cannot start a digest");
  EVP_DigestUpdate(ctx.get(), prefix.data(), prefix.size());
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw Error(path + ": read error while checking the download");
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), out, &n);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < n; ++i) {
    s += hex[out[i] >> 4];
    s += hex[out[i] & 15];
  }
  return s;
#endif
}

bool is_hex(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

}  // namespace

std::string file_sha256(const std::string& path) { return digest_file(path, true, ""); }

std::string file_git_sha1(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read the downloaded file");
  std::string prefix = "blob " + std::to_string(size);
  prefix.push_back('\0');
  return digest_file(path, false, prefix);
}

std::string etag_mismatch(const std::string& path, const std::string& etag) {
  std::string want = etag;
  std::transform(want.begin(), want.end(), want.begin(), [](unsigned char c) { return std::tolower(c); });
  if (is_hex(want, 64)) {
    const std::string got = file_sha256(path);
    return got == want ? "" : "sha256 " + got;
  }
  if (is_hex(want, 40)) {
    const std::string got = file_git_sha1(path);
    return got == want ? "" : "git blob id " + got;
  }
  return "";
}

}  // namespace crossrank::hub
