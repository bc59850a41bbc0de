#!/usr/bin/env python3
"""Goldens for the decoder reranker recipes (needs torch, transformers < 5, mxbai-rerank; CI never runs it).

    /work/gold-venv/bin/python scripts/make_decoder_goldens.py            # tiny shapes
    /work/gold-venv/bin/python scripts/make_decoder_goldens.py --large    # also mxbai-rerank-base-v2's shape

Seeded synthetic weights (scripts/synthetic_weights.py; the C++ engine rebuilds them bit for
bit) in the shapes of crossrank's synthetic:NAME (src/model/recipes.cc), fp32, eval, no_grad:
  tiny-mxbai-rerank-v2        Qwen2ForCausalLM 2 x 64, 4 / 2 heads, head_dim 16, FFN 128, tied,
                              vocab 151936 (Qwen2.5's), q/k/v biases
  tiny-qwen3-seq-cls          Qwen3ForSequenceClassification 2 x 64, 4 / 2 heads, head_dim 32, num_labels 1
  tiny-bge-reranker-v2-gemma  GemmaForCausalLM 2 x 64, 4 / 1 heads, head_dim 32 (!= 64/4), FFN 128,
                              vocab 512, hidden_act gelu_pytorch_tanh: a scaled-down Gemma (the
                              published 2B shape is too large for CI)
  mxbai-rerank-base-v2        (--large) the published Qwen2-0.5B shape, on a few token-id cases

Per model, tests/data/goldens/decoders/<model>.json holds
  * "random" / "prompt" token-id cases (logits from transformers at the last token:
    logit("1") - logit("0") for mxbai, the score head for seq-cls, logit(yes_id) for Gemma),
    with query groups so the C++ test can pack them with shared prefixes;
  * "text" cases (mxbai, seq-cls): the reference library run verbatim on (instruction, query,
    document, max_length) incl. truncation, with Qwen's byte-level BPE built from the real ranks
    (/work/shared/models/qwen3-reranker/qwen.tiktoken) as scripts/make_qwen3_goldens.py builds it:
      mxbai: mxbai_rerank.MxbaiRerankV2(folder, max_length=M).predict(...), with
             M = crossrank max_length - |prefix| - |sep + task + suffix| (crossrank's max_length
             bounds the whole prompt; the package's excludes its template);
      seq-cls: the Qwen3-Reranker model card's prompt code (as tomaarsen/Qwen3-Reranker-0.6B-seq-cls
             documents: the same prompt, the `score` head), logits from transformers'
             Qwen3ForSequenceClassification (last non-padding token).
Asserted here: left-padded batches (the references' own batching) == single sequences.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_weights import fill_model  # noqa: E402
import make_qwen3_goldens as q3  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "data" / "goldens" / "decoders"
torch.set_num_threads(int(os.environ.get("GOLDEN_THREADS", "2")))

from transformers import (GemmaConfig, GemmaForCausalLM, Qwen2Config, Qwen2ForCausalLM,  # noqa: E402
                          Qwen3Config, Qwen3ForSequenceClassification)

MXBAI_ONE, MXBAI_ZERO = 16, 15  # "1" / "0" in Qwen's byte-level vocabulary
GEMMA_YES = 300                 # the tiny Gemma's "Yes" row (token-id cases)

SHAPES = {
    # name: (class, layers, hidden, heads, kv, head_dim, inter, tied, vocab, max_pos, theta)
    "tiny-mxbai-rerank-v2": ("Qwen2ForCausalLM", 2, 64, 4, 2, 16, 128, True, 151936, 32768, 1e6),
    "mxbai-rerank-base-v2": ("Qwen2ForCausalLM", 24, 896, 14, 2, 64, 4864, True, 151936, 32768, 1e6),
    "tiny-qwen3-seq-cls": ("Qwen3ForSequenceClassification", 2, 64, 4, 2, 32, 128, False, 151669, 40960, 1e6),
    "tiny-bge-reranker-v2-gemma": ("GemmaForCausalLM", 2, 64, 4, 1, 32, 128, True, 512, 8192, 1e4),
}


def config_dict(name: str) -> dict:
    cls, L, H, nh, kv, D, I, tied, V, P, theta = SHAPES[name]
    c = {"architectures": [cls], "hidden_size": H, "intermediate_size": I, "num_hidden_layers": L,
         "num_attention_heads": nh, "num_key_value_heads": kv, "max_position_embeddings": P,
         "rms_norm_eps": 1e-06, "rope_theta": theta, "tie_word_embeddings": tied, "vocab_size": V,
         "torch_dtype": "float32", "use_cache": False, "attention_dropout": 0.0}
    if cls.startswith("Qwen2"):
        c.update(model_type="qwen2", hidden_act="silu", use_sliding_window=False, sliding_window=None,
                 max_window_layers=L, bos_token_id=151643, eos_token_id=151645)
    elif cls.startswith("Qwen3"):
        c.update(model_type="qwen3", hidden_act="silu", head_dim=D, attention_bias=False, use_sliding_window=False,
                 sliding_window=None, max_window_layers=L, pad_token_id=151643, num_labels=1,
                 id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})
    else:
        c.update(model_type="gemma", hidden_act="gelu_pytorch_tanh", head_dim=D, attention_bias=False,
                 bos_token_id=2, eos_token_id=1, pad_token_id=0)
    return c


def build_model(name: str, seed: int = 0):
    d = config_dict(name)
    cfg = {k: v for k, v in d.items() if k not in ("architectures", "model_type", "torch_dtype")}
    cls = d["architectures"][0]
    if cls == "Qwen2ForCausalLM":
        model = Qwen2ForCausalLM(Qwen2Config(**cfg))
    elif cls == "Qwen3ForSequenceClassification":
        model = Qwen3ForSequenceClassification(Qwen3Config(**cfg))
    else:
        model = GemmaForCausalLM(GemmaConfig(**cfg))
    model = model.to(torch.float32)
    model.config._attn_implementation = "eager"
    fill_model(model, seed)
    model.eval()
    return model


def score_of(name: str, out_logits) -> torch.Tensor:
    """The recipe's score from [B, V] last-token logits (or [B, 1] seq-cls logits)."""
    if name.startswith("tiny-qwen3-seq-cls"):
        return out_logits[:, 0]
    if "gemma" in name:
        return out_logits[:, GEMMA_YES]
    return out_logits[:, MXBAI_ONE] - out_logits[:, MXBAI_ZERO]


