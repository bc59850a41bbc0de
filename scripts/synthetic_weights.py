#!/usr/bin/env python3
"""Deterministic synthetic weights for crossrank's correctness tests.

No real reranker weights are available, so every golden in tests/data is computed by
HF transformers on a model of the real architecture whose parameters are produced by the
function below.  The C++ engine implements the *identical* function
(bit-for-bit: every value is an exact float32 computation), so it can build the same
model in memory and compare logits without any weight files.

Spec (for every parameter of the HF state_dict, buffers such as
embeddings.position_ids / token_type_ids are skipped), with all integer arithmetic
modulo 2**64:

    GOLDEN = 0x9E3779B97F4A7C15
    mix(z):                                   # splitmix64 finaliser
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB
        return z ^ (z >> 31)
    fnv1a64(bytes): h = 0xcbf29ce484222325; for b: h = (h ^ b) * 0x100000001b3
    h   = fnv1a64(full_hf_name.encode()) ^ mix(seed)
    x_i = mix(h + (i + 1) * GOLDEN)           # i = flat row-major index in the HF shape
    r_i = float32(int(x_i >> 40) - 2**23) / float32(2**23)          # exact, in [-1, 1)
    v_i = float32(offset) + float32(scale) * r_i                    # f32 mul, then f32 add

(offset, scale) by name:
    *LayerNorm.weight | *.gamma                         -> (1.0, 0.1)
    *norm.weight (RMSNorm: *_layernorm, q_norm, k_norm, model.norm) -> (1.0, 0.1)
    *LayerNorm.bias   | *.beta                          -> (0.0, 0.1)
    *norm1|norm2|emb_ln .weight / .bias (the LayerNorms of jinaai's XLM-R flash layout)
                                                        -> (1.0, 0.1) / (0.0, 0.1)
    classifier.out_proj.weight | classifier.weight      -> (0.0, 1.0)
    other *.bias                                        -> (0.0, 0.02)
    everything else (Linear weights, embeddings)        -> (0.0, 0.0346410162)

Usage:
    from synthetic_weights import fill_model, synth_tensor
    fill_model(model, seed)           # in place, every named parameter
    python3 scripts/synthetic_weights.py   # self-check, prints first values for seed 0
"""
from __future__ import annotations

import numpy as np

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX_C1 = 0xBF58476D1CE4E5B9
MIX_C2 = 0x94D049BB133111EB
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
CHUNK = 1 << 24  # 16M elements per chunk (≈ 128 MiB per uint64 temporary)
DEFAULT_SCALE = 0.0346410162  # ≈ sqrt(12) * 0.01 → std 0.02 for uniform[-1,1)*scale


def mix_int(z: int) -> int:
    """Scalar splitmix64 finaliser (reference implementation, Python ints)."""
    z &= M64
    z = ((z ^ (z >> 30)) * MIX_C1) & M64
    z = ((z ^ (z >> 27)) * MIX_C2) & M64
    return z ^ (z >> 31)


def fnv1a64(data: bytes) -> int:
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & M64
    return h


def tensor_hash(name: str, seed: int) -> int:
    return fnv1a64(name.encode("utf-8")) ^ mix_int(seed)


FLASH_LN = ("norm1", "norm2", "emb_ln")  # jinaai/xlm-roberta-flash-implementation's LayerNorms


def offset_scale(name: str) -> tuple[float, float]:
    if any(name.endswith(n + ".weight") for n in FLASH_LN):
        return 1.0, 0.1
    if any(name.endswith(n + ".bias") for n in FLASH_LN):
        return 0.0, 0.1
    if name.endswith("LayerNorm.weight") or name.endswith(".gamma"):
        return 1.0, 0.1
    if name.endswith("norm.weight"):  # RMSNorm weights (Qwen3: *_layernorm, q_norm/k_norm, model.norm)
        return 1.0, 0.1
    if name.endswith("LayerNorm.bias") or name.endswith(".beta"):
        return 0.0, 0.1
    if name in ("classifier.out_proj.weight", "classifier.weight"):
        return 0.0, 1.0
    if name.endswith(".bias"):
        return 0.0, 0.02
    return 0.0, DEFAULT_SCALE


