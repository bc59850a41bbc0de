#!/usr/bin/env python3
"""The Hub stand-in (scripts/fake_hub.py) against the real huggingface_hub client, and the
Hugging Face cache shared both ways between huggingface_hub and crossrank. Loopback only.

1. huggingface_hub.snapshot_download / hf_hub_download accept the stand-in: files, layout,
   GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError, a cut transfer resumed.
2. A cache written by huggingface_hub is read by `crossrank score` with HF_HUB_OFFLINE=1.
3. A cache written by crossrank is read by huggingface_hub offline (snapshot_download,
   hf_hub_download, scan_cache_dir).
4. `crossrank serve --model NAME=ORG/NAME --model ORG/NAME` serves hub ids.
Usage: test_hub_client.py --bin build/crossrank   (run by scripts/test_hub_client.sh)
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "models" / "tiny-bert"
QUERY, DOC = "what is a panda?", "The giant panda is a bear."


def log(msg):
    print(f"test_hub_client: {msg}", flush=True)


class FakeHub:
    def __init__(self, root, work, *faults):
        self.log = Path(work) / f"hub-{time.monotonic_ns()}.jsonl"
        port_file = Path(work) / f"port-{time.monotonic_ns()}"
        self.proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "fake_hub.py"), "--root", str(root),
                                      "--port-file", str(port_file), "--log", str(self.log), *faults],
                                     stdout=subprocess.DEVNULL)
        for _ in range(200):
            if port_file.exists():
                break
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"

    def requests(self):
        return [json.loads(l) for l in self.log.read_text().splitlines()] if self.log.exists() else []

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def make_repos(root):
    for name in ("tiny-bert", "gated"):
        d = root / "acme" / name
        d.mkdir(parents=True)
        for f in TINY.iterdir():
            if f.name != "golden.jsonl":
                shutil.copy(f, d / f.name)
    (root / "acme" / "tiny-bert" / "pytorch_model.bin").write_bytes(b"p" * 5000)
    (root / "acme" / "gated" / ".fakehub.json").write_text('{"gated": true, "token": "hf_secret"}')
    (root / "acme" / "big").mkdir()
    (root / "acme" / "big" / "big.safetensors").write_bytes(os.urandom(12 << 20))


def cli_env(**kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update({k: str(v) for k, v in kw.items()})
    return env


def run_cli(binary, args, **env):
    return subprocess.run([binary, *args], env=cli_env(**env), capture_output=True, text=True, timeout=300)


def score(binary, model, **env):
    r = run_cli(binary, ["score", "--model", model, "-q", QUERY, "-d", DOC], **env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["score"], r.stderr


def expect_raises(exc, fn):
    try:
        fn()
    except exc as e:
        return str(e)
    raise AssertionError(f"expected {exc.__name__}")


def check_hf_client(hub, work):
    """Part 1: the real client accepts the stand-in."""
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    cache = work / "hf-cache"
    snap = Path(snapshot_download("acme/tiny-bert", endpoint=hub.url, cache_dir=cache))
    files = {p.name for p in snap.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "pytorch_model.bin"} <= files, files
    for p in snap.iterdir():
        assert p.is_symlink() and os.readlink(p).startswith("../../blobs/"), p
    assert (snap / "model.safetensors").read_bytes() == (TINY / "model.safetensors").read_bytes()
    assert (cache / "models--acme--tiny-bert" / "refs" / "main").read_text() == snap.name
    import hashlib
    sha = hashlib.sha256((TINY / "model.safetensors").read_bytes()).hexdigest()
    assert os.readlink(snap / "model.safetensors") == f"../../blobs/{sha}", "LFS blob is not named by its sha256"
    log(f"huggingface_hub.snapshot_download accepted the stand-in ({len(files)} files)")

    expect_raises(GatedRepoError, lambda: snapshot_download("acme/gated", endpoint=hub.url, cache_dir=work / "g"))
    g = snapshot_download("acme/gated", endpoint=hub.url, cache_dir=work / "g", token="hf_secret")
    assert (Path(g) / "model.safetensors").exists()
    expect_raises(RepositoryNotFoundError, lambda: snapshot_download("acme/none", endpoint=hub.url, cache_dir=work / "n"))
    expect_raises(RevisionNotFoundError,
                  lambda: snapshot_download("acme/tiny-bert", revision="v9", endpoint=hub.url, cache_dir=work / "n"))
    log("GatedRepoError / RepositoryNotFoundError / RevisionNotFoundError as on the Hub")

    # huggingface_hub writes 10 MiB chunks: a cut after 11 MiB resumes at 10 MiB.
    cut = FakeHub(hub.root, work, "--drop", "big.safetensors:11534336:1")
    try:
        get = lambda: hf_hub_download("acme/big", "big.safetensors", endpoint=cut.url, cache_dir=work / "cut")
        try:
            p = get()
        except Exception as e:  # 0.x retries only connection errors in-process; the next call resumes
            log(f"first call failed ({type(e).__name__}); calling again")
            p = get()
        assert Path(p).read_bytes() == (hub.root / "acme" / "big" / "big.safetensors").read_bytes()
        ranges = [r["range"] for r in cut.requests() if r["method"] == "GET" and r["range"]]
        assert len(ranges) == 1 and 0 < int(ranges[0][6:-1]) <= 11534336, cut.requests()
    finally:
        cut.stop()
    log(f"huggingface_hub resumed a cut transfer with Range: {ranges[0]}")
    return cache


def check_shared_cache(binary, hub, work, hf_cache):
    """Parts 2 and 3: one cache, both tools."""
    local, _ = score(binary, str(TINY))
    got, _ = score(binary, "acme/tiny-bert", HF_HUB_CACHE=hf_cache, HF_HUB_OFFLINE=1, HF_HOME=work)
    assert got == local, (got, local)
    log("crossrank read huggingface_hub's cache offline (same score as the local folder)")

    cr_cache = work / "cr-cache"
    got, err = score(binary, "acme/tiny-bert", HF_ENDPOINT=hub.url, HF_HUB_CACHE=cr_cache, HF_HOME=work)
    assert got == local and "downloaded acme/tiny-bert model.safetensors" in err, err
    assert not list(cr_cache.glob("models--acme--tiny-bert/snapshots/*/pytorch_model.bin"))
    code = f"""
