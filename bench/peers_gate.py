#!/usr/bin/env python3
"""The peers' low precisions through crossrank's real-weight quality gate (not run in CI: torch).

    python3 bench/peers.py --gate [--model-dir build/real-minilm] [--batch-size 16 --threads 2]
    python3 bench/peers_gate.py ...                  (the same)

The gate is tests/engine/real_weights_test.cc's (check_gate): the real all-MiniLM-L6-v2 cross-encoder
that scripts/setup_real_minilm.sh assembles scores tests/data/models/real-minilm/eval-wikiqa.jsonl
(100 lists) and eval-trecdl.jsonl (43 lists x 100 passages); every list carries the fp32 HF
logits. A configuration passes when, on each set, NDCG@10 agreement with the fp32 ranking
>= 0.995, the same top-1 on >= 97 % of the lists and the real NDCG@10 (against the labels)
drops by <= 0.005. The figures are computed with a port of src/eval/metrics.cc
(ranking_agreement, ndcg_at_k: same formulas, same tie order, float64).

Configurations (`--configs` picks by "system:precision"):
  crossrank      fp32 / bf16 / int8        `crossrank score` on all pairs of a set (Engine::score, as the test)
  onnxruntime    fp32 (torch.onnx.export), int8 = quantize_dynamic QInt8 (bench/peers.py's), int8-u8 = QUInt8,
                 int8-rr = QInt8 reduce_range (7-bit weights, ORT's advice for CPUs without VNNI),
                 int8-pc = QInt8 per_channel
  openvino       fp32, bf16 (only where the CPU has it; otherwise reported, not run), int8 = the QInt8 ONNX
                 as it is, int8-nncf = NNCF int8 weights + dynamic activations (bench/peers.py's)
  ctranslate2    float32, int8_float32, int8
  st-torch       fp32, bf16 = torch.autocast("cpu", torch.bfloat16) (sentence-transformers CrossEncoder)
Peers score each list on its own, in batches of --batch-size passages sorted by token count and
padded to the longest of the batch (bench/peers.py's serving path; ORT's dynamic per-tensor
activation scales see the whole batch), with FlagEmbedding's truncation (only_second at 512; no
pair of either set reaches 512 tokens). The fp32 row of each peer is the harness check: it must
agree with the HF reference to ~1e-5. Scores are cached in --workdir/scores (delete to re-score),
so a run can go in steps: `--sets wikiqa` for every configuration first (37k tokens; it decides
most verdicts), TREC-DL (392k tokens) for the rest, then `--cached-only` for the table.
A partial run reports "fail" as soon as the changed top-1s exceed what the whole set allows.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import (REPO, Ct2Scorer, OrtScorer, OvScorer, StScorer, export_onnx, find_crossrank,  # noqa: E402
                   log, quantize_onnx)

DATA = REPO / "tests/data/models/real-minilm"
SETS = (("wikiqa", "eval-wikiqa.jsonl"), ("trecdl", "eval-trecdl.jsonl"))
GATE = {"agree": 0.995, "top1": 0.97, "drop": 0.005}  # tests/engine/real_weights_test.cc, int8
BF16_AGREE = 0.999  # crossrank's own bf16 gate (agreement only)
FULL_LISTS: dict = {}  # lists per set in the files (load_sets)


# ----------------------------------------------------------------------------------------------
# metrics: a port of src/eval/metrics.cc


def rank_order(s):
    """Indices by score, descending; ties by index, ascending (std::stable_sort with >)."""
    return sorted(range(len(s)), key=lambda i: -s[i])


def ndcg_at_k(scores, gains, k):
    order = rank_order(scores)
    n = min(len(order), max(k, 0))
    dcg = sum(gains[order[i]] / math.log2(i + 2.0) for i in range(n))
    ideal = sorted(gains, reverse=True)
    idcg = sum(ideal[i] / math.log2(i + 2.0) for i in range(n))
    return dcg / idcg if idcg > 0 else 0.0


def _average_ranks(v):
    idx = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and v[idx[j + 1]] == v[idx[i]]:
            j += 1
        for t in range(i, j + 1):
            r[idx[t]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def spearman(a, b):
    if len(a) < 2 or len(set(a)) == 1 or len(set(b)) == 1:
        return 1.0 if list(a) == list(b) else 0.0
    ra, rb = _average_ranks(a), _average_ranks(b)
    mean = (len(a) + 1) / 2
    sab = sum((x - mean) * (y - mean) for x, y in zip(ra, rb))
    saa = sum((x - mean) ** 2 for x in ra)
    sbb = sum((y - mean) ** 2 for y in rb)
    return sab / math.sqrt(saa * sbb)


def ranking_agreement(a, b) -> dict:
    """eval::ranking_agreement: how far ranking b moves from reference a (means over lists)."""
    g = {"ndcg10": 0.0, "min_ndcg10": 1.0, "top1": 0.0, "spearman": 0.0, "max_abs_delta": 0.0}
    lists = corr = 0
    for sa, sb in zip(a, b):
        assert len(sa) == len(sb), "list sizes differ"
        if not sa:
            continue
        lists += 1
        lo = min(sa)
        gains = [x - lo for x in sa]
        n10 = 1.0 if lo == max(sa) else ndcg_at_k(sb, gains, 10)
        g["ndcg10"] += n10
        g["min_ndcg10"] = min(g["min_ndcg10"], n10)
        g["top1"] += rank_order(sa)[0] == rank_order(sb)[0]
        if len(sa) >= 2:
            g["spearman"] += spearman(sa, sb)
            corr += 1
        g["max_abs_delta"] = max([g["max_abs_delta"]] + [abs(x - y) for x, y in zip(sa, sb)])
    g["ndcg10"] /= max(lists, 1)
    g["top1"] /= max(lists, 1)
    g["spearman"] /= max(corr, 1)
    return g


def mean_ndcg(scores, labels) -> float:
    return sum(ndcg_at_k(s, l, 10) for s, l in zip(scores, labels)) / len(scores)


def gate_figures(ref, labels, got) -> dict:
    """check_gate's figures for one set: agreement with the fp32 reference and real NDCG@10 drop."""
    a = ranking_agreement(ref, got)
    a["ref_ndcg"], a["ndcg"] = mean_ndcg(ref, labels), mean_ndcg(got, labels)
    a["drop"] = a["ref_ndcg"] - a["ndcg"]
    a["pass"] = a["ndcg10"] >= GATE["agree"] and a["top1"] >= GATE["top1"] and a["drop"] <= GATE["drop"]
    return a


