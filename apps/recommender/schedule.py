"""Nightly batch scoring with APScheduler (job store in the suite's database, so it persists)."""

from __future__ import annotations

import time
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler

from shared.nightly import nightly_scheduler, run_in_foreground

JOB_ID = "recommender-nightly"


def nightly_job(items: str, interactions: str, out_dir: str, top_k: int, prefix: str,
                pool: int | None = None) -> str:
    """Score every user's top-k (reranked from ``pool`` candidates) into
    ``out_dir/scores-YYYY-MM-DD.parquet`` (once per day).

    A rerun on the same day resumes an interrupted run, or does nothing if the file exists.
    """
    from .service import RecommenderService

    out = Path(out_dir) / f"scores-{time.strftime('%Y-%m-%d', time.gmtime())}.parquet"
    if out.exists():
        return f"{out} already written today"
    result = RecommenderService(items, interactions, prefix).score(out, top_k=top_k, pool=pool)
    return f"{result.out}: {result.rows} rows"


def build_scheduler(items: Path, interactions: Path, out_dir: Path, hour: int, minute: int,
                    top_k: int, prefix: str, pool: int | None = None) -> BlockingScheduler:
    """A scheduler holding the nightly job, stored in the settings' database."""
    return nightly_scheduler(nightly_job, JOB_ID, "rec_apscheduler_jobs", hour, minute,
                             [str(Path(items).resolve()), str(Path(interactions).resolve()),
                              str(Path(out_dir).resolve()), top_k, prefix, pool])


def start_scheduler(items: Path, interactions: Path, out_dir: Path, hour: int, minute: int,
                    top_k: int, prefix: str, pool: int | None = None) -> None:
    """Run the scheduler in the foreground until interrupted."""
    run_in_foreground(build_scheduler(items, interactions, out_dir, hour, minute, top_k, prefix, pool),
                      f"recommender: nightly scoring at {hour:02d}:{minute:02d} UTC into {out_dir}")
