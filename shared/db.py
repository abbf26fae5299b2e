"""SQLAlchemy engine and sessions: SQLite under the home dir by default, any URL by setting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from .settings import get_settings


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: settings.db_url); SQLite gets WAL and foreign keys."""
    return _engine(url or get_settings().db_url)


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001
            cursor = connection.cursor()
            # WAL: readers (dashboards) never block the writer
            mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() == "wal":
                # WAL + NORMAL: a commit no longer waits for fsync; a crash of the process
                # loses nothing, a power cut may lose the last commits but never corrupts
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

    return engine


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = _sessions(engine or make_engine())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@lru_cache(maxsize=8)
def _sessions(engine: Engine) -> sessionmaker:
    # subtle: a new sessionmaker per session re-registers its events (a few ms per answer)
    return sessionmaker(bind=engine, expire_on_commit=False)
