"""One job a day in a foreground APScheduler, its job store a table of the suite's database (so
the job persists across restarts): the recommender's nightly scoring, the support bot's retrain.
``job_store`` is every app's APScheduler job store (the finance poller's too).

    run_in_foreground(nightly_scheduler(job, "my-job", "my_jobs", 3, 0), "my job at 03:00 UTC", "my_jobs")
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from apscheduler.schedulers.blocking import BlockingScheduler

from .progress import logging_only
from .settings import get_settings

log = logging.getLogger(__name__)


LOCK_WAIT_S = 60  # how long the job store waits for another connection's write


def job_store(table: str, url: str | None = None):
    """APScheduler's SQLAlchemy job store in ``table`` of the suite's database (or ``url``).

    subtle: a job store write that meets a lock for longer than sqlite3's default 5 s raises
    inside APScheduler's own thread, which then dies and no job runs again (the finance demo
    poller stopped so behind a slow classification batch). It waits ``LOCK_WAIT_S`` instead.
    """
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from sqlalchemy.engine import make_url

    url = url or get_settings().db_url
    sqlite = make_url(url).get_backend_name() == "sqlite"  # other drivers take no such argument
    return SQLAlchemyJobStore(url=url, tablename=table,
                              engine_options={"connect_args": {"timeout": LOCK_WAIT_S}} if sqlite else None)


def nightly_scheduler(job: Callable, job_id: str, table: str, hour: int, minute: int,
                      args: Sequence = ()) -> BlockingScheduler:
    """A scheduler holding ``job(*args)`` daily at ``hour:minute`` UTC under ``job_id``, stored
    in ``table`` of the settings' database (a missed run within the hour still runs, once)."""
    from apscheduler.triggers.cron import CronTrigger

    scheduler = BlockingScheduler(jobstores={"default": job_store(table)}, timezone="UTC")
    scheduler.add_job(job, CronTrigger(hour=hour, minute=minute, timezone="UTC"), id=job_id,
                      replace_existing=True, coalesce=True, misfire_grace_time=3600, args=list(args))
    return scheduler


def run_in_foreground(scheduler: BlockingScheduler, what: str, table: str) -> None:
    """Run ``scheduler`` until interrupted, saying ``what`` it does first. One scheduler per job
    store ``table`` in a home: a second is refused, naming the first's pid.

    subtle: APScheduler runs every job of its store, so two schedulers sharing one each run
    the other's jobs (a second recommender scheduler replaced the first's stored job, and the
    first scored with the second's files and options into the second's folder).
    """
    from .errors import LockBusyError, VerticalsError
    from .storage import file_lock

    try:
        with file_lock(get_settings().home / "schedulers" / f"{table}.lock", wait=False):
            log.warning("%s", what)
            try:
                with logging_only():  # stderr is the job's log: no progress bars in it
                    scheduler.start()
            except (KeyboardInterrupt, SystemExit):
                scheduler.shutdown(wait=False)
    except LockBusyError as busy:
        pid = busy.holder or "unknown"
        raise VerticalsError(f"another scheduler (pid {pid}) already runs this job from this home ({busy.path}): "
                             f"stop it with `kill {pid}` first") from None
