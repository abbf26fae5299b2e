"""Text scoring: a bi-encoder for fast candidate scoring, a cross-encoder for P(interest).

Both read the same two texts: a user's profile (:mod:`.profiles`) and an item's text. The
bi-encoder embeds them apart, so every item is encoded once and a user is scored against the
whole catalogue with one matrix product (or a FAISS search); the cross-encoder reads each
(profile, item) pair together and is slower but sharper, so it rescores the short list.
A new item is scored from its text alone: nothing needs retraining.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shared import (
    Embedder,
    VectorIndex,
    fingerprint,
    get_registry,
    load_classifier,
    train_biencoder,
    train_cross_encoder,
)
from shared.contrastive import MIN_PAIRS
from shared.errors import VerticalsError

from .profiles import Example, ctr_profile
from .tallrec import CtrExample

MAX_SEARCH_K = 2048  # the largest k GPU FAISS answers
CATALOGUES_KEPT = 4  # item-vector files kept on disk (TextScorer.embed_catalogue)
log = logging.getLogger(__name__)


@dataclass
class TextConfig:
    """How the two text models are tuned (kept small: 2 CPU cores are the yardstick)."""

    base: str = "minilm"
    epochs: int = 1
    bi_max_length: int = 128
    cross_max_length: int = 128
    batch_size: int = 16
    max_pairs: int | None = 3000
    max_cross: int | None = 3000
    random_negatives: int = 1
    # subtle: the cross-encoder reads the profile alone and each item against it ("one-way",
    # shared.one_way), so a batch job encodes a profile once for all its candidates; "both"
    # reads each whole pair. On a MovieLens batch job one-way scored 155 pairs/s against 27.5
    # (6 layers each), and 350-535 with the base's first 2 layers (None: all); its held-out AUC
    # was 0.78 against 0.64; nDCG@10 on 100 users moved within one hit (apps/recommender/README.md)
    cross_layers: int | None = 2
    cross_attention: str = "one-way"
    export: bool = True  # ONNX forms of both models (served where they agreed with torch)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise VerticalsError(f"--epochs must be at least 1, got {self.epochs}")
        # subtle: 0 reached the core, which said "pairs: has 0 pairs, need at least 4 — add
        # (query, positive) rows": neither the option nor a file the user has
        if self.max_pairs is not None and self.max_pairs < MIN_PAIRS:
            raise VerticalsError(f"--max-pairs must be at least {MIN_PAIRS} (the fewest pairs a text model is "
                                 f"tuned on), got {self.max_pairs}")
        if self.random_negatives < 0:
            raise VerticalsError(f"random_negatives must be >= 0, got {self.random_negatives}")
        if self.cross_attention not in ("both", "one-way"):
            raise VerticalsError(f"--cross-attention must be 'both' or 'one-way', got {self.cross_attention!r}")


@dataclass
class TextScorer:
    """Lazily loaded text models: ``TextScorer("rec-biencoder", "rec-interest")``.

    ``biencoder`` and ``cross_encoder`` are registry names, ``name@version`` or directories.
    """

    biencoder: str | Path = "minilm"
    cross_encoder: str | Path | None = None
    _embedder: Embedder | None = field(default=None, init=False, repr=False)
    _classifier: object = field(default=None, init=False, repr=False)

    def warm_up(self) -> None:
        """Load both models now; otherwise each loads when first used (a ranker that gives the
        cross-encoder no weight never loads it)."""
        self._load_embedder()
        self._load_classifier()

    # subtle: lossless forms only (fp32 ONNX or torch): with int8 a pair's score depended on
    # the pairs batched with it, so scores and ranks changed with the chunk size
    def _load_embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.biencoder, lossless=True)
        return self._embedder

    def _load_classifier(self) -> object:
        if self.cross_encoder and self._classifier is None:
            self._classifier = load_classifier(self.cross_encoder, lossless=True)
        return self._classifier

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        embedder = self._load_embedder()
        if not len(texts):
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return embedder.encode(list(texts), batch_size=64)

    def embed_catalogue(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`embed` for the item texts, kept on disk (``<home>/cache/item-vectors/``) under
        the bi-encoder's identity and the texts themselves: a new process over the same
        catalogue and model reads them back; a changed text or model makes a new entry. The
        :data:`CATALOGUES_KEPT` newest entries are kept.

        subtle: embedding MovieLens' 9.7k films took 22 s of every batch job and dashboard start.
        """
        from shared import atomic_write_bytes, get_settings

        texts = list(texts)
        folder = get_settings().home / "cache" / "item-vectors"
        path = folder / f"{fingerprint([model_identity(self._load_embedder().path), texts])}.npy"
        try:
            vectors = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            vectors = None  # missing or unreadable (a disk fault): embed again
        if vectors is not None and vectors.shape == (len(texts), self._embedder.dim) \
                and vectors.dtype == np.float32:
            try:
                os.utime(path)  # newest use: pruned last
            except OSError:
                pass  # a read-only home, or another user's file: read all the same
            return vectors
        vectors = self.embed(texts)
        buffer = io.BytesIO()
        np.save(buffer, vectors, allow_pickle=False)
        try:
            atomic_write_bytes(path, buffer.getvalue())
            for old in sorted(folder.glob("*.npy"), key=lambda p: p.stat().st_mtime_ns)[:-CATALOGUES_KEPT]:
                old.unlink(missing_ok=True)
        except OSError as error:  # a read-only or full home: serve without the cache
            log.warning("item vectors not cached (%s)", error)
        return vectors

    def interest(self, profiles: Sequence[str], item_texts: Sequence[str]) -> np.ndarray:
        """Cross-encoder P(interest) for each (profile, item text) pair."""
        if self._load_classifier() is None:
            raise VerticalsError("no cross-encoder configured: train one with "
                                 "`verticals recommend train`")
        if not len(profiles):
            return np.zeros(0, dtype=np.float32)
        probs = self._classifier.predict_proba(list(profiles), pairs=list(item_texts))
        return probs[:, self._classifier.labels.index("1")].astype(np.float32)


