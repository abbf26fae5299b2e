"""Tiny recommender data (a slice of the demo bookshop) and models trained once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "datasets" / "recommender"
SHELVES = ["Cooking", "Astronomy", "Crime Fiction", "Programming"]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four shelves of the demo catalogue and the first 16 readers' interactions with them."""
    folder = tmp_path_factory.mktemp("rec_data")
    items = pd.read_csv(DEMO / "items.csv", dtype=str, keep_default_na=False)
    items = items[items["category"].isin(SHELVES)]
    interactions = pd.read_csv(DEMO / "interactions.csv", dtype=str)
    interactions = interactions[interactions["item_id"].isin(set(items["item_id"]))]
    interactions = interactions[interactions["user_id"] <= "U016"]
    items.to_csv(folder / "items.csv", index=False)
    interactions.to_csv(folder / "interactions.csv", index=False)
    users = sorted(interactions["user_id"].unique())[:3]
    pairs = [(u, i) for u in users for i in items["item_id"].iloc[::6]] + [("NEWBIE", "B001")]
    pd.DataFrame(pairs, columns=["user_id", "item_id"]).to_csv(folder / "candidates.csv",
                                                               index=False)
    return {"items": folder / "items.csv", "interactions": folder / "interactions.csv",
            "candidates": folder / "candidates.csv", "folder": folder}


def _use_home(path: Path) -> None:
    from shared.settings import get_settings

    os.environ["VERTICALS_HOME"] = str(path)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def trained_home(tiny: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose registry holds the three recommender models, trained once (tiny, 1 epoch)."""
    from apps.recommender.scoring import TextConfig
    from apps.recommender.service import RecommenderService
    from apps.recommender.training import TrainConfig

    home = tmp_path_factory.mktemp("rec_home")
    previous = os.environ.get("VERTICALS_HOME")
    _use_home(home)
    try:
        config = TrainConfig(val_fraction=0.25, text=TextConfig(
            bi_max_length=48, cross_max_length=48, max_pairs=160, max_cross=200, batch_size=16,
            cross_layers=2), ranker_rows=200)
        RecommenderService(tiny["items"], tiny["interactions"]).train(config)
    finally:
        if previous is None:
            os.environ.pop("VERTICALS_HOME", None)
        else:
            os.environ["VERTICALS_HOME"] = previous
    return home


@pytest.fixture
def rec_home(trained_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the settings at the trained session home for one test."""
    from shared.settings import get_settings

    monkeypatch.setenv("VERTICALS_HOME", str(trained_home))
    get_settings.cache_clear()
    yield trained_home
    get_settings.cache_clear()


@pytest.fixture
def service(rec_home: Path, tiny: dict[str, Path]):
    from apps.recommender.service import RecommenderService

    return RecommenderService(tiny["items"], tiny["interactions"])
