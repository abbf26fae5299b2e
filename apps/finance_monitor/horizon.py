"""The articles trends and alerts read: classified ones over the look-back horizon (the last
``alerts.horizon_windows`` windows up to the newest article), a first poll's undated backlog
left out, each as an :class:`Observation` with its trend keys.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.orm import Session

from shared import session_scope

from .config import AlertConfig
from .ingest import plausible_published
from .store import Article, in_backlog
from .trends import Observation, window_start


def horizon_observations(engine: Engine, alerts: AlertConfig) -> list[Observation]:
    """The classified articles of the last ``alerts.horizon_windows`` windows as (id,
    time, keys, sentiment, score), a first poll's undated backlog left out; a time in the
    future (a row stored before ingest clamped it) counts as its fetch time.

    subtle: a clamped time is never later than ``published``, so ``published >= oldest``
    keeps every article of the horizon (and maybe a few clamped ones ``window_stats``
    drops); the query reads the horizon, not every article ever stored.
    """
    with session_scope(engine) as session:
        oldest = horizon_start(session, alerts)
        if oldest is None:
            return []
        rows = session.execute(select(
            Article.id, Article.published, Article.fetched_at, Article.topic, Article.tickers,
            Article.sentiment, Article.sentiment_score)
            .where(Article.classified_at.is_not(None), Article.published >= oldest, in_trends())).all()
    return [Observation(article_id=i, published=plausible_published(published, fetched),
                        keys=_keys(topic, tickers), sentiment=sentiment, score=score or 0.0)
            for i, published, fetched, topic, tickers, sentiment, score in rows]


def horizon_start(session: Session, alerts: AlertConfig) -> datetime | None:
    """The start of the look-back horizon's first window (None: no article yet)."""
    newest = _newest_time(session)
    if newest is None:
        return None
    return window_start(newest, alerts.window_hours) \
        - (alerts.horizon_windows - 1) * timedelta(hours=alerts.window_hours)


def in_trends() -> ColumnElement[bool]:
    """The articles trends and alerts count: all but a first poll's undated backlog."""
    return ~in_backlog()


def _newest_time(session: Session) -> datetime | None:
    """The latest (clamped) time of a classified article trends count; None when there is none."""
    newest = None
    query = (select(Article.published, Article.fetched_at)
             .where(Article.classified_at.is_not(None), in_trends()).order_by(Article.published.desc()))
    for published, fetched in session.execute(query).yield_per(64):
        if newest is not None and published <= newest:
            break  # a clamped time is at most its published one: no later row is newer
        moment = plausible_published(published, fetched)
        newest = moment if newest is None else max(newest, moment)
    return newest


def _keys(topic: str, tickers: str) -> tuple[str, ...]:
    """Trend keys of one article: ``("topic:Earnings", "ticker:NWB", ...)``."""
    return (f"topic:{topic}",) + tuple(f"ticker:{t}" for t in tickers.split(",") if t)
