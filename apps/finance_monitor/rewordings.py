"""The same story reworded by another outlet: found by sentence embeddings after classification.

Ingest's shingle checks catch a rewording that keeps most of the words ("Report: ..., sources
say"). One that changes them ("Northwind Bank CEO resigns" / "Northwind Bank chief executive
steps down") shares too few. Once a batch is classified, each new story is compared with the
stories of the day around it that another source told, with the same sentiment and tickers
(not topic: the topic model put "Northwind Bank chair steps down as accounting scandal deepens"
under Legal and "...chairman resigns as..." under Personnel, and the demo's alert counted it
twice): a headline cosine of at least ``SIMILAR`` (MiniLM) and ``same_event.same_event`` (names
and their order, amounts, periods, roles, questions, denials, direction) make it a rewording,
merged into the earlier story as one more URL, like a near-duplicate at ingest, before trends
and alerts read it.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shared.embed import Embedder

from .ingest import REPEAT_AFTER
from .same_event import same_event
from .store import Article, ArticleUrl, Backlog, HeadlineVector, UrlTitle, out_of_backlog, told_again

SIMILAR = 0.8  # headline cosine; the demo's and the tests' rewordings are 0.82-0.96, the CEO pair 0.82
CANDIDATES = 2000  # the newest stories of a day that can share a new one's sentiment and tickers
CACHED = 20_000  # headline vectors kept between batches, in memory and in the database (30 MB)


class RewordingFinder:
    """Merges just-classified stories into earlier ones they reword; keeps headline vectors, in
    memory and in the database (:class:`~.store.HeadlineVector`).

    subtle: kept in memory only, each `poll-once` (a cron job) embedded the day's headlines
    again: 24 s and 1 GB for one new story on a day of 2,900."""

    def __init__(self, model: str = "minilm") -> None:
        self.embedder = Embedder(model, lossless=True)  # a headline's vector must not depend on its batch
        self._vectors: dict[int, np.ndarray] = {}
        self._fresh: dict[int, str] = {}  # embedded here, not yet stored: id -> headline

    def merge(self, session: Session, articles: list[Article], keep: set[int] = frozenset()) -> int:
        """Merge each of ``articles`` (just labelled, oldest first) that rewords an earlier story
        into it; ``keep``: ids never merged away (an analyst corrected them). Returns how many
        were merged; they are deleted from ``session``.

        subtle: everything is read and embedded before the first write. A flush takes SQLite's
        write lock until the commit, and the scheduler's job store waited out its busy timeout
        behind a first batch that loaded MiniLM: its thread died with "database is locked"."""
        plan: dict[int, int] = {}  # merged id -> original id
        with session.no_autoflush:
            for n, article in enumerate(articles):
                if article.id in keep:
                    continue
                earlier = self._candidates(session, article) + [
                    (a.id, a.title) for a in articles[:n] if a.id not in plan and _alike(a, article)]
                if not earlier:
                    continue
                vectors = self._embed(session, [(article.id, article.title), *earlier])
                scores = vectors[1:] @ vectors[0]
                original = next((earlier[i][0] for i in np.argsort(-scores)
                                 if scores[i] >= SIMILAR and same_event(article.title, earlier[i][1])), None)
                if original is not None:
                    plan[article.id] = original
        for article in articles:
            if article.id in plan:
                _merge_into(session, article, session.get(Article, plan[article.id]))
                self._vectors.pop(article.id, None)
                self._fresh.pop(article.id, None)
        self._store(session)
        return len(plan)

    def _store(self, session: Session) -> None:
        """Write the vectors embedded since the last call (replacing an older headline's under
        the same id), and keep those of the newest ``CACHED`` ids."""
        fresh = {i: title for i, title in self._fresh.items() if i in self._vectors}
        self._fresh.clear()
        if not fresh:
            return
        # a few statements, not a query per row, inside the classify transaction
        session.execute(delete(HeadlineVector).where(HeadlineVector.article_id.in_(list(fresh))))
        session.add_all(HeadlineVector(article_id=i, title=title, vector=self._vectors[i].astype(np.float32).tobytes())
                        for i, title in fresh.items())
        session.execute(delete(HeadlineVector).where(HeadlineVector.article_id <= max(fresh) - CACHED))

    def _candidates(self, session: Session, article: Article) -> list[tuple[int, str]]:
        """(id, title) of the stored classified stories :func:`_alike` it (the newest
        ``CANDIDATES`` of its sentiment in the day around it naming its tickers, or none when it
        names none: SQL narrows by each ticker's text, :func:`_alike` checks the sets)."""
        tickers = _tickers(article.tickers)
        named = [Article.tickers.contains(t, autoescape=True) for t in sorted(tickers)] or [Article.tickers == ""]
        rows = session.execute(select(Article.id, Article.title, Article.source, Article.topic,
                                      Article.sentiment, Article.published, Article.tickers).where(
            Article.id < article.id, Article.classified_at.is_not(None), Article.sentiment == article.sentiment,
            Article.published.between(article.published - REPEAT_AFTER, article.published + REPEAT_AFTER),
            *named).order_by(Article.id.desc()).limit(CANDIDATES)).all()
        return [(row.id, row.title) for row in rows if _alike(row, article)]

    def _embed(self, session: Session, stories: list[tuple[int, str]]) -> np.ndarray:
        """Headline vectors of (id, title) pairs, in order: kept in memory, else stored for that
        headline, else embedded (and stored at the end of :meth:`merge`)."""
        missing = {i: title for i, title in stories if i not in self._vectors}
        if missing:
            for row in session.scalars(select(HeadlineVector).where(HeadlineVector.article_id.in_(list(missing)))):
                if row.title == missing[row.article_id]:
                    self._vectors[row.article_id] = np.frombuffer(row.vector, dtype=np.float32)
            missing = {i: title for i, title in missing.items() if i not in self._vectors}
        if missing:
            vectors = self.embedder.encode(list(missing.values()))
            self._vectors.update(zip(missing, vectors, strict=True))
            self._fresh.update(missing)
        out = np.stack([self._vectors[i] for i, _ in stories])
        if len(self._vectors) > CACHED:  # forget the oldest half, after reading what this call needs
            for key in list(self._vectors)[:len(self._vectors) // 2]:
                del self._vectors[key]
        return out


def _alike(earlier, article: Article) -> bool:
    """Whether ``earlier`` (a stored row or a story of the same batch, not yet stored as
    labelled) can be told again as ``article``: another source within a day, with the same
    sentiment and tickers (the story keeps the earlier telling's topic)."""
    return (earlier.source != article.source and earlier.sentiment == article.sentiment
            and abs(earlier.published - article.published) <= REPEAT_AFTER
            and _tickers(earlier.tickers) == _tickers(article.tickers))


def _tickers(stored: str) -> set[str]:
    """``"NWB,HLX" -> {"NWB", "HLX"}`` (order is the text's, not the story's)."""
    return set(filter(None, stored.split(",")))


def _merge_into(session: Session, article: Article, original: Article) -> None:
    """``article`` becomes one more URL of ``original``: its URLs point there, keeping the
    headline and id they had (``UrlTitle``); it is deleted. Told again now, a story of a first
    poll's backlog (:class:`~.store.Backlog`) is current news: it counts in trends from then on.

    A backlog story told by a telling dated earlier takes that date (:func:`~.store.told_again`).

    subtle: a fresh story merged into a backlog one had gone from the trends with it."""
    if session.get(Backlog, article.id) is None:
        told_again(session, original, article.published)
    out_of_backlog(session, [article.id])
    for row in session.scalars(select(ArticleUrl).where(ArticleUrl.article_id == article.id)):
        row.article_id, row.reason = original.id, "reworded"
        told = session.get(UrlTitle, row.url)
        if told is None:
            told = UrlTitle(url=row.url, title=article.title)
            session.add(told)
        told.former_id = article.id
    original.duplicates += 1 + article.duplicates
    session.delete(article)
    session.flush()
