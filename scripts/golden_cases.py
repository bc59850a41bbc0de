"""Text pairs and pair encodings of make_goldens.py's tiny model folders (part B there).

PairEncoder encodes a pair with tokenizer.json semantics (longest_first) or with FlagEmbedding's
legacy id-level encoding (flagembedding), as make_goldens.py's docstring describes;
text_pairs / case_settings pick the deterministic texts from the shared data folder
(CROSSRANK_SHARED, default /work/shared), and encode_cases encodes them and counts the
truncation statistics.
"""
from __future__ import annotations

import collections
import json
import os
from pathlib import Path

SHARED = Path(os.environ.get("CROSSRANK_SHARED", "/work/shared"))
DATA = SHARED / "data"


class PairEncoder:
    """Encodes pairs with tokenizer.json semantics (tokenizers library)."""

    def __init__(self, folder: Path, kind: str):
        from tokenizers import Tokenizer
        self.kind = kind
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.no_truncation()
        self.cls, self.sep = (0, 2) if kind == "xlmr" else (101, 102)
        self.nspec = 4 if kind == "xlmr" else 3

    def plain(self, text: str) -> list[int]:
        self.tok.no_truncation()
        return self.tok.encode(text, add_special_tokens=False).ids

    def build(self, q: list[int], d: list[int]) -> tuple[list[int], list[int]]:
        if self.kind == "xlmr":
            ids = [self.cls] + q + [self.sep, self.sep] + d + [self.sep]
            return ids, [0] * len(ids)
        ids = [self.cls] + q + [self.sep] + d + [self.sep]
        return ids, [0] * (len(q) + 2) + [1] * (len(d) + 1)

    def legacy_prepare_for_model(self, q: list[int], d: list[int], max_length: int):
        """transformers 4.x prepare_for_model(q, d, truncation='only_second', max_length)."""
        total = len(q) + len(d) + self.nspec
        if total > max_length:
            rm = total - max_length
            if len(d) > rm:
                d = d[:-rm]
            # else: transformers logs "We need to remove ..." and truncates nothing
        return self.build(q, d)

    def flagembedding(self, query: str, document: str, max_length: int):
        q = self.plain(query)[: max_length * 3 // 4]
        d = self.plain(document)[:max_length]
        return self.legacy_prepare_for_model(q, d, max_length)

    def longest_first(self, query: str, document: str, max_length: int):
        self.tok.enable_truncation(max_length, strategy="longest_first")
        e = self.tok.encode(query, document)
        self.tok.no_truncation()
        tt = [0] * len(e.ids) if self.kind == "xlmr" else list(e.type_ids)
        return list(e.ids), tt


def _read_jsonl(p: Path):
    return [json.loads(x) for x in p.read_text(encoding="utf-8").split("\n") if x.strip()]


def text_pairs() -> tuple[list, list, list]:
    """(regular, long_doc, long_both) lists of (source, query, document), all deterministic."""
    reg = []
    # --- MS MARCO / TREC-DL subset
    queries = _read_jsonl(DATA / "msmarco-trecdl-subset" / "queries.jsonl")
    corpus = _read_jsonl(DATA / "msmarco-trecdl-subset" / "corpus.jsonl")
    ctext = {c["_id"]: c["text"] for c in corpus}
    qrels = collections.defaultdict(list)
    for line in (DATA / "msmarco-trecdl-subset" / "qrels" / "test.tsv").read_text().splitlines():
        qid, pid, g = line.split("\t")
        qrels[qid].append((int(g), pid))
    judged = [q for q in queries if q["_id"] in qrels][:14]
    for k, q in enumerate(judged):
        rel = sorted(qrels[q["_id"]], key=lambda x: (-x[0], x[1]))[0][1]
        js = {p for _, p in qrels[q["_id"]]}
        non = next(c["_id"] for c in corpus[(k * 331) % len(corpus):] + corpus if c["_id"] not in js)
        reg.append(("msmarco-rel", q["text"], ctext[rel]))
        reg.append(("msmarco-nonrel", q["text"], ctext[non]))
    # --- WikiQA dev
    rows = [r.split("\t") for r in (DATA / "wikiqa" / "WikiQA-dev.tsv").read_text(encoding="utf-8").split("\n")[1:] if r.strip()]
    byq = collections.OrderedDict()
    for r in rows:
        byq.setdefault(r[0], []).append(r)
    for qid, rs in list(byq.items())[:10]:
        pos = [r for r in rs if r[6].strip() == "1"]
        neg = [r for r in rs if r[6].strip() != "1"]
        if pos:
            reg.append(("wikiqa-pos", rs[0][1], pos[0][5]))
        if neg:
            reg.append(("wikiqa-neg", rs[0][1], neg[-1][5]))
    # --- XQuAD en / zh, and cross-lingual
    xq = {lang: json.loads((DATA / "xquad-zh-en" / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
          for lang in ("en", "zh")}
    for lang in ("en", "zh"):
        for a in range(0, 48, 4):
            para = xq[lang][a]["paragraphs"][a % len(xq[lang][a]["paragraphs"])]
            reg.append((f"xquad-{lang}", para["qas"][0]["question"], para["context"]))
    for a in range(2, 48, 8):
        pz = xq["zh"][a]["paragraphs"][0]
        pe = xq["en"][a]["paragraphs"][0]
        reg.append(("xquad-zh-q-en-doc", pz["qas"][-1]["question"], pe["context"]))
        reg.append(("xquad-en-q-zh-doc", pe["qas"][-1]["question"], pz["context"]))
    # --- CMRC 2018 (zh)
    cm = json.loads((DATA / "cmrc2018" / "cmrc2018_dev.squad-style.json").read_text(encoding="utf-8"))["data"]
    for k in range(12):
        para = cm[(k * 23) % len(cm)]["paragraphs"][0]
        reg.append(("cmrc2018", para["qas"][0]["question"], para["context"]))
    # --- FlagEmbedding toy
    toy = _read_jsonl(DATA / "flagembedding-reranker-toy" / "examples.jsonl")
    for ex in toy[:5]:
        reg.append(("flag-toy-pos", ex["query"], ex["pos"][0]))
        reg.append(("flag-toy-neg", ex["query"], ex["neg"][0]))
    # --- hand-written edge cases
    hand = [
        ("short", "hi", "hi"),
        ("short", "hi", "hello there"),
        ("short", "what is panda?", "hi"),
        ("short", "query", "passage"),
        ("single-char", "a", "b"),
        ("single-char", "中", "国"),
        ("single-char", "?", "."),
        ("single-char", "é", "ß"),
        ("single-char", "1", "😀"),
        ("empty", "", "hi"),
        ("empty", "hi", ""),
        ("whitespace", "  leading and trailing  ", "   many     spaces   between    words   "),
        ("whitespace", "tabs\tand\ttabs", "line\nbreaks\r\nand CRLF\n\nparagraphs"),
        ("whitespace", "non\u00a0breaking\u00a0space", "zero\u200bwidth\u200bspace and\u200cjoiners\u200d"),
        ("whitespace", "ideographic\u3000space\u3000here", "line\u2028separator and para\u2029separator"),
        ("whitespace", "   ", "\t \n "),
        ("whitespace", "x", "trailing space "),
        ("unicode", "café naïve résumé", "combining: cafe\u0301 nai\u0308ve"),
        ("unicode", "ﬁ ligature ① ＡＢＣ１２３ full-width", "Ⅻ ㎏ ™ ½ ² ﬀ ligatures"),
        ("unicode", "ÀÉÎÕÜ UPPER accents", "Straße İstanbul ΣΊΣΥΦΟΣ"),
        ("emoji", "I love 🍕 and 🍣!", "Pizza 🍕 is great 👍🏽 but sushi 🍣 too 😀😃😄"),
        ("emoji", "👨‍👩‍👧‍👦 family", "flags 🇯🇵 🇺🇸 🇨🇳 and ❤️ hearts ♥"),
        ("emoji", "😀", "😀😀😀"),
        ("mixed-zh-en", "什么是 machine learning？", "Machine learning（机器学习）是人工智能的一个分支，研究 algorithms 如何从 data 中学习。"),
        ("mixed-zh-en", "Python 中的 list comprehension 怎么用", "列表推导式 list comprehension 的语法是 [x for x in range(10)]，非常简洁。"),
        ("mixed-zh-en", "北京 Beijing 天气 weather 2024", "Beijing 北京市 is the capital of 中华人民共和国 (PRC)."),
        ("multilingual", "Что такое машинное обучение?", "Машинное обучение — класс методов искусственного интеллекта."),
        ("multilingual", "ما هو التعلم الآلي؟", "التعلم الآلي هو فرع من الذكاء الاصطناعي."),
        ("multilingual", "機械学習とは何ですか", "機械学習は人工知能の一分野です。"),
        ("multilingual", "머신 러닝이란 무엇입니까", "머신 러닝은 인공 지능의 한 분야입니다."),
        ("multilingual", "मशीन लर्निंग क्या है", "मशीन लर्निंग कृत्रिम बुद्धिमत्ता की एक शाखा है।"),
        ("special-literal", "what is <s> and </s>?", "the <mask> token and <pad> and <unk> appear in text"),
        ("special-literal", "[CLS] [SEP] [MASK] in text", "[UNK] and [PAD] tokens, lower [cls] [sep]"),
        ("numbers-punct", "3.14159 * 2 = 6.28318?", "e-mail: foo.bar@example.com, URL https://example.org/a?b=c&d=e#f"),
        ("numbers-punct", "C++20 std::vector<int>", "int main() { return 0; } // comment \"quoted\" 'single'"),
    ]
    reg += hand
    # --- long texts
    wp = (DATA / "text-corpora" / "war_and_peace.en.txt").read_text(encoding="utf-8")
    hl = (DATA / "text-corpora" / "hongloumeng.zh.txt").read_text(encoding="utf-8")
    long_doc = []
    for k in range(8):
        q = judged[k]["text"]
        off = 200_000 + k * 311_111
        long_doc.append(("long-doc-en", q, wp[off: off + 7000]))
    zq = [xq["zh"][a]["paragraphs"][0]["qas"][0]["question"] for a in (1, 9, 17, 25)]
    for k in range(4):
        off = 100_000 + k * 150_000
        long_doc.append(("long-doc-zh", zq[k], hl[off: off + 2600]))
    long_both = []
    for k in range(8):
        qo = 400_000 + k * 277_777
        do = 1_500_000 + k * 170_000
        long_both.append(("long-both-en", wp[qo: qo + 4000], wp[do: do + 7000]))
    for k in range(2):
        long_both.append(("long-both-zh", hl[50_000 + k * 300_000: 50_000 + k * 300_000 + 1400],
                          hl[600_000 + k * 90_000: 600_000 + k * 90_000 + 2600]))
    for k in range(2):
        long_both.append(("long-both-mixed", wp[900_000 + k * 100_000: 900_000 + k * 100_000 + 4000],
                          hl[300_000 + k * 100_000: 300_000 + k * 100_000 + 2600]))
    return reg, long_doc, long_both


def case_settings(max_lengths: list[int]):
    """Deterministic (source, query, document, max_length, truncation) list."""
    reg, long_doc, long_both = text_pairs()
    modes = ("flagembedding", "longest_first")
    out = []
    for i, (src, q, d) in enumerate(reg):
        out.append((src, q, d, max_lengths[(i // 2) % len(max_lengths)], modes[i % 2]))
        if src in ("short", "single-char", "empty", "whitespace", "emoji", "special-literal"):
            out.append((src, q, d, max_lengths[-1], modes[(i + 1) % 2]))  # untruncated, other mode
    big = [m for m in max_lengths if m >= 64]
    for j, (src, q, d) in enumerate(long_doc):
        for mi, mode in enumerate(modes):
            out.append((src, q, d, big[(j + mi) % len(big)], mode))
            out.append((src, q, d, max_lengths[-1], mode))
    for j, (src, q, d) in enumerate(long_both):
        out.append((src, q, d, max_lengths[-1], "longest_first"))
        out.append((src, q, d, big[j % len(big)], "longest_first"))
        out.append((src, q, d, max_lengths[-1], "flagembedding"))
        # 8 / 16: brutal cuts on shortened texts (the tokenizers library materialises every
        # overflow window pair when cutting huge pairs to tiny lengths: O(|q|*|d|/ml^2) memory)
        out.append((src, q[:400], d[:700], max_lengths[j % 2], "longest_first"))
    return out


def encode_cases(enc: PairEncoder, settings, hf_tok) -> tuple[list[dict], dict]:
    cases, stats = [], collections.Counter()
    for src, q, d, ml, mode in settings:
        if mode == "flagembedding":
            ids, tt = enc.flagembedding(q, d, ml)
        else:
            ids, tt = enc.longest_first(q, d, ml)
        qf, df = enc.plain(q), enc.plain(d)
        full = len(qf) + len(df) + enc.nspec
        # segment lengths in the result (truncation only ever removes from segment ends)
        if enc.kind == "xlmr":
            nq = next(i for i in range(1, len(ids)) if ids[i] == enc.sep and ids[i + 1] == enc.sep
                      and ids[1:i] == qf[: i - 1]) - 1
            nd = len(ids) - nq - 4
        else:
            nq = tt.index(1) - 2 if 1 in tt else len(ids) - 3
            nd = len(ids) - nq - 3
        stats[f"mode:{mode}"] += 1
        stats[f"max_length:{ml}"] += 1
        if full > len(ids):
            stats["truncated"] += 1
        if nd < len(df):
            stats["doc-cut"] += 1
            if len(df) > 2 * ml:
                stats["long-doc-cut"] += 1
        if nq < len(qf):
            stats["query-cut"] += 1
        if mode == "longest_first" and nq < len(qf) and nd < len(df):
            stats["longest_first-both-cut"] += 1
        if len(ids) > ml:
            stats["flag-overflow(len>max_length)"] += 1
        if hf_tok is not None:
            if mode == "longest_first":
                v5 = hf_tok(q, d, truncation=True, max_length=ml)["input_ids"]
            else:
                v5 = hf_tok(q, add_special_tokens=False)["input_ids"] + hf_tok(d, add_special_tokens=False)["input_ids"]
                v5 = v5 if v5 == qf + df else None
            if v5 is None or (mode == "longest_first" and v5 != ids):
                stats["transformers5-AutoTokenizer-differs"] += 1
        cases.append({"query": q, "document": d, "max_length": ml, "truncation": mode,
                      "ids": ids, "type_ids": tt, "source": src})
    return cases, stats
