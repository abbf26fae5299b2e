"""Read-only queries shaped for the dashboard and the CLI (pandas frames and plain records);
source and webhook health are in ``health``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import ColumnElement, Engine, func, or_, select

from shared import session_scope
from shared.errors import VerticalsError

from .alerts import key_label
from .classify import SENTIMENTS, split_sentences
from .store import (
    AlertFollowUp,
    AlertNotice,
    AlertRow,
    Article,
    ArticleUrl,
    Backlog,
    Correction,
    UrlTitle,
    in_backlog,
    merged_into,
)
from .trends import WindowStat, trend_rows

if TYPE_CHECKING:
    import altair as alt

ARTICLE_COLUMNS = ["id", "published", "source", "title", "topic", "sentiment", "score",
                   "tickers", "duplicates", "url", "backlog"]


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
    # the key's human name, as its webhooks say it (:func:`.alerts.key_label`): ``$NWB``,
    # ``Earnings``, ``$NWB (Northwind Bank)`` where the config names the company. subtle: a
    # ticker's alert read "ACME" in the CLI and "$ACME" in Slack, and could not be told from a
    # topic named ACME; an analyst with many tickers read "$KSTL" and had to look it up
    label: str
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None  # UTC, "2026-03-05 14:02:37"
    grew_from: int | None = None  # announced again: the negatives it was announced with before
    lifted_ack_of: str | None = None  # who had acknowledged it before it grew
    raised_at: str | None = None  # UTC, when the monitor raised it (the window is the news' time)
    announced: int | None = None  # the negatives its webhooks last carried (AlertNotice)
    went_on: tuple[dict, ...] = ()  # later windows that surged while it cooled down (AlertFollowUp)

    @property
    def growth_note(self) -> str:
        """``""``, or ``"announced again: it grew from 10 negative articles (acknowledged by
        alice before)"``."""
        if self.grew_from is None:
            return ""
        lifted = f" (acknowledged by {self.lifted_ack_of} before)" if self.lifted_ack_of else ""
        return f"announced again: it grew from {self.grew_from} negative articles{lifted}"

    @property
    def announced_note(self) -> str:
        """``""``, or ``"announced with 6 negative articles: its window has grown since"`` where the
        webhooks carried fewer than the alert counts now (raised while its window filled).

        subtle: Slack said 6 of 7 and the dashboard later 9 of 10, with nothing to link them."""
        if self.announced is None or self.announced == self.negatives:
            return ""
        return f"announced with {self.announced} negative articles: its window has grown since"

    @property
    def went_on_note(self) -> str:
        """``""``, or ``"its surge went on: 10 negative of 13 articles in 2026-03-05 12:00 to
        2026-03-05 18:00 UTC; no new alert while it cools down"``, a part per later window."""
        if not self.went_on:
            return ""
        parts = [f"{w['negatives']} negative of {w['total']} articles in {w['window_start']:%Y-%m-%d %H:%M} to "
                 f"{w['window_end']:%Y-%m-%d %H:%M} UTC" for w in self.went_on]
        return f"its surge went on: {', then '.join(parts)}; no new alert while it cools down"

    @property
    def corrected(self) -> int:
        """How many of the articles that drove it an analyst has since corrected away from
        negative: the stored counts are the ones it was raised with."""
        return sum(a["sentiment"] != "negative" for a in self.articles)

    @property
    def correction_note(self) -> str:
        """``""``, or ``"2 of its 20 negative articles since corrected to another sentiment"``."""
        if not self.corrected:
            return ""
        return (f"{self.corrected} of its {len(self.articles)} negative articles since corrected "
                "to another sentiment")

    @property
    def state(self) -> str:
        """``""`` while open, else ``"acknowledged by alice at 2026-03-05 14:02 UTC"``."""
        if not self.acknowledged:
            return ""
        return f"acknowledged by {self.acknowledged_by or 'someone'} at {self.acknowledged_at} UTC"


