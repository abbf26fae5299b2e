"""Label-preserving text augmentation: light word-level edits that keep the meaning.

Used by ``finetune`` with ``--augment``: each training text gets one extra variant made by
dropping a few non-essential words and swapping one adjacent pair. Keeps negations and numbers,
which carry the label in intent and sentiment data ("not working", "down 5%").
"""

from __future__ import annotations

import random

_KEEP = {"not", "no", "never", "n't", "cannot", "without", "nor", "down", "up", "loss", "gain"}


def augment_text(text: str, rng: random.Random, p_drop: float = 0.1) -> str:
    """One variant of ``text``: ``"my card was not accepted today"`` -> ``"my card not was accepted"``."""
    words = text.split()
    if len(words) < 4:
        return text
    kept = [w for w in words if _protected(w) or rng.random() > p_drop] or words
    if len(kept) >= 4:
        i = rng.randrange(len(kept) - 1)
        if not (_protected(kept[i]) or _protected(kept[i + 1])):
            kept[i], kept[i + 1] = kept[i + 1], kept[i]
    return " ".join(kept)


def _protected(word: str) -> bool:
    lowered = word.lower().strip(".,!?;:")
    return lowered in _KEEP or lowered.endswith("n't") or any(c.isdigit() for c in lowered)


def augment_rows(
    texts: list[str], labels: list[str], seed: int = 0
) -> tuple[list[str], list[str]]:
    """Originals plus one variant each (variants identical to their original are dropped)."""
    rng = random.Random(seed)
    extra = [(augment_text(t, rng), y) for t, y in zip(texts, labels)]
    extra = [(t, y) for (t, y), orig in zip(extra, texts) if t != orig]
    return texts + [t for t, _ in extra], labels + [y for _, y in extra]
