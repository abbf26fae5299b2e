"""The APScheduler wiring with a persistent SQLAlchemy job store in the app database."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from apps.finance_monitor import scheduler as sched
from apps.finance_monitor.config import SourceConfig, render_config
from apps.finance_monitor.store import Article, Base
from shared import make_engine, session_scope

from .conftest import Route, make_config, rss


def write_config(home, server, models, names: list[str]):
    config = make_config([(n, server.url(f"/{n}.xml")) for n in names], models)
    path = home / "sources.toml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(render_config(config))
    return path


def test_jobs_poll_on_their_interval_and_persist_across_restarts(home, server, models) -> None:
    for name in ("a", "b"):
        server.routes[f"/{name}.xml"] = Route(body=rss([(f"http://news.test/{name}/{i}",
                                                         f"Story {name} number {i} on {name}s",
                                                         "") for i in range(3)]))
    path = write_config(home, server, models, ["a", "b"])
    Base.metadata.create_all(make_engine())
    running = sched.start(path)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and _count() < 6:
            time.sleep(0.5)
        assert _count() == 6
        ids = {job.id for job in running.get_jobs()}
        assert {"finance:poll:a", "finance:poll:b", "finance:deliver"} <= ids
    finally:
        running.shutdown(wait=True)
    sched._services.clear()  # a new process would start with no cached service

    path.write_text(render_config(make_config([("a", server.url("/a.xml"))], models)))
    again = sched.build_scheduler()
    again.start(paused=True)
    try:
        stored = {job.id: job for job in again.get_jobs()}
        assert stored["finance:poll:b"].func_ref == "apps.finance_monitor.scheduler:poll_job"
        sched.sync_jobs(again, path)
        ids = {job.id for job in again.get_jobs()}
        assert "finance:poll:a" in ids and "finance:poll:b" not in ids
    finally:
        again.shutdown(wait=False)
    assert _count() == 6  # nothing doubled by the second scheduler


def test_a_failing_job_is_logged_not_raised(home, caplog) -> None:
    sched.poll_job(str(home / "missing.toml"), "nope")
    assert "poll job for nope failed" in caplog.text
    assert SourceConfig("x", "http://x").interval_s == 300


def _count() -> int:
    with session_scope(make_engine()) as session:
        return session.scalar(select(func.count(Article.id)))
