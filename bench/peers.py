#!/usr/bin/env python3
"""crossrank next to its peers: same model, same inputs, same thread budget (not run in CI).

    python3 bench/peers.py --model ms-marco-MiniLM-L-6-v2
    python3 bench/peers.py --model bge-reranker-v2-m3 [--pairs 64 --batch-size 16 --threads 2]

What it does, in one run:
  1. `crossrank bench --dump-inputs` writes the exact seedlike pairs crossrank measures (70 % zh /
     30 % en, query ~18 words, passage ~120 words) as JSONL; every system reads that file.
  2. Builds the synthetic model as a Hugging Face folder in a temp dir: the transformers class at
     the model's shape, `fill_model(model, 0)` from scripts/synthetic_weights.py (bit-identical to
     crossrank's `synthetic:NAME`), and the tokenizer crossrank's synthetic model uses (tests/data).
  3. Measures each system on the same batches: batch k = pairs [k*B, k*B + B) mod N for k = 1..N/B
     (crossrank bench's windows), after a warm-up on the first --warmup-pairs pairs; every timed
     call includes tokenization, as a user's call would. A system stops after the batch that takes
     its measured time past --time-cap (at least one batch), so a slow peer cannot stall the run.
       crossrank            `crossrank bench --score-only` subprocess per dtype (Engine::score:
                            tokenize, sort, pack without padding, forward)
       st-torch             sentence-transformers CrossEncoder.predict, fp32, and bf16 under
                            torch.autocast("cpu", torch.bfloat16)
       onnxruntime          torch.onnx.export fp32 model; int8 = quantize_dynamic (QInt8 weights,
                            dynamic per-tensor uint8 activations); ORT_ENABLE_ALL
       ctranslate2          its TransformersConverter of the same folder; Encoder with compute_type
                            float32 / int8_float32; the classification head in numpy
       openvino             the same ONNX files, INFERENCE_PRECISION_HINT pinned to f32 or bf16
                            (OpenVINO silently picks bf16 on AVX512-BF16/AMX CPUs otherwise);
                            int8 = NNCF int8 weights, dynamic activation quantization
     ORT / OpenVINO batches are tokenized with the `tokenizers` library from the same
     tokenizer.json and padded to the longest pair of the batch (their usual serving path).
  4. Prints one table (pairs/s and real tokens/s per system and dtype) and crossrank's ratio to
     the fastest peer at each precision and best-vs-best. Ratios use tokens/s, which equals the
     pairs/s ratio when both measured the same batches and stays fair when a capped system
     measured fewer batches.

`--gate` instead puts every system's low precisions through crossrank's real-weight quality gate
(bench/peers_gate.py, same scorers; `--gate --help` lists its options).
Systems that pip cannot provide are reported as "not installed" and skipped. OPENBLAS_CORETYPE is
unset for this command only (it pins numpy/torch's OpenBLAS kernels).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Shapes of crossrank's synthetic:NAME models (src/model/config.cc synthetic_config).
SHAPES = {
    "bge-reranker-v2-m3": ("xlmr", dict(vocab_size=250002, hidden_size=1024, num_hidden_layers=24,
                                        num_attention_heads=16, intermediate_size=4096,
                                        max_position_embeddings=8194)),
    "bge-reranker-base": ("xlmr", dict(vocab_size=250002, hidden_size=768, num_hidden_layers=12,
                                       num_attention_heads=12, intermediate_size=3072,
                                       max_position_embeddings=514)),
    "ms-marco-MiniLM-L-6-v2": ("bert", dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6,
                                            num_attention_heads=12, intermediate_size=1536,
                                            max_position_embeddings=512)),
}
TOKENIZER_DIRS = {"xlmr": REPO / "tests/data/tokenizers/xlmr-unigram", "bert": REPO / "tests/data/models/tiny-bert"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "sentencepiece.bpe.model", "vocab.txt")


def log(msg: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def find_crossrank(arg: str | None) -> Path:
    cands = [Path(arg)] if arg else [REPO / d / "crossrank" for d in ("build-bench", "build", "build-release")]
    for c in cands:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    sys.exit(f"peers.py: crossrank binary not found ({', '.join(map(str, cands))}); build it or pass --crossrank")


# ----------------------------------------------------------------------------------------------
# model folder


def build_hf_folder(name: str, folder: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, BertConfig, XLMRobertaConfig

    sys.path.insert(0, str(REPO / "scripts"))
    from synthetic_weights import fill_model

    kind, shape = SHAPES[name]
    if kind == "xlmr":
        cfg = XLMRobertaConfig(**shape, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                               layer_norm_eps=1e-5, num_labels=1, hidden_act="gelu",
                               architectures=["XLMRobertaForSequenceClassification"])
    else:
        cfg = BertConfig(**shape, type_vocab_size=2, pad_token_id=0, layer_norm_eps=1e-12, num_labels=1,
                         hidden_act="gelu", architectures=["BertForSequenceClassification"])
    t0 = time.time()
    model = AutoModelForSequenceClassification.from_config(cfg, dtype=torch.float32)
    fill_model(model, 0)
    model.eval()
    model.save_pretrained(str(folder))
    for f in TOKENIZER_FILES:
        src = TOKENIZER_DIRS[kind] / f
        if src.exists():
            shutil.copy(src, folder / f)
    log(f"built {name} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params) in {time.time() - t0:.0f} s")
    del model
    gc.collect()


def export_onnx(folder: Path, out: Path) -> None:
    import warnings

    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(folder), dtype=torch.float32,
                                                               attn_implementation="eager").eval()
    bert = model.config.model_type == "bert"
    ids = torch.full((2, 16), 5, dtype=torch.long)
    am = torch.ones_like(ids)
    args, names = (ids, am), ["input_ids", "attention_mask"]
    if bert:
        args, names = (ids, am, torch.zeros_like(ids)), names + ["token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes["logits"] = {0: "batch"}
    t0 = time.time()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(out), input_names=names, output_names=["logits"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    log(f"exported {out.name} in {time.time() - t0:.0f} s")
    del model
    gc.collect()


def quantize_onnx(src: Path, out: Path, weight_type: str = "QInt8", external: bool = False, **kw) -> None:
    """onnxruntime quantize_dynamic: weight_type QInt8 / QUInt8 weights, dynamic per-tensor uint8
    activations; kw: its other options (reduce_range, per_channel)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    t0 = time.time()
    quantize_dynamic(str(src), str(out), weight_type=getattr(QuantType, weight_type), use_external_data_format=external,
                     **kw)
    log(f"quantize_dynamic {weight_type} {kw or ''} -> {out.name} in {time.time() - t0:.0f} s")