def model_identity(path: Path) -> list[str]:
    """What tells one model's files from another's: the folder, and its card (a registry version,
    which holds its creation time) or its config's modification time (a base model)."""
    card = path / "card.json"
    if card.exists():
        return [str(path.resolve()), card.read_text(encoding="utf-8")]
    return [str(path.resolve()), str((path / "config.json").stat().st_mtime_ns)]


def cosine_scores(user_vecs: np.ndarray, item_vecs: np.ndarray) -> np.ndarray:
    """``(n_users, n_items)`` cosine similarities of L2-normalised rows (one matrix product)."""
    return user_vecs @ item_vecs.T


def build_index(item_ids: Sequence[str], item_vecs: np.ndarray) -> VectorIndex:
    """A FAISS index over the catalogue, for top-k candidate search."""
    index = VectorIndex(item_vecs.shape[1])
    index.add(list(item_ids), item_vecs)
    return index


def search_candidates(index: VectorIndex, user_vecs: np.ndarray, k: int,
                      exclude: Sequence[set[str]]) -> list[list[tuple[str, float]]]:
    """Top-``k`` (item_id, cosine) per user, skipping each user's ``exclude`` set: fewer when
    the nearest ``MAX_SEARCH_K`` items hold too few unseen ones (the other candidate sources,
    co-taken and popular, fill such a heavy user's list)."""
    if k < 1:
        raise VerticalsError(f"--top-k must be greater than 0, got {k}")
    if not len(user_vecs):
        return []
    # subtle: seen items are dropped after the search, so it asks for k more per seen item;
    # GPU FAISS refuses k > 2048, so the request is capped there (on the CPU too, alike)
    wanted = min(len(index), MAX_SEARCH_K, k + max((len(e) for e in exclude), default=0))
    found = index.search(user_vecs, wanted)
    return [[(h.id, float(h.score)) for h in hits if h.id not in seen][:k]
            for hits, seen in zip(found, exclude)]


def train_text_models(examples: list[Example], negatives: list[Example],
                      item_text: dict[str, str], names: tuple[str, str],
                      config: TextConfig) -> tuple[str, str]:
    """Tune the bi-encoder (profile -> next taken item) and the cross-encoder (click labels).

    Returns ``("name@version", "name@version")`` so a ranker can pin the exact models. Neither
    is promoted: the caller promotes them once the ranker that pins them is saved, so a run killed
    in between leaves the models that served before serving.
    """
    from .profiles import sample_examples

    taken = [e for e in examples if e.label == 1]
    if len(taken) < MIN_PAIRS:
        raise VerticalsError(f"only {len(taken)} positive interactions with an earlier "
                             f"history: need at least {MIN_PAIRS} to tune the text models")
    pairs = [(e.profile, item_text[e.item_id]) for e in
             sample_examples(taken, config.max_pairs, config.seed)]
    # subtle: on the demo's 293 pairs tuning lowered held-out MRR 0.317 -> 0.273, and the ranker
    # then gave the tuned bi-encoder's score no weight (validation AUC 0.54; the base's 0.675):
    # keep_better keeps the base's weights there, which the ranker weighs
    bi_version = train_biencoder(pairs, names[0], base=config.base, epochs=config.epochs,
                                 batch_size=config.batch_size, max_length=config.bi_max_length,
                                 seed=config.seed, keep_better=True, promote=False)
    print(f"the bi-encoder: {tuning_note(get_registry().card(names[0], bi_version))}", file=sys.stderr)
    labelled = sample_examples(examples + negatives, config.max_cross, config.seed)
    # subtle: its epoch lines ("epoch 1: loss ...") named no model
    print(f"the cross-encoder: {len(labelled)} (profile, item) pairs, {sum(e.label for e in labelled)} of them taken",
          file=sys.stderr)
    # subtle: the [CLS] head never left "always 0" on click data (MovieLens and the demo: macro-F1
    # 0.40). Mean pooling with a warmed-up head is safe here: items come as positives for some
    # users and as negatives (shown and not taken, or drawn at random) for others.
    cross_version = train_cross_encoder(
        [e.profile for e in labelled], [item_text[e.item_id] for e in labelled],
        [e.label for e in labelled], names[1], base=config.base, epochs=config.epochs,
        max_length=config.cross_max_length, batch_size=config.batch_size, seed=config.seed,
        pooling="mean", head_warmup=True, layers=config.cross_layers,
        pair_attention=config.cross_attention, promote=False,
    )
    bi, cross = f"{names[0]}@{bi_version}", f"{names[1]}@{cross_version}"
    if config.export:
        export_text_models(bi, cross, [(e.profile, item_text[e.item_id]) for e in labelled])
    return bi, cross


