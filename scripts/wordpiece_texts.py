"""The texts of make_wordpiece_parity.py's parity.jsonl: natural text from the shared data
folder (load_sources) plus synthetic Unicode / whitespace / punctuation / special-token stress
cases (build_texts), deterministic from SEED.
"""
import csv
import json
import os
import random

SEED = 20261101

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
