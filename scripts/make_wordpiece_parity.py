#!/usr/bin/env python3
"""Builds the WordPiece parity data for tests/tokenizer/tokenizer_wordpiece_test.cc.

Outputs, under tests/data/tokenizers/wordpiece-msmarco/:
  parity.jsonl        {"text", "ids"} per line: ids of HF `tokenizers` for the REAL
                      ms-marco-MiniLM-L-6-v2 tokenizer.json, encode(text,
                      add_special_tokens=False). The few very long texts store
                      {"text", "n", "fnv1a64_hex"} instead of the id list.
  parity_cased.jsonl  {"text", "ids"} for a subset, from BertTokenizerFast built from the
                      same vocab.txt with do_lower_case=False (cased code path).
  unicode_blocks.json per-code-point behaviour of BertNormalizer / BertPreTokenizer over
                      all 1,112,064 scalar values, as FNV-1a 64 hashes per 4096-code-point
                      block (see unicode_block_hashes()).
  synth_{a,b,c}/tokenizer.json + synth_{a,b,c}.jsonl
                      small synthetic WordPiece tokenizers (8000-token subset of the same
                      vocab) exercising the other options: added tokens with normalized /
                      single_word / lstrip / rstrip, a non-"##" prefix, max_input_chars_per_word
                      10, BertNormalizer flag combinations, no normalizer; ids from HF.
  meta.json           versions, file hashes, counts, and the number of texts on which
                      BertTokenizerFast built from vocab.txt alone disagrees with
                      tokenizer.json.

FNV-1a 64 of an id list: offset 0xcbf29ce484222325, prime 0x100000001b3, over each id as
4 little-endian bytes (int32).

Deterministic: fixed seed, fixed sources from /work/shared/data (see SOURCES.md there).
Usage: python3 scripts/make_wordpiece_parity.py [--shared /work/shared] [--out DIR]
       python3 scripts/make_wordpiece_parity.py --derive-tables   (prints the C++
       exception tables of src/tokenizer/unicode.cc, needs libutf8proc.so.2)
"""
import argparse
import csv
import ctypes
import hashlib
import json
import os
import random
import shutil
import struct
import sys
import tempfile

SEED = 20261101
LONG_CHARS = 20000  # texts at least this long store n + hash instead of ids

ACCENTED = [
    "café", "naïve", "Ångström", "résumé", "façade", "coöperate", "São Paulo", "Zürich",
    "İstanbul", "ıstanbul", "DİYARBAKIR", "İİİ", "Iı", "Straße", "STRASSE", "ẞ", "Ελληνικά",
    "ΣΊΣΥΦΟΣ", "ὀδυσσεύς", "Ἀθῆναι", "Москва", "Ёлка", "ЙОД", "Ünïcödé", "ﬁnance", "Ǆemal",
    "ǅ", "ǆ", "ΐ", "ΰ", "ŉ", "ǰ", "\u212b", "\u212a", "\u2126", "ﬀ", "Tiếng Việt", "Hà Nội",
    "한국어", "카타카나", "カタカナ", "ひらがな", "ｶﾀｶﾅ", "ＡＢＣ１２３", "العربية", "שָׁלוֹם",
    "हिन्दी", "ภาษาไทย", "ქართული", "Հայերեն", "e\u0301", "a\u0323\u0302", "a\u0302\u0323",
    "q\u0307\u0323", "o\u0308\u0304", "Z\u0335\u0321a\u0336\u0322l\u0334g\u0337o",
    "n\u0303o\u0303", "\u1e9b\u0323", "ǖ", "Ω", "µ", "ﬃ", "ǲ", "ſ", "ᾈ", "ῼ", "Ⅻ", "ⓐⒷ",
    "𝐀𝐁𝐂", "𝔘𝔫𝔦", "Ȿ", "ꞵ", "Ᲊ", "\ua7cb", "\ua7dc", "\U00010d50", "\U00016ea0",
    "\u1734", "\U00011938", "\U00011935\U00011930", "\u166d", "\U000111c9", "\u0890",
    "\u08e2", "\u2e43", "\u2e5d", "\u0898", "\u1abf", "\U0001e944",
]

