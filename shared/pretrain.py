"""Domain-adaptive masked-LM pretraining: teach the base encoder the words of a domain.

MiniLM (all-MiniLM-L6-v2) ships without masked-LM head weights, so the head starts fresh:
its decoder is tied to the word embeddings and only the small transform layer is new. That head
first trains alone (encoder frozen, its own higher learning rate) so that its random gradients
do not shake the pretrained encoder, and so that the baseline the card reports is a head that
has learnt. The result is registered as kind ``encoder``: a plain BERT encoder
(pooler kept from the base) plus tokenizer and the sentence-transformers files, so both
``AutoModelForSequenceClassification`` and ``SentenceTransformer`` load it, and
``TrainConfig(base=name)`` starts from it.

Example::

    version = pretrain_mlm(open("corpus.txt").read().splitlines(), "fin-minilm")
    # then: finetune_classifier(train, test, TrainConfig(base="fin-minilm"), "fin-clf")
"""

from __future__ import annotations

import math
import random
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .data import fingerprint
from .errors import VerticalsError
from .export import KEPT_TEXTS, write_kept_texts
from .finetune import check_layers, depth
from .models import resolve_model
from .progress import bars_shown
from .registry import Registry, check_name, get_registry
from .settings import get_settings

# Files that make a directory loadable by sentence-transformers (copied from the base).
_SENTENCE_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")
_SENTENCE_DIRS = ("1_Pooling", "2_Normalize")


@dataclass
class PretrainConfig:
    """The recipe of one masked-LM run (stored as the card's ``params``)."""

    base: str = "minilm"
    epochs: int = 1
    max_length: int = 64
    batch_size: int = 32
    mlm_probability: float = 0.15
    lr: float = 5e-5
    head_steps: int = 50  # batches that train the fresh head alone, the training batches cycled
    head_lr: float = 4e-3
    heldout_fraction: float = 0.1
    seed: int = 42
    layers: int | None = None  # keep only the base's first N layers (a smaller, faster encoder)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise VerticalsError(f"--epochs must be at least 1, got {self.epochs}")
        if not 0.0 < self.mlm_probability < 1.0:
            raise VerticalsError(f"mlm_probability must be in (0, 1), got {self.mlm_probability}")
        if self.batch_size < 1 or self.max_length < 8:
            raise VerticalsError(
                f"--batch-size must be >= 1 and --max-length >= 8, got {self.batch_size}, "
                f"{self.max_length}"
            )
        if self.layers is not None and self.layers < 1:
            raise VerticalsError(f"--layers {self.layers}: keep at least 1 layer of the base {self.base!r}")
        if self.head_steps < 0 or self.head_lr <= 0:
            raise VerticalsError(f"head_steps must be >= 0 and head_lr > 0, got {self.head_steps}, {self.head_lr}")


