"""Sentence embeddings for retrieval and scoring: one ``Embedder`` used by every app."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

from .backends import BySize, OnnxBackend, TorchBackend, best_backend
from .classifier import length_order
from .models import load_sentence_model, resolve_model
from .progress import bars_shown
from .settings import get_settings

PROGRESS_FROM = 500  # texts (50-word passages: ~4 s on 2 cores): a longer encode shows a progress bar


class TextEmbedder(Protocol):
    """What retrieval code needs: texts in, L2-normalised float32 rows out."""

    dim: int

    def encode(self, texts: str | list[str], batch_size: int = 64) -> np.ndarray: ...


class Embedder:
    """L2-normalised sentence embeddings from a base model or a registered bi-encoder.

    Cheap to construct; weights load on first ``encode``. Serves the fastest exported form that
    agreed (``verticals models export NAME --embedder``: ONNX, int8 or bf16), else
    sentence-transformers.

    >>> Embedder("minilm").encode(["refund my order"]).shape
    (1, 384)
    """

    def __init__(self, name: str | Path = "minilm", lossless: bool = False) -> None:
        self.name = str(name)
        self.path = resolve_model(name)
        self.lossless = lossless  # no int8: a text's vector must not depend on its batch
        self._fast: OnnxBackend | TorchBackend | BySize | None = None
        self._model = None
        self._tokenizer = None

    @property
    def dim(self) -> int:
        config = json.loads((self.path / "config.json").read_text())
        return int(config["hidden_size"])

    @cached_property
    def max_length(self) -> int:
        """The tokens a text is cut to, as sentence-transformers reads them: ``max_seq_length`` in
        ``sentence_bert_config.json`` (the base package), else the tokenizer's ``model_max_length``.

        subtle: sentence-transformers 6 saves a tuned bi-encoder's length only in the tokenizer
        config; reading the first file alone, the ONNX form cut tuned models' texts at 256 tokens
        while they trained (and torch served them) at 96 or 128."""
        config = self.path / "sentence_bert_config.json"
        length = json.loads(config.read_text()).get("max_seq_length") if config.exists() else None
        tokenizer = self.path / "tokenizer_config.json"
        if length is None and tokenizer.exists():
            length = json.loads(tokenizer.read_text()).get("model_max_length")
        limit = json.loads((self.path / "config.json").read_text()).get("max_position_embeddings", 512)
        return int(min(length or 256, limit))

    @property
    def backend_name(self) -> str:
        """The form that serves: ``"model.onnx"``, ``"model.int8.onnx"``, ``"torch-bf16"`` or
        ``"sentence-transformers"``."""
        self.warm_up()
        return self._fast.name if self._fast is not None else "sentence-transformers"

    def warm_up(self) -> None:
        """Load the fastest available form once (idempotent)."""
        if self._fast is not None or self._model is not None:
            return
        if get_settings().device == "cpu":
            self._fast = best_backend(self.path, self.lossless, embed=True)
        if self._fast is not None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.path)
        else:
            self._model = load_sentence_model(self.path)

    def encode(self, texts: str | list[str], batch_size: int = 64) -> np.ndarray:
        """Embed one text or a list; always returns a 2-D float32 array ``(n, dim)``."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.warm_up()
        if self._model is not None:
            vectors = self._model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=len(texts) >= PROGRESS_FROM and bars_shown(),
            )
            return vectors.astype(np.float32, copy=False)
        order = length_order(texts)
        out = []
        # subtle: no bar object at all for short lists (a disabled one costs 26 us, 0.5% of a
        # support answer)
        with (tqdm(total=len(texts), desc="embedding", unit="text", file=sys.stderr)
              if len(texts) >= PROGRESS_FROM and bars_shown() else nullcontext()) as bar:
            for start in range(0, len(texts), batch_size):
                encoded = self._tokenizer(
                    [texts[i] for i in order[start : start + batch_size]], padding=True, truncation=True,
                    max_length=self.max_length, return_tensors="np",
                )
                out.append(self._fast(dict(encoded)))
                if bar is not None:
                    bar.update(len(out[-1]))
        vectors = np.concatenate(out).astype(np.float32, copy=False)
        restored = np.empty_like(vectors)
        restored[order] = vectors
        return restored


@lru_cache(maxsize=8)
def get_embedder(name: str = "minilm") -> Embedder:
    """A process-wide cached :class:`Embedder` (models load once, not per request)."""
    return Embedder(name)
