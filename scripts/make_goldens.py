#!/usr/bin/env python3
"""Generate crossrank's committed test goldens (needs torch + transformers; CI never runs this).

    python3 scripts/make_goldens.py                # everything (v2-m3 8192-token case: minutes)
    python3 scripts/make_goldens.py --skip-large   # skip synthetic v2-m3 / bge-reranker-base
    python3 scripts/make_goldens.py --only tiny    # only the tiny model folders (also: synthetic)

All weights come from scripts/synthetic_weights.py (the C++ engine implements the same generator),
so no real checkpoint is needed.  Everything is deterministic: fp32, eval(), no_grad, 2 threads,
ids drawn from a splitmix64 stream (not numpy's RNG), texts taken at fixed positions of
/work/shared/data.

A. tests/data/goldens/synthetic-<name>.json — real architectures/configs, seed 0, no files saved:
   bge-reranker-v2-m3 (24x1024), bge-reranker-base (12x768), ms-marco-MiniLM-L-6-v2 (6x384).
   Logits of explicit token-id cases; eager attention, except the 8192-token v2-m3 case, which uses
   SDPA (eager would need ~9 GB just for attention probabilities); eager == SDPA is asserted on the
   513-token case.  A padded multi-pair batch of the 4 shortest cases is asserted to reproduce
   the single-sequence logits.

B. tests/data/models/tiny-{xlmr,bert,xlmr-bf16-noprefix}/ — real HF folders (seed 1) + golden.jsonl.
   Pair encodings:
   * longest_first: the pair encoded by the folder's tokenizer.json (tokenizers library, truncation
     LONGEST_FIRST to max_length, post-processor specials) — exactly what transformers 4.x
     fast tokenizers, sentence-transformers CrossEncoder and TEI do.
   * flagembedding: FlagReranker.compute_score's encoding with the legacy (transformers 4.x)
     id-level prepare_for_model:  q = enc(query)[:max_length*3//4];  d = enc(document)[:max_length];
     if len(q)+len(d)+specials > max_length: remove the excess from the END of d, but only if
     len(d) > excess (otherwise transformers logs an error and truncates NOTHING, so the result may
     exceed max_length — reproduced here, see "flag-overflow" in the summary);
     then <s> q </s></s> d </s> (XLM-R, type ids all 0) or [CLS] q [SEP] d [SEP] (BERT, 0/1).
   NOTE (transformers 5): its XLMRobertaTokenizer no longer runs tokenizer.json's pipeline as is: it
   rebuilds the normalizer (drops the Replace(" {2,}"->" ") step) and pre-tokenizer
   (adds WhitespaceSplit), so it differs from tokenizer.json on whitespace runs, trailing spaces
   and spaces around special tokens.  The goldens follow tokenizer.json (the reference for the
   C++ tokenizer and for every deployed v4/TEI stack); the summary counts the cases where
   transformers 5's AutoTokenizer would give different ids.  BERT's tokenizer is unaffected.
   transformers 5 also removed tokenizer.prepare_for_model (FlagEmbedding 1.4 falls back to
   decode + re-encode, which is not id-exact), hence the explicit legacy implementation above.

   Cross-check (run when FlagEmbedding / sentence-transformers import; their optional heavy deps
   datasets/peft/sklearn are stubbed because only the inference path is used):
   * FlagReranker(folder, use_fp16=False, devices="cpu").compute_score(pairs, max_length=ml), with
     its tokenizer's backend set to tokenizer.json and the legacy prepare_for_model attached
     (transformers 5 lacks both), the model cast to fp32 — its own tokenize/pad/batch/forward path
     must reproduce every flagembedding golden logit;
   * CrossEncoder(folder, activation_fn=Identity, max_length=ml).predict(pairs) likewise for every
     longest_first golden.
   It RAN when this file was last used to generate the committed goldens (see tests/data/README.md
   for the printed result: all logits matched within 1e-4).  Without those packages it is skipped.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_weights import GOLDEN, M64, fill_model, first_values, fnv1a64, mix_int  # noqa: E402
from golden_cases import SHARED, PairEncoder, case_settings, encode_cases  # noqa: E402
from golden_cross_check import cross_check  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MODELS = SHARED / "models"
OUT_GOLDENS = REPO / "tests" / "data" / "goldens"
OUT_MODELS = REPO / "tests" / "data" / "models"
XLMR_TOK_DIR = REPO / "tests" / "data" / "tokenizers" / "xlmr-unigram"

torch.set_num_threads(2)
torch.manual_seed(0)

from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    BertConfig,
    XLMRobertaConfig,
)
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def det_ids(tag: str, n: int, lo: int, hi: int) -> list[int]:
    """n ids in [lo, hi) from a splitmix64 stream keyed by `tag` (version-independent)."""
    h = fnv1a64(tag.encode())
    return [lo + mix_int((h + (k + 1) * GOLDEN) & M64) % (hi - lo) for k in range(n)]


def template_ids(kind: str, total: int, tag: str, lo: int, hi: int) -> tuple[list[int], list[int]]:
    """A pair-shaped sequence of exactly `total` ids (XLM-R: <s> q </s></s> d </s>; BERT: [CLS] q [SEP] d [SEP])."""
    if kind == "xlmr":
        cls, sep, nspec = 0, 2, 4
    else:
        cls, sep, nspec = 101, 102, 3
    if total < nspec:  # too short for a pair: <s> [random...] (</s>)
        body = det_ids(tag, max(total - 2, 0), lo, hi)
        ids = [cls] + body + ([sep] if total >= 2 else [])
        return ids, [0] * len(ids)
    nq = (total - nspec) // 3
    nd = total - nspec - nq
    r = det_ids(tag, nq + nd, lo, hi)
    q, d = r[:nq], r[nq:]
    if kind == "xlmr":
        ids = [cls] + q + [sep, sep] + d + [sep]
        tt = [0] * len(ids)
    else:
        ids = [cls] + q + [sep] + d + [sep]
        tt = [0] * (nq + 2) + [1] * (nd + 1)
    assert len(ids) == total
    return ids, tt


@torch.no_grad()
def forward_logit(model, ids: list[int], type_ids: list[int]) -> float:
    out = model(
        input_ids=torch.tensor([ids], dtype=torch.long),
        token_type_ids=torch.tensor([type_ids], dtype=torch.long),
        attention_mask=torch.ones(1, len(ids), dtype=torch.long),
    )
    return float(out.logits[0, 0])


@torch.no_grad()
def batch_logits(model, cases: list[dict], pad_id: int) -> list[float]:
    n = max(len(c["ids"]) for c in cases)
    ids = torch.full((len(cases), n), pad_id, dtype=torch.long)
    tt = torch.zeros((len(cases), n), dtype=torch.long)
    am = torch.zeros((len(cases), n), dtype=torch.long)
    for i, c in enumerate(cases):
        L = len(c["ids"])
        ids[i, :L] = torch.tensor(c["ids"])
        tt[i, :L] = torch.tensor(c["type_ids"])
        am[i, :L] = 1
    out = model(input_ids=ids, token_type_ids=tt, attention_mask=am)
    return [float(x) for x in out.logits[:, 0]]


def safe_json_line(obj) -> str:
    s = json.dumps(obj, ensure_ascii=False)
    # keep JSONL robust against line splitters that honour Unicode line breaks
    return s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")


def write_golden_json(path: Path, obj: dict) -> None:
    """Pretty top level, one case per line."""
    parts = []
    for k, v in obj.items():
        if k == "cases":
            inner = ",\n".join("    " + safe_json_line(c) for c in v)
            parts.append(f'  "cases": [\n{inner}\n  ]')
        else:
            parts.append(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}")
    path.write_text("{\n" + ",\n".join(parts) + "\n}\n", encoding="utf-8")


def hf_config(kind: str, cfg: dict):
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    return XLMRobertaConfig(**cfg) if kind == "xlmr" else BertConfig(**cfg)


def build_model(kind: str, cfg: dict, seed: int, attn: str = "eager"):
    config = hf_config(kind, cfg)
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation=attn,
                                                           dtype=torch.float32)
    fill_model(model, seed)
    model.eval()
    return model


# ----------------------------------------------------------------------------------------------
# Part A: synthetic goldens for the real architectures
# ----------------------------------------------------------------------------------------------
BGE_BASE_CONFIG = {
    "architectures": ["XLMRobertaForSequenceClassification"],
    "attention_probs_dropout_prob": 0.1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 768,
    "id2label": {"0": "LABEL_0"},
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "label2id": {"LABEL_0": 0},
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 514,
    "model_type": "xlm-roberta",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "output_past": True,
    "pad_token_id": 1,
    "position_embedding_type": "absolute",
    "torch_dtype": "float32",
    "type_vocab_size": 1,
    "use_cache": True,
    "vocab_size": 250002,
}


def synthetic_specs(skip_large: bool):
    specs = []
    if not skip_large:
        specs.append(("bge-reranker-v2-m3", "xlmr",
                      json.loads((MODELS / "bge-reranker-v2-m3" / "config.json").read_text()),
                      [4, 7, 64, 513, 8192]))
        specs.append(("bge-reranker-base", "xlmr", BGE_BASE_CONFIG, [4, 7, 64, 512]))
    specs.append(("ms-marco-MiniLM-L-6-v2", "bert",
                  json.loads((MODELS / "ms-marco-MiniLM-L-6-v2" / "config.json").read_text()),
                  [3, 7, 64, 512]))
    return specs


def first_value_names(kind: str) -> list[str]:
    p = "roberta" if kind == "xlmr" else "bert"
    names = [f"{p}.embeddings.word_embeddings.weight",
             f"{p}.embeddings.position_embeddings.weight",
             f"{p}.embeddings.LayerNorm.weight",
             f"{p}.embeddings.LayerNorm.bias",
             f"{p}.encoder.layer.0.attention.self.query.weight",
             f"{p}.encoder.layer.0.attention.self.query.bias"]
    names += (["classifier.dense.weight", "classifier.out_proj.weight", "classifier.out_proj.bias"]
              if kind == "xlmr" else ["bert.pooler.dense.weight", "classifier.weight", "classifier.bias"])
    return names


def make_synthetic(name: str, kind: str, cfg: dict, lengths: list[int]) -> None:
    t0 = time.time()
    model = build_model(kind, cfg, seed=0, attn="eager")
    params = dict(model.named_parameters())
    fv = {}
    for n in first_value_names(kind):
        fv[n] = first_values(n, 0, min(4, params[n].numel()))
        got = [float(x) for x in params[n].detach().reshape(-1)[:4]]
        assert got == fv[n], (n, got, fv[n])
    print(f"[{name}] built + filled in {time.time() - t0:.1f}s; "
          f"{sum(p.numel() for p in params.values()) / 1e6:.1f}M params")
    print(f"[{name}] first_values {fv[first_value_names(kind)[0]]}")
    vocab = cfg["vocab_size"]
    lo = 5 if kind == "xlmr" else 999  # BERT: skip [PAD]/[unusedN]/[UNK]/[CLS]/[SEP]/[MASK]
    cases = []
    for L in lengths:
        ids, tt = template_ids(kind, L, f"synthetic:{name}:{L}", lo, vocab)
        pad = 1 if kind == "xlmr" else 0
        assert pad not in ids
        t1 = time.time()
        if L > 1024:
            model.set_attn_implementation("sdpa")
            logit = forward_logit(model, ids, tt)
            model.set_attn_implementation("eager")
            attn = "sdpa"
        else:
            logit = forward_logit(model, ids, tt)
            attn = "eager"
        cases.append({"ids": ids, "type_ids": tt, "logit": logit})
        print(f"[{name}] len {L:5d} ({attn}) logit {logit:+.6f}  [{time.time() - t1:.1f}s]")
    # eager vs sdpa agreement on the longest eager case
    c = max((c for c in cases if len(c["ids"]) <= 1024), key=lambda c: len(c["ids"]))
    model.set_attn_implementation("sdpa")
    l_sdpa = forward_logit(model, c["ids"], c["type_ids"])
    model.set_attn_implementation("eager")
    d = abs(l_sdpa - c["logit"])
    print(f"[{name}] eager vs sdpa at len {len(c['ids'])}: |diff| = {d:.2e}")
    assert d <= 1e-4 * max(1.0, abs(c["logit"])), d
    # padded multi-pair batch == single sequences
    short = sorted(cases, key=lambda c: len(c["ids"]))[:4]
    bl = batch_logits(model, short, pad_id=cfg["pad_token_id"])
    diffs = [abs(a - c["logit"]) for a, c in zip(bl, short)]
    print(f"[{name}] padded batch of lengths {[len(c['ids']) for c in short]}: max |diff| = {max(diffs):.2e}")
    assert max(diffs) <= 1e-5 * max(1.0, max(abs(c["logit"]) for c in short)), diffs
    OUT_GOLDENS.mkdir(parents=True, exist_ok=True)
    path = OUT_GOLDENS / f"synthetic-{name}.json"
    write_golden_json(path, {
        "model": f"synthetic:{name}",
        "seed": 0,
        "generator": "scripts/synthetic_weights.py (splitmix64/fnv1a64 spec)",
        "config": cfg,
        "first_values": fv,
        "cases": cases,
    })
    print(f"[{name}] wrote {path.relative_to(REPO)} ({path.stat().st_size} bytes) in {time.time() - t0:.1f}s")
    del model, params


# ----------------------------------------------------------------------------------------------
# Part B: tiny folders
# ----------------------------------------------------------------------------------------------
def ids_only_cases(kind: str, lengths: list[int], vocab: int, tag: str) -> list[dict]:
    lo = 4 if kind == "xlmr" else 999
    hi = vocab - 1 if kind == "xlmr" else vocab  # XLM-R: skip <mask> (last id)
    out = []
    for L in lengths:
        ids, tt = template_ids(kind, L, f"{tag}:ids-only:{L}", lo, hi)
        out.append({"query": None, "document": None, "max_length": None, "truncation": None,
                    "ids": ids, "type_ids": tt, "source": "ids-only"})
    return out


def fill_logits(model, cases: list[dict]) -> None:
    for c in cases:
        c["logit"] = forward_logit(model, c["ids"], c["type_ids"])


def write_jsonl(path: Path, cases: list[dict]) -> None:
    keys = ["query", "document", "max_length", "truncation", "ids", "type_ids", "logit", "source"]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for c in cases:
            f.write(safe_json_line({k: c[k] for k in keys}) + "\n")


def reset_dir(d: Path) -> None:
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)


def tiny_config(kind: str, vocab: int) -> dict:
    if kind == "xlmr":
        return dict(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64, max_position_embeddings=1026, type_vocab_size=1,
                    pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5,
                    hidden_act="gelu", num_labels=1, architectures=["XLMRobertaForSequenceClassification"])
    return dict(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=64, max_position_embeddings=512, type_vocab_size=2, pad_token_id=0,
                layer_norm_eps=1e-12, hidden_act="gelu", num_labels=1,
                architectures=["BertForSequenceClassification"])


def load_folder_model(folder: Path):
    m = AutoModelForSequenceClassification.from_pretrained(str(folder), dtype=torch.float32,
                                                           attn_implementation="eager")
    m.eval()
    return m


def summarize(name: str, folder: Path, cases: list[dict], stats: dict) -> None:
    files = sorted(folder.iterdir())
    print(f"[{name}] {len(cases)} cases; files: " + ", ".join(f"{p.name}={p.stat().st_size}" for p in files))
    for k in sorted(stats):
        print(f"[{name}]   {k}: {stats[k]}")
    lens = [len(c["ids"]) for c in cases]
    lg = [c["logit"] for c in cases]
    print(f"[{name}]   pair lengths {min(lens)}..{max(lens)}; logits {min(lg):+.3f}..{max(lg):+.3f}")


def make_tiny_bert(settings_for, do_cross_check: bool):
    t0 = time.time()
    name = "tiny-bert"
    folder = OUT_MODELS / name
    reset_dir(folder)
    src = MODELS / "ms-marco-MiniLM-L-6-v2"
    model = build_model("bert", tiny_config("bert", 30522), seed=1)
    model.half().save_pretrained(str(folder))
    for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(src / f, folder / f)
    m = load_folder_model(folder)
    ref = build_model("bert", tiny_config("bert", 30522), seed=1)
    for (n1, p1), (n2, p2) in zip(m.named_parameters(), ref.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2.half().float()), n1
    enc = PairEncoder(folder, "bert")
    from transformers import AutoTokenizer
    hf_tok = AutoTokenizer.from_pretrained(str(folder))
    cases, stats = encode_cases(enc, settings_for([8, 16, 64, 128, 512]), hf_tok)
    cases += ids_only_cases("bert", [1, 2, 7, 64, 511, 512], 30522, name)
    fill_logits(m, cases)
    write_jsonl(folder / "golden.jsonl", cases)
    summarize(name, folder, cases, stats)
    if do_cross_check:
        for line in cross_check(folder, cases, enc):
            print(f"[{name}] cross-check: {line}")
    print(f"[{name}] done in {time.time() - t0:.1f}s")


def make_tiny_xlmr(settings_for, do_cross_check: bool):
    t0 = time.time()
    name = "tiny-xlmr"
    folder = OUT_MODELS / name
    reset_dir(folder)
    from tokenizers import Tokenizer
    vocab = Tokenizer.from_file(str(XLMR_TOK_DIR / "tokenizer.json")).get_vocab_size(with_added_tokens=True)
    cfg = tiny_config("xlmr", vocab)
    model = build_model("xlmr", cfg, seed=1)
    model.save_pretrained(str(folder))
    tok_files = ("tokenizer.json", "sentencepiece.bpe.model", "tokenizer_config.json", "special_tokens_map.json")
    src_hash = {f: hashlib.sha256((XLMR_TOK_DIR / f).read_bytes()).hexdigest() for f in tok_files}
    for f in tok_files:
        shutil.copy(XLMR_TOK_DIR / f, folder / f)
    assert all(hashlib.sha256((folder / f).read_bytes()).hexdigest() == h for f, h in src_hash.items()), \
        "xlmr-unigram tokenizer files changed while being copied; rerun"
    m = load_folder_model(folder)
    for (n1, p1), (n2, p2) in zip(m.named_parameters(), model.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2), n1
    enc = PairEncoder(folder, "xlmr")
    from transformers import AutoTokenizer
    hf_tok = AutoTokenizer.from_pretrained(str(folder))
    mls = [8, 16, 64, 128, 512, 1024]
    cases, stats = encode_cases(enc, settings_for(mls), hf_tok)
    cases += ids_only_cases("xlmr", [1, 2, 7, 64, 511, 512, 513, 1000, 1024], vocab, name)
    fill_logits(m, cases)
    write_jsonl(folder / "golden.jsonl", cases)
    print(f"[{name}] vocab_size {vocab} (from {XLMR_TOK_DIR.relative_to(REPO)}/tokenizer.json)")
    summarize(name, folder, cases, stats)
    if do_cross_check:
        for line in cross_check(folder, cases, enc):
            print(f"[{name}] cross-check: {line}")
    print(f"[{name}] done in {time.time() - t0:.1f}s")

    # ---- bf16, no "roberta." prefix
    t0 = time.time()
    name2 = "tiny-xlmr-bf16-noprefix"
    folder2 = OUT_MODELS / name2
    reset_dir(folder2)
    from safetensors.torch import save_file
    sd = {}
    for n, p in model.named_parameters():
        key = n[len("roberta."):] if n.startswith("roberta.") else n
        sd[key] = p.detach().to(torch.bfloat16).contiguous()
    save_file(sd, str(folder2 / "model.safetensors"), metadata={"format": "pt"})
    conf = json.loads((folder / "config.json").read_text())
    for k in ("torch_dtype", "dtype"):
        if k in conf:
            conf[k] = "bfloat16"
    (folder2 / "config.json").write_text(json.dumps(conf, indent=2, sort_keys=True) + "\n")
    for f in tok_files:  # from the copy actually used above (the source may be regenerated meanwhile)
        shutil.copy(folder / f, folder2 / f)
    m2 = copy.deepcopy(model)
    with torch.no_grad():
        for n, p in m2.named_parameters():
            p.copy_(p.to(torch.bfloat16).float())
    m2.eval()
    cases2 = [dict(c) for c in cases]
    fill_logits(m2, cases2)
    # informational: can transformers load the prefix-less folder by itself?
    try:
        m3 = load_folder_model(folder2)
        same = all(torch.equal(a, b) for a, b in zip(m3.state_dict().values(), m2.state_dict().values()))
        l3 = forward_logit(m3, cases2[0]["ids"], cases2[0]["type_ids"])
        print(f"[{name2}] transformers loads the prefix-less folder directly: weights identical={same}, "
              f"case0 |diff|={abs(l3 - cases2[0]['logit']):.2e}")
    except Exception as e:
        print(f"[{name2}] transformers cannot load the prefix-less folder directly ({type(e).__name__}); fine")
    write_jsonl(folder2 / "golden.jsonl", cases2)
    d = [abs(a["logit"] - b["logit"]) for a, b in zip(cases, cases2)]
    print(f"[{name2}] bf16 vs fp32 logits: mean |diff| {np.mean(d):.3e}, max {max(d):.3e}")
    summarize(name2, folder2, cases2, stats)
    print(f"[{name2}] done in {time.time() - t0:.1f}s")
    now = {f: hashlib.sha256((XLMR_TOK_DIR / f).read_bytes()).hexdigest() for f in tok_files}
    if now != src_hash:
        print(f"WARNING: {XLMR_TOK_DIR.relative_to(REPO)} changed during this run "
              f"({[f for f in tok_files if now[f] != src_hash[f]]}); the folders hold the copy that was used. "
              "Rerun `--only tiny-xlmr` to pick up the new version.")
    for f in tok_files:
        print(f"[{name}] {f} sha256 {src_hash[f]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-large", action="store_true", help="skip synthetic bge-reranker-v2-m3 and -base")
    ap.add_argument("--only", choices=["synthetic", "tiny", "tiny-bert", "tiny-xlmr"], default=None)
    ap.add_argument("--no-cross-check", action="store_true", help="skip FlagEmbedding/CrossEncoder cross-check")
    args = ap.parse_args()
    t_all = time.time()
    if args.only in (None, "synthetic"):
        for spec in synthetic_specs(args.skip_large):
            make_synthetic(*spec)
    if args.only in (None, "tiny", "tiny-bert"):
        make_tiny_bert(case_settings, not args.no_cross_check)
    if args.only in (None, "tiny", "tiny-xlmr"):
        if not (XLMR_TOK_DIR / "tokenizer.json").exists():
            sys.exit(f"missing {XLMR_TOK_DIR}/tokenizer.json (produced by the tokenizer work); rerun later")
        make_tiny_xlmr(case_settings, not args.no_cross_check)
    print(f"total {time.time() - t_all:.1f}s")


if __name__ == "__main__":
    main()
