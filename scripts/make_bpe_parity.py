#!/usr/bin/env python3
"""Builds the byte-level BPE (Qwen3) parity data used by tests/tokenizer/tokenizer_bpe_test.cc.

Inputs : tests/data/tokenizers/qwen-bpe/local/tokenizer.json, small/tokenizer.json,
         small-slow/ (from scripts/make_bpe_tokenizer.py) and /work/shared/data.
Outputs (tests/data/tokenizers/qwen-bpe/):
  parity.jsonl   >= 10,000 texts, ground truth = HF `tokenizers`
                 Tokenizer.from_file(local/tokenizer.json).encode(text, add_special_tokens=False).ids
                   {"cat": str, "text": str, "ids": [int]}           short texts
                   {"cat": str, "text": str, "n": int, "fnv": "hex"}  longer texts (ids hashed)
                   {"cat": "file", "file": "rel/path under shared/data", "offset": int, "bytes": int,
                    "n", "fnv"}                                       a byte range of a shared file
                   {"cat": "repeat", "unit": str, "count": int, "n", "fnv"}  unit * count
                 fnv = FNV-1a-64 over the ids as little-endian int32 bytes, 16 lowercase hex digits.
  variants.jsonl pipeline variants of small/tokenizer.json (reduced vocabulary, committed):
                   {"name", "patch": {key: value}, "cases": [{"text", "ids"}]}
                 `patch` keys: a top-level tokenizer.json key (replaced), "model.<field>"
                 (replaced), "model.merges_as_strings": true (merges written "a b");
                 or {"name", "tokenizer": <a whole tokenizer.json>, "cases"};
                 or {"name": "slow-folder", "folder": "small-slow", "cases"}: ids from
                 transformers AutoTokenizer.from_pretrained(folder) (no tokenizer.json there).
  unicode.json   per-code-point checks: "classes" = run-length [[first_cp, "L"|"N"|"S"|"O"], ...]
                 of the Qwen2 split regex classes as HF's Oniguruma sees them (derived from
                 HF's splits); "nfc_blocks" = {block: fnv} with, per block of 4096 code points,
                 FNV-1a-64 over the UTF-8 of HF NFC(probe) + b"\\xff" for the probes of every
                 code point c (surrogates skipped), in order:
                   c, "A"+c, c+U+0301, U+1100+c, c+U+0323+U+0302, HF_NFD(c)
Printed (statistics, not expectations): how often tiktoken itself (the library the ranks come
from) disagrees with the HF ids, and how often ignore_merges=false would change them.

Deterministic: random.Random(SEED); fixed file order.
Usage: .venv/bin/python scripts/make_bpe_parity.py [--derive-tables]   (repo root; ~3 min)
  --derive-tables  also prints the code points whose HF regex class differs from utf8proc's
                   (the kNewLetters / kNewNumbers tables of src/tokenizer/pre_tokenizer.cc).
"""
import base64
import ctypes
import json
import os
import random
import struct
import sys

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
DATA = os.path.join(SHARED, "data")
OUT = os.path.join(ROOT, "tests", "data", "tokenizers", "qwen-bpe")
TIKTOKEN = os.path.join(SHARED, "models", "qwen3-reranker", "qwen.tiktoken")
SEED = 20251129
IDS_MAX_BYTES = 200  # longer texts store n + fnv instead of the ids
REPEATS = [(" ", 100000), ("a", 200000), ("1", 50000), ("\r\n", 30000), ("\u4e2d", 50000), (" \u3000", 20000)]
QWEN_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"""
                r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
ADDED = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
         "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
         "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
         "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
         "<tool_response>", "</tool_response>", "<think>", "</think>"]
PREFIX = ("<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
          "Instruct provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n")
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
INSTRUCTIONS = ["Given a web search query, retrieve relevant passages that answer the query",
                "Given a question, retrieve Wikipedia passages that answer the question",
                "给定一个中文问题，检索能够回答该问题的段落", "Retrieve code that fixes the bug's root cause"]

rng = random.Random(SEED)


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for i in ids:
        for b in struct.pack("<i", i):
            h ^= b
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def fnv_bytes(h, data):
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def sample(lst, k):
    return rng.sample(lst, min(k, len(lst)))


def squad(path):
    paras, qs = [], []
    for art in json.load(open(path, encoding="utf-8"))["data"]:
        for p in art["paragraphs"]:
            paras.append(p["context"])
            qs.extend(q["question"] for q in p["qas"])
    return paras, qs


def slices(text, k, lo, hi):
    out = []
    for _ in range(k):
        n = rng.randint(lo, hi)
        start = rng.randrange(0, max(1, len(text) - n))
        out.append(text[start:start + n])
    return out


def rand_cp_string(n, pools):
    s = []
    for _ in range(n):
        lo, hi = rng.choice(pools)
        c = rng.randint(lo, hi)
        if 0xD800 <= c <= 0xDFFF:
            c = 0x20
        s.append(chr(c))
    return "".join(s)


def synthetic():
    out = []
    ws = [" ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\n\n", " \n", "\u3000", "\u00a0", "\u2028", "\u0085",
          "\x0b", "\x0c", "\u2003", "\u202f", " \t ", "\r\n\r\n", "          "]
    words = ["hello", "World", "你好", "世界", "123", "3.14", "a", "I", "don't", "$5", "...", "!!", "->", "😀",
             "naïve", "Ελλάδα", "Москва", "日本語", "한국어", "<tag>", "x=1;", "'s", "'LL", "e\u0301"]
    for _ in range(700):
        k = rng.randint(1, 8)
        out.append(("whitespace", "".join(rng.choice(ws) + rng.choice(words) for _ in range(k)) +
                    (rng.choice(ws) if rng.random() < 0.5 else "")))
    for n in range(1, 25):
        for tail in ["x", "1", "!", "\n", "", "中", "\t"]:
            out.append(("spaces", " " * n + tail))
            out.append(("spaces", "a" + " " * n + tail))
    contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'lL",
                    "'D", "'ſ", "'ſt", "'x", "''", "'", "'st", "'rea", "'lla", "'dd", "'1", "' s", "'中"]
    subjects = ["I", "you", "He", "THEY", "it", "we", "O", "rock", "don", "can", "", " ", "'", "x"]
    for s in subjects:
        for c in contractions:
            out.append(("contractions", s + c + rng.choice(["", " ok", "!", "s", "\n", "1"])))
    nums = ["0", "12345", "3.14159", "1,000,000", "٣٤٥", "²³", "Ⅻ", "½", "१२३", "abc123def", "v1.2.3",
            "1e-10", "0x1F", "٫", "１２３", "𝟙𝟚", "⑩", "2024年11月29日", "$1,234.56", "-42", "+7 (495) 123-45-67"]
    for _ in range(300):
        out.append(("numbers", " ".join(rng.choice(nums) for _ in range(rng.randint(1, 5)))))
    code = [
        "def f(x):\n    return x ** 2  # square\n",
        "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n",
        "{\"key\": [1, 2, {\"nested\": null}], \"s\": \"a\\nb\"}",
        "<html>\n  <body class=\"main\">Hello &amp; welcome</body>\n</html>",
        "SELECT * FROM users WHERE name = 'O''Brien';",
        "#include <vector>\nint main() { std::vector<int> v{1,2,3}; }\r\n",
        "    if (a && b || !c) { x <<= 2; y >>= 3; }\n\n\n",
        "const re = /^[a-z]+$/i; console.log(`tpl ${x}`);",
        "pip install tokenizers==0.23.3 && echo 'done'",
        "x = [i for i in range(10) if i % 2 == 0]\t\t# comment\r\n",
    ]
    for _ in range(300):
        k = rng.randint(1, 3)
        out.append(("code", "".join(rng.choice(code) for _ in range(k))))
    emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇨🇳", "🇺🇸", "1️⃣", "❤️", "🏳️‍🌈", "🤖", "🧑‍💻", "☺", "✨", "🫠", "🀄", "🎉🎉🎉"]
    for _ in range(300):
        parts = [rng.choice(emoji + words) for _ in range(rng.randint(1, 6))]
        out.append(("emoji", rng.choice(["", " "]).join(parts)))
    edge = ["e\u0301", "a\u0301\u0323", "a\u0323\u0301", "\u1100\u1161\u11a8", "\u1100\u1161", "\uac00\u11a8",
            "\u212b", "\u2126", "\u212a", "\u0344", "\u0f73", "\u0915\u093c", "\u0958", "\uf900", "\ufa10",
            "\u1e9b\u0323", "\u0041\u030a\u0301", "\u00c5\u0301", "\u03b1\u0301", "\u1f71", "\u0390",
            "\U0001d15e", "\U0001d160", "\u0b47\u0b3e", "\u0dd9\u0dcf\u0dca", "\U00011099\U000110ba",
            "\U00011935\U00011930", "\U00011938", "\ufffd", "\x00", "\x01\x02\x1f", "\x7f", "\u200b",
            "\u200c\u200d", "\ufeff", "\u202e\u202d", "\ue000", "\U000f0000", "\ufffe", "\U0010ffff",
            "\U000105c0", "\U0002ebf0", "\U00010d40", "\U00020000", "\U00031350", "\U00011f00", "\u0600",
            "\u00ad", "\u034f", "\u180e", "\u1dfa", "\u0c3c", "Å", "Å", "ǅ", "ß", "ẞ", "İ", "ı", "ſ", "ﬁ",
            "ﬆ", "Ꭰ", "ꭰ", "\u0301", "\u0301\u0301", " \u0301", "\n\u0301", "中\u0301", "1\u0301",
            "\u0669\u0301", "ก่ำ", "ཀྵ", "\u0300\u0316\u0301\u0317"]
    for _ in range(500):
        parts = [rng.choice(edge + words) for _ in range(rng.randint(1, 6))]
        out.append(("unicode", rng.choice(["", " ", "\n"]).join(parts)))
    pools = [(0x20, 0x7e), (0xa0, 0x24f), (0x300, 0x36f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff),
             (0x900, 0xdff), (0xe00, 0xeff), (0x1100, 0x11ff), (0x1e00, 0x1fff), (0x2000, 0x206f),
             (0x2100, 0x2bff), (0x3000, 0x30ff), (0x3400, 0x9fff), (0xac00, 0xd7a3), (0xf900, 0xfaff),
             (0xfe00, 0xffff), (0x10000, 0x1ffff), (0x1f300, 0x1faff), (0x20000, 0x323af), (0xe0000, 0xe01ef),
             (0x9, 0xd)]
    for _ in range(1200):
        out.append(("random-cp", rand_cp_string(rng.randint(1, 30), pools)))
    printable = [chr(c) for c in range(0x20, 0x7f)] + ["\n", "\t", "\r"]
    for _ in range(400):
        out.append(("random-ascii", "".join(rng.choice(printable) for _ in range(rng.randint(1, 60)))))
    for tok in ADDED:
        for ctx in ["{}", "a{}b", " {} ", "{}{}", "\n{}\n", "x {}y", "中{}文", "{}\u0301", "e{}\u0301", "<{}>",
                    "{}<|im_end", "<|im_{}", "'s{}'s"]:
            out.append(("added", ctx.replace("{}", tok)))
    partial = ["<|im_start", "<|im_start|", "im_start|>", "<|IM_START|>", "< |im_start|>", "<think", "</think",
               "<|endoftext|><|endoftext|>", "<<|im_end|>>", "<|<|im_start|>|>", "<|fim_prefix|>def f():",
               "<tool_call>\n{\"name\": \"f\"}\n</tool_call>"]
    for p in partial:
        out.append(("added", p))
    return out


def reranker_prompts(queries, docs):
    out = []
    for _ in range(300):
        q, d, ins = rng.choice(queries), rng.choice(docs), rng.choice(INSTRUCTIONS)
        body = f"<Instruct>: {ins}\n<Query>: {q}\n<Document>: {d}"
        r = rng.random()
        if r < 0.5:
            out.append(("prompt", PREFIX + body + SUFFIX))
        elif r < 0.8:
            out.append(("prompt-body", body))
        else:
            out.append(("prompt", PREFIX + body[: rng.randint(0, len(body))] + SUFFIX))
    out.append(("prompt", PREFIX))
    out.append(("prompt", SUFFIX))
    for w in ["yes", "no", " yes", " no", "Yes", "No", "\"yes\"", "yes.", "no\n"]:
        out.append(("prompt", w))
    return out


def build_texts():
    texts = []
    corpus = [json.loads(l)["text"] for l in open(os.path.join(DATA, "msmarco-trecdl-subset", "corpus.jsonl"))]
    queries = [json.loads(l)["text"] for l in open(os.path.join(DATA, "msmarco-trecdl-subset", "queries.jsonl"))]
    texts += [("msmarco", t) for t in sample(corpus, 1300)] + [("msmarco-q", q) for q in queries]
    wq, ws = set(), []
    for path in ["WikiQA-dev.tsv", "WikiQA-test-gold.tsv"]:
        for line in read(os.path.join(DATA, "wikiqa", path)).split("\n")[1:]:
            f = line.split("\t")
            if len(f) >= 6:
                wq.add(f[1])
                ws.append(f[5])
    texts += [("wikiqa-q", q) for q in sample(sorted(wq), 300)] + [("wikiqa", s) for s in sample(ws, 900)]
    en_p, en_q = squad(os.path.join(DATA, "xquad-zh-en", "xquad.en.json"))
    zh_p, zh_q = squad(os.path.join(DATA, "xquad-zh-en", "xquad.zh.json"))
    texts += [("xquad-en", t) for t in sample(en_p, 120) + sample(en_q, 400)]
    texts += [("xquad-zh", t) for t in sample(zh_p, 120) + sample(zh_q, 400)]
    cm_p, cm_q = squad(os.path.join(DATA, "cmrc2018", "cmrc2018_dev.squad-style.json"))
    texts += [("cmrc", t) for t in sample(cm_p, 200) + sample(cm_q, 700)]
    hlm = read(os.path.join(DATA, "text-corpora", "hongloumeng.zh.txt"))
    wap = read(os.path.join(DATA, "text-corpora", "war_and_peace.en.txt"))
    texts += [("hongloumeng", t) for t in slices(hlm, 600, 5, 300)]
    texts += [("war-and-peace", t) for t in slices(wap, 600, 5, 500)]
    fe = [json.loads(l) for l in open(os.path.join(DATA, "flagembedding-reranker-toy", "examples.jsonl"))]
    fe_texts = [e["query"] for e in fe] + [p for e in fe for p in e["pos"] + e["neg"]]
    texts += [("flagembedding", t) for t in sample(fe_texts, 150)]
    texts += reranker_prompts(queries + en_q + zh_q + cm_q, corpus[:500] + zh_p + cm_p)
    texts += synthetic()
    return texts


def parity(tok):
    out = []
    for cat, t in build_texts():
        ids = tok.encode(t, add_special_tokens=False).ids
        if len(t.encode("utf-8")) <= IDS_MAX_BYTES:
            out.append({"cat": cat, "text": t, "ids": ids})
        else:
            out.append({"cat": cat, "text": t, "n": len(ids), "fnv": fnv1a64(ids)})
    # Long runs of one string (stored as the string and the repeat count).
    for unit, count in REPEATS:
        ids = tok.encode(unit * count, add_special_tokens=False).ids
        out.append({"cat": "repeat", "unit": unit, "count": count, "n": len(ids), "fnv": fnv1a64(ids)})
    # Long slices of the shared corpora, stored by position: 24 of 20-100 KB, then the first MiB.
    for rel in ["text-corpora/hongloumeng.zh.txt", "text-corpora/war_and_peace.en.txt"]:
        raw = open(os.path.join(DATA, rel), "rb").read()

        def boundary(k):
            while k < len(raw) and (raw[k] & 0xC0) == 0x80:
                k += 1
            return k
        spans = []
        for _ in range(12):
            start = boundary(rng.randrange(0, len(raw) - 100000))
            spans.append((start, boundary(start + rng.randint(20000, 100000))))
        spans.append((0, boundary(1 << 20)))
        for start, end in spans:
            ids = tok.encode(raw[start:end].decode("utf-8"), add_special_tokens=False).ids
            out.append({"cat": "file", "file": rel, "offset": start, "bytes": end - start, "n": len(ids),
                        "fnv": fnv1a64(ids)})
    return out


def tiktoken_stats(records):
    try:
        import tiktoken
    except ImportError:
        print("tiktoken not installed: skipped")
        return
    ranks = {}
    for line in open(TIKTOKEN, "rb"):
        if line.strip():
            t, r = line.split()
            ranks[base64.b64decode(t)] = int(r)
    enc = tiktoken.Encoding("qwen", pat_str=QWEN_PATTERN, mergeable_ranks=ranks,
                            special_tokens={t: 151643 + i for i, t in enumerate(ADDED)})
    diff = 0
    n = 0
    for r in records:
        if "ids" not in r:
            continue
        n += 1
        import unicodedata
        if enc.encode(unicodedata.normalize("NFC", r["text"]), allowed_special="all") != r["ids"]:
            diff += 1
    print(f"tiktoken (NFC applied first) vs HF tokenizer.json: {diff} of {n} texts differ")


def variant_texts():
    picks = [t for c, t in build_texts() if len(t.encode("utf-8")) <= 300]
    return sample(picks, 200) + ["Hello world", " hello", "  hi  ", "don't", "<mask> x", "a<mask>b", "yes no",
                                 "ṩ\u0323", "e\u0301tude", "<|im_start|>user\nhi<|im_end|>"]


def variants(small_json):
    base = Tokenizer.from_str(json.dumps(small_json))
    out = []
    texts = variant_texts()

    def add(name, patch):
        j = json.loads(json.dumps(small_json))
        for k, v in patch.items():
            if k == "model.merges_as_strings":
                j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]
            elif k.startswith("model."):
                j["model"][k[6:]] = v
            else:
                j[k] = v
        tok = Tokenizer.from_str(json.dumps(j))
        out.append({"name": name, "patch": patch,
                    "cases": [{"text": t, "ids": tok.encode(t, add_special_tokens=False).ids} for t in texts]})

    add("base", {})
    add("ignore_merges_false", {"model.ignore_merges": False})
    add("merges_as_strings", {"model.merges_as_strings": True})
    add("gpt2_byte_level", {"normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True,
                                                                  "trim_offsets": True, "use_regex": True}})
    add("digits3_prefix_space", {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN_PATTERN.replace(r"\p{N}|", r"\p{N}{1,3}|")},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": False}]}})
    added = list(small_json["added_tokens"]) + [
        {"id": 0, "content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False, "normalized": False,
         "special": True},
        {"id": 0, "content": "yes", "single_word": True, "lstrip": False, "rstrip": True, "normalized": True,
         "special": False},
        {"id": 0, "content": "e\u0301t", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True,
         "special": False},
        {"id": 0, "content": "ṩ", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
         "special": False}]
    add("added_token_flags", {"added_tokens": added})
    # A tiny hand-built BPE with an incomplete byte alphabet: unk_token + fuse_unk.
    tiny = json.loads(json.dumps(small_json))
    keep = {k: v for k, v in tiny["model"]["vocab"].items() if v < 200}
    tiny["model"]["vocab"] = keep
    tiny["model"]["merges"] = [m for m in tiny["model"]["merges"]
                               if m[0] in keep and m[1] in keep and (m[0] + m[1]) in keep]
    tiny["model"]["vocab"]["<unk>"] = 200
    tiny["model"]["unk_token"] = "<unk>"
    tiny["model"]["fuse_unk"] = True
    tiny["added_tokens"] = []
    ttok = Tokenizer.from_str(json.dumps(tiny))
    out.append({"name": "tiny_unk_fused", "tokenizer": tiny,
                "cases": [{"text": t, "ids": ttok.encode(t, add_special_tokens=False).ids} for t in texts]})
    # The slow folder (vocab.json + merges.txt + tokenizer_config.json) through transformers.
    try:
        from transformers import AutoTokenizer
        slow = AutoTokenizer.from_pretrained(os.path.join(OUT, "small-slow"))
        out.append({"name": "slow-folder", "folder": "small-slow",
                    "cases": [{"text": t, "ids": slow(t, add_special_tokens=False)["input_ids"]} for t in texts]})
        same = sum(slow(t, add_special_tokens=False)["input_ids"] == base.encode(t, add_special_tokens=False).ids
                   for t in texts)
        print(f"slow folder vs small tokenizer.json: {len(texts) - same} of {len(texts)} texts differ")
    except Exception as e:  # noqa: BLE001
        print(f"transformers slow folder: skipped ({e})")
    return out


def classes_table(derive):
    sp = pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False)

    def n(s):
        return len(sp.pre_tokenize_str(s))
    runs = []
    cls_of = {}
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            k = "O"
        else:
            ch = chr(c)
            if n("a" + ch) == 1:
                k = "L"
            elif n(ch + ch) == 2:
                k = "N"
            elif c == 0x20 or n(ch + "!") == 2:
                k = "S"
            else:
                k = "O"
        cls_of[c] = k
        if not runs or runs[-1][1] != k:
            runs.append([c, k])
    if derive:
        lib = ctypes.CDLL("libutf8proc.so.2")
        diffs = []
        ws = {9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000} | set(
            range(0x2000, 0x200B))
        for c in range(0x110000):
            cat = lib.utf8proc_category(c)
            u = "S" if c in ws else "L" if 1 <= cat <= 5 else "N" if 9 <= cat <= 11 else "O"
            if 0xD800 <= c <= 0xDFFF:
                u = "O"
            if u != cls_of[c]:
                if diffs and diffs[-1][1] == c - 1 and diffs[-1][2:] == [cls_of[c], u]:
                    diffs[-1][1] = c
                else:
                    diffs.append([c, c, cls_of[c], u])
        for lo, hi, hf, u in diffs:
            print(f"class differs: U+{lo:04X}..U+{hi:04X} HF {hf} utf8proc {u}")
    return runs


def nfc_blocks():
    nfc, nfd = normalizers.NFC(), normalizers.NFD()
    blocks = {}
    for b in range(0x110000 // 4096):
        h = 0xCBF29CE484222325
        for c in range(b * 4096, (b + 1) * 4096):
            if 0xD800 <= c <= 0xDFFF:
                continue
            ch = chr(c)
            for p in (ch, "A" + ch, ch + "\u0301", "\u1100" + ch, ch + "\u0323\u0302", nfd.normalize_str(ch)):
                h = fnv_bytes(h, nfc.normalize_str(p).encode("utf-8") + b"\xff")
        blocks[str(b)] = f"{h:016x}"
    return blocks


def main():
    full_path = os.path.join(OUT, "local", "tokenizer.json")
    if not os.path.exists(full_path):
        sys.exit("run scripts/make_bpe_tokenizer.py first")
    tok = Tokenizer.from_file(full_path)
    records = parity(tok)
    with open(os.path.join(OUT, "parity.jsonl"), "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"parity.jsonl: {len(records)} records")
    tiktoken_stats(records)
    j = json.load(open(full_path, encoding="utf-8"))
    j["model"]["ignore_merges"] = False
    no_ignore = Tokenizer.from_str(json.dumps(j))
    changed = sum(1 for r in records if "ids" in r and
                  no_ignore.encode(r["text"], add_special_tokens=False).ids != r["ids"])
    print(f"ignore_merges=false would change {changed} of {sum('ids' in r for r in records)} short texts")

    small = json.load(open(os.path.join(OUT, "small", "tokenizer.json"), encoding="utf-8"))
    with open(os.path.join(OUT, "variants.jsonl"), "w", encoding="utf-8") as f:
        for v in variants(small):
            f.write(json.dumps(v, ensure_ascii=False) + "\n")
    uni = {"classes": classes_table("--derive-tables" in sys.argv), "nfc_blocks": nfc_blocks()}
    with open(os.path.join(OUT, "unicode.json"), "w", encoding="utf-8") as f:
        json.dump(uni, f, separators=(",", ":"))
        f.write("\n")
    print(f"unicode.json: {len(uni['classes'])} class runs, {len(uni['nfc_blocks'])} NFC blocks")


if __name__ == "__main__":
    main()
