"""Shared pieces of the real-client tests (test_cohere_client.py, test_client_libs.py,
test_kserve_clients.py): a check that prints ok/FAIL, `crossrank serve` started on a free
loopback port, and the engine's raw logits through the TEI route as the reference."""
import json
import re
import subprocess
import sys
import time
import urllib.request


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)
    print("ok:", msg)


def spawn_serve(binary, model, *extra):
    """Starts `binary serve --model MODEL --port 0 --cache-mb 0 EXTRA...` on 127.0.0.1 and
    waits (120 s at most) for its ready line; returns (process, base URL)."""
    proc = subprocess.Popen([binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0",
                             "--cache-mb", "0", *extra], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        sys.stderr.write(line)
        m = re.search(r"ready: POST (http://127\.0\.0\.1:[0-9]+)/", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise SystemExit("server did not become ready")


def tei_logits(base, query, docs):
    """Raw logits of (query, docs[i]) in input order, from the TEI route."""
    req = urllib.request.Request(base + "/rerank", method="POST",
                                 data=json.dumps({"query": query, "texts": docs, "raw_scores": True}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = json.loads(r.read())
    out = [0.0] * len(docs)
    for x in raw:
        out[x["index"]] = x["score"]
    return out