import os
from pathlib import Path
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download
cache = {str(cr_cache)!r}
snap = snapshot_download("acme/tiny-bert", cache_dir=cache, allow_patterns=["*.json", "*.safetensors", "vocab.txt"])
p = hf_hub_download("acme/tiny-bert", "model.safetensors", cache_dir=cache)
assert Path(p).read_bytes() == Path({str(TINY / "model.safetensors")!r}).read_bytes()
info = scan_cache_dir(cache)
assert not info.warnings, info.warnings
(repo,) = info.repos
assert repo.repo_id == "acme/tiny-bert" and set(repo.refs) == {{"main"}} and repo.nb_files == 6, (set(repo.refs), repo.nb_files)
print(snap)
"""
    r = subprocess.run([sys.executable, "-c", code], env=cli_env(HF_HUB_OFFLINE=1, HF_HOME=work),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    log("huggingface_hub read crossrank's cache offline (snapshot_download, hf_hub_download, scan_cache_dir)")
    return cr_cache


def check_serve(binary, work, cache):
    """Part 4: serve by hub id, named and unnamed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = subprocess.Popen([binary, "serve", "--model", "tiny=acme/tiny-bert", "--model", "acme/tiny-bert",
                            "--host", "127.0.0.1", "--port", str(port)],
                           env=cli_env(HF_HUB_CACHE=cache, HF_HUB_OFFLINE=1, HF_HOME=work),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                assert srv.poll() is None, srv.stderr.read()
                time.sleep(0.1)
        for name in ("tiny", "acme/tiny-bert"):
            body = {"model": name, "query": QUERY, "documents": [DOC, "hi"]}
            req = urllib.request.Request(base + "/v2/rerank", method="POST", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                assert r.headers["x-model"] == name, r.headers["x-model"]
                assert len(json.load(r)["results"]) == 2
    finally:
        srv.terminate()
        srv.wait(timeout=60)
    log("crossrank serve --model tiny=acme/tiny-bert --model acme/tiny-bert served both names")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a = ap.parse_args()
    import huggingface_hub
    log(f"huggingface_hub {huggingface_hub.__version__}")
    for k in [k for k in os.environ if k.startswith(("HF_", "HUGGING"))]:
        del os.environ[k]
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    work = Path(tempfile.mkdtemp(prefix="crossrank-hub-"))
    os.environ["HF_HOME"] = str(work / "hf-home")  # no user token or cache
    t0 = time.time()
    hub = None
    try:
        root = work / "repos"
        make_repos(root)
        hub = FakeHub(root, work)
        hub.root = root
        hf_cache = check_hf_client(hub, work)
        cr_cache = check_shared_cache(a.bin, hub, work, hf_cache)
        check_serve(a.bin, work, cr_cache)
    finally:
        if hub:
            hub.stop()
        shutil.rmtree(work, ignore_errors=True)
    log(f"all checks passed in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
