"""SQLAlchemy engine and sessions: SQLite under the home dir by default, any URL by setting."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from .errors import SettingsError
from .settings import get_settings

# the pip package of a driver module whose import name differs (the rest install by their name)
_DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient"}


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: settings.db_url, i.e. ``VERTICALS_DB_URL``); SQLite gets
    WAL and foreign keys. The database is opened once here, so a URL the suite cannot use is
    one :class:`SettingsError` line naming the missing driver or the unopenable path::

        make_engine("postgresql://db/x")  # psycopg not installed:
        # SettingsError: database URL postgresql://db/x needs the driver module 'psycopg',
        #   which is not installed — pip install 'psycopg[binary]', or use a sqlite:/// URL
    """
    return _engine(url or get_settings().db_url)


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    try:
        engine = _create(url)
        with engine.connect():  # subtle: the first connect is where a bad path or host fails
            pass
    except ModuleNotFoundError as err:
        package = _DRIVER_PACKAGES.get(err.name or "", err.name)
        raise SettingsError(f"database URL {_shown(url)} needs the driver module {err.name!r}, which is not "
                            f"installed — pip install '{package}', or use a sqlite:/// URL") from None
    except ArgumentError as err:  # unparsable URL, or an unknown dialect
        first = str(err).splitlines()[0]
        raise SettingsError(f"database URL {_shown(url)} is not usable ({first}) — "
                            "use a SQLAlchemy URL such as sqlite:////path/to/verticals.db") from None
    except DBAPIError as err:
        raise SettingsError(_open_failed(url, err)) from None
    return engine


def _shown(url: str) -> str:
    """The URL with its password hidden (as SQLAlchemy prints it); unparsable ones as given."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _open_failed(url: str, err: DBAPIError) -> str:
    from sqlalchemy.engine import make_url

    reason = str(err.orig).splitlines()[0] if err.orig is not None else type(err).__name__
    database = make_url(url).database
    if url.startswith("sqlite") and database:
        return (f"cannot open the SQLite database {database} ({reason}) — check that its folder exists "
                "and is writable, or set VERTICALS_DB_URL to another path")
    return f"cannot connect to the database {_shown(url)} ({reason}) — check the server and VERTICALS_DB_URL"


def _create(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001
            cursor = connection.cursor()
            # subtle: first, so that switching to WAL waits for another process opening the
            # same new file instead of failing at once with "database is locked"
            cursor.execute("PRAGMA busy_timeout=10000")
            # WAL: readers (dashboards) never block the writer
            mode = _wal(cursor)
            if str(mode).lower() == "wal":
                # WAL + NORMAL: a commit no longer waits for fsync; a crash of the process
                # loses nothing, a power cut may lose the last commits but never corrupts
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def _wal(cursor, patience: float = 5.0) -> str:  # noqa: ANN001
    """Switch a SQLite connection to WAL; the journal mode it ends in.

    subtle: SQLite may answer "database is locked" at once, without waiting out the busy
    timeout, where waiting could deadlock (two connections that both read the new file, both
    wanting to write its header). One of four processes opening a new file together failed so
    in a CI run (tests/shared/test_db.py); eight processes switching one new file together
    (plain sqlite3): 3 of 60 rounds had a failure, retried 0 of 60. Retried for ``patience``
    seconds: a lock held longer fails as before, after at most one more busy timeout.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            return cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def create_tables(metadata: MetaData, engine: Engine) -> None:
    """``metadata.create_all(engine)``, safe for processes that open a new database together.

    subtle: ``create_all`` checks for each table, then creates the missing ones; two processes
    starting on a fresh home both found none and the slower failed with "table ... already
    exists". That failure is retried: each check finds more of the others' tables.
    """
    for attempt in range(10):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError as err:
            if "already exists" not in str(err.orig) or attempt == 9:
                raise


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