def alerts(engine: Engine, include_acknowledged: bool = False,
           companies: Mapping[str, Sequence[str]] | None = None) -> list[AlertView]:
    """Alerts, newest window first, each with its driving articles (oldest first); ``companies``:
    the config's ``[tickers]``, to name a ticker's company (:func:`.alerts.key_label`)."""
    with session_scope(engine) as session:
        query = select(AlertRow).order_by(AlertRow.window_start.desc(), AlertRow.id.desc())
        if not include_acknowledged:
            query = query.where(AlertRow.acknowledged_at.is_(None))
        views = []
        for alert in session.scalars(query).all():
            found = session.scalars(select(Article).where(Article.id.in_(alert.driver_ids())))
            by_analyst = set(session.scalars(select(Correction.article_id).where(
                Correction.article_id.in_(alert.driver_ids()), Correction.field == "sentiment")))
            articles = [_driver(a, a.id in by_analyst) for a in sorted(found, key=lambda a: (a.published, a.id))]
            notice = session.get(AlertNotice, alert.id)
            went_on = session.scalars(select(AlertFollowUp).where(AlertFollowUp.alert_id == alert.id)
                                      .order_by(AlertFollowUp.window_start)).all()
            views.append(AlertView(
                id=alert.id, key=alert.key, window_start=f"{alert.window_start:%Y-%m-%d %H:%M}",
                window_end=f"{alert.window_end:%Y-%m-%d %H:%M}", negatives=alert.negatives,
                total=alert.total, baseline=alert.baseline, score=alert.score,
                acknowledged=alert.acknowledged_at is not None, articles=articles,
                acknowledged_by=alert.acknowledged_by,
                acknowledged_at=f"{alert.acknowledged_at:%Y-%m-%d %H:%M:%S}" if alert.acknowledged_at else None,
                grew_from=notice.grew_from if notice else None,
                lifted_ack_of=notice.acknowledged_by if notice else None,
                raised_at=f"{alert.created_at:%Y-%m-%d %H:%M:%S}",
                announced=notice.negatives if notice else None,
                went_on=tuple({"window_start": w.window_start, "window_end": w.window_end,
                               "negatives": w.negatives, "total": w.total} for w in went_on),
                label=key_label(alert.key, companies)))
    return views


def open_alert_keys(engine: Engine, kind: str | None = None) -> list[str]:
    """The keys (``"ticker:NWB"``) of the alerts not yet acknowledged: one query, no articles.
    With ``kind`` (``topic`` or ``ticker``), that kind's only, as the trends name them (``NWB``)."""
    with session_scope(engine) as session:
        keys = list(session.scalars(select(AlertRow.key).where(AlertRow.acknowledged_at.is_(None))))
    if kind is None:
        return keys
    return [key.partition(":")[2] for key in keys if key.startswith(f"{kind}:")]


def open_alert_windows(engine: Engine, kind: str) -> dict[str, datetime]:
    """Each ``kind``'s key with open alerts, as the trends name it (``NWB``), and the window its
    oldest open alert is in; oldest first, in one query (no articles)."""
    with session_scope(engine) as session:
        rows = session.execute(select(AlertRow.key, func.min(AlertRow.window_start).label("start"))
                               .where(AlertRow.acknowledged_at.is_(None), AlertRow.key.startswith(f"{kind}:"))
                               .group_by(AlertRow.key).order_by("start")).all()
    return {key.partition(":")[2]: start for key, start in rows}


def trend_keys(frame: pd.DataFrame, kind: str, alerted: list[str]) -> list[str]:
    """The keys a trend view opens on, those with open alerts first, then the most negative:
    every topic (a handful), or the first tickers of :func:`default_keys` (there can be hundreds)."""
    return default_keys(frame, alerted, limit=frame["key"].nunique() if kind == "topic" else 5)


