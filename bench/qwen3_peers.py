#!/usr/bin/env python3
"""crossrank's Qwen3 reranker next to HF transformers on the same token ids and threads (not run in CI).

    .venv-qwen/bin/python bench/qwen3_peers.py [--docs 100] [--batch 32] [--threads 2] [--reps 2]

1. `qwen3_bench --dump-ids` (build/bench/qwen3_bench) writes 1 query x --docs passages in the
   model card's prompt shape (real prefix/suffix ids, random query/document ids; ~280 tokens
   per pair) and times crossrank on them (Backend::forward over packed passes of --batch pairs,
   with and without the shared prefix), per dtype.
2. transformers' Qwen3ForCausalLM at the same shape (synthetic:qwen3-reranker-0.6b: the same
   seeded weights, scripts/synthetic_weights.py) runs the same ids as the model card does:
   passes of --batch pairs, left-padded to the longest with an attention mask, the last
   position's logits (logits_to_keep=1: only the last row reaches the LM head); fp32, and bf16
   both as torch.autocast("cpu", bfloat16) and with the model cast to bfloat16 (the card's
   torch_dtype=torch.bfloat16 path). SDPA attention (the default), no_grad, eval.
3. Prints pairs/s per system and dtype and crossrank's ratio to the fastest peer at each
   precision (crossrank with and without prefix sharing), plus the scores' agreement.
Token ids only: tokenization is excluded on both sides (the same for every system).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # idle torch threads sleep: CPU time = work

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def log(msg: str) -> None:
    print(f"[qwen3-peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_crossrank(out: str) -> dict:
    res = {}
    for dt, kind, wall, cpu in re.findall(
            r"^\s+(\w+)\s+(shared prefix|no sharing):\s+([\d.]+) s wall .*?([\d.]+) s cpu", out, re.M):
        res[(dt, kind)] = {"wall": float(wall), "cpu": float(cpu)}
    return res


def run_crossrank(exe: Path, args, ids_file: Path) -> dict:
    cmd = [str(exe), "--docs", str(args.docs), "--batch", str(args.batch), "--dtypes", args.dtypes,
           "--reps", str(args.reps), "--dump-ids", str(ids_file)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OMP_WAIT_POLICY="passive")
    log(" ".join(cmd))
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    sys.stderr.write(out)
    return parse_crossrank(out)


def run_hf(pairs, args) -> dict:
    import torch
    from make_qwen3_goldens import YES, NO, build_model

    torch.set_num_threads(args.threads)
    model = build_model("qwen3-reranker-0.6b")
    model.set_attn_implementation("sdpa")
    res = {}

    def batches():
        order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i]))
        for s in range(0, len(order), args.batch):
            yield order[s:s + args.batch]

    @torch.no_grad()
    def once(m, autocast: bool):
        scores = {}
        for b in batches():
            seqs = [pairs[i] for i in b]
            n = max(len(x) for x in seqs)
            ids = torch.full((len(seqs), n), 151643, dtype=torch.long)
            mask = torch.zeros((len(seqs), n), dtype=torch.long)
            for r, x in enumerate(seqs):
                ids[r, n - len(x):] = torch.tensor(x)
                mask[r, n - len(x):] = 1
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                z = m(input_ids=ids, attention_mask=mask, logits_to_keep=1, use_cache=False).logits[:, -1, :].float()
            for r, i in enumerate(b):
                scores[i] = float(z[r, YES] - z[r, NO])
        return [scores[i] for i in range(len(pairs))]

    for name, autocast, cast in (("fp32", False, None), ("bf16-autocast", True, None),
                                 ("bf16", False, torch.bfloat16)):
        if name not in args.systems.split(","):
            continue
        m = model if cast is None else model.to(cast)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):  # warm-up
            m(input_ids=torch.tensor([pairs[0]]), logits_to_keep=1, use_cache=False)
        t0, c0 = time.time(), time.process_time()
        for _ in range(args.reps):
            s = once(m, autocast)
        wall = (time.time() - t0) / args.reps
        cpu = (time.process_time() - c0) / args.reps / args.threads
        res[name] = {"wall": wall, "cpu": cpu, "scores": s}
        log(f"transformers {name}: {wall:.2f} s wall, {cpu:.2f} s cpu/threads for {len(pairs)} pairs")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--bench", default=str(REPO / "build" / "bench" / "qwen3_bench"))
    ap.add_argument("--ids", default="/tmp/qwen3_peer_ids.jsonl")
    ap.add_argument("--crossrank-log", default=None,
                    help="reuse the output of an earlier `qwen3_bench --dump-ids IDS` run instead of running it")
    ap.add_argument("--systems", default="fp32,bf16-autocast,bf16", help="transformers runs")
    args = ap.parse_args()
    ids_file = Path(args.ids)
    if args.crossrank_log:
        cr = parse_crossrank(Path(args.crossrank_log).read_text())
    else:
        cr = run_crossrank(Path(args.bench), args, ids_file)
    pairs = [json.loads(line)["ids"] for line in ids_file.read_text().splitlines() if line.strip()]
    hf = run_hf(pairs, args)
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    n = len(pairs)
    print(f"\nQwen3-Reranker-0.6B shape (synthetic weights), 1 query x {n} passages, "
          f"{sum(map(len, pairs)) / n:.0f} tokens/pair, passes of {args.batch}, {args.threads} threads, {cpu_model}")
    print(f"{'system':34s} {'dtype':6s} {'pairs/s wall':>13s} {'pairs/s cpu':>12s}")
    rows = []
    for (dt, kind), v in sorted(cr.items()):
        rows.append((f"crossrank ({kind})", dt, n / v["wall"], n / v["cpu"]))
    for name, v in hf.items():
        rows.append(("transformers Qwen3ForCausalLM", name, n / v["wall"], n / v["cpu"]))
    for r in rows:
        print(f"{r[0]:34s} {r[1]:6s} {r[2]:13.1f} {r[3]:12.1f}")
    print("\nratio to the fastest transformers run at the same precision (cpu-time pairs/s):")
    for dt, peers in (("fp32", ["fp32"]), ("bf16", ["bf16-autocast", "bf16"])):
        peers = [p for p in peers if p in hf]
        if not peers:
            continue
        best = max(n / hf[p]["cpu"] for p in peers)
        for kind in ("shared prefix", "no sharing"):
            if (dt, kind) in cr:
                print(f"  {dt} crossrank ({kind}): {n / cr[(dt, kind)]['cpu'] / best:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
