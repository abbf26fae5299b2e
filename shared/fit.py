"""The classifier's training loop and what it can add: tokenised batches, a warmed-up head
(a linear probe before fine-tuning), LoRA adapters, FGM adversarial steps, early stopping on a
validation split, mixed precision on GPU. :func:`shared.finetune.train_classifier` prepares the
data and the model and calls :func:`fit`.
"""

from __future__ import annotations

import copy
import math
import random
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from .evaluate import classification_metrics
from .one_way import encode_one_way
from .progress import bars_shown

if TYPE_CHECKING:
    from .finetune import TrainConfig


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


def index_batches(n: int, size: int, rng: random.Random | None) -> list[list[int]]:
    """Row indices ``0..n-1`` in batches of ``size``, shuffled by ``rng`` (in order without)."""
    order = list(range(n))
    if rng is not None:
        rng.shuffle(order)
    return [order[i : i + size] for i in range(0, n, size)]


class BatchEncoder:
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


def warm_head(model, encode, texts, pairs, y: torch.Tensor, config: TrainConfig, progress: bool) -> None:
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
            for idx in tqdm(index_batches(len(texts), config.batch_size * 2, None), desc="head warm-up",
                            disable=not (progress and bars_shown()), file=sys.stderr):
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


def with_lora(model: torch.nn.Module, r: int) -> torch.nn.Module:
    """``model`` with rank-``r`` LoRA adapters on its attention and dense layers; the head
    trains whole."""
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


def predict_logits(model, encode, texts, pairs, batch_size: int) -> np.ndarray:
    """The model's logits for ``texts`` (with ``pairs``), in eval mode, ``2 * batch_size`` at a
    time; ``(0, 0)`` for no texts."""
    model.eval()
    out = []
    with torch.inference_mode():
        for idx in index_batches(len(texts), batch_size * 2, None):
            batch = encode([texts[i] for i in idx], [pairs[i] for i in idx] if pairs else None)
            out.append(model(**batch).logits.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


def fit(model, tokenizer, encode, config, label_names, train, val, progress) -> TrainedClassifier:
    """Train ``model`` on ``train`` = (texts, label ids, pairs or None): AdamW, warm-up then
    linear decay, gradient accumulation, FGM when ``config.adversarial``; with ``val`` = (texts,
    labels, pairs) rows, score macro-F1 each epoch, keep the best epoch's weights and stop after
    ``config.patience`` epochs without gain. LoRA adapters are merged in at the end."""
    rng = random.Random(config.seed)
    epochs = config.epochs_for(len(train[0]))
    optimizer, scheduler = _optimizer(model, config, len(train[0]), epochs)
    fgm = _FGM(model, config.fgm_epsilon) if config.adversarial else None
    best, best_score, stale, history, epoch_times, kept = None, -1.0, 0, [], [], None
    for epoch in range(epochs):
        start = time.perf_counter()
        bar = tqdm(index_batches(len(train[0]), config.batch_size, rng), desc=f"epoch {epoch + 1}/{epochs}",
                   disable=not (progress and bars_shown()), file=sys.stderr)
        record = {"epoch": epoch + 1, "loss": _epoch(model, encode, config, train, bar, optimizer, scheduler, fgm)}
        epoch_times.append(time.perf_counter() - start)
        if val[0]:
            record |= _validation(model, encode, config, label_names, val)
            if record["val_macro_f1"] > best_score:
                best, best_score, stale, kept = copy.deepcopy(model.state_dict()), record["val_macro_f1"], 0, record
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


def _optimizer(model, config: TrainConfig, rows: int, epochs: int) -> tuple:
    """AdamW over the trainable weights, and its schedule: linear warm-up, then linear decay to 0
    over the run's optimizer steps."""
    steps = math.ceil(math.ceil(rows / config.batch_size) / config.grad_accum) * epochs
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    warmup = int(steps * config.warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / (warmup + 1) if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup))
    )
    return optimizer, scheduler


def _epoch(model, encode, config: TrainConfig, train: tuple, bar, optimizer, scheduler, fgm: _FGM | None) -> float:
    """One pass over the batches ``bar`` yields; returns the batches' mean loss (it was the last
    batch's)."""
    texts, y, pairs = train
    use_amp = encode.device == "cuda"
    model.train()
    total = 0.0
    for step, idx in enumerate(bar):
        batch = encode([texts[i] for i in idx], [pairs[i] for i in idx] if pairs else None)
        loss = _step_loss(model, batch, y[idx], use_amp, config.label_smoothing) / config.grad_accum
        loss.backward()
        if fgm is not None:
            fgm.attack()
            (_step_loss(model, batch, y[idx], use_amp, config.label_smoothing) / config.grad_accum).backward()
            fgm.restore()
        if (step + 1) % config.grad_accum == 0 or step + 1 == len(bar):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        total += loss.item() * config.grad_accum
        bar.set_postfix(loss=f"{loss.item() * config.grad_accum:.3f}")
    return total / len(bar)


def _validation(model, encode, config: TrainConfig, label_names: list[str], val: tuple) -> dict:
    """Accuracy and macro-F1 on the validation rows ``val`` = (texts, labels, pairs or None)."""
    logits = predict_logits(model, encode, val[0], val[2], config.batch_size)
    metrics = classification_metrics(val[1], [label_names[i] for i in logits.argmax(1)], label_names)
    return {"val_accuracy": metrics["accuracy"], "val_macro_f1": metrics["macro_f1"]}


def _step_loss(model, batch: dict, target: torch.Tensor, use_amp: bool, smoothing: float = 0.0) -> torch.Tensor:
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
        logits = model(**batch).logits
    return torch.nn.functional.cross_entropy(logits.float(), target, label_smoothing=smoothing)