@torch.no_grad()
def single_logit(model, name: str, ids: list[int]) -> float:
    out = model(input_ids=torch.tensor([ids]), use_cache=False).logits
    z = out if out.dim() == 2 else out[:, -1, :]
    return float(score_of(name, z)[0])


@torch.no_grad()
def padded_logits(model, name: str, seqs: list[list[int]], pad: int) -> list[float]:
    """Left padding + attention mask (mxbai-rerank's and the Qwen3 card's batches)."""
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, n - len(s):] = torch.tensor(s)
        mask[i, n - len(s):] = 1
    out = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    z = out if out.dim() == 2 else out[:, -1, :]
    return [float(x) for x in score_of(name, z)]


def token_cases(name: str, model, vocab_hi: int, pre: list[int], post: list[int], large: bool) -> list[dict]:
    det = lambda tag, n: q3.det_ids(f"{name}:{tag}", n, 3, vocab_hi)  # noqa: E731
    cases = []
    lengths = [5, 600] if large else [1, 2, 3, 7, 16, 17, 31, 33, 64, 65, 128, 257, 300]
    for L in lengths:
        cases.append({"kind": "random", "ids": det(f"random:{L}", L)})
    groups = [(20, [30, 250])] if large else [(12, [1, 5, 40, 200]), (1, [3, 3, 90]), (60, [7, 300])]
    for g, (nq, docs) in enumerate(groups):
        q = det(f"q{g}", nq)
        for k, nd in enumerate(docs):
            cases.append({"kind": "prompt", "group": g, "ids": pre + q + det(f"q{g}:d{k}", nd) + post,
                          "shared_prefix": len(pre) + nq})
    for c in cases:
        c["logit"] = single_logit(model, name, c["ids"])
    # Left-padded batches of each group == single sequences.
    worst = 0.0
    for g in {c["group"] for c in cases if c["kind"] == "prompt"}:
        cs = [c for c in cases if c.get("group") == g]
        got = padded_logits(model, name, [c["ids"] for c in cs], pad=0)
        worst = max(worst, max(abs(a - c["logit"]) for a, c in zip(got, cs)))
    print(f"[{name}] {len(cases)} token cases; left-padded batch vs single: max |diff| {worst:.2e}", flush=True)
    assert worst <= 2e-5, worst
    return cases


