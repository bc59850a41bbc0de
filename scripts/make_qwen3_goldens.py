#!/usr/bin/env python3
"""Goldens for the Qwen3 reranker family (needs torch + transformers + tokenizers; CI never runs it).

    .venv-qwen/bin/python scripts/make_qwen3_goldens.py              # tiny models + prompt goldens
    .venv-qwen/bin/python scripts/make_qwen3_goldens.py --large      # also the exact 0.6B shape (minutes)
    .venv-qwen/bin/python scripts/make_qwen3_goldens.py --only large # only the 0.6B shape

The oracle is HF transformers' Qwen3ForCausalLM (fp32, eval, no_grad, eager attention up to
1024 tokens, SDPA beyond) with crossrank's seeded synthetic weights (scripts/synthetic_weights.py;
the C++ engine generates the same values bit for bit), shapes as crossrank's synthetic:NAME:
  tiny-qwen3         2 x 64, 4 heads / 2 KV heads, head_dim 32 (!= 64/4), FFN 128, tied head
  tiny-qwen3-untied  3 x 96, 4 heads / 1 KV head,  head_dim 16 (!= 96/4), FFN 160, own lm_head
  qwen3-reranker-0.6b  the published shape (28 x 1024, 16/8 heads, head_dim 128, FFN 3072, tied)
all with the real vocabulary size (151669), RMSNorm eps 1e-6, rope_theta 1e6.

Score = logit("yes") - logit("no") at the last token (ids 9693 / 2152: the tokens "yes" / "no"
without a leading space; checked against the tokenizer built below); P(yes) is its sigmoid,
as the card's log_softmax over the two logits.

1. tests/data/goldens/qwen3/<model>.json: token-id cases.
   * "random": ids drawn (splitmix64 stream, as scripts/make_goldens.py) from the byte-level
     vocabulary, lengths 1 ... 600 around every block edge (1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63,
     64, 65, 127, 128, 129, 255, 256, 257, 511, 512, 513, 600);
   * "prompt": the card's prefix/suffix ids around random query and document ids; several
     documents per query ("group"), so the C++ test can pack them with a shared prefix
     (shared_prefix = prefix + query part) and compare every one with its single-sequence logit.
   Asserted here: a left-padded batch of each group (the card's tokenizer.pad + attention
   mask) reproduces the single-sequence logits; eager == SDPA on the longest eager case.
2. tests/data/goldens/qwen3-prompt/tiny-qwen3.json: the model card's reference code run verbatim
   (format_instruction, process_inputs with truncation='longest_first' to max_length - prefix -
   suffix, left padding, last-token yes/no) with Qwen's byte-level BPE tokenizer built from the
   real ranks (/work/shared/models/qwen3-reranker/qwen.tiktoken) as transformers'
   TikTokenConverter converts them, with Qwen3's pre-tokenizer, NFC normalizer and 26 added
   tokens (the construction of scripts/make_bpe_tokenizer.py); ~24 (instruction, query, document,
   max_length) cases incl. truncation edges. Records the ids and logit of every case.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_weights import GOLDEN, M64, fill_model, first_values, fnv1a64, mix_int  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CROSSRANK_SHARED", "/work/shared"))
TIKTOKEN = SHARED / "models" / "qwen3-reranker" / "qwen.tiktoken"
OUT = REPO / "tests" / "data" / "goldens"

torch.set_num_threads(int(os.environ.get("GOLDEN_THREADS", "2")))
torch.manual_seed(0)

from transformers import Qwen3Config, Qwen3ForCausalLM  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()

YES, NO = 9693, 2152
BASE_VOCAB = 151643  # byte-level BPE ranks; 151643..151668 are added tokens
PREFIX = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
          "Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n")
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"

SHAPES = {
    # name: (layers, hidden, heads, kv_heads, head_dim, intermediate, tied)
    "tiny-qwen3": (2, 64, 4, 2, 32, 128, True),
    "tiny-qwen3-untied": (3, 96, 4, 1, 16, 160, False),
    "qwen3-reranker-0.6b": (28, 1024, 16, 8, 128, 3072, True),
}


def config_dict(name: str) -> dict:
    L, H, nh, kv, D, I, tied = SHAPES[name]
    return {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": D, "hidden_act": "silu",
        "hidden_size": H, "intermediate_size": I, "max_position_embeddings": 40960,
        "max_window_layers": L, "model_type": "qwen3", "num_attention_heads": nh, "num_hidden_layers": L,
        "num_key_value_heads": kv, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000,
        "sliding_window": None, "tie_word_embeddings": tied, "torch_dtype": "float32", "use_cache": False,
        "use_sliding_window": False, "vocab_size": 151669,
    }


def build_model(name: str, seed: int = 0):
    cfg = {k: v for k, v in config_dict(name).items() if k not in ("architectures", "model_type", "torch_dtype")}
    model = Qwen3ForCausalLM(Qwen3Config(**cfg)).to(torch.float32)
    model.config._attn_implementation = "eager"
    fill_model(model, seed)
    model.eval()
    names = dict(model.named_parameters())
    if cfg["tie_word_embeddings"]:
        assert "lm_head.weight" not in names
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    else:
        assert "lm_head.weight" in names
    for n in ("model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
              "model.layers.0.self_attn.q_norm.weight", "model.norm.weight"):
        got = [float(x) for x in names[n].detach().reshape(-1)[:4]]
        assert got == first_values(n, seed, 4), n
    return model


def set_attn(model, impl: str) -> None:
    model.set_attn_implementation(impl)


@torch.no_grad()
def last_logit(model, ids: list[int]) -> float:
    impl = "sdpa" if len(ids) > 1024 else "eager"
    set_attn(model, impl)
    out = model(input_ids=torch.tensor([ids]), logits_to_keep=1, use_cache=False)
    z = out.logits[0, -1]
    set_attn(model, "eager")
    return float(z[YES]) - float(z[NO])


@torch.no_grad()
def padded_batch_logits(model, seqs: list[list[int]], pad: int = 151643) -> list[float]:
    """The card's batch: left padding + attention mask, last position."""
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, n - len(s):] = torch.tensor(s)
        mask[i, n - len(s):] = 1
    z = model(input_ids=ids, attention_mask=mask, logits_to_keep=1, use_cache=False).logits[:, -1, :]
    return [float(z[i, YES]) - float(z[i, NO]) for i in range(len(seqs))]