def mask_tokens(
    input_ids: torch.Tensor,
    special: torch.Tensor,
    probability: float,
    mask_id: int,
    vocab_size: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: pick ``probability`` of the non-special tokens as targets; of those
    80% become ``[MASK]``, 10% a random token, 10% stay. Returns ``(inputs, labels)`` where
    labels are -100 everywhere except the targets.

    ``special`` is a bool tensor marking padding/[CLS]/[SEP], which are never picked.
    """
    pick = torch.rand(input_ids.shape, generator=generator) < probability
    pick &= ~special
    labels = torch.where(pick, input_ids, torch.full_like(input_ids, -100))
    roll = torch.rand(input_ids.shape, generator=generator)
    inputs = input_ids.clone()
    inputs[pick & (roll < 0.8)] = mask_id
    swap = pick & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    inputs[swap] = random_ids[swap]
    return inputs, labels


def split_heldout(texts: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Shuffle with ``seed`` and cut off ``fraction`` (at least one text) for evaluation."""
    shuffled = list(texts)
    random.Random(seed).shuffle(shuffled)
    n_held = max(1, round(len(shuffled) * fraction))
    return shuffled[n_held:], shuffled[:n_held]


def _clean(texts: list[str]) -> list[str]:
    kept = [t.strip() for t in texts if t and t.strip()]
    if len(kept) < 2:
        raise VerticalsError(
            f"masked-LM pretraining needs at least 2 non-empty texts, got {len(kept)} — "
            "pass a corpus with one text per line"
        )
    return kept


def _batches(tokenizer, texts: list[str], cfg: PretrainConfig) -> list[dict[str, torch.Tensor]]:
    """Tokenise once and pad per batch (dynamic padding keeps short corpora fast on CPU)."""
    out = []
    for start in range(0, len(texts), cfg.batch_size):
        enc = tokenizer(
            texts[start : start + cfg.batch_size],
            truncation=True,
            max_length=cfg.max_length,
            padding=True,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
        out.append(dict(enc))
    return out


def _masked(batch: dict, tokenizer, cfg: PretrainConfig, gen: torch.Generator, device: str):
    special = batch["special_tokens_mask"].bool() | (batch["attention_mask"] == 0)
    inputs, labels = mask_tokens(
        batch["input_ids"], special, cfg.mlm_probability, tokenizer.mask_token_id,
        len(tokenizer), gen,
    )
    return {
        "input_ids": inputs.to(device),
        "attention_mask": batch["attention_mask"].to(device),
        "labels": labels.to(device),
    }


@torch.no_grad()
def heldout_loss(model, tokenizer, batches: list[dict], cfg: PretrainConfig, device: str) -> float | None:
    """Mean masked-token cross-entropy on held-out text, with masks fixed by ``cfg.seed`` so
    that the before and after numbers score the very same masked positions; None when no token
    was masked (too little held-out text: a loss of 0 read as a perfect perplexity of 1)."""
    model.eval()
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    total, count = 0.0, 0
    for batch in batches:
        feed = _masked(batch, tokenizer, cfg, gen, device)
        n = int((feed["labels"] != -100).sum())
        if n:
            total += float(model(**feed).loss) * n
            count += n
    return total / count if count else None


def _set_encoder_frozen(model, frozen: bool) -> None:
    # subtle: the decoder weight is tied to the word embeddings, so freezing `bert` also
    # freezes the decoder; only the new transform layer and the output bias train.
    for param in model.base_model.parameters():
        param.requires_grad = not frozen


def _train_head(model, tokenizer, batches: list[dict], cfg: PretrainConfig, device: str,
                gen: torch.Generator) -> None:
    """The fresh head alone, encoder frozen, for ``cfg.head_steps`` batches at ``cfg.head_lr``.

    subtle: it had trained for a fifth of the steps at the encoder's learning rate, inside the
    warm-up: on 800 Financial PhraseBank sentences its held-out perplexity stayed at 37,263,
    worse than guessing among the 30,522 tokens, and the adapted encoder (1,869) looked 20x
    better than the base. 50 batches at 4e-3 bring that head to about 1,000.

    The frozen encoder reads each batch once (masked once, without dropout): BERT's head then
    cycles over those hidden states. subtle: read again at every step, a 300-line corpus (9
    batches) spent 3.6 of its 5 minutes here; read once, the run took 55 s, not 113 (2 cores, AVX2
    EPYC), its head-only perplexity 803 and adapted 727 against 752 and 665 (9 maskings cycled,
    not 50 fresh ones). A masked-LM without BERT's ``cls`` head reads every step as before."""
    _set_encoder_frozen(model, True)
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.head_lr,
                              weight_decay=0.01)
    loss_at = _head_loss_on_read_states(model, tokenizer, batches, cfg, device, gen) if hasattr(model, "cls") else \
        (lambda step: model(**_masked(batches[step % len(batches)], tokenizer, cfg, gen, device)).loss)
    model.train()
    for step in tqdm(range(cfg.head_steps), desc="masked-LM head alone", unit="batch", disable=not bars_shown()):
        if (loss := loss_at(step)) is None:  # a batch of short texts may mask nothing
            continue
        loss.backward()
        optim.step()
        optim.zero_grad()
    _set_encoder_frozen(model, False)


def _head_loss_on_read_states(model, tokenizer, batches: list[dict], cfg: PretrainConfig, device: str,
                              gen: torch.Generator) -> Callable[[int], torch.Tensor | None]:
    """Step -> the masked-LM loss of BERT's head (``model.cls``) on the hidden states the frozen
    encoder read once (in eval mode) from the first ``cfg.head_steps`` batches, cycled; None
    for a batch that masked nothing."""
    read = []
    model.eval()  # the encoder's features as they will be read, without dropout
    with torch.no_grad():
        for batch in batches[:cfg.head_steps]:
            masked = _masked(batch, tokenizer, cfg, gen, device)
            hidden = model.base_model(input_ids=masked["input_ids"], attention_mask=masked["attention_mask"])[0]
            keep = masked["labels"] != -100  # only masked tokens are scored
            read.append((hidden[keep], masked["labels"][keep]))

    def loss_at(step: int) -> torch.Tensor | None:
        hidden, labels = read[step % len(read)]
        return torch.nn.functional.cross_entropy(model.cls(hidden), labels) if len(labels) else None

    return loss_at


def _train(model, tokenizer, batches: list[dict], cfg: PretrainConfig, device: str, gen: torch.Generator) -> None:
    """Head and encoder together: AdamW + linear warmup/decay over ``cfg.epochs``."""
    from transformers import get_linear_schedule_with_warmup

    total = len(batches) * cfg.epochs
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(optim, int(0.1 * total), total)
    order = random.Random(cfg.seed)
    with tqdm(total=total, desc="masked-LM pretraining", unit="batch", disable=not bars_shown()) as bar:
        for _ in range(cfg.epochs):
            for batch in order.sample(batches, len(batches)):
                model.train()
                loss = model(**_masked(batch, tokenizer, cfg, gen, device)).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optim.step()
                sched.step()
                optim.zero_grad()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")


def save_encoder(mlm_model, tokenizer, base_dir: Path, out_dir: Path, layers: int | None = None) -> None:
    """Write the adapted encoder as a plain BERT checkpoint that keeps the base's pooler
    (the MLM model has none) plus tokenizer and the sentence-transformers files; ``layers``:
    the depth the adapted encoder was cut to."""
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(base_dir, **depth(layers))
    missing, _ = encoder.load_state_dict(mlm_model.base_model.state_dict(), strict=False)
    if any(not k.startswith("pooler.") for k in missing):  # only the pooler may come from base
        raise VerticalsError(f"adapted encoder does not match its base {base_dir}: {missing}")
    encoder.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    for name in _SENTENCE_FILES:
        if (base_dir / name).is_file():
            shutil.copy2(base_dir / name, out_dir / name)
    for name in _SENTENCE_DIRS:
        if (base_dir / name).is_dir():
            shutil.copytree(base_dir / name, out_dir / name)


def _load_mlm(base_dir: Path, device: str, layers: int | None) -> tuple:
    from transformers import AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "head newly initialised" report is expected here
    try:
        model = AutoModelForMaskedLM.from_pretrained(base_dir, **depth(layers))
        return AutoTokenizer.from_pretrained(base_dir), model.to(device)
    finally:
        hf_logging.set_verbosity(verbosity)


def _perplexity(loss: float) -> float:
    return math.exp(min(loss, 50.0))


def _metrics(losses: dict[str, float | None], n_train: int, n_held: int) -> dict:
    """The card's figures: each held-out masked-LM loss and its perplexity (None where no token
    was masked), and how many texts trained and judged."""
    metrics = {f"mlm_loss_{k}": None if v is None else round(v, 4) for k, v in losses.items()}
    metrics |= {f"perplexity_{k}": None if v is None else round(_perplexity(v), 2) for k, v in losses.items()}
    return metrics | {"n_train_texts": n_train, "n_heldout_texts": n_held}


def pretrain_mlm(
    texts: list[str],
    name: str,
    base: str = "minilm",
    epochs: int = 1,
    max_length: int = 64,
    batch_size: int = 32,
    mlm_probability: float = 0.15,
    registry: Registry | None = None,
    **options: float,
) -> str:
    """Masked-LM pretraining of ``base`` on unlabeled ``texts``; registers kind ``encoder``
    under ``name`` and returns the version. The card's metrics hold the held-out masked-LM
    loss and perplexity (same held-out texts, same masks) ``before`` (fresh head),
    ``base_encoder`` (head trained, encoder untouched: the fair baseline) and ``after``.

    Extra ``options`` are :class:`PretrainConfig` fields (``lr``, ``head_steps``, ``seed``,
    ``layers``...). With ``layers=N`` the encoder keeps only the base's first N layers, adapted
    and registered at that depth; all three perplexities are of that depth.

    >>> pretrain_mlm(["Revenue rose 5% on loan growth.", ...], "bank-minilm")  # doctest: +SKIP
    'v1'
    """
    cfg = PretrainConfig(base, epochs, max_length, batch_size, mlm_probability, **options)
    check_name(name)
    (registry or get_registry()).check_kind(name, "encoder")  # before minutes of training
    check_layers(base, cfg.layers)
    texts = _clean(texts)
    train_texts, held_texts = split_heldout(texts, cfg.heldout_fraction, cfg.seed)
    base_dir = Path(resolve_model(base))
    device = get_settings().device
    torch.manual_seed(cfg.seed)
    tokenizer, model = _load_mlm(base_dir, device, cfg.layers)
    held = _batches(tokenizer, held_texts, cfg)
    losses = {"before": heldout_loss(model, tokenizer, held, cfg, device)}
    batches, gen = _batches(tokenizer, train_texts, cfg), torch.Generator().manual_seed(cfg.seed)
    if cfg.head_steps and batches:
        _train_head(model, tokenizer, batches, cfg, device, gen)
        losses["base_encoder"] = heldout_loss(model, tokenizer, held, cfg, device)  # the untouched encoder
    _train(model, tokenizer, batches, cfg, device, gen)
    losses["after"] = heldout_loss(model, tokenizer, held, cfg, device)
    model.to("cpu")
    card = {"kind": "encoder", "base": base, "data_fingerprint": fingerprint(texts), "params": asdict(cfg),
            "metrics": _metrics(losses, len(train_texts), len(held_texts)), "labels": []}

    def write(out: Path) -> None:
        save_encoder(model, tokenizer, base_dir, out, cfg.layers)
        # the held-out texts stay with the version: `models export` checks agreement on them
        write_kept_texts(held_texts, out / KEPT_TEXTS["encoder"][0])

    return (registry or get_registry()).save(name, write, card)
