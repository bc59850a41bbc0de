#!/usr/bin/env python3
"""Builds the Qwen3 byte-level BPE tokenizer files from the real Qwen ranks (qwen.tiktoken).

Input : /work/shared/models/qwen3-reranker/qwen.tiktoken (151,643 lines `base64(bytes) rank`).
Method: transformers' TikTokenConverter (transformers.convert_slow_tokenizer) turns the ranks
        into a HF BPE model (vocab = ranks, merges = every split of a token into two tokens,
        ordered by the rank of the result, then by the ranks of the two halves; it sets
        ignore_merges = true, which is tiktoken's "a whole piece in the vocabulary is one
        token" rule). On top of that, as Qwen3's published tokenizer.json has them:
          normalizer     NFC
          pre_tokenizer  Sequence[Split(Qwen regex, Isolated), ByteLevel(add_prefix_space
                         false, trim_offsets false, use_regex false)]
          post_processor ByteLevel(trim_offsets false), decoder ByteLevel
          added_tokens   the 26 Qwen3 tokens 151643..151668 below (all normalized=false;
                         151643..151656 special=true, 151657..151668 special=false).
        The list and flags were checked against a public copy of Qwen3's tokenizer_config.json
        and tokenizer.json (Qwen3-4B, the tokenizer Qwen3-Reranker shares): see
        tests/data/tokenizers/qwen-bpe/README.md.

Outputs (tests/data/tokenizers/qwen-bpe/):
  qwen3.tokenizer-skeleton.json   committed: the tokenizer.json without model.vocab and
                                  model.merges (what load_bpe_tiktoken() reads next to the
                                  .tiktoken file).
  local/tokenizer.json            NOT committed (~11 MB, gitignored): the full tokenizer.json.
  local/vocab.json, local/merges.txt, local/tokenizer_config.json
                                  NOT committed: the same tokenizer as a "slow" Qwen2 folder
                                  (checks load_tokenizer's vocab.json + merges.txt path).
  small/tokenizer.json            committed: the same pipeline over the first SMALL_VOCAB
                                  ranks only (a reduced vocabulary; added tokens follow at
                                  SMALL_VOCAB...), for the tokenizer.json loader in CI.
  small-slow/{vocab.json,merges.txt,tokenizer_config.json}
                                  committed: the small tokenizer as a slow Qwen2 folder.

Usage: .venv/bin/python scripts/make_bpe_tokenizer.py   (from the repo root; ~1 min)
Needs: pip install tokenizers transformers tiktoken (no torch).
"""
import base64
import json
import os
import sys

from tokenizers import AddedToken, Regex, normalizers, pre_tokenizers
from transformers.convert_slow_tokenizer import TikTokenConverter, bytes_to_unicode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
TIKTOKEN = os.path.join(SHARED, "models", "qwen3-reranker", "qwen.tiktoken")
OUT = os.path.join(ROOT, "tests", "data", "tokenizers", "qwen-bpe")
SMALL_VOCAB = 6000

QWEN_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"""
                r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")

# (content, special) in id order from 151643; every one has normalized=false, lstrip=false,
# rstrip=false, single_word=false.
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


def read_ranks(path, limit=None):
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            tok, rank = line.split()
            rank = int(rank)
            if limit is not None and rank >= limit:
                continue
            ranks[base64.b64decode(tok)] = rank
    return ranks


def write_tiktoken(ranks, path):
    with open(path, "wb") as f:
        for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(tok) + b" " + str(rank).encode() + b"\n")


def build(tiktoken_path):
    """The HF tokenizer for the ranks in `tiktoken_path`, with the Qwen3 pipeline."""
    tok = TikTokenConverter(vocab_file=tiktoken_path, pattern=QWEN_PATTERN).converted()
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    base = tok.get_vocab_size()
    tok.add_tokens([AddedToken(c, special=s, normalized=False, lstrip=False, rstrip=False, single_word=False)
                    for c, s in QWEN3_ADDED])
    for k, (c, _) in enumerate(QWEN3_ADDED):
        assert tok.token_to_id(c) == base + k, (c, tok.token_to_id(c))
    return tok


def save_as_real(tok, path, compact=False):
    """Saves `tok`, with post_processor / decoder spelled as Qwen3's tokenizer.json has them
    (the Python constructors keep other defaults; neither affects the ids)."""
    tok.save(path)
    j = json.load(open(path, encoding="utf-8"))
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    j["post_processor"] = dict(byte_level)
    j["decoder"] = dict(byte_level)
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(j, f, ensure_ascii=False, separators=(",", ":"))
        else:
            json.dump(j, f, ensure_ascii=False, indent=2)
    return j


def save_slow_folder(tok_json, folder):
    """vocab.json + merges.txt + tokenizer_config.json, as Qwen's model folders ship them."""
    os.makedirs(folder, exist_ok=True)
    model = tok_json["model"]
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(model["vocab"], f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in model["merges"]:
            f.write((m if isinstance(m, str) else " ".join(m)) + "\n")
    decoder = {}
    for a in tok_json["added_tokens"]:
        decoder[str(a["id"])] = {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                   "single_word", "special")}
    cfg = {
        "add_prefix_space": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": [c for c, s in QWEN3_ADDED if s and c != "<|endoftext|>"],
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 131072,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=2)


def main():
    if not os.path.exists(TIKTOKEN):
        sys.exit(f"missing {TIKTOKEN}")
    os.makedirs(os.path.join(OUT, "local"), exist_ok=True)
    with open(os.path.join(OUT, ".gitignore"), "w") as f:
        f.write("# Full-vocabulary files written by scripts/make_bpe_tokenizer.py (~11 MB, not committed)\nlocal/\n")

    full = build(TIKTOKEN)
    full_path = os.path.join(OUT, "local", "tokenizer.json")
    j = save_as_real(full, full_path)
    print(f"full: vocab {len(j['model']['vocab'])}, merges {len(j['model']['merges'])}, "
          f"added {len(j['added_tokens'])}, ignore_merges {j['model'].get('ignore_merges')}")
    save_slow_folder(j, os.path.join(OUT, "local"))

    skeleton = dict(j)
    skeleton["model"] = {k: v for k, v in j["model"].items() if k not in ("vocab", "merges")}
    with open(os.path.join(OUT, "qwen3.tokenizer-skeleton.json"), "w", encoding="utf-8") as f:
        json.dump(skeleton, f, ensure_ascii=False, indent=2)
        f.write("\n")

    small_tt = os.path.join(OUT, "local", "qwen-small.tiktoken")
    write_tiktoken(read_ranks(TIKTOKEN, SMALL_VOCAB), small_tt)
    small = build(small_tt)
    os.makedirs(os.path.join(OUT, "small"), exist_ok=True)
    small_path = os.path.join(OUT, "small", "tokenizer.json")
    sj = save_as_real(small, small_path, compact=True)  # one line: data, not for reading
    print(f"small: vocab {len(sj['model']['vocab'])}, merges {len(sj['model']['merges'])}")
    save_slow_folder(sj, os.path.join(OUT, "small-slow"))
    # Sanity: the byte-level alphabet is complete in both vocabularies.
    alphabet = set(bytes_to_unicode().values())
    assert alphabet <= set(sj["model"]["vocab"]), "small vocab lacks byte tokens"


if __name__ == "__main__":
    main()
