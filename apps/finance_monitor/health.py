"""Source and webhook health, as frames for the dashboard's Sources tab and ``finance sources``:
each source's state in words (failing, stale, never polled), its last success and error, and
each webhook's delivered and waiting alerts with its last error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, select

from shared import session_scope

from .config import SourceConfig, WebhookConfig
from .outbox import shown_url
from .store import Delivery, SourceHealth, utcnow


def health_frame(engine: Engine, configured: Sequence[SourceConfig] | None = None,
                 now: datetime | None = None) -> pd.DataFrame:
    """Source health: a ``state`` in words (:func:`source_state`), last success, last error,
    the last poll's ``note`` (it worked, but entries were skipped or dated when fetched: not an
    error), articles in the last poll, failure streak. ``configured``: the config's sources; with them,
    the ones never polled are listed too, and an ``in_config`` column marks the sources whose
    history remains though the config no longer polls them."""
    now, intervals = now or utcnow(), {s.name: s.interval_s for s in configured or ()}
    with session_scope(engine) as session:
        found = {h.source: h for h in session.scalars(select(SourceHealth))}
        for source in configured or ():
            found.setdefault(source.name, SourceHealth(source=source.name, url=source.url, polls=0, total_new=0,
                                                       articles_last_poll=0, consecutive_failures=0))
        # subtle: a poll that worked with a note stores it as its last error, at its success's
        # time; the JSON gave it as "last_error", and a script watching that field fired
        rows = [[h.source, source_state(h, intervals.get(h.source), now), h.url, h.last_success]
                + ([None, None, h.last_error] if noted(h) else [h.last_error_at, h.last_error, None])
                + [h.consecutive_failures, h.articles_last_poll, h.total_new, h.polls]
                for _, h in sorted(found.items())]
    frame = pd.DataFrame(rows, columns=["source", "state", "url", "last_success", "last_error_at",
                                        "last_error", "note", "failures_in_a_row", "new_last_poll",
                                        "new_total", "polls"])
    if configured is not None:
        frame.insert(1, "in_config", frame["source"].isin(list(intervals)))
    return frame


def noted(health: SourceHealth) -> bool:
    """Whether the source's last error is the note of its last poll, which worked."""
    return health.last_error_at is not None and health.last_error_at == health.last_success


def source_state(health: SourceHealth, interval_s: int | None, now: datetime) -> str:
    """``"ok"``, ``"failing 2x: HTTP 404"``, ``"never polled"``, or, when the source has not
    been polled for three of its intervals (five minutes at least), ``"stale: no poll for 8 h
    (every 10 s)"`` (the poller is not running); ``interval_s`` None: a source the config no
    longer polls.

    subtle: with the poller stopped, every source read "ok" with 0 failures for hours."""
    if health.consecutive_failures:
        return f"failing {health.consecutive_failures}x: {health.last_error}"
    last = health.last_attempt or health.last_success
    if last is None:  # subtle: not "stale": a source just added to the config waits for its first poll
        return "never polled"
    if interval_s is None:
        return "ok"
    idle = (now - last).total_seconds()
    if idle <= max(3 * interval_s, 300):
        return "ok"
    return f"stale: no poll for {_duration(idle)} (every {_duration(interval_s)})"


def _duration(seconds: float) -> str:
    """``42 -> "42 s"``, ``600 -> "10 min"``, ``30000 -> "8 h"``, ``300000 -> "3 days"``."""
    for size, unit in ((86400, " days"), (3600, " h"), (60, " min")):
        if seconds >= 2 * size or (size < 86400 and seconds >= size):
            return f"{seconds // size:.0f}{unit}"
    return f"{seconds:.0f} s"


def webhook_health(engine: Engine, webhooks: tuple[WebhookConfig, ...] = ()) -> pd.DataFrame:
    """Per webhook (the config's, and any with rows still waiting): alerts delivered, waiting,
    the last delivery, and the error of the newest one waiting with when it is tried next.

    subtle: a failing webhook's cause lived only in its rows; poll-once and the poller printed
    counts, so a mistyped Slack URL meant alerts that silently never arrived."""
    with session_scope(engine) as session:
        rows = session.execute(select(Delivery.url, Delivery.delivered_at, Delivery.last_error,
                                      Delivery.attempts, Delivery.next_attempt_at).order_by(Delivery.id)).all()
    blank = {"delivered": 0, "waiting": 0, "last_delivered": None, "last_error": None, "attempts": 0,
             "next_attempt": None}
    table = {w.url: dict(blank) for w in webhooks}
    for url, delivered_at, error, attempts, next_at in rows:
        entry = table.setdefault(url, dict(blank))
        if delivered_at is not None:
            entry["delivered"] += 1
            entry["last_delivered"] = max(filter(None, (entry["last_delivered"], delivered_at)))
        else:
            entry["waiting"] += 1
            if error:
                entry.update(last_error=error, attempts=attempts, next_attempt=next_at)
    # subtle: two hooks on one host read the same but for their hash: the config's number and
    # format tell them apart
    configured = {w.url: {"number": i, "format": w.format} for i, w in enumerate(webhooks, 1)}
    gone = {"number": None, "format": None}
    return pd.DataFrame([{"webhook": shown_url(url), "in_config": url in configured, **configured.get(url, gone),
                          **entry} for url, entry in table.items()],
                        columns=["webhook", "in_config", "number", "format", *blank])
