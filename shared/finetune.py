"""Fine-tuning a text classifier: full or LoRA, warmup + linear decay, early stopping,
gradient accumulation, mixed precision on GPU, optional augmentation and FGM adversarial training.

``train_classifier`` does the training in memory; ``finetune_classifier`` adds evaluation and
registration, and is what the CLI and the apps call.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .augment import augment_rows
from .data import LabelledText, check_labels_known, fingerprint, same_text, write_labelled
from .errors import DataError, VerticalsError
from .evaluate import classification_metrics, label_order
from .models import resolve_model
from .one_way import encode_one_way
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
class TrainedClassifier:
    """A trained model in memory, ready to save: ``model.save_pretrained`` + tokenizer."""

    model: torch.nn.Module
    tokenizer: object
    labels: list[str]
    history: list[dict] = field(default_factory=list)
    seconds_per_epoch: float = 0.0
    kept: dict | None = None  # the history record of the epoch whose weights were kept

    def save(self, directory: Path) -> None:
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)


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


def _batches(n: int, size: int, rng: random.Random | None) -> list[list[int]]:
    order = list(range(n))
    if rng is not None:
        rng.shuffle(order)
    return [order[i : i + size] for i in range(0, n, size)]


class _Encoder:
    """Tokenises texts (or text pairs) batch by batch with dynamic padding; ``one_way`` pairs
    as :func:`shared.one_way.encode_one_way` joins them."""

    def __init__(self, tokenizer: object, max_length: int, device: str, one_way: bool = False) -> None:
        self.tokenizer, self.max_length, self.device = tokenizer, max_length, device
        self.one_way = one_way

    def __call__(self, texts: Sequence[str], pairs: Sequence[str] | None) -> dict:
        if self.one_way and pairs is not None:
            encoded = encode_one_way(self.tokenizer, texts, pairs, self.max_length)
            return {k: v.to(self.device) for k, v in encoded.items()}
        encoded = self.tokenizer(
            list(texts), list(pairs) if pairs is not None else None, padding=True,
            truncation=True, max_length=self.max_length, return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in encoded.items()}


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
    extra = {"num_hidden_layers": config.layers} if config.layers is not None else {}
    model_config = AutoConfig.from_pretrained(
        path, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={y: i for i, y in enumerate(labels)}, **extra,
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


def _warm_head(model, encode, texts, pairs, y: torch.Tensor, config: TrainConfig, progress: bool) -> None:
    """Fit the classifier head's last linear layer on frozen features (a linear probe).

    The features are whatever enters that layer, caught with a forward hook, so this works for
    any ``*ForSequenceClassification`` whose head ends in ``nn.Linear``.
    """
    head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    if head.out_features != model.config.num_labels:
        return  # subtle: an unusual head layout; fine-tuning still trains it from scratch
    captured: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, inputs, _o: captured.append(inputs[0].detach().float()))
    model.eval()
    try:
        with torch.inference_mode():
            for idx in tqdm(_batches(len(texts), config.batch_size * 2, None), desc="head warm-up",
                            disable=not progress, file=sys.stderr):
                model(**encode([texts[i] for i in idx], [pairs[i] for i in idx] if pairs else None))
    finally:
        hook.remove()
    features = torch.cat(captured).clone()
    weight = torch.zeros_like(head.weight, dtype=torch.float32, requires_grad=True)
    bias = torch.zeros(head.out_features, device=features.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=200, line_search_fn="strong_wolfe")
    l2 = 1e-2  # subtle: keeps the probe's logits moderate so fine-tuning still gets gradient

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = features @ weight.T + bias
        loss = torch.nn.functional.cross_entropy(logits, y) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        head.weight.copy_(weight.to(head.weight.dtype))
        head.bias.copy_(bias.to(head.bias.dtype))


def _with_lora(model: torch.nn.Module, r: int) -> torch.nn.Module:
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=r, lora_alpha=2 * r, lora_dropout=0.1,
        target_modules=["query", "key", "value", "dense"],
    )
    # subtle: TaskType.SEQ_CLS marks the "classifier" head as modules_to_save, so it trains
    # fully; merge_and_unload() at the end folds the adapters in and keeps that head.
    with warnings.catch_warnings():
        # peft reads transformers' deprecated ``is_gradient_checkpointing``: a FutureWarning on
        # every --lora run that the user can do nothing about
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, lora)


class _FGM:
    """Fast Gradient Method: nudge word embeddings along their gradient, train on that too."""

    def __init__(self, model: torch.nn.Module, epsilon: float) -> None:
        self.embeddings = model.get_input_embeddings().weight
        self.epsilon, self.backup = epsilon, None

    def attack(self) -> None:
        grad = self.embeddings.grad
        if grad is None:
            return
        norm = torch.norm(grad)
        if norm > 0 and not torch.isnan(norm):
            self.backup = self.embeddings.data.clone()
            self.embeddings.data.add_(self.epsilon * grad / norm)

    def restore(self) -> None:
        if self.backup is not None:
            self.embeddings.data = self.backup
            self.backup = None


def _predict_logits(model, encode, texts, pairs, batch_size: int) -> np.ndarray:
    model.eval()
    out = []
    with torch.inference_mode():
        for idx in _batches(len(texts), batch_size * 2, None):
            batch = encode([texts[i] for i in idx], [pairs[i] for i in idx] if pairs else None)
            out.append(model(**batch).logits.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


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
    encode = _Encoder(tokenizer, config.max_length, device, config.pair_attention == "one-way")
    y = torch.tensor([label_names.index(v) for v in tr_labels], device=device)
    if config.head_warmup:
        _warm_head(model, encode, tr_texts, tr_pairs, y, config, progress)
    if config.lora:
        model = _with_lora(model, config.lora_r)
    val = ([texts[i] for i in val_idx], [labels[i] for i in val_idx],
           [pairs[i] for i in val_idx] if pairs else None)
    return _fit(model, tokenizer, encode, config, label_names, (tr_texts, y, tr_pairs), val, progress)


def _fit(model, tokenizer, encode, config, label_names, train, val, progress) -> TrainedClassifier:
    tr_texts, y, tr_pairs = train
    rng = random.Random(config.seed)
    epochs = config.epochs_for(len(tr_texts))
    steps = math.ceil(math.ceil(len(tr_texts) / config.batch_size) / config.grad_accum) * epochs
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    warmup = int(steps * config.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / (warmup + 1) if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup))
    )
    fgm = _FGM(model, config.fgm_epsilon) if config.adversarial else None
    use_amp = encode.device == "cuda"
    best, best_score, stale, history, epoch_times, kept = None, -1.0, 0, [], [], None
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        batches = _batches(len(tr_texts), config.batch_size, rng)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, file=sys.stderr)
        total = 0.0  # the epoch's loss is its batches' mean (it was the last batch's)
        for step, idx in enumerate(bar):
            batch = encode([tr_texts[i] for i in idx], [tr_pairs[i] for i in idx] if tr_pairs else None)
            loss = _step_loss(model, batch, y[idx], use_amp) / config.grad_accum
            loss.backward()
            if fgm is not None:
                fgm.attack()
                (_step_loss(model, batch, y[idx], use_amp) / config.grad_accum).backward()
                fgm.restore()
            if (step + 1) % config.grad_accum == 0 or step + 1 == len(batches):
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            total += loss.item() * config.grad_accum
            bar.set_postfix(loss=f"{loss.item() * config.grad_accum:.3f}")
        epoch_times.append(time.perf_counter() - start)
        record = {"epoch": epoch + 1, "loss": total / len(batches)}
        if val[0]:
            logits = _predict_logits(model, encode, val[0], val[2], config.batch_size)
            pred = [label_names[i] for i in logits.argmax(1)]
            metrics = classification_metrics(val[1], pred, label_names)
            record.update(val_accuracy=metrics["accuracy"], val_macro_f1=metrics["macro_f1"])
            score = metrics["macro_f1"]
            if score > best_score:
                best, best_score, stale, kept = copy.deepcopy(model.state_dict()), score, 0, record
            else:
                stale += 1
        history.append(record)
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k != "epoch"),
              file=sys.stderr)
        if val[0] and stale >= config.patience:
            print(f"early stopping after epoch {epoch + 1}", file=sys.stderr)
            break
    if best is not None:
        model.load_state_dict(best)
    if config.lora:
        model = model.merge_and_unload()
    model.eval()
    return TrainedClassifier(model, tokenizer, label_names, history, float(np.mean(epoch_times)), kept)


def _step_loss(model, batch: dict, target: torch.Tensor, use_amp: bool) -> torch.Tensor:
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
        logits = model(**batch).logits
    return torch.nn.functional.cross_entropy(logits.float(), target)


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
        # which version of a registered base it started from (a base name or folder: None)
        "base_version": registry.current(config.base) if config.base in registry.names() else None,
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

    encode = _Encoder(trained.tokenizer, config.max_length, get_settings().device,
                      config.pair_attention == "one-way")
    logits = _predict_logits(
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
