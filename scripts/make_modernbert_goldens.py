#!/usr/bin/env python3
"""Goldens of the ModernBERT cross-encoder family (needs torch + transformers 4.x + tokenizers;
CI never runs this).

    /work/gold-venv/bin/python scripts/make_modernbert_goldens.py            # everything
    /work/gold-venv/bin/python scripts/make_modernbert_goldens.py --only tiny
    /work/gold-venv/bin/python scripts/make_modernbert_goldens.py --only published

Reference: transformers' ModernBertForSequenceClassification (4.57), eager attention, fp32,
eval(), no_grad, 2 threads; weights from scripts/synthetic_weights.py (the C++ engine fills the
same values); ids drawn from a splitmix64 stream; texts from fixed positions of
/work/shared/data.  Deterministic: a second run rewrites the same bytes.

A. tests/data/models/tiny-modernbert-bpe/tokenizer.json: a byte-level BPE in ModernBERT's layout
   (no normalizer, ByteLevel pre-tokenizer with the GPT-2 regex, [CLS] $A [SEP] $B [SEP]
   TemplateProcessing post-processor, [UNK] [CLS] [SEP] [PAD] [MASK] after the merges), trained
   once with the tokenizers library on the shared text corpora; reused when present (the BPE
   trainer's output is what the goldens and the built-in tokenizer were made from).
B. tests/data/models/tiny-modernbert/: HF folder, 4 layers x 32, classifier_pooling "cls",
   transformers 4.x config keys (global_attn_every_n_layers, global_rope_theta, local_rope_theta),
   no biases; F32 safetensors, seed 1; golden.jsonl.
   tests/data/models/tiny-modernbert-mean/: 5 layers x 48, classifier_pooling "mean",
   transformers 5 config keys (layer_types, rope_parameters per layer type), every bias on
   (norm_bias, attention_bias, mlp_bias, classifier_bias), classifier_activation "silu";
   seed 2.  transformers 4.57 reads only the 4.x keys, so its model is built from the
   equivalent 4.x dict (the layer pattern is one 4.x can express); the folder holds the 5.x one.
   golden.jsonl lines: {"query", "document", "max_length", "truncation": "longest_first", "ids",
   "type_ids", "logit", "source"}: the pair encoded by tokenizer.json (tokenizers library,
   LONGEST_FIRST to max_length, post-processor specials) = sentence-transformers' CrossEncoder;
   plus "ids-only" lines (query etc. null) of exact lengths 1, 2, 7, 63, 64, 513, 1000.
C. tests/data/goldens/synthetic-gte-reranker-modernbert-base.json: the published
   Alibaba-NLP/gte-reranker-modernbert-base shape (22 x 768, 12 heads, FFN 1152, vocab 50368,
   8192 positions, global every 3, window 128, thetas 160000 / 10000, mean pooling), seed 0,
   token-id cases of lengths 3, 7, 64, 200, 513 (no 8192 case: eager attention would need
   ~6 GB per layer for the probabilities).
Every model is also run on a right-padded batch of its cases, which must reproduce the
single-sequence logits (asserted, not stored).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_weights import GOLDEN, M64, fill_model, fnv1a64, mix_int  # noqa: E402

torch.set_num_threads(2)
torch.manual_seed(0)

from safetensors.torch import save_file  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import AutoModelForSequenceClassification, ModernBertConfig, ModernBertForSequenceClassification  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()

ROOT = Path(__file__).resolve().parent.parent
DATA_OUT = ROOT / "tests" / "data"
SHARED = Path("/work/shared")
TOK_DIR = DATA_OUT / "models" / "tiny-modernbert-bpe"
BPE_VOCAB = 2000  # merges + the 256 byte symbols; the 5 special tokens follow
SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]


def det_ids(tag: str, n: int, lo: int, hi: int) -> list[int]:
    """n ids in [lo, hi) from a splitmix64 stream keyed by `tag` (version-independent)."""
    h = fnv1a64(tag.encode())
    return [lo + mix_int((h + (k + 1) * GOLDEN) & M64) % (hi - lo) for k in range(n)]


def safe_json_line(obj) -> str:
    s = json.dumps(obj, ensure_ascii=False)
    return s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")


def write_golden_json(path: Path, obj: dict) -> None:
    parts = []
    for k, v in obj.items():
        if k == "cases":
            inner = ",\n".join("    " + safe_json_line(c) for c in v)
            parts.append(f'  "cases": [\n{inner}\n  ]')
        else:
            parts.append(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}")
    path.write_text("{\n" + ",\n".join(parts) + "\n}\n", encoding="utf-8")


# ---- A. tokenizer ------------------------------------------------------------------------
def corpus_lines() -> list[str]:
    out = []
    for p in sorted((SHARED / "data" / "text-corpora").glob("*.txt")):
        out += [l for l in p.read_text(encoding="utf-8").splitlines() if l.strip()][:4000]
    for p in [SHARED / "data" / "msmarco-trecdl-subset" / "corpus.jsonl"]:
        for l in [x for x in p.read_text(encoding="utf-8").split("\n") if x.strip()][:3000]:
            out.append(json.loads(l)["text"])
    return out


def make_tokenizer() -> Tokenizer:
    path = TOK_DIR / "tokenizer.json"
    if path.exists():
        return Tokenizer.from_file(str(path))
    TOK_DIR.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus_lines(), trainer=trainer)
    assert tok.get_vocab_size() == BPE_VOCAB, tok.get_vocab_size()
    tok.add_special_tokens(SPECIALS)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.save(str(path))
    return Tokenizer.from_file(str(path))


def write_tokenizer_files(folder: Path, tok: Tokenizer) -> None:
    (folder / "tokenizer.json").write_bytes((TOK_DIR / "tokenizer.json").read_bytes())
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 8192, "clean_up_tokenization_spaces": True,
           "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
           "mask_token": "[MASK]", "model_input_names": ["input_ids", "attention_mask"]}
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    smap = {k: v for k, v in cfg.items() if k.endswith("_token")}
    (folder / "special_tokens_map.json").write_text(json.dumps(smap, indent=2) + "\n")


# ---- model helpers -------------------------------------------------------------------------
def build_model(cfg4: dict, seed: int) -> ModernBertForSequenceClassification:
    config = ModernBertConfig(**{k: v for k, v in cfg4.items() if not k.startswith("_")}, reference_compile=False)
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation="eager", dtype=torch.float32)
    assert isinstance(model, ModernBertForSequenceClassification)
    fill_model(model, seed)
    return model.eval()


@torch.no_grad()
def logit(model, ids: list[int]) -> float:
    out = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long))
    return float(out.logits[0, 0])


@torch.no_grad()
def check_padded_batch(model, seqs: list[list[int]], singles: list[float], pad: int, what: str) -> float:
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad, dtype=torch.long)
    am = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        am[i, : len(s)] = 1
    got = model(input_ids=ids, attention_mask=am).logits[:, 0].tolist()
    d = max(abs(a - b) for a, b in zip(got, singles))
    scale = max(1.0, max(abs(x) for x in singles))
    print(f"  {what}: padded batch of {len(seqs)} vs single: max |d| {d:.2e} (logit scale {scale:.2f})")
    assert d <= 2e-5 * scale, d
    return d


def pair_ids(total: int, tag: str, cls: int, sep: int, lo: int, hi: int) -> list[int]:
    """[CLS] q [SEP] d [SEP] of exactly `total` ids (shorter: [CLS] (random) ([SEP]))."""
    if total < 3:
        return [cls] + ([sep] if total == 2 else [])
    nq = (total - 3) // 3
    r = det_ids(tag, total - 3, lo, hi)
    ids = [cls] + r[:nq] + [sep] + r[nq:] + [sep]
    assert len(ids) == total
    return ids


def save_folder(folder: Path, model, config_json: dict, tok: Tokenizer) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config_json, indent=2) + "\n")
    sd = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, str(folder / "model.safetensors"), metadata={"format": "pt"})
    write_tokenizer_files(folder, tok)


# ---- B. tiny folders ---------------------------------------------------------------------
def text_pairs() -> list[tuple[str, str, str]]:
    """(query, document, source) from fixed positions of the shared data, plus edge cases."""
    q = [json.loads(l) for l in (SHARED / "data/msmarco-trecdl-subset/queries.jsonl").read_text(encoding="utf-8").split("\n") if l.strip()]
    c = [json.loads(l) for l in (SHARED / "data/msmarco-trecdl-subset/corpus.jsonl").read_text(encoding="utf-8").split("\n") if l.strip()]
    wp = (SHARED / "data/text-corpora/war_and_peace.en.txt").read_text(encoding="utf-8")
    hl = (SHARED / "data/text-corpora/hongloumeng.zh.txt").read_text(encoding="utf-8")
    out = []
    for i in range(12):
        out.append((q[(7 * i) % len(q)]["text"], c[(11 * i + 3) % len(c)]["text"], "msmarco"))
    out += [
        ("hi", "hello", "short"),
        ("a", "b", "single-char"),
        ("what is panda?", "The giant panda (Ailuropoda melanoleuca) is a bear species endemic to China.", "toy"),
        ("  spaces   inside  ", "tabs\tand\nnewlines\r\nhere ", "whitespace"),
        ("emoji 🐼👍🏽", "flags 🇨🇳🇺🇸 and ZWJ 👨‍👩‍👧", "emoji"),
        ("中文 query", "红楼梦是一部小说。 mixed 文本", "zh"),
        ("[CLS] literal", "[SEP] and [MASK] as text", "special-literals"),
        ("code: for (int i = 0; i < n; ++i)", "https://example.com/a?b=c&d=e#f", "code-url"),
        ("War and Peace", wp[10000:16000], "long-doc-en"),
        (wp[20000:22000], wp[30000:36000], "long-both-en"),
        ("红楼梦", hl[5000:8000], "long-doc-zh"),
    ]
    return out


def tiny_cases(model, tok: Tokenizer, cfg4: dict, tag: str) -> list[dict]:
    lines = []
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    for qi, (query, doc, src) in enumerate(text_pairs()):
        # Long pairs skip the tiny max_lengths: the tokenizers library materialises every
        # overflow window pair, O(|q| |d| / ml^2) memory.
        for ml in (64, 128, 512, 1024) if src.startswith("long") else (8, 16, 64, 128, 512):
            t = Tokenizer.from_str(tok.to_str())
            t.enable_truncation(max_length=ml, strategy="longest_first")
            enc = t.encode(query, doc)
            ids = enc.ids
            lines.append({"query": query, "document": doc, "max_length": ml, "truncation": "longest_first",
                          "ids": ids, "type_ids": [0] * len(ids), "logit": logit(model, ids), "source": src})
    for L in (1, 2, 7, 63, 64, 513, 1000):
        ids = pair_ids(L, f"{tag}-ids-{L}", cls, sep, 0, 1900)
        lines.append({"query": None, "document": None, "max_length": None, "truncation": None, "ids": ids,
                      "type_ids": [0] * L, "logit": logit(model, ids), "source": "ids-only"})
    short = [l for l in lines if len(l["ids"]) <= 64][:8] + [l for l in lines if len(l["ids"]) == 513]
    check_padded_batch(model, [l["ids"] for l in short], [l["logit"] for l in short], cfg4["pad_token_id"], tag)
    return lines


def tiny_folders(tok: Tokenizer) -> None:
    ids = {s: tok.token_to_id(s) for s in SPECIALS}
    common = {"architectures": ["ModernBertForSequenceClassification"], "model_type": "modernbert",
              "vocab_size": 2048, "max_position_embeddings": 1024, "pad_token_id": ids["[PAD]"],
              "bos_token_id": ids["[CLS]"], "eos_token_id": ids["[SEP]"], "cls_token_id": ids["[CLS]"],
              "sep_token_id": ids["[SEP]"], "hidden_activation": "gelu", "norm_eps": 1e-5,
              "initializer_range": 0.02, "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
              "torch_dtype": "float32", "transformers_version": "4.57.6"}
    # 1. cls pooling, transformers 4.x keys, no biases.
    cfg1 = dict(common, hidden_size=32, intermediate_size=48, num_hidden_layers=4, num_attention_heads=4,
                global_attn_every_n_layers=3, local_attention=16, global_rope_theta=160000.0,
                local_rope_theta=10000.0, norm_bias=False, attention_bias=False, mlp_bias=False,
                classifier_bias=False, classifier_pooling="cls", classifier_activation="gelu")
    # 2. mean pooling, transformers 5 keys, every bias, global every 2, SiLU head activation.
    cfg2_v4 = dict(common, hidden_size=48, intermediate_size=40, num_hidden_layers=5, num_attention_heads=6,
                   global_attn_every_n_layers=2, local_attention=10, global_rope_theta=80000.0,
                   local_rope_theta=5000.0, norm_bias=True, attention_bias=True, mlp_bias=True,
                   classifier_bias=True, classifier_pooling="mean", classifier_activation="silu")
    cfg2_v5 = {k: v for k, v in cfg2_v4.items()
               if k not in ("global_attn_every_n_layers", "global_rope_theta", "local_rope_theta")}
    cfg2_v5["layer_types"] = ["full_attention" if i % 2 == 0 else "sliding_attention" for i in range(5)]
    cfg2_v5["rope_parameters"] = {"full_attention": {"rope_type": "default", "rope_theta": 80000.0},
                                  "sliding_attention": {"rope_type": "default", "rope_theta": 5000.0}}
    cfg2_v5["transformers_version"] = "5.0.0"
    for name, cfg4, cfgj, seed in (("tiny-modernbert", cfg1, cfg1, 1), ("tiny-modernbert-mean", cfg2_v4, cfg2_v5, 2)):
        print(f"[{name}]")
        model = build_model(cfg4, seed)
        folder = DATA_OUT / "models" / name
        save_folder(folder, model, cfgj, tok)
        lines = tiny_cases(model, tok, cfg4, name)
        with open(folder / "golden.jsonl", "w", encoding="utf-8") as f:
            for l in lines:
                f.write(safe_json_line(l) + "\n")
        lg = [l["logit"] for l in lines]
        print(f"  {len(lines)} lines, logits {min(lg):+.4f} .. {max(lg):+.4f}, "
              f"lengths {min(len(l['ids']) for l in lines)} .. {max(len(l['ids']) for l in lines)}")
        cross_check(folder, lines, cfg4)


def cross_check(folder: Path, lines: list[dict], cfg4: dict) -> None:
    """sentence-transformers' CrossEncoder on (a copy of) the folder with the 4.x config keys
    (what transformers 4.57 reads) reproduces the text goldens."""
    import shutil
    import tempfile
    try:
        from sentence_transformers import CrossEncoder
    except Exception as e:  # pragma: no cover
        print(f"  cross-check skipped: {e}")
        return
    tmp = Path(tempfile.mkdtemp())
    for f in folder.iterdir():
        if f.name != "golden.jsonl":
            shutil.copy(f, tmp / f.name)
    (tmp / "config.json").write_text(json.dumps(cfg4))
    folder = tmp
    by_ml: dict[int, list[dict]] = {}
    for l in lines:
        if l["query"] is not None:
            by_ml.setdefault(l["max_length"], []).append(l)
    worst, n = 0.0, 0
    for ml, ls in by_ml.items():
        ce = CrossEncoder(str(folder), max_length=ml, activation_fn=torch.nn.Identity(), device="cpu",
                          model_kwargs={"attn_implementation": "eager"})
        got = ce.predict([(l["query"], l["document"]) for l in ls], batch_size=8)
        for l, g in zip(ls, got):
            worst = max(worst, abs(float(g) - l["logit"]))
            n += 1
    shutil.rmtree(tmp)
    print(f"  cross-check CrossEncoder: {n} pairs, max |d| {worst:.2e}")
    assert worst <= 1e-4, worst


# ---- C. the published shape --------------------------------------------------------------
GTE_CONFIG = {
    "architectures": ["ModernBertForSequenceClassification"], "model_type": "modernbert",
    "vocab_size": 50368, "hidden_size": 768, "intermediate_size": 1152, "num_hidden_layers": 22,
    "num_attention_heads": 12, "max_position_embeddings": 8192, "hidden_activation": "gelu",
    "global_attn_every_n_layers": 3, "local_attention": 128, "global_rope_theta": 160000.0,
    "local_rope_theta": 10000.0, "norm_eps": 1e-5, "norm_bias": False, "attention_bias": False,
    "mlp_bias": False, "classifier_bias": False, "classifier_pooling": "mean", "classifier_activation": "gelu",
    "pad_token_id": 50283, "bos_token_id": 50281, "eos_token_id": 50282, "cls_token_id": 50281,
    "sep_token_id": 50282, "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
}


def published() -> None:
    print("[gte-reranker-modernbert-base]")
    model = build_model(GTE_CONFIG, 0)
    cases = []
    for L in (3, 7, 64, 200, 513):
        ids = pair_ids(L, f"gte-{L}", 50281, 50282, 0, 50280)
        cases.append({"ids": ids, "logit": logit(model, ids)})
        print(f"  len {L}: {cases[-1]['logit']:+.6f}")
    check_padded_batch(model, [c["ids"] for c in cases[:4]], [c["logit"] for c in cases[:4]], 50283, "gte")
    write_golden_json(DATA_OUT / "goldens" / "synthetic-gte-reranker-modernbert-base.json",
                      {"model": "Alibaba-NLP/gte-reranker-modernbert-base (shape only)", "seed": 0,
                       "generator": "scripts/make_modernbert_goldens.py, transformers 4.57.6, eager, fp32",
                       "config": GTE_CONFIG, "hf_parameters": sum(p.numel() for p in model.parameters()),
                       "cases": cases})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["tiny", "published"])
    a = ap.parse_args()
    tok = make_tokenizer()
    if a.only in (None, "tiny"):
        tiny_folders(tok)
    if a.only in (None, "published"):
        published()


if __name__ == "__main__":
    main()
