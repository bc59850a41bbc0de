#!/usr/bin/env python3
"""Builds the Unigram tokenizer parity data used by tests/tokenizer/tokenizer_unigram_test.cc.

Inputs : tests/data/tokenizers/xlmr-unigram/{tokenizer.json,sentencepiece.bpe.model}
         (from scripts/make_unigram_tokenizer.py) and /work/shared/data, /work/shared/models.
Outputs: tests/data/tokenizers/xlmr-unigram/parity.jsonl
           one JSON object per line; ground truth = HF `tokenizers`
           Tokenizer.from_file(tokenizer.json).encode(text, add_special_tokens=False).ids
           {"text": str, "ids": [int]}                      short/medium texts
           {"text": str, "n": int, "fnv": "hex"}            long texts (ids hashed)
           {"file": "rel/path under shared/data", "bytes": int, "n": int, "fnv": "hex"}
                                                            multi-MB slice of a shared file
                                                            (first `bytes` bytes), ids hashed
         fnv = FNV-1a-64 over the ids as little-endian int32 bytes, 16 lowercase hex digits.
         tests/data/tokenizers/xlmr-unigram/variants.jsonl
           pipeline variants of the same tokenizer.json (other pre-tokenizer / normalizer /
           added-token / byte_fallback settings): {"name", "patch", "cases": [{"text","ids"}]};
           `patch` replaces top-level keys of tokenizer.json ("normalizer", "pre_tokenizer",
           "added_tokens"), and "model.byte_fallback" / "model.vocab_append" edit the model;
           a precompiled_charsmap of "@base" stands for the base file's charsmap.
         tests/data/tokenizers/xlmr-unigram/real_partial_cases.jsonl
           ~20 texts with ids under the REAL XLM-R vocab (HF ids), checked with the genuine
           (truncated) sentencepiece.bpe.model prefix in /work/shared/models, see below.

Statistics printed (not expectations): how often `sentencepiece` itself (what transformers'
slow XLMRobertaTokenizer used, fairseq id offset applied) and transformers-5
AutoTokenizer.from_pretrained(folder) disagree with the HF tokenizer.json ids.

Deterministic: random.Random(SEED) everywhere, fixed file order.
Usage: python3 scripts/make_unigram_parity.py      (from the repo root; ~1 min)
"""
import json
import os
import random
import struct
import sys
import unicodedata

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers import AddedToken
from tokenizers.models import Unigram

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
DATA = os.path.join(SHARED, "data")
PARTIAL = os.path.join(SHARED, "models", "xlm-roberta-tokenizer-PARTIAL")
TOKDIR = os.path.join(ROOT, "tests", "data", "tokenizers", "xlmr-unigram")
SEED = 7193
LONG_CHARS = 4000      # texts longer than this store n + fnv instead of the id list
MAX_FILE_BYTES = 8 * 1024 * 1024
HASHED_CATEGORIES = {"cluster", "sweep"}  # big generated texts: ids stored as n + fnv only

rng = random.Random(SEED)


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for i in ids:
        for b in struct.pack("<i", i):
            h ^= b
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


# ------------------------------------------------------------------ text sources
def read(path):
    with open(os.path.join(DATA, path), encoding="utf-8", newline="") as f:
        return f.read()


def squad_texts(path):
    j = json.loads(read(path))
    ctx, qs = [], []
    for art in j["data"]:
        for p in art["paragraphs"]:
            ctx.append(p["context"])
            qs.extend(q["question"] for q in p["qas"])
    return ctx, qs


def sample(lst, k):
    lst = list(lst)
    return lst if len(lst) <= k else rng.sample(lst, k)


def zh_sentences(paragraphs):
    out = []
    for p in paragraphs:
        cur = ""
        for ch in p:
            cur += ch
            if ch in "。！？；":
                out.append(cur)
                cur = ""
        if cur:
            out.append(cur)
    return out


