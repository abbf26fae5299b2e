"""``verticals finance demo``: idempotent preparation of a working monitor on local data.

1. train the two small models on ``datasets/finance/train.csv`` unless already registered;
2. write ``<home>/finance/sources.toml`` pointing at the local replay server (kept if present);
3. start ``verticals finance run --demo-feeds`` in the background unless already running.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from shared import TrainConfig, get_registry, get_settings

from .config import (
    AlertConfig,
    FetchConfig,
    ModelConfig,
    MonitorConfig,
    SourceConfig,
    render_config,
)
from .training import DEMO_DIR, TrainPlan, train_models

DEMO_TRAIN = TrainConfig(epochs=3, max_length=32, batch_size=16, patience=3)


def demo_config(port: int, interval_s: int = 10) -> MonitorConfig:
    """Two replayed feeds and one article page on localhost (private addresses allowed)."""
    base = f"http://127.0.0.1:{port}"
    sources = (SourceConfig("wire", f"{base}/feeds/wire.xml", interval_s=interval_s),
               SourceConfig("daily", f"{base}/feeds/daily.xml", interval_s=interval_s),
               SourceConfig("daily-page", f"{base}/articles/s0001", kind="page",
                            interval_s=600))
    return MonitorConfig(sources=sources,
                         fetch=FetchConfig(timeout_s=5, allow_private=True,
                                           min_host_interval_s=0.1),
                         alerts=AlertConfig(), models=ModelConfig(), tickers=demo_tickers())


def demo_tickers() -> dict[str, tuple[str, ...]]:
    """The demo companies' names as ticker aliases (``datasets/finance/companies.csv``)."""
    with (DEMO_DIR / "companies.csv").open(encoding="utf-8", newline="") as handle:
        return {row["ticker"]: (row["name"],) for row in csv.DictReader(handle)}


def ensure_models(models: ModelConfig, config: TrainConfig = DEMO_TRAIN) -> list[dict]:
    """Train the demo models only when the registry lacks them; returns what was trained."""
    registry = get_registry()
    need_sentiment = registry.current(models.sentiment) is None
    need_topic = registry.current(models.topic) is None
    if not (need_sentiment or need_topic):
        return []
    data = DEMO_DIR / "train.csv"
    plan = TrainPlan(data if need_sentiment else None, data if need_topic else None,
                     DEMO_DIR / "test.csv")
    return train_models(plan, config, models)


def write_demo_config(port: int) -> Path:
    """The demo config at ``<home>/finance/sources.toml``, written only if missing."""
    path = get_settings().home / "finance" / "sources.toml"
    if not path.exists():
        from shared import atomic_write_text

        atomic_write_text(path, render_config(demo_config(port)))
    return path


def _alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start_background(config_path: Path, port: int, speed: float) -> tuple[int, bool]:
    """Start the poller + feed server detached; (pid, started now?). Reuses a live one."""
    folder = config_path.parent
    pid_file = folder / "demo.pid"
    pid = _alive(pid_file)
    if pid is not None:
        return pid, False
    log = (folder / "demo.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "shared", "finance", "run", "--demo-feeds", "--port", str(port),
         "--speed", str(speed), "--config", str(config_path)],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "VERTICALS_HOME": str(get_settings().home)})
    pid_file.write_text(str(process.pid))
    return process.pid, True


def prepare_demo(port: int = 8765, speed: float = 1800.0, serve: bool = True) -> dict:
    """Run the three steps; returns a summary for the CLI."""
    models = ModelConfig()
    trained = ensure_models(models)
    path = write_demo_config(port)
    summary = {"trained": [f"{t['name']} {t['version']} acc={t['accuracy']:.3f}"
                           for t in trained] or "models already in the registry",
               "config": str(path)}
    if serve:
        pid, started = start_background(path, port, speed)
        summary["poller"] = f"pid {pid} ({'started' if started else 'already running'}), " \
                            f"log {path.parent / 'demo.log'}"
        summary["feeds"] = f"http://127.0.0.1:{port}/feeds/wire.xml"
    return summary
