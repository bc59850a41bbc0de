"""Hugging Face hub ids in the Python API, against the loopback stand-in scripts/fake_hub.py
(no network, no huggingface_hub needed)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crossrank import CrossEncoder, CrossrankError, FlagReranker, Reranker

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "data" / "models" / "tiny-bert"
PAIR = ["what is a panda?", "The giant panda is a bear."]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("repos")
    for name in ("tiny-bert", "gated"):
        d = root / "acme" / name
        d.mkdir(parents=True)
        for f in TINY.iterdir():
            if f.name != "golden.jsonl":
                shutil.copy(f, d / f.name)
    (root / "acme" / "gated" / ".fakehub.json").write_text('{"gated": true, "token": "hf_secret"}')
    port_file = root / "port"
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "fake_hub.py"), "--root", str(root),
                             "--port-file", str(port_file)], stdout=subprocess.DEVNULL)
    for _ in range(200):
        if port_file.exists():
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port_file.read_text()}"
    proc.terminate()
    proc.wait()


@pytest.fixture
def hf_env(hub, tmp_path, monkeypatch):
    for k in [k for k in os.environ if k.startswith(("HF_", "HUGGING"))]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("HF_ENDPOINT", hub)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    return tmp_path


def test_hub_ids_in_every_front_end(hf_env):
    local = Reranker(str(TINY)).compute_score(PAIR)
    r = Reranker("acme/tiny-bert", cache_dir=hf_env / "c1")
    assert r.compute_score(PAIR) == local
    assert r.model_name == "acme/tiny-bert" and r.info["name"] == "acme/tiny-bert"
    assert Path(r.model_dir).parent.name == "snapshots"
    assert FlagReranker("acme/tiny-bert", cache_dir=str(hf_env / "c1")).compute_score(PAIR) == local
    ce = CrossEncoder("acme/tiny-bert", cache_folder=str(hf_env / "c1"), local_files_only=True)
    assert ce.max_length > 8  # read from the snapshot's tokenizer_config.json
    # Default cache: $HF_HOME/hub.
    Reranker("acme/tiny-bert")
    assert (hf_env / "home" / "hub" / "models--acme--tiny-bert" / "refs" / "main").exists()


def test_hub_errors_are_crossrank_errors(hf_env):
    with pytest.raises(CrossrankError, match="gated"):
        Reranker("acme/gated", cache_dir=hf_env / "c2")
    assert Reranker("acme/gated", cache_dir=hf_env / "c2", token="hf_secret").compute_score(PAIR) is not None
    with pytest.raises(CrossrankError, match="no model repository"):
        Reranker("acme/missing", cache_dir=hf_env / "c2")
    with pytest.raises(CrossrankError, match="revision 'v9' not found"):
        CrossEncoder("acme/tiny-bert", revision="v9", cache_folder=str(hf_env / "c2"))
    with pytest.raises(CrossrankError, match="HF_HUB_OFFLINE"):
        Reranker("acme/tiny-bert", cache_dir=hf_env / "empty", local_files_only=True)
