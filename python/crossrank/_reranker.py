"""Reranker and its FlagEmbedding / sentence-transformers look-alikes.

All scoring goes through crossrank._crossrank.Engine.score, which releases the GIL; with a
progress bar the pairs are scored in chunks so that the bar can move.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _crossrank

_CHUNK_MIN = 512  # pairs per engine call when a progress bar is shown (at least)


# --------------------------------------------------------------------------- inputs

def _is_text(x: Any) -> bool:
    return isinstance(x, (str, np.str_))


def _split_pairs(pairs: Any, what: str) -> Tuple[List[str], List[str], bool]:
    """(queries, documents, single): accepts one pair [q, d] / (q, d), a list (or tuple,
    iterable, numpy array of shape (n, 2)) of pairs. Raises TypeError / ValueError naming
    the offending pair."""
    if isinstance(pairs, np.ndarray):
        if pairs.ndim == 1 and pairs.shape[0] == 2 and all(_is_text(x) for x in pairs):
            return [str(pairs[0])], [str(pairs[1])], True
        if pairs.ndim != 2 or (pairs.size and pairs.shape[1] != 2):
            raise ValueError(f"{what}: expected an array of shape (n, 2), got {pairs.shape}")
        pairs = pairs.tolist()
    elif isinstance(pairs, (str, bytes)):
        raise TypeError(f"{what}: expected a (query, document) pair or a list of pairs, got a single string")
    elif isinstance(pairs, (dict, set, frozenset)):  # iterating them would pair up keys
        raise TypeError(f"{what}: expected a list of (query, document) pairs, got a {type(pairs).__name__}")
    elif not isinstance(pairs, (list, tuple)):
        try:
            pairs = list(pairs)
        except TypeError:
            raise TypeError(f"{what}: expected a list of (query, document) pairs, got {type(pairs).__name__}") from None
    if len(pairs) == 2 and _is_text(pairs[0]) and _is_text(pairs[1]):
        return [str(pairs[0])], [str(pairs[1])], True
    queries: List[str] = []
    docs: List[str] = []
    for i, p in enumerate(pairs):
        if isinstance(p, (str, bytes, dict, set, frozenset)) or not hasattr(p, "__len__"):
            raise TypeError(f"{what}: pair {i} must be a (query, document) pair, got {type(p).__name__}")
        if len(p) != 2:
            raise ValueError(f"{what}: pair {i} has {len(p)} items; expected (query, document)")
        q, d = p[0], p[1]
        if not _is_text(q) or not _is_text(d):
            bad = q if not _is_text(q) else d
            raise TypeError(f"{what}: pair {i}: query and document must be str, got {type(bad).__name__}")
        queries.append(str(q))
        docs.append(str(d))
    return queries, docs, False


def _raise_unencodable(queries: List[str], docs: List[str], start: int, end: int) -> None:
    """The binding could not convert a str to UTF-8 (lone surrogates): name the pair."""
    for i in range(start, end):
        for what, text in (("query", queries[i]), ("document", docs[i])):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as e:
                raise _crossrank.CrossrankError(
                    f"pair {i}: {what} is not valid Unicode text ({e.reason} at character {e.start})") from None


_INT32_MAX = 2**31 - 1


def _check_positive(name: str, v: Any) -> int:
    # The engine takes C ints: a larger value would fail in the binding with pybind11's
    # "incompatible function arguments" instead of saying which argument is wrong.
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0 or v > _INT32_MAX:
        raise ValueError(f"{name} must be a positive integer (at most {_INT32_MAX}), got {v!r}")
    return int(v)


# --------------------------------------------------------------------------- progress

class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class _StderrBar:
    """Minimal progress bar for when tqdm is not installed."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.t0 = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._draw()

    def _draw(self, end: str = "") -> None:
        width = 30
        filled = width * self.done // max(self.total, 1)
        rate = self.done / max(time.monotonic() - self.t0, 1e-9)
        line = f"{self.desc}: [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} pairs, {rate:.0f}/s"
        sys.stderr.write(("\r" + line + end) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def update(self, n: int) -> None:
        self.done += n
        if self.tty or self.done >= self.total:
            self._draw()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _progress(total: int, show: Optional[bool], chunk: int, desc: str):
    if show is None:  # automatic: long inputs on an interactive terminal
        show = total > 4 * chunk and sys.stderr.isatty()
    if not show:
        return _NoBar()
    try:
        from tqdm.auto import tqdm  # optional
    except ImportError:
        return _StderrBar(total, desc)
    return tqdm(total=total, desc=desc, unit="pair")


# --------------------------------------------------------------------------- activations

def _sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-x))


