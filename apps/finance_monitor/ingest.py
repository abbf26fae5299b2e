"""Storing fetched articles exactly once: one transaction per article, three dedupe checks.

1. the canonical URL was seen before -> nothing to do;
2. the same text under another URL (content hash) -> remember the URL, count a duplicate;
3. the same story reworded (MinHash + shingle containment) -> likewise;
4. otherwise a new article, stored unclassified (classification runs after, in batches).

Because each article commits on its own and the URL table has a primary key, a process killed
mid-poll loses at most the article in flight, which the next poll stores again.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from shared import get_settings, session_scope
from shared.language import language
from shared.storage import file_lock

from .classify import clean_text, mentioned_tickers
from .dedupe import NearDuplicateIndex, canonical_url, content_hash, near_duplicates, url_variants
from .sources import RawArticle, article_body
from .store import Article, ArticleUrl, Backlog, UrlTitle, naive_utc, told_again, utcnow

log = logging.getLogger(__name__)
RECENT = 5000  # stories kept in the near-duplicate index
MAX_TOLD = 10_000  # skipped entries remembered as logged (then forgotten, and logged once more)
CLOCK_SKEW = timedelta(minutes=15)  # how far ahead of our clock a publisher's may run
# the same (or nearly the same) text published further apart than this is a new story:
# "Oil prices fall" next month is news again, and trends must count it
REPEAT_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class IngestReport:
    """How many of a batch were new and why the rest were not."""

    new: int = 0
    same_url: int = 0
    same_text: int = 0
    near_dup: int = 0
    bad_link: int = 0  # skipped: a link no URL parser accepts (bad port, broken IPv6 host)
    other_language: int = 0  # skipped: written in another language than the models read
    undated: int = 0  # of the new, past a source's first poll: no readable date, so dated when fetched
    backlog: int = 0  # of the new, at a source's first poll: no readable date, so out of trends (store.Backlog)

    @property
    def duplicates(self) -> int:
        return self.same_text + self.near_dup

    @property
    def seen(self) -> int:
        return self.new + self.same_url + self.same_text + self.near_dup + self.bad_link + self.other_language


class Ingestor:
    """Dedupe-and-store for one database; safe across threads and processes of one home.

    subtle: the near-duplicate index lives in memory, so a batch is stored under a lock file
    of the home (``<home>/finance/ingest.lock``) after the index has caught up with what other
    processes stored; a ``poll-once`` beside ``run`` stored 7 reworded stories twice without.
    """

    def __init__(self, engine: Engine, aliases: dict[str, tuple[str, ...]] | None = None,
                 language: str = "") -> None:
        """``language``: the one the models read; an article in another is skipped and counted
        (``""``: every article is stored)."""
        self.engine, self.aliases, self.language = engine, aliases or {}, language
        self._near: NearDuplicateIndex | None = None
        self._seen_id = 0  # the newest stored article the index has read
        self._lock = threading.Lock()
        # subtle: a skipped entry is never stored, so each poll meets it again: said once (a
        # 5-second source logged the same line every 5 s); source health counts it every poll
        self._told: set[tuple[str, str]] = set()

    def _warn_once(self, raw: RawArticle, why: str) -> None:
        key = (raw.source, raw.url or raw.title)  # entries without a link differ by their titles
        if key not in self._told:
            if len(self._told) >= MAX_TOLD:
                self._told.clear()
            self._told.add(key)
            log.warning("source %s: skipped %r, %s", raw.source, raw.url or raw.title, why)

    def _index(self) -> NearDuplicateIndex:
        """The near-duplicate index: the newest stored stories on first use, then each batch
        adds what was stored since (by this process or another)."""
        if self._near is None:
            self._near = NearDuplicateIndex()
            self._read_stored(limit=RECENT)
        return self._near

    def _read_stored(self, limit: int | None = None) -> None:
        """Add the stories stored after ``_seen_id`` to the index (the newest ``limit``)."""
        with session_scope(self.engine) as session:
            rows = session.execute(select(Article.id, Article.title, Article.text)
                                   .where(Article.id > self._seen_id)
                                   .order_by(Article.id.desc()).limit(limit)).all()
        for article_id, title, text in reversed(rows):
            self._near.add(article_id, article_body(title, text))
        self._seen_id = max([self._seen_id, *(row[0] for row in rows)])

    def ingest(self, articles: list[RawArticle], first_poll: bool = False) -> IngestReport:
        """Store each article that is not already known; returns the tally. ``first_poll``: the
        source's first, whose undated stories are its backlog (:class:`~.store.Backlog`)."""
        tally: Counter[str] = Counter()
        with self._lock, file_lock(get_settings().home / "finance" / "ingest.lock"):
            if self._near is not None:
                self._read_stored()
            for raw in articles:
                reason = self._one(raw, backlog=first_poll and not raw.dated)
                tally[reason] += 1
                tally["backlog" if first_poll else "undated"] += reason == "new" and not raw.dated
        return IngestReport(**{k: tally.get(k, 0) for k in ("new", "same_url", "same_text", "near_dup",
                                                               "bad_link", "other_language", "undated", "backlog")})

    def _one(self, raw: RawArticle, backlog: bool = False) -> str:
        try:
            url, body = canonical_url(raw.url), raw.body
        except ValueError as exc:  # one bad link must not block the rest of its feed
            self._warn_once(raw, f"a bad link ({exc})")
            return "bad_link"
        try:
            with session_scope(self.engine) as session:
                # stored before, under either scheme, with or without "www.": a known story, whatever its language
                if session.scalar(select(ArticleUrl.url).where(ArticleUrl.url.in_(url_variants(url))).limit(1)):
                    return "same_url"
                if self.language and (written := language(clean_text(body))) not in (None, self.language):
                    self._warn_once(raw, f"written in {written} (the models read {self.language})")
                    return "other_language"
                digest, when = content_hash(body), plausible_published(naive_utc(raw.published), utcnow())
                # subtle: the hash is unique, so a repeat is stored under its text and day; the
                # days around this story's find such repeats as well as the first telling
                keys = [digest] + [content_hash(f"{body}\n{when.date() + timedelta(days=d)}")
                                   for d in (-1, 0, 1)]
                known = session.scalars(select(Article).where(Article.content_hash.in_(keys))).all()
                existing = next((a for a in known if _same_time(a, when)), None)
                reason = "same_text"
                if existing is None:
                    match = self._index().match(body)
                    near = session.get(Article, match) if match is not None else None
                    # subtle: the id may now be another story's (a rewording merged away gave its
                    # id back in a database made before AUTOINCREMENT): the stored text decides
                    existing = near if near is not None and _same_time(near, when) \
                        and near_duplicates(article_body(near.title, near.text), body) else None
                    reason = "near_dup"
                if existing is not None:
                    existing.duplicates += 1
                    if not backlog:  # a backlog story told again now is current news
                        told_again(session, existing, when if raw.dated else None)
                    session.add(ArticleUrl(url=url, article_id=existing.id, source=raw.source,
                                           reason=reason))
                    if raw.title != existing.title:  # a search for this outlet's headline finds the story
                        session.add(UrlTitle(url=url, title=raw.title))
                    return reason
                stored = content_hash(f"{body}\n{when.date()}") if known else digest
                article = _new_article(raw, url, stored, self.aliases)
                session.add(article)
                session.flush()
                session.add(ArticleUrl(url=url, article_id=article.id, source=raw.source,
                                       reason="new"))
                if backlog:
                    session.add(Backlog(article_id=article.id, source=raw.source))
                article_id = article.id
        except IntegrityError:
            return "same_url"  # subtle: another process stored it between our check and commit
        self._index().add(article_id, body)
        self._seen_id = max(self._seen_id, article_id)
        return "new"


def _same_time(article: Article, when: datetime) -> bool:
    """Whether a stored story and one published at ``when`` are one telling (see REPEAT_AFTER)."""
    return abs(article.published - when) <= REPEAT_AFTER


def plausible_published(published: datetime, fetched: datetime) -> datetime:
    """A published time no later than the fetch (beyond a little clock skew): a story cannot
    come from the future, and one dated 2099 would stretch every trend to 2099.

    >>> plausible_published(datetime(2099, 1, 1), datetime(2026, 3, 2, 9))
    datetime.datetime(2026, 3, 2, 9, 0)
    """
    return fetched if published > fetched + CLOCK_SKEW else published


def _new_article(raw: RawArticle, url: str, digest: str,
                 aliases: dict[str, tuple[str, ...]]) -> Article:
    fetched = utcnow()
    return Article(content_hash=digest, url=url, source=raw.source, title=raw.title,
                   text=raw.text, published=plausible_published(naive_utc(raw.published), fetched),
                   fetched_at=fetched, tickers=",".join(mentioned_tickers(raw.body, aliases)))
