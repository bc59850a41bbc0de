// src/hub: hub ids, the environment, the cache layout, and downloads from a loopback
// stand-in for the Hub (scripts/fake_hub.py): only the needed files, shared-cache layout,
// offline reuse, gated / missing / pytorch-only repos, cut and killed downloads resumed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "crossrank/crossrank.h"
#include "hub/cache.h"
#include "hub/digest.h"
#include "hub/files.h"
#include "hub/hub.h"
#include "test_util.h"

extern char** environ;

using namespace crossrank;
using namespace crossrank::hub;
using namespace crossrank::test;
namespace fs = std::filesystem;

namespace {

// Sets environment variables for one test and restores them afterwards.
struct EnvGuard {
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  void set(const std::string& k, const std::optional<std::string>& v) {
    const char* old = std::getenv(k.c_str());
    saved.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
    if (v) setenv(k.c_str(), v->c_str(), 1);
    else unsetenv(k.c_str());
  }
  ~EnvGuard() {
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
      if (it->second) setenv(it->first.c_str(), it->second->c_str(), 1);
      else unsetenv(it->first.c_str());
    }
  }
};

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {},
            const std::string& out = "") {
  std::vector<std::string> env;  // environ, with the variables of extra_env replaced
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('=') + 1);
    if (std::none_of(extra_env.begin(), extra_env.end(), [&](const std::string& x) { return x.rfind(key, 0) == 0; }))
      env.push_back(kv);
  }
  for (const auto& e : extra_env) env.push_back(e);
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!out.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, (out + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

void copy_model(const std::string& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(test_data("models/" + from)))
    if (e.path().filename() != "golden.jsonl") fs::copy_file(e.path(), to / e.path().filename());
}

// The repos the stand-in serves: acme/tiny-bert (plus files crossrank must not fetch),
// acme/gated (token hf_secret), acme/pt-only, acme/sharded.
void make_repos(const fs::path& root) {
  copy_model("tiny-bert", root / "acme/tiny-bert");
  write_file(root / "acme/tiny-bert/pytorch_model.bin", std::string(5000, 'p'));
  write_file(root / "acme/tiny-bert/model.onnx", std::string(5000, 'o'));
  write_file(root / "acme/tiny-bert/README.md", "# tiny\n");
  write_file(root / "acme/tiny-bert/.fakehub.json", R"({"tags": ["v1", "refs/pr/1"]})");
  copy_model("tiny-bert", root / "acme/gated");
  write_file(root / "acme/gated/.fakehub.json", R"({"gated": true, "token": "hf_secret"})");
  fs::create_directories(root / "acme/pt-only");
  fs::copy_file(test_data("models/tiny-bert/config.json"), root / "acme/pt-only/config.json");
  write_file(root / "acme/pt-only/pytorch_model.bin", std::string(5000, 'p'));
  fs::create_directories(root / "acme/sharded");
  fs::copy_file(test_data("models/tiny-bert/config.json"), root / "acme/sharded/config.json");
  write_file(root / "acme/sharded/model.safetensors.index.json",
             R"({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                 "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}})");
  write_file(root / "acme/sharded/model-00001-of-00002.safetensors", std::string(3000, '1'));
  write_file(root / "acme/sharded/model-00002-of-00002.safetensors", std::string(4000, '2'));
  write_file(root / "acme/sharded/pytorch_model.bin", std::string(100, 'p'));
}

