#!/usr/bin/env python3
"""int8 study on the real-weight MiniLM cross-encoder (torch; run by hand, not by CI).

    python3 scripts/real_minilm_folder.py build/real-minilm          # the folder (or setup_real_minilm.sh)
    python3 scripts/int8_study.py stats                               # 4a: outlier tables (+ fp32 check, calibration)
    python3 scripts/int8_study.py eval --sets wikiqa --schemes all    # 4b/4c on WikiQA
    python3 scripts/int8_study.py eval --sets trecdl --schemes w8a8,sq0.5-all,...
    python3 scripts/int8_study.py report                              # markdown tables from the results

Everything runs on a functional re-implementation of BertForSequenceClassification in torch
(fp32, checked against the committed HF logits) whose four Linear layers per encoder layer
    qkv  (input: LN output of the previous layer / embeddings)   [3H x H]
    ao   attention output (input: attention context)               [H x H]
    fi   FFN in (input: LN1 output)                                 [I x H]
    fo   FFN out (input: GELU output)                               [H x I]
can each run in fp32, bf16 (inputs and weights rounded to bf16, fp32 accumulation, as crossrank's
bf16) or int8 fake-quant. int8 reproduces crossrank's CPU backend (src/backend/cpu/gemm.cc,
kernels.h) exactly up to fp32 rounding of the dequantisation:
  weights     s8 symmetric per output channel: scale = amax/qmax, q = clamp(rne(w/scale), +-qmax)
              (qmax 127 with VNNI, 63 where u8*s8 saturates: not this CPU, which has avx512_vnni)
  activations u8 asymmetric per token: mn = min(x,0), mx = max(x,0), scale = (mx-mn)/255,
              inv = 1/scale, zp = clamp(rne(-mn*inv), 0, 255), q = clamp(rne(x*inv) + zp, 0, 255)
  y = (q - zp) * scale @ (qw * wscale)^T + b   (int32 accumulation is exact)
Attention, LayerNorm, GELU, softmax, pooler and classifier stay fp32 (as in crossrank).

Scheme variants: symmetric s8 activations (scale = amax/127), per-token groups of g channels
(own scale/zp per group), SmoothQuant per-input-channel factors s (x/s, W*s) computed on a
calibration set disjoint from the evaluation lists, and per-GEMM precision overrides.
Results are appended to build/int8-study/results.json (one entry per scheme x set).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_minilm_data as rd  # noqa: E402
from int8_fakequant import (  # noqa: E402
    GEMMS, Lin, Model, Runner, Scheme, fq_weight, run_scores, uniform)
from length_batches import batches  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "tests" / "data" / "models" / "real-minilm"
FOLDER = REPO / "build" / "real-minilm"
WORK = REPO / "build" / "int8-study"
torch.set_num_threads(2)


# ---------------------------------------------------------------------------- data
_TOK = None


def tokenizer():
    global _TOK
    if _TOK is None:
        from transformers import AutoTokenizer
        _TOK = AutoTokenizer.from_pretrained(str(FOLDER))
    return _TOK


def encode_pairs(pairs):
    tok = tokenizer()
    out = []
    for q, d in pairs:
        e = tok(q, d, truncation="only_second", max_length=512)
        out.append((e["input_ids"], e["token_type_ids"]))
    return out


def load_set(name):
    """'wikiqa', 'trecdl', or 'trecdl/3' (every 3rd TREC-DL list: 15 lists, for the scheme sweep)."""
    base, _, stride = name.partition("/")
    lists = [json.loads(l) for l in open(COMMITTED / f"eval-{base}.jsonl", encoding="utf-8")]
    lists = lists[::int(stride)] if stride else lists
    pairs = [(L["query"], p) for L in lists for p in L["passages"]]
    return lists, encode_pairs(pairs)


def calibration_sets() -> dict[str, list]:
    """Disjoint from the evaluation lists.
    domain:  64 training pairs (head-fitting data): 32 WikiQA-dev (question, candidate), 32 XQuAD-en
             (question, paragraph), fixed positions.
    builtin: ~4 KB of public-domain prose (War and Peace, Maude translation) cut into 16
             pseudo-pairs (first sentence as query, the next ~230 chars as passage): the kind of
             text an engine could embed in its binary.
    """
    groups = rd.training_groups()
    wq = [g for g in groups if g["source"] == "wikiqa-dev"]
    xq = [g for g in groups if g["source"] == "xquad-en"]
    dom = [(g["query"], g["passages"][k % len(g["passages"])]) for k, g in enumerate(wq[::3][:32])]
    dom += [(g["query"], g["passages"][k % 5]) for k, g in enumerate(xq[::9][:32])]
    war = (rd.DATA / "text-corpora" / "war_and_peace.en.txt").read_text(encoding="utf-8")
    start = war.index("Well, Prince, so Genoa and Lucca")  # the novel's first sentence (after the contents)
    body = " ".join(war[start - 1:][:4800].split())
    chunks = [body[i:i + 275] for i in range(0, 16 * 275, 275)]
    builtin = []
    for c in chunks:
        cut = c.find(". ")
        cut = cut if 10 < cut < 120 else 60
        builtin.append((c[:cut + 1], c[cut + 1:].strip()))
    return {"domain": dom, "builtin": builtin}


def calibrate(m: Model, encs) -> dict:
    """Per-input-channel absmax of every GEMM input over the calibration tokens (fp32 model)."""
    stats = {}
    r = Runner(m, None)

    cur = {}

    def hook(l, g, x):
        v = x[cur["mask"]].abs().amax(0)
        stats[(l, g)] = torch.maximum(stats[(l, g)], v) if (l, g) in stats else v
    r.hook = hook
    for idx, ids, tt, am in batches(encs):
        cur["mask"] = am.bool()
        r.logits(ids, tt, am)
    return stats


def get_calib(m: Model) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    f = WORK / "calib.pt"
    if f.is_file():
        c = torch.load(f)
        if c.get("version") == 2:
            return c
    out = {}
    for name, pairs in calibration_sets().items():
        encs = encode_pairs(pairs)
        out[name] = calibrate(m, encs)
        out[name + "_tokens"] = sum(len(e[0]) for e in encs)
    out["version"] = 2
    torch.save(out, str(f) + ".tmp")
    Path(str(f) + ".tmp").replace(f)
    return out


# ------------------------------------------------------------------------- metrics
def average_ranks(v):
    v = np.asarray(v)
    idx = np.argsort(v, kind="stable")
    r = np.zeros(len(v))
    i = 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and v[idx[j + 1]] == v[idx[i]]:
            j += 1
        r[idx[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def spearman(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if len(a) < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return 1.0 if np.array_equal(a, b) else 0.0
    ra, rb = average_ranks(a), average_ranks(b)
    mean = (len(a) + 1) / 2
    return float(((ra - mean) * (rb - mean)).sum() / math.sqrt(((ra - mean) ** 2).sum() * ((rb - mean) ** 2).sum()))


def rank_order(s):
    return sorted(range(len(s)), key=lambda i: -s[i])


def ranking_agreement(A, B) -> dict:
    """src/app/eval_metrics.cc ranking_agreement: reference A (fp32), candidate B. Gains = A - min(A)."""
    g = {"ndcg10": 0.0, "min_ndcg10": 1.0, "top1": 0.0, "spearman": 0.0, "max_abs_delta": 0.0, "mean_abs_delta": 0.0}
    lists = corr = pairs = 0
    for sa, sb in zip(A, B):
        sa, sb = list(map(float, sa)), list(map(float, sb))
        if not sa:
            continue
        lists += 1
        lo = min(sa)
        gains = [x - lo for x in sa]
        n10 = 1.0 if lo == max(sa) else rd.ndcg_at_k(sb, gains, 10)
        g["ndcg10"] += n10
        g["min_ndcg10"] = min(g["min_ndcg10"], n10)
        g["top1"] += rank_order(sa)[0] == rank_order(sb)[0]
        if len(sa) >= 2:
            g["spearman"] += spearman(sa, sb)
            corr += 1
        for x, y in zip(sa, sb):
            g["max_abs_delta"] = max(g["max_abs_delta"], abs(x - y))
            g["mean_abs_delta"] += abs(x - y)
            pairs += 1
    g["ndcg10"] /= max(lists, 1)
    g["top1"] /= max(lists, 1)
    g["spearman"] /= max(corr, 1)
    g["mean_abs_delta"] /= max(pairs, 1)
    return g


def split_lists(lists, flat):
    out, k = [], 0
    for L in lists:
        n = len(L["passages"])
        out.append(list(flat[k:k + n]))
        k += n
    return out


# -------------------------------------------------------------------------- schemes
def gemm_macs(H=384, I=1536):
    return {"qkv": 3 * H * H, "ao": H * H, "fi": H * I, "fo": I * H}


def int8_share(s: Scheme, mean_len: float | None = None, with_attn=False, H=384) -> float:
    macs = gemm_macs()
    tot = sum(macs[g] for (l, g) in s.gemm)
    cls_frac = 1.0 / (mean_len or 90.0)  # keep_cls: one fp32 row per sequence
    i8 = sum(macs[g] * ((1 - cls_frac) if lin.keep_cls else 1.0)
             for (l, g), lin in s.gemm.items() if lin.prec == "int8")
    if with_attn:  # attention QK^T and PV (fp32 in crossrank): 2*T*H MACs per token per layer
        tot += 6 * 2 * mean_len * H
    return i8 / tot


def all_schemes() -> dict[str, Scheme]:
    I8 = Lin()
    S: list[Scheme] = [
        uniform("fp32", "reference re-implementation", Lin("fp32")),
        uniform("bf16", "all 4 GEMMs bf16 (inputs+weights rounded), fp32 accumulation", Lin("bf16")),
        uniform("w8a8", "crossrank today: s8/oc weights, u8 asym per-token activations", I8),
        uniform("w7a8", "crossrank on CPUs without VNNI: weights |q|<=63", Lin(qmax=63)),
        uniform("a8sym", "s8 symmetric per-token activations", Lin(act="s8")),
        uniform("g128", "u8 asym per token per 128-channel group", Lin(group=128)),
        uniform("g64", "u8 asym per token per 64-channel group", Lin(group=64)),
    ]
    for a in (0.5, 0.6, 0.75, 0.85):
        S.append(uniform(f"sq{a}-ln", f"SmoothQuant alpha {a} on qkv + fi only (LN-output inputs)", I8,
                         {(None, ("qkv", "fi")): Lin(smooth=a)}))
        S.append(uniform(f"sq{a}-all", f"SmoothQuant alpha {a} on all 4 GEMMs", Lin(smooth=a)))
    S += [
        uniform("cls-fp32", "w8a8, but the [CLS] row of every GEMM in fp32", Lin(keep_cls=True)),
        uniform("cls-fp32-ffn", "w8a8, the [CLS] row of fi and fo in fp32", I8,
                {(None, ("fi", "fo")): Lin(keep_cls=True)}),
        uniform("sq0.5-all+cls", "SmoothQuant 0.5 on all 4 + [CLS] rows fp32", Lin(smooth=0.5, keep_cls=True)),
        uniform("cls16", "w8a8, the [CLS] row's activations in 16 bits (int8 weights)", Lin(cls16=True)),
        uniform("sq0.5-all+cls16", "SmoothQuant 0.5 on all 4 + [CLS] activations 16-bit", Lin(smooth=0.5, cls16=True)),
        uniform("sq0.5-all+cls16-builtin", "as sq0.5-all+cls16, factors from the built-in text",
                Lin(smooth=0.5, cls16=True), calib="builtin"),
        uniform("sq0.5-all+cls-builtin", "as sq0.5-all+cls, factors from the 4 KB built-in text",
                Lin(smooth=0.5, keep_cls=True), calib="builtin"),
        uniform("sq0.5-ln+cls", "SmoothQuant 0.5 on qkv+fi + [CLS] rows fp32", Lin(keep_cls=True),
                {(None, ("qkv", "fi")): Lin(smooth=0.5, keep_cls=True)}),
        uniform("fo-fp32", "FFN-out fp32, rest int8", I8, {(None, ("fo",)): Lin("fp32")}),
        uniform("fo-bf16", "FFN-out bf16, rest int8", I8, {(None, ("fo",)): Lin("bf16")}),
        uniform("fo+ao-bf16", "FFN-out and attn-out bf16, rest int8", I8, {(None, ("fo", "ao")): Lin("bf16")}),
        uniform("fi+fo-bf16", "FFN in+out bf16, qkv+ao int8", I8, {(None, ("fi", "fo")): Lin("bf16")}),
    ]
    for a in (0.5, 0.75):
        S.append(uniform(f"sq{a}-ln+fo-bf16", f"SmoothQuant {a} on qkv+fi, FFN-out bf16, ao int8", I8,
                         {(None, ("qkv", "fi")): Lin(smooth=a), (None, ("fo",)): Lin("bf16")}))
        S.append(uniform(f"sq{a}-all-sym", f"SmoothQuant {a} on all 4, s8 symmetric activations",
                         Lin(smooth=a, act="s8")))
        S.append(uniform(f"sq{a}-all-g128", f"SmoothQuant {a} on all 4, per-128-group activations",
                         Lin(smooth=a, group=128)))
        S.append(uniform(f"sq{a}-all-builtin", f"SmoothQuant {a} on all 4, factors from the 4 KB built-in text",
                         Lin(smooth=a), calib="builtin"))
    return {s.name: s for s in S}


def add_layer_schemes(S: dict, layers_fo: list[int]):
    I8 = Lin()
    for k in (1, 2):
        ls = tuple(sorted(layers_fo[:k]))
        S[f"fo-bf16-L{''.join(map(str, ls))}"] = uniform(
            f"fo-bf16-L{''.join(map(str, ls))}", f"FFN-out bf16 in layer(s) {ls} only, rest int8", I8,
            {(ls, ("fo",)): Lin("bf16")})


# ----------------------------------------------------------------------------- stats
def cmd_stats(args):
    m = Model(FOLDER)
    t0 = time.time()
    lists, encs = load_set("wikiqa")
    tl, te = load_set("trecdl")
    # statistics texts: all WikiQA lists + the first 10 TREC-DL lists (~1 000 passages)
    n10 = sum(len(L["passages"]) for L in tl[:10])
    sencs = encs + te[:n10]
    nbins = 4000
    edges = torch.logspace(-6, 4, nbins + 1)
    acc = {}
    r = Runner(m, None)
    cur = {}
    tok_names = {101: "[CLS]", 102: "[SEP]"}

    def hook(l, g, x):
        v = x[cur["mask"]]  # [N, K] valid tokens
        a = v.abs()
        ids = cur["ids"][cur["mask"]]
        st = acc.setdefault((l, g), {"ch": torch.zeros(v.shape[1]), "hist": torch.zeros(nbins + 2),
                                     "argmax_ch": torch.zeros(v.shape[1]), "n": 0, "max": 0.0, "max_tok": "",
                                     "row_ratio": []})
        st["ch"] = torch.maximum(st["ch"], a.amax(0))
        idx = torch.bucketize(a.flatten(), edges)
        st["hist"] += torch.bincount(idx, minlength=nbins + 2).float()
        rm, am_ = a.max(1)
        st["argmax_ch"] += torch.bincount(am_, minlength=v.shape[1]).float()
        st["n"] += v.shape[0]
        st["row_ratio"].append((rm / a.median(1).values.clamp(min=1e-12)).median().item())
        k = int(rm.argmax())
        if rm[k].item() > st["max"]:
            st["max"] = rm[k].item()
            st["max_tok"] = tok_names.get(int(ids[k]), "other")
    r.hook = hook
    fp32 = np.zeros(len(sencs))
    for idx, ids, tt, am in batches(sencs):
        cur["mask"], cur["ids"] = am.bool(), ids
        fp32[idx] = r.logits(ids, tt, am).double().numpy()
    ref = np.array([x for L in lists for x in L["logits"]] + [x for L in tl[:10] for x in L["logits"]])
    diff = float(np.abs(fp32 - ref).max())
    print(f"fp32 re-implementation vs committed HF logits: max |diff| {diff:.2e} over {len(ref)} pairs "
          f"({time.time() - t0:.0f} s)", flush=True)
    rows = []
    for (l, g), st in sorted(acc.items(), key=lambda kv: (kv[0][0], GEMMS.index(kv[0][1]))):
        h = st["hist"]
        c = torch.cumsum(h, 0) / h.sum()
        k999 = int(torch.searchsorted(c, torch.tensor(0.999)))
        p999 = float(edges[min(k999, nbins)])
        ch = st["ch"]
        med = float(ch.median())
        out_ch = torch.nonzero(ch > 6 * med).flatten().tolist()
        out_ch = sorted(out_ch, key=lambda c_: -float(ch[c_]))
        share = {c_: float(st["argmax_ch"][c_] / st["n"]) for c_ in out_ch[:6]}
        rows.append({"layer": l, "gemm": g, "tokens": st["n"], "max": float(ch.max()), "p999": p999,
                     "ch_max_over_median": float(ch.max()) / med, "median_ch_absmax": med,
                     "outlier_channels": out_ch, "argmax_share": share, "max_token": st["max_tok"],
                     "row_absmax_over_median_abs": float(np.median(st["row_ratio"]))})
    wrows = []
    for l in range(m.L):
        for g in GEMMS:
            w = m.layers[l][g][0]
            ra, ca = w.abs().amax(1), w.abs().amax(0)
            err = (fq_weight(w, 127) - w).pow(2).sum(1).sqrt() / w.pow(2).sum(1).sqrt()
            wrows.append({"layer": l, "gemm": g, "max": float(w.abs().max()),
                          "row_max_over_median": float(ra.max() / ra.median()),
                          "col_max_over_median": float(ca.max() / ca.median()),
                          "rtn_rel_err_median": float(err.median()), "rtn_rel_err_max": float(err.max())})
    calib = get_calib(m)
    cal = {}
    for name in ("domain", "builtin"):
        cal[name] = {"tokens": calib[name + "_tokens"]}
    # how similar are the per-channel statistics of the two calibration sets?
    sim = []
    for key in calib["domain"]:
        a, b = calib["domain"][key], calib["builtin"][key]
        sim.append({"layer": key[0], "gemm": key[1],
                    "top8_overlap": len(set(a.topk(8).indices.tolist()) & set(b.topk(8).indices.tolist())),
                    "log_ratio_std": float((a.clamp(min=1e-5) / b.clamp(min=1e-5)).log().std())})
    # exactness of folding the SmoothQuant factors (fp32, no quantisation): into V (ao), and
    # naively into the preceding LayerNorm's gamma/beta (qkv/fi), which in post-LN BERT also
    # rescales the residual stream.
    fold = fold_check(m, calib["domain"], encs[:200], ref[:200])
    res = {"fp32_check_max_abs_diff": diff, "stats_tokens": acc[(0, "qkv")]["n"], "activations": rows,
           "weights": wrows, "calibration": cal, "calib_similarity": sim, "fold": fold}
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "stats.json").write_text(json.dumps(res, indent=1))
    for r_ in rows:
        print(f"L{r_['layer']} {r_['gemm']:3s} max {r_['max']:8.2f} p99.9 {r_['p999']:6.2f} "
              f"ch max/med {r_['ch_max_over_median']:6.1f} outl {r_['outlier_channels'][:6]} "
              f"share {({k: round(v, 2) for k, v in r_['argmax_share'].items()})} at {r_['max_token']}")
    print(json.dumps(fold))


@torch.inference_mode()
def fold_check(m: Model, cal, encs, ref):
    import copy
    out = {}
    alpha = 0.5
    for variant in ("v_fold", "ln_fold_naive"):
        m2 = copy.copy(m)
        m2.layers = [dict(L) for L in m.layers]
        m2.eln = m.eln
        for l in range(m.L):
            L = m2.layers[l]
            if variant == "v_fold":
                w, b = L["ao"]
                s = (cal[(l, "ao")].clamp(min=1e-5).pow(alpha) / w.abs().amax(0).clamp(min=1e-5).pow(1 - alpha))
                wq, bq = L["qkv"]
                H = m.H
                wq, bq = wq.clone(), bq.clone()
                wq[2 * H:] /= s[:, None]
                bq[2 * H:] /= s
                L["qkv"] = (wq, bq)
                L["ao"] = (w * s, b)
            else:
                w, b = L["fi"]
                s = (cal[(l, "fi")].clamp(min=1e-5).pow(alpha) / w.abs().amax(0).clamp(min=1e-5).pow(1 - alpha))
                g_, b_ = L["ln1"]
                L["ln1"] = (g_ / s, b_ / s)  # LN1 output also feeds the residual of the FFN block
                L["fi"] = (w * s, b)
        sc = run_scores(Runner(m2, None), encs)
        out[variant] = float(np.abs(sc - ref).max())
    return out


# ------------------------------------------------------------------------------ eval
def cmd_eval(args):
    m = Model(FOLDER)
    calib = get_calib(m)
    S = all_schemes()
    stats_f = WORK / "stats.json"
    if stats_f.is_file():
        st = json.loads(stats_f.read_text())
        fo = sorted([r for r in st["activations"] if r["gemm"] == "fo"], key=lambda r: -r["max"])
        add_layer_schemes(S, [r["layer"] for r in fo])
    names = list(S) if args.schemes == "all" else args.schemes.split(",")
    res_f = WORK / "results.json"
    results = json.loads(res_f.read_text()) if res_f.is_file() else {}
    for set_name in args.sets.split(","):
        lists, encs = load_set(set_name)
        ref = [L["logits"] for L in lists]
        labels = [L["labels"] for L in lists]
        ntok = sum(len(e[0]) for e in encs)
        nd_fp32 = float(np.mean([rd.ndcg_at_k(r, lab) for r, lab in zip(ref, labels)]))
        for n in names:
            key = f"{n}@{set_name}"
            if key in results and not args.force:
                continue
            s = S[n]
            t0 = time.time()
            flat = run_scores(Runner(m, s, calib), encs)
            sc = split_lists(lists, flat)
            ag = ranking_agreement(ref, sc)
            nd = float(np.mean([rd.ndcg_at_k(x, lab) for x, lab in zip(sc, labels)]))
            results[key] = {"scheme": n, "set": set_name, "desc": s.desc, **ag, "ndcg10_labels": nd,
                            "ndcg10_labels_fp32": nd_fp32, "drop": nd_fp32 - nd,
                            "mean_len": ntok / len(encs),
                            "int8_share_linear": int8_share(s, ntok / len(encs)),
                            "int8_share_with_attn": int8_share(s, ntok / len(encs), with_attn=True),
                            "seconds": time.time() - t0}
            print(f"{set_name:7s} {n:22s} agree {ag['ndcg10']:.4f} top1 {ag['top1']:.3f} rho {ag['spearman']:.4f} "
                  f"max|d| {ag['max_abs_delta']:.3f} NDCG {nd:.4f} (fp32 {nd_fp32:.4f}) int8 {int8_share(s, ntok / len(encs)):.3f} "
                  f"[{time.time() - t0:.0f}s]", flush=True)
            res_f.write_text(json.dumps(results, indent=1))


def stats_tables() -> str:
    st = json.loads((WORK / "stats.json").read_text())
    names = {"qkv": "QKV (LN out)", "ao": "attn-out (context)", "fi": "FFN-in (LN1 out)", "fo": "FFN-out (GELU out)"}
    out = ["| layer | GEMM input | max abs | p99.9 abs | channel absmax max/median | outlier channels | share | token of the max | per-token absmax / median abs |",
           "|---|---|---:|---:|---:|---|---|---|---:|"]
    for r in st["activations"]:
        share = ", ".join(f"{k}: {100 * v:.0f} %" for k, v in r["argmax_share"].items()) or "—"
        out.append(f"| {r['layer']} | {names[r['gemm']]} | {r['max']:.2f} | {r['p999']:.2f} | "
                   f"{r['ch_max_over_median']:.1f} | {', '.join(map(str, r['outlier_channels'][:4])) or '—'} | "
                   f"{share} | {r['max_token']} | {r['row_absmax_over_median_abs']:.1f} |")
    out += ["", "| layer | GEMM | max abs W | row absmax max/median | column absmax max/median | s8 RTN rel. error per row, median / max |",
            "|---|---|---:|---:|---:|---|"]
    for r in st["weights"]:
        out.append(f"| {r['layer']} | {r['gemm']} | {r['max']:.3f} | {r['row_max_over_median']:.1f} | "
                   f"{r['col_max_over_median']:.1f} | {100 * r['rtn_rel_err_median']:.2f} % / {100 * r['rtn_rel_err_max']:.2f} % |")
    return "\n".join(out)


def cmd_report(args):
    if (WORK / "stats.json").is_file():
        print(stats_tables())
        print()
    results = json.loads((WORK / "results.json").read_text())
    schemes = list(dict.fromkeys(r["scheme"] for r in results.values()))
    sets = [s for s in ("wikiqa", "trecdl/3", "trecdl") if any(r["set"] == s for r in results.values())]
    lens = {}
    for r in results.values():
        lens[r["set"]] = r["mean_len"]
    S = all_schemes()
    print("| scheme | int8 share of Linear MACs (WikiQA / TREC-DL lengths) | "
          + " | ".join(f"{s} agree | top-1 | rho | max Δ | NDCG drop" for s in sets) + " |")
    print("|---|---:|" + "---:|" * (5 * len(sets)))
    for n in schemes:
        cells = []
        for s in sets:
            r = results.get(f"{n}@{s}")
            if r:
                cells += [f"{r['ndcg10']:.4f}", f"{100 * r['top1']:.1f} %", f"{r['spearman']:.4f}",
                          f"{r['max_abs_delta']:.3f}", f"{r['drop']:+.4f}"]
            else:
                cells += ["—"] * 5
        sh = [int8_share(S[n], lens.get(k, 90.0)) for k in ("wikiqa", "trecdl")]
        share = f"{100 * sh[0]:.1f} %" if abs(sh[0] - sh[1]) < 1e-9 else f"{100 * sh[0]:.1f} / {100 * sh[1]:.1f} %"
        print(f"| {n} | {share} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["stats", "eval", "report"])
    ap.add_argument("--sets", default="wikiqa,trecdl")
    ap.add_argument("--schemes", default="all")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    {"stats": cmd_stats, "eval": cmd_eval, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    main()
