"""The recommender's demo: small models trained once on the bundled data (prefix ``demo``, so
``recommend demo`` never replaces what ``recommend train`` registered), and every demo user's
top-k scored once."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from shared import file_digest, fingerprint

from .jobs import score_unless_current
from .scoring import TextConfig
from .service import DEMO_PREFIX, RecommenderService
from .training import TrainConfig


def demo_config() -> TrainConfig:
    """Small enough to train in about a minute on 2 cores.

    subtle: the ranker learns from every user's lists (about 3,000 rows) though the text models
    tune on 800 pairs. On 800 rows (16 users, about 15 taken items) it gave the text scores no
    weight; on all of them the bi-encoder's cosine weighs 0.32 and the one-way cross-encoder 0.23.
    """
    return TrainConfig(prefix=DEMO_PREFIX, text=TextConfig(
        bi_max_length=64, cross_max_length=96, max_pairs=800, max_cross=800))


def trained_as(card: dict, data: str, config: TrainConfig) -> bool:
    """Whether a ranker card says it was trained on ``data`` (a fingerprint) with ``config``.

    subtle: a home from before a change of the demo's recipe kept its old models; the recipe is
    compared as a fingerprint (read back from JSON, its tuples are lists)."""
    return card.get("data_fingerprint") == data and \
        fingerprint(card.get("params", {}).get("recipe")) == fingerprint(asdict(config))


def demo_setup(items: Path, interactions: Path, force: bool = False, top_k: int = 10) -> dict:
    """Train the demo models (prefix ``demo``) unless the registry already holds them for these
    files; then score every user's top-k into ``<home>/recommender/demo_scores.parquet``.

    subtle: the demo keeps its own prefix; sharing ``rec`` with ``recommend train``, it saw your
    data's fingerprint, retrained on the demo and made that current for ``recommend score``.
    """
    from shared import get_settings

    service = RecommenderService(items, interactions, DEMO_PREFIX)
    digest = fingerprint([file_digest(items), file_digest(interactions)])
    config = demo_config()
    fresh = service.is_trained() and trained_as(service.ranker_card(), digest, config)
    if force or not fresh:
        service.train(config)
    out = get_settings().home / "recommender" / "demo_scores.parquet"
    # subtle: scoring the demo's users again took ~60 s of every `make demo`
    rows, _ = score_unless_current(service, out, top_k)
    card = service.ranker_card()
    return {"trained": force or not fresh, "prefix": DEMO_PREFIX, "ranker": card["version"],
            "scores": str(out), "rows": rows} | ({"warning": card["warning"]} if "warning" in card
                                                 else {})