// scripts/fake_hub.py on an ephemeral loopback port, stopped by the destructor.
class FakeHub {
 public:
  explicit FakeHub(const fs::path& root, const fs::path& dir, const std::vector<std::string>& faults = {}) {
    port_file_ = dir / ("port" + std::to_string(++count_));
    log_ = dir / ("log" + std::to_string(count_) + ".jsonl");
    std::vector<std::string> args = {"python3", std::string(CROSSRANK_SCRIPTS_DIR) + "/fake_hub.py", "--root",
                                     root.string(), "--port-file", port_file_.string(), "--log", log_.string()};
    for (const auto& f : faults) args.push_back(f);
    pid_ = spawn(args);
    for (int i = 0; i < 200 && !fs::exists(port_file_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (fs::exists(port_file_)) url_ = "http://127.0.0.1:" + read_file(port_file_);
  }
  ~FakeHub() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  const std::string& url() const { return url_; }
  // The requests served so far (JSON lines written by the stand-in).
  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(fs::exists(log_) ? read_file(log_) : "");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  }

 private:
  static inline int count_ = 0;
  pid_t pid_ = -1;
  fs::path port_file_, log_;
  std::string url_;
};

class HubFake : public ::testing::Test {
 protected:
  void SetUp() override {
    make_repos(tmp_.path / "repos");
    hub_ = std::make_unique<FakeHub>(tmp_.path / "repos", tmp_.path);
    ASSERT_FALSE(hub_->url().empty()) << "scripts/fake_hub.py did not start";
    opts_.endpoint = hub_->url();
    opts_.cache_dir = (tmp_.path / "cache").string();
    opts_.progress = false;
    opts_.download_timeout_s = 5;
  }
  std::string error_of(const std::string& model, const HubOptions& o) {
    try {
      snapshot_download(parse_hub_id(model), o);
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      return e.what();
    }
    return "";
  }
  std::string model_blob() const {
    return (fs::path(opts_.cache_dir) / "models--acme--tiny-bert/blobs" /
            file_sha256(test_data("models/tiny-bert/model.safetensors")))
        .string();
  }

  TempDir tmp_;
  std::unique_ptr<FakeHub> hub_;
  HubOptions opts_;
};

std::vector<double> scores_of(const std::string& model) {
  auto e = Engine::open(model, EngineOptions{BackendKind::kReference});
  std::vector<Pair> pairs = {{"what is a panda?", "The giant panda is a bear."}, {"what is a panda?", "hi"}};
  return e->score(pairs);
}

}  // namespace

TEST(Hub, RecognisesHubIds) {
  EXPECT_TRUE(is_hub_id("BAAI/bge-reranker-v2-m3"));
  EXPECT_TRUE(is_hub_id("cross-encoder/ms-marco-MiniLM-L-6-v2@main"));
  EXPECT_TRUE(is_hub_id("Qwen/Qwen3-Reranker-0.6B@refs/pr/3"));
  EXPECT_FALSE(is_hub_id("synthetic:tiny-xlmr"));
  EXPECT_FALSE(is_hub_id("bge-reranker-v2-m3"));
  EXPECT_FALSE(is_hub_id("a/b/c"));
  EXPECT_FALSE(is_hub_id("/abs/model"));
  EXPECT_FALSE(is_hub_id("./model"));
  EXPECT_FALSE(is_hub_id("org--x/name"));
  EXPECT_FALSE(is_hub_id("org/na..me"));
  EXPECT_FALSE(is_hub_id("org/name.git"));
  EXPECT_FALSE(is_hub_id("org/name@"));
  EXPECT_FALSE(is_hub_id(test_data("models/tiny-bert")));
  const HubId id = parse_hub_id("Qwen/Qwen3-Reranker-0.6B@refs/pr/3");
  EXPECT_EQ(id.repo, "Qwen/Qwen3-Reranker-0.6B");
  EXPECT_EQ(id.revision, "refs/pr/3");
  EXPECT_EQ(parse_hub_id("BAAI/x").revision, "main");
  EXPECT_THROW(parse_hub_id("nope"), Error);
  EXPECT_EQ(resolve_model("synthetic:tiny-bert"), "synthetic:tiny-bert");  // untouched, no network
}

