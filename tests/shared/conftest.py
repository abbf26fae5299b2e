"""A toy task trained once per session (full and LoRA) for the core's tests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from shared.data import LabelledText, write_labelled

POSITIVE = ["great", "excellent", "love", "wonderful", "fantastic", "happy with"]
NEGATIVE = ["terrible", "awful", "hate", "broken", "horrible", "angry about"]
SUBJECTS = ["the product", "this service", "my order", "the app", "delivery", "support"]


def toy_rows(n: int, seed: int) -> list[LabelledText]:
    """A learnable two-class task: the sentiment word decides the label."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        word = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        rows.append(LabelledText(f"{rng.choice(SUBJECTS)} was {word} today", label))
    return rows


@pytest.fixture(scope="session")
def toy_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("toy")
    return write_labelled(toy_rows(96, 0), folder / "train.csv"), write_labelled(toy_rows(40, 1), folder / "test.csv")


@pytest.fixture(scope="session")
def session_registry(tmp_path_factory: pytest.TempPathFactory):
    from shared.registry import Registry

    return Registry(tmp_path_factory.mktemp("registry"))


def _train(registry, name: str, lora: bool):
    from shared.finetune import TrainConfig, finetune_classifier

    config = TrainConfig(epochs=2, batch_size=8, max_length=24, lora=lora, patience=5)
    return finetune_classifier(toy_rows(96, 0), toy_rows(40, 1), config, name, registry=registry)


@pytest.fixture(scope="session")
def full_model(session_registry):
    return _train(session_registry, "toy-full", lora=False)


@pytest.fixture(scope="session")
def lora_model(session_registry):
    return _train(session_registry, "toy-lora", lora=True)
