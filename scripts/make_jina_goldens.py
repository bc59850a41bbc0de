#!/usr/bin/env python3
"""Goldens of jina-reranker-v2-base-multilingual's XLM-R "flash" layout (needs torch,
transformers 4.x, tokenizers, einops and jinaai's published modeling code; CI never runs this).

    /work/gold-venv/bin/python scripts/make_jina_goldens.py --code-dir DIR

DIR holds the remote code published beside the weights of jinaai/jina-reranker-v2-base-multilingual
(modeling_xlm_roberta.py, configuration_xlm_roberta.py, block.py, mha.py, mlp.py, embedding.py,
xlm_padding.py, stochastic_depth.py).  It is not part of crossrank; the copy these goldens were
made from is the repository snapshot named in tests/data/README.md (git blob ids there).  The
code runs as published on the CPU: without CUDA its get_use_flash_attn() is False, so it takes
its PyTorch attention path (SelfAttention: einsum, softmax, key padding mask).

A. tests/data/models/tiny-jina-xlmr/: the published config.json with tiny dimensions (2 layers
   x 32, 4 heads, FFN 64, vocab 8002 = tests/data/tokenizers/xlmr-unigram, 1026 positions,
   type_vocab 1), auto_map kept; weights by the published names (roberta.emb_ln,
   roberta.encoder.layers.N.mixer.Wqkv, mixer.out_proj, norm1, mlp.fc1, mlp.fc2, norm2,
   classifier.dense / out_proj), seed 1 of scripts/synthetic_weights.py; F32 safetensors;
   tokenizer files of tests/data/tokenizers/xlmr-unigram; golden.jsonl as the other folders:
   text pairs encoded by tokenizer.json with LONGEST_FIRST truncation (what the model's own
   compute_score does: tokenizer(pairs, truncation=True, max_length)), plus ids-only lines of
   exact lengths 1, 2, 7, 64, 513, 1026 - 2.  Cross-check: the model's own compute_score on the
   folder (its sigmoid) for the max_length 512 pairs.
B. tests/data/goldens/synthetic-jina-reranker-v2-base-multilingual.json: the published shape
   (12 x 768, 12 heads, FFN 3072, vocab 250002, 1026 positions), seed 0, token-id cases of
   lengths 4, 7, 64, 513, 1024.
A right-padded batch of cases must reproduce the single logits (asserted, not stored).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_weights import GOLDEN, M64, fill_model, fnv1a64, mix_int  # noqa: E402

torch.set_num_threads(2)

from safetensors.torch import save_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SHARED = Path("/work/shared")
CODE_FILES = ["modeling_xlm_roberta.py", "configuration_xlm_roberta.py", "block.py", "mha.py", "mlp.py",
              "embedding.py", "xlm_padding.py", "stochastic_depth.py"]

# jinaai/jina-reranker-v2-base-multilingual/config.json as published.
PUBLISHED = {
    "_name_or_path": "jina-reranker-v2-base-multilingual", "architectures": ["XLMRobertaForSequenceClassification"],
    "attention_probs_dropout_prob": 0.1,
    "auto_map": {"AutoConfig": "configuration_xlm_roberta.XLMRobertaFlashConfig",
                 "AutoModel": "modeling_xlm_roberta.XLMRobertaModel",
                 "AutoModelForSequenceClassification": "modeling_xlm_roberta.XLMRobertaForSequenceClassification"},
    "bos_token_id": 0, "classifier_dropout": None, "emb_pooler": None, "eos_token_id": 2, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "hidden_size": 768, "num_labels": 1, "id2label": {"0": "LABEL_0"},
    "initializer_range": 0.02, "intermediate_size": 3072, "label2id": {"LABEL_0": 0}, "layer_norm_eps": 1e-5,
    "max_position_embeddings": 1026, "num_attention_heads": 12, "num_hidden_layers": 12, "output_past": True,
    "pad_token_id": 1, "position_embedding_type": "absolute", "torch_dtype": "bfloat16",
    "transformers_version": "4.40.0", "type_vocab_size": 1, "use_cache": False, "use_flash_attn": True,
    "vocab_size": 250002,
}
TINY = dict(PUBLISHED, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            vocab_size=8002, torch_dtype="float32")


def det_ids(tag: str, n: int, lo: int, hi: int) -> list[int]:
    h = fnv1a64(tag.encode())
    return [lo + mix_int((h + (k + 1) * GOLDEN) & M64) % (hi - lo) for k in range(n)]


def pair_ids(total: int, tag: str, lo: int, hi: int) -> list[int]:
    """<s> q </s></s> d </s> of exactly `total` ids (shorter: <s> (</s>))."""
    if total < 4:
        return [0] + det_ids(tag, max(total - 2, 0), lo, hi) + ([2] if total >= 2 else [])
    nq = (total - 4) // 3
    r = det_ids(tag, total - 4, lo, hi)
    return [0] + r[:nq] + [2, 2] + r[nq:] + [2]


def load_code(code_dir: Path):
    """The published modules as one package (they import each other relatively)."""
    root = Path(tempfile.mkdtemp())
    pkg = root / "jina_flash"
    pkg.mkdir()
    for f in CODE_FILES:
        shutil.copy(code_dir / f, pkg / f)
    (pkg / "__init__.py").write_text("")
    sys.path.insert(0, str(root))
    from jina_flash import modeling_xlm_roberta as M  # noqa: E402
    return M


def build(M, cfg: dict, seed: int):
    conf = M.XLMRobertaFlashConfig(**{k: v for k, v in cfg.items() if k not in ("auto_map", "_name_or_path")})
    assert not M.get_use_flash_attn(conf), "the goldens use the code's PyTorch attention path"
    model = M.XLMRobertaForSequenceClassification(conf).float().eval()
    fill_model(model, seed)
    return model


@torch.no_grad()
def logit(model, ids: list[int]) -> float:
    t = torch.tensor([ids])
    return float(model(input_ids=t, attention_mask=torch.ones_like(t)).logits[0, 0])


@torch.no_grad()
def check_padded(model, seqs: list[list[int]], singles: list[float], what: str) -> None:
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), 1, dtype=torch.long)
    am = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        am[i, : len(s)] = 1
    got = model(input_ids=ids, attention_mask=am).logits[:, 0].tolist()
    d = max(abs(a - b) for a, b in zip(got, singles))
    print(f"  {what}: padded batch of {len(seqs)} vs single: max |d| {d:.2e}")
    assert d <= 2e-5 * max(1.0, max(abs(x) for x in singles)), d


def texts() -> list[tuple[str, str, str]]:
    q = [json.loads(l) for l in (SHARED / "data/msmarco-trecdl-subset/queries.jsonl").read_text(encoding="utf-8").split("\n") if l.strip()]
    c = [json.loads(l) for l in (SHARED / "data/msmarco-trecdl-subset/corpus.jsonl").read_text(encoding="utf-8").split("\n") if l.strip()]
    wp = (SHARED / "data/text-corpora/war_and_peace.en.txt").read_text(encoding="utf-8")
    hl = (SHARED / "data/text-corpora/hongloumeng.zh.txt").read_text(encoding="utf-8")
    out = [(q[(5 * i) % len(q)]["text"], c[(13 * i + 1) % len(c)]["text"], "msmarco") for i in range(10)]
    out += [("what is panda?", "The giant panda (Ailuropoda melanoleuca) is a bear species endemic to China.", "toy"),
            ("hi", "hello", "short"), ("emoji 🐼", "中文 and English 混合", "mixed"),
            ("War and Peace", wp[40000:45000], "long-doc-en"), ("红楼梦", hl[9000:11000], "long-doc-zh")]
    return out


def tiny(M, code_dir: Path) -> None:
    print("[tiny-jina-xlmr]")
    model = build(M, TINY, 1)
    folder = DATA / "models" / "tiny-jina-xlmr"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(TINY, indent=2) + "\n")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    src = DATA / "tokenizers" / "xlmr-unigram"
    for f in ("tokenizer.json", "special_tokens_map.json", "tokenizer_config.json"):  # folder < 2 MB
        shutil.copy(src / f, folder / f)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    lines = []
    for query, doc, s in texts():
        for ml in (64, 128, 512, 1024) if s.startswith("long") else (16, 64, 512):
            t = Tokenizer.from_str(tok.to_str())
            t.enable_truncation(max_length=ml, strategy="longest_first")
            ids = t.encode(query, doc).ids
            lines.append({"query": query, "document": doc, "max_length": ml, "truncation": "longest_first",
                          "ids": ids, "type_ids": [0] * len(ids), "logit": logit(model, ids), "source": s})
    for L in (1, 2, 7, 64, 513, 1024):
        ids = pair_ids(L, f"jina-ids-{L}", 4, 8001)
        lines.append({"query": None, "document": None, "max_length": None, "truncation": None, "ids": ids,
                      "type_ids": [0] * L, "logit": logit(model, ids), "source": "ids-only"})
    short = [l for l in lines if len(l["ids"]) <= 64][:8]
    check_padded(model, [l["ids"] for l in short], [l["logit"] for l in short], "tiny")
    with open(folder / "golden.jsonl", "w", encoding="utf-8") as f:
        for l in lines:
            f.write(json.dumps(l, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n")
    lg = [l["logit"] for l in lines]
    print(f"  {len(lines)} lines, logits {min(lg):+.4f} .. {max(lg):+.4f}")
    # Cross-check: the model's own compute_score (its tokenizer call and sigmoid) on the folder.
    try:
        tmp = Path(tempfile.mkdtemp())
        for f in folder.iterdir():
            shutil.copy(f, tmp / f.name)
        cfg = json.loads((tmp / "tokenizer_config.json").read_text())
        cfg["tokenizer_class"] = "XLMRobertaTokenizerFast"
        (tmp / "tokenizer_config.json").write_text(json.dumps(cfg))
        model.name_or_path = str(tmp)
        pairs = [l for l in lines if l["query"] is not None and l["max_length"] == 512]
        got = model.compute_score([(l["query"], l["document"]) for l in pairs], max_length=512)
        worst = max(abs(g - 1 / (1 + torch.exp(torch.tensor(-l["logit"])).item())) for g, l in zip(got, pairs))
        print(f"  cross-check compute_score: {len(pairs)} pairs, max |d sigmoid| {worst:.2e}")
        assert worst <= 1e-5, worst
    except Exception as e:  # pragma: no cover
        print(f"  cross-check compute_score failed: {e!r}")
        raise


def published(M) -> None:
    print("[jina-reranker-v2-base-multilingual]")
    model = build(M, PUBLISHED, 0)
    cases = []
    for L in (4, 7, 64, 513, 1024):
        ids = pair_ids(L, f"jina-{L}", 5, 250000)
        cases.append({"ids": ids, "logit": logit(model, ids)})
        print(f"  len {L}: {cases[-1]['logit']:+.6f}")
    check_padded(model, [c["ids"] for c in cases[:4]], [c["logit"] for c in cases[:4]], "published")
    parts = [f'  "model": "jinaai/jina-reranker-v2-base-multilingual (shape and weight names only)"',
             '  "seed": 0', '  "generator": "scripts/make_jina_goldens.py: the published modeling code, CPU path, fp32"',
             f'  "config": {json.dumps(PUBLISHED)}',
             f'  "hf_parameters": {sum(p.numel() for p in model.parameters())}',
             '  "cases": [\n' + ",\n".join("    " + json.dumps(c) for c in cases) + "\n  ]"]
    (DATA / "goldens" / "synthetic-jina-reranker-v2-base-multilingual.json").write_text("{\n" + ",\n".join(parts) + "\n}\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--code-dir", required=True, type=Path)
    ap.add_argument("--only", choices=["tiny", "published"])
    a = ap.parse_args()
    M = load_code(a.code_dir)
    if a.only in (None, "tiny"):
        tiny(M, a.code_dir)
    if a.only in (None, "published"):
        published(M)


if __name__ == "__main__":
    main()