def text_pairs():
    long_en = " ".join(f"word{k} is part of a long passage about rivers, bridges and the sea." for k in range(60))
    zh = "长江是中国第一大河，全长约六千三百公里，流经十一个省级行政区，最终注入东海。" * 6
    return [
        # (instruction or None, query, document, crossrank max_length)
        (None, "What is the capital of China?", "The capital of China is Beijing.", 8192),
        (None, "what is panda?", "The giant panda (Ailuropoda melanoleuca) is a bear species endemic to China.", 8192),
        ("Given a question, retrieve Wikipedia passages that answer the question", "who wrote hamlet",
         "Hamlet is a tragedy written by William Shakespeare sometime between 1599 and 1601.", 8192),
        (None, "长江有多长", zh, 8192),
        (None, "emoji 🙂 query", "emoji 🚀🚀 document with é, ü and ß", 8192),
        (None, "  spaces  ", "  document with spaces\n\nand blank lines  ", 8192),
        # Truncation: the document cut, then the query capped at 3/4 of the reference's max_length.
        (None, "how long is a long passage", long_en, 300),
        (None, "how long is a long passage", long_en, 160),
        ("A long instruction " * 20, "a query that is long enough " * 8, long_en, 160),
        (None, "长江有多长" * 20, zh, 150),
    ]


def mxbai_text_cases(model, tok) -> tuple[list[dict], dict]:
    from mxbai_rerank import MxbaiRerankV2
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d, safe_serialization=True)
        tok.save_pretrained(d)
        ref = MxbaiRerankV2(d, device="cpu", torch_dtype=torch.float32, max_length=8192)
        pre = ref.chat_template_prefix_inputs
        post = ref.sep_inputs + ref.task_prompt_inputs + ref.chat_template_suffix_inputs
        cases = []
        for instr, q, doc, L in text_pairs():
            M = L - len(pre) - len(post)
            r = MxbaiRerankV2(d, device="cpu", torch_dtype=torch.float32, max_length=M)
            inputs = r.prepare_inputs([q], [doc], instruction=instr)
            ids = [int(t) for t, m in zip(inputs["input_ids"][0], inputs["attention_mask"][0]) if m]
            logit = float(r.predict([q], [doc], instruction=instr)[0])
            assert len(ids) <= L, (len(ids), L)
            cases.append({"kind": "text", "instruction": instr, "query": q, "document": doc, "max_length": L,
                          "ids": ids, "logit": logit})
        # The package's own batch (left padding to a multiple of 8) == single pairs.
        full = [c for c in cases if c["max_length"] == 8192 and c["instruction"] is None]
        got = ref.predict([c["query"] for c in full], [c["document"] for c in full])
        worst = max(abs(float(a) - c["logit"]) for a, c in zip(got, full))
        print(f"[mxbai text] {len(cases)} cases; package batch vs single: max |diff| {worst:.2e}", flush=True)
        assert worst <= 2e-5
        return cases, {"prefix_ids": pre, "post_ids": post}


def seq_cls_text_cases(model, tok) -> list[dict]:
    cases = []
    for instr, q, doc, L in text_pairs():
        ids, _, _ = q3.card_reference(tok, _LastLogits(model), [(instr, q, doc)], L)
        logit = single_logit(model, "tiny-qwen3-seq-cls", ids[0])
        if L == 8192:
            # tomaarsen's documented split (query part / document part, concatenated) tokenizes the same.
            inst = instr if instr is not None else q3.DEFAULT_INSTRUCTION
            a = tok.encode(f"{q3.PREFIX}<Instruct>: {inst}\n<Query>: {q}\n", add_special_tokens=False)
            b = tok.encode(f"<Document>: {doc}{q3.SUFFIX}", add_special_tokens=False)
            assert a + b == ids[0], q
        cases.append({"kind": "text", "instruction": instr, "query": q, "document": doc, "max_length": L,
                      "ids": ids[0], "logit": logit})
    return cases