def _mix_np(z: np.ndarray) -> np.ndarray:
    """Vectorised splitmix64 finaliser on uint64 (wrap-around multiply, in place)."""
    c1 = np.uint64(MIX_C1)
    c2 = np.uint64(MIX_C2)
    z ^= z >> np.uint64(30)
    z *= c1
    z ^= z >> np.uint64(27)
    z *= c2
    z ^= z >> np.uint64(31)
    return z


def synth_values(name: str, seed: int, numel: int, start: int = 0) -> np.ndarray:
    """float32 values for flat indices [start, start + numel) of tensor `name`."""
    off, sc = offset_scale(name)
    off32 = np.float32(off)
    sc32 = np.float32(sc)
    inv = np.float32(2.0 ** 23)
    h = np.uint64(tensor_hash(name, seed))
    out = np.empty(numel, dtype=np.float32)
    with np.errstate(over="ignore"):
        for c0 in range(0, numel, CHUNK):
            n = min(CHUNK, numel - c0)
            # (i + 1) for i = start + c0 .. start + c0 + n - 1
            z = np.arange(start + c0 + 1, start + c0 + n + 1, dtype=np.uint64)
            z *= np.uint64(GOLDEN)
            z += h
            _mix_np(z)
            z >>= np.uint64(40)
            r = z.astype(np.int64)
            del z
            r -= 1 << 23
            rf = r.astype(np.float32)  # exact: |r| <= 2**23
            del r
            rf /= inv  # exact power-of-two division
            rf *= sc32  # float32 multiply (rounded once)
            rf += off32  # float32 add (rounded once)
            out[c0:c0 + n] = rf
    return out


def synth_tensor(name: str, shape, seed: int) -> np.ndarray:
    numel = int(np.prod(shape)) if len(shape) else 1
    return synth_values(name, seed, numel).reshape(tuple(shape))


def synth_reference(name: str, seed: int, i: int) -> float:
    """Pure-Python scalar reference for a single element (used by the self-check)."""
    off, sc = offset_scale(name)
    h = tensor_hash(name, seed)
    x = mix_int((h + (i + 1) * GOLDEN) & M64)
    r = np.float32(int(x >> 40) - (1 << 23)) / np.float32(1 << 23)
    return float(np.float32(off) + np.float32(sc) * np.float32(r))


def fill_model(model, seed: int) -> None:
    """Overwrite every named parameter of an HF model in place (buffers are untouched)."""
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            vals = synth_tensor(name, tuple(p.shape), seed)
            p.copy_(torch.from_numpy(vals).to(p.dtype))
            del vals


def first_values(name: str, seed: int, n: int = 4) -> list[float]:
    return [float(v) for v in synth_values(name, seed, n)]


def _self_check() -> None:
    name = "roberta.embeddings.word_embeddings.weight"
    vals = first_values(name, 0, 4)
    ref = [synth_reference(name, 0, i) for i in range(4)]
    assert vals == ref, (vals, ref)
    # chunk boundary / offset consistency and scalar reference at random-ish indices
    big = synth_values("x.LayerNorm.weight", 7, CHUNK + 5)
    for i in (0, 1, CHUNK - 1, CHUNK, CHUNK + 4):
        assert big[i] == np.float32(synth_reference("x.LayerNorm.weight", 7, i)), i
    tail = synth_values("x.LayerNorm.weight", 7, 5, start=CHUNK)
    assert np.array_equal(tail, big[CHUNK:]), "start offset mismatch"
    print(f"h({name!r}, seed 0) = 0x{tensor_hash(name, 0):016x}")
    print(f"first 4 values of {name} (seed 0):")
    for v in vals:
        print(f"  {v!r}  (float32 bits 0x{np.float32(v).view(np.uint32):08x})")
    for nm in ("classifier.out_proj.weight", "roberta.embeddings.LayerNorm.weight",
               "roberta.embeddings.LayerNorm.bias", "classifier.out_proj.bias",
               "bert.embeddings.word_embeddings.weight", "classifier.weight"):
        print(f"  {nm}: {first_values(nm, 0, 4)}")
    print("self-check OK")


if __name__ == "__main__":
    _self_check()
