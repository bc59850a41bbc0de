#!/usr/bin/env python3
"""Drives the Open Inference Protocol v2 routes of `crossrank serve` with the real v2
clients from PyPI (pinned in scripts/pyvenv.sh, set "kserve"): tritonclient's HTTP
InferenceServerClient (binary tensor data, its default, and JSON) and the kserve SDK's
InferenceRESTClient. Scores must equal the server's own TEI route (raw logits, input
order); errors must reach the user as the server's message.

  scripts/test_kserve_clients.py --spawn build/crossrank [--model synthetic:tiny-bert]
  scripts/test_kserve_clients.py --url http://127.0.0.1:8080 --name ranker

Exits non-zero on the first failed check. Nothing leaves 127.0.0.1.
"""
import argparse
import asyncio
import math

import numpy as np

from serve_client_util import check, spawn_serve, tei_logits

QUERY = "what is a giant panda?"
DOCS = [
    "hi",
    "The giant panda is a bear species endemic to China.",
    "Pandas eat bamboo almost exclusively.",
    "Paris is the capital of France.",
    "Zürich liegt in der Schweiz; 東京は日本の首都です。",
]


def close(got, want, what):
    got = [float(x) for x in got]
    ok = len(got) == len(want) and all(abs(a - b) <= 1e-5 * (1 + abs(b)) for a, b in zip(got, want))
    check(ok, f"{what}: {['%.5f' % x for x in got]} == {['%.5f' % x for x in want]}")


def test_tritonclient(base, name, ref):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
    c = httpclient.InferenceServerClient(url=base.replace("http://", ""), network_timeout=30)
    check(c.is_server_live(), "tritonclient: is_server_live")
    check(c.is_server_ready(), "tritonclient: is_server_ready")
    check(c.is_model_ready(name), "tritonclient: is_model_ready")
    check(c.is_model_ready(name, model_version="1"), "tritonclient: is_model_ready version 1")
    check(not c.is_model_ready("nope"), "tritonclient: an unknown model is not ready")
    meta = c.get_server_metadata()
    check(meta["name"] == "crossrank" and "binary_tensor_data" in meta["extensions"], f"tritonclient: server metadata {meta}")
    meta = c.get_model_metadata(name)
    check(meta["name"] == name and meta["versions"] == ["1"], f"tritonclient: model metadata {meta}")
    check([(t["name"], t["datatype"], t["shape"]) for t in meta["inputs"]] ==
          [("query", "BYTES", [1]), ("documents", "BYTES", [-1])], "tritonclient: inputs query BYTES [1], documents BYTES [-1]")
    check([(t["name"], t["datatype"], t["shape"]) for t in meta["outputs"]] == [("scores", "FP32", [-1])],
          "tritonclient: output scores FP32 [-1]")

    def inputs(binary):
        q = httpclient.InferInput("query", [1], "BYTES")
        q.set_data_from_numpy(np.array([QUERY.encode()], dtype=np.object_), binary_data=binary)
        d = httpclient.InferInput("documents", [len(DOCS)], "BYTES")
        d.set_data_from_numpy(np.array([x.encode() for x in DOCS], dtype=np.object_), binary_data=binary)
        return [q, d]

    # The client's defaults: binary tensor data in, binary out (no outputs named).
    res = c.infer(name, inputs(True), request_id="triton-1")
    out = res.as_numpy("scores")
    check(out is not None and out.dtype == np.float32 and out.shape == (len(DOCS),), f"tritonclient binary: FP32 [{len(DOCS)}]")
    close(out, ref, "tritonclient binary: raw scores in input order")
    check(res.get_response()["id"] == "triton-1", "tritonclient: request id echoed")
    # JSON both ways, the output named, version given, normalize as a request parameter.
    res = c.infer(name, inputs(False), model_version="1",
                  outputs=[httpclient.InferRequestedOutput("scores", binary_data=False)], parameters={"normalize": True})
    close(res.as_numpy("scores"), [1 / (1 + math.exp(-z)) for z in ref], "tritonclient JSON, normalize: sigmoid scores")
    # Errors carry the server's message.
    bad = httpclient.InferInput("query", [1], "FP32")
    bad.set_data_from_numpy(np.array([1.0], dtype=np.float32), binary_data=False)
    try:
        c.infer(name, [bad, inputs(False)[1]])
        check(False, "tritonclient: an FP32 query must fail")
    except InferenceServerException as e:
        check("datatype must be BYTES" in str(e), f"tritonclient: the server's message reaches the user ({e})")
    try:
        c.infer("nope", inputs(True))
        check(False, "tritonclient: an unknown model must fail")
    except InferenceServerException as e:
        check("not served" in str(e), f"tritonclient: unknown model ({e})")
    c.close()


def test_kserve(base, name, ref):
    try:
        from kserve import InferenceRESTClient, RESTConfig, InferRequest, InferInput
    except ImportError as e:
        print(f"skip: kserve SDK not installed ({e})")
        return

    async def run():
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
        try:
            check(await client.is_server_live(base), "kserve: is_server_live")
            check(await client.is_server_ready(base), "kserve: is_server_ready")
            check(await client.is_model_ready(base, name), "kserve: is_model_ready")
            req = InferRequest(model_name=name, request_id="kserve-1",
                               infer_inputs=[InferInput(name="query", shape=[1], datatype="BYTES", data=[QUERY]),
                                             InferInput(name="documents", shape=[len(DOCS)], datatype="BYTES", data=DOCS)])
            res = await client.infer(base, req, name)
            check(res.id == "kserve-1", "kserve: request id echoed")
            out = res.outputs[0]
            check(out.name == "scores" and out.datatype == "FP32" and list(out.shape) == [len(DOCS)],
                  f"kserve: scores FP32 [{len(DOCS)}]")
            close(out.data, ref, "kserve: raw scores in input order")
            bad = InferRequest(model_name=name,
                               infer_inputs=[InferInput(name="query", shape=[1], datatype="BYTES", data=[QUERY]),
                                             InferInput(name="docs", shape=[1], datatype="BYTES", data=["x"])])
            try:
                await client.infer(base, bad, name)
                check(False, "kserve: an unknown input must fail")
            except Exception as e:  # the SDK raises httpx.HTTPStatusError or its own error type
                check("unexpected input `docs`" in str(e) or "400" in str(e), f"kserve: bad input refused ({e})")
        finally:
            await client.close()

    asyncio.run(run())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spawn", help="crossrank binary to start on 127.0.0.1 (ephemeral port)")
    ap.add_argument("--model", default="synthetic:tiny-bert")
    ap.add_argument("--url", help="an already running server")
    ap.add_argument("--name", default="ranker", help="served model name")
    args = ap.parse_args()
    proc = None
    if args.spawn:
        proc, base = spawn_serve(args.spawn, args.model, "--served-model-name", args.name)
    else:
        base = args.url.rstrip("/")
    try:
        ref = tei_logits(base, QUERY, DOCS)
        test_tritonclient(base, args.name, ref)
        test_kserve(base, args.name, ref)
    finally:
        if proc:
            proc.terminate()
            rc = proc.wait(timeout=60)
            check(rc == 0, f"server exits 0 on SIGTERM (got {rc})")
    print("all v2 client checks passed")


if __name__ == "__main__":
    main()