class _LastLogits(torch.nn.Module):
    """card_reference() calls model(**inputs).logits[:, -1, :]: give it the seq-cls logit there."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, **_):
        z = self.m(input_ids=input_ids, attention_mask=attention_mask).logits  # [B, 1]
        out = torch.zeros(z.shape[0], 1, q3.BASE_VOCAB + 26)
        out[:, -1, q3.YES] = z[:, 0]
        return type("O", (), {"logits": out})()


GEMMA_FOLDER = REPO / "tests" / "data" / "models" / "tiny-bge-reranker-v2-gemma"
FLAG_PROMPT = ("Given a query A and a passage B, determine whether the passage contains an answer to the query by "
               "providing a prediction of either 'Yes' or 'No'.")


def gemma_tokenizer():
    """A small SentencePiece-style BPE as Gemma's tokenizer.json has it: normalizer Replace(" ", "▁"),
    no pre-tokenizer, byte_fallback with <0x00>..<0xFF> in the model vocabulary (not added tokens),
    <pad> <eos> <bos> <unk> at 0..3; merges trained here on a few English / Chinese lines."""
    import json as _json
    from tokenizers import Tokenizer, models, normalizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<0x{b:02X}>" for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    corpus = [p[1] + " " + p[2] for p in text_pairs()] + [FLAG_PROMPT] * 20 + ["Yes No Yes No A: B: query passage"] * 50
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    j = _json.loads(tok.to_str())
    j["added_tokens"] = [a for a in j["added_tokens"] if not a["content"].startswith("<0x")]
    j["pre_tokenizer"] = None
    j["post_processor"] = None
    j["decoder"] = None
    tok = Tokenizer.from_str(_json.dumps(j))
    assert tok.get_vocab_size() <= 512
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                 unk_token="<unk>")
    assert len(hf("Yes", add_special_tokens=False)["input_ids"]) == 1
    return hf


def flag_llm_ids(tok, q: str, p: str, M: int, prompt: str) -> list[int]:
    """FlagLLMReranker.compute_score_single_gpu's ids (base.py), for the record."""
    qi = tok("A: " + q, add_special_tokens=False, max_length=M * 3 // 4, truncation=True)["input_ids"]
    pi = tok("B: " + p, add_special_tokens=False, max_length=M, truncation=True)["input_ids"]
    sep = tok("\n", add_special_tokens=False)["input_ids"]
    pr = tok(prompt, add_special_tokens=False)["input_ids"]
    item = tok.prepare_for_model([tok.bos_token_id] + qi, sep + pi, truncation="only_second",
                                 max_length=M + len(sep) + len(pr), padding=False, return_attention_mask=False,
                                 return_token_type_ids=False, add_special_tokens=False)
    return item["input_ids"] + sep + pr


def gemma_text_cases(model, name: str) -> tuple[list[dict], dict]:
    """The folder tests/data/models/tiny-bge-reranker-v2-gemma (weights, config, tokenizer) and
    FlagEmbedding's FlagLLMReranker run on it."""
    from FlagEmbedding import FlagLLMReranker
    tok = gemma_tokenizer()
    yes = tok("Yes", add_special_tokens=False)["input_ids"][0]
    GEMMA_FOLDER.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(GEMMA_FOLDER, safe_serialization=True)
    tok.save_pretrained(GEMMA_FOLDER)
    for extra in ("generation_config.json",):
        (GEMMA_FOLDER / extra).unlink(missing_ok=True)
    ref = FlagLLMReranker(str(GEMMA_FOLDER), use_fp16=False, devices="cpu", batch_size=16)
    post = tok("\n", add_special_tokens=False)["input_ids"] + tok(FLAG_PROMPT, add_special_tokens=False)["input_ids"]
    cases = []
    for instr, q, doc, L in text_pairs():
        prompt = instr if instr is not None else FLAG_PROMPT
        post_len = 1 + len(tok(prompt, add_special_tokens=False)["input_ids"])
        M = L - 2 * post_len
        if M < 16:  # the instruction (FlagLLMReranker's prompt) alone nearly fills max_length
            continue
        s = ref.compute_score([(q, doc)], max_length=M, prompt=prompt, normalize=False)
        s = float(s[0] if isinstance(s, list) else s)
        ids = flag_llm_ids(tok, q, doc, M, prompt)
        # The ids recorded are the ones FlagLLMReranker scored (same logit from a direct forward).
        model.config.pad_token_id = 0
        with torch.no_grad():
            direct = float(model(input_ids=torch.tensor([ids])).logits[0, -1, yes])
        assert abs(direct - s) < 1e-5, (direct, s)
        assert len(ids) <= L, (len(ids), L)
        cases.append({"kind": "text", "instruction": instr, "query": q, "document": doc, "max_length": L,
                      "ids": ids, "logit": s})
    full = [c for c in cases if c["max_length"] == 8192 and c["instruction"] is None]
    got = ref.compute_score([(c["query"], c["document"]) for c in full], max_length=8192 - 2 * len(post))
    worst = max(abs(float(a) - c["logit"]) for a, c in zip(got, full))
    print(f"[gemma text] {len(cases)} cases; FlagLLMReranker batch vs single: max |diff| {worst:.2e}", flush=True)
    assert worst <= 2e-5
    return cases, {"folder": str(GEMMA_FOLDER.relative_to(REPO)), "yes_id": yes}


def write(name: str, model_cfg: dict, extra: dict, cases: list[dict]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    obj = {"model": f"synthetic:{name}", "seed": 0,
           "generator": "scripts/make_decoder_goldens.py (transformers, synthetic_weights.py)",
           "transformers": __import__("transformers").__version__, "torch": torch.__version__,
           "config": model_cfg, **extra, "cases": cases}
    q3.write_golden_json(OUT / f"{name}.json", obj)
    print(f"[{name}] wrote {(OUT / (name + '.json')).relative_to(REPO)}", flush=True)


def _tiktoken_shim() -> None:
    """transformers' TikTokenConverter imports tiktoken.load.load_tiktoken_bpe only to read the
    ranks file (base64 token, rank per line); the golden venv has no tiktoken, so read it here.
    (transformers 4.57's converter also needs additional_special_tokens to be a list.)"""
    import importlib
    cst = importlib.import_module("transformers.convert_slow_tokenizer")
    init = cst.TikTokenConverter.__init__

    def patched(self, *args, **kwargs):
        kwargs.setdefault("additional_special_tokens", [])
        init(self, *args, **kwargs)

    cst.TikTokenConverter.__init__ = patched
    try:
        import tiktoken.load  # noqa: F401
        return
    except ImportError:
        pass
    import base64
    import types

    def load_tiktoken_bpe(path, expected_hash=None):
        with open(path, "rb") as f:
            return {base64.b64decode(t): int(r) for t, r in (line.split() for line in f if line.strip())}

    pkg, mod = types.ModuleType("tiktoken"), types.ModuleType("tiktoken.load")
    mod.load_tiktoken_bpe = load_tiktoken_bpe
    pkg.load = mod
    sys.modules["tiktoken"], sys.modules["tiktoken.load"] = pkg, mod


def main():
    _tiktoken_shim()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--only", default=None)
    a = ap.parse_args()
    tok = q3.qwen_tokenizer()
    names = ["tiny-mxbai-rerank-v2", "tiny-qwen3-seq-cls", "tiny-bge-reranker-v2-gemma"]
    if a.large:
        names.append("mxbai-rerank-base-v2")
    if a.only:
        names = [n for n in names if n == a.only]
    for name in names:
        t0 = time.time()
        model = build_model(name)
        extra = {}
        if "mxbai" in name:
            from mxbai_rerank import MxbaiRerankV2
            pre = tok.encode(MxbaiRerankV2.chat_template["prefix"], add_special_tokens=False)
            post = (tok.encode("\n", add_special_tokens=False) + tok.encode(MxbaiRerankV2.task_prompt, add_special_tokens=False)
                    + tok.encode(MxbaiRerankV2.chat_template["suffix"], add_special_tokens=False))
            cases = token_cases(name, model, q3.BASE_VOCAB, pre, post, large=(name == "mxbai-rerank-base-v2"))
            extra = {"score_ids": [MXBAI_ZERO, MXBAI_ONE]}
            if name.startswith("tiny"):
                tc, parts = mxbai_text_cases(model, tok)
                cases += tc
                extra.update(parts)
        elif "seq-cls" in name:
            pre, post = q3.prompt_ids(tok)
            cases = token_cases(name, model, q3.BASE_VOCAB, pre, post, large=False) + seq_cls_text_cases(model, tok)
        else:
            cases = token_cases(name, model, 512, [2], [], large=False)
            extra = {"score_ids": [GEMMA_YES]}
            tc, more = gemma_text_cases(model, name)
            cases += tc
            extra.update(more)
        write(name, config_dict(name), extra, cases)
        print(f"[{name}] done in {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
