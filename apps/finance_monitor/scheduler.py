"""APScheduler wiring: one interval job per source, an outbox job, nightly retrains.

Jobs live in a SQLAlchemy job store inside the app's database, so they survive restarts. They
are module-level functions referenced by their import path with only strings as arguments:
that is what a persistent job store can save and load again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from shared import VerticalsError, cron_trigger, get_settings
from shared.errors import LockBusyError
from shared.nightly import job_store
from shared.progress import logging_only
from shared.storage import file_lock

from .config import MonitorConfig, load_config
from .outbox import DeliveryReport
from .service import FinanceService

log = logging.getLogger(__name__)
JOB_PREFIX = "finance:"
_services: dict[str, FinanceService] = {}
_lock = threading.Lock()


_stopping = threading.Event()  # the poller is stopping: every service of service_for stops with it


def service_for(config_path: str) -> FinanceService:
    """One service per config file per process (models and clients load once), each stopping
    with the poller (subtle: one made by a job just started had classified a whole backlog)."""
    with _lock:
        if config_path not in _services:
            _services[config_path] = FinanceService(load_config(config_path))
            _services[config_path].stopping = _stopping
        return _services[config_path]


def poll_job(config_path: str, source: str) -> None:
    """Job body: poll one source, then classify / alert / deliver. Logs, never raises."""
    try:
        service = service_for(config_path)
        report = service.poll_source(source)
        processed = service.process()
        # subtle: classification takes every source's waiting articles, so its counts are not
        # this source's (a log credited one source with another's surge)
        log.info("poll %s: ok=%s new=%d dup=%d; then, over every source's waiting articles: classified=%d "
                 "reworded=%d alerts=%s", source, report.ok, report.ingest.new, report.ingest.duplicates,
                 processed.classified, processed.reworded, processed.new_alerts)
        if processed.models_missing:
            log.warning("poll %s: %s", source, processed.models_missing)
        _log_webhook_errors(processed.deliveries)
    except Exception:  # noqa: BLE001 - a job's failure is logged; the scheduler goes on
        log.exception("poll job for %s failed", source)


def deliver_job(config_path: str) -> None:
    """Job body: retry due webhook deliveries."""
    try:
        report = service_for(config_path).deliver()
        if report.delivered or report.failed:
            log.info("webhooks: delivered=%d failed=%d pending=%d", report.delivered,
                     report.failed, report.pending)
        _log_webhook_errors(report)
    except Exception:  # noqa: BLE001
        log.exception("delivery job failed")


def _log_webhook_errors(report: DeliveryReport) -> None:
    """A line per webhook whose POST failed, naming it and why (retried with backoff)."""
    for webhook, problem in report.errors.items():
        log.warning("webhook %s failed: %s (retried with backoff)", webhook, problem)


def retrain_job(config_path: str, field: str) -> None:
    """Job body: retrain one model on the pending corrections; those a promoted version
    absorbed are marked used here, so no later night feeds them again. Logs, never raises."""
    try:
        report = service_for(config_path).retrain(field, nightly=True)
        if report is None:
            log.info("retrain %s: no new corrections, skipped", field)
        else:
            log.info("retrain %s -> %s: %s", field, report.version, report.reason)
    except VerticalsError as exc:
        log.error("retrain %s failed: %s", field, exc)
    except Exception:  # noqa: BLE001
        log.exception("retrain job for %s failed", field)


def build_scheduler(db_url: str | None = None, workers: int = 4) -> BackgroundScheduler:
    """A scheduler whose job store is the ``finance_jobs`` table of the app database."""
    return BackgroundScheduler(
        jobstores={"default": job_store("finance_jobs", db_url)}, executors={"default": ThreadPoolExecutor(workers)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC")


def start(config_path: str | Path, db_url: str | None = None) -> BackgroundScheduler:
    """Start a scheduler with jobs synced to the config (stored jobs are loaded first, so
    removed sources are dropped and changed intervals replaced)."""
    scheduler = build_scheduler(db_url)
    scheduler.start(paused=True)
    sync_jobs(scheduler, config_path)
    scheduler.resume()
    return scheduler


def lock_path(home: Path | None = None) -> Path:
    """The file whose OS lock the one poller of a home holds: ``<home>/finance/poller.lock``."""
    return (home or get_settings().home) / "finance" / "poller.lock"


def _busy(path: Path, holder: str) -> VerticalsError:
    pid = holder or "unknown"
    return VerticalsError(f"another `verticals finance run` (pid {pid}) already polls this home "
                          f"({path} is locked): stop it with `kill {pid}` (the demo's: "
                          "`verticals finance demo --stop`) "
                          "or give this one another VERTICALS_HOME")


@contextmanager
def poller_lock(home: Path | None = None) -> Iterator[Path]:
    """Hold the home's poller lock for the block; a ``VerticalsError`` naming the holder's pid
    when another process has it.

    subtle: ``sync_jobs`` replaces and removes every ``finance:`` job in the shared job store,
    so two pollers of one home would take over each other's jobs. ``poll-once`` does not touch
    the job store and needs no lock.
    """
    path = lock_path(home)
    with ExitStack() as held:
        try:
            held.enter_context(file_lock(path, wait=False))
        except LockBusyError as busy:
            raise _busy(path, busy.holder) from None
        yield path


def check_poller_free(home: Path | None = None) -> None:
    """Raise ``poller_lock``'s error if a poller already holds this home (the lock is not kept)."""
    with poller_lock(home):
        pass


