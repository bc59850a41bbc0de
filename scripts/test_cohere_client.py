#!/usr/bin/env python3
"""Drives `crossrank serve` with the official Cohere Python SDK (pip install cohere).

  scripts/test_cohere_client.py --base-url http://127.0.0.1:8080     # a running server
  scripts/test_cohere_client.py --spawn build/crossrank [--model synthetic:tiny-xlmr]

Checks: ClientV2.rerank (POST /v2/rerank) ordering, top_n, max_tokens_per_doc, scores
equal to the TEI route's sigmoid scores; the v1 Client.rerank (POST /v1/rerank) with
return_documents; SDK error mapping (422 -> UnprocessableEntityError, 401 with a wrong
key). Exits non-zero on the first failed check. Every request has a timeout.
"""
import argparse
import json
import math
import subprocess
import sys
import urllib.request

import cohere

from serve_client_util import check, spawn_serve

QUERY = "what is a giant panda?"
DOCS = [
    "hi",
    "The giant panda is a bear species endemic to China.",
    "Pandas eat bamboo almost exclusively.",
    "Paris is the capital of France.",
    "The red panda is not closely related to the giant panda.",
]


def post(base, path, body, key=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if key:
        req.add_header("Authorization", "Bearer " + key)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--spawn", metavar="CROSSRANK_BIN", default=None)
    ap.add_argument("--model", default="synthetic:tiny-xlmr")
    ap.add_argument("--api-key", default="test-key")
    args = ap.parse_args()
    proc = None
    base = args.base_url
    if args.spawn:
        proc, base = spawn_serve(args.spawn, args.model, *(["--api-key", args.api_key] if args.api_key else []))
    if not base:
        sys.exit("give --base-url or --spawn")
    key = args.api_key if args.spawn else (args.api_key or "unused")
    try:
        co = cohere.ClientV2(api_key=key, base_url=base, timeout=30, max_retries=0)
        res = co.rerank(model="crossrank", query=QUERY, documents=DOCS, top_n=3)
        check(len(res.results) == 3, "v2: top_n=3 gives 3 results")
        scores = [r.relevance_score for r in res.results]
        check(scores == sorted(scores, reverse=True), "v2: results sorted by relevance_score")
        check(all(0.0 <= s <= 1.0 for s in scores), "v2: scores are sigmoid probabilities")
        check(res.meta is not None and res.meta.api_version.version == "2", "v2: meta.api_version.version == '2'")
        check(res.meta.billed_units.search_units == 1, "v2: meta.billed_units.search_units == 1")
        check(res.id is not None, "v2: response id")

        tei = post(base, "/rerank", {"query": QUERY, "texts": DOCS, "raw_scores": True}, key)
        sig = {r["index"]: 1.0 / (1.0 + math.exp(-r["score"])) for r in tei}
        check(all(abs(r.relevance_score - sig[r.index]) < 1e-6 for r in res.results),
              "v2: relevance_score == sigmoid(TEI raw score) within 1e-6")

        full = co.rerank(model="crossrank", query=QUERY, documents=DOCS)
        check(len(full.results) == len(DOCS), "v2: no top_n returns every document")
        capped = co.rerank(model="crossrank", query=QUERY, documents=DOCS, max_tokens_per_doc=2)
        check(len(capped.results) == len(DOCS), "v2: max_tokens_per_doc accepted")

        v1 = cohere.Client(api_key=key, base_url=base, timeout=30)
        r1 = v1.rerank(model="crossrank", query=QUERY, documents=DOCS, top_n=2, return_documents=True)
        check(len(r1.results) == 2, "v1: top_n=2 via POST /v1/rerank")
        check(all(r.document is not None and r.document.text == DOCS[r.index] for r in r1.results),
              "v1: return_documents gives {text}")
        check([r.index for r in r1.results] == [r.index for r in full.results[:2]], "v1 and v2 agree on the order")

        try:
            co.rerank(model="crossrank", query="", documents=DOCS)
            check(False, "empty query rejected")
        except cohere.errors.UnprocessableEntityError as e:
            check(e.status_code == 422 and "query" in json.dumps(e.body), "empty query -> 422 naming `query`")
        if args.spawn:
            bad = cohere.ClientV2(api_key="wrong", base_url=base, timeout=30, max_retries=0)
            try:
                bad.rerank(model="crossrank", query=QUERY, documents=DOCS)
                check(False, "wrong key rejected")
            except cohere.core.api_error.ApiError as e:
                check(e.status_code == 401, "wrong API key -> 401")
        print("all Cohere SDK checks passed")
    finally:
        if proc:
            proc.terminate()
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = -9
            check(rc == 0, "server exited 0 on SIGTERM")


if __name__ == "__main__":
    main()