EMOJI = [
    "😀", "👍🏽", "👨‍👩‍👧", "🇩🇪", "❤️", "🥰", "🫠", "🤖", "©", "™", "ⅷ", "①", "㈱", "♥", "☃",
    "★", "→", "∑", "√", "∞", "≠", "€", "£", "¥", "₿", "°C", "½", "²", "🏳️‍🌈", "🧑🏿‍💻",
]

ODD_WS = [
    "\t", "\n", "\r\n", "\r", "\u3000", "\xa0", "\u2009", "\u200a", "\u202f", "\u205f",
    "\u1680", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u200b", "\u200c",
    "\u200d", "\ufeff", "\u2060", "\u00ad", "\x00", "\x01", "\x7f", "\ufffd", "\u061c",
    "\u180e", "\ue000", "\U000f0000", "\U0010fffd", "\U000e0001", "\U000e0041", "\u0890",
    "\U000110cd", "\U00013430", "\u2066", "\u202e", "  ", "\t\t", " \n \n ",
]

PUNCT_RUNS = [
    "!!!", "?!?", "...", "—–-", "«»", "“”", "‘’", "¿¡", "、。「」『』【】（）《》", "…", "***",
    "$$$", "^^", "~~~", "@@", "##", "##ing", "a##b", "#hashtag", "<html>", "&amp;", "=>",
    "||", "\\n", "`code`", "(a)[b]{c}", "--", "_under_score_", "·•", "§¶", "†‡", "‰‱",
    "⁂", "※", "〜", "・", "：；", "！？", "\u2e52", "\U00016fe2", "\u0f0b", "\u05be",
]

SPECIAL_LITERALS = [
    "[SEP]", "[MASK]", "[cls]", "[CLS]", "[PAD]", "[UNK]", "[SEP][SEP]", "[[SEP]]", "[SEP",
    "SEP]", "x[MASK]y", "[ SEP ]", "[Sep]", "[MASK ]", "[SEP]\u0301", "é[SEP]é",
    "[MA\u200bSK]", "[sep]", "[mask]", "[UNK][UNK]", "[CLS]hello[SEP]world[SEP]",
    "[SEP]" * 5, "[[[CLS]]]", "\u0130[SEP]\u0130", "[SEP]##ing", "[MASK]ed", "un[MASK]able",
    "[ＳＥＰ]", "【SEP】", "[PAD][PAD]x",
]

URLS = [
    "https://www.example.com/path/to/page?query=1&x=y#frag",
    "http://localhost:8080/api/v1/score", "mailto:someone@example.org",
    "ftp://ftp.example.net/pub/file.tar.gz", "www.bing.com/search?q=cross+encoder",
    "user.name+tag@sub.domain.co.uk", "C:\\Program Files\\App\\app.exe", "/usr/local/lib/libx.so.2",
    "https://zh.wikipedia.org/wiki/%E7%BA%A2%E6%A5%BC%E6%A2%A6", "git@github.com:org/repo.git",
    "192.168.0.1:443", "[2001:db8::1]:8080", "https://例子.测试/路径?查询=值",
]

