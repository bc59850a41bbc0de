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
import ctypes
import hashlib
import json
import os
import random
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wordpiece_texts import SEED, build_texts, load_sources  # noqa: E402

LONG_CHARS = 20000  # texts at least this long store n + hash instead of ids


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