def build_texts():
    texts = []
    hashed = []  # per text: store n + fnv instead of the id list
    cats = {}

    def add(cat, items):
        items = list(items)
        cats[cat] = cats.get(cat, 0) + len(items)
        texts.extend(items)
        hashed.extend([cat in HASHED_CATEGORIES] * len(items))

    cmrc_ctx, cmrc_q = squad_texts("cmrc2018/cmrc2018_dev.squad-style.json")
    xzh_ctx, xzh_q = squad_texts("xquad-zh-en/xquad.zh.json")
    xen_ctx, xen_q = squad_texts("xquad-zh-en/xquad.en.json")
    hlm = read("text-corpora/hongloumeng.zh.txt")
    wap = read("text-corpora/war_and_peace.en.txt")
    msm = [json.loads(l)["text"] for l in read("msmarco-trecdl-subset/corpus.jsonl").split("\n") if l.strip()]
    msq = [json.loads(l)["text"] for l in read("msmarco-trecdl-subset/queries.jsonl").split("\n") if l.strip()]
    wikiqa = []
    for line in read("wikiqa/WikiQA-dev.tsv").split("\n")[1:]:
        cols = line.split("\t")
        if len(cols) >= 6:
            wikiqa += [cols[1], cols[5]]

    # Chinese
    add("zh", sample(zh_sentences(cmrc_ctx), 2000))
    add("zh", sample(cmrc_q, 600))
    add("zh", sample(cmrc_ctx, 150))
    add("zh", sample(zh_sentences(xzh_ctx), 500))
    add("zh", sample(xzh_q, 300))
    hlm_lines = hlm.split("\n")
    add("zh", sample([l + "\n" for l in hlm_lines if l.strip()], 600))  # keeps the \r
    # English
    add("en", sample(msm, 900))
    add("en", sample(msq, 50))
    add("en", sample(wikiqa, 500))
    add("en", sample(xen_q, 400))
    add("en", sample(xen_ctx, 100))
    add("en", sample([l for l in wap.split("\n") if l.strip()], 700))
    # Mixed zh/en
    zh_pool = zh_sentences(cmrc_ctx)
    en_pool = msm + xen_q
    seps = ["", " ", "  ", "\t", "\n", "，", ", ", "\u3000", " - "]
    add("mixed", [rng.choice(zh_pool)[:80] + rng.choice(seps) + rng.choice(en_pool)[:120] +
                  rng.choice(seps) + rng.choice(zh_pool)[:60] for _ in range(500)])
    add("mixed", [rng.choice(zh_pool)[:60].replace("的", " the ") for _ in range(100)])

    # Emoji
    emoji = ["😀", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "❤", "🇨🇳", "🇺🇸", "🇯🇵🇰🇷", "1️⃣", "#️⃣", "©", "®", "™",
             "🤖", "🧑🏿‍💻", "👩‍❤️‍💋‍👨", "🐼", "🎉🎉🎉", "☺", "☺️", "✌🏻", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "⚽", "🀄", "🈶", "🆗"]
    words = ["hello", "世界", "ok", "熊猫", "party", "", " ", "测试", "great"]
    add("emoji", ["".join(rng.choice(emoji + words) + rng.choice(["", " ", ""]) for _ in range(rng.randint(1, 8)))
                  for _ in range(400)])

    # Odd whitespace
    ws = ["\t", "\u3000", "\u00a0", "\u200b", "\u200c", "\u200d", "\ufeff", "  ", "   ", "\n", "\r\n", "\r",
          "\x0b", "\x0c", "\u2028", "\u2029", "\u0085", "\u2002", "\u2003", "\u2009", "\u202f", "\u205f",
          "\u1680", "\u180e", "\u00ad", "\u2060", " "]
    base = sample(msq + xen_q + cmrc_q, 600)
    out = []
    for t in base:
        toks = t.split(" ")
        s = rng.choice(["", " ", "  ", "\t", "\u3000", "\n"])
        for w in toks:
            s += w + "".join(rng.choice(ws) for _ in range(rng.randint(1, 2)))
        if rng.random() < 0.5:
            s = s.rstrip()
        out.append(s)
    add("whitespace", out)
    add("whitespace", ["".join(rng.choice(ws + ["a", "中", "b"]) for _ in range(rng.randint(1, 12)))
                       for _ in range(200)])

    # Full-width
    def fullwidth(s):
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in s)
    add("fullwidth", [fullwidth(t) for t in sample(msq + xen_q + wikiqa, 250)])
    add("fullwidth", [fullwidth(t)[: len(t) // 2] + t[len(t) // 2:] for t in sample(xen_q, 100)])

    # Accents and combining sequences (cluster sizes around the 6-byte threshold)
    accented = ["café", "naïve", "façade", "résumé", "coöperate", "Ångström", "Straße", "São Paulo", "Zürich",
                "crème brûlée", "jalapeño", "Dvořák", "Łódź", "Ærøskøbing", "İstanbul", "ﬁnance", "ﬀ", "Ǆ", "ǅ"]
    combining = ["\u0301", "\u0300", "\u0308", "\u0327", "\u0303", "\u030a", "\u0323", "\u0332", "\u20dd",
                 "\u0338", "\u034f", "\u0345", "\u0e49", "\u05b4", "\u0670"]
    out = []
    for _ in range(400):
        w = rng.choice(accented)
        form = rng.choice(["NFC", "NFD", "NFKC", "NFKD", None])
        if form:
            w = unicodedata.normalize(form, w)
        if rng.random() < 0.5:
            i = rng.randrange(len(w) + 1)
            w = w[:i] + "".join(rng.choice(combining) for _ in range(rng.randint(1, 4))) + w[i:]
        out.append(w + rng.choice(["", " ", " test", " 测试"]))
    add("accents", out)
    bases = ["a", "e", "A", "ｅ", "é", "中", "ß", "1", " ", "\u3000", "ｶ", "ﾊ", "가", "ᄀ", "<", "▁"]
    add("accents", [rng.choice(bases) + "".join(rng.choice(combining + ["\uff9e", "\uff9f", "\u3099", "\u309a",
                                                                        "\u1161", "\u11a8", "\ufe0f", "\u200d"])
                                                for _ in range(rng.randint(1, 3))) for _ in range(300)])

    # Other scripts (constructed)
    scripts = [
        "한국어 문장입니다. 서울은 대한민국의 수도입니다.", "한국어 자모", "ㄱㄴㄷ ㅏㅑㅓ",
        "日本語の文です。東京は日本の首都です。", "ｶﾀｶﾅ ﾊﾞﾋﾟﾌﾞ ｶﾞｷﾞ", "ガギグ パピプ ㋐㋑ ㍻ ㌔",
        "هذه جملة باللغة العربية. القاهرة عاصمة مصر.", "ﷺ ﷲ ﻻ ﺍﻟﻌﺮﺑﻴﺔ", "مُحَمَّد",
        "Это предложение на русском языке. Москва — столица России.", "Ёлка й",
        "Ελληνικά: η Αθήνα είναι η πρωτεύουσα.", "हिन्दी भाषा क्षत्रिय", "ภาษาไทย สวัสดี", "עברית שָׁלוֹם",
        "ქართული", "Հայերեն", "ᠮᠣᠩᠭᠣᠯ", "ትግርኛ", "தமிழ் க்ஷ", "𝐇𝐞𝐥𝐥𝐨 𝕎𝕠𝕣𝕝𝕕", "①②③ ⑴ ⒜ ㈱", "½ ¼ ⅞ x² H₂O",
        "℃ ℉ № ℡ ㎏ ㎞", "Ⅻ ⅻ", "𠀀𠀁 𪚥 𩸽", "⺀ ⼀ ㇀", "丽 侮 﨎",
    ]
    add("scripts", [" ".join(rng.choice(scripts) for _ in range(rng.randint(1, 3))) for _ in range(400)])

    # Literal special tokens
    specials = ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "<mas", "mask>", "<s >", "< s>", "<<s>>", "<mask><mask>",
                "＜ｓ＞", "＜/ｓ＞", "＜ｍａｓｋ＞", "<S>", "<MASK>", "▁<mask>", "<mask>▁", "<unk><unk>"]
    out = []
    for _ in range(400):
        t = rng.choice(msq + xen_q + cmrc_q)
        parts = t.split(" ")
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(parts) + 1)
            sp = rng.choice(["", " ", "  ", "\t", "\u3000", "\n", " \u00a0"])
            parts.insert(i, sp + rng.choice(specials) + rng.choice(["", " ", "  "]))
        out.append(" ".join(parts))
    add("specials", out)
    add("specials", ["<mask>", " <mask>", "   <mask>", "<mask> ", "a<mask>b", "a <mask> b", "a  <mask>  b",
                     "<s>", "<s>hello</s>", " <s> ", "<pad><pad>", "\u3000<mask>", "\t<mask>", "\u200b<mask>",
                     "<unk>", "x<unk>y", "</s></s>", "<s></s>", "<mask>" * 5, " <mask>" * 5])

    # Edge cases
    add("edge", ["", " ", "  ", "\t", "\n", "\r\n", "\u3000", "▁", "▁▁", " ▁", "▁ ", "a", "中", "😀", "\x00",
                 "a\x00b", "\x01\x02\x03", "\x7f", "\u0080\u009f", "\ufffd", "\U0010ffff", "\U000e0001",
                 "\ue000", "\U000f0000", "a" * 300, "中" * 300, "😀" * 100, "\u0301", "\u0301\u0301", " \u0301",
                 "\u200d", "\ufe0f", "\u20e3", "\r", "\r\r\n\n", "x" + " " * 50 + "y", "　" * 10,
                 "\u00a0" * 5, "a\u00a0\u00a0b", "...", "---", "???", "!!!", "。。。", "1234567890", "3.14159",
                 "http://example.com/a?b=c&d=e", "user@example.com", "C++ / C# / F#", "$100 €20 £5 ¥1000"])

    # Unicode sweep: every BMP code point (blocks of 256), raw and space-separated.
    for block in range(0, 0x10000, 256):
        cps = [c for c in range(block, block + 256) if not 0xD800 <= c <= 0xDFFF]
        if not cps:
            continue
        add("sweep", ["".join(chr(c) for c in cps), " ".join(chr(c) for c in cps)])
    for lo, hi in [(0x1D400, 0x1D800), (0x1F000, 0x1FB00), (0x2F800, 0x2FA20), (0x20000, 0x20100),
                   (0x1F1E6, 0x1F200), (0xE0000, 0xE0080), (0x10000, 0x10200), (0x1EE00, 0x1EF00)]:
        for block in range(lo, hi, 256):
            cps = range(block, min(block + 256, hi))
            add("sweep", ["".join(chr(c) for c in cps), " ".join(chr(c) for c in cps)])

    # Grapheme-cluster sweep: the Precompiled normalizer replaces a cluster shorter than 6
    # bytes WHOLE when its first character has a rule ("\u00b2" -> "2"), dropping the rest
    # of the cluster, so "\u00b2"+X and X+"\u00b2" reveal, for every BMP code point X, whether
    # X extends (Extend/SpacingMark/ZWJ) or prepends (Prepend) a cluster exactly as HF's
    # unicode-segmentation says.
    for block in range(0, 0x10000, 256):
        cps = [c for c in range(block, block + 256) if not 0xD800 <= c <= 0xDFFF]
        if cps:
            add("cluster", [" ".join("\u00b2" + chr(c) for c in cps), " ".join(chr(c) + "\u00b2" for c in cps)])

    # Random fuzz from a weighted pool
    pool_ranges = [(0x20, 0x7f, 30), (0x4e00, 0x9fff, 20), (0x300, 0x370, 6), (0xff00, 0xffef, 6),
                   (0x1f300, 0x1faff, 5), (0x3000, 0x30ff, 5), (0xac00, 0xd7a3, 4), (0x1100, 0x11ff, 3),
                   (0x0, 0x20, 3), (0x80, 0x250, 5), (0x600, 0x6ff, 3), (0x400, 0x4ff, 3), (0x2000, 0x2070, 4),
                   (0xfe00, 0xfe10, 2), (0x1f1e6, 0x1f1ff, 2), (0xfb00, 0xfdff, 2), (0x900, 0x97f, 2)]
    weights = [w for _, _, w in pool_ranges]
    out = []
    for _ in range(1500):
        n = rng.randint(1, 40)
        s = []
        for _ in range(n):
            if rng.random() < 0.03:
                s.append(rng.choice(specials))
                continue
            lo, hi, _ = rng.choices(pool_ranges, weights)[0]
            s.append(chr(rng.randrange(lo, hi)))
        out.append("".join(s))
    add("fuzz", out)

    # Long texts (ids stored as n + fnv)
    long_texts = [
        hlm[10000:70000],
        wap[200000:300000],
        "".join(rng.choice(zh_pool) + rng.choice(seps) + rng.choice(en_pool) for _ in range(150))[:40000],
        "".join(rng.choice(emoji + ["\u0378", "\U0001fb00", "\ue001", " "]) for _ in range(20000)),
        ("<mask>" + " " * 3 + "中文 English " * 3) * 800,
    ]
    add("long", long_texts)
    return texts, hashed, cats


# ------------------------------------------------------------------ real partial XLM-R
def parse_partial_spm_pieces():
    data = open(os.path.join(PARTIAL, "xlmr-large.sentencepiece.bpe.model.first2MiB"), "rb").read()

    def varint(b, i):
        v = s = 0
        while True:
            c = b[i]
            i += 1
            v |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return v, i

    pieces, i = [], 0
    while i < len(data):
        k, j = varint(data, i)
        if k >> 3 != 1:
            break
        n, j = varint(data, j)
        if j + n > len(data):
            break  # cut mid-piece
        msg, i = data[j:j + n], j + n
        p, sc, q = None, 0.0, 0
        while q < len(msg):
            kk, q = varint(msg, q)
            w = kk & 7
            if w == 2:
                l, q = varint(msg, q)
                p = msg[q:q + l].decode("utf-8")
                q += l
            elif w == 5:
                sc = struct.unpack("<f", msg[q:q + 4])[0]
                q += 4
            elif w == 0:
                _, q = varint(msg, q)
        pieces.append((p, sc))
    return pieces


def real_partial_cases():
    """Texts whose REAL XLM-R ids are certain although only the first 119,232 of 250,000 spm
    pieces are available: spm pieces are stored in non-increasing score order, so every
    missing piece scores below every present one; a word (Metaspace split) that is a single
    present piece therefore beats any path that uses a missing piece (all scores < 0).
    Cases are kept only if every word is one piece, plus the two published transformers
    test results ("Hello World!" -> 35378 6661 38)."""
    pieces = parse_partial_spm_pieces()
    assert all(b[1] <= a[1] for a, b in zip(pieces[3:], pieces[4:])), "scores not sorted"
    charsmap = open(os.path.join(PARTIAL, "xlmr.precompiled_charsmap.bin"), "rb").read()
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p, s) for p, s in pieces[3:]]
    tok = Tokenizer(Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    # <mask> is 250001 in the real model; id 119233 here is only a placeholder (see below).
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<s>", "<pad>", "</s>", "<unk>"]])
    tok.add_special_tokens([AddedToken("<mask>", special=True, normalized=False, lstrip=True)])
    mask_placeholder = tok.token_to_id("<mask>")
    published = {"Hello World!": [35378, 6661, 38], "Hello world": [35378, 8999]}
    candidates = ["Hello world", "Hello World!", "Ｈｅｌｌｏ　ｗｏｒｌｄ", "Hello   world", "  Hello world  ",
                  "Hello\tworld", "Hello\nworld", "Hello <mask>", "Hello<mask>world", "<s>Hello</s>",
                  "the world", "中国", "的", "Hello, world.", "world world world", "Hello\u200bworld",
                  "ＨＥＬＬＯ", "Hello\u3000world", "what is panda?", "hi", "query", "passage", "the",
                  "Hello\u00a0world", "Hello  <mask>  world"]
    cases = []
    for text in candidates:
        enc = tok.encode(text, add_special_tokens=False)
        ids = [250001 if i == mask_placeholder else i for i in enc.ids]
        # each Metaspace word (or added token) must be exactly one token
        word_ids = [w for w in enc.word_ids]
        certain = text in published or len(set(word_ids)) == len(word_ids)
        if text in published:
            assert ids == published[text], (text, ids)
        if certain and 3 not in ids:
            cases.append({"text": text, "ids": ids})
    return cases


def variant_specs():
    pre = {"type": "Precompiled", "precompiled_charsmap": CHARSMAP_PLACEHOLDER}
    rep = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}

    def meta(scheme, split=True):
        return {"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split}

    def added(i, content, lstrip=False, rstrip=False, single_word=False, normalized=False, special=True):
        return {"id": i, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
                "normalized": normalized, "special": special}
    base_added = [added(0, "<s>"), added(1, "<pad>"), added(2, "</s>"), added(3, "<unk>"),
                  added(8001, "<mask>", lstrip=True)]
    return [
        ("prepend_never", {"pre_tokenizer": meta("never")}),
        ("prepend_first", {"pre_tokenizer": meta("first")}),
        ("no_split", {"pre_tokenizer": meta("always", split=False)}),
        ("transformers5_layout", {"normalizer": pre, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"}, meta("always")]}}),
        ("spmconverter5_normalizer", {"normalizer": {"type": "Sequence", "normalizers": [
            pre, {"type": "Strip", "strip_left": False, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]}}),
        ("no_normalizer", {"normalizer": None}),
        ("no_pre_tokenizer", {"pre_tokenizer": None}),
        ("replace_string", {"normalizer": {"type": "Sequence", "normalizers": [
            pre, {"type": "Replace", "pattern": {"String": "中"}, "content": "国  x"}, rep]}}),
        ("added_token_flags", {"added_tokens": base_added[:4] + [
            added(8001, "<mask>", lstrip=True, rstrip=True),
            added(8002, "[WORD]", single_word=True, special=False),
            added(8003, "ｗｏｒｌｄ", normalized=True, special=False),
            added(8004, "<mask><mask>"), added(8005, "中文", rstrip=True, special=False)]}),
        ("byte_fallback", {"model.byte_fallback": True,
                           "model.vocab_append": [[f"<0x{b:02X}>", -20.0] for b in range(256)]}),
    ]


CHARSMAP_PLACEHOLDER = "@base"  # stands for the base tokenizer.json's precompiled_charsmap


def apply_patch(tok_json, patch):
    j = json.loads(tok_json)
    charsmap = j["normalizer"]["normalizers"][0]["precompiled_charsmap"]

    def subst(v):
        if isinstance(v, dict):
            return {k: (charsmap if k == "precompiled_charsmap" and x == CHARSMAP_PLACEHOLDER else subst(x))
                    for k, x in v.items()}
        if isinstance(v, list):
            return [subst(x) for x in v]
        return v
    patch = subst(patch)
    for k, v in patch.items():
        if k == "model.byte_fallback":
            j["model"]["byte_fallback"] = v
        elif k == "model.vocab_append":
            j["model"]["vocab"].extend(v)
        else:
            j[k] = v
    return json.dumps(j, ensure_ascii=False)


def variant_texts(texts):
    picks = [t for t in texts if len(t) < 300]
    extra = ["[WORD] x", "a[WORD]b", "a [WORD] b", "[WORD]", "world ｗｏｒｌｄ world", "hello world", "中文  x",
             "中文中文", "x 中文　y", "<mask>  <mask> x", "<mask><mask><mask>", "  leading", "trailing  ",
             "<s> first", " <s>x", "​x y", "​", "ｗｏｒｌｄ", "<s>​world"]
    return extra + [picks[i] for i in range(0, len(picks), max(1, len(picks) // 300))]


def main():
    texts, hashed, cats = build_texts()
    hf = Tokenizer.from_file(os.path.join(TOKDIR, "tokenizer.json"))
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(TOKDIR, "sentencepiece.bpe.model"))
    try:
        from transformers import AutoTokenizer
        tf5 = AutoTokenizer.from_pretrained(TOKDIR)
    except Exception as e:  # informational only
        print(f"transformers AutoTokenizer unavailable: {e}", file=sys.stderr)
        tf5 = None

    def spm_ids(t):
        return [3 if i == 0 else 0 if i == 1 else 2 if i == 2 else i + 1 for i in sp.encode(t)]

    lines = []
    spm_cmp = spm_diff = tf5_diff = 0
    spm_examples = []
    for t, h in zip(texts, hashed):
        ids = hf.encode(t, add_special_tokens=False).ids
        if h or len(t) > LONG_CHARS:
            lines.append({"text": t, "n": len(ids), "fnv": fnv1a64(ids)})
        else:
            lines.append({"text": t, "ids": ids})
        if not any(s in t for s in ("<s>", "</s>", "<pad>", "<unk>", "<mask>")):
            spm_cmp += 1
            if spm_ids(t) != ids:
                spm_diff += 1
                if len(spm_examples) < 5:
                    spm_examples.append(t[:60])
        if tf5 is not None and tf5.encode(t, add_special_tokens=False) != ids:
            tf5_diff += 1

    # Multi-MB slices of shared files (the test reads the same bytes).
    for rel, nbytes in [("text-corpora/hongloumeng.zh.txt", 2_500_000), ("text-corpora/war_and_peace.en.txt", 3_000_000)]:
        raw = open(os.path.join(DATA, rel), "rb").read()[:nbytes]
        text = raw.decode("utf-8", errors="ignore")
        nb = len(text.encode("utf-8"))
        ids = hf.encode(text, add_special_tokens=False).ids
        lines.append({"file": rel, "bytes": nb, "n": len(ids), "fnv": fnv1a64(ids)})
        cats["file"] = cats.get("file", 0) + 1

    out = os.path.join(TOKDIR, "parity.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for obj in lines:
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    size = os.path.getsize(out)
    assert size <= MAX_FILE_BYTES, f"{out} is {size} bytes (> 8 MiB)"

    tok_json = open(os.path.join(TOKDIR, "tokenizer.json"), encoding="utf-8").read()
    vtexts = variant_texts(texts)
    with open(os.path.join(TOKDIR, "variants.jsonl"), "w", encoding="utf-8") as f:
        for name, patch in variant_specs():
            vt = Tokenizer.from_str(apply_patch(tok_json, patch))
            cases = [{"text": t, "ids": vt.encode(t, add_special_tokens=False).ids} for t in vtexts]
            f.write(json.dumps({"name": name, "patch": patch, "cases": cases}, ensure_ascii=False) + "\n")
    print(f"wrote variants.jsonl: {len(variant_specs())} variants x {len(vtexts)} texts")

    cases = real_partial_cases()
    with open(os.path.join(TOKDIR, "real_partial_cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")

    print(f"wrote {out}: {len(lines)} records, {size} bytes; categories {cats}")
    print(f"spm (slow-tokenizer path) vs HF tokenizer.json: {spm_diff} of {spm_cmp} texts differ "
          f"(texts without literal special tokens); e.g. {spm_examples!r}")
    if tf5 is not None:
        print(f"transformers-5 AutoTokenizer.from_pretrained vs HF tokenizer.json: {tf5_diff} of {len(texts)} differ")
    print(f"wrote real_partial_cases.jsonl: {len(cases)} cases")


if __name__ == "__main__":
    main()