NUMBERS = [
    "3.14159", "1,000,000", "2024-11-01", "12:30pm", "$5.99", "50%", "1e-10", "0x1F",
    "٣٤٥", "१२३", "１２３", "①②③", "Ⅳ", "−42", "+1 (555) 010-9999", "1/2", "3½", "10^6",
    "9,99 €", "¥1000", "007", "1.2.3.4", "v2.0.1-rc1", "#42", "4×4", "2²", "10⁻³",
]


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for b in b"".join(struct.pack("<i", i) for i in ids):
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def fnv1a64_bytes(h, data):
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def load_sources(shared):
    d = os.path.join(shared, "data")
    src = {}
    with open(os.path.join(d, "msmarco-trecdl-subset/queries.jsonl"), encoding="utf-8") as f:
        src["ms_q"] = [json.loads(l)["text"] for l in f if l.strip()]
    with open(os.path.join(d, "msmarco-trecdl-subset/corpus.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(l) for l in f if l.strip()]
    src["ms_p"] = [r["text"] for r in rows]
    src["ms_t"] = [r["title"] for r in rows if r["title"]]
    wq, ws = [], []
    for name in ("WikiQA-dev.tsv", "WikiQA-test-gold.tsv"):
        with open(os.path.join(d, "wikiqa", name), encoding="utf-8", newline="") as f:
            rd = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            next(rd)
            for row in rd:
                wq.append(row[1])
                ws.append(row[5])
    src["wq_q"] = list(dict.fromkeys(wq))
    src["wq_s"] = ws
    for lang in ("en", "zh"):
        with open(os.path.join(d, f"xquad-zh-en/xquad.{lang}.json"), encoding="utf-8") as f:
            j = json.load(f)
        paras = [p for a in j["data"] for p in a["paragraphs"]]
        src[f"xq_{lang}_p"] = [p["context"] for p in paras]
        src[f"xq_{lang}_q"] = [q["question"] for p in paras for q in p["qas"]]
    with open(os.path.join(d, "cmrc2018/cmrc2018_dev.squad-style.json"), encoding="utf-8") as f:
        j = json.load(f)
    paras = [p for a in j["data"] for p in a["paragraphs"]]
    src["cm_p"] = [p["context"] for p in paras]
    src["cm_q"] = [q["question"] for p in paras for q in p["qas"]]
    with open(os.path.join(d, "text-corpora/hongloumeng.zh.txt"), encoding="utf-8", newline="") as f:
        src["hlm"] = f.read()
    with open(os.path.join(d, "text-corpora/war_and_peace.en.txt"), encoding="utf-8", newline="") as f:
        src["wap"] = f.read()
    return src


def build_texts(src):
    rng = random.Random(SEED)
    texts = []

    def add(t):
        texts.append(t)

    # --- natural text ---------------------------------------------------------------
    for t in src["ms_q"]:
        add(t)
    for t in src["ms_p"][:1800]:
        add(t)
    for t in src["ms_t"][:100]:
        add(t)
    for t in src["wq_q"]:
        add(t)
    for t in rng.sample(src["wq_s"], 1200):
        add(t)
    for t in src["xq_en_q"]:
        add(t)
    for t in src["xq_en_p"][::2]:
        add(t)
    for t in src["xq_zh_q"]:
        add(t)
    for t in src["xq_zh_p"][::4]:
        add(t)
    for t in rng.sample(src["cm_q"], 800):
        add(t)
    for t in rng.sample(src["cm_p"], 60):
        add(t)
    hlm_lines = [l for l in src["hlm"].split("\r\n") if l.strip()]
    for _ in range(250):
        i = rng.randrange(len(hlm_lines) - 3)
        add("\r\n".join(hlm_lines[i:i + rng.randint(1, 3)]))
    wap_paras = [p for p in src["wap"].split("\n\n") if p.strip()]
    for _ in range(300):
        add(rng.choice(wap_paras))

    en_sent = [s for s in src["wq_s"] if 20 < len(s) < 200]
    zh_sent = [s for p in src["xq_zh_p"] + src["cm_p"] for s in p.split("。") if 5 < len(s) < 80]

    def words(s):
        return s.split(" ")

    # --- synthetic: accents, scripts, combining sequences -----------------------------
    for _ in range(600):
        w = words(rng.choice(en_sent))
        for _ in range(rng.randint(1, 4)):
            w.insert(rng.randrange(len(w) + 1), rng.choice(ACCENTED))
        t = " ".join(w)
        r = rng.random()
        if r < 0.2:
            t = t.upper()
        elif r < 0.3:
            t = t.title()
        add(t)
    for a in ACCENTED:
        add(a)
        add(a.upper())
    # --- emoji ------------------------------------------------------------------------
    for _ in range(250):
        w = words(rng.choice(en_sent))
        for _ in range(rng.randint(1, 4)):
            e = rng.choice(EMOJI)
            if rng.random() < 0.5:
                i = rng.randrange(len(w))
                w[i] = w[i] + e
            else:
                w.insert(rng.randrange(len(w) + 1), e)
        add(" ".join(w))
    # --- odd whitespace / control / zero-width ------------------------------------------
    for _ in range(500):
        s = rng.choice(en_sent + zh_sent)
        out = []
        for ch in s:
            out.append(ch)
            if rng.random() < 0.12:
                out.append(rng.choice(ODD_WS))
        if rng.random() < 0.5:
            out = [ws if c == " " else c for c in out for ws in [rng.choice(ODD_WS + [" "] * 3)]]
        add("".join(out))
    for w in ODD_WS:
        add(f"a{w}b")
        add(w)
    # --- punctuation runs -----------------------------------------------------------------
    for _ in range(300):
        w = words(rng.choice(en_sent))
        for _ in range(rng.randint(1, 4)):
            p = rng.choice(PUNCT_RUNS)
            i = rng.randrange(len(w))
            w[i] = w[i] + p if rng.random() < 0.5 else p + w[i]
        add(" ".join(w))
    # --- long words (around max_input_chars_per_word = 100) -------------------------------
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in list(range(95, 106)) + [120, 150, 300, 1000]:
        add("".join(rng.choice(letters) for _ in range(n)))
        add("x " + "ab" * (n // 2) + ("a" if n % 2 else "") + " y")
        add("é" * n)                       # 1 char after strip_accents
        add("e\u0301" * 50 + "e" * (n - 50))  # 2n-50 chars before NFD+strip, n-50+50 after
        add("İ" * n)                        # -> "i" per char after strip
        add("ﬁ" * n)
    add("supercalifragilisticexpialidocious" * 3)
    add("pneumonoultramicroscopicsilicovolcanoconiosis" * 3)
    add("a" * 100 + "!" + "b" * 101)
    add("https://example.com/" + "very-long-path-segment" * 10)
    add("1" * 150)
    add("漢" * 150)  # CJK: each ideograph is its own word
    # --- numbers / URLs ------------------------------------------------------------------
    for _ in range(250):
        w = words(rng.choice(en_sent))
        w.insert(rng.randrange(len(w) + 1), rng.choice(NUMBERS + URLS))
        add(" ".join(w))
    for u in URLS + NUMBERS:
        add(u)
    # --- literal special tokens --------------------------------------------------------
    for _ in range(400):
        w = words(rng.choice(en_sent))
        for _ in range(rng.randint(1, 3)):
            s = rng.choice(SPECIAL_LITERALS)
            i = rng.randrange(len(w) + 1)
            if rng.random() < 0.5 or i == len(w):
                w.insert(i, s)
            else:
                w[i] = w[i] + s
        add(" ".join(w))
    for s in SPECIAL_LITERALS:
        add(s)
    # --- empty / whitespace only --------------------------------------------------------
    for t in ["", " ", "\t\n", "\u200b", "\x00", "\r\n\r\n", "\u3000\u3000", "\ufeff", "   x   "]:
        add(t)
    # --- mixed English / Chinese ------------------------------------------------------
    for _ in range(400):
        e, z = words(rng.choice(en_sent)), rng.choice(zh_sent)
        k = rng.randint(1, min(4, len(e)))
        i = rng.randrange(len(z) + 1)
        sep = rng.choice(["", " "])
        add(z[:i] + sep + " ".join(e[:k]) + sep + z[i:])
    # --- random code points (Unicode stress) -------------------------------------------
    special_ranges = [(0x0890, 0x0891), (0x08E2, 0x08E2), (0x110CD, 0x110CD), (0x13430, 0x1343F),
                      (0x2E43, 0x2E5D), (0x1CF00, 0x1CF46), (0x0898, 0x08E1), (0x1ABF, 0x1ACE),
                      (0xA7CB, 0xA7DC), (0x10D50, 0x10D65), (0x16EA0, 0x16EB8), (0x1C89, 0x1C8A),
                      (0x1734, 0x1734), (0x11938, 0x11938), (0x166D, 0x166D), (0x111C9, 0x111C9),
                      (0x0300, 0x036F), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F),
                      (0x0590, 0x05FF), (0x0E00, 0x0E7F), (0xAC00, 0xD7A3), (0x1F300, 0x1FAFF),
                      (0x2000, 0x206F), (0x3000, 0x303F), (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF),
                      (0x00C0, 0x024F), (0x0370, 0x03FF), (0x1F00, 0x1FFF), (0x0400, 0x04FF)]

    def rand_cp():
        r = rng.random()
        if r < 0.3:
            while True:
                c = rng.randrange(0x110000)
                if not 0xD800 <= c <= 0xDFFF:
                    return c
        if r < 0.5:
            return rng.randrange(0x20, 0x7F)
        lo, hi = rng.choice(special_ranges)
        return rng.randint(lo, hi)

    for _ in range(600):
        n = rng.randint(1, 40)
        cps = []
        for _ in range(n):
            cps.append(chr(rand_cp()))
            if rng.random() < 0.15:
                cps.append(" ")
        add("".join(cps))
    # combining-mark reordering cases: base + random marks in random order
    marks = [0x0300, 0x0301, 0x0302, 0x0308, 0x0323, 0x0327, 0x0328, 0x031B, 0x0345, 0x05B0,
             0x0659, 0x093C, 0x094D, 0x0E38, 0x0F71, 0x0F72, 0x0F74, 0x1D165, 0x1D166,
             0x1D16D, 0x1D16E, 0x1DFA, 0x0898, 0x1ABF, 0x1734, 0x302A, 0x3099, 0x0F39]
    for _ in range(300):
        out = []
        for _ in range(rng.randint(1, 6)):
            out.append(rng.choice("aeiouAEIOUnNcCsSzZ\u03b1\u0391\u0430\u0410i\u0130\u0131\u1e9b"))
            for _ in range(rng.randint(0, 4)):
                out.append(chr(rng.choice(marks)))
            if rng.random() < 0.3:
                out.append(" ")
        add("".join(out))
    # --- case variants of natural text -------------------------------------------------
    for t in rng.sample(src["ms_p"], 150):
        add(t.upper())
    # --- very long texts (stored as n + hash) ------------------------------------------
    i = rng.randrange(len(src["wap"]) - 40000)
    add(src["wap"][i:i + 40000])
    i = rng.randrange(len(src["hlm"]) - 30000)
    add(src["hlm"][i:i + 30000])
    pool = texts[:]  # everything above, shuffled and concatenated
    rng.shuffle(pool)
    big = []
    total = 0
    for t in pool:
        big.append(t)
        total += len(t)
        if total > 60000:
            break
    add(" ".join(big))
    add("a" * 25000)
    add(("[SEP]x" * 5000))
    return texts


ADDED_PIECES = [
    "hello world", "Hello World", "HELLO  WORLD", "hello\tworld", "<ent>", "a<ent>b", "x <ent> y",
    "<l>", "   <l>", "a   <l>b", "<r>   x", "<r><r>", "<r>\u3000y", "Müller", "MÜLLER", "muller",
    "Mueller", "[SEP]x", "[SEP]", "[SEP]xx", "newtok", "NEWTOK", "special", "Special", "ŞPECİAL",
    "the", "theory", "the.", "bathe", "The", "##ing", "runn##ing", "Hello", "hello", "ÉCOLE",
    "ecole", "ECOLE", "École", "[MASK]", "[mask]", "<ENT>", "é", "\u00a0", "日本", "x", "abcdefghijklmnop",
]
SEPARATORS = ["", " ", "  ", "\t", ".", "é", "\u200b", "\u3000", "-", "_", "\r\n"]


def synth_texts(rng, texts):
    out = []
    for _ in range(900):
        k = rng.randint(1, 8)
        parts = []
        for _ in range(k):
            parts.append(rng.choice(ADDED_PIECES))
            parts.append(rng.choice(SEPARATORS))
        out.append("".join(parts))
    short = [t for t in texts if len(t) < 400]
    out += rng.sample(short, 700)
    return out


def build_synthetic(tj_path, out_dir, texts):
    """Writes synth_{a,b,c}/tokenizer.json and synth_{a,b,c}.jsonl."""
    from tokenizers import AddedToken, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    with open(tj_path, encoding="utf-8") as f:
        full = json.load(f)["model"]["vocab"]
    sub = {t: i for t, i in full.items() if i < 8000}
    rng = random.Random(SEED + 1)
    sample = synth_texts(rng, texts)
    specials = [AddedToken(t, special=True, normalized=False) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")]
    made = {}

    a = Tokenizer(WordPiece(sub, unk_token="[UNK]", continuing_subword_prefix="##", max_input_chars_per_word=100))
    a.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    a.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    a.add_special_tokens(specials)
    a.add_tokens([
        AddedToken("hello world", normalized=True),
        AddedToken("<ent>", single_word=True, normalized=False),
        AddedToken("<l>", lstrip=True, normalized=False),
        AddedToken("<r>", rstrip=True, normalized=False),
        AddedToken("Müller", normalized=True),
        AddedToken("[SEP]x", normalized=False),
        AddedToken("newtok", normalized=True),
        AddedToken("ŞPECİAL", normalized=True),
        AddedToken("the", single_word=True, normalized=True),
        AddedToken("##ing", normalized=False),
    ])
    made["synth_a"] = a

    vb = {("@@" + t[2:] if t.startswith("##") else t): i for t, i in sub.items()}
    b = Tokenizer(WordPiece(vb, unk_token="[UNK]", continuing_subword_prefix="@@", max_input_chars_per_word=10))
    b.normalizer = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    b.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    b.add_special_tokens(specials)
    b.add_tokens([AddedToken("Hello", normalized=True), AddedToken("ÉCOLE", normalized=True),
                  AddedToken("<ent>", single_word=True, lstrip=True, rstrip=True, normalized=False)])
    made["synth_b"] = b

    c = Tokenizer(WordPiece(sub, unk_token="[UNK]", continuing_subword_prefix="##", max_input_chars_per_word=100))
    c.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    c.add_special_tokens(specials)
    c.add_tokens([AddedToken("hello world", normalized=True), AddedToken("Müller", normalized=False)])
    made["synth_c"] = c

    for name, t in made.items():
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "tokenizer.json")
        t.save(path)
        t = Tokenizer.from_file(path)  # ids exactly as the saved file gives them
        with open(os.path.join(out_dir, name + ".jsonl"), "w", encoding="utf-8", newline="\n") as f:
            for s in sample:
                ids = t.encode(s, add_special_tokens=False).ids
                f.write(json.dumps({"text": s, "ids": ids}, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(sample)


def unicode_block_hashes():
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    configs = {
        "clean": BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False),
        "chinese": BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False),
        "strip": BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False),
        "lower": BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True),
        "uncased": BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True),
        "cased": BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=False),
    }
    # Canonical-ordering probes: strip accents of c next to a spacing mark that survives
    # (U+1D16D ccc 226 before c, U+1D165 ccc 216 after c) shows whether HF reorders.
    strip = configs["strip"]
    wrapped = {"order1": ("a\U0001D16D", ""), "order2": ("a", "\U0001D165")}
    pre = BertPreTokenizer()
    block = 4096
    out = {"block_size": block, "hash": "fnv1a64 over, per code point (surrogates skipped), "
           "the UTF-8 output followed by byte 0xFF; pretok output is one ASCII digit: "
           "number of pieces of 'a'+c+'a' minus 1; order1/order2: strip config on "
           "'a'+U+1D16D+c / 'a'+c+U+1D165", "configs": {}}
    for name in list(configs) + list(wrapped) + ["pretok"]:
        hashes = []
        for b0 in range(0, 0x110000, block):
            h = 0xCBF29CE484222325
            for c in range(b0, b0 + block):
                if 0xD800 <= c <= 0xDFFF:
                    continue
                if name == "pretok":
                    data = str(len(pre.pre_tokenize_str("a" + chr(c) + "a")) - 1).encode()
                elif name in wrapped:
                    data = strip.normalize_str(wrapped[name][0] + chr(c) + wrapped[name][1]).encode("utf-8")
                else:
                    data = configs[name].normalize_str(chr(c)).encode("utf-8")
                h = fnv1a64_bytes(h, data + b"\xff")
            hashes.append("%016x" % h)
        out["configs"][name] = hashes
    return out