def tuning_note(card: dict) -> str:
    """What a bi-encoder's tuning came to, in a line: ``"held-out MRR 0.235 -> 0.246 on 43 pairs:
    the tuned weights serve"``, and what makes those figures say less (:func:`shared.cli.contrastive_notes`).
    Where tuning lost, the card's ``mrr_after`` is the base's (it serves) and ``mrr_tuned`` the loss."""
    from shared.cli import contrastive_notes

    metrics = card.get("metrics", {})
    if "mrr_after" not in metrics:
        return "tuned"
    base = card.get("kept") == "base"
    tuned = metrics.get("mrr_tuned", metrics["mrr_after"]) if base else metrics["mrr_after"]
    kept = "tuning did not help, the base's weights serve" if base else "the tuned weights serve"
    return (f"held-out MRR {metrics['mrr_before']:.3f} -> {tuned:.3f} on {metrics.get('n_heldout_pairs', 0)} "
            f"pairs: {kept}" + "".join(f"; {note}" for note in contrastive_notes(metrics)))


def export_text_models(bi: str, cross: str, pairs: Sequence[tuple[str, str]]) -> dict:
    """ONNX forms of both text models, checked on the real ``(profile, item text)`` pairs they
    serve: the bi-encoder on both sides apart (cosine), the cross-encoder on the pairs (same
    verdict; a one-way one as its two stages, :mod:`shared.one_way`). Serving runs a form where
    it agreed (``shared.backends.best_form``). No int8: its outputs depend on the batch (see
    ``TextScorer.warm_up``). Returns the two export reports."""
    from shared import export_model, resolve_model
    from shared.export import CHECK_TEXTS

    pairs = list(pairs)[:CHECK_TEXTS]
    half = pairs[: CHECK_TEXTS // 2]
    texts = [p for p, _ in half] + [t for _, t in half]
    return {"biencoder": export_model(resolve_model(bi), texts, embed=True, int8=False),
            "interest": export_model(resolve_model(cross), [p for p, _ in pairs],
                                     check_pairs=[t for _, t in pairs], int8=False)}


def train_ctr_scorer(examples: Sequence[CtrExample], name: str, base: str = "minilm",
                     test_fraction: float = 0.0, **options: object) -> str:
    """Fine-tune the interest scorer on TALLRec-style questions (profile "Liked: ... Disliked:
    ...", target title, Yes/No) and register it; returns the version. ``options`` are core
    :class:`shared.TrainConfig` fields (epochs, max_length, batch_size, ...)."""
    if len({e.label for e in examples}) < 2:
        raise VerticalsError("CTR training needs both Yes (1) and No (0) answers")
    options = {"pooling": "mean", "head_warmup": True, **options}
    return train_cross_encoder([ctr_profile(e.liked, e.disliked) for e in examples],
                               [e.target for e in examples], [e.label for e in examples], name,
                               base=base, test_fraction=test_fraction, **options)


def random_negatives(examples: list[Example], item_ids: Sequence[str], per_positive: int,
                     seen: dict[str, set[str]], seed: int = 0) -> list[Example]:
    """For each positive, ``per_positive`` catalogue items the user never saw, label 0."""
    rng = np.random.default_rng(seed)
    pool = list(item_ids)
    out = []
    for e in (e for e in examples if e.label == 1):
        for _ in range(per_positive):
            for _try in range(20):  # subtle: bounded retries; a user may have seen most items
                item = pool[int(rng.integers(len(pool)))]
                if item not in seen.get(e.user_id, set()):
                    out.append(Example(e.user_id, item, e.profile, 0, e.timestamp))
                    break
    return out