def describe(name: str, set_name: str, n: int, a: dict) -> str:
    """The line check_gate prints (same fields and rounding)."""
    return (f"[real MiniLM {name} {set_name}] {n} lists: NDCG@10 agreement {a['ndcg10']:.5f} (worst "
            f"{a['min_ndcg10']:.4f}), top-1 same {100 * a['top1']:.1f} %, Spearman {a['spearman']:.4f}, "
            f"max|dlogit| {a['max_abs_delta']:.4f}; real NDCG@10 {a['ndcg']:.4f} vs fp32 {a['ref_ndcg']:.4f} "
            f"(drop {a['drop']:+.4f})")


# ----------------------------------------------------------------------------------------------
# scoring


def load_sets(model_dir: Path, names) -> dict:
    """The eval lists (split on "\\n" only, as std::getline: passages hold U+2028) and each pair's token count."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(512, strategy="only_second")
    out = {}
    for name, f in SETS:
        rows = [json.loads(x) for x in (DATA / f).read_text(encoding="utf-8").split("\n") if x.strip()]
        FULL_LISTS[name] = len(rows)
        if name not in names:
            continue
        out[name] = {"query": [r["query"] for r in rows], "passages": [r["passages"] for r in rows],
                     "ref": [[float(x) for x in r["logits"]] for r in rows],
                     "labels": [[float(x) for x in r["labels"]] for r in rows],
                     "lens": [[len(e.ids) for e in tok.encode_batch([(r["query"], p) for p in r["passages"]])]
                              for r in rows]}
    return out


def score_with_peer(scorer, lists: dict, batch_size: int) -> list:
    """Each list on its own, in batches of its passages sorted by token count (as sentence-transformers'
    predict and crossrank's Engine::score sort; it keeps the padding small)."""
    out = []
    for q, ps, lens in zip(lists["query"], lists["passages"], lists["lens"]):
        order = sorted(range(len(ps)), key=lambda i: lens[i])
        got = [0.0] * len(ps)
        for i in range(0, len(ps), batch_size):
            idx = order[i:i + batch_size]
            for k, x in zip(idx, scorer([(q, ps[k]) for k in idx])[0]):
                got[k] = float(x)
        out.append(got)
    return out


def score_with_crossrank(exe: Path, model_dir: Path, dtype: str, lists: dict, threads: int, tmp: Path) -> list:
    """All pairs of the set in one `crossrank score` call (one Engine::score, as check_gate does)."""
    inp = tmp / "crossrank-pairs.jsonl"
    with inp.open("w", encoding="utf-8") as f:
        for q, ps in zip(lists["query"], lists["passages"]):
            for p in ps:
                f.write(json.dumps({"query": q, "document": p}, ensure_ascii=False) + "\n")
    cmd = [str(exe), "score", "--model", str(model_dir), "--input", str(inp), "--dtype", dtype, "--backend", "cpu",
           "--max-length", "512", "--threads", str(threads)]
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    flat = [None] * sum(len(ps) for ps in lists["passages"])
    for line in p.stdout.splitlines():
        j = json.loads(line)
        flat[j["index"]] = float(j["score"])
    out, k = [], 0
    for ps in lists["passages"]:
        out.append(flat[k:k + len(ps)])
        k += len(ps)
    return out


def native_bf16() -> bool:
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            return bool(set(line.split(":", 1)[1].split()) & {"avx512_bf16", "amx_bf16"})
    return False


def configs(ctx) -> list:
    """(system, precision, kind, make) with kind "peer" (make() -> scorer) or "crossrank" (make = dtype)."""
    d, md, th, tr = ctx["tmp"], ctx["model_dir"], ctx["threads"], "only_second"
    onnx = {"fp32": d / "model.onnx", "int8": d / "model.int8.onnx", "int8-u8": d / "model.uint8.onnx",
            "int8-rr": d / "model.int8rr.onnx", "int8-pc": d / "model.int8pc.onnx"}
    qopts = {"int8": ("QInt8", {}), "int8-u8": ("QUInt8", {}), "int8-rr": ("QInt8", {"reduce_range": True}),
             "int8-pc": ("QInt8", {"per_channel": True})}

    def onnx_file(which):
        if not onnx["fp32"].exists():
            export_onnx(md, onnx["fp32"])
        if which != "fp32" and not onnx[which].exists():
            wt, kw = qopts[which]
            quantize_onnx(onnx["fp32"], onnx[which], wt, **kw)
        return onnx[which]

    ct2 = d / "ct2"
    c = [("crossrank", p, "crossrank", p) for p in ("fp32", "bf16", "int8")]
    c += [("onnxruntime", p, "peer", (lambda p=p: OrtScorer(onnx_file(p), md, True, th, tr)))
          for p in ("fp32", "int8", "int8-u8", "int8-rr", "int8-pc")]
    c += [("openvino", "fp32", "peer", lambda: OvScorer(onnx_file("fp32"), md, True, "f32", th, truncation=tr)),
          ("openvino", "bf16", "peer", lambda: OvScorer(onnx_file("fp32"), md, True, "bf16", th, truncation=tr)),
          ("openvino", "int8", "peer", lambda: OvScorer(onnx_file("int8"), md, True, "f32", th, truncation=tr)),
          ("openvino", "int8-nncf", "peer",
           lambda: OvScorer(onnx_file("fp32"), md, True, "f32", th, nncf_int8=True, truncation=tr))]
    c += [("ctranslate2", p, "peer", (lambda p=p: Ct2Scorer(md, ct2, True, p, th, tr)))
          for p in ("float32", "int8_float32", "int8")]
    c += [("st-torch", p, "peer", (lambda p=p: StScorer(md, p == "bf16", True, tr))) for p in ("fp32", "bf16")]
    return c


# ----------------------------------------------------------------------------------------------
# report


# What each configuration is (the table's first note); "(bench)" marks the one bench/peers.py times.
WHAT = {
    ("crossrank", "int8"): "per-row activation scales, SmoothQuant, 16-bit pooled rows, fp32 attention; the GEMM "
                           "per ISA (docs/quality.md)",
    ("onnxruntime", "int8"): "(bench) quantize_dynamic QInt8: s8 per-tensor weights, u8 per-tensor dynamic activations",
    ("onnxruntime", "int8-u8"): "quantize_dynamic QUInt8 (u8 x u8: no u8s8 pair saturation without VNNI)",
    ("onnxruntime", "int8-rr"): "quantize_dynamic QInt8, reduce_range (7-bit weights: ORT's advice without VNNI)",
    ("onnxruntime", "int8-pc"): "quantize_dynamic QInt8, per-channel weights",
    ("openvino", "int8"): "the onnxruntime QInt8 ONNX, as it is",
    ("openvino", "int8-nncf"): "(bench) per-channel int8 weights",
    ("ctranslate2", "int8_float32"): "(bench) int8 per-channel weights, per-row dynamic int8 activations",
    ("ctranslate2", "int8"): "int8 everywhere CT2 has it",
    ("st-torch", "bf16"): "(bench) torch.autocast(\"cpu\", torch.bfloat16)",
}


def decided_top1_fail(a: dict, name: str) -> bool:
    """A partial run fails the top-1 gate for sure once its changed top-1s exceed what the whole set allows."""
    changed = round(a["lists"] * (1 - a["top1"]))
    return changed > FULL_LISTS[name] - math.ceil(GATE["top1"] * FULL_LISTS[name] - 1e-9)


def render(rows, meta) -> str:
    def cell(a):
        if not a:
            return "-"
        part = "" if a["all_lists"] else f" (first {a['lists']} lists)"
        return f"{a['ndcg10']:.5f} / {100 * a['top1']:.1f} % / {a['drop']:+.4f}{part}"

    out = [f"## The peers' low precisions through the real-weight gate\n",
           f"{meta['cpu']}; {meta['isa']}. Real all-MiniLM-L6-v2 cross-encoder ({meta['model_dir']}), "
           f"peers in batches of {meta['batch_size']} per list, {meta['threads']} threads. Gate (each set): NDCG@10 "
           f"agreement with fp32 >= {GATE['agree']}, same top-1 >= {100 * GATE['top1']:.0f} %, real NDCG@10 drop "
           f"<= {GATE['drop']}.\n",
           "| system | precision | WikiQA agreement / top-1 / NDCG drop | TREC-DL agreement / top-1 / NDCG drop | "
           "max abs dlogit (WikiQA, TREC-DL) | gate | note |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        w, t = r["sets"].get("wikiqa"), r["sets"].get("trecdl")
        if not w and not t:
            out.append(f"| {r['system']} | {r['precision']} | - | - | - | - | {r.get('note', '')} |")
            continue
        full = bool(w and t and w["all_lists"] and t["all_lists"])
        # A set decides a failure when it is complete and fails, or when a partial run's changed top-1s
        # already exceed what the whole set allows.
        failing = [label for a, n, label in ((w, "wikiqa", "WikiQA"), (t, "trecdl", "TREC-DL"))
                   if a and not a["pass"] and (a["all_lists"] or decided_top1_fail(a, n))]
        verdict = ("pass" if w["pass"] and t["pass"] else "**fail**") if full else (
            f"**fail** ({' and '.join(failing)} decides it)" if failing else "incomplete")
        if r["precision"] in ("fp32", "float32"):
            verdict = "(harness check)"
        elif "bf16" in r["precision"] and full:
            ok = min(w["ndcg10"], t["ndcg10"]) >= BF16_AGREE
            verdict += f"; bf16 gate (agreement >= {BF16_AGREE}) {'pass' if ok else 'fail'}"
        dl = ", ".join(f"{a['max_abs_delta']:.2g}" if a else "-" for a in (w, t))
        note = "; ".join(x for x in (WHAT.get((r["system"], r["precision"])), r.get("note")) if x)
        out.append(f"| {r['system']} | {r['precision']} | {cell(w)} | {cell(t)} | {dl} | {verdict} | {note} |")
    out.append("\nNDCG drop = fp32 real NDCG@10 minus this configuration's (positive: worse). Figures, as "
               "tests/engine/real_weights_test.cc prints them:\n\n```")
    out += [line for r in rows for line in r.get("lines", [])]
    out.append("```")
    return "\n".join(out) + "\n"


def cpu_meta() -> dict:
    model, flags = "?", set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and model == "?":
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
           if f in flags]
    vnni = "has VNNI" if flags & {"avx512_vnni", "avx_vnni"} else "no VNNI (neither AVX-512 VNNI nor AVX-VNNI)"
    return {"cpu": f"{model}, {os.cpu_count()} CPUs", "isa": f"ISA flags {' '.join(isa)}; {vnni}"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env_dir = os.environ.get("CROSSRANK_REAL_MINILM_DIR")
    ap.add_argument("--model-dir", default=env_dir or str(REPO / "build/real-minilm"),
                    help="the folder scripts/setup_real_minilm.sh assembles (default $CROSSRANK_REAL_MINILM_DIR "
                         "or build/real-minilm)")
    ap.add_argument("--crossrank", help="crossrank binary (default: build-bench/ or build/ of this repo)")
    ap.add_argument("--configs", help="comma-separated system or system:precision (default: all)")
    ap.add_argument("--batch-size", type=int, default=16, help="peers: pairs per call, within a list")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-lists", type=int, default=0, help="first N lists of each set only (a smoke run)")
    ap.add_argument("--workdir", help="keep ONNX / CT2 files and the scores here (default: a temp dir)")
    ap.add_argument("--sets", default="wikiqa,trecdl", help="which eval sets to score")
    ap.add_argument("--cached-only", action="store_true",
                    help="score nothing: the table from the scores already in --workdir")
    ap.add_argument("--output", help="also write the table (Markdown) and the figures (.json) here")
    args = ap.parse_args(argv)
    if args.cached_only and not args.workdir:
        ap.error("--cached-only reads the scores of an earlier run: pass its --workdir")
    model_dir = Path(args.model_dir)
    if not (model_dir / "model.safetensors").exists():
        sys.exit(f"peers_gate.py: no real MiniLM folder at {model_dir}: run scripts/setup_real_minilm.sh "
                 "(or pass --model-dir)")
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = str(args.threads)
    os.environ.pop("OPENBLAS_CORETYPE", None)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    try:  # the peers built on torch (export, sentence-transformers) get the same thread budget
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        pass
    tmp = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="crossrank-peers-gate-"))
    (tmp / "scores").mkdir(parents=True, exist_ok=True)
    sets = load_sets(model_dir, args.sets.split(","))
    if args.max_lists:
        sets = {k: {f: v[:args.max_lists] for f, v in s.items()} for k, s in sets.items()}
    ctx = {"tmp": tmp, "model_dir": model_dir, "threads": args.threads}
    want = set(args.configs.split(",")) if args.configs else None
    rows, t_start = [], time.time()
    for system, prec, kind, make in configs(ctx):
        if want and system not in want and f"{system}:{prec}" not in want:
            continue
        row = {"system": system, "precision": prec, "sets": {}, "lines": []}
        rows.append(row)
        if "bf16" in prec and system not in ("crossrank", "st-torch") and not native_bf16():
            row["note"] = "not run: no native bf16 on this CPU (the plugin would run f32)"
            continue
        t0 = time.time()
        try:
            scorer, notes = None, set()
            for name, lists in sets.items():
                n = len(lists["ref"])
                # Cached scores of at least the first n lists are reused (--cached-only: whatever is there).
                cache = tmp / "scores" / f"{system}_{prec}_{name}_b{args.batch_size}.json"
                c = json.loads(cache.read_text()) if cache.exists() else None
                if c and (len(c["scores"]) >= n or args.cached_only):
                    got = c["scores"][:n]
                elif args.cached_only:
                    continue
                else:
                    log(f"{system} {prec} {name} ...")
                    if kind == "crossrank":
                        got = score_with_crossrank(find_crossrank(args.crossrank), model_dir, make, lists,
                                                   args.threads, tmp)
                        note = f"crossrank score --dtype {make}"
                    else:
                        scorer = scorer or make()
                        got, note = score_with_peer(scorer, lists, args.batch_size), scorer.note
                    c = {"note": note, "scores": got}
                    cache.write_text(json.dumps(c))
                notes.add(c["note"])
                m = len(got)
                fig = gate_figures(lists["ref"][:m], lists["labels"][:m], got)
                fig["lists"], fig["all_lists"] = m, m == FULL_LISTS[name]
                row["sets"][name] = fig
                row["lines"].append(describe(f"{system} {prec}", f"eval-{name}.jsonl", m, fig))
                log(row["lines"][-1])
            row["note"] = "; ".join(sorted(notes))
        except ImportError as e:
            row["note"] = f"not installed ({e.name or e})"
        except Exception as e:  # one failing peer must not stop the others
            row["note"] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
        if not args.cached_only:
            log(f"{system} {prec}: {time.time() - t0:.0f} s {row.get('note', '')}")
    if not args.workdir:
        shutil.rmtree(tmp, ignore_errors=True)
    meta = {**cpu_meta(), "model_dir": model_dir.name, "batch_size": args.batch_size, "threads": args.threads}
    text = render(rows, meta) + f"\nWhole run: {time.time() - t_start:.0f} s.\n"
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        Path(args.output).with_suffix(".json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
