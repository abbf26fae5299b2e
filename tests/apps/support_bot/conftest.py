"""Support bot fixtures: the bot is trained once per session on a small slice of the demo data;
each test gets its own home (database and index) that reads those models by registry root."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shared import Registry, get_settings

DEMO = Path(__file__).resolve().parents[3] / "datasets" / "support"
INTENTS_KEPT = ["track_order", "return_item", "refund_status", "payment_methods",
                "store_hours", "warranty_claim", "oos"]


def _set_home(path: Path) -> None:
    os.environ["VERTICALS_HOME"] = str(path)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home with the demo KB loaded and the bot trained once (small, 2 CPU cores), with the
    demo's labelled article questions."""
    from apps.support_bot.service import SupportService
    from apps.support_bot.training import BotTrainer, TrainOptions

    old = os.environ.get("VERTICALS_HOME")
    home = tmp_path_factory.mktemp("support_home")
    _set_home(home)
    frame = pd.read_csv(DEMO / "intents.csv")
    intents = home / "intents.csv"
    frame[frame["label"].isin(INTENTS_KEPT)].to_csv(intents, index=False)
    service = SupportService()
    service.kb_add(DEMO / "kb")
    options = TrainOptions(epochs=6, tune_retriever=False, reranker_epochs=1, per_intent=4,
                           export=False)
    BotTrainer(service, options).run(intents, DEMO / "article_questions.csv")
    yield home
    if old is None:
        os.environ.pop("VERTICALS_HOME", None)
    else:
        os.environ["VERTICALS_HOME"] = old
    get_settings.cache_clear()


@pytest.fixture
def bot_home(trained_home: Path, tmp_path: Path) -> Iterator[Path]:
    """A fresh home with a copy of the trained home's KB and index (tests may change them) and
    its models linked."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home, ignore=shutil.ignore_patterns("models", "exports"))
    (home / "models").symlink_to(trained_home / "models")  # read-only use: no 100 MB copies
    _set_home(home)
    yield home
    _set_home(trained_home)


@pytest.fixture
def bot(bot_home: Path):
    from apps.support_bot.service import SupportService

    service = SupportService()
    service.warm_up()
    return service


@pytest.fixture
def empty_home(tmp_path: Path) -> Iterator[Path]:
    old = os.environ.get("VERTICALS_HOME")
    _set_home(tmp_path / "empty")
    yield tmp_path / "empty"
    if old is not None:
        _set_home(Path(old))


@pytest.fixture
def registry(trained_home: Path) -> Registry:
    return Registry(root=trained_home / "models")
