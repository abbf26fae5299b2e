"""Nightly batch scoring with APScheduler (job store in the suite's database, so it persists)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from shared import get_settings

log = logging.getLogger(__name__)
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
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=get_settings().db_url,
                                                 tablename="rec_apscheduler_jobs")},
        timezone="UTC")
    scheduler.add_job(nightly_job, CronTrigger(hour=hour, minute=minute, timezone="UTC"),
                      id=JOB_ID, replace_existing=True, coalesce=True, misfire_grace_time=3600,
                      args=[str(Path(items).resolve()), str(Path(interactions).resolve()),
                            str(Path(out_dir).resolve()), top_k, prefix, pool])
    return scheduler


def start_scheduler(items: Path, interactions: Path, out_dir: Path, hour: int, minute: int,
                    top_k: int, prefix: str, pool: int | None = None) -> None:
    """Run the scheduler in the foreground until interrupted."""
    scheduler = build_scheduler(items, interactions, out_dir, hour, minute, top_k, prefix, pool)
    log.warning("recommender: nightly scoring at %02d:%02d UTC into %s", hour, minute, out_dir)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
