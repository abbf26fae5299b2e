"""Read-only queries shaped for the dashboard and the CLI (pandas frames and plain records)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, or_, select

from shared import session_scope

from .store import AlertRow, Article, SourceHealth
from .trends import WindowStat, trend_rows

ARTICLE_COLUMNS = ["id", "published", "source", "title", "topic", "sentiment", "score",
                   "tickers", "duplicates", "url"]


@dataclass(frozen=True)
class AlertView:
    """An alert with its driving articles' headlines, for display."""

    id: int
    key: str
    window_start: str
    window_end: str
    negatives: int
    total: int
    baseline: float
    score: float
    acknowledged: bool
    articles: list[dict]

    @property
    def label(self) -> str:
        kind, _, name = self.key.partition(":")
        return f"${name}" if kind == "ticker" else name


def alerts(engine: Engine, include_acknowledged: bool = False) -> list[AlertView]:
    """Alerts, newest window first, each with its driving articles."""
    with session_scope(engine) as session:
        query = select(AlertRow).order_by(AlertRow.window_start.desc(), AlertRow.id.desc())
        if not include_acknowledged:
            query = query.where(AlertRow.acknowledged_at.is_(None))
        views = []
        for alert in session.scalars(query).all():
            ids = alert.driver_ids()
            found = {a.id: a for a in session.scalars(select(Article)
                                                      .where(Article.id.in_(ids))).all()}
            articles = [{"id": i, "title": found[i].title, "url": found[i].url,
                         "source": found[i].source, "published": found[i].published,
                         "driving": " | ".join(found[i].driving_sentences())}
                        for i in ids if i in found]
            views.append(AlertView(
                id=alert.id, key=alert.key, window_start=f"{alert.window_start:%Y-%m-%d %H:%M}",
                window_end=f"{alert.window_end:%Y-%m-%d %H:%M}", negatives=alert.negatives,
                total=alert.total, baseline=alert.baseline, score=alert.score,
                acknowledged=alert.acknowledged_at is not None, articles=articles))
    return views


def articles_frame(engine: Engine, topic: str | None = None, sentiment: str | None = None,
                   source: str | None = None, search: str | None = None,
                   limit: int = 500) -> pd.DataFrame:
    """Newest articles first, filtered by topic / sentiment / source / text (case-insensitive)."""
    query = select(Article).order_by(Article.published.desc()).limit(limit)
    if topic:
        query = query.where(Article.topic == topic)
    if sentiment:
        query = query.where(Article.sentiment == sentiment)
    if source:
        query = query.where(Article.source == source)
    if search:
        like = f"%{search}%"
        query = query.where(or_(Article.title.ilike(like), Article.text.ilike(like),
                                Article.tickers.ilike(like)))
    with session_scope(engine) as session:
        rows = [[a.id, a.published, a.source, a.title, a.topic, a.sentiment,
                 a.sentiment_score, a.tickers, a.duplicates, a.url]
                for a in session.scalars(query).all()]
    return pd.DataFrame(rows, columns=ARTICLE_COLUMNS)


def topics(engine: Engine) -> list[str]:
    """The topics that occur among stored articles, sorted."""
    with session_scope(engine) as session:
        found = session.scalars(select(Article.topic).distinct()
                                .where(Article.topic.is_not(None))).all()
    return sorted(found)


def article(engine: Engine, article_id: int) -> dict | None:
    """One article with its text and driving sentences."""
    with session_scope(engine) as session:
        found = session.get(Article, article_id)
        if found is None:
            return None
        return {"id": found.id, "title": found.title, "text": found.text, "url": found.url,
                "topic": found.topic, "sentiment": found.sentiment,
                "driving": found.driving_sentences(), "tickers": found.ticker_list()}


def health_frame(engine: Engine) -> pd.DataFrame:
    """Source health: last success, last error, articles in the last poll, failure streak."""
    with session_scope(engine) as session:
        rows = [[h.source, h.url, h.last_success, h.last_error_at, h.last_error,
                 h.consecutive_failures, h.articles_last_poll, h.total_new, h.polls]
                for h in session.scalars(select(SourceHealth).order_by(SourceHealth.source))]
    return pd.DataFrame(rows, columns=["source", "url", "last_success", "last_error_at",
                                       "last_error", "failures_in_a_row", "new_last_poll",
                                       "new_total", "polls"])


def trends_frame(stats: dict[str, list[WindowStat]], kind: str = "topic") -> pd.DataFrame:
    """Trend rows for keys of one kind (``topic`` or ``ticker``), key prefix removed."""
    frame = pd.DataFrame(trend_rows({k: v for k, v in stats.items()
                                     if k.startswith(f"{kind}:")}),
                         columns=["key", "window", "count", "negatives", "negative_share",
                                  "net_sentiment"])
    frame["key"] = frame["key"].str.partition(":")[2]
    return frame