TEST(Hub, OptionsFollowHuggingfaceHubEnvironment) {
  TempDir d;
  EnvGuard env;
  env.set("HF_HOME", d.str());
  env.set("HF_HUB_CACHE", std::nullopt);
  env.set("HUGGINGFACE_HUB_CACHE", std::nullopt);
  env.set("HF_ENDPOINT", "http://127.0.0.1:9/");
  env.set("HF_HUB_OFFLINE", "yes");
  env.set("HF_TOKEN", std::nullopt);
  env.set("HUGGING_FACE_HUB_TOKEN", std::nullopt);
  env.set("HF_TOKEN_PATH", std::nullopt);
  env.set("HF_HUB_DISABLE_IMPLICIT_TOKEN", std::nullopt);
  write_file(d.path / "token", "hf_from_file\n");
  HubOptions o = HubOptions::from_env();
  EXPECT_EQ(o.cache_dir, (d.path / "hub").string());
  EXPECT_EQ(o.endpoint, "http://127.0.0.1:9");
  EXPECT_TRUE(o.offline);
  EXPECT_EQ(o.token, "hf_from_file");
  env.set("HF_TOKEN", " hf_env ");
  env.set("HF_HUB_CACHE", (d.path / "elsewhere").string());
  env.set("HF_HUB_OFFLINE", "0");
  o = HubOptions::from_env();
  EXPECT_EQ(o.token, "hf_env");
  EXPECT_EQ(o.cache_dir, (d.path / "elsewhere").string());
  EXPECT_FALSE(o.offline);
  env.set("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1");
  EXPECT_EQ(HubOptions::from_env().token, "");
  env.set("HF_HUB_ETAG_TIMEOUT", "soon");
  EXPECT_THROW(HubOptions::from_env(), Error);
  env.set("HF_HUB_ETAG_TIMEOUT", "nan");
  EXPECT_THROW(HubOptions::from_env(), Error);
  // Whole milliseconds for curl, where 0 means none: tiny and huge values are clamped.
  env.set("HF_HUB_ETAG_TIMEOUT", "0.0001");
  env.set("HF_HUB_DOWNLOAD_TIMEOUT", "inf");
  o = HubOptions::from_env();
  EXPECT_EQ(o.etag_timeout_s, 1e-3);
  EXPECT_EQ(o.download_timeout_s, 1e6);
}