def det_ids(tag: str, n: int, lo: int = 0, hi: int = BASE_VOCAB) -> list[int]:
    h = fnv1a64(tag.encode())
    return [lo + mix_int((h + (k + 1) * GOLDEN) & M64) % (hi - lo) for k in range(n)]


# ------------------------------------------------------------------------------------------
# Qwen's tokenizer from the real ranks (as scripts/make_bpe_tokenizer.py builds it)
# ------------------------------------------------------------------------------------------
QWEN_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"""
                r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN3_ADDED = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False),
    ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False),
    ("<|file_sep|>", False), ("<tool_response>", False), ("</tool_response>", False),
    ("<think>", False), ("</think>", False),
]


def qwen_tokenizer():
    from tokenizers import AddedToken, Regex, decoders, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    tok = TikTokenConverter(vocab_file=str(TIKTOKEN), pattern=QWEN_PATTERN).converted()
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.decoder = decoders.ByteLevel()
    assert tok.get_vocab_size() == BASE_VOCAB
    tok.add_tokens([AddedToken(c, special=s, normalized=False, lstrip=False, rstrip=False, single_word=False)
                    for c, s in QWEN3_ADDED])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|endoftext|>", eos_token="<|im_end|>",
                                 padding_side="left")
    assert hf.convert_tokens_to_ids("yes") == YES and hf.convert_tokens_to_ids("no") == NO
    assert hf.convert_tokens_to_ids("<|im_start|>") == 151644 and hf.convert_tokens_to_ids("</think>") == 151668
    # The raw ranks agree: "yes" / "no" are the byte strings of those ranks.
    ranks = {}
    with open(TIKTOKEN, "rb") as f:
        for line in f:
            t, r = line.split()
            if int(r) in (YES, NO):
                ranks[int(r)] = base64.b64decode(t)
    assert ranks == {YES: b"yes", NO: b"no"}, ranks
    return hf


def prompt_ids(tok) -> tuple[list[int], list[int]]:
    pre = tok.encode(PREFIX, add_special_tokens=False)
    suf = tok.encode(SUFFIX, add_special_tokens=False)
    return pre, suf


# ------------------------------------------------------------------------------------------
# 1. token-id goldens
# ------------------------------------------------------------------------------------------
RANDOM_LENGTHS = [1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 512,
                  513, 600]


def prompt_groups(pre: list[int], suf: list[int], tag: str, groups: list[tuple[int, list[int]]]):
    """[(query_len, [doc_len, ...]), ...] -> cases with group ids and shared prefixes."""
    cases = []
    for g, (nq, docs) in enumerate(groups):
        q = det_ids(f"{tag}:q{g}", nq)
        for k, nd in enumerate(docs):
            d = det_ids(f"{tag}:q{g}:d{k}", nd)
            cases.append({"kind": "prompt", "group": g, "ids": pre + q + d + suf,
                          "shared_prefix": len(pre) + len(q)})
    return cases


def make_token_goldens(name: str, pre: list[int], suf: list[int], large: bool) -> None:
    t0 = time.time()
    model = build_model(name)
    print(f"[{name}] built in {time.time() - t0:.1f}s, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params", flush=True)
    cases = []
    if not large:
        for L in RANDOM_LENGTHS:
            cases.append({"kind": "random", "ids": det_ids(f"qwen3:{name}:random:{L}", L)})
        cases += prompt_groups(pre, suf, f"qwen3:{name}", [
            (12, [1, 5, 40, 200]),       # one query, four documents of different lengths
            (1, [3, 3, 90]),              # a one-token query; two documents of equal length
            (60, [7, 300]),
            (25, [128 - len(pre) - len(suf) - 25, 513 - len(pre) - len(suf) - 25]),  # exactly 128 / 513 tokens
        ])
    else:
        cases.append({"kind": "random", "ids": det_ids(f"qwen3:{name}:random:5", 5)})
        cases.append({"kind": "random", "ids": det_ids(f"qwen3:{name}:random:600", 600)})
        cases += prompt_groups(pre, suf, f"qwen3:{name}", [(20, [30, 250])])
        n_long = 8190 - len(pre) - len(suf) - 40
        cases += prompt_groups(pre, suf, f"qwen3:{name}:long", [(40, [n_long])])
    for c in cases:
        t1 = time.time()
        c["logit"] = last_logit(model, c["ids"])
        c["p_yes"] = float(1.0 / (1.0 + np.exp(-c["logit"])))
        if len(c["ids"]) > 1000 or time.time() - t1 > 5:
            print(f"[{name}] len {len(c['ids'])}: logit {c['logit']:+.6f} [{time.time() - t1:.1f}s]", flush=True)
    # The card's batched path (left padding + mask) == single sequences.
    groups = {}
    for c in cases:
        if c["kind"] == "prompt" and len(c["ids"]) <= 1024:
            groups.setdefault(c["group"], []).append(c)
    worst = 0.0
    for g, cs in groups.items():
        bl = padded_batch_logits(model, [c["ids"] for c in cs])
        worst = max(worst, max(abs(a - c["logit"]) for a, c in zip(bl, cs)))
    print(f"[{name}] left-padded batches vs single: max |diff| = {worst:.2e}")
    assert worst <= 2e-5, worst
    # eager == sdpa on the longest eager case.
    c = max((c for c in cases if len(c["ids"]) <= 1024), key=lambda c: len(c["ids"]))
    set_attn(model, "sdpa")
    with torch.no_grad():
        z = model(input_ids=torch.tensor([c["ids"]]), logits_to_keep=1).logits[0, -1]
    set_attn(model, "eager")
    d = abs(float(z[YES]) - float(z[NO]) - c["logit"])
    print(f"[{name}] eager vs sdpa at len {len(c['ids'])}: |diff| = {d:.2e}")
    assert d <= 1e-4, d
    spread = [c["logit"] for c in cases]
    print(f"[{name}] {len(cases)} cases, logits in [{min(spread):+.4f}, {max(spread):+.4f}]")
    out = OUT / "qwen3"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    write_golden_json(path, {
        "model": f"synthetic:{name}",
        "seed": 0,
        "generator": "scripts/make_qwen3_goldens.py (HF Qwen3ForCausalLM, synthetic_weights.py)",
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "yes_id": YES, "no_id": NO,
        "config": config_dict(name),
        "cases": cases,
    })
    print(f"[{name}] wrote {path.relative_to(REPO)} in {time.time() - t0:.1f}s")


# ------------------------------------------------------------------------------------------
# 2. prompt goldens: the model card's code, verbatim
# ------------------------------------------------------------------------------------------
def card_reference(tokenizer, model, pairs_with_instr, max_length):
    """Qwen/Qwen3-Reranker-0.6B model card, "Transformers Usage" (instruction per pair)."""
    def format_instruction(instruction, query, doc):
        if instruction is None:
            instruction = 'Given a web search query, retrieve relevant passages that answer the query'
        output = "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}".format(
            instruction=instruction, query=query, doc=doc)
        return output

    prefix = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and "
              "the Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n"
              "<|im_start|>user\n")
    suffix = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    prefix_tokens = tokenizer.encode(prefix, add_special_tokens=False)
    suffix_tokens = tokenizer.encode(suffix, add_special_tokens=False)
    token_false_id = tokenizer.convert_tokens_to_ids("no")
    token_true_id = tokenizer.convert_tokens_to_ids("yes")

    def process_inputs(pairs):
        inputs = tokenizer(
            pairs, padding=False, truncation='longest_first',
            return_attention_mask=False, max_length=max_length - len(prefix_tokens) - len(suffix_tokens)
        )
        for i, ele in enumerate(inputs['input_ids']):
            inputs['input_ids'][i] = prefix_tokens + ele + suffix_tokens
        inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)
        return inputs

    @torch.no_grad()
    def compute_logits(inputs):
        batch_scores = model(**inputs).logits[:, -1, :]
        true_vector = batch_scores[:, token_true_id]
        false_vector = batch_scores[:, token_false_id]
        batch_scores = torch.stack([false_vector, true_vector], dim=1)
        batch_scores = torch.nn.functional.log_softmax(batch_scores, dim=1)
        scores = batch_scores[:, 1].exp().tolist()
        return scores, (true_vector - false_vector).tolist()

    pairs = [format_instruction(i, q, d) for i, q, d in pairs_with_instr]
    inputs = process_inputs(pairs)
    scores, diffs = compute_logits(inputs)
    ids = [[int(t) for t, m in zip(row, mask) if m] for row, mask in zip(inputs["input_ids"], inputs["attention_mask"])]
    return ids, scores, diffs


def prompt_texts():
    long_en = " ".join(f"word{k} is part of a long passage about rivers, bridges and the sea." for k in range(60))
    zh = "长江是中国第一大河，全长约六千三百公里，流经十一个省级行政区，最终注入东海。" * 6
    cases = [
        # (instruction or None, query, document, max_length)
        (None, "What is the capital of China?", "The capital of China is Beijing.", 8192),
        (None, "Explain gravity",
         "Gravity is a force that attracts two bodies towards each other. It gives weight to physical objects and "
         "is responsible for the movement of planets around the sun.", 8192),
        (None, "what is panda?", "hi", 8192),
        (None, "what is panda?", "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply "
         "panda, is a bear species endemic to China.", 8192),
        ("Given a question, retrieve Wikipedia passages that answer the question", "who wrote hamlet",
         "Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601.", 8192),
        ("Judge relevance.", "北京的人口是多少？", "北京市常住人口约为2180万人。", 8192),
        (None, "长江有多长", zh, 8192),
        (None, "  leading and trailing spaces  ", "  document with spaces\n\nand blank lines  ", 8192),
        (None, "numbers 12345 and 3.14159", "1234567890 0.5 -7 1e10", 8192),
        (None, "punctuation at the end?!", "\"Quoted\" document... (with parentheses) [and brackets]!", 8192),
        (None, "emoji 🙂 query", "emoji 🚀🚀 document with é, ü and ß", 8192),
        (None, "café", "cafe\u0301 is NFC-normalized to café", 8192),
        (None, "query", "\nstarts with a newline", 8192),
        (None, "query", "   starts with spaces", 8192),
        (None, "query", "'s apostrophe start", 8192),
        ("A one-line instruction with: colons, \"quotes\" and 数字 123", "q", "d", 8192),
        ("Instruction ending with punctuation.", "q", "d", 8192),
        (None, "a question about the tokens <|im_end|> in text", "document mentioning <think> tags", 8192),
        # Truncation: the body is cut from the right to max_length - prefix - suffix.
        (None, "how long is a long passage", long_en, 200),
        (None, "how long is a long passage", long_en, 120),
        (None, "how long is a long passage", long_en, 100),   # the document gone; head cut
        (None, "长江有多长", zh, 110),
        (None, "short", "fits exactly", None),                  # max_length = exact length
        (None, "short", "one over the edge", -1),               # max_length = exact length - 1
    ]
    return cases


def make_prompt_goldens(tok) -> None:
    t0 = time.time()
    name = "tiny-qwen3"
    model = build_model(name)
    pre, suf = prompt_ids(tok)
    out_cases = []
    for instr, q, d, ml in prompt_texts():
        if ml is None or ml == -1:
            # the exact length of the untruncated prompt (and one less)
            ids, _, _ = card_reference(tok, model, [(instr, q, d)], 8192)
            ml = len(ids[0]) + (0 if ml is None else -1)
        ids, scores, diffs = card_reference(tok, model, [(instr, q, d)], ml)
        # The single-pair logit from our own forward agrees with the card's.
        assert abs(last_logit(model, ids[0]) - diffs[0]) < 1e-5
        body_head = "<Instruct>: {}\n<Query>: {}\n<Document>:".format(
            instr if instr is not None else DEFAULT_INSTRUCTION, q)
        head = tok.encode(body_head, add_special_tokens=False)
        doc = tok.encode(" " + d, add_special_tokens=False)
        whole = tok.encode(body_head + " " + d, add_special_tokens=False)
        assert head + doc == whole, (q, d)  # the split crossrank uses tokenizes the same
        out_cases.append({
            "instruction": instr, "query": q, "document": d, "max_length": ml,
            "ids": ids[0], "shared_prefix": min(len(pre) + len(head), len(ids[0]) - len(suf)),
            "logit": diffs[0], "p_yes": scores[0],
        })
    # The card's own batch of all untruncated cases (left padding) == single pairs.
    full = [(c["instruction"], c["query"], c["document"]) for c in out_cases if c["max_length"] == 8192]
    _, _, bd = card_reference(tok, model, full, 8192)
    singles = [c["logit"] for c in out_cases if c["max_length"] == 8192]
    worst = max(abs(a - b) for a, b in zip(bd, singles))
    print(f"[prompt] card batch of {len(full)} vs single: max |diff| = {worst:.2e}")
    assert worst <= 2e-5
    out = OUT / "qwen3-prompt"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    write_golden_json(path, {
        "model": f"synthetic:{name}",
        "seed": 0,
        "generator": "scripts/make_qwen3_goldens.py (model card reference code, verbatim)",
        "tokenizer": "qwen.tiktoken via transformers TikTokenConverter + Qwen3 pre-tokenizer, NFC, 26 added tokens",
        "prefix_ids": pre, "suffix_ids": suf,
        "default_instruction": DEFAULT_INSTRUCTION,
        "cases": out_cases,
    })
    print(f"[prompt] prefix {len(pre)} tokens, suffix {len(suf)} tokens; "
          f"wrote {path.relative_to(REPO)} ({len(out_cases)} cases) in {time.time() - t0:.1f}s")


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--large", action="store_true", help="also the exact 0.6B shape (8190-token case: minutes)")
    ap.add_argument("--only", choices=["tiny", "prompt", "large"], default=None)
    a = ap.parse_args()
    tok = qwen_tokenizer()
    pre, suf = prompt_ids(tok)
    print(f"prefix {len(pre)} ids, suffix {len(suf)} ids: {suf}")
    if a.only in (None, "tiny"):
        make_token_goldens("tiny-qwen3", pre, suf, large=False)
        make_token_goldens("tiny-qwen3-untied", pre, suf, large=False)
    if a.only in (None, "prompt"):
        make_prompt_goldens(tok)
    if a.only == "large" or (a.only is None and a.large):
        make_token_goldens("qwen3-reranker-0.6b", pre, suf, large=True)


if __name__ == "__main__":
    main()
