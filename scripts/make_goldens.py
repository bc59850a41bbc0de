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
import collections
import copy
import hashlib
import importlib.machinery
import json
import os
import shutil
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_weights import GOLDEN, M64, fill_model, first_values, fnv1a64, mix_int  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CROSSRANK_SHARED", "/work/shared"))
DATA = SHARED / "data"
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
class PairEncoder:
    """Encodes pairs with tokenizer.json semantics (tokenizers library)."""

    def __init__(self, folder: Path, kind: str):
        from tokenizers import Tokenizer
        self.kind = kind
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.no_truncation()
        self.cls, self.sep = (0, 2) if kind == "xlmr" else (101, 102)
        self.nspec = 4 if kind == "xlmr" else 3

    def plain(self, text: str) -> list[int]:
        self.tok.no_truncation()
        return self.tok.encode(text, add_special_tokens=False).ids

    def build(self, q: list[int], d: list[int]) -> tuple[list[int], list[int]]:
        if self.kind == "xlmr":
            ids = [self.cls] + q + [self.sep, self.sep] + d + [self.sep]
            return ids, [0] * len(ids)
        ids = [self.cls] + q + [self.sep] + d + [self.sep]
        return ids, [0] * (len(q) + 2) + [1] * (len(d) + 1)

    def legacy_prepare_for_model(self, q: list[int], d: list[int], max_length: int):
        """transformers 4.x prepare_for_model(q, d, truncation='only_second', max_length)."""
        total = len(q) + len(d) + self.nspec
        if total > max_length:
            rm = total - max_length
            if len(d) > rm:
                d = d[:-rm]
            # else: transformers logs "We need to remove ..." and truncates nothing
        return self.build(q, d)

    def flagembedding(self, query: str, document: str, max_length: int):
        q = self.plain(query)[: max_length * 3 // 4]
        d = self.plain(document)[:max_length]
        return self.legacy_prepare_for_model(q, d, max_length)

    def longest_first(self, query: str, document: str, max_length: int):
        self.tok.enable_truncation(max_length, strategy="longest_first")
        e = self.tok.encode(query, document)
        self.tok.no_truncation()
        tt = [0] * len(e.ids) if self.kind == "xlmr" else list(e.type_ids)
        return list(e.ids), tt


def _read_jsonl(p: Path):
    return [json.loads(x) for x in p.read_text(encoding="utf-8").split("\n") if x.strip()]


def text_pairs() -> tuple[list, list, list]:
    """(regular, long_doc, long_both) lists of (source, query, document), all deterministic."""
    reg = []
    # --- MS MARCO / TREC-DL subset
    queries = _read_jsonl(DATA / "msmarco-trecdl-subset" / "queries.jsonl")
    corpus = _read_jsonl(DATA / "msmarco-trecdl-subset" / "corpus.jsonl")
    ctext = {c["_id"]: c["text"] for c in corpus}
    qrels = collections.defaultdict(list)
    for line in (DATA / "msmarco-trecdl-subset" / "qrels" / "test.tsv").read_text().splitlines():
        qid, pid, g = line.split("\t")
        qrels[qid].append((int(g), pid))
    judged = [q for q in queries if q["_id"] in qrels][:14]
    for k, q in enumerate(judged):
        rel = sorted(qrels[q["_id"]], key=lambda x: (-x[0], x[1]))[0][1]
        js = {p for _, p in qrels[q["_id"]]}
        non = next(c["_id"] for c in corpus[(k * 331) % len(corpus):] + corpus if c["_id"] not in js)
        reg.append(("msmarco-rel", q["text"], ctext[rel]))
        reg.append(("msmarco-nonrel", q["text"], ctext[non]))
    # --- WikiQA dev
    rows = [r.split("\t") for r in (DATA / "wikiqa" / "WikiQA-dev.tsv").read_text(encoding="utf-8").split("\n")[1:] if r.strip()]
    byq = collections.OrderedDict()
    for r in rows:
        byq.setdefault(r[0], []).append(r)
    for qid, rs in list(byq.items())[:10]:
        pos = [r for r in rs if r[6].strip() == "1"]
        neg = [r for r in rs if r[6].strip() != "1"]
        if pos:
            reg.append(("wikiqa-pos", rs[0][1], pos[0][5]))
        if neg:
            reg.append(("wikiqa-neg", rs[0][1], neg[-1][5]))
    # --- XQuAD en / zh, and cross-lingual
    xq = {lang: json.loads((DATA / "xquad-zh-en" / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
          for lang in ("en", "zh")}
    for lang in ("en", "zh"):
        for a in range(0, 48, 4):
            para = xq[lang][a]["paragraphs"][a % len(xq[lang][a]["paragraphs"])]
            reg.append((f"xquad-{lang}", para["qas"][0]["question"], para["context"]))
    for a in range(2, 48, 8):
        pz = xq["zh"][a]["paragraphs"][0]
        pe = xq["en"][a]["paragraphs"][0]
        reg.append(("xquad-zh-q-en-doc", pz["qas"][-1]["question"], pe["context"]))
        reg.append(("xquad-en-q-zh-doc", pe["qas"][-1]["question"], pz["context"]))
    # --- CMRC 2018 (zh)
    cm = json.loads((DATA / "cmrc2018" / "cmrc2018_dev.squad-style.json").read_text(encoding="utf-8"))["data"]
    for k in range(12):
        para = cm[(k * 23) % len(cm)]["paragraphs"][0]
        reg.append(("cmrc2018", para["qas"][0]["question"], para["context"]))
    # --- FlagEmbedding toy
    toy = _read_jsonl(DATA / "flagembedding-reranker-toy" / "examples.jsonl")
    for ex in toy[:5]:
        reg.append(("flag-toy-pos", ex["query"], ex["pos"][0]))
        reg.append(("flag-toy-neg", ex["query"], ex["neg"][0]))
    # --- hand-written edge cases
    hand = [
        ("short", "hi", "hi"),
        ("short", "hi", "hello there"),
        ("short", "what is panda?", "hi"),
        ("short", "query", "passage"),
        ("single-char", "a", "b"),
        ("single-char", "中", "国"),
        ("single-char", "?", "."),
        ("single-char", "é", "ß"),
        ("single-char", "1", "😀"),
        ("empty", "", "hi"),
        ("empty", "hi", ""),
        ("whitespace", "  leading and trailing  ", "   many     spaces   between    words   "),
        ("whitespace", "tabs\tand\ttabs", "line\nbreaks\r\nand CRLF\n\nparagraphs"),
        ("whitespace", "non\u00a0breaking\u00a0space", "zero\u200bwidth\u200bspace and\u200cjoiners\u200d"),
        ("whitespace", "ideographic\u3000space\u3000here", "line\u2028separator and para\u2029separator"),
        ("whitespace", "   ", "\t \n "),
        ("whitespace", "x", "trailing space "),
        ("unicode", "café naïve résumé", "combining: cafe\u0301 nai\u0308ve"),
        ("unicode", "ﬁ ligature ① ＡＢＣ１２３ full-width", "Ⅻ ㎏ ™ ½ ² ﬀ ligatures"),
        ("unicode", "ÀÉÎÕÜ UPPER accents", "Straße İstanbul ΣΊΣΥΦΟΣ"),
        ("emoji", "I love 🍕 and 🍣!", "Pizza 🍕 is great 👍🏽 but sushi 🍣 too 😀😃😄"),
        ("emoji", "👨‍👩‍👧‍👦 family", "flags 🇯🇵 🇺🇸 🇨🇳 and ❤️ hearts ♥"),
        ("emoji", "😀", "😀😀😀"),
        ("mixed-zh-en", "什么是 machine learning？", "Machine learning（机器学习）是人工智能的一个分支，研究 algorithms 如何从 data 中学习。"),
        ("mixed-zh-en", "Python 中的 list comprehension 怎么用", "列表推导式 list comprehension 的语法是 [x for x in range(10)]，非常简洁。"),
        ("mixed-zh-en", "北京 Beijing 天气 weather 2024", "Beijing 北京市 is the capital of 中华人民共和国 (PRC)."),
        ("multilingual", "Что такое машинное обучение?", "Машинное обучение — класс методов искусственного интеллекта."),
        ("multilingual", "ما هو التعلم الآلي؟", "التعلم الآلي هو فرع من الذكاء الاصطناعي."),
        ("multilingual", "機械学習とは何ですか", "機械学習は人工知能の一分野です。"),
        ("multilingual", "머신 러닝이란 무엇입니까", "머신 러닝은 인공 지능의 한 분야입니다."),
        ("multilingual", "मशीन लर्निंग क्या है", "मशीन लर्निंग कृत्रिम बुद्धिमत्ता की एक शाखा है।"),
        ("special-literal", "what is <s> and </s>?", "the <mask> token and <pad> and <unk> appear in text"),
        ("special-literal", "[CLS] [SEP] [MASK] in text", "[UNK] and [PAD] tokens, lower [cls] [sep]"),
        ("numbers-punct", "3.14159 * 2 = 6.28318?", "e-mail: foo.bar@example.com, URL https://example.org/a?b=c&d=e#f"),
        ("numbers-punct", "C++20 std::vector<int>", "int main() { return 0; } // comment \"quoted\" 'single'"),
    ]
    reg += hand
    # --- long texts
    wp = (DATA / "text-corpora" / "war_and_peace.en.txt").read_text(encoding="utf-8")
    hl = (DATA / "text-corpora" / "hongloumeng.zh.txt").read_text(encoding="utf-8")
    long_doc = []
    for k in range(8):
        q = judged[k]["text"]
        off = 200_000 + k * 311_111
        long_doc.append(("long-doc-en", q, wp[off: off + 7000]))
    zq = [xq["zh"][a]["paragraphs"][0]["qas"][0]["question"] for a in (1, 9, 17, 25)]
    for k in range(4):
        off = 100_000 + k * 150_000
        long_doc.append(("long-doc-zh", zq[k], hl[off: off + 2600]))
    long_both = []
    for k in range(8):
        qo = 400_000 + k * 277_777
        do = 1_500_000 + k * 170_000
        long_both.append(("long-both-en", wp[qo: qo + 4000], wp[do: do + 7000]))
    for k in range(2):
        long_both.append(("long-both-zh", hl[50_000 + k * 300_000: 50_000 + k * 300_000 + 1400],
                          hl[600_000 + k * 90_000: 600_000 + k * 90_000 + 2600]))
    for k in range(2):
        long_both.append(("long-both-mixed", wp[900_000 + k * 100_000: 900_000 + k * 100_000 + 4000],
                          hl[300_000 + k * 100_000: 300_000 + k * 100_000 + 2600]))
    return reg, long_doc, long_both


def case_settings(max_lengths: list[int]):
    """Deterministic (source, query, document, max_length, truncation) list."""
    reg, long_doc, long_both = text_pairs()
    modes = ("flagembedding", "longest_first")
    out = []
    for i, (src, q, d) in enumerate(reg):
        out.append((src, q, d, max_lengths[(i // 2) % len(max_lengths)], modes[i % 2]))
        if src in ("short", "single-char", "empty", "whitespace", "emoji", "special-literal"):
            out.append((src, q, d, max_lengths[-1], modes[(i + 1) % 2]))  # untruncated, other mode
    big = [m for m in max_lengths if m >= 64]
    for j, (src, q, d) in enumerate(long_doc):
        for mi, mode in enumerate(modes):
            out.append((src, q, d, big[(j + mi) % len(big)], mode))
            out.append((src, q, d, max_lengths[-1], mode))
    for j, (src, q, d) in enumerate(long_both):
        out.append((src, q, d, max_lengths[-1], "longest_first"))
        out.append((src, q, d, big[j % len(big)], "longest_first"))
        out.append((src, q, d, max_lengths[-1], "flagembedding"))
        # 8 / 16: brutal cuts on shortened texts (the tokenizers library materialises every
        # overflow window pair when cutting huge pairs to tiny lengths: O(|q|*|d|/ml^2) memory)
        out.append((src, q[:400], d[:700], max_lengths[j % 2], "longest_first"))
    return out


def encode_cases(enc: PairEncoder, settings, hf_tok) -> tuple[list[dict], dict]:
    cases, stats = [], collections.Counter()
    for src, q, d, ml, mode in settings:
        if mode == "flagembedding":
            ids, tt = enc.flagembedding(q, d, ml)
        else:
            ids, tt = enc.longest_first(q, d, ml)
        qf, df = enc.plain(q), enc.plain(d)
        full = len(qf) + len(df) + enc.nspec
        # segment lengths in the result (truncation only ever removes from segment ends)
        if enc.kind == "xlmr":
            nq = next(i for i in range(1, len(ids)) if ids[i] == enc.sep and ids[i + 1] == enc.sep
                      and ids[1:i] == qf[: i - 1]) - 1
            nd = len(ids) - nq - 4
        else:
            nq = tt.index(1) - 2 if 1 in tt else len(ids) - 3
            nd = len(ids) - nq - 3
        stats[f"mode:{mode}"] += 1
        stats[f"max_length:{ml}"] += 1
        if full > len(ids):
            stats["truncated"] += 1
        if nd < len(df):
            stats["doc-cut"] += 1
            if len(df) > 2 * ml:
                stats["long-doc-cut"] += 1
        if nq < len(qf):
            stats["query-cut"] += 1
        if mode == "longest_first" and nq < len(qf) and nd < len(df):
            stats["longest_first-both-cut"] += 1
        if len(ids) > ml:
            stats["flag-overflow(len>max_length)"] += 1
        if hf_tok is not None:
            if mode == "longest_first":
                v5 = hf_tok(q, d, truncation=True, max_length=ml)["input_ids"]
            else:
                v5 = hf_tok(q, add_special_tokens=False)["input_ids"] + hf_tok(d, add_special_tokens=False)["input_ids"]
                v5 = v5 if v5 == qf + df else None
            if v5 is None or (mode == "longest_first" and v5 != ids):
                stats["transformers5-AutoTokenizer-differs"] += 1
        cases.append({"query": q, "document": d, "max_length": ml, "truncation": mode,
                      "ids": ids, "type_ids": tt, "source": src})
    return cases, stats


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


def cross_check(folder: Path, cases: list[dict], enc: PairEncoder) -> list[str]:
    report = []
    text = [c for c in cases if c["query"] is not None]
    try:
        _stub_modules()
        from FlagEmbedding import FlagReranker
    except Exception as e:  # pragma: no cover
        report.append(f"FlagReranker cross-check SKIPPED ({type(e).__name__}: {e})")
    else:
        for patched in (True, False):
            fr = FlagReranker(str(folder), use_fp16=False, devices="cpu", batch_size=16)
            fr.model.float()
            if patched:
                _patch_tokenizer(fr.tokenizer, folder, enc)
            by_ml = collections.defaultdict(list)
            for c in text:
                if c["truncation"] == "flagembedding":
                    by_ml[c["max_length"]].append(c)
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
        for patched in (True, False):
            by_ml = collections.defaultdict(list)
            for c in text:
                if c["truncation"] == "longest_first":
                    by_ml[c["max_length"]].append(c)
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