def _driver(found: Article, by_analyst: bool = False) -> dict:
    """One article behind an alert; its driving sentences only where they say more than the
    title shown beside them (blank when the title drove the verdict, headline-only or not), and
    "set by an analyst" for a sentiment an analyst set (the model's sentences had argued for the
    label the analyst overruled)."""
    driving = "set by an analyst" if by_analyst else " | ".join(_beyond_title(found.driving_sentences(), found.title))
    return {"id": found.id, "title": found.title, "url": found.url, "source": found.source,
            "published": found.published, "driving": driving, "sentiment": found.sentiment}


def _beyond_title(sentences: list[str], title: str) -> list[str]:
    """The sentences that are neither the title nor one of its sentences, ignoring case,
    spacing and end punctuation.

    subtle: a story with text is classified as "title. text", so its title comes back as a
    driving sentence with a full stop the headline never had.

    >>> _beyond_title(["Bank fined.", "Shares slid 9%."], "BANK  fined")
    ['Shares slid 9%.']
    >>> _beyond_title(["Shares slid!"], "Shares slid! CEO quits")
    []
    """
    said = {_plain(s) for s in [title, *split_sentences(title)]}
    return [s for s in sentences if _plain(s) not in said]


def _plain(sentence: str) -> str:
    """``" Bank  FINED!. "`` -> ``"bank fined"``: what a sentence says, for comparing."""
    return " ".join(sentence.split()).casefold().rstrip(" .!?;:…")


ARTICLE_LIMIT = 500  # articles a table shows, newest first


def _article_filters(topic: str | None, sentiment: str | None, source: str | None,
                     search: str | None) -> list[ColumnElement[bool]]:
    """Topic, sentiment and source match in any case ("legal | regulation"); a sentiment that
    is none of the three is an error, not an empty list."""
    clauses = []
    if topic:
        clauses.append(func.lower(Article.topic) == topic.strip().lower())
    if sentiment:
        if sentiment.strip().lower() not in SENTIMENTS:
            raise VerticalsError(f"sentiment {sentiment!r} is not one of {', '.join(SENTIMENTS)}")
        clauses.append(Article.sentiment == sentiment.strip().lower())
    if source:
        clauses.append(func.lower(Article.source) == source.strip().lower())
    if search:  # subtle: a user's "%" or "_" is a character to find, not a wildcard (autoescape)
        # a story told under other headlines and URLs is found by each of them
        told = (select(ArticleUrl.article_id).outerjoin(UrlTitle, UrlTitle.url == ArticleUrl.url)
                .where(_telling_has(search)))
        clauses.append(or_(*(column.icontains(search, autoescape=True)
                             for column in (Article.title, Article.text, Article.tickers)),
                           Article.id.in_(told)))
    return clauses


def told_as(engine: Engine, article_ids: list[int], search: str) -> dict[int, str]:
    """For stories whose own headline lacks ``search``: ``"b: Regulator fines the bank"``, the
    source and headline (or URL) of another telling that has it, by which the search found
    them; the story's own URL is no other telling.

    subtle: `articles --search` listed a story under a headline without the searched word, and
    nothing said which source's headline had it."""
    if not article_ids or not search:
        return {}
    with session_scope(engine) as session:
        rows = session.execute(select(ArticleUrl.article_id, ArticleUrl.source, ArticleUrl.url, UrlTitle.title)
                               .join(Article, Article.id == ArticleUrl.article_id)
                               .outerjoin(UrlTitle, UrlTitle.url == ArticleUrl.url)
                               .where(ArticleUrl.article_id.in_(article_ids), ArticleUrl.url != Article.url,
                                      _telling_has(search))
                               .order_by(ArticleUrl.seen_at)).all()
    found: dict[int, str] = {}
    for article_id, source, url, title in rows:
        found.setdefault(article_id, f"{source}: {title if title and search.lower() in title.lower() else url}")
    return found


