#!/usr/bin/env python3
"""crossrank fp16 next to sentence-transformers / transformers fp16 on the same GPU and inputs
(the GPU mode of bench/peers.py; scripts/gpu_check.sh runs it, not CI).

    python3 scripts/gpu_peer.py --crossrank build-gpu/crossrank \
        [--models ms-marco-MiniLM-L-6-v2,bge-reranker-v2-m3 --batch-size 64 --pairs 256 --time-cap 8]

Per model, as bench/peers.py does on the CPU (its helpers are reused):
  1. the synthetic model as a Hugging Face folder (scripts/synthetic_weights.py, bit-identical to
     crossrank's synthetic:NAME) with crossrank's test tokenizer;
  2. crossrank's exact seedlike pairs (`crossrank bench --dump-inputs`);
  3. the same batches for both systems: batch k = pairs [k*B, k*B + B) mod N after a warm-up;
       crossrank  `crossrank bench --score-only --dtype fp16` (auto backend: CUDA)
       st_fp16    sentence-transformers CrossEncoder(device="cuda", dtype float16).predict; every
                  call tokenizes and returns numpy (a host sync), as a user's call does.
Writes JSON (--output) with pairs/s and tokens/s per system and model.
"""
from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import peers  # noqa: E402  (bench/peers.py: build_hf_folder, measure, windows, run_crossrank, PairTokenizer)


def log(msg: str) -> None:
    print(f"[gpu_peer {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_st_fp16(folder: Path, bert: bool, pairs, args) -> dict:
    import torch
    from sentence_transformers import CrossEncoder
    from tokenizers import Tokenizer

    ce = CrossEncoder(str(folder), device="cuda", max_length=512, activation_fn=torch.nn.Identity(),
                      model_kwargs={"dtype": torch.float16})
    ce.tokenizer._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok = peers.PairTokenizer(folder, bert)

    def run(batch):
        ce.predict(batch, batch_size=len(batch), show_progress_bar=False)
        return 0

    torch.cuda.reset_peak_memory_stats()
    r = peers.measure(run, pairs, args)
    n_batches = r["pairs"] // args.batch_size
    toks = sum(tok([pairs[i] for i in idx])[1] for k, idx in enumerate(peers.windows(len(pairs), args.batch_size))
               if k < n_batches)
    r["tokens"], r["tokens_per_s"] = toks, toks / r["seconds"]
    r["note"] = (f"torch {torch.__version__}, {torch.cuda.get_device_name()}, "
                 f"peak {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    del ce
    gc.collect()
    torch.cuda.empty_cache()
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crossrank", required=True)
    ap.add_argument("--models", default="ms-marco-MiniLM-L-6-v2,bge-reranker-v2-m3")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=256)
    ap.add_argument("--threads", type=int, default=8, help="crossrank tokenization threads")
    ap.add_argument("--warmup-pairs", type=int, default=64)
    ap.add_argument("--time-cap", type=float, default=8.0, help="measured seconds per system (>= 1 batch)")
    ap.add_argument("--output", help="write the results as JSON here")
    args = ap.parse_args()
    exe = Path(args.crossrank)
    out = {"models": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pairs_file = tmp / "pairs.jsonl"
        subprocess.run([str(exe), "bench", "--dump-inputs", str(pairs_file), "--pairs", str(args.pairs)], check=True,
                       capture_output=True)
        pairs = [(j["query"], j["document"]) for j in map(json.loads, pairs_file.read_text(encoding="utf-8").splitlines())]
        for name in args.models.split(","):
            m = {"model": name, "batch_size": args.batch_size}
            folder = tmp / name
            folder.mkdir()
            try:
                peers.build_hf_folder(name, folder)
                m["crossrank"] = peers.run_crossrank(exe, name, "fp16", pairs_file, args)
                log(f"{name} crossrank fp16: {m['crossrank']}")
                m["st_fp16"] = run_st_fp16(folder, peers.SHAPES[name][0] == "bert", pairs, args)
                log(f"{name} sentence-transformers fp16: {m['st_fp16']}")
            except Exception as e:  # report what ran
                m["error"] = repr(e)
                log(f"{name}: {e!r}")
            out["models"].append(m)
            if args.output:
                Path(args.output).write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
