"""The nightly retrain of the intent model on the lessons taught from the gaps (APScheduler, its
job store in the suite's database, so it persists across restarts)."""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler

from shared.errors import VerticalsError
from shared.nightly import nightly_scheduler, run_in_foreground

log = logging.getLogger(__name__)
JOB_ID, TABLE = "support-retrain", "support_apscheduler_jobs"


def nightly_retrain() -> str:
    """Retrain the intent model on the lessons (:meth:`SupportService.retrain`, nightly: not
    again on lessons the last retrain used). Errors are logged and returned, not raised: a
    failed night must not stop the scheduler."""
    from .service import SupportService

    service = SupportService()
    try:
        if not service.store.lessons():
            return "no lessons yet: nothing to retrain"
        report = service.agents.retrain(nightly=True)
    except VerticalsError as err:
        log.error("support retrain failed: %s", err)
        return f"retrain failed: {err}"
    if report is None:
        return "these lessons were already tried: nothing to retrain"
    outcome = f"{report['version']} {'promoted' if report['promoted'] else 'not promoted'}: {report['reason']}"
    log.warning("support retrain: %s", outcome)
    return outcome


def build_scheduler(hour: int, minute: int) -> BlockingScheduler:
    """A scheduler holding the nightly retrain, stored in the settings' database."""
    return nightly_scheduler(nightly_retrain, JOB_ID, TABLE, hour, minute)


def start_scheduler(hour: int, minute: int) -> None:
    """Run the scheduler in the foreground until interrupted."""
    run_in_foreground(build_scheduler(hour, minute),
                      f"support: nightly retrain of the intent model at {hour:02d}:{minute:02d} UTC", TABLE)
