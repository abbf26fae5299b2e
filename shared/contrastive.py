"""Retrieval tuning: a bi-encoder with in-batch negatives, and a cross-encoder on labelled pairs.

``train_biencoder`` tunes a sentence-transformer on (query, positive passage) pairs with the
multiple-negatives ranking loss: in a batch of B pairs, each query must pick its own passage
out of the B passages. It reports recall@1 and MRR on a held-out slice of the pairs, before
and after, and registers kind ``biencoder`` (load it with ``Embedder(name)``).

``train_cross_encoder`` fine-tunes a pair classifier (query, passage) -> relevant or not with
the core's classifier recipe and registers kind ``cross_encoder``; its score is
``load_classifier(name).predict_proba(queries, pairs=passages)[:, 1]``.

Example::

    train_biencoder([("card declined", "Why was my card declined? ..."), ...], "faq-retriever")
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .data import LabelledText, fingerprint
from .errors import DataError, VerticalsError
from .evaluate import mrr, recall_at_k
from .export import KEPT_TEXTS
from .finetune import MIN_LENGTH, TrainConfig, check_layers, depth, finetune_classifier
from .models import resolve_model
from .progress import bars_shown
from .registry import Registry, check_name, get_registry
from .settings import get_settings


@dataclass
class BiencoderConfig:
    """The recipe of one bi-encoder run (stored as the card's ``params``)."""

    base: str = "minilm"
    epochs: int = 1
    batch_size: int = 32
    lr: float = 2e-5
    max_length: int = 64
    scale: float = 20.0
    warmup_ratio: float = 0.1
    heldout_fraction: float = 0.1
    seed: int = 42
    layers: int | None = None  # keep only the base's first N layers (a smaller, faster encoder)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise VerticalsError(
                f"--epochs must be >= 1 and --batch-size >= 2 (in-batch negatives), "
                f"got {self.epochs}, {self.batch_size}"
            )
        if self.lr <= 0:
            raise VerticalsError(f"lr must be positive, got {self.lr}")
        if self.max_length < MIN_LENGTH:
            raise VerticalsError(f"--max-length must be at least {MIN_LENGTH} (two tokens mark the text's start "
                                 f"and end), got {self.max_length}")
        if self.layers is not None and self.layers < 1:
            raise VerticalsError(f"--layers {self.layers}: keep at least 1 layer of the base {self.base!r}")
        if not 0 <= self.warmup_ratio < 1:
            raise VerticalsError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0.0 < self.heldout_fraction < 0.5:
            raise VerticalsError(
                f"heldout_fraction must be in (0, 0.5), got {self.heldout_fraction}"
            )


def in_batch_loss(
    queries: torch.Tensor, passages: torch.Tensor, scale: float, same: torch.Tensor | None = None
) -> torch.Tensor:
    """Multiple-negatives ranking loss: cross-entropy of each query over all passages in the
    batch, its own passage (the diagonal) being the target. ``same[i, j]`` marks passages
    identical to passage ``i``; they are masked out as negatives (they are not wrong answers).

    Embeddings are expected L2-normalised, so ``queries @ passages.T`` is cosine similarity.
    """
    scores = scale * queries @ passages.T
    if same is not None:
        off_diagonal = same & ~torch.eye(len(same), dtype=torch.bool, device=same.device)
        scores = scores.masked_fill(off_diagonal, float("-inf"))
    target = torch.arange(len(queries), device=queries.device)
    return torch.nn.functional.cross_entropy(scores, target)


def retrieval_metrics(
    query_emb: np.ndarray, passage_emb: np.ndarray, relevant: list[set[int]]
) -> dict:
    """Recall@1 and MRR@10 of ranking ``passage_emb`` for each query by inner product.

    >>> retrieval_metrics(np.eye(2), np.eye(2), [{0}, {1}])
    {'recall_at_1': 1.0, 'mrr': 1.0}
    """
    scores = query_emb @ passage_emb.T
    ranked = [list(row) for row in np.argsort(-scores, axis=1, kind="stable")[:, :10]]
    return {"recall_at_1": recall_at_k(ranked, relevant, 1), "mrr": mrr(ranked, relevant, 10)}


MIN_PAIRS = 4  # the fewest (query, positive) pairs a bi-encoder is tuned on


def _check_pairs(pairs: Sequence[tuple[str, str]], source: str | Path = "pairs") -> list[tuple[str, str]]:
    clean = []
    for row, pair in enumerate(pairs, start=1):
        if len(pair) != 2 or not str(pair[0]).strip() or not str(pair[1]).strip():
            raise DataError(source, row, "needs a non-empty query and positive passage",
                            "fill both cells or drop the row")
        clean.append((str(pair[0]), str(pair[1])))
    if len(clean) < MIN_PAIRS:
        raise DataError(source, None, f"has {len(clean)} pairs, need at least {MIN_PAIRS}",
                        "add (query, positive) rows")
    return clean


