"""The database engine: a URL the suite cannot use is one line naming the driver or the path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.db import make_engine, session_scope
from shared.errors import SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_file_opens_with_wal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with session_scope(engine) as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert make_engine(f"sqlite:///{tmp_path / 'x.db'}") is engine  # one engine per URL


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://nope/x", "database URL postgresql://nope/x needs the driver module 'psycopg', which is not "
                            "installed — pip install 'psycopg[binary]', or use a sqlite:/// URL"),
    ("mysql://me:secret@db/x", "database URL mysql://me:***@db/x needs the driver module 'MySQLdb'"),
    ("sqlite:////nonexistent/dir/x.db", "cannot open the SQLite database /nonexistent/dir/x.db (unable to open "
                                        "database file) — check that its folder exists and is writable"),
    ("nosuchdb://x", "database URL nosuchdb://x is not usable (Can't load plugin: sqlalchemy.dialects:nosuchdb)"),
])
def test_unusable_url_is_one_line(url, expected):
    if url.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
            pytest.skip("psycopg is installed here")
        except ImportError:
            pass
    if url.startswith("mysql"):
        try:
            import MySQLdb  # noqa: F401
            pytest.skip("mysqlclient is installed here")
        except ImportError:
            pass
    with pytest.raises(SettingsError) as caught:
        make_engine(url)
    assert str(caught.value).startswith(expected) and "secret" not in str(caught.value)


def test_a_command_with_a_bad_db_url_prints_one_line(tmp_path):
    env = {**os.environ, "VERTICALS_HOME": str(tmp_path), "VERTICALS_DB_URL": "sqlite:////nonexistent/dir/x.db"}
    done = subprocess.run([sys.executable, "-m", "shared", "finance", "alerts", "list"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().startswith("error: cannot open the SQLite database /nonexistent/dir/x.db")