def derive_tables():
    """Prints utf8proc-vs-HF exception tables (the ones in src/tokenizer/unicode.cc)."""
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    u = ctypes.CDLL("libutf8proc.so.2")
    u.utf8proc_category.restype = ctypes.c_int
    u.utf8proc_tolower.restype = ctypes.c_int32
    cats = ["Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd",
            "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf",
            "Cs", "Co"]
    cat = lambda c: cats[u.utf8proc_category(c)]
    clean = BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    strip = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    lower = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    pre = BertPreTokenizer()
    asc = set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')
    sets = {k: set() for k in ("other_new", "other_old", "punct_new", "punct_old", "mn_new", "mn_old")}
    low = []
    for c in range(1, 0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        s = chr(c)
        hf_other = c != 0xFFFD and clean.normalize_str(s) == ""
        u_other = cat(c) in ("Cc", "Cf", "Co") and c not in (9, 10, 13)
        if u_other and not hf_other:
            sets["other_new"].add(c)
        if hf_other and not u_other:
            sets["other_old"].add(c)
        if chr(c) not in asc:
            hf_p = len(pre.pre_tokenize_str("a" + s + "a")) == 3
            u_p = cat(c).startswith("P")
            if u_p and not hf_p:
                sets["punct_new"].add(c)
            if hf_p and not u_p:
                sets["punct_old"].add(c)
        hf_mn = strip.normalize_str(s) == ""
        u_mn = cat(c) == "Mn"
        if u_mn and not hf_mn:
            sets["mn_new"].add(c)
        if hf_mn and not u_mn:
            sets["mn_old"].add(c)
        hl = lower.normalize_str(s)
        ul = "i\u0307" if c == 0x130 else chr(u.utf8proc_tolower(c))
        if hl != ul:
            low.append((c, hl))

    def ranges(s):
        out = []
        for c in sorted(s):
            if out and out[-1][1] == c - 1:
                out[-1][1] = c
            else:
                out.append([c, c])
        return ", ".join("{0x%X, 0x%X}" % (a, b) for a, b in out)

    from tokenizers.normalizers import NFD

    class Prop(ctypes.Structure):
        _fields_ = [("category", ctypes.c_int16), ("combining_class", ctypes.c_int16)]

    u.utf8proc_get_property.restype = ctypes.POINTER(Prop)
    nfd = NFD()
    sets["ccc_new"] = set()
    for c in range(0x300, 0x110000):
        if 0xD800 <= c <= 0xDFFF or u.utf8proc_get_property(c).contents.combining_class in (0, 240):
            continue
        s = chr(c)
        if nfd.normalize_str(s) != s:
            continue
        if (nfd.normalize_str("a\u0345" + s) == "a\u0345" + s and
                nfd.normalize_str("a" + s + "\u0334") == "a" + s + "\u0334"):
            sets["ccc_new"].add(c)  # HF treats it as a starter
    for k, v in sets.items():
        print(f"{k}: {ranges(v)}")
    print("lowercase (cp -> HF):", ", ".join("0x%X->%s" % (c, "+".join("0x%X" % ord(x) for x in l)) for c, l in low))


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--shared", default=os.path.normpath(os.path.join(here, "../../shared")))
    ap.add_argument("--out", default=os.path.join(here, "../tests/data/tokenizers/wordpiece-msmarco"))
    ap.add_argument("--derive-tables", action="store_true")
    ap.add_argument("--skip-unicode", action="store_true", help="do not rewrite unicode_blocks.json")
    args = ap.parse_args()
    if args.derive_tables:
        derive_tables()
        return

    import tokenizers
    import transformers
    from tokenizers import Tokenizer
    from transformers import BertTokenizerFast

    model_dir = os.path.join(args.shared, "models/ms-marco-MiniLM-L-6-v2")
    tj = os.path.join(model_dir, "tokenizer.json")
    vt = os.path.join(model_dir, "vocab.txt")
    tok = Tokenizer.from_file(tj)
    tmp = tempfile.mkdtemp()
    try:
        shutil.copy(vt, os.path.join(tmp, "vocab.txt"))
        vocab_tok = BertTokenizerFast.from_pretrained(tmp)._tokenizer
        cased_tok = BertTokenizerFast.from_pretrained(tmp, do_lower_case=False)._tokenizer
    finally:
        shutil.rmtree(tmp)

    src = load_sources(args.shared)
    texts = build_texts(src)
    os.makedirs(args.out, exist_ok=True)

    disagree = 0
    first_disagree = []
    n_long = 0
    with open(os.path.join(args.out, "parity.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            ids = tok.encode(t, add_special_tokens=False).ids
            vids = vocab_tok.encode(t, add_special_tokens=False).ids
            if ids != vids:
                disagree += 1
                if len(first_disagree) < 5:
                    first_disagree.append(t[:200])
            if len(t) >= LONG_CHARS:
                n_long += 1
                rec = {"text": t, "n": len(ids), "fnv1a64_hex": fnv1a64(ids)}
            else:
                rec = {"text": t, "ids": ids}
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")

    cased_texts = [t for t in texts if len(t) < LONG_CHARS][-4000:]
    with open(os.path.join(args.out, "parity_cased.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for t in cased_texts:
            ids = cased_tok.encode(t, add_special_tokens=False).ids
            f.write(json.dumps({"text": t, "ids": ids}, ensure_ascii=False, separators=(",", ":")) + "\n")

    n_synth = build_synthetic(tj, args.out, texts)

    if not args.skip_unicode:
        with open(os.path.join(args.out, "unicode_blocks.json"), "w", encoding="utf-8") as f:
            json.dump(unicode_block_hashes(), f, indent=0)

    def sha256(p):
        with open(p, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()

    meta = {
        "generator": "scripts/make_wordpiece_parity.py",
        "seed": SEED,
        "tokenizers_version": tokenizers.__version__,
        "transformers_version": transformers.__version__,
        "tokenizer_json_sha256": sha256(tj),
        "vocab_txt_sha256": sha256(vt),
        "texts": len(texts),
        "long_texts_hashed": n_long,
        "cased_texts": len(cased_texts),
        "synthetic_texts_per_tokenizer": n_synth,
        "vocab_txt_vs_tokenizer_json_disagreements": disagree,
        "first_disagreements": first_disagree,
        "total_chars": sum(len(t) for t in texts),
    }
    with open(os.path.join(args.out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    print(json.dumps(meta, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