def _split(pairs: list[tuple[str, str]], cfg: BiencoderConfig) -> tuple[list, list]:
    shuffled = list(pairs)
    random.Random(cfg.seed).shuffle(shuffled)
    n_held = max(2, round(len(shuffled) * cfg.heldout_fraction))
    return shuffled[n_held:], shuffled[:n_held]


def evaluate_biencoder(model, pairs: list[tuple[str, str]]) -> dict:
    """Rank the distinct passages of ``pairs`` for each query; a query's relevant passages are
    every passage paired with it (so duplicate passages count once)."""
    passages = sorted({p for _, p in pairs})
    position = {p: i for i, p in enumerate(passages)}
    relevant: dict[str, set[int]] = {}
    for q, p in pairs:
        relevant.setdefault(q, set()).add(position[p])
    queries = list(relevant)
    q_emb = model.encode(queries, normalize_embeddings=True, convert_to_numpy=True)
    p_emb = model.encode(passages, normalize_embeddings=True, convert_to_numpy=True)
    metrics = retrieval_metrics(q_emb, p_emb, [relevant[q] for q in queries])
    return {k: round(v, 4) for k, v in metrics.items()}


def _embed(model, texts: list[str], device: str) -> torch.Tensor:
    # subtle: sentence-transformers 6 puts non-tensor entries (e.g. "modality") in features
    features = {
        k: v.to(device) if isinstance(v, torch.Tensor) else v
        for k, v in model.preprocess(texts).items()
    }
    emb = model(features)["sentence_embedding"]
    return torch.nn.functional.normalize(emb, dim=-1)


def _load_base(cfg: BiencoderConfig, device: str):
    """A fresh sentence-transformer of ``cfg.base`` (not the cached one others share), cut to
    ``cfg.layers`` layers when given."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(resolve_model(cfg.base)), device=device, config_kwargs=depth(cfg.layers))
    model.max_seq_length = cfg.max_length
    return model


def _fit_biencoder(model, pairs: list[tuple[str, str]], cfg: BiencoderConfig, device: str) -> None:
    from transformers import get_linear_schedule_with_warmup

    rng = random.Random(cfg.seed)
    n_batches = -(-len(pairs) // cfg.batch_size)
    total = n_batches * cfg.epochs
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(optim, int(cfg.warmup_ratio * total), total)
    with tqdm(total=total, desc="bi-encoder tuning", unit="batch", disable=not bars_shown()) as bar:
        for _ in range(cfg.epochs):
            order = rng.sample(pairs, len(pairs))
            for start in range(0, len(order), cfg.batch_size):
                batch = order[start : start + cfg.batch_size]
                if len(batch) < 2:  # a lone pair has no negatives to learn from
                    continue
                model.train()
                passages = [p for _, p in batch]
                same = torch.tensor([[a == b for b in passages] for a in passages], device=device)
                loss = in_batch_loss(
                    _embed(model, [q for q, _ in batch], device), _embed(model, passages, device),
                    cfg.scale, same,
                )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optim.step()
                sched.step()
                optim.zero_grad()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()


def train_biencoder(
    pairs: Sequence[tuple[str, str]],
    name: str,
    base: str = "minilm",
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 2e-5,
    registry: Registry | None = None,
    keep_better: bool = False,
    source: str | Path = "pairs",
    promote: bool = True,
    **options: float,
) -> str:
    """Tune ``base`` on (query, positive) ``pairs`` with in-batch negatives; register kind
    ``biencoder`` under ``name`` and return the version. Extra ``options`` are
    :class:`BiencoderConfig` fields (``max_length``, ``scale``, ``heldout_fraction``, ``seed``,
    ``layers``). ``source`` names the pairs in errors (the file they came from). With ``layers=N``
    the model keeps only the base's first N layers; its ``before`` scores are of that cut base.

    With ``keep_better``, a tuning that lowers the held-out MRR is not kept: the version holds
    the base's weights and scores, and its card says so (``kept``, ``warning``, and the tuning's
    scores as ``*_tuned``). With ``promote=False`` the version is saved but does not serve by name
    until promoted (a caller that exports or pairs it with other models first).

    >>> train_biencoder([("lost card", "To report a lost card ..."), ...], "faq")  # doctest: +SKIP
    'v1'
    """
    cfg = BiencoderConfig(base, epochs, batch_size, lr, **options)
    check_name(name)
    (registry or get_registry()).check_kind(name, "biencoder")  # before minutes of training
    check_layers(base, cfg.layers)
    pairs = _check_pairs(pairs, source)
    train, held = _split(pairs, cfg)
    device = get_settings().device
    torch.manual_seed(cfg.seed)
    model = _load_base(cfg, device)
    before = evaluate_biencoder(model, held)
    _fit_biencoder(model, train, cfg, device)
    after = evaluate_biencoder(model, held)
    metrics = {f"{k}_before": v for k, v in before.items()}
    metrics |= {f"{k}_after": v for k, v in after.items()}
    metrics |= {"n_train_pairs": len(train), "n_heldout_pairs": len(held)}
    card = {
        "kind": "biencoder", "base": base, "data_fingerprint": fingerprint(pairs),
        "params": asdict(cfg), "metrics": metrics, "labels": [], "kept": "tuned",
    }
    if keep_better and held and after["mrr"] < before["mrr"]:
        model = _load_base(cfg, device)
        _keep_base(card, before, after)
        print(f"{name}: {card['warning']}", file=sys.stderr)

    def write(out: Path) -> None:
        model.save(str(out))
        # the held-out pairs stay with the version: `models export` checks agreement on them
        frame = pd.DataFrame(held, columns=["query", "positive"])
        (out / KEPT_TEXTS["biencoder"][0]).write_text(frame.to_csv(index=False), encoding="utf-8")

    return (registry or get_registry()).save(name, write, card, promote=promote)


def _keep_base(card: dict, before: dict, after: dict) -> None:
    """``card`` for a version that keeps the base's weights because tuning lowered the held-out
    MRR: its scores are the weights it holds; the rejected tuning's stay beside them."""
    card["metrics"] |= {f"{k}_tuned": v for k, v in after.items()} | {f"{k}_after": v for k, v in before.items()}
    card["kept"] = "base"
    card["warning"] = (f"tuning lowered the held-out MRR ({before['mrr']:.3f} -> {after['mrr']:.3f}): "
                       f"this version keeps the base model's weights")