def _telling_has(search: str) -> ColumnElement[bool]:
    """A telling of a story (a URL, and its own headline where it had one) holds ``search``:
    literal, any case. Rows of ``ArticleUrl`` outer-joined to ``UrlTitle``."""
    return or_(ArticleUrl.url.icontains(search, autoescape=True), UrlTitle.title.icontains(search, autoescape=True))


def count_articles(engine: Engine, topic: str | None = None, sentiment: str | None = None,
                   source: str | None = None, search: str | None = None) -> int:
    """How many articles ``articles_frame`` would show without its limit."""
    query = select(func.count(Article.id)).where(*_article_filters(topic, sentiment, source, search))
    with session_scope(engine) as session:
        return session.scalar(query) or 0


def articles_frame(engine: Engine, topic: str | None = None, sentiment: str | None = None,
                   source: str | None = None, search: str | None = None,
                   limit: int = ARTICLE_LIMIT) -> pd.DataFrame:
    """Newest ``limit`` articles first, filtered by topic / sentiment / source / text
    (case-insensitive, literal); a first poll's undated backlog after the rest (dated when
    fetched, it had topped the list as the newest news), marked ``backlog`` (unmarked, the CLI's
    list ran out of date order and its counts ran one above the trends'). An analyst's sentiment
    has no score: the model's is gone, and the label's own (+1.00) read as a model's certainty."""
    query = (select(Article, in_backlog()).where(*_article_filters(topic, sentiment, source, search))
             .order_by(in_backlog(), Article.published.desc()).limit(limit))
    with session_scope(engine) as session:
        pairs = session.execute(query).all()
        found, backlog = [a for a, _ in pairs], [bool(b) for _, b in pairs]
        by_analyst = set(session.scalars(select(Correction.article_id).where(
            Correction.field == "sentiment", Correction.article_id.in_([a.id for a in found]))))
        rows = [[a.id, a.published, a.source, a.title, a.topic, a.sentiment,
                 None if a.id in by_analyst else _shown(a.sentiment_score), a.tickers, a.duplicates, a.url, b]
                for a, b in zip(found, backlog, strict=True)]
    return pd.DataFrame(rows, columns=ARTICLE_COLUMNS).astype({"score": float})  # no score: NaN, not None


def _shown(score: float | None) -> float | None:
    """A score at the 2 places the dashboard shows, with no negative zero: ``-0.001 -> 0.0``
    (it read "-0.00")."""
    return None if score is None else round(score, 2) + 0.0


def acknowledgement(engine: Engine, alert_id: int) -> tuple[datetime | None, str | None] | None:
    """When and by whom an alert was acknowledged: (None, None) while it is open; None when no
    such alert exists."""
    with session_scope(engine) as session:
        row = session.execute(select(AlertRow.acknowledged_at, AlertRow.acknowledged_by)
                              .where(AlertRow.id == alert_id)).first()
    return None if row is None else (row.acknowledged_at, row.acknowledged_by)


def topics(engine: Engine) -> list[str]:
    """The topics that occur among stored articles, sorted."""
    with session_scope(engine) as session:
        found = session.scalars(select(Article.topic).distinct()
                                .where(Article.topic.is_not(None))).all()
    return sorted(found)


def sources(engine: Engine) -> list[str]:
    """The sources of stored articles, sorted (ones the config no longer names too)."""
    with session_scope(engine) as session:
        return sorted(session.scalars(select(Article.source).distinct()).all())


