"""Nightly batch scoring with APScheduler (job store in the suite's database, so it persists)."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler

from shared.errors import VerticalsError
from shared.nightly import nightly_scheduler, run_in_foreground

log = logging.getLogger(__name__)

JOB_ID = "recommender-nightly"


def score_today(items: str, interactions: str, out_dir: str, top_k: int, prefix: str,
                pool: int | None = None) -> str:
    """Score every user's top-k (reranked from ``pool`` candidates) into
    ``out_dir/scores-YYYY-MM-DD.parquet`` (once per day).

    A rerun on the same day resumes an interrupted run, does nothing if the file holds the
    same job's scores, and scores again after new models, files or options (the day's file is
    the latest run's). Returns what it did, in one line (`schedule --once` prints it).
    """
    from .jobs import score_unless_current
    from .service import RecommenderService

    out = Path(out_dir) / f"scores-{time.strftime('%Y-%m-%d', time.gmtime())}.parquet"
    # subtle: a rerun after new files or models replaced the day's file and said only "500 rows"
    again = out.exists()
    rows, scored = score_unless_current(RecommenderService(items, interactions, prefix), out, top_k, pool)
    if not scored:
        return f"{out} already written today ({rows} rows)"
    return f"{out}: {rows} rows" + (" (replaced today's earlier file: the models, files or options changed)"
                                    if again else "")


def nightly_job(items: str, interactions: str, out_dir: str, top_k: int, prefix: str,
                pool: int | None = None) -> str:
    """:func:`score_today` as the scheduler runs it: its outcome logged in one line and
    returned; bad input too, not raised (subtle: raised, APScheduler printed 20 lines of
    traceback around the one that said which row of which file to fix)."""
    try:
        outcome = score_today(items, interactions, out_dir, top_k, prefix, pool)
    except VerticalsError as err:
        log.error("recommender nightly scoring failed: %s", err)
        return f"failed: {err}"
    log.warning("recommender nightly scoring: %s", outcome)
    return outcome


def check_inputs(items: Path, interactions: Path, prefix: str) -> None:
    """Read the items and interactions files as `score` reads them, and find the trained models:
    anything the job would fail on at night is one line now, before a job is stored.

    subtle: the files were only checked to exist, so a semicolon-separated items file started
    the scheduler ("nightly scoring at 02:00 UTC ...") and failed at 02:00, where `score`
    refused it at once."""
    from .data import read_interactions, read_items
    from .service import RecommenderService

    read_interactions(interactions, read_items(items))
    RecommenderService(items, interactions, prefix).models()  # trained models, or one line saying how


def next_run(hour: int, minute: int, now: datetime | None = None) -> datetime:
    """When a job stored now at ``hour:minute`` UTC first runs, as the scheduler's own trigger
    computes it: ``next_run(2, 0, 2026-06-17 17:00 UTC) -> 2026-06-18 02:00 UTC``."""
    from apscheduler.triggers.cron import CronTrigger

    now = now or datetime.now(UTC)
    return CronTrigger(hour=hour, minute=minute, timezone="UTC").get_next_fire_time(None, now)


def start_line(hour: int, minute: int, out_dir: Path, now: datetime | None = None) -> str:
    """The scheduler's first line: when it scores, into which folder, and when it first does
    (a user read "02:00 UTC" and could not tell whether that was tonight)."""
    first = next_run(hour, minute, now)
    return (f"recommender: nightly scoring at {hour:02d}:{minute:02d} UTC into {out_dir}; "
            f"next run {first:%Y-%m-%d %H:%M} UTC")


def job_table(out_dir: Path) -> str:
    """The job store table of the nightly job that scores into ``out_dir``: one per folder, so
    two catalogues scored nightly from one home each keep their own job (and scheduler)."""
    return "rec_nightly_" + hashlib.sha1(str(Path(out_dir).resolve()).encode()).hexdigest()[:12]


def build_scheduler(items: Path, interactions: Path, out_dir: Path, hour: int, minute: int,
                    top_k: int, prefix: str, pool: int | None = None) -> BlockingScheduler:
    """A scheduler holding the nightly job, stored in the settings' database."""
    return nightly_scheduler(nightly_job, JOB_ID, job_table(out_dir), hour, minute,
                             [str(Path(items).resolve()), str(Path(interactions).resolve()),
                              str(Path(out_dir).resolve()), top_k, prefix, pool])


def start_scheduler(items: Path, interactions: Path, out_dir: Path, hour: int, minute: int,
                    top_k: int, prefix: str, pool: int | None = None) -> None:
    """Run the scheduler in the foreground until interrupted, saying first when it next runs."""
    run_in_foreground(build_scheduler(items, interactions, out_dir, hour, minute, top_k, prefix, pool),
                      start_line(hour, minute, out_dir), job_table(out_dir))
