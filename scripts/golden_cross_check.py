"""make_goldens.py's cross-check of the tiny folders' goldens against FlagEmbedding's FlagReranker
and sentence-transformers' CrossEncoder (make_goldens.py's docstring, "Cross-check", says what runs).
"""
from __future__ import annotations

import collections
import importlib.machinery
import sys
import types
from pathlib import Path

import torch

from golden_cases import PairEncoder


# ---- cross-check against FlagEmbedding / sentence-transformers --------------------------------
def _stub_modules():
    class _Stub(types.ModuleType):
        def __getattr__(self, k):
            if k.startswith("__"):
                raise AttributeError(k)
            return type(k, (), {})

    for m in ("datasets", "peft", "sklearn", "sklearn.metrics"):
        try:
            __import__(m)
        except Exception:
            s = _Stub(m)
            s.__spec__ = importlib.machinery.ModuleSpec(m, None)
            s.__path__ = []
            sys.modules[m] = s


def _patch_tokenizer(hf_tok, folder: Path, enc: PairEncoder):
    """Make a transformers-5 tokenizer behave like the 4.x fast tokenizer of this folder."""
    from tokenizers import Tokenizer
    hf_tok._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    rtt = "token_type_ids" in hf_tok.model_input_names

    def prepare_for_model(ids, pair_ids=None, truncation=None, max_length=None, padding=False,
                          return_attention_mask=None, return_token_type_ids=None,
                          add_special_tokens=True, **kw):
        assert truncation == "only_second" and add_special_tokens and pair_ids is not None
        out_ids, tt = enc.legacy_prepare_for_model(list(ids), list(pair_ids), max_length)
        r = {"input_ids": out_ids, "attention_mask": [1] * len(out_ids)}
        if return_token_type_ids or (return_token_type_ids is None and rtt):
            r["token_type_ids"] = tt
        return r

    hf_tok.prepare_for_model = prepare_for_model


def by_max_length(cases: list[dict], truncation: str) -> dict[int, list[dict]]:
    """The cases of one truncation kind, grouped by their max_length."""
    by_ml = collections.defaultdict(list)
    for c in cases:
        if c["truncation"] == truncation:
            by_ml[c["max_length"]].append(c)
    return by_ml


def cross_check(folder: Path, cases: list[dict], enc: PairEncoder) -> list[str]:
    report = []
    text = [c for c in cases if c["query"] is not None]
    try:
        _stub_modules()
        from FlagEmbedding import FlagReranker
    except Exception as e:  # pragma: no cover
        report.append(f"FlagReranker cross-check SKIPPED ({type(e).__name__}: {e})")
    else:
        by_ml = by_max_length(text, "flagembedding")
        for patched in (True, False):
            fr = FlagReranker(str(folder), use_fp16=False, devices="cpu", batch_size=16)
            fr.model.float()
            if patched:
                _patch_tokenizer(fr.tokenizer, folder, enc)
            worst, bad, n, errors = 0.0, 0, 0, 0
            for ml, cs in sorted(by_ml.items()):
                for c in cs:  # one at a time: a failing pair must not hide the others
                    try:
                        s = fr.compute_score([[c["query"], c["document"]]], max_length=ml)[0]
                    except Exception:
                        errors += 1
                        continue
                    dd = abs(s - c["logit"])
                    worst = max(worst, dd)
                    bad += dd > 1e-4 * max(1.0, abs(c["logit"]))
                    n += 1
            label = ("tokenizer.json backend + legacy prepare_for_model" if patched
                     else "UNPATCHED transformers-5 path (informational)")
            report.append(f"FlagReranker [{label}]: {n} flagembedding cases compared, {bad} differ > 1e-4 "
                          f"(max |diff| {worst:.2e}), {errors} raised")
            del fr
    try:
        _stub_modules()
        from sentence_transformers import CrossEncoder
    except Exception as e:  # pragma: no cover
        report.append(f"CrossEncoder cross-check SKIPPED ({type(e).__name__}: {e})")
    else:
        by_ml = by_max_length(text, "longest_first")
        for patched in (True, False):
            worst, bad, n = 0.0, 0, 0
            for ml, cs in sorted(by_ml.items()):
                ce = CrossEncoder(str(folder), activation_fn=torch.nn.Identity(), max_length=ml, device="cpu",
                                  model_kwargs={"dtype": torch.float32})
                ce.model.float()
                if patched:
                    _patch_tokenizer(ce.tokenizer, folder, enc)
                sc = ce.predict([[c["query"], c["document"]] for c in cs], batch_size=16,
                                show_progress_bar=False)
                for s, c in zip(sc, cs):
                    dd = abs(float(s) - c["logit"])
                    worst = max(worst, dd)
                    bad += dd > 1e-4 * max(1.0, abs(c["logit"]))
                    n += 1
            label = "tokenizer.json backend" if patched else "UNPATCHED transformers-5 tokenizer (informational)"
            report.append(f"CrossEncoder [{label}]: {n} longest_first cases compared, {bad} differ > 1e-4 "
                          f"(max |diff| {worst:.2e})")
    return report
