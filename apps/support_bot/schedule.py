"""The nightly retrain of the intent model on the lessons taught from the gaps (APScheduler, its
job store in the suite's database, so it persists across restarts)."""

from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from shared import LabelledText, already_tried, get_settings
from shared.errors import VerticalsError

log = logging.getLogger(__name__)
JOB_ID = "support-retrain"


def nightly_retrain() -> str:
    """Retrain the intent model on the lessons, unless there are none or the last retrain used
    exactly these (a rejected retrain is not repeated on unchanged lessons). Errors are logged
    and returned, not raised: a failed night must not stop the scheduler."""
    from .service import INTENTS, SupportService

    service = SupportService()
    try:
        rows = [LabelledText(text, intent) for _, text, intent in service.store.lessons()]
        if not rows:
            return "no lessons yet: nothing to retrain"
        if already_tried(INTENTS, rows, service.registry):
            return "these lessons were already tried: nothing to retrain"
        report = service.retrain()
    except VerticalsError as err:
        log.error("support retrain failed: %s", err)
        return f"retrain failed: {err}"
    outcome = f"{report['version']} {'promoted' if report['promoted'] else 'not promoted'}: {report['reason']}"
    log.warning("support retrain: %s", outcome)
    return outcome


def build_scheduler(hour: int, minute: int) -> BlockingScheduler:
    """A scheduler holding the nightly retrain, stored in the settings' database."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=get_settings().db_url,
                                                 tablename="support_apscheduler_jobs")},
        timezone="UTC")
    scheduler.add_job(nightly_retrain, CronTrigger(hour=hour, minute=minute, timezone="UTC"),
                      id=JOB_ID, replace_existing=True, coalesce=True, misfire_grace_time=3600)
    return scheduler


def start_scheduler(hour: int, minute: int) -> None:
    """Run the scheduler in the foreground until interrupted."""
    scheduler = build_scheduler(hour, minute)
    log.warning("support: nightly retrain of the intent model at %02d:%02d UTC", hour, minute)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