# ----------------------------------------------------------------------------------------------
# measurement harness


def windows(n_pairs: int, batch: int):
    """crossrank bench's measured windows: batch k = pairs [k*B, k*B + B) mod N, k = 1..N/B."""
    for k in range(1, max(1, n_pairs // batch) + 1):
        yield [(k * batch + i) % n_pairs for i in range(batch)]


def measure(run_batch, pairs, args) -> dict:
    """run_batch(list of (q, d)) -> real (non-padding) token count of the batch."""
    run_batch(pairs[: max(1, min(args.warmup_pairs, args.batch_size))])
    secs, cpu, n, toks = 0.0, 0.0, 0, 0
    for idx in windows(len(pairs), args.batch_size):
        batch = [pairs[i] for i in idx]
        c0, t0 = time.process_time(), time.perf_counter()
        toks += run_batch(batch)
        secs += time.perf_counter() - t0
        cpu += time.process_time() - c0
        n += len(batch)
        if secs >= args.time_cap:
            break
    return {"pairs": n, "tokens": toks, "seconds": secs, "pairs_per_s": n / secs, "tokens_per_s": toks / secs,
            "cpu_seconds": cpu}


class PairTokenizer:
    """tokenizer.json pipeline (the `tokenizers` library) at 512 tokens, padded per batch.
    truncation: "longest_first" (the bench) or "only_second" (FlagEmbedding's, the gate's goldens)."""

    def __init__(self, folder: Path, bert: bool, truncation: str = "longest_first"):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(512, strategy=truncation)
        pad_id = 0 if bert else 1
        self.tok.enable_padding(pad_id=pad_id, pad_token="[PAD]" if bert else "<pad>")
        self.bert = bert

    def __call__(self, batch):
        import numpy as np

        enc = self.tok.encode_batch([(q, d) for q, d in batch])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        am = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": am}
        if self.bert:
            feed["token_type_ids"] = np.array([e.type_ids for e in enc], dtype=np.int64)
        return feed, int(am.sum())


# ----------------------------------------------------------------------------------------------
# systems: each peer is a scorer, `scorer(batch of (q, d)) -> (float32 logits [B], real tokens)`,
# with `.note` describing it; the bench times it (run_peer), bench/peers_gate.py scores the
# real-weight gate lists with the same objects.


def run_peer(scorer, pairs, args) -> dict:
    r = measure(lambda batch: scorer(batch)[1], pairs, args)
    r["note"] = scorer.note
    r.update(getattr(scorer, "extra", {}))
    return r


def run_crossrank(exe: Path, name: str, dtype: str, pairs_file: Path, args) -> dict:
    cmd = [str(exe), "bench", "--model", f"synthetic:{name}", "--dtype", dtype, "--inputs", "seedlike",
           "--pairs", str(args.pairs), "--batch-sizes", str(args.batch_size),
           "--repeats", str(max(1, args.pairs // args.batch_size)), "--threads", str(args.threads),
           "--score-only", "--measure-seconds", str(args.time_cap), "--warmup-pairs", str(args.warmup_pairs),
           "--gemm-seconds", "0", "--format", "json"]
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return {"note": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    j = json.loads(p.stdout)
    r = j["results"][0]
    if r["status"] != "ok":
        return {"note": r["note"]}
    secs = sum(r["batch_ms"]["samples"]) / 1e3
    n = sum(r["batch_pairs"])
    return {"pairs": n, "tokens": r["tokens_per_pair"] * n, "seconds": secs, "pairs_per_s": r["pairs_per_s"],
            "tokens_per_s": r["tokens_per_s"], "cpu_seconds": r.get("cpu_seconds") or float("nan"),
            "note": f"backend {j['dtypes'][0]['backend']}"}


class StScorer:
    """sentence-transformers CrossEncoder.predict (raw logits), fp32 or under torch.autocast bf16.
    Real token counts come from a PairTokenizer outside predict (the bench counts them untimed)."""

    def __init__(self, folder: Path, bf16: bool, bert: bool, truncation: str = "longest_first"):
        import torch
        from sentence_transformers import CrossEncoder
        from tokenizers import Tokenizer

        self.ce = CrossEncoder(str(folder), device="cpu", max_length=512, activation_fn=torch.nn.Identity(),
                               model_kwargs={"dtype": torch.float32})
        # transformers 5 rebuilds XLM-R's normalizer / pre-tokenizer; use tokenizer.json as is, as
        # crossrank (and every tokenizers-based stack) does, so the token counts match.
        self.ce.tokenizer._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok, self.bf16 = PairTokenizer(folder, bert, truncation), bf16
        self.note = f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}"

    def __call__(self, batch, count_tokens: bool = True):
        import numpy as np
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            s = self.ce.predict(batch, batch_size=len(batch), show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(s, dtype=np.float32).reshape(-1), (self.tok(batch)[1] if count_tokens else 0)


def run_st(folder: Path, bf16: bool, bert: bool, pairs, args) -> dict:
    sc = StScorer(folder, bf16, bert)
    r = measure(lambda batch: sc(batch, count_tokens=False)[1], pairs, args)
    # Real token counts of the measured windows (counted outside the timed region).
    n_batches = r["pairs"] // args.batch_size
    toks = sum(sc.tok([pairs[i] for i in idx])[1] for k, idx in enumerate(windows(len(pairs), args.batch_size))
               if k < n_batches)
    r["tokens"], r["tokens_per_s"] = toks, toks / r["seconds"]
    r["note"] = sc.note
    return r


class OrtScorer:
    """onnxruntime CPU session (ORT_ENABLE_ALL, sequential, `threads` intra-op) on an ONNX file."""

    def __init__(self, onnx_path: Path, folder: Path, bert: bool, threads: int, truncation: str = "longest_first"):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        self.tok = PairTokenizer(folder, bert, truncation)
        self.note = f"onnxruntime {ort.__version__}"

    def __call__(self, batch):
        feed, n = self.tok(batch)
        return self.sess.run(None, feed)[0][:, 0].astype("float32"), n


class OvScorer:
    """OpenVINO CPU plugin on an ONNX file, INFERENCE_PRECISION_HINT pinned (f32 / bf16).
    nncf_int8: weights compressed to int8 by NNCF first (what optimum-intel --weight-format int8
    does; the CPU plugin then quantizes activations dynamically). An ONNX from quantize_dynamic
    runs as it is (the note says whether the plugin kept int8 GEMMs)."""

    def __init__(self, onnx_path: Path, folder: Path, bert: bool, precision: str, threads: int,
                 nncf_int8: bool = False, truncation: str = "longest_first"):
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(onnx_path))
        how = ""
        if nncf_int8:
            import nncf

            model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
            how = ", weights int8 (nncf.compress_weights INT8_ASYM), dynamic activation quantization"
        cfg = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": str(threads),
               "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1"}
        self.compiled = core.compile_model(model, "CPU", cfg)
        t = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        actual = t.to_string() if hasattr(t, "to_string") else str(t)
        self.req = self.compiled.create_infer_request()
        self.tok = PairTokenizer(folder, bert, truncation)
        # What the plugin made of it: the precision its FullyConnected layers run in (u8: int8 GEMMs).
        rts = [o.get_rt_info() for o in self.compiled.get_runtime_model().get_ops()]
        fc = sorted({r["runtimePrecision"].astype(str) for r in rts if "layerType" in r and
                     r["layerType"].astype(str) == "FullyConnected" and "runtimePrecision" in r})
        self.note = (f"openvino {ov.__version__.split('-')[0]}, INFERENCE_PRECISION_HINT {precision} -> {actual}{how}; "
                     f"FullyConnected runs {'/'.join(fc)}")
        self.extra = {}
        if precision == "bf16" and "bf16" not in actual:
            self.note += " (no native bf16 here: ran in f32)"
            self.extra["ran_as"] = "fp32"

    def __call__(self, batch):
        feed, n = self.tok(batch)
        return self.req.infer(feed)[0][:, 0].astype("float32"), n


def convert_ct2(folder: Path, ct2_dir: Path) -> None:
    """CTranslate2's TransformersConverter of the HF folder into ct2_dir (once)."""
    if (ct2_dir / "model.bin").exists():
        return
    import transformers
    from ctranslate2.converters import TransformersConverter

    # CTranslate2 4.8's loaders read config.position_embedding_type, which transformers 5
    # no longer sets; every model here uses absolute positions.
    for cfg in (transformers.BertConfig, transformers.XLMRobertaConfig):
        if not hasattr(cfg, "position_embedding_type"):
            cfg.position_embedding_type = "absolute"
    # The synthetic XLM-R models pair a 250002-row embedding with the 8002-token test
    # tokenizer; CTranslate2 wants one vocabulary entry per row (ids are fed directly).
    from ctranslate2.converters import transformers as ct2_tf

    loader = ct2_tf.XLMRobertaLoader
    if not getattr(loader, "_crossrank_padded", False):
        base_vocab = loader.get_vocabulary

        def padded_vocab(self, model, tokenizer):
            tokens = list(base_vocab(self, model, tokenizer))
            return tokens + [f"<unused_{i}>" for i in range(len(tokens), model.config.vocab_size)]

        loader.get_vocabulary = padded_vocab
        loader._crossrank_padded = True
    t0 = time.time()
    TransformersConverter(str(folder)).convert(str(ct2_dir), force=True)
    log(f"ctranslate2 conversion in {time.time() - t0:.0f} s")


class Ct2Scorer:
    """CTranslate2 Encoder (its own converter of the HF folder, weights quantised at load by
    compute_type); the classification head (on the first token) in numpy from the HF weights."""

    def __init__(self, folder: Path, ct2_dir: Path, bert: bool, compute_type: str, threads: int,
                 truncation: str = "longest_first"):
        import ctranslate2
        from safetensors.numpy import load_file

        convert_ct2(folder, ct2_dir)
        self.enc = ctranslate2.Encoder(str(ct2_dir), device="cpu", compute_type=compute_type,
                                       intra_threads=threads, inter_threads=1)
        w = load_file(str(folder / "model.safetensors"))
        if bert:
            self.head = (w["classifier.weight"], w["classifier.bias"])
        else:
            self.head = (w["classifier.dense.weight"], w["classifier.dense.bias"], w["classifier.out_proj.weight"],
                         w["classifier.out_proj.bias"])
        self.tok, self.bert = PairTokenizer(folder, bert, truncation), bert
        self.tok.tok.no_padding()
        self.note = f"ctranslate2 {ctranslate2.__version__}, compute_type {compute_type}"

    def __call__(self, batch):
        import numpy as np

        es = self.tok.tok.encode_batch([(q, d) for q, d in batch])
        ids = [e.ids for e in es]
        out = self.enc.forward_batch(ids, token_type_ids=[e.type_ids for e in es] if self.bert else None)
        h = self.head
        if self.bert:  # CT2 applies BERT's pooler (dense + tanh on [CLS])
            pooled = np.asarray(out.pooler_output, dtype=np.float32)
            logits = pooled @ h[0].T + h[1]
        else:
            h0 = np.asarray(out.last_hidden_state, dtype=np.float32)[:, 0]
            logits = np.tanh(h0 @ h[0].T + h[1]) @ h[2].T + h[3]
        return logits[:, 0].astype(np.float32), sum(len(x) for x in ids)


# ----------------------------------------------------------------------------------------------
# report


def render(rows, args, meta) -> str:
    out = []
    out.append(f"## crossrank vs peers: synthetic:{args.model}\n")
    out.append(f"{meta['pairs']} seedlike pairs (same JSONL for every system), batch {args.batch_size}, "
               f"{args.threads} threads, measured time cap {args.time_cap:.0f} s per system; "
               f"{meta['cpu']}; load average {meta['load']}.\n")
    out.append("| system | dtype | pairs/s | tokens/s | pairs measured | s | CPU util % | tokens/CPU-s | note |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if "pairs_per_s" in r:
            cpu = r.get("cpu_seconds", float("nan"))
            r["tokens_per_cpu_s"] = r["tokens"] / cpu if cpu and cpu == cpu else float("nan")
            util = 100 * cpu / (r["seconds"] * args.threads) if cpu == cpu else float("nan")
            out.append(f"| {r['system']} | {r['dtype']} | {r['pairs_per_s']:.3g} | {r['tokens_per_s']:.4g} | "
                       f"{r['pairs']} | {r['seconds']:.1f} | {util:.0f} | {r['tokens_per_cpu_s']:.4g} | "
                       f"{r.get('note', '')} |")
        else:
            out.append(f"| {r['system']} | {r['dtype']} | - | - | - | - | - | - | {r.get('note', '')} |")
    ok = [r for r in rows if "pairs_per_s" in r]
    cr = {r["dtype"]: r for r in ok if r["system"] == "crossrank"}
    peers = [r for r in ok if r["system"] != "crossrank"]
    def ratio(a, b, key):
        x, y = a.get(key, float("nan")), b.get(key, float("nan"))
        return f"{x / y:.2f}x" if x == x and y == y and y > 0 else "-"

    out.append("\n| precision | crossrank pairs/s | fastest peer | peer pairs/s | crossrank / peer (tokens/s) | "
               "crossrank / peer (tokens per CPU-s) |")
    out.append("|---|---:|---|---:|---:|---:|")
    for d in ("fp32", "bf16", "int8"):
        ps = [p for p in peers if p.get("ran_as", p["dtype"]) == d]
        best = max(ps, key=lambda p: p["tokens_per_s"]) if ps else None
        c = cr.get(d)
        out.append(f"| {d} | {c['pairs_per_s']:.3g} | " if c else f"| {d} | - | ")
        out[-1] += (f"{best['system']} {best['dtype']} | {best['pairs_per_s']:.3g} | " if best else "- | - | ")
        out[-1] += (f"{ratio(c, best, 'tokens_per_s')} | {ratio(c, best, 'tokens_per_cpu_s')} |" if c and best
                    else "- | - |")
    if cr and peers:
        bc = max(cr.values(), key=lambda r: r["tokens_per_s"])
        bp = max(peers, key=lambda r: r["tokens_per_s"])
        out.append(f"| best vs best | {bc['pairs_per_s']:.3g} ({bc['dtype']}) | {bp['system']} {bp['dtype']} | "
                   f"{bp['pairs_per_s']:.3g} | {ratio(bc, bp, 'tokens_per_s')} | {ratio(bc, bp, 'tokens_per_cpu_s')} |")
    out.append("\nPeers pad each batch to its longest pair; crossrank packs pairs without padding. Tokens are "
               "real (non-padding) tokens. A peer whose bf16 request ran in fp32 is compared at fp32. CPU util = "
               "process CPU time / (wall time x threads) over the measured batches: well below 100 % means other "
               "load on the machine delayed the threads, and tokens per CPU-second is then the fairer comparison "
               "(it charges each system only for the CPU it used, spin-waiting included).")
    return "\n".join(out) + "\n"


def main() -> int:
    if "--gate" in sys.argv[1:]:  # the real-weight quality gate instead: bench/peers_gate.py
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import peers_gate

        return peers_gate.main([a for a in sys.argv[1:] if a != "--gate"])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="bge-reranker-v2-m3", choices=sorted(SHAPES))
    ap.add_argument("--pairs", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup-pairs", type=int, default=1)
    ap.add_argument("--time-cap", type=float, default=40.0, help="measured seconds per system (>= 1 batch)")
    ap.add_argument("--crossrank", help="crossrank binary (default: build-bench/ or build/ of this repo)")
    ap.add_argument("--dtypes", default="fp32,bf16,int8", help="crossrank dtypes to run")
    ap.add_argument("--force-bf16", action="store_true",
                    help="run the bf16 rows on a CPU without native bf16 (avx512_bf16 / amx_bf16) too")
    ap.add_argument("--systems", default="crossrank,st-torch,onnxruntime,openvino,ctranslate2")
    ap.add_argument("--workdir", help="keep the model folder / ONNX files here (default: a temp dir, removed)")
    ap.add_argument("--output", help="also write the table (Markdown) and the raw rows (.json) here")
    args = ap.parse_args()
    if args.pairs < args.batch_size:
        ap.error("--pairs must be >= --batch-size")

    # This command only: let OpenBLAS pick its own kernels; same thread budget for every system.
    os.environ.pop("OPENBLAS_CORETYPE", None)
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = str(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

    exe = find_crossrank(args.crossrank)
    flags = set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    native_bf16 = bool(flags & {"avx512_bf16", "amx_bf16"})
    skip_bf16 = None if native_bf16 or args.force_bf16 else (
        "skipped: no native bf16 on this CPU (avx512_bf16 / amx_bf16 absent), where bf16 is emulated and "
        "never faster; --force-bf16 runs it")
    systems = set(args.systems.split(","))
    t_start = time.time()
    tmp = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="crossrank-peers-"))
    tmp.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    try:
        pairs_file = tmp / "pairs.jsonl"
        subprocess.run([str(exe), "bench", "--dump-inputs", str(pairs_file), "--pairs", str(args.pairs)], check=True)
        pairs = [(j["query"], j["document"]) for j in map(json.loads, pairs_file.read_text(encoding="utf-8").splitlines())]
        kind = SHAPES[args.model][0]
        bert = kind == "bert"

        if "crossrank" in systems:
            for d in args.dtypes.split(","):
                if d == "bf16" and skip_bf16:
                    rows.append({"system": "crossrank", "dtype": d, "note": skip_bf16})
                    continue
                r = run_crossrank(exe, args.model, d, pairs_file, args)
                rows.append({"system": "crossrank", "dtype": d, **r})
                log(f"crossrank {d}: {r.get('pairs_per_s', '-')} pairs/s {r.get('note', '')}")

        peer_systems = systems - {"crossrank"}
        if peer_systems:
            import torch

            torch.set_num_threads(args.threads)
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:
                pass
            folder = tmp / "model"
            if not (folder / "config.json").exists():
                folder.mkdir(exist_ok=True)
                build_hf_folder(args.model, folder)

        def attempt(system, dtype, fn):
            if dtype == "bf16" and skip_bf16:
                rows.append({"system": system, "dtype": dtype, "note": skip_bf16})
                return
            log(f"{system} {dtype} ...")
            try:
                r = fn()
            except ImportError as e:
                r = {"note": f"not installed ({e.name or e})"}
            except Exception as e:  # one failing peer must not stop the others
                r = {"note": f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"}
            rows.append({"system": system, "dtype": dtype, **r})
            log(f"{system} {dtype}: {r.get('pairs_per_s', '-')} pairs/s {r.get('note', '')}")

        if "st-torch" in peer_systems:
            attempt("st-torch", "fp32", lambda: run_st(folder, False, bert, pairs, args))
            attempt("st-torch", "bf16", lambda: run_st(folder, True, bert, pairs, args))
        onnx32, onnx8 = tmp / "model.onnx", tmp / "model.int8.onnx"
        if peer_systems & {"onnxruntime", "openvino"}:
            try:
                if not onnx32.exists():
                    export_onnx(folder, onnx32)
                if not onnx8.exists():
                    quantize_onnx(onnx32, onnx8, external=args.model == "bge-reranker-v2-m3")
            except Exception as e:
                log(f"ONNX export / quantization failed: {type(e).__name__}: {e}")
        def peer(system, dtype, make):  # make() -> a scorer
            attempt(system, dtype, lambda: run_peer(make(), pairs, args))

        th, ct2 = args.threads, tmp / "ct2"
        if "onnxruntime" in peer_systems:
            peer("onnxruntime", "fp32", lambda: OrtScorer(onnx32, folder, bert, th))
            peer("onnxruntime", "int8", lambda: OrtScorer(onnx8, folder, bert, th))
        if "openvino" in peer_systems:
            peer("openvino", "fp32", lambda: OvScorer(onnx32, folder, bert, "f32", th))
            peer("openvino", "bf16", lambda: OvScorer(onnx32, folder, bert, "bf16", th))
            peer("openvino", "int8", lambda: OvScorer(onnx32, folder, bert, "f32", th, nncf_int8=True))
        if "ctranslate2" in peer_systems:
            peer("ctranslate2", "fp32", lambda: Ct2Scorer(folder, ct2, bert, "float32", th))
            peer("ctranslate2", "int8", lambda: Ct2Scorer(folder, ct2, bert, "int8_float32", th))
    finally:
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)

    meta = {"pairs": args.pairs, "cpu": "?", "load": open("/proc/loadavg").read().split()[0]}
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            meta["cpu"] = line.split(":", 1)[1].strip()
            break
    text = render(rows, args, meta)
    text += f"\nWhole run: {time.time() - t_start:.0f} s.\n"
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        Path(args.output).with_suffix(".json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
