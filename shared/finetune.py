"""Fine-tuning a text classifier: full or LoRA, warmup + linear decay, early stopping,
gradient accumulation, mixed precision on GPU, optional augmentation and FGM adversarial training.

``train_classifier`` prepares the data and the model and trains in memory (the loop is in
:mod:`shared.fit`); ``finetune_classifier`` adds evaluation and registration, and is what the CLI
and the apps call.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .augment import augment_rows
from .data import LabelledText, check_labels_known, fingerprint, same_text, write_labelled
from .errors import DataError, VerticalsError
from .evaluate import classification_metrics, label_order
from .fit import BatchEncoder, TrainedClassifier, fit, predict_logits, warm_head, with_lora
from .models import resolve_model
from .probe import EmbeddingHead, pinned, probe_embedder
from .registry import Registry, check_name, get_registry
from .settings import get_settings

MIN_LENGTH = 3  # tokens: a text's start and end marks, and one of its own
OPTIONS = ("epochs", "batch_size", "max_length", "grad_accum", "patience", "layers")  # `finetune classify`'s


def _option(key: str) -> str:
    """A setting as a user of the CLI names it: ``batch_size`` -> ``--batch-size``."""
    return f"--{key.replace('_', '-')}" if key in OPTIONS else key


@dataclass
class TrainConfig:
    """The recipe for fine-tuning a classifier; stored in the model card as ``params``.

    ``pooling="mean"`` reads the encoder the way sentence-transformers trained it
    (``heads.MeanPoolClassifier``); ``"cls"`` is the stock [CLS]-pooler head; ``"pair"``, for
    (text, pair) classifiers such as rerankers, pools the two sides apart (``pair_pooling``).
    ``lr=None`` picks 8e-5 for a full fine-tune and 1e-3 for LoRA. ``head_warmup`` fits the fresh
    classifier head on the frozen encoder's features before fine-tuning (LP-FT, Kumar et al.
    2022), so the encoder is not pushed around by a random head. ``epochs=None`` runs at least
    3 epochs and at least ``min_steps`` optimizer steps (small sets need more passes); early
    stopping still applies. An explicit ``epochs`` is taken as given. ``layers=N`` keeps only
    the base's first N transformer layers: a smaller model, faster on CPU for MiniLM-L6 (2 of 6
    layers: 2-3.5x measured, less than 6/N since tokenising and the head stay), for
    latency-bound jobs such as a reranker (dropping top layers keeps most of the accuracy:
    Sajjad et al. 2023, "On the effect of dropping layers of pre-trained models").
    ``embedding_head`` fits a linear probe on that embedder's vectors of the training texts and
    serves the average of its probabilities and the model's (:mod:`shared.probe`).
    ``pair_attention="one-way"`` (pairs only, mean pooling) reads the first text alone and the
    second text against it, each cut at ``max_length``: a first text shared by many pairs is
    then encoded once when served (:mod:`shared.one_way`).
    """

    base: str = "minilm"
    epochs: int | None = None
    batch_size: int = 32
    lr: float | None = None
    max_length: int = 64
    warmup_ratio: float = 0.1
    grad_accum: int = 1
    patience: int = 2
    val_fraction: float = 0.1
    lora: bool = False
    lora_r: int = 16
    augment: bool = False
    adversarial: bool = False
    fgm_epsilon: float = 1.0
    # the share of each target spread over all classes: for labels people disagree on
    label_smoothing: float = 0.0
    weight_decay: float = 0.01
    pooling: str = "mean"
    head_warmup: bool = True
    min_steps: int = 150
    layers: int | None = None
    seed: int = 42
    # an embedder (base name or pinned ``name@v3``) to fit a linear probe on, averaged into the
    # served probabilities (shared.probe); it costs that embedder's pass per text
    embedding_head: str | None = None
    pair_attention: str = "both"

    def __post_init__(self) -> None:  # named as the CLI's options where there is one
        for key in ("epochs", "batch_size", "max_length", "grad_accum", "lora_r", "patience",
                    "layers"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise VerticalsError(f"{_option(key)} must be at least 1, got {getattr(self, key)}")
        # [CLS] and [SEP] take 2: at 1 the tokenizer could not cut and read whole texts, at 2 none
        if self.max_length < MIN_LENGTH:
            raise VerticalsError(f"--max-length must be at least {MIN_LENGTH} (two tokens mark the text's start "
                                 f"and end), got {self.max_length}")
        if not 0 <= self.val_fraction < 0.5:
            raise VerticalsError(f"--val-fraction must be in [0, 0.5), got {self.val_fraction}")
        if not 0 <= self.warmup_ratio < 1:
            raise VerticalsError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.weight_decay < 0:
            raise VerticalsError(f"weight_decay must be 0 or more, got {self.weight_decay}")
        if not 0 <= self.label_smoothing < 1:
            raise VerticalsError(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.fgm_epsilon <= 0:
            raise VerticalsError(f"fgm_epsilon must be positive, got {self.fgm_epsilon}")
        if self.pooling not in ("mean", "cls", "pair"):
            raise VerticalsError(f"pooling must be 'mean', 'cls' or 'pair', got {self.pooling!r}")
        if self.pair_attention not in ("both", "one-way"):
            raise VerticalsError(f"pair_attention must be 'both' or 'one-way', got {self.pair_attention!r}")
        if self.pair_attention == "one-way" and self.pooling != "mean":
            raise VerticalsError(f"pair_attention='one-way' pools the second text's tokens: use "
                                 f"pooling='mean', got {self.pooling!r}")
        if self.min_steps < 0:
            raise VerticalsError(f"min_steps must be 0 or more, got {self.min_steps}")
        if self.lr is not None and self.lr <= 0:
            raise VerticalsError(f"--lr must be positive, got {self.lr}")
        if self.lora and self.adversarial:
            raise VerticalsError("adversarial training (FGM) perturbs the word embeddings, which "
                                 "LoRA freezes: drop --lora or --adversarial")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (1e-3 if self.lora else 8e-5)

    def epochs_for(self, n_train: int) -> int:
        """Epochs to run on ``n_train`` rows: ``epochs`` if set, else 3 or more to reach ``min_steps``."""
        if self.epochs is not None:
            return self.epochs
        steps_per_epoch = math.ceil(math.ceil(n_train / self.batch_size) / self.grad_accum)
        return max(3, math.ceil(self.min_steps / max(1, steps_per_epoch)))

    @classmethod
    def from_dict(cls, params: dict) -> TrainConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in params.items() if k in known})


@dataclass
class FinetuneResult:
    name: str
    version: str
    metrics: dict


def _split(
    texts: list[str], labels: list[str], pairs: list[str] | None, fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Stratified train/validation indices; classes with one example stay in train. Rows with
    the same text (and pair) go to the same side, by the label of the first of them.

    subtle: a file with each row twice validated on 24 of 30 rows the model trained on, and its
    val_accuracy drove early stopping and headed the card."""
    rng = random.Random(seed)
    groups: dict[tuple[str, str | None], list[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault((same_text(text), pairs[i] if pairs else None), []).append(i)
    by_label: dict[str, list[tuple[str, str | None]]] = {}
    for key, rows in groups.items():
        by_label.setdefault(labels[rows[0]], []).append(key)
    train, val = [], []
    for keys in by_label.values():
        rng.shuffle(keys)
        n_val = int(round(len(keys) * fraction)) if len(keys) > 1 else 0
        val += [i for key in keys[:n_val] for i in groups[key]]
        train += [i for key in keys[n_val:] for i in groups[key]]
    return sorted(train), sorted(val)


def depth(layers: int | None) -> dict:
    """The ``from_pretrained`` (or config) options that keep only the base's first ``layers``
    layers; none when ``layers`` is None (all of them)."""
    return {} if layers is None else {"num_hidden_layers": layers}


def check_layers(base: str, layers: int | None, option: str = "--layers") -> None:
    """A ``layers`` count the base can give (call before long work that ends in training);
    ``option``: how the user gave it.

    >>> check_layers("minilm", 0)  # doctest: +SKIP
    VerticalsError: --layers 0: keep at least 1 layer of the base 'minilm'
    """
    if layers is None:
        return
    if layers < 1:
        raise VerticalsError(f"{option} {layers}: keep at least 1 layer of the base {base!r}")
    config = json.loads((resolve_model(base) / "config.json").read_text())
    depth = config.get("num_hidden_layers")
    if depth is not None and layers > depth:
        raise VerticalsError(f"{option} {layers}: the base {base!r} has only {depth} layers; "
                             f"use {depth} or fewer")


def _load_model(config: TrainConfig, labels: list[str], device: str) -> tuple:
    """The base encoder with a fresh classification head (not yet LoRA-wrapped)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from .heads import MeanPoolClassifier

    hf_logging.set_verbosity_error()  # subtle: the "newly initialized head" report is expected
    path = resolve_model(config.base)
    tokenizer = AutoTokenizer.from_pretrained(path)
    loader = AutoModelForSequenceClassification if config.pooling == "cls" else MeanPoolClassifier
    check_layers(config.base, config.layers)
    # the first N layers' weights load; the rest of the base is left out
    model_config = AutoConfig.from_pretrained(
        path, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={y: i for i, y in enumerate(labels)}, **depth(config.layers),
    )
    positions = getattr(model_config, "max_position_embeddings", None)
    sides = 2 if config.pair_attention == "one-way" else 1  # one-way: each text gets max_length
    if positions is not None and config.max_length * sides > positions:
        raise VerticalsError(f"--max-length {config.max_length}: the base {config.base!r} reads at "
                             f"most {positions} tokens; use {positions // sides} or fewer"
                             + (" (each side of a one-way pair gets max_length)" if sides == 2 else ""))
    # read by heads.MeanPoolClassifier
    model_config.pair_pooling = config.pooling == "pair"
    model_config.one_way = config.pair_attention == "one-way"
    model = loader.from_pretrained(path, config=model_config)
    return model.to(device), tokenizer


def train_classifier(
    texts: Sequence[str], labels: Sequence[str], config: TrainConfig | None = None,
    pairs: Sequence[str] | None = None, progress: bool = True,
) -> TrainedClassifier:
    """Fine-tune ``config.base`` on ``texts`` (optionally paired with ``pairs``) -> labels.

    Example: ``train_classifier(["hi", "bye"] * 20, ["greet", "leave"] * 20, TrainConfig(epochs=1))``.
    """
    config = config or TrainConfig()
    texts, labels = list(texts), [str(y) for y in labels]
    pairs = list(pairs) if pairs is not None else None
    if pairs is not None and config.pair_attention == "both" and config.max_length < MIN_LENGTH + 2:
        raise VerticalsError(f"--max-length must be at least {MIN_LENGTH + 2} for pairs ([CLS] text [SEP] pair "
                             f"[SEP]), got {config.max_length}")
    label_names = sorted(set(labels), key=label_order)
    if len(label_names) < 2:
        raise VerticalsError(f"need at least 2 labels to train a classifier, got {label_names}")
    torch.manual_seed(config.seed)
    device = get_settings().device
    train_idx, val_idx = _split(texts, labels, pairs, config.val_fraction, config.seed)
    tr_texts, tr_labels = [texts[i] for i in train_idx], [labels[i] for i in train_idx]
    tr_pairs = [pairs[i] for i in train_idx] if pairs else None
    if config.augment and pairs is None:
        tr_texts, tr_labels = augment_rows(tr_texts, tr_labels, config.seed)
    model, tokenizer = _load_model(config, label_names, device)
    if config.pair_attention == "one-way" and pairs is None:
        raise VerticalsError("pair_attention='one-way' reads text pairs: pass pairs or use 'both'")
    encode = BatchEncoder(tokenizer, config.max_length, device, config.pair_attention == "one-way")
    y = torch.tensor([label_names.index(v) for v in tr_labels], device=device)
    if config.head_warmup:
        warm_head(model, encode, tr_texts, tr_pairs, y, config, progress)
    if config.lora:
        model = with_lora(model, config.lora_r)
    val = ([texts[i] for i in val_idx], [labels[i] for i in val_idx],
           [pairs[i] for i in val_idx] if pairs else None)
    return fit(model, tokenizer, encode, config, label_names, (tr_texts, y, tr_pairs), val, progress)


def finetune_classifier(
    train: Sequence[LabelledText], test: Sequence[LabelledText] | None, config: TrainConfig,
    name: str, kind: str = "classifier", card_extra: dict | None = None,
    registry: Registry | None = None, test_path: str | Path = "test set",
    train_pairs: Sequence[str] | None = None, test_pairs: Sequence[str] | None = None,
    promote: bool = True,
) -> FinetuneResult:
    """Train on ``train``, evaluate on ``test`` and register the model (made current unless
    ``promote=False``, as ``retrain`` does until it has compared versions).

    The training rows and the test set are kept in the version as ``train.csv`` / ``eval.csv``:
    the test set is the card's fixed evaluation set that ``retrain`` compares versions on.
    """
    registry = registry or get_registry()
    check_name(name)
    registry.check_kind(name, kind)  # before minutes of training
    if not train:
        raise DataError("training data", None, "has no rows", "add labelled rows")
    if test:
        check_labels_known(test, {r.label for r in train}, test_path)
    # which version of a registered base it started from (a base name or folder: None); pinned, so
    # a retrain starts from that version too. subtle: `finance train --mlm --layers 2` for topics
    # made a 2-layer adapted encoder current, and the 4-layer sentiment model's retrain failed on it
    base_version = registry.current(config.base) if config.base in registry.names() else None
    config = replace(config, base=pinned(config.base, registry))
    head, embedder = None, None
    if config.embedding_head:
        if train_pairs is not None:
            raise VerticalsError("an embedding head reads one text, not a pair: drop embedding_head")
        config = replace(config, embedding_head=pinned(config.embedding_head, registry))
        embedder = probe_embedder(config.embedding_head, registry.root)  # before minutes of training
    trained = train_classifier(
        [r.text for r in train], [r.label for r in train], config, pairs=train_pairs
    )
    metrics = {"epochs_run": len(trained.history), "seconds_per_epoch": trained.seconds_per_epoch}
    if trained.kept:  # the best epoch on the validation split, whose weights were kept: not always the last
        metrics["kept_epoch"] = trained.kept["epoch"]
    if config.embedding_head:
        head = EmbeddingHead.fit(embedder.encode([r.text for r in train]), [r.label for r in train],
                                 trained.labels, config.embedding_head)
    if test:
        metrics.update(evaluate_trained(trained, test, config, test_pairs, head,
                                        embedder.encode([r.text for r in test]) if head else None))
    elif trained.kept:  # no test set: how the kept epoch did on the validation split
        metrics.update(val_accuracy=trained.kept["val_accuracy"], val_macro_f1=trained.kept["val_macro_f1"])
    card = {
        "kind": kind, "base": config.base, "labels": trained.labels,
        "params": asdict(config) | {"lr": config.learning_rate},  # the rate used, not None for "default"
        "base_version": base_version,
        "data_fingerprint": fingerprint([(r.text, r.label) for r in train]),
        "train_rows": len(train), "history": trained.history, "metrics": metrics,
        **(card_extra or {}),
    }

    def write(directory: Path) -> None:
        trained.save(directory)
        if head is not None:
            head.save(directory)
        if train_pairs is None:
            write_labelled(train, directory / "train.csv")
            if test:
                write_labelled(test, directory / "eval.csv")

    version = registry.save(name, write, card, promote=promote)
    return FinetuneResult(name, version, metrics)


def evaluate_trained(
    trained: TrainedClassifier, test: Sequence[LabelledText], config: TrainConfig,
    test_pairs: Sequence[str] | None = None, head: EmbeddingHead | None = None,
    vectors: np.ndarray | None = None,
) -> dict:
    """Accuracy, macro-F1, per-class report and calibration of an in-memory model on ``test``
    (and, with two labels, the AUC of the second's probability); with a ``head`` (and the test
    texts' ``vectors``) of the average served, the model's own accuracy beside them as
    ``model_accuracy``."""
    from .evaluate import expected_calibration_error, roc_auc

    encode = BatchEncoder(trained.tokenizer, config.max_length, get_settings().device,
                      config.pair_attention == "one-way")
    logits = predict_logits(
        trained.model, encode, [r.text for r in test], list(test_pairs) if test_pairs else None,
        config.batch_size,
    )
    probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    alone = None
    if head is not None:
        alone = float(np.mean([trained.labels[i] == r.label for i, r in zip(probs.argmax(1), test, strict=True)]))
        probs = head.average(probs, vectors)
    pred = [trained.labels[i] for i in probs.argmax(1)]
    metrics = classification_metrics([r.label for r in test], pred, trained.labels)
    if alone is not None:
        metrics["model_accuracy"] = alone
    truth = np.array([trained.labels.index(r.label) for r in test])
    metrics["ece"] = expected_calibration_error(probs, truth)
    if len(trained.labels) == 2 and len(set(truth.tolist())) == 2:  # how it ranks, whatever the threshold
        metrics["auc"] = roc_auc(truth, probs[:, 1])
    return metrics