def _identity(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _resolve_activation(fn: Any) -> Callable[[np.ndarray], Any]:
    """None/'sigmoid'/'identity', a torch module path as saved by sentence-transformers,
    or any callable on a float64 numpy array (a torch module gets a tensor)."""
    if fn is None:
        return _sigmoid
    if isinstance(fn, str):
        name = fn.rsplit(".", 1)[-1].lower()
        if name in ("sigmoid",):
            return _sigmoid
        if name in ("identity", "none", "raw"):
            return _identity
        raise ValueError(f"unknown activation_fn {fn!r} (expected 'sigmoid', 'identity' or a callable)")
    if callable(fn):
        mod = type(fn).__module__ or ""
        if mod.startswith("torch"):
            cls = type(fn).__name__
            if cls == "Sigmoid":
                return _sigmoid
            if cls == "Identity":
                return _identity

            def _torch_fn(x: np.ndarray, _fn=fn):
                import torch  # only when a torch module was passed in

                return _fn(torch.from_numpy(np.asarray(x, dtype=np.float32))).detach().cpu().numpy()

            return _torch_fn
        return fn
    raise TypeError(f"activation_fn must be None, a string or a callable, got {type(fn).__name__}")


def _saved_activation(model_dir: str) -> Optional[str]:
    """sentence-transformers' activation saved in config.json (e.g. ms-marco-MiniLM: Identity)."""
    try:
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return None
    st = cfg.get("sentence_transformers") or {}
    fn = st.get("activation_fn") or cfg.get("sbert_ce_default_activation_function")
    return fn if isinstance(fn, str) else None


def _tokenizer_max_length(model_dir: str) -> Optional[int]:
    try:
        with open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8") as f:
            v = json.load(f).get("model_max_length")
    except (OSError, ValueError, AttributeError):
        return None
    return int(v) if isinstance(v, (int, float)) and 0 < v < 1e9 else None


# --------------------------------------------------------------------------- Reranker

class Reranker:
    """A cross-encoder reranker on the crossrank engine.

    model_dir: a Hugging Face model id ("BAAI/bge-reranker-v2-m3", "ORG/NAME@REVISION"; downloaded
        into / read from the Hugging Face cache as huggingface_hub does), a model folder
        (config.json, model.safetensors, tokenizer files) or "synthetic:NAME[@SEED]" (random
        weights, for tests and benchmarks).
    dtype: "fp32" | "bf16" | "int8" (CPU), "fp16" (GPU).
    max_length: tokens per pair including special tokens (default for every call).
    threads: worker threads (None = all cores).
    backend: "auto" | "cpu" | "ref" | "cuda".
    truncation: "flagembedding" (query capped at 3/4 of max_length, then only the document
        is cut; FlagReranker) or "longest_first" (sentence-transformers / TEI).
    normalize, batch_size, long_doc: defaults for compute_score.
    instruction: decoder rerankers (Qwen3-Reranker): the task instruction of the prompt
        (None = the model card's default); every scoring call also takes one.
    deterministic: bit-identical scores whatever the batching, threads and other pairs
        (same binary and ISA level; see the README's "Deterministic scores").
    reranker: decoder rerankers: the recipe ("mxbai-rerank-v2", "bge-reranker-v2-gemma", ...)
        when the model's folder or hub name does not say it (None: recognised by name).
    revision, cache_dir, token, local_files_only: for a hub id, as huggingface_hub takes them
        (default: the id's @REVISION or "main", HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE).
    """

    def __init__(
        self,
        model_dir: Union[str, os.PathLike],
        dtype: str = "fp32",
        max_length: int = 512,
        threads: Optional[int] = None,
        backend: str = "auto",
        truncation: str = "flagembedding",
        *,
        normalize: bool = False,
        batch_size: int = 32,
        long_doc: str = "truncate",
        chunk_overlap: int = 64,
        max_chunks: int = 256,
        activation_fn: Any = None,
        instruction: Optional[str] = None,
        deterministic: bool = False,
        revision: Optional[str] = None,
        cache_dir: Optional[Union[str, os.PathLike]] = None,
        token: Optional[str] = None,
        local_files_only: bool = False,
        reranker: Optional[str] = None,
    ) -> None:
        self.model_name = os.fspath(model_dir)
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 0):
            raise ValueError(f"threads must be None or a non-negative integer, got {threads!r}")
        # A hub id becomes its snapshot folder (token=False: no token, as huggingface_hub).
        self.model_dir = _crossrank.resolve_model(
            self.model_name, revision=revision, cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
            token=token if isinstance(token, str) else ("" if token is False else None),
            local_files_only=bool(local_files_only))
        self._engine = _crossrank.Engine(self.model_dir, str(dtype), str(backend), int(threads or 0),
                                         bool(deterministic), str(reranker or ""))
        self.info = self._engine.info()
        self.info["name"] = self.model_name  # the hub id, not its snapshot folder
        self.max_length = self._check_max_length(max_length)
        self.truncation = self._check_choice("truncation", truncation, ("flagembedding", "longest_first"))
        self.long_doc = self._check_choice("long_doc", long_doc, ("truncate", "chunk"))
        self.normalize = bool(normalize)
        self.batch_size = _check_positive("batch_size", batch_size)
        if isinstance(chunk_overlap, bool) or not isinstance(chunk_overlap, (int, np.integer)) \
                or not 0 <= chunk_overlap <= _INT32_MAX:
            raise ValueError(f"chunk_overlap must be a non-negative integer, got {chunk_overlap!r}")
        self.chunk_overlap = int(chunk_overlap)
        self.max_chunks = _check_positive("max_chunks", max_chunks)
        self.instruction = self._check_instruction(instruction)
        self.default_activation_function = _resolve_activation(
            activation_fn if activation_fn is not None else _saved_activation(self.model_dir)
        )

    def __repr__(self) -> str:
        i = self.info
        return (f"{type(self).__name__}({self.model_name!r}, dtype={i['dtype']!r}, backend={i['backend']!r}, "
                f"max_length={self.max_length}, truncation={self.truncation!r})")

    # ------------------------------------------------------------------ helpers

    def _check_max_length(self, v: Any) -> int:
        v = _check_positive("max_length", v)
        if v > self.info["max_length"]:
            raise ValueError(f"max_length {v} exceeds the model's limit of {self.info['max_length']} tokens")
        return v

    @staticmethod
    def _check_instruction(v: Any) -> str:
        if v is None:
            return ""
        if not _is_text(v):
            raise TypeError(f"instruction must be str or None, got {type(v).__name__}")
        return str(v)

    @staticmethod
    def _check_choice(name: str, v: Any, allowed: Sequence[str]) -> str:
        if v not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {v!r}")
        return v

    def _score(
        self,
        queries: List[str],
        docs: List[str],
        *,
        batch_size: Optional[int],
        max_length: Optional[int],
        normalize: bool,
        show_progress_bar: Optional[bool],
        long_doc: Optional[str],
        truncation: Optional[str] = None,
        instruction: Optional[str] = None,
        desc: str = "crossrank",
    ) -> np.ndarray:
        bs = self.batch_size if batch_size is None else _check_positive("batch_size", batch_size)
        ml = self.max_length if max_length is None else self._check_max_length(max_length)
        ld = self.long_doc if long_doc is None else self._check_choice("long_doc", long_doc, ("truncate", "chunk"))
        tr = self.truncation if truncation is None else self._check_choice(
            "truncation", truncation, ("flagembedding", "longest_first"))
        ins = self.instruction if instruction is None else self._check_instruction(instruction)
        n = len(queries)
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        chunk = max(_CHUNK_MIN, 16 * bs)
        bar = _progress(n, show_progress_bar, chunk, desc)
        if isinstance(bar, _NoBar):
            chunk = n  # one engine call: best length sorting and batching
        out = np.empty(n, dtype=np.float64)
        try:
            for start in range(0, n, chunk):
                end = min(n, start + chunk)
                try:
                    out[start:end] = self._engine.score(
                        queries[start:end], docs[start:end], max_length=ml, truncation=tr, batch_size=bs,
                        normalize=bool(normalize), long_doc=ld, chunk_overlap=self.chunk_overlap,
                        max_chunks=self.max_chunks, instruction=ins)
                except TypeError:
                    _raise_unencodable(queries, docs, start, end)
                    raise
                bar.update(end - start)
        finally:
            bar.close()
        return out

    # ------------------------------------------------------------------ FlagEmbedding API

    def compute_score(
        self,
        sentence_pairs: Any,
        batch_size: Optional[int] = None,
        max_length: Optional[int] = None,
        normalize: Optional[bool] = None,
        show_progress_bar: Optional[bool] = None,
        long_doc: Optional[str] = None,
        *,
        query_max_length: Optional[int] = None,
        instruction: Optional[str] = None,
    ) -> List[float]:
        """FlagReranker.compute_score: raw logits (sigmoid if normalize) as a list of floats.
        One pair [q, d] gives a one-element list. long_doc="chunk" scores long documents as
        the max over overlapping windows. Defaults come from the constructor."""
        queries, docs, _ = _split_pairs(sentence_pairs, "compute_score")
        ml = self.max_length if max_length is None else max_length
        if query_max_length is not None and query_max_length != ml * 3 // 4:
            raise ValueError(f"query_max_length must be max_length*3//4 ({ml * 3 // 4}); other caps are not supported")
        scores = self._score(queries, docs, batch_size=batch_size, max_length=max_length,
                             normalize=self.normalize if normalize is None else normalize,
                             show_progress_bar=show_progress_bar, long_doc=long_doc, instruction=instruction,
                             desc="Compute Scores")
        return scores.tolist()

    # ------------------------------------------------------------------ sentence-transformers API

    def predict(
        self,
        sentences: Any,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        activation_fn: Any = None,
        apply_softmax: bool = False,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        *,
        apply_sigmoid: Optional[bool] = None,
        max_length: Optional[int] = None,
        long_doc: Optional[str] = None,
        instruction: Optional[str] = None,
    ):
        """CrossEncoder.predict: a float32 numpy array of scores (a scalar for one pair).

        The activation is activation_fn if given, else the model's default: the one saved by
        sentence-transformers in config.json (ms-marco-MiniLM-L-6-v2: Identity = raw logits),
        else sigmoid (num_labels == 1), as CrossEncoder does. apply_sigmoid=True/False
        overrides both (sigmoid / raw logits). apply_softmax has no effect with one label."""
        queries, docs, single = _split_pairs(sentences, "predict")
        if apply_sigmoid is not None:
            act = _sigmoid if apply_sigmoid else _identity
        elif activation_fn is not None:
            act = _resolve_activation(activation_fn)
        else:
            act = self.default_activation_function
        logits = self._score(queries, docs, batch_size=batch_size, max_length=max_length, normalize=False,
                             show_progress_bar=show_progress_bar, long_doc=long_doc, instruction=instruction,
                             desc="Batches")
        scores = np.asarray(act(logits), dtype=np.float32) if len(logits) else np.zeros(0, dtype=np.float32)
        if scores.shape != (len(logits),):  # one score per pair, or the ranking is wrong
            raise ValueError(f"predict: activation_fn returned shape {scores.shape} for {len(logits)} logits; "
                             "it must return one score per logit")
        if convert_to_tensor:
            import torch  # optional; only for convert_to_tensor=True

            out = torch.from_numpy(scores)
            return out[0] if single else out
        if not convert_to_numpy:
            values = [float(x) for x in scores]
            return values[0] if single else values
        return scores[0] if single else scores

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: Optional[int] = None,
        return_documents: bool = False,
        batch_size: int = 32,
        show_progress_bar: Optional[bool] = None,
        activation_fn: Any = None,
        apply_softmax: bool = False,
        convert_to_numpy: bool = True,
        *,
        apply_sigmoid: Optional[bool] = None,
        max_length: Optional[int] = None,
        long_doc: Optional[str] = None,
        instruction: Optional[str] = None,
    ) -> List[dict]:
        """CrossEncoder.rank: [{"corpus_id", "score"[, "text"]}] sorted by score, highest
        first (stable: equal scores keep document order), cut to top_k."""
        if not _is_text(query):
            raise TypeError(f"rank: query must be str, got {type(query).__name__}")
        if _is_text(documents) or isinstance(documents, (bytes, dict, set, frozenset)):
            raise TypeError(f"rank: documents must be a list of str, got a {type(documents).__name__}")
        documents = list(documents)
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0):
            raise ValueError(f"top_k must be None or a non-negative integer, got {top_k!r}")
        if not documents:
            return []
        scores = self.predict([[query, d] for d in documents], batch_size=batch_size,
                              show_progress_bar=show_progress_bar, activation_fn=activation_fn,
                              apply_softmax=apply_softmax, apply_sigmoid=apply_sigmoid, max_length=max_length,
                              long_doc=long_doc, instruction=instruction)
        scores = np.atleast_1d(scores)
        results = []
        for i, s in enumerate(scores.tolist()):
            r = {"corpus_id": i, "score": float(s)}
            if return_documents:
                r["text"] = documents[i]
            results.append(r)
        results.sort(key=lambda r: r["score"], reverse=True)
        return results if top_k is None else results[:top_k]

    # ------------------------------------------------------------------ low level

    def encode(self, query: str, document: str, max_length: Optional[int] = None,
               truncation: Optional[str] = None, instruction: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Token ids and token type ids (int32 arrays) of one pair, with special tokens."""
        if not _is_text(query) or not _is_text(document):
            raise TypeError("encode: query and document must be str")
        ml = self.max_length if max_length is None else self._check_max_length(max_length)
        tr = self.truncation if truncation is None else self._check_choice(
            "truncation", truncation, ("flagembedding", "longest_first"))
        ins = self.instruction if instruction is None else self._check_instruction(instruction)
        return self._engine.encode(str(query), str(document), ml, tr, ins)

    def forward(self, sequences: Iterable[Tuple[Sequence[int], Sequence[int]]]) -> np.ndarray:
        """Raw float32 logits of already-encoded (ids, type_ids) sequences, one forward pass."""
        seqs = [(np.asarray(i, dtype=np.int32).tolist(), np.asarray(t, dtype=np.int32).tolist()) for i, t in sequences]
        return self._engine.forward(seqs)


# --------------------------------------------------------------------------- look-alikes

_IGNORED_FLAG_KWARGS = {"trust_remote_code", "devices", "device"}
_HUB_KWARGS = ("revision", "cache_dir", "token", "local_files_only")


class FlagReranker(Reranker):
    """FlagEmbedding's FlagReranker on crossrank: `compute_score` returns the same list.

    use_fp16 picks fp16 only on a GPU (FlagEmbedding turns it off on CPU too); pass
    dtype="bf16"/"int8" for reduced precision on CPU. query_max_length must be left at its
    default (max_length*3//4). Instructions/prompts are not supported."""

    def __init__(
        self,
        model_name_or_path: Union[str, os.PathLike],
        use_fp16: bool = False,
        query_max_length: Optional[int] = None,
        max_length: int = 512,
        batch_size: int = 128,
        normalize: bool = False,
        devices: Any = None,
        *,
        dtype: Optional[str] = None,
        threads: Optional[int] = None,
        backend: str = "auto",
        truncation: str = "flagembedding",
        long_doc: str = "truncate",
        deterministic: bool = False,
        **kwargs: Any,
    ) -> None:
        hub = {k: kwargs.pop(k) for k in _HUB_KWARGS if k in kwargs}
        for k, v in kwargs.items():
            if k in _IGNORED_FLAG_KWARGS:
                continue
            if k.endswith(("instruction_for_rerank", "instruction_format")) and not v:
                continue
            raise TypeError(f"FlagReranker: unsupported argument {k!r}")
        if query_max_length is not None and query_max_length != max_length * 3 // 4:
            raise ValueError("query_max_length must be max_length*3//4; other caps are not supported")
        devs = [devices] if isinstance(devices, str) else list(devices or [])
        if backend == "auto" and devs and all(str(d).startswith("cpu") for d in devs):
            backend = "cpu"
        wants_gpu = backend == "cuda" or any(str(d).startswith("cuda") for d in devs)
        if dtype is None:
            dtype = "fp16" if use_fp16 and wants_gpu else "fp32"
        super().__init__(model_name_or_path, dtype=dtype, max_length=max_length, threads=threads, backend=backend,
                         truncation=truncation, normalize=normalize, batch_size=batch_size, long_doc=long_doc,
                         deterministic=deterministic, **hub)


_ST_BACKENDS = {"torch", "onnx", "openvino"}


class CrossEncoder(Reranker):
    """sentence-transformers' CrossEncoder on crossrank: `predict` and `rank` behave alike.

    Defaults follow CrossEncoder: truncation "longest_first", max_length = the tokenizer's
    model_max_length capped by the position table, activation = the saved one or sigmoid.
    device "cpu"/"cuda" selects the backend; backend "torch"/"onnx"/"openvino" mean "auto"."""

    def __init__(
        self,
        model_name_or_path: Union[str, os.PathLike],
        num_labels: Optional[int] = None,
        max_length: Optional[int] = None,
        activation_fn: Any = None,
        device: Optional[str] = None,
        *,
        dtype: str = "fp32",
        threads: Optional[int] = None,
        backend: str = "auto",
        truncation: str = "longest_first",
        long_doc: str = "truncate",
        deterministic: bool = False,
        **kwargs: Any,
    ) -> None:
        ignored = {"trust_remote_code", "model_kwargs", "tokenizer_kwargs", "config_kwargs", "model_card_data"}
        hub = {k: kwargs.pop(k) for k in ("revision", "local_files_only", "token") if k in kwargs}
        if "cache_folder" in kwargs:
            hub["cache_dir"] = kwargs.pop("cache_folder")
        for k in kwargs:
            if k not in ignored:
                raise TypeError(f"CrossEncoder: unsupported argument {k!r}")
        if num_labels not in (None, 1):
            raise ValueError("crossrank supports single-logit rerankers only (num_labels=1)")
        if backend in _ST_BACKENDS:
            backend = "auto"
        if device is not None and backend == "auto":
            backend = "cuda" if str(device).startswith("cuda") else "cpu"
        path = os.fspath(model_name_or_path)
        # Open with a safe length first, then apply CrossEncoder's default max_length.
        super().__init__(path, dtype=dtype, max_length=8, threads=threads, backend=backend, truncation=truncation,
                         long_doc=long_doc, activation_fn=activation_fn, deterministic=deterministic, **hub)
        if max_length is None:
            tok = _tokenizer_max_length(self.model_dir)
            max_length = min(tok, self.info["max_length"]) if tok else self.info["max_length"]
        self.max_length = self._check_max_length(max_length)

    @property
    def config(self) -> dict:
        return dict(self.info)
