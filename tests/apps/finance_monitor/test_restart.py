"""A real ``verticals finance poll-once`` process killed with SIGKILL mid-poll, then restarted:
no article lost, none doubled, every one classified."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

from sqlalchemy import select

from apps.finance_monitor.config import render_config
from apps.finance_monitor.service import FinanceService
from apps.finance_monitor.store import Article
from shared import session_scope

from .conftest import ROOT, Route, make_config, rss

TOTAL = 200


def _stored(db) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("select count(*) from finance_articles").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # tables not created yet


def test_sigkill_mid_poll_then_restart(home, server, models) -> None:
    items = [(f"http://news.test/{i}", f"Company{i} posts result {i} for unit {i * 7}", "")
             for i in range(TOTAL)]
    server.routes["/feed.xml"] = Route(body=rss(items))
    config = make_config([("feed", server.url("/feed.xml"))], models)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "sources.toml"
    path.write_text(render_config(config))
    env = {**os.environ, "VERTICALS_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "shared", "finance", "poll-once", "--config",
                             str(path)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    db, deadline = home / "verticals.db", time.time() + 120
    while time.time() < deadline and _stored(db) < 20 and proc.poll() is None:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    at_kill = _stored(db)
    assert 0 < at_kill < TOTAL, f"the kill should land mid-poll, {at_kill} stored"

    service = FinanceService(config)  # the restarted process
    [report], processed = service.poll_once()
    assert report.ok and report.ingest.new == TOTAL - at_kill
    with session_scope(service.engine) as session:
        titles = session.scalars(select(Article.title)).all()
        unclassified = session.scalars(select(Article.id)
                                       .where(Article.classified_at.is_(None))).all()
    assert sorted(titles) == sorted(t for _, t, _ in items)
    assert unclassified == [] and processed.classified == TOTAL
