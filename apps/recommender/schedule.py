"""Nightly batch scoring with APScheduler (job store in the suite's database, so it persists)."""

from __future__ import annotations

import hashlib
import logging
import time
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
    from .service import RecommenderService, score_unless_current

    out = Path(out_dir) / f"scores-{time.strftime('%Y-%m-%d', time.gmtime())}.parquet"
    rows, scored = score_unless_current(RecommenderService(items, interactions, prefix), out, top_k, pool)
    return f"{out}: {rows} rows" if scored else f"{out} already written today ({rows} rows)"


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
    """Run the scheduler in the foreground until interrupted."""
    run_in_foreground(build_scheduler(items, interactions, out_dir, hour, minute, top_k, prefix, pool),
                      f"recommender: nightly scoring at {hour:02d}:{minute:02d} UTC into {out_dir}", job_table(out_dir))
