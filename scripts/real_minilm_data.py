"""Data shared by make_real_minilm.py and int8_study.py (stdlib only).

Evaluation lists (the ones committed under tests/data/models/real-minilm/):
  * msmarco-trecdl: the 43 judged queries of shared/data/msmarco-trecdl-subset in queries.jsonl
    order; candidates = the query's judged passages (grades 1-3) in passage-id order (numeric:
    shorter id first), at most 100, then padded to 100 with the unjudged passages of the corpus
    that score highest by BM25 (k1 0.9, b 0.4, lower-cased words; ties by corpus order), label 0.
    This is crossrank's own `eval msmarco-trecdl --top 100 --min-candidates 100` selection
    (src/app/eval_data.cc), re-implemented here.
  * wikiqa: the first 100 questions of WikiQA-test-gold.tsv (file order; every question of the
    filtered split has >= 1 positive), candidates = its sentences in file order, label 0/1
    (= `eval wikiqa --queries 100`).
Head-fitting data (disjoint from both): WikiQA dev, XQuAD-en (question -> the 5 paragraphs of its
article), the FlagEmbedding toy set (10 MS MARCO train queries; none is a TREC-DL query).
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

DATA = Path(os.environ.get("CROSSRANK_SHARED", "/work/shared")) / "data"


def id_less_key(s: str):
    return (len(s), s)


def bm25_terms(s: str) -> list[str]:
    """Port of eval_data.cc bm25_terms: lower-cased ASCII alnum / Latin words, CJK uni+bigrams."""
    out, word, prev = [], [], ""

    def flush():
        if word:
            out.append("".join(word))
            word.clear()

    for ch in s:
        cp = ord(ch)
        cjk = 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FFFF or 0xF900 <= cp <= 0xFAFF
        if cjk:
            flush()
            out.append(ch)
            if prev:
                out.append(prev + ch)
            prev = ch
            continue
        prev = ""
        word_char = (ch.isascii() and ch.isalnum()) if cp < 0x80 else (0xC0 <= cp < 0x2000)
        if not word_char:
            flush()
        elif cp < 0x80:
            word.append(ch.lower())
        else:
            word.append(ch)
    flush()
    return out


class Bm25:
    def __init__(self, docs: list[str]):
        self.n = len(docs)
        self.post: dict[str, list[tuple[int, int]]] = {}
        self.len = [0.0] * self.n
        total = 0.0
        for d, text in enumerate(docs):
            tf: dict[str, int] = {}
            for t in bm25_terms(text):
                tf[t] = tf.get(t, 0) + 1
            for t, f in tf.items():
                self.post.setdefault(t, []).append((d, f))
                self.len[d] += f
            total += self.len[d]
        self.avg = total / self.n if self.n else 1.0

    def top(self, query: str, k: int, skip) -> list[int]:
        k1, b = 0.9, 0.4
        score = [0.0] * self.n
        seen = set()
        for t in bm25_terms(query):
            if t in seen:
                continue
            seen.add(t)
            p = self.post.get(t)
            if not p:
                continue
            df = len(p)
            idf = math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))
            for d, f in p:
                score[d] += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * self.len[d] / self.avg))
        idx = [d for d in range(self.n) if not skip(d)]
        idx.sort(key=lambda d: (-score[d], d))
        return idx[:k]


def trecdl_lists(top: int = 100) -> list[dict]:
    root = DATA / "msmarco-trecdl-subset"
    pids, texts = [], []
    for line in open(root / "corpus.jsonl", encoding="utf-8"):
        if line.strip():
            j = json.loads(line)
            pids.append(j["_id"])
            texts.append(j["text"])  # every title is empty in this subset
    index = {p: i for i, p in enumerate(pids)}
    qrels: dict[str, list[tuple[str, int]]] = {}
    for line in open(root / "qrels" / "test.tsv", encoding="utf-8"):
        if line.strip():
            q, p, g = line.rstrip("\n").split("\t")
            qrels.setdefault(q, []).append((p, int(g)))
    bm25 = Bm25(texts)
    lists = []
    for line in open(root / "queries.jsonl", encoding="utf-8"):
        if not line.strip():
            continue
        j = json.loads(line)
        qid = j["_id"]
        if qid not in qrels:
            continue
        judged = sorted(qrels[qid], key=lambda x: id_less_key(x[0]))  # stable
        skip = {index[p] for p, _ in judged}
        cands = [(p, g) for p, g in judged[:top]]
        if len(cands) < top:
            for d in bm25.top(j["text"], top - len(cands), lambda d: d in skip):
                cands.append((pids[d], 0))
        lists.append({"qid": qid, "query": j["text"], "pids": [p for p, _ in cands],
                      "passages": [texts[index[p]] for p, _ in cands], "labels": [g for _, g in cands],
                      "padded": max(0, top - len(judged))})
    return lists


def read_wikiqa(name: str) -> list[dict]:
    groups: dict[str, dict] = {}
    with open(DATA / "wikiqa" / name, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            g = groups.setdefault(r["QuestionID"], {"qid": r["QuestionID"], "query": r["Question"],
                                                     "pids": [], "passages": [], "labels": []})
            g["pids"].append(r["SentenceID"])
            g["passages"].append(r["Sentence"])
            g["labels"].append(int(r["Label"]))
    return list(groups.values())


def wikiqa_lists(n: int = 100, top: int = 100) -> list[dict]:
    out = []
    for g in read_wikiqa("WikiQA-test-gold.tsv"):
        for k in ("pids", "passages", "labels"):
            g[k] = g[k][:top]
        if max(g["labels"]) > 0:
            out.append(g)
        if len(out) == n:
            break
    return out


def training_groups() -> list[dict]:
    """Groups {query, passages, labels, source} for fitting the head (none overlaps the eval lists)."""
    groups = []
    for g in read_wikiqa("WikiQA-dev.tsv"):
        if max(g["labels"]) > 0 and len(g["labels"]) >= 2:
            groups.append({"source": "wikiqa-dev", **{k: g[k] for k in ("query", "passages", "labels")}})
    xq = json.load(open(DATA / "xquad-zh-en" / "xquad.en.json", encoding="utf-8"))
    k = 0
    for art in xq["data"]:
        paras = [p["context"] for p in art["paragraphs"]]
        for pi, p in enumerate(art["paragraphs"]):
            for qa in p["qas"]:
                if k % 4 == 0:  # every 4th question: ~300 groups x 5 paragraphs
                    groups.append({"source": "xquad-en", "query": qa["question"], "passages": paras,
                                   "labels": [int(i == pi) for i in range(len(paras))]})
                k += 1
    for line in open(DATA / "flagembedding-reranker-toy" / "examples.jsonl", encoding="utf-8"):
        j = json.loads(line)
        groups.append({"source": "flag-toy", "query": j["query"], "passages": j["pos"] + j["neg"],
                       "labels": [1] * len(j["pos"]) + [0] * len(j["neg"])})
    return groups


def ndcg_at_k(scores, gains, k=10) -> float:
    """crossrank eval_metrics.cc ndcg_at_k: stable descending order, linear gain, log2 discount."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # Python sort is stable
    n = min(len(order), max(k, 0))
    dcg = sum(gains[order[i]] / math.log2(i + 2.0) for i in range(n))
    ideal = sorted(gains, reverse=True)
    idcg = sum(ideal[i] / math.log2(i + 2.0) for i in range(n))
    return dcg / idcg if idcg > 0 else 0.0