TEST(Hub, PicksOnlyTheFilesAModelNeeds) {
  const HubId id = parse_hub_id("acme/x");
  auto f = needed_files(id, {"config.json", "tokenizer.json", "vocab.txt", "model.safetensors", "pytorch_model.bin",
                             "model.onnx", "onnx/model.onnx", "README.md", "model.gguf"});
  EXPECT_EQ(f, (std::vector<std::string>{"config.json", "tokenizer.json", "vocab.txt", "model.safetensors"}));
  f = needed_files(id, {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors"});
  EXPECT_EQ(f.back(), "model.safetensors.index.json");
  try {
    needed_files(id, {"config.json", "tokenizer.json", "pytorch_model.bin"});
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("pytorch_model.bin"), std::string::npos) << m;
    EXPECT_NE(m.find("safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("save_pretrained"), std::string::npos) << m;
  }
  EXPECT_THROW(needed_files(id, {"model.safetensors"}), Error);  // no config.json
  EXPECT_THROW(needed_files(id, {"config.json", "model.onnx"}), Error);
}

TEST(Hub, DigestsMatchGitAndSha256) {
  TempDir d;
  write_file(d.path / "f", "hello\n");
  EXPECT_EQ(file_git_sha1((d.path / "f").string()), "ce013625030ba8dba906f756967f9e9ca394464a");
  EXPECT_EQ(file_sha256((d.path / "f").string()), "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  EXPECT_EQ(etag_mismatch((d.path / "f").string(), "ce013625030ba8dba906f756967f9e9ca394464a"), "");
  EXPECT_NE(etag_mismatch((d.path / "f").string(), std::string(64, 'a')), "");
}

TEST(Hub, OfflineReadsAHandMadeCache) {
  TempDir d;
  HubOptions o;
  o.cache_dir = d.str();
  o.offline = true;
  o.endpoint = "http://127.0.0.1:9";  // never contacted
  const std::string commit(40, 'c');
  RepoCache rc(o.cache_dir, "acme/tiny-bert");
  for (const auto& e : fs::directory_iterator(test_data("models/tiny-bert"))) {
    const std::string etag = file_git_sha1(e.path().string());
    fs::create_directories(rc.blob(etag).parent_path());
    fs::copy_file(e.path(), rc.blob(etag), fs::copy_options::overwrite_existing);
    rc.link(commit, e.path().filename().string(), etag);
  }
  rc.write_ref("main", commit);
  EXPECT_EQ(read_file(rc.root() / "refs/main"), commit);
  EXPECT_EQ(fs::read_symlink(rc.snapshot(commit) / "config.json").string().rfind("../../blobs/", 0), 0u);
  EXPECT_EQ(snapshot_download(parse_hub_id("acme/tiny-bert"), o), rc.snapshot(commit).string());
  EXPECT_EQ(snapshot_download(parse_hub_id("acme/tiny-bert@" + commit), o), rc.snapshot(commit).string());
  try {
    snapshot_download(parse_hub_id("acme/other"), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("HF_HUB_OFFLINE"), std::string::npos) << e.what();
  }
  fs::remove(rc.snapshot(commit) / "model.safetensors");
  try {
    snapshot_download(parse_hub_id("acme/tiny-bert"), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lacks model.safetensors"), std::string::npos) << e.what();
  }
}

TEST_F(HubFake, DownloadsOnlyNeededFilesInTheSharedLayout) {
  const std::string snap = resolve_model("acme/tiny-bert", opts_);
  const fs::path root = fs::path(opts_.cache_dir) / "models--acme--tiny-bert";
  const std::string commit = read_file(root / "refs/main");
  ASSERT_TRUE(is_commit_hash(commit)) << commit;
  EXPECT_EQ(snap, (root / "snapshots" / commit).string());
  std::set<std::string> got;
  for (const auto& e : fs::directory_iterator(snap)) {
    got.insert(e.path().filename().string());
    ASSERT_TRUE(fs::is_symlink(e.path()));
    EXPECT_EQ(fs::read_symlink(e.path()).string().rfind("../../blobs/", 0), 0u);
  }
  EXPECT_EQ(got, (std::set<std::string>{"config.json", "model.safetensors", "special_tokens_map.json",
                                        "tokenizer.json", "tokenizer_config.json", "vocab.txt"}));
  EXPECT_TRUE(fs::exists(model_blob()));  // LFS blob named by its sha256
  EXPECT_EQ(scores_of(snap), scores_of(test_data("models/tiny-bert")));
  // Online again: one API call, nothing downloaded.
  const size_t before = hub_->requests().size();
  EXPECT_EQ(snapshot_download(parse_hub_id("acme/tiny-bert"), opts_), snap);
  EXPECT_EQ(hub_->requests().size(), before + 1);
  // Offline, and by commit id, without the stand-in.
  hub_.reset();
  HubOptions off = opts_;
  off.offline = true;
  EXPECT_EQ(snapshot_download(parse_hub_id("acme/tiny-bert"), off), snap);
  EXPECT_EQ(snapshot_download(parse_hub_id("acme/tiny-bert@" + commit), opts_), snap);
  // Hub unreachable (the stand-in's port, now closed): the cached snapshot is used (with a
  // warning); what is not cached is a one-line "cannot reach" error.
  HubOptions down = opts_;
  EXPECT_EQ(snapshot_download(parse_hub_id("acme/tiny-bert"), down), snap);
  const std::string err = error_of("acme/gated", down);
  EXPECT_NE(err.find("cannot reach"), std::string::npos) << err;
}

TEST_F(HubFake, GatedRepoNeedsTheToken) {
  std::string err = error_of("acme/gated", opts_);
  EXPECT_NE(err.find("gated"), std::string::npos) << err;
  EXPECT_NE(err.find("HF_TOKEN"), std::string::npos) << err;
  HubOptions o = opts_;
  o.token = "hf_wrong";
  err = error_of("acme/gated", o);
  EXPECT_NE(err.find("no access"), std::string::npos) << err;
  o.token = "hf_secret";
  const std::string snap = snapshot_download(parse_hub_id("acme/gated"), o);
  EXPECT_TRUE(fs::exists(fs::path(snap) / "model.safetensors"));
  // The token went to the Hub's origin, never to the CDN's.
  for (const auto& r : hub_->requests())
    if (r["path"].get<std::string>().rfind("/lfs-cdn/", 0) == 0) {
      EXPECT_FALSE(r["auth"].get<bool>()) << r.dump();
    }
}

TEST_F(HubFake, MissingRepoRevisionAndPytorchOnlyAreOneLineErrors) {
  std::string err = error_of("acme/nothing-here", opts_);
  EXPECT_NE(err.find("no model repository acme/nothing-here"), std::string::npos) << err;
  err = error_of("acme/tiny-bert@v9", opts_);
  EXPECT_NE(err.find("revision 'v9' not found"), std::string::npos) << err;
  err = error_of("acme/pt-only", opts_);
  EXPECT_NE(err.find("only pytorch_model.bin"), std::string::npos) << err;
  EXPECT_NE(err.find("save_pretrained"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(fs::path(opts_.cache_dir) / "models--acme--pt-only/blobs"));
}

TEST_F(HubFake, TagsAndPrRefsShareTheSnapshotAndGetRefFiles) {
  const std::string main = snapshot_download(parse_hub_id("acme/tiny-bert"), opts_);
  const size_t before = hub_->requests().size();
  EXPECT_EQ(snapshot_download(parse_hub_id("acme/tiny-bert@v1"), opts_), main);
  EXPECT_EQ(snapshot_download(parse_hub_id("acme/tiny-bert@refs/pr/1"), opts_), main);
  EXPECT_EQ(hub_->requests().size(), before + 2);  // one listing each, no file fetched again
  const fs::path refs = fs::path(opts_.cache_dir) / "models--acme--tiny-bert/refs";
  EXPECT_EQ(read_file(refs / "v1"), fs::path(main).filename().string());
  EXPECT_EQ(read_file(refs / "refs/pr/1"), fs::path(main).filename().string());
  HubOptions off = opts_;
  off.offline = true;
  EXPECT_EQ(snapshot_download(parse_hub_id("acme/tiny-bert@refs/pr/1"), off), main);
}

TEST_F(HubFake, ShardedWeightsFetchTheIndexAndItsShards) {
  const std::string snap = snapshot_download(parse_hub_id("acme/sharded"), opts_);
  EXPECT_TRUE(fs::exists(fs::path(snap) / "model.safetensors.index.json"));
  EXPECT_EQ(fs::file_size(fs::path(snap) / "model-00001-of-00002.safetensors"), 3000u);
  EXPECT_EQ(fs::file_size(fs::path(snap) / "model-00002-of-00002.safetensors"), 4000u);
  EXPECT_FALSE(fs::exists(fs::path(snap) / "pytorch_model.bin"));
}

TEST_F(HubFake, CutTransferResumesWithRange) {
  hub_ = std::make_unique<FakeHub>(tmp_.path / "repos", tmp_.path,
                                   std::vector<std::string>{"--drop", "model.safetensors:700000:2"});
  opts_.endpoint = hub_->url();
  const std::string snap = snapshot_download(parse_hub_id("acme/tiny-bert"), opts_);
  EXPECT_EQ(file_sha256(snap + "/model.safetensors"), file_sha256(test_data("models/tiny-bert/model.safetensors")));
  std::vector<std::string> ranges;
  for (const auto& r : hub_->requests())
    if (r["method"] == "GET" && r["range"].is_string()) ranges.push_back(r["range"]);
  EXPECT_EQ(ranges, (std::vector<std::string>{"bytes=700000-", "bytes=1400000-"}));
}

TEST_F(HubFake, TransientServerErrorsAreRetried) {
  hub_ = std::make_unique<FakeHub>(tmp_.path / "repos", tmp_.path,
                                   std::vector<std::string>{"--fail", "model.safetensors:503:2", "--fail",
                                                            "vocab.txt:500:1"});
  opts_.endpoint = hub_->url();
  const std::string snap = snapshot_download(parse_hub_id("acme/tiny-bert"), opts_);
  EXPECT_EQ(file_sha256(snap + "/model.safetensors"), file_sha256(test_data("models/tiny-bert/model.safetensors")));
  EXPECT_EQ(read_file(snap + "/vocab.txt"), read_file(test_data("models/tiny-bert/vocab.txt")));
  // A persistent 5xx ends in a one-line error that says to run again.
  hub_ = std::make_unique<FakeHub>(tmp_.path / "repos", tmp_.path,
                                   std::vector<std::string>{"--fail", "model.safetensors:503:99"});
  opts_.endpoint = hub_->url();
  opts_.cache_dir = (tmp_.path / "cache2").string();
  const std::string err = error_of("acme/tiny-bert", opts_);
  EXPECT_NE(err.find("HTTP 503"), std::string::npos) << err;
  EXPECT_NE(err.find("run again"), std::string::npos) << err;
}

TEST_F(HubFake, KilledDownloadLeavesNothingCompleteAndResumes) {
  hub_ = std::make_unique<FakeHub>(tmp_.path / "repos", tmp_.path,
                                   std::vector<std::string>{"--stall", "model.safetensors:600000"});
  const std::string out = (tmp_.path / "cli.out").string();
  const pid_t pid = spawn({CROSSRANK_CLI, "score", "--model", "acme/tiny-bert", "-q", "q", "-d", "d"},
                          {"HF_ENDPOINT=" + hub_->url(), "HF_HUB_CACHE=" + opts_.cache_dir, "HF_TOKEN=",
                           "HF_HOME=" + tmp_.str(), "HF_HUB_OFFLINE=0"},
                          out);
  ASSERT_GT(pid, 0);
  const std::string partial = model_blob() + ".incomplete";
  std::error_code ec;
  for (int i = 0; i < 300 && !(fs::exists(partial, ec) && fs::file_size(partial, ec) >= 600000); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_EQ(fs::file_size(partial, ec), 600000u) << read_file(out + ".err");
  EXPECT_FALSE(fs::exists(model_blob()));
  const fs::path root = fs::path(opts_.cache_dir) / "models--acme--tiny-bert";
  for (const auto& e : fs::recursive_directory_iterator(root / "snapshots"))
    EXPECT_NE(e.path().filename(), "model.safetensors") << "a killed download left a snapshot entry";
  // The next run resumes at the partial file's end and verifies the whole.
  hub_ = std::make_unique<FakeHub>(tmp_.path / "repos", tmp_.path);
  opts_.endpoint = hub_->url();
  const std::string snap = snapshot_download(parse_hub_id("acme/tiny-bert"), opts_);
  EXPECT_EQ(file_sha256(snap + "/model.safetensors"), file_sha256(test_data("models/tiny-bert/model.safetensors")));
  EXPECT_FALSE(fs::exists(partial));
  bool resumed = false;
  for (const auto& r : hub_->requests()) resumed |= r["range"] == "bytes=600000-";
  EXPECT_TRUE(resumed);
}

TEST_F(HubFake, CorruptPartialFileIsDownloadedAgain) {
  fs::create_directories(fs::path(model_blob()).parent_path());
  write_file(model_blob() + ".incomplete", std::string(1000, 'x'));
  const std::string snap = snapshot_download(parse_hub_id("acme/tiny-bert"), opts_);
  EXPECT_EQ(file_sha256(snap + "/model.safetensors"), file_sha256(test_data("models/tiny-bert/model.safetensors")));
}

TEST_F(HubFake, CliScoresByHubIdAndFailsInOneLine) {
  const std::string env = "HF_ENDPOINT=" + hub_->url() + " HF_HUB_CACHE=" + opts_.cache_dir + " HF_HOME=" + tmp_.str() +
                          " HF_TOKEN= HF_HUB_OFFLINE= ";
  auto r = run_cmd(env + cli() + " score --model acme/tiny-bert -q 'what is a panda?' -d 'The giant panda is a bear.'");
  ASSERT_EQ(r.code, 0) << r.err;
  auto local = run_cmd(cli() + " score --model " + test_data("models/tiny-bert") +
                       " -q 'what is a panda?' -d 'The giant panda is a bear.'");
  EXPECT_EQ(nlohmann::json::parse(r.out)["score"], nlohmann::json::parse(local.out)["score"]);
  EXPECT_NE(r.err.find("downloaded acme/tiny-bert model.safetensors"), std::string::npos) << r.err;
  r = run_cmd(env + "HF_HUB_OFFLINE=1 " + cli() + " score --model acme/tiny-bert -q q -d d");
  EXPECT_EQ(r.code, 0) << r.err;
  r = run_cmd(env + "HF_HUB_OFFLINE=1 " + cli() + " score --model acme/never-cached -q q -d d");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("crossrank: error: acme/never-cached: not in the Hugging Face cache"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_cmd(env + cli() + " score --model acme/gated -q q -d d");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("gated"), std::string::npos) << r.err;
  // eval by hub id (offline, from the cache the first score filled).
  if (fs::exists(std::string(CROSSRANK_SHARED_DIR) + "/data/SOURCES.md")) {
    r = run_cmd(env + "HF_HUB_OFFLINE=1 " + cli() + " eval --model acme/tiny-bert --dataset msmarco-trecdl --queries 2" +
                " --top 5 --format json --shared-dir " + CROSSRANK_SHARED_DIR);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["model"], "acme/tiny-bert");
  }
  // bench checks its model (through the hub) before measuring anything.
  r = run_cmd(env + "HF_HUB_OFFLINE=1 " + cli() + " bench --model acme/never-cached --batch-sizes 1");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("acme/never-cached: not in the Hugging Face cache"), std::string::npos) << r.err;
}
