"""The monitor's tables (prefix ``finance_``). Unique constraints make every write idempotent:
a restarted poller re-inserting what it already stored changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


def utcnow() -> datetime:
    """Now in UTC, naive (SQLite stores naive datetimes; everything here is UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(moment: datetime) -> datetime:
    """``moment`` converted to UTC and stripped of its tzinfo (naive input is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


class Base(DeclarativeBase):
    pass


class Article(Base):
    """One story, however many URLs it arrived under."""

    __tablename__ = "finance_articles"
    # subtle: a rewording merged away is deleted; without AUTOINCREMENT SQLite gives its id,
    # when it was the newest, to the next story (databases made before keep reusing: see ingest)
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(32), unique=True)
    url: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[datetime] = mapped_column(DateTime, index=True)
    fetched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    tickers: Mapped[str] = mapped_column(String(200), default="")  # comma-separated
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    topic: Mapped[str | None] = mapped_column(String(100), index=True)
    topic_score: Mapped[float | None] = mapped_column(Float)
    sentiment: Mapped[str | None] = mapped_column(String(20))
    sentiment_score: Mapped[float | None] = mapped_column(Float)  # P(pos) - P(neg), in [-1, 1]
    driving: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of sentences
    classified_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)

    def driving_sentences(self) -> list[str]:
        return json.loads(self.driving or "[]")

    def ticker_list(self) -> list[str]:
        return [t for t in self.tickers.split(",") if t]


class ArticleUrl(Base):
    """Every canonical URL we have seen, and the story it belongs to."""

    __tablename__ = "finance_article_urls"

    url: Mapped[str] = mapped_column(String(2000), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("finance_articles.id"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(20))  # new / same_url / same_text / near_dup / reworded
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class UrlTitle(Base):
    """The headline a URL told its story under, where that is not the story's own (a
    near-duplicate, or a rewording merged away), and the id a merged-away rewording had: a
    search for that headline, or a look-up of that id, finds the story."""

    __tablename__ = "finance_url_titles"

    url: Mapped[str] = mapped_column(ForeignKey("finance_article_urls.url"), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    former_id: Mapped[int | None] = mapped_column(Integer, index=True)


class Backlog(Base):
    """A story a source's first poll brought with no readable date: dated when fetched, it may
    be weeks old, so trends and alerts leave it out (a new feed's undated backlog raised a surge
    alert for the hour it was added). Later polls' undated stories are that hour's news."""

    __tablename__ = "finance_backlog"

    article_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # no foreign key: merges delete
    source: Mapped[str] = mapped_column(String(200))


class HeadlineVector(Base):
    """A classified story's headline vector (MiniLM, float32), kept for the rewording search
    (:mod:`.rewordings`) across processes; ``title`` says which headline it is of (an id of a
    deleted story can be given again)."""

    __tablename__ = "finance_headline_vectors"

    article_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # no foreign key: merges delete
    title: Mapped[str] = mapped_column(Text)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


def in_backlog() -> ColumnElement[bool]:
    """Whether an article is of a first poll's backlog, as a query's clause."""
    return Article.id.in_(select(Backlog.article_id))


def out_of_backlog(session: Session, article_ids: list[int]) -> None:
    """Take stories out of the backlog: told again now, they are current news (or gone)."""
    session.execute(delete(Backlog).where(Backlog.article_id.in_(article_ids)))


def told_again(session: Session, story: Article, when: datetime | None) -> None:
    """``story`` told again now by a telling published ``when`` (None: undated): current news,
    out of the backlog. A backlog story is undated, stored at its fetch time: a telling dated
    earlier gives it that date (subtle: a telling dated yesterday counted in today's window)."""
    if when is not None and when < story.published and session.get(Backlog, story.id) is not None:
        story.published = when
    out_of_backlog(session, [story.id])


def merged_into(session: Session, former_id: int) -> int | None:
    """The story a rewording merged away (it had ``former_id``) joined; None when none did."""
    # subtle: a database made before AUTOINCREMENT may have given that id to a later rewording,
    # merged away too: the latest merge is the one a reader saw the id of
    return session.scalar(select(ArticleUrl.article_id).join(UrlTitle, UrlTitle.url == ArticleUrl.url)
                          .where(UrlTitle.former_id == former_id).order_by(ArticleUrl.seen_at.desc()).limit(1))


class SourceHealth(Base):
    """The last thing each source did, for the dashboard and for conditional GETs."""

    __tablename__ = "finance_source_health"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    url: Mapped[str] = mapped_column(Text, default="")
    last_attempt: Mapped[datetime | None] = mapped_column(DateTime)
    last_success: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    articles_last_poll: Mapped[int] = mapped_column(Integer, default=0)
    total_new: Mapped[int] = mapped_column(Integer, default=0)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)


class Poll(Base):
    """One poll of one source (the history behind source health)."""

    __tablename__ = "finance_polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime] = mapped_column(DateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class AlertRow(Base):
    """A raised surge alert; (key, window_start) is unique so a re-run never doubles one."""

    __tablename__ = "finance_alerts"
    __table_args__ = (UniqueConstraint("key", "window_start", name="uq_finance_alert_window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)  # "topic:Earnings", "ticker:NWB"
    window_start: Mapped[datetime] = mapped_column(DateTime)
    window_end: Mapped[datetime] = mapped_column(DateTime)
    negatives: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    article_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON, the drivers
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))

    def driver_ids(self) -> list[int]:
        return json.loads(self.article_ids or "[]")


class AlertNotice(Base):
    """What an alert was last announced with (raised, or announced again once its window held
    at least twice the negative articles: its webhooks sent again, an acknowledgement lifted).
    Alerts raised before this table existed have none: their stored counts stand in."""

    __tablename__ = "finance_alert_notices"

    alert_id: Mapped[int] = mapped_column(ForeignKey("finance_alerts.id"), primary_key=True)
    negatives: Mapped[int] = mapped_column(Integer)  # at the last announcement
    grew_from: Mapped[int | None] = mapped_column(Integer)  # at the one before (None: announced once)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))  # the acknowledgement it lifted


class AlertFollowUp(Base):
    """A later window of an alert's key that surged too while the alert cooled down: one surge,
    one alert and one webhook, but the analyst sees that it went on (the demo's ``$NWB`` window
    after its alert, 10 negative of 13, had been in no alert). A window whose surge escalated
    into an alert of its own is none."""

    __tablename__ = "finance_alert_follow_ups"

    alert_id: Mapped[int] = mapped_column(ForeignKey("finance_alerts.id"), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    window_end: Mapped[datetime] = mapped_column(DateTime)
    negatives: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)


class Delivery(Base):
    """Webhook outbox: a row per (alert, webhook), retried until delivered."""

    __tablename__ = "finance_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "url", name="uq_finance_delivery"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("finance_alerts.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    format: Mapped[str] = mapped_column(String(20), default="json")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)


class Correction(Base):
    """An analyst's fix of an article's topic or sentiment: labelled data for retraining."""

    __tablename__ = "finance_corrections"
    __table_args__ = (UniqueConstraint("article_id", "field", name="uq_finance_correction"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("finance_articles.id"))
    field: Mapped[str] = mapped_column(String(20))  # "topic" or "sentiment"
    old: Mapped[str | None] = mapped_column(String(100))
    new: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)  # consumed by a retrain