def run_forever(config_path: str | Path, stop: threading.Event | None = None) -> None:
    """``verticals finance run``: poll until interrupted (Ctrl-C / SIGTERM / ``stop``).

    The caller holds ``poller_lock`` (``finance run`` takes it before serving demo feeds).
    """
    import signal

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with logging_only():  # stderr is the poller's log: no embedding or retraining bars in it
        scheduler = start(config_path)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            _stopping.set()  # a poll under way ends after its batch: seconds, not minutes
            log.info("stopping: a poll under way, if any, ends after its current batch (stored articles it "
                     "leaves unlabelled are classified at the next poll); a nightly retrain under way runs to its end")
            # subtle: a job falling due while the shutdown waited was handed to the closed pool,
            # and the log ended on APScheduler's "cannot schedule new futures" traceback
            scheduler.pause()
            scheduler.shutdown(wait=True)
            _stopping.clear()  # stopped: a later poll in this process classifies again


def sync_jobs(scheduler: BaseScheduler, config_path: str | Path,
              config: MonitorConfig | None = None, retrain_cron: str | None = "0 3 * * *"
              ) -> list[str]:
    """Make the stored jobs match the config: add/replace a job per source, drop jobs of
    removed sources, keep the outbox and retrain jobs. Returns the job ids.

    A source's stored job keeps its next run while its interval and config file are the same
    (one overdue runs now); a new source, or one whose interval changed, is polled at once (a
    changed URL waits for its next run). subtle: every start polled every source at once,
    whatever its interval, so a crash loop hammered them all."""
    config_path = str(Path(config_path).resolve())
    config = config or load_config(config_path)
    wanted = {}
    now = datetime.now().astimezone()
    for source in config.sources:
        job_id = f"{JOB_PREFIX}poll:{source.name}"
        stored = scheduler.get_job(job_id)
        kept = stored is not None and stored.next_run_time is not None and list(stored.args) == [
            config_path, source.name] and getattr(stored.trigger, "interval", None) == timedelta(
            seconds=source.interval_s)
        scheduler.add_job(f"{__name__}:poll_job", IntervalTrigger(seconds=source.interval_s),
                          args=[config_path, source.name], id=job_id, replace_existing=True,
                          name=f"poll {source.name}",  # the log names the source, not "poll_job" for each
                          next_run_time=max(stored.next_run_time, now) if kept else now)
        wanted[job_id] = True
    deliver_id = f"{JOB_PREFIX}deliver"
    scheduler.add_job(f"{__name__}:deliver_job", IntervalTrigger(seconds=60),
                      args=[config_path], id=deliver_id, replace_existing=True)
    wanted[deliver_id] = True
    if retrain_cron:
        wanted.update(_retrain_jobs(scheduler, config_path, retrain_cron))
    for job in scheduler.get_jobs():
        if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
            job.remove()
    return sorted(wanted)


def _retrain_jobs(scheduler: BaseScheduler, config_path: str, cron: str) -> dict[str, bool]:
    """Nightly: retrain each model on the analysts' corrections (promoted only if not worse)."""
    trigger = cron_trigger(cron)
    ids = {}
    for field in ("sentiment", "topic"):
        job_id = f"{JOB_PREFIX}retrain:{field}"
        scheduler.add_job(f"{__name__}:retrain_job", trigger, args=[config_path, field],
                          id=job_id, replace_existing=True)
        ids[job_id] = True
    return ids
