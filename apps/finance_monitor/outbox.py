"""Raising alerts and delivering them to webhooks through a persistent outbox.

An alert and its delivery rows are written in one transaction; delivery happens later and
records every attempt, so a webhook that is down delays alerts but never loses them.
Delivery is at-least-once: a crash between a successful POST and its commit re-sends that one
alert, and receivers can use ``alert_id`` to drop the repeat.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import session_scope

from .alerts import Surge, next_attempt, post_webhook, webhook_payload
from .config import AlertConfig, WebhookConfig
from .store import AlertFollowUp, AlertNotice, AlertRow, Article, Delivery, utcnow

log = logging.getLogger(__name__)
REANNOUNCE = 2  # an alert is announced again once its window holds this many times the negatives
CLAIM_LEASE = timedelta(minutes=5)  # far above a POST's timeout; then a crashed claim is retried


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    held: int = 0  # undelivered rows of webhooks not in this config: kept, not sent
    errors: dict[str, str] = field(default_factory=dict)  # webhook (as shown) -> why its POST failed


def shown_url(url: str) -> str:
    """A webhook's address as logs and screens show it: its host, and a short hash of the whole
    address that tells two hooks on one host apart; the path and any user:password may be a
    secret (Slack's token).

    >>> shown_url("https://hooks.slack.com/services/T0/B0/secret")
    'https://hooks.slack.com/… (#e36f19)'
    """
    scheme, _, rest = url.partition("://")
    host = rest.split("/")[0].split("?")[0].rpartition("@")[2]
    return f"{scheme}://{host}/… (#{hashlib.sha1(url.encode()).hexdigest()[:6]})"


def surge_of(alert: AlertRow) -> Surge:
    """The pure record behind a stored alert."""
    return Surge(key=alert.key, start=alert.window_start, end=alert.window_end,
                 negatives=alert.negatives, total=alert.total, baseline=alert.baseline,
                 score=alert.score, article_ids=tuple(alert.driver_ids()))


def raise_alerts(engine: Engine, surges: list[Surge], config: AlertConfig,
                 webhooks: tuple[WebhookConfig, ...]) -> list[int]:
    """Store new alerts (skipping ones in cooldown); returns their ids. An alert raised while
    its window was filling takes the window's figures as new articles go on surging in it: the
    dashboard showed "6 negative of 6" for a window that ended at 46. Its webhooks are sent
    again, and an acknowledgement is lifted, only once the window holds at least
    ``REANNOUNCE`` times the negative articles the alert was last announced with
    (:class:`.store.AlertNotice`): an acknowledged alert grew from 10 to 15 and on, unseen.
    Corrections alone leave it as raised: its webhook carried those counts, and the views name
    the drivers corrected since."""
    cooldown = timedelta(hours=config.window_hours * config.cooldown_windows)
    created = []
    for surge in surges:
        try:
            with session_scope(engine) as session:
                same = session.scalars(select(AlertRow).where(
                    AlertRow.key == surge.key, AlertRow.window_start == surge.start)).first()
                if same is not None:
                    if surge.total > same.total:  # new articles in its window, not only corrections
                        _announce_growth(session, same, surge.negatives)
                        same.negatives, same.total = surge.negatives, surge.total
                        same.baseline, same.score = surge.baseline, surge.score
                        same.article_ids = json.dumps(list(surge.article_ids))
                    continue
                recent = session.scalars(select(AlertRow.negatives).where(
                    AlertRow.key == surge.key, AlertRow.window_start >= surge.start - cooldown,
                    AlertRow.window_start <= surge.start)).all()
                if any(2 * negatives > surge.negatives for negatives in recent):
                    continue  # same surge, or cooling down (see alerts.detect_surges)
                alert = AlertRow(key=surge.key, window_start=surge.start, window_end=surge.end,
                                 negatives=surge.negatives, total=surge.total,
                                 baseline=surge.baseline, score=surge.score,
                                 article_ids=json.dumps(list(surge.article_ids)))
                session.add(alert)
                session.flush()
                session.add(AlertNotice(alert_id=alert.id, negatives=surge.negatives))
                for hook in webhooks:
                    session.add(Delivery(alert_id=alert.id, url=hook.url, format=hook.format))
                created.append(alert.id)
        except IntegrityError:
            continue  # subtle: raised meanwhile by another process; unique key kept it single
    return created


def note_follow_ups(engine: Engine, surges: list[Surge], config: AlertConfig) -> None:
    """Keep each surging window that raised no alert of its own, because an alert of its key
    was cooling down, on that alert (:class:`.store.AlertFollowUp`), its counts updated as its
    window fills; ``surges``: every surging window, cooldown aside. No webhook: the cooldown is
    there so one surge pings once."""
    cooldown = timedelta(hours=config.window_hours * config.cooldown_windows)
    for surge in surges:
        try:
            with session_scope(engine) as session:
                alerts = session.scalars(select(AlertRow).where(
                    AlertRow.key == surge.key, AlertRow.window_start >= surge.start - cooldown,
                    AlertRow.window_start <= surge.start).order_by(AlertRow.window_start.desc())).all()
                if not alerts:
                    continue  # no alert of its key cooling down
                # the latest alert holds it; an earlier one no longer does, since a window between them
                # escalated into that alert (or this window is that alert's own)
                session.execute(delete(AlertFollowUp).where(AlertFollowUp.window_start == surge.start,
                                                            AlertFollowUp.alert_id.in_([a.id for a in alerts[1:]])))
                if alerts[0].window_start == surge.start:
                    continue
                held = session.get(AlertFollowUp, (alerts[0].id, surge.start))
                if held is None:
                    session.add(AlertFollowUp(alert_id=alerts[0].id, window_start=surge.start, window_end=surge.end,
                                              negatives=surge.negatives, total=surge.total))
                elif surge.total > held.total:  # new articles in its window
                    held.negatives, held.total = surge.negatives, surge.total
        except IntegrityError:
            continue  # subtle: noted meanwhile by another process (`poll-once` beside `run`)


def _announce_growth(session: Session, alert: AlertRow, negatives: int) -> None:
    """Announce ``alert`` again when its window now holds ``negatives``, at least ``REANNOUNCE``
    times what it was last announced with: its deliveries are due again (with the new figures)
    and its acknowledgement, if any, is lifted and kept in the notice."""
    notice = session.get(AlertNotice, alert.id)
    if notice is None:  # raised before notices were kept: its counts now are the last announced
        notice = AlertNotice(alert_id=alert.id, negatives=alert.negatives)
        session.add(notice)
    announced = notice.negatives
    if negatives < REANNOUNCE * announced:
        return
    notice.negatives, notice.grew_from = negatives, announced
    notice.acknowledged_by = alert.acknowledged_by if alert.acknowledged_at else None
    alert.acknowledged_at = alert.acknowledged_by = None
    for delivery in session.scalars(select(Delivery).where(Delivery.alert_id == alert.id)):
        delivery.delivered_at, delivery.attempts, delivery.next_attempt_at = None, 0, utcnow()
    log.warning("alert #%d (%s) grew from %d to %d negative articles: announced again", alert.id, alert.key,
                announced, negatives)


def acknowledge(engine: Engine, alert_id: int, by: str = "analyst") -> bool:
    """Mark an alert handled; False if it does not exist or was already acknowledged."""
    with session_scope(engine) as session:
        alert = session.get(AlertRow, alert_id)
        if alert is None or alert.acknowledged_at is not None:
            return False
        alert.acknowledged_at, alert.acknowledged_by = utcnow(), by
        return True


def resend(engine: Engine, alert_ids: list[int], webhooks: tuple[WebhookConfig, ...]) -> list[int]:
    """Make alerts due again for every webhook in ``webhooks`` (a row added where a webhook has
    none); returns the ids that do not exist. Rows of other URLs are left as they are: held,
    or another config's.

    subtle: alerts raised while a webhook's URL had a typo were tied to that URL and held for good
    once it was mended; sending them on by guess sent another config's alerts to this one's hooks."""
    with session_scope(engine) as session:
        found = set(session.scalars(select(AlertRow.id).where(AlertRow.id.in_(alert_ids))))
        for alert_id in sorted(found):
            rows = {d.url: d for d in session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))}
            for hook in webhooks:
                if hook.url in rows:
                    row = rows[hook.url]
                    row.delivered_at, row.attempts, row.next_attempt_at, row.last_error = None, 0, utcnow(), None
                else:
                    session.add(Delivery(alert_id=alert_id, url=hook.url, format=hook.format))
    return [i for i in alert_ids if i not in found]


def deliver_due(engine: Engine, client: httpx.Client, now: datetime | None = None,
                limit: int = 50, webhooks: tuple[WebhookConfig, ...] | None = None,
                companies: Mapping[str, Sequence[str]] | None = None) -> DeliveryReport:
    """POST every delivery whose time has come; failures are rescheduled with backoff.

    With ``webhooks`` (the config's), rows of any other URL are held, not sent: a webhook
    removed from the config is not retried forever, and a run with another config (a
    ``poll-once`` beside the poller) deletes nothing; they go out if the URL comes back, or to
    the webhooks configured now with :func:`resend`.

    A webhook that fails is not tried again in the same pass: its other deliveries wait for the
    next. subtle: a hook that timed out took the full timeout for each of its 4 alerts in turn,
    20 s of every pass, and its receiver logged each attempt.

    ``companies``: the config's ``[tickers]``, to name a ticker's company (:func:`.alerts.key_label`).
    """
    now = now or utcnow()
    configured = Delivery.url.in_([w.url for w in webhooks]) if webhooks is not None else True
    with session_scope(engine) as session:
        rows = session.execute(select(Delivery.id, Delivery.url).where(
            Delivery.delivered_at.is_(None), Delivery.next_attempt_at <= now, configured)
            .order_by(Delivery.id).limit(limit)).all()
    due, down = [], set()
    outcomes: list[bool | None] = []
    for delivery_id, url in rows:
        if url in down:
            continue
        due.append(delivery_id)
        outcomes.append(_deliver_one(engine, client, delivery_id, now, companies))
        if outcomes[-1] is False:
            down.add(url)
    delivered, failed = outcomes.count(True), outcomes.count(False)
    errors = {}
    if failed:
        with session_scope(engine) as session:
            for url, problem in session.execute(select(Delivery.url, Delivery.last_error).where(
                    Delivery.id.in_([d for d, ok in zip(due, outcomes, strict=True) if ok is False]))):
                errors[shown_url(url)] = problem
    with session_scope(engine) as session:
        undelivered = session.execute(select(Delivery.url).where(
            Delivery.delivered_at.is_(None))).scalars().all()
    urls = {w.url for w in webhooks} if webhooks is not None else None
    held = sum(url not in urls for url in undelivered) if urls is not None else 0
    return DeliveryReport(delivered=delivered, failed=failed, pending=len(undelivered) - held,
                          held=held, errors=errors)


def _deliver_one(engine: Engine, client: httpx.Client, delivery_id: int,
                 now: datetime, companies: Mapping[str, Sequence[str]] | None = None) -> bool | None:
    """POST one claimed delivery; None when another deliverer claimed it first, or its alert was
    announced again meanwhile (the next pass sends the new figures).

    subtle: the outcome is stored only while the row still holds this claim: an alert announced
    again during the POST (:func:`_announce_growth`) made the row due afresh, and marking it
    delivered would have dropped the new figures."""
    lease = _claim(engine, delivery_id, now)
    if lease is None:
        return None
    url, payload = _payload(engine, delivery_id, companies)
    problem = post_webhook(client, url, payload)  # no session open: a slow hook blocks no one
    with session_scope(engine) as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery.next_attempt_at != lease:
            return None
        delivery.attempts += 1
        if problem is None:
            delivery.delivered_at, delivery.last_error = utcnow(), None
            return True
        delivery.last_error = problem
        delivery.next_attempt_at = next_attempt(utcnow(), delivery.attempts)
        return False


def _claim(engine: Engine, delivery_id: int, now: datetime) -> datetime | None:
    """Take a due delivery for ``CLAIM_LEASE``: the lease's end for exactly one of concurrent
    callers, None for the others.

    subtle: ``process()`` after each poll, the scheduler's deliver job and a ``poll-once``
    beside the poller all deliver; one conditional UPDATE decides who posts. A deliverer that
    dies after claiming leaves the row to be retried when the lease runs out.

    subtle: the lease runs from the clock at the claim, not from ``now`` (when the batch was
    chosen): behind 30 slow hooks, a lease from ``now`` had run out before its POST began.
    """
    lease = (utcnow() + CLAIM_LEASE).replace(microsecond=0)  # whole seconds: MySQL's DATETIME keeps no more
    with session_scope(engine) as session:
        result = session.execute(update(Delivery).where(
            Delivery.id == delivery_id, Delivery.delivered_at.is_(None),
            Delivery.next_attempt_at <= now).values(next_attempt_at=lease))
        return lease if result.rowcount == 1 else None


def _payload(engine: Engine, delivery_id: int,
             companies: Mapping[str, Sequence[str]] | None = None) -> tuple[str, dict]:
    """The URL and JSON body of one delivery (``companies``: as for :func:`deliver_due`)."""
    with session_scope(engine) as session:
        delivery = session.get(Delivery, delivery_id)
        alert = session.get(AlertRow, delivery.alert_id)
        found = {i: (title, url) for i, title, url in session.execute(
            select(Article.id, Article.title, Article.url).where(Article.id.in_(alert.driver_ids())))}
        told = [found[i] for i in alert.driver_ids() if i in found]
        notice = session.get(AlertNotice, alert.id)
        return delivery.url, webhook_payload(surge_of(alert), alert.id, [t for t, _ in told], delivery.format,
                                             notice.grew_from if notice is not None else None,
                                             urls=[u for _, u in told], companies=companies)
