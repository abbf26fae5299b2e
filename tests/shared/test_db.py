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


def test_processes_opening_a_new_database_together_all_create_its_tables(tmp_path):
    """Two apps starting on a fresh home: one used to fail with 'table ... already exists'."""
    script = f"""
import time
from pathlib import Path
from sqlalchemy import Column, Integer, MetaData, Table
from shared.db import create_tables, make_engine
meta = MetaData()
for i in range(40):
    Table(f"t{{i}}", meta, Column("id", Integer, primary_key=True))
engine = make_engine({f"sqlite:///{tmp_path / 'new.db'}"!r})
while not Path({str(tmp_path / "go")!r}).exists():
    time.sleep(0.005)
create_tables(meta, engine)
"""
    for _ in range(3):  # the race is lost only sometimes
        (tmp_path / "go").unlink(missing_ok=True)
        for leftover in tmp_path.glob("new.db*"):
            leftover.unlink()
        procs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE,
                                  text=True) for _ in range(4)]
        import time

        time.sleep(2)
        (tmp_path / "go").touch()
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        assert all(code == 0 for code, _ in results), [err.splitlines()[-1] for code, err in results if code]


def test_a_job_store_waits_out_another_writer(tmp_path):
    """APScheduler's job store writes from the scheduler's own thread: one that met a lock longer
    than sqlite3's default 5 s raised there, and the thread died (no job ran again)."""
    import sqlite3
    import threading

    from apscheduler.schedulers.background import BackgroundScheduler

    from shared.nightly import job_store

    path = tmp_path / "jobs.db"
    make_engine(f"sqlite:///{path}")  # the suite's file, in WAL mode
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process's long write
    release = threading.Timer(6.0, holder.rollback)
    release.start()
    scheduler = BackgroundScheduler(jobstores={"default": job_store("t_jobs", f"sqlite:///{path}")})
    try:
        scheduler.start(paused=True)
        scheduler.add_job(print, "interval", hours=1, id="waited")
        assert [job.id for job in scheduler.get_jobs()] == ["waited"]
    finally:
        release.cancel()
        release.join()
        if scheduler.running:
            scheduler.shutdown(wait=False)
        holder.close()
