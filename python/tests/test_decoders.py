"""Decoder rerankers (recipes over one decoder) through the Python package: the text cases
of the goldens under tests/data/goldens/decoders (mxbai-rerank-v2's package, FlagEmbedding's
FlagLLMReranker for bge-reranker-v2-gemma, transformers for a Qwen3 seq-cls conversion).
The Qwen-vocabulary models need ../shared (the real Qwen BPE vocabulary); they skip without it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from crossrank import CrossrankError, Reranker

REPO = Path(__file__).resolve().parents[2]
DECODERS = REPO / "tests" / "data" / "goldens" / "decoders"
SHARED = REPO.parent / "shared"
NAMES = ["tiny-mxbai-rerank-v2", "tiny-qwen3-seq-cls", "tiny-bge-reranker-v2-gemma"]


@pytest.mark.parametrize("name", NAMES)
def test_decoder_recipe_matches_its_reference(name: str, monkeypatch) -> None:
    if "CROSSRANK_SHARED_DIR" not in os.environ and (SHARED / "models").is_dir():
        monkeypatch.setenv("CROSSRANK_SHARED_DIR", str(SHARED))  # the installed package has no source tree
    g = json.loads((DECODERS / f"{name}.json").read_text(encoding="utf-8"))
    model = str(REPO / g["folder"]) if "folder" in g else g["model"]
    try:
        r = Reranker(model, threads=2)
    except CrossrankError as e:  # no shared Qwen vocabulary in this checkout
        pytest.skip(f"{model} cannot open: {e}")
    cases = [c for c in g["cases"] if c["kind"] == "text"]
    assert len(cases) >= 8
    scale = max(1.0, max(abs(c["logit"]) for c in cases))
    problems = []
    for n, c in enumerate(cases):
        ids, _ = r.encode(c["query"], c["document"], max_length=c["max_length"], instruction=c["instruction"])
        if ids.tolist() != c["ids"]:
            problems.append(f"case {n}: ids differ ({len(ids)} vs {len(c['ids'])})")
        s = r.compute_score([[c["query"], c["document"]]], max_length=c["max_length"],
                            instruction=c["instruction"])[0]
        if abs(s - c["logit"]) > 1e-5 * scale:
            problems.append(f"case {n}: score {s:.7f}, reference {c['logit']:.7f}")
    assert not problems, f"{name}: " + "; ".join(problems[:5])


def test_decoder_batch_equals_single() -> None:
    g = json.loads((DECODERS / "tiny-bge-reranker-v2-gemma.json").read_text(encoding="utf-8"))
    r = Reranker(str(REPO / g["folder"]), threads=2)
    pairs = [[c["query"], c["document"]] for c in g["cases"] if c["kind"] == "text" and c["max_length"] == 8192
             and c["instruction"] is None]
    assert len(pairs) >= 3
    together = r.compute_score(pairs, max_length=8192)
    for p, t in zip(pairs, together):
        assert abs(r.compute_score([p], max_length=8192)[0] - t) <= 1e-5 * max(1.0, abs(t))
