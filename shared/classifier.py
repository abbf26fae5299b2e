"""Serving a registered classifier: tokenise, run the fastest available form, return probabilities."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.special import softmax

from .backends import BySize, OnnxBackend, TorchBackend, best_backend, export_dir, load_torch
from .errors import ModelNotFoundError, VerticalsError
from .export import serving_length
from .models import resolve_model
from .one_way import OnnxStages, TorchStages, one_way_logits, serving_stages
from .probe import EmbeddingHead, probe_embedder
from .settings import get_settings


class Classifier:
    """A fine-tuned text (or text-pair) classifier loaded from a directory.

    Cheap to construct; weights load on first use (``warm_up``). Picks the exported int8/ONNX
    form when one passed its agreement check, else torch. A one-way pair model
    (:mod:`shared.one_way`) serves its two stages (ONNX where they agreed), scoring
    ``one_way.PAIRS_PER_BATCH`` pairs at a time whatever ``batch_size`` says.

    Example::

        clf = load_classifier("intents")
        clf.predict("my card was declined")          # -> "card_declined"
        clf.predict_proba(["hi", "bye"]).shape        # -> (2, n_labels)
    """

    def __init__(self, path: str | Path, batch_size: int = 64, lossless: bool = False,
                 threads: int | None = None) -> None:
        self.path = Path(path)
        self.lossless = lossless  # no int8: an input's output must not depend on its batch
        self.threads = threads  # an onnxruntime form's intra-op threads (None: one per core)
        card_path = self.path / "card.json"
        if not (self.path / "config.json").exists():
            raise ModelNotFoundError(f"{self.path} holds no model (no config.json)")
        self.card: dict = json.loads(card_path.read_text()) if card_path.exists() else {}
        # a one-way pair model (shared.one_way) encodes each distinct first text once: it
        # serves through its own two stages (torch, or their ONNX export), never the whole pair
        self.one_way = bool(json.loads((self.path / "config.json").read_text()).get("one_way"))
        self.batch_size = batch_size
        self.max_length = serving_length(self.path)
        self._tokenizer = None
        self._backend: OnnxBackend | TorchBackend | BySize | TorchStages | OnnxStages | None = None
        self._labels: list[str] | None = self.card.get("labels")
        self.head = EmbeddingHead.load(self.path)  # a linear probe averaged in (shared.probe)
        self._head_embedder = None

    @property
    def labels(self) -> list[str]:
        if self._labels is None:
            config = json.loads((self.path / "config.json").read_text())
            id2label = config.get("id2label", {})
            self._labels = [id2label[str(i)] for i in range(len(id2label))]
        return self._labels

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.path)
        return self._tokenizer

    @property
    def backend_name(self) -> str:
        self.warm_up()
        return self._backend.name

    def warm_up(self) -> None:
        """Load the tokenizer and the fastest form of the model (idempotent)."""
        if self._backend is not None:
            return
        _ = self.tokenizer
        if self.one_way:
            self._backend = serving_stages(self.path, self.torch_model, get_settings().device, self.threads)
            return
        backend = best_backend(self.path, self.lossless, self.threads) if get_settings().device == "cpu" else None
        self._backend = backend or TorchBackend(self.torch_model(), get_settings().device)

    def torch_model(self):
        """The torch model itself (for explanations and further training)."""
        return load_torch(self.path, embed=False)

    def logits(self, texts: str | list[str], pairs: str | list[str] | None = None) -> np.ndarray:
        texts = [texts] if isinstance(texts, str) else list(texts)
        if isinstance(pairs, str):
            pairs = [pairs]
        if pairs is not None and len(pairs) != len(texts):
            raise ValueError(f"pairs must match texts in length: {len(pairs)} vs {len(texts)}")
        self.warm_up()
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if self.one_way:
            if pairs is None:
                raise VerticalsError(f"{self.path.name} is a one-way pair model: it scores (text, "
                                     "pair) inputs; pass the pair too (`models explain --pair`)")
            return one_way_logits(self._backend, self.tokenizer, texts, pairs, self.max_length)
        # subtle: batching texts of similar length cuts padding, the main CPU cost on short texts
        order = length_order(texts, pairs)
        out = []
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            encoded = self.tokenizer(
                [texts[i] for i in idx], [pairs[i] for i in idx] if pairs is not None else None,
                padding=True, truncation=True, max_length=self.max_length, return_tensors="np",
            )
            out.append(self._backend(dict(encoded)))
        logits = np.concatenate(out)
        restored = np.empty_like(logits)
        restored[order] = logits
        return restored

    def model_proba(
        self, texts: str | list[str], pairs: str | list[str] | None = None
    ) -> np.ndarray:
        """The fine-tuned model's own probabilities, without its probe (see :meth:`predict_proba`)."""
        return softmax(self.logits(texts, pairs), axis=1)

    def predict_proba(
        self, texts: str | list[str], pairs: str | list[str] | None = None,
        vectors: np.ndarray | None = None,
    ) -> np.ndarray:
        """Class probabilities, shape ``(n, len(labels))`` (a single text gives ``n = 1``): the
        model's own, averaged with its probe's where it has one (:meth:`with_probe`)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return self.with_probe(self.model_proba(texts, pairs), texts, vectors)

    def with_probe(self, probs: np.ndarray, texts: list[str],
                   vectors: np.ndarray | None = None) -> np.ndarray:
        """``probs`` (from :meth:`model_proba`) averaged with the probe's on the texts' vectors:
        ``vectors`` when given (they must come from the probe's ``embedder``), else its embedder
        encodes the texts. ``probs`` as they are for a model without a probe."""
        if self.head is None or not len(texts):
            return probs
        if vectors is None:
            if self._head_embedder is None:  # a pinned version lies in this model's registry
                self._head_embedder = probe_embedder(self.head.embedder, self.path.parents[1])
            vectors = self._head_embedder.encode(texts)
        return self.head.average(probs, vectors)

    def predict(self, texts: str | list[str]) -> str | list[str]:
        """The most likely label: one string for one text, a list for a list."""
        labels = [self.labels[i] for i in self.predict_proba(texts).argmax(1)]
        return labels[0] if isinstance(texts, str) else labels


def length_order(texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
    """Indices that sort inputs by character length: ``["abc", "a"] -> [1, 0]``."""
    lengths = [len(t) + (len(pairs[i]) if pairs is not None else 0) for i, t in enumerate(texts)]
    return np.argsort(lengths, kind="stable")


@lru_cache(maxsize=16)
def _cached(path: str, export_stamp: int, lossless: bool, threads: int | None) -> Classifier:
    return Classifier(path, lossless=lossless, threads=threads)


def load_classifier(name_or_path: str | Path, version: str | None = None,
                    lossless: bool = False, threads: int | None = None) -> Classifier:
    """A cached :class:`Classifier` for a registry name (current or given version) or a directory.
    ``lossless`` never serves int8 (see :func:`shared.backends.best_backend`); ``threads`` caps
    its onnxruntime sessions' intra-op threads, for a caller that runs it beside other work.

    An export made after the first load is picked up on the next call (the cache key includes
    the export report's time)."""
    if version is not None:
        from .registry import get_registry

        path = get_registry().path(str(name_or_path), version)
    else:
        path = resolve_model(name_or_path)
    report = export_dir(Path(path)) / "report.json"
    return _cached(str(path), report.stat().st_mtime_ns if report.exists() else 0, lossless, threads)
