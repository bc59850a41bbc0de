// Hub ids (ORG/NAME[@REVISION]) and the environment huggingface_hub reads
// (huggingface_hub/constants.py, utils/_auth.py, utils/_validators.py).
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hub/hub.h"
#include "util/error.h"

namespace crossrank::hub {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// huggingface_hub's _is_true: "1", "ON", "YES", "TRUE" in any case.
bool env_true(const char* name) {
  std::string v = env(name);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::toupper(c); });
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::string home_dir() {
  std::string h = env("HOME");
  if (h.empty())
    if (const passwd* pw = getpwuid(getuid())) h = pw->pw_dir ? pw->pw_dir : "";
  return h.empty() ? "." : h;
}

// os.path.expanduser for a leading "~" / "~/".
std::string expand_user(const std::string& p) {
  if (p == "~") return home_dir();
  if (p.rfind("~/", 0) == 0) return home_dir() + p.substr(1);
  return p;
}

double env_seconds(const char* name, double def) {
  const std::string v = env(name);
  if (v.empty()) return def;
  try {
    // Clamped to [1 ms, 1e6 s]: curl takes whole milliseconds, where 0 means no timeout at
    // all (0.0001 s hung on a silent server) and 1e300 or inf overflowed the conversion.
    const double s = std::stod(v);
    if (s > 0) return std::clamp(s, 1e-3, 1e6);
  } catch (const std::exception&) {
  }
  throw Error(std::string(name) + "='" + v + "': expected a positive number of seconds");
}

// _clean_token: CR/LF removed, then whitespace stripped.
std::string clean_token(std::string t) {
  t.erase(std::remove_if(t.begin(), t.end(), [](char c) { return c == '\r' || c == '\n'; }), t.end());
  const auto b = t.find_first_not_of(" \t\f\v");
  if (b == std::string::npos) return "";
  const auto e = t.find_last_not_of(" \t\f\v");
  return t.substr(b, e - b + 1);
}

bool repo_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

// One part of a repo id: [\w\-.]+ that starts and ends with a word character (the \b of
// huggingface_hub's REPO_ID_REGEX).
bool valid_part(const std::string& s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), repo_char)) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  return word(s.front()) && word(s.back());
}

}  // namespace

HubOptions HubOptions::from_env() {
  HubOptions o;
  const std::string ep = env("HF_ENDPOINT");
  if (!ep.empty()) o.endpoint = ep;
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();

  std::string hf_home = env("HF_HOME");
  if (hf_home.empty()) {
    const std::string xdg = env("XDG_CACHE_HOME");
    hf_home = (xdg.empty() ? home_dir() + "/.cache" : xdg) + "/huggingface";
  }
  hf_home = expand_user(hf_home);
  std::string cache = env("HF_HUB_CACHE");
  if (cache.empty()) cache = env("HUGGINGFACE_HUB_CACHE");
  if (cache.empty()) cache = hf_home + "/hub";
  o.cache_dir = fs::absolute(expand_user(cache)).lexically_normal().string();

  o.offline = env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE");
  o.etag_timeout_s = env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
  o.download_timeout_s = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);
  o.progress = !env_true("HF_HUB_DISABLE_PROGRESS_BARS");

  if (!env_true("HF_HUB_DISABLE_IMPLICIT_TOKEN")) {
    std::string tok = env("HF_TOKEN");
    if (tok.empty()) tok = env("HUGGING_FACE_HUB_TOKEN");
    tok = clean_token(tok);
    if (tok.empty()) {
      std::string path = env("HF_TOKEN_PATH");
      path = path.empty() ? hf_home + "/token" : expand_user(path);
      std::ifstream in(path, std::ios::binary);
      if (in) {
        std::ostringstream s;
        s << in.rdbuf();
        tok = clean_token(s.str());
      }
    }
    o.token = tok;
  }
  return o;
}

bool is_hub_id(const std::string& model) {
  if (model.empty() || model.rfind("synthetic:", 0) == 0) return false;
  std::error_code ec;
  if (fs::exists(model, ec)) return false;
  const std::string repo = model.substr(0, model.find('@'));
  const auto slash = repo.find('/');
  if (slash == std::string::npos || repo.find('/', slash + 1) != std::string::npos) return false;
  if (repo.size() > 96 || repo.find("--") != std::string::npos || repo.find("..") != std::string::npos) return false;
  if (repo.size() >= 4 && repo.compare(repo.size() - 4, 4, ".git") == 0) return false;
  return valid_part(repo.substr(0, slash)) && valid_part(repo.substr(slash + 1)) &&
         (model.find('@') == std::string::npos || model.size() > repo.size() + 1);
}

HubId parse_hub_id(const std::string& model) {
  if (!is_hub_id(model))
    throw Error("'" + model + "' is not a Hugging Face model id (expected ORG/NAME or ORG/NAME@REVISION)",
                ErrorCode::kNotFound);
  HubId id;
  const auto at = model.find('@');
  id.repo = model.substr(0, at);
  id.revision = at == std::string::npos ? "main" : model.substr(at + 1);
  for (char c : id.revision)
    if (static_cast<unsigned char>(c) < 0x20 || c == ' ' || c == '\\')
      throw Error("'" + model + "': bad revision '" + id.revision + "'");
  if (id.revision.find("..") != std::string::npos || id.revision.front() == '/' || id.revision.back() == '/')
    throw Error("'" + model + "': bad revision '" + id.revision + "'");
  return id;
}

}  // namespace crossrank::hub
