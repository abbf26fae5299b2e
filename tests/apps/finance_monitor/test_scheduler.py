"""The APScheduler wiring with a persistent SQLAlchemy job store in the app database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from apps.finance_monitor import scheduler as sched
from apps.finance_monitor import service as service_module
from apps.finance_monitor.config import SourceConfig, render_config
from apps.finance_monitor.corrections import corrections_path
from apps.finance_monitor.store import Article, Base
from shared import RetrainReport, VerticalsError, make_engine, session_scope

from .conftest import ROOT, Route, make_config, rss


def hourly(config):
    return replace(config, sources=tuple(replace(s, interval_s=3600) for s in config.sources))


def write_config(home, server, models, names: list[str], every=lambda config: config):
    config = every(make_config([(n, server.url(f"/{n}.xml")) for n in names], models))
    path = home / "sources.toml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(render_config(config))
    return path


def test_jobs_poll_on_their_interval_and_persist_across_restarts(home, server, models) -> None:
    for name in ("a", "b"):
        server.routes[f"/{name}.xml"] = Route(body=rss([(f"http://news.test/{name}/{i}",
                                                         f"Story {name} number {i} on {name}s",
                                                         "") for i in range(3)]))
    path = write_config(home, server, models, ["a", "b"], hourly)  # the first polls run at once
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

    path.write_text(render_config(hourly(make_config([("a", server.url("/a.xml")), ("c", server.url("/c.xml"))],
                                                     models))))
    again = sched.build_scheduler()
    again.start(paused=True)
    try:
        stored = {job.id: job for job in again.get_jobs()}
        assert stored["finance:poll:b"].func_ref == "apps.finance_monitor.scheduler:poll_job"
        started = time.time()
        sched.sync_jobs(again, path)
        jobs = {job.id: job for job in again.get_jobs()}
        assert "finance:poll:a" in jobs and "finance:poll:b" not in jobs
        # a source polled before keeps its next run, a new one is polled at once: a restart had
        # polled every source at once, whatever its interval
        assert jobs["finance:poll:a"].next_run_time == stored["finance:poll:a"].next_run_time
        assert jobs["finance:poll:a"].next_run_time.timestamp() > started + 3600 - 90
        assert jobs["finance:poll:c"].next_run_time.timestamp() < time.time() + 1
    finally:
        again.shutdown(wait=False)
    assert _count() == 6  # nothing doubled by the second scheduler


def test_a_failing_job_is_logged_not_raised(home, caplog) -> None:
    sched.poll_job(str(home / "missing.toml"), "nope")
    assert "poll job for nope failed" in caplog.text
    assert SourceConfig("x", "http://x").interval_s == 300


def test_the_nightly_retrain_feeds_a_correction_until_a_promoted_version_holds_it(
        home, server, models, monkeypatch) -> None:
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", "Northwind Bank fined", ""),
                                              ("http://news.test/2", "Atlas Motors profit up",
                                               "")]))
    path = str(write_config(home, server, models, ["a"]).resolve())
    monkeypatch.setattr(sched, "_services", {})
    scheduler = BackgroundScheduler()
    scheduler.start(paused=True)
    sched.sync_jobs(scheduler, path)
    jobs = {job.id: job.func_ref for job in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    assert jobs["finance:retrain:sentiment"] == "apps.finance_monitor.scheduler:retrain_job"

    fed, promote = [], iter([False, True, True])

    def fake_retrain(name: str, rows: list, lossless: bool = False) -> RetrainReport:  # the training itself is
        assert lossless, "judged in the form the monitor serves"  # tested in shared; here, what it is fed
        fed.append([(r.text, r.label) for r in rows])
        promoted = next(promote)
        return RetrainReport(name, "v2", promoted, "test", "v1", {}, {}, "v2" if promoted else "v1")

    monkeypatch.setattr(service_module, "retrain_classifier", fake_retrain)
    service = sched.service_for(path)
    service.poll_once()
    service.correct(1, "sentiment", "positive")
    service.correct(1, "sentiment", "negative")  # the analyst changed their mind
    service.correct(2, "sentiment", "positive")
    first = [("Northwind Bank fined", "negative"), ("Atlas Motors profit up", "positive")]
    sched.retrain_job(path, "sentiment")  # rejected: the corrections stay pending
    sched.retrain_job(path, "sentiment")  # promoted: now they live in the new train.csv
    assert fed == [first, first]
    assert corrections_path("sentiment").read_text().splitlines() == ["text,label"]
    sched.retrain_job(path, "sentiment")
    assert len(fed) == 2  # nothing new to learn: no retrain
    service.correct(2, "sentiment", "neutral")
    sched.retrain_job(path, "sentiment")
    assert fed[-1] == [("Atlas Motors profit up", "neutral")]


def _count() -> int:
    with session_scope(make_engine()) as session:
        return session.scalar(select(func.count(Article.id)))


def test_one_poller_per_home_and_poll_once_beside_it(home, server) -> None:
    """A second `finance run` on a home would take over the first one's jobs: it is refused,
    naming the pid that polls; `poll-once` (no job store) still runs beside it."""
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", "Northwind Bank fined", "")]))
    path = home / "sources.toml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(render_config(make_config([("a", server.url("/a.xml"))])))
    env = {**os.environ, "VERTICALS_HOME": str(home)}
    cli = [sys.executable, "-m", "shared", "finance"]
    first = subprocess.Popen([*cli, "run", "--config", str(path)], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock, deadline = sched.lock_path(home), time.time() + 120
        while time.time() < deadline and not (lock.exists() and lock.read_text() == str(first.pid)):
            time.sleep(0.2)
        second = subprocess.run([*cli, "run", "--config", str(path)], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        [line] = second.stderr.strip().splitlines()
        assert f"(pid {first.pid}) already polls this home" in line and f"kill {first.pid}" in line
        with pytest.raises(VerticalsError, match=f"pid {first.pid}"):
            sched.check_poller_free(home)
        beside = subprocess.run([*cli, "poll-once", "--config", str(path), "--json"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=120)
        # it polled; no models in this home, so it says so and exits 1
        assert json.loads(beside.stdout)["sources"]["a"]["ok"], beside.stderr
        assert beside.returncode == 1 and "error: nothing was classified" in beside.stderr
    finally:
        first.kill()  # SIGKILL: the OS drops the lock with the process, nothing stale is left
        first.wait()
    sched.check_poller_free(home)
