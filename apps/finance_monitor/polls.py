"""A source's poll on the record: the ``Poll`` row, and the source's health it updates (its
validators for the next conditional fetch, its failure streak, the note of a poll that worked
but skipped or dated entries). :class:`.service.FinanceService` records every poll here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from shared import session_scope
from shared.output import count_of

from .config import SourceConfig, SourceKind
from .health import noted
from .ingest import IngestReport
from .store import Poll, SourceHealth, utcnow


def source_health(engine: Engine, name: str, url: str) -> SourceHealth:
    """The source's stored health, detached (a fresh one for a source never polled, or whose
    URL changed: it starts afresh)."""
    with session_scope(engine) as session:
        health = session.get(SourceHealth, name)
        if health is None or health.url != url:
            health = SourceHealth(source=name, url=url)
        session.expunge_all()
        return health


def record_poll(engine: Engine, source: SourceConfig, language: str, started: datetime, ok: bool,
                fetched: int = 0, ingest: IngestReport | None = None, error: str | None = None,
                etag: str | None = None, last_modified: str | None = None, moved_to: str | None = None,
                empty: bool = False, problem: str = "") -> str | None:
    """Store a poll and the source's health; returns the note of a poll that worked (None: none).
    ``language``: the one the models read (entries in another were skipped)."""
    ingest = ingest or IngestReport()
    now = utcnow()
    with session_scope(engine) as session:
        health = session.get(SourceHealth, source.name) or SourceHealth(source=source.name)
        session.add(health)
        health.url = source.url
        health.last_attempt, health.polls = now, (health.polls or 0) + 1
        if ok:
            # subtle: a note kept after the next clean poll read as its last error (health.noted)
            if noted(health):
                health.last_error, health.last_error_at = None, None
            health.last_success, health.consecutive_failures = now, 0
            health.articles_last_poll = ingest.new
            health.total_new = (health.total_new or 0) + ingest.new
            health.etag, health.last_modified = etag, last_modified
            if notes := _notes(source, language, ingest, moved_to, empty, problem):
                error = "; ".join(notes)  # the poll worked, but some entries were not stored, or not as meant
                health.last_error, health.last_error_at = error, now
        else:
            health.last_error, health.last_error_at = error, now
            health.consecutive_failures = (health.consecutive_failures or 0) + 1
        session.add(Poll(source=source.name, started_at=started, finished_at=now, ok=ok,
                         fetched=fetched, new=ingest.new, duplicates=ingest.duplicates, error=error))
    return error if ok else None


def _notes(source: SourceConfig, language: str, ingest: IngestReport, moved_to: str | None, empty: bool,
           problem: str) -> list[str]:
    """What a poll that worked says of the entries it skipped or read otherwise than the source meant."""
    skipped = ([f"{count_of(ingest.bad_link, 'entry', 'entries')} with bad or no links"]
               if ingest.bad_link else []) + (
        [f"{ingest.other_language} in another language than {language} (the models read no other)"]
        if ingest.other_language else [])
    # a front page's headlines are dated when first seen by design: no news at each poll
    undated = 0 if source.kind == SourceKind.LINKS else ingest.undated
    return (["skipped " + " and ".join(skipped)] if skipped else []) + (
        [f"{count_of(ingest.backlog, 'entry', 'entries')} of the first poll had no readable date: "
         "kept, but left out of trends and alerts (they may be old)"] if ingest.backlog else []) + (
        [f"{count_of(undated, 'new entry', 'new entries')} had no readable date: dated when "
         "fetched"] if undated else []) + (
        # subtle: each poll went through the old address, and nothing said it had moved
        [f"moved permanently to {moved_to}: put that url in the config"] if moved_to else []) + (
        # subtle: a wrong url serving a valid empty feed read "ok" for good (a page or a
        # links page with nothing to read is a source error already)
        ["the feed holds no entries: check the url"] if empty else []) + (
        [f"{problem}; the next poll reads it whole again"] if problem else [])
