"""The int8 study's functional BertForSequenceClassification (fp32, torch) and its per-GEMM
fp32 / bf16 / int8 fake-quant schemes: Model (weights of an HF folder), Lin / Scheme / uniform
(precision per (layer, GEMM)), the fake-quant functions, Runner (one scheme's prepared weights
and forward pass) and batched scoring. int8_study.py's docstring gives the quantisation recipe.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from length_batches import batches

GEMMS = ("qkv", "ao", "fi", "fo")


# ------------------------------------------------------------------------------ model
class Model:
    def __init__(self, folder: Path):
        from safetensors.torch import load_file
        cfg = json.loads((folder / "config.json").read_text())
        self.H, self.I, self.L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
        self.nh = cfg["num_attention_heads"]
        self.eps = cfg["layer_norm_eps"]
        w = load_file(str(folder / "model.safetensors"))
        g = lambda n: w[n].float()  # noqa: E731
        self.word, self.pos, self.typ = (g("bert.embeddings.word_embeddings.weight"),
                                         g("bert.embeddings.position_embeddings.weight"),
                                         g("bert.embeddings.token_type_embeddings.weight"))
        self.eln = (g("bert.embeddings.LayerNorm.weight"), g("bert.embeddings.LayerNorm.bias"))
        self.layers = []
        for l in range(self.L):
            p = f"bert.encoder.layer.{l}."
            self.layers.append({
                "qkv": (torch.cat([g(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")]),
                        torch.cat([g(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")])),
                "ao": (g(p + "attention.output.dense.weight"), g(p + "attention.output.dense.bias")),
                "ln1": (g(p + "attention.output.LayerNorm.weight"), g(p + "attention.output.LayerNorm.bias")),
                "fi": (g(p + "intermediate.dense.weight"), g(p + "intermediate.dense.bias")),
                "fo": (g(p + "output.dense.weight"), g(p + "output.dense.bias")),
                "ln2": (g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias")),
            })
        self.pool = (g("bert.pooler.dense.weight"), g("bert.pooler.dense.bias"))
        self.cls = (g("classifier.weight"), g("classifier.bias"))


@dataclass(frozen=True)
class Lin:
    prec: str = "int8"          # fp32 | bf16 | int8
    act: str = "u8"             # u8 (asymmetric) | s8 (symmetric)
    group: int = 0              # 0: per token; g: per token per group of g input channels
    qmax: int = 127             # weight range
    smooth: float | None = None  # SmoothQuant alpha (None: off)
    keep_cls: bool = False      # the [CLS] row (token 0 of each sequence) bypasses quantisation (fp32)
    cls16: bool = False         # the [CLS] row's activations quantised to 16 bits (u16, asymmetric),
                                # same int8 weights: two u8 GEMM rows (hi, lo) in crossrank


@dataclass
class Scheme:
    name: str
    desc: str
    gemm: dict = field(default_factory=dict)   # (layer, gemm) -> Lin
    calib: str = "domain"                      # which calibration statistics SmoothQuant uses

    def lin(self, l, g) -> Lin:
        return self.gemm[(l, g)]


def uniform(name, desc, lin: Lin, overrides=None, calib="domain", layers=6) -> Scheme:
    s = Scheme(name, desc, {(l, g): lin for l in range(layers) for g in GEMMS}, calib)
    for (ls, gs), o in (overrides or {}).items():
        for l in (range(layers) if ls is None else ls):
            for g in gs:
                s.gemm[(l, g)] = o
    return s


def bf16r(x):
    return x.bfloat16().float()


def fq_weight(w, qmax):
    amax = w.abs().amax(dim=1, keepdim=True)
    scale = torch.where(amax > 0, amax / qmax, torch.ones_like(amax))
    inv = 1.0 / scale
    return torch.clamp(torch.round(w * inv), -qmax, qmax) * scale


def fq_act16(x):
    """x [..., K] -> fake-quantised per row to 16 bits (asymmetric, as crossrank's hi/lo rows)."""
    mn = torch.clamp(x.amin(-1, keepdim=True), max=0.0)
    mx = torch.clamp(x.amax(-1, keepdim=True), min=0.0)
    scale = (mx - mn) / 65535.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zp = torch.clamp(torch.round(-mn / scale), 0, 65535)
    q = torch.clamp(torch.round(x / scale) + zp, 0, 65535)
    return (q - zp) * scale


def fq_act(x, act, group):
    """x [..., K] -> fake-quantised per row (or per row-group)."""
    shp = x.shape
    if group:
        x = x.reshape(*shp[:-1], shp[-1] // group, group)
    if act == "u8":
        mn = torch.clamp(x.amin(-1, keepdim=True), max=0.0)
        mx = torch.clamp(x.amax(-1, keepdim=True), min=0.0)
        scale = (mx - mn) / 255.0
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        inv = 1.0 / scale
        zp = torch.clamp(torch.round(-mn * inv), 0, 255)
        q = torch.clamp(torch.round(x * inv) + zp, 0, 255)
        y = (q - zp) * scale
    else:
        amax = x.abs().amax(-1, keepdim=True)
        scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
        inv = 1.0 / scale
        y = torch.clamp(torch.round(x * inv), -127, 127) * scale
    return y.reshape(shp)


class Runner:
    """Prepared weights of one scheme (+ optional statistics hooks)."""

    def __init__(self, m: Model, scheme: Scheme | None, calib: dict | None = None):
        self.m = m
        self.scheme = scheme
        self.prep = {}
        self.hook = None
        for l in range(m.L):
            for g in GEMMS:
                w, b = m.layers[l][g]
                lin = scheme.lin(l, g) if scheme else Lin("fp32")
                s = None
                if lin.smooth is not None and lin.prec == "int8":
                    xmax = calib[scheme.calib][(l, g)].clamp(min=1e-5)
                    wmax = w.abs().amax(0).clamp(min=1e-5)
                    s = (xmax.pow(lin.smooth) / wmax.pow(1 - lin.smooth)).clamp(min=1e-5)
                    w = w * s
                if lin.prec == "int8":
                    w = fq_weight(w, lin.qmax)
                elif lin.prec == "bf16":
                    w = bf16r(w)
                self.prep[(l, g)] = (lin, w, b, None if s is None else 1.0 / s, m.layers[l][g][0])

    def linear(self, l, g, x):
        if self.hook:
            self.hook(l, g, x)
        lin, w, b, inv_s, w32 = self.prep[(l, g)]
        x0 = x
        if lin.prec == "int8":
            if inv_s is not None:
                x = x * inv_s
            x = fq_act(x, lin.act, lin.group)
        elif lin.prec == "bf16":
            x = bf16r(x)
        y = F.linear(x, w, b)
        if lin.keep_cls:
            y[:, 0] = F.linear(x0[:, 0], w32, b)
        elif lin.cls16:
            xc = x0[:, 0] if inv_s is None else x0[:, 0] * inv_s
            y[:, 0] = F.linear(fq_act16(xc), w, b)
        return y

    @torch.inference_mode()
    def logits(self, ids, tt, am):
        m = self.m
        B, T = ids.shape
        ln = lambda x, p: F.layer_norm(x, (m.H,), p[0], p[1], m.eps)  # noqa: E731
        x = m.word[ids] + m.pos[:T][None] + m.typ[tt]
        x = ln(x, m.eln)
        mask = am.bool()[:, None, None, :]
        hd = m.H // m.nh
        for l in range(m.L):
            L = m.layers[l]
            qkv = self.linear(l, "qkv", x)
            q, k, v = (t.view(B, T, m.nh, hd).transpose(1, 2) for t in qkv.split(m.H, dim=-1))
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            ctx = ctx.transpose(1, 2).reshape(B, T, m.H)
            x = ln(self.linear(l, "ao", ctx) + x, L["ln1"])
            f = F.gelu(self.linear(l, "fi", x))
            x = ln(self.linear(l, "fo", f) + x, L["ln2"])
        pooled = torch.tanh(F.linear(x[:, 0], *m.pool))
        return F.linear(pooled, *m.cls)[:, 0]


def run_scores(runner: Runner, encs) -> np.ndarray:
    out = np.zeros(len(encs))
    for idx, ids, tt, am in batches(encs):
        out[idx] = runner.logits(ids, tt, am).double().numpy()
    return out