_BINARY = {"1": "1", "1.0": "1", "true": "1", "0": "0", "0.0": "0", "false": "0"}


def _pair_rows(
    queries: Sequence[str], passages: Sequence[str], labels: Sequence[int | str | bool]
) -> list[tuple[str, str, str]]:
    if not len(queries) == len(passages) == len(labels):
        sizes = f"({len(queries)}, {len(passages)}, {len(labels)})"
        raise DataError("pairs", None, f"queries, passages and labels differ in length {sizes}",
                        "give one label per pair")
    rows = []
    for row, (q, p, y) in enumerate(zip(queries, passages, labels, strict=True), start=1):
        label = _BINARY.get(str(y).strip().lower())
        if label is None:
            raise DataError("pairs", row, f"label must be 0 or 1, got {y!r}",
                            "use 1 for relevant, 0 for not relevant")
        rows.append((str(q), str(p), label))
    if len({y for _, _, y in rows}) < 2:
        raise DataError("pairs", None, "has only one label",
                        "add both relevant (1) and irrelevant (0) pairs")
    return rows


def train_cross_encoder(
    queries: Sequence[str],
    passages: Sequence[str],
    labels: Sequence[int | str | bool],
    name: str,
    base: str = "minilm",
    epochs: int = 1,
    test_fraction: float = 0.2,
    promote: bool = True,
    **options: object,
) -> str:
    """Fine-tune a (query, passage) -> {0, 1} classifier with the core recipe and register it
    as kind ``cross_encoder``; metrics are on a held-out ``test_fraction`` of the pairs.
    Extra ``options`` are :class:`TrainConfig` fields; ``promote`` as in :func:`train_biencoder`.

    >>> train_cross_encoder(["lost card"] * 2, ["yes", "no"], [1, 0], "c")  # doctest: +SKIP
    'v1'
    """
    rows = _pair_rows(queries, passages, labels)
    random.Random(42).shuffle(rows)
    n_test = round(len(rows) * test_fraction) if len(rows) >= 10 else 0
    test, train = rows[:n_test], rows[n_test:]
    # subtle: a cross-encoder must judge the *pair*. Mean pooling with a warmed-up linear head
    # learns faster but can score the passage alone when positives are never negatives (a
    # gift-card question reranked below refund answers), so it is opt-in for callers whose data
    # rules that out.
    options = {"pooling": "cls", "head_warmup": False, **options}
    config = TrainConfig(base=base, epochs=epochs, **options)
    result = finetune_classifier(
        [LabelledText(q, y) for q, _, y in train],
        [LabelledText(q, y) for q, _, y in test] or None,
        config, name, kind="cross_encoder",
        train_pairs=[p for _, p, _ in train], test_pairs=[p for _, p, _ in test] or None,
        promote=promote,
    )
    return result.version


def load_pairs(path: str | Path) -> list[tuple[str, str]]:
    """Read a ``query,positive`` table (CSV/JSONL/Parquet) into :func:`train_biencoder` pairs."""
    from .data import read_table

    frame = read_table(path, ["query", "positive"])
    return list(zip(frame["query"], frame["positive"], strict=True))