def article(engine: Engine, article_id: int) -> dict | None:
    """One article with its text and driving sentences, which labels an analyst set
    (``corrected``: ``["sentiment"]``), and the other URLs that told it (``also``: source,
    reason ``same_text`` / ``near_dup`` / ``reworded``, URL, and the headline where it was
    another; oldest first). The id of a rewording merged away gives the story it joined, with
    ``merged_from`` set to that id (None otherwise); ``backlog``: whether it is of a first
    poll's undated backlog (:class:`~.store.Backlog`); an unknown id gives None."""
    with session_scope(engine) as session:
        found, merged_from = session.get(Article, article_id), None
        if found is None:
            if (joined := merged_into(session, article_id)) is None:
                return None
            found, merged_from = session.get(Article, joined), article_id
        corrected = sorted(session.scalars(select(Correction.field).where(Correction.article_id == found.id)))
        also = session.execute(select(ArticleUrl.source, ArticleUrl.reason, ArticleUrl.url, UrlTitle.title)
                               .outerjoin(UrlTitle, UrlTitle.url == ArticleUrl.url)
                               .where(ArticleUrl.article_id == found.id, ArticleUrl.url != found.url)
                               .order_by(ArticleUrl.seen_at)).all()
        return {"id": found.id, "title": found.title, "text": found.text, "url": found.url,
                "topic": found.topic, "sentiment": found.sentiment,
                "score": _shown(found.sentiment_score), "driving": found.driving_sentences(),
                "tickers": found.ticker_list(), "corrected": corrected, "merged_from": merged_from,
                "backlog": session.get(Backlog, found.id) is not None,
                "also": [{"source": source, "reason": reason, "url": url,
                          "title": title if title != found.title else None}
                         for source, reason, url, title in also]}


def trends_frame(stats: dict[str, list[WindowStat]], kind: str = "topic") -> pd.DataFrame:
    """Trend rows for keys of one kind (``topic`` or ``ticker``), key prefix removed."""
    frame = pd.DataFrame(trend_rows({k: v for k, v in stats.items()
                                     if k.startswith(f"{kind}:")}),
                         columns=["key", "window", "count", "negatives", "positives", "negative_share",
                                  "net_sentiment"])
    # subtle: not .str.partition, whose empty result has no column 2 (a KeyError with no tickers)
    frame["key"] = [key.partition(":")[2] for key in frame["key"]]
    return frame


def default_keys(frame: pd.DataFrame, alerted: list[str], limit: int = 5) -> list[str]:
    """The keys a trend chart opens on: those with open alerts, then the ones with the most
    negative articles (ties alphabetical), ``limit`` in all unless more have alerts.

    >>> frame = pd.DataFrame({"key": ["A", "B", "C", "C"], "negatives": [1, 5, 2, 2]})
    >>> default_keys(frame, alerted=["A"], limit=2)
    ['A', 'B']
    """
    negatives = frame.groupby("key")["negatives"].sum().sort_values(ascending=False, kind="stable")
    shown = [key for key in alerted if key in negatives.index]
    return (shown + [key for key in negatives.index if key not in shown])[:max(limit, len(shown))]


# a trend row's measures, as a chart names them
MEASURES = {"negatives": "negative articles", "negative_share": "negative share",
            "net_sentiment": "net sentiment", "count": "articles"}


def trend_chart(frame: pd.DataFrame, kind: str, metric: str) -> alt.Chart:
    """One line per key over the windows, on a UTC axis with 24-hour labels. subtle: the
    browser read naive times as its own local time (a reader in New York saw 09:00 UTC at 09:00
    on an axis saying UTC) and labelled them "06 PM"."""
    import altair as alt  # the dashboard's: the CLI reads this module too

    shown = frame.assign(window=pd.to_datetime(frame["window"]).dt.tz_localize("UTC"))
    return alt.Chart(shown).mark_line(point=True).encode(
        x=alt.X("window:T", title="window start (UTC)", scale=alt.Scale(type="utc"),
                axis=alt.Axis(format="%d %b %H:%M", labelAngle=0)),
        y=alt.Y(f"{metric}:Q", title=MEASURES[metric]),
        color=alt.Color("key:N", title=kind),
        tooltip=[alt.Tooltip("key:N", title=kind),
                 # subtle: a temporal tooltip's format is the browser's local time; the UTC time unit is not
                 alt.Tooltip("utcyearmonthdatehoursminutes(window):T", title="window start (UTC)",
                             format="%Y-%m-%d %H:%M"),
                 alt.Tooltip(f"{metric}:Q", title=MEASURES[metric])])
