#!/usr/bin/env python3
"""Deterministic rerank load for scripts/loadtest.sh and scripts/online_offline.sh:
32 queries x 20 documents (about --words words each).
  --lua FILE    wrk script posting the 32 TEI /rerank bodies in rotation, counting statuses
  --pairs FILE  the same 640 pairs as JSONL for `crossrank score --input` (--repeat times)
"""
import argparse
import json
import random

VOCAB = ("panda bamboo forest china bear species mountain eats day red giant animal zoo climate habitat "
         "research population wild conservation leaf tree river city capital france paris history museum art "
         "music science data model neural network search engine query document relevance ranking").split()

LUA_TAIL = r"""}
local counter = 0
statuses = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} counter = math.random(0, #bodies - 1) end
function request()
  counter = counter + 1
  return wrk.format("POST", "/rerank", {["Content-Type"] = "application/json"}, bodies[(counter % #bodies) + 1])
end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("STATUS %d %d\n", k, v)) end
  io.write(string.format("ERRORS connect=%d read=%d write=%d timeout=%d\n", summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--words", type=int, default=20)
    ap.add_argument("--lua")
    ap.add_argument("--pairs")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(7)
    requests = []
    for _ in range(32):
        query = "what do " + " ".join(rng.choice(VOCAB) for _ in range(5)) + "?"
        texts = [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(a.words // 2, a.words * 3 // 2)))
                 for _ in range(20)]
        requests.append((query, texts))
    if a.lua:
        with open(a.lua, "w") as f:
            f.write("local bodies = {\n")
            for q, t in requests:
                f.write("[==[" + json.dumps({"query": q, "texts": t}) + "]==],\n")
            f.write(LUA_TAIL)
    if a.pairs:
        with open(a.pairs, "w") as f:
            for _ in range(a.repeat):
                for q, t in requests:
                    for d in t:
                        f.write(json.dumps({"query": q, "document": d}) + "\n")


if __name__ == "__main__":
    main()
