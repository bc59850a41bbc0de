#!/usr/bin/env python3
"""Drives `crossrank serve` with the rerank clients people use (PyPI, pinned in
scripts/pyvenv.sh), as a new user would: litellm's cohere, jina_ai, hosted_vllm,
huggingface and infinity providers, and llama-index's JinaRerank and TEI
(TextEmbeddingInference) postprocessors. Every score must equal the server's own TEI
route sigmoid; errors must reach the user as the server's message.

  scripts/test_client_libs.py --spawn build/crossrank [--model synthetic:tiny-xlmr]
  scripts/test_client_libs.py --base-url http://127.0.0.1:8080

Exits non-zero on the first failed check. Nothing leaves 127.0.0.1.
"""
import argparse
import math
import os

from serve_client_util import check, spawn_serve, tei_logits

# litellm must not fetch its model price list from the network at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

QUERY = "what is a giant panda?"
DOCS = [
    "hi",
    "The giant panda is a bear species endemic to China.",
    "Pandas eat bamboo almost exclusively.",
    "Paris is the capital of France.",
    "The red panda is not closely related to the giant panda.",
]


def close(a, b):
    return abs(a - b) < 1e-6


def check_results(name, results, ref, top_n, docs_as):
    """results: list of dicts with index, relevance_score and maybe document."""
    check(len(results) == top_n, f"{name}: {top_n} results")
    best = sorted(range(len(DOCS)), key=lambda i: -ref[i])[:top_n]
    check([r["index"] for r in results] == best, f"{name}: order {[r['index'] for r in results]} == {best}")
    check(all(close(r["relevance_score"], ref[r["index"]]) for r in results), f"{name}: scores equal the sigmoid")
    if docs_as == "text":
        check(all(r["document"]["text"] == DOCS[r["index"]] for r in results), f"{name}: documents echoed as {{text}}")
    elif docs_as == "string":
        check(all(r["document"] == DOCS[r["index"]] for r in results), f"{name}: documents echoed as strings")


def as_dicts(results):
    out = []
    for r in results:
        d = dict(r) if isinstance(r, dict) else r.__dict__
        doc = d.get("document")
        if doc is not None and not isinstance(doc, (str, dict)):
            doc = dict(doc) if hasattr(doc, "keys") else getattr(doc, "__dict__", doc)
        out.append({"index": d["index"], "relevance_score": d["relevance_score"], "document": doc})
    return out


def test_litellm(base, ref):
    import litellm
    # hosted_vllm gets vLLM's usual OpenAI-style base (.../v1 -> POST /v1/rerank, the Jina
    # shape with {"text"} documents); infinity the bare base (POST /rerank, Infinity's
    # shape with string documents). The two providers send identical bodies, so /rerank
    # cannot serve both document shapes; see README "Dialects".
    for provider, model, docs_as, api_base in [("cohere", "cohere/rerank-english-v3.0", "text", base),
                                               ("jina_ai", "jina_ai/jina-reranker-v2-base-multilingual", None, base),
                                               ("hosted_vllm", "hosted_vllm/any", "text", base + "/v1"),
                                               ("infinity", "infinity/any", "text", base)]:
        kwargs = dict(model=model, query=QUERY, documents=DOCS, top_n=3, api_base=api_base, api_key="x")
        if provider in ("cohere", "infinity"):
            kwargs["return_documents"] = True
        resp = litellm.rerank(**kwargs)
        # litellm hands every provider's document to the user as {"text": ...}.
        check_results(f"litellm {provider}", as_dicts(resp.results), ref, 3, docs_as)
    resp = litellm.rerank(model="huggingface/any", query=QUERY, documents=DOCS, top_n=3, api_base=base, api_key="x")
    check_results("litellm huggingface (TEI)", as_dicts(resp.results), ref, 3, None)


def test_llama_index(base, ref):
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from llama_index.postprocessor.jinaai_rerank import JinaRerank
    from llama_index.postprocessor.tei_rerank import TextEmbeddingInference
    nodes = [NodeWithScore(node=TextNode(text=d), score=0.0) for d in DOCS]
    best = sorted(range(len(DOCS)), key=lambda i: -ref[i])[:3]
    jina = JinaRerank(base_url=base + "/v1", api_key="x", top_n=3)
    out = jina.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    check([n.node.text for n in out] == [DOCS[i] for i in best], "llama-index JinaRerank: order")
    check(all(close(n.score, ref[DOCS.index(n.node.text)]) for n in out), "llama-index JinaRerank: scores")
    try:
        jina.postprocess_nodes(nodes, query_bundle=QueryBundle(""))
        check(False, "llama-index JinaRerank: an empty query must fail")
    except RuntimeError as e:
        check("query" in str(e), f"llama-index JinaRerank: the server's message reaches the user ({e})")
    tei = TextEmbeddingInference(base_url=base, top_n=3, model_name="any")
    out = tei.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    check([n.node.text for n in out] == [DOCS[i] for i in best], "llama-index TEI: order")
    check(all(close(n.score, ref[DOCS.index(n.node.text)]) for n in out), "llama-index TEI: scores")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url")
    ap.add_argument("--spawn")
    ap.add_argument("--model", default="synthetic:tiny-xlmr")
    a = ap.parse_args()
    proc = None
    base = a.base_url
    if a.spawn:
        proc, base = spawn_serve(a.spawn, a.model)
    try:
        ref = [1.0 / (1.0 + math.exp(-x)) for x in tei_logits(base, QUERY, DOCS)]
        test_llama_index(base, ref)
        test_litellm(base, ref)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=60)
    print("PASS")


if __name__ == "__main__":
    main()
