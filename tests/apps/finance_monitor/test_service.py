"""The whole pipeline against a real local server: faulty sources, duplicates, a crash
mid-poll, a webhook that is down then up. Real MiniLM models, real SQLite."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import pandas as pd
import pytest
from sqlalchemy import delete, select, update

from apps.finance_monitor.config import SourceKind, WebhookConfig
from apps.finance_monitor.health import health_frame, webhook_health
from apps.finance_monitor.ingest import Ingestor
from apps.finance_monitor.outbox import shown_url
from apps.finance_monitor.service import FinanceService
from apps.finance_monitor.store import AlertNotice, AlertRow, Article, ArticleUrl, Delivery, Poll, SourceHealth
from apps.finance_monitor.views import alerts, article, articles_frame, told_as
from shared import make_engine, session_scope
from shared.errors import VerticalsError

from .conftest import DATA, Route, hang, make_config, rss

STORY = "Northwind Bank faces regulator probe over hidden loan losses"


def surge_feed() -> tuple[bytes, dict[str, str]]:
    """Four quiet days of $ACME news, then eight negative stories in one window; returns the
    RSS and each title's true sentiment."""
    start, items = datetime(2026, 3, 2, tzinfo=UTC), []
    for window in range(16):
        for j, sentiment in enumerate(["negative", "neutral", "positive"]):
            title = f"$ACME update {window}-{j}: plant {window * 3 + j} reports {sentiment} news"
            items.append((start + timedelta(hours=6 * window + j), title, sentiment))
    for j in range(8):
        title = f"$ACME crisis deepens as regulator finds breach number {j + 1}"
        items.append((start + timedelta(hours=96 + j / 2), title, "negative"))
    parts = "".join(
        f"<item><title>{t}</title><link>http://news.test/{i}</link>"
        f"<pubDate>{when:%a, %d %b %Y %H:%M:%S} +0000</pubDate></item>"
        for i, (when, t, _) in enumerate(items))
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{parts}</channel></rss>'
    return body.encode(), {t: s for _, t, s in items}


def set_labels(service: FinanceService, truth: dict[str, str]) -> None:
    """Pin sentiments to the truth and every topic to Macro (as an analyst would), so alert
    tests do not depend on how well a 1-epoch model learned."""
    with session_scope(service.engine) as session:
        for title, sentiment in truth.items():
            session.execute(update(Article).where(Article.title == title)
                            .values(sentiment=sentiment, topic="Macro"))


def test_bad_sources_are_recorded_and_the_good_ones_go_on(home, server, models) -> None:
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/a/1", STORY, "")]))
    server.routes["/b.xml"] = Route(body=rss([("http://other.test/story?utm_source=rss",
                                               f"Report: {STORY}, sources say", "")]))
    server.routes["/c.xml"] = Route(body=rss([("http://third.test/x", STORY, "")]))
    server.routes["/500"] = Route(status=500)
    server.routes["/hang"] = Route(handler=hang(3))
    server.routes["/bad.xml"] = Route(body=b"<rss><channel><item><title>x</ti")
    server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    server.routes["/html"] = Route(body=b"<html></html>", ctype="text/html")
    names = ["a.xml", "b.xml", "c.xml", "500", "hang", "bad.xml", "loop", "html"]
    config = make_config([(n, server.url(f"/{n}")) for n in names], models, timeout_s=0.3)
    service = FinanceService(config)
    reports, processed = service.poll_once()
    ok = {r.source: r.ok for r in reports}
    assert ok == {n: n in ("a.xml", "b.xml", "c.xml") for n in names}
    by_name = {r.source: r for r in reports}
    assert by_name["b.xml"].ingest.near_dup == 1 and by_name["c.xml"].ingest.same_text == 1
    with session_scope(service.engine) as session:
        [story] = session.scalars(select(Article)).all()
        assert story.duplicates == 2 and story.sentiment in ("negative", "neutral", "positive")
        assert len(session.scalars(select(ArticleUrl)).all()) == 3
    assert processed.classified == 1
    # b's own headline is kept beside its URL: a search for it finds the story
    assert [(o["source"], o["title"]) for o in article(service.engine, story.id)["also"]] == [
        ("b.xml", f"Report: {STORY}, sources say"), ("c.xml", None)]
    assert articles_frame(service.engine, search="sources say")["id"].tolist() == [story.id]
    assert told_as(service.engine, [story.id], "SOURCES say") == {story.id: f"b.xml: Report: {STORY}, sources say"}
    assert told_as(service.engine, [story.id], "third.test") == {story.id: "c.xml: http://third.test/x"}
    assert told_as(service.engine, [story.id], "news.test/a") == {}  # the story's own URL is no other telling
    health = health_frame(service.engine).set_index("source")
    assert health.loc["500", "last_error"] == "server error HTTP 500"
    assert "timed out" in health.loc["hang", "last_error"]
    assert "malformed feed" in health.loc["bad.xml", "last_error"]
    assert "redirect loop" in health.loc["loop", "last_error"]
    assert "content type" in health.loc["html", "last_error"]
    assert health.loc["a.xml", "new_last_poll"] == 1 and health.loc["a.xml", "failures_in_a_row"] == 0


def test_poll_once_fetches_side_by_side_and_stores_in_the_configs_order(home, server) -> None:
    """Fetched in turn, 27 sources took 54 s; fetched side by side, a slow first source's story is
    still the one stored, and the fast second's a duplicate of it."""
    def slow(request, _hit: int) -> None:
        time.sleep(0.3)  # well within the fetch's timeout below
        body = rss([("http://news.test/a/1", STORY, "")])
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    server.routes["/a.xml"] = Route(handler=slow)
    server.routes["/b.xml"] = Route(body=rss([("http://third.test/x", STORY, "")]))
    service = FinanceService(make_config([("a", server.url("/a.xml")), ("b", server.url("/b.xml"))], timeout_s=10))
    reports, _ = service.poll_once()
    assert [(r.source, r.ok, r.ingest.new, r.ingest.same_text) for r in reports] == [("a", True, 1, 0),
                                                                                    ("b", True, 0, 1)]


def test_a_crash_mid_poll_loses_and_doubles_nothing(home, server, models, monkeypatch) -> None:
    items = [(f"http://news.test/{i}", f"Company {i} files report number {i}", "")
             for i in range(30)]

    def with_etag(request: BaseHTTPRequestHandler, _hit: int) -> None:
        if request.headers.get("If-None-Match") == '"same"':
            request.send_response(304)
            request.end_headers()
            return
        body = rss(items)
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("ETag", '"same"')
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    server.routes["/feed.xml"] = Route(handler=with_etag)
    config = make_config([("feed", server.url("/feed.xml"))], models)
    original, calls = Ingestor._one, {"n": 0}

    def dies_on_the_eleventh(self, raw, **how):  # noqa: ANN001
        calls["n"] += 1
        if calls["n"] == 11:
            raise KeyboardInterrupt  # like SIGINT/SIGKILL between two articles
        return original(self, raw, **how)

    monkeypatch.setattr(Ingestor, "_one", dies_on_the_eleventh)
    with pytest.raises(KeyboardInterrupt):
        FinanceService(config).poll_once()
    monkeypatch.setattr(Ingestor, "_one", original)
    restarted = FinanceService(config)  # a new process: fresh caches, same database
    [report], _ = restarted.poll_once()
    assert report.ok and not report.not_modified and report.ingest.new == 20
    [again], _ = restarted.poll_once()
    assert again.not_modified  # the ETag was saved only after the complete poll
    with session_scope(restarted.engine) as session:
        titles = session.scalars(select(Article.title)).all()
    assert sorted(titles) == sorted(t for _, t, _ in items)


def test_a_webhook_that_is_down_gets_every_alert_once_it_is_up(home, server, models) -> None:
    body, truth = surge_feed()
    server.routes["/feed.xml"] = Route(body=body)

    def down_once(request: BaseHTTPRequestHandler, hit: int) -> None:
        request.send_response(503 if hit <= 1 else 200)
        request.send_header("Content-Length", "0")
        request.end_headers()

    server.routes["/hook"] = Route(handler=down_once)
    config = make_config([("feed", server.url("/feed.xml"))], models,
                         webhooks=(WebhookConfig(server.url("/hook"), "slack"),))
    service = FinanceService(config)
    service.poll_source("feed")
    service.classify_pending()
    set_labels(service, truth)
    created = service.check_alerts()
    raised = alerts(service.engine)
    assert sorted(created) == sorted(a.id for a in raised)
    assert [a.label for a in raised] == ["$ACME"]  # Macro surged with ACME's crisis alone: one alert
    assert all(a.negatives == 8 and all("crisis" in x["title"] for x in a.articles)
               for a in raised)
    now = datetime.now(UTC).replace(tzinfo=None)
    first = service.deliver(now)
    assert first.failed == 1 and first.pending == 1  # the webhook is down
    assert first.errors == {shown_url(server.url("/hook")): "HTTP 503"}  # which one and why, for the log line
    [down] = webhook_health(service.engine, config.webhooks).to_dict(orient="records")
    assert (down["delivered"], down["waiting"], down["last_error"], down["attempts"]) == (0, 1, "HTTP 503", 1)
    assert service.deliver(now).failed == 0  # not due yet: backoff
    report = service.deliver(now + timedelta(hours=1))
    assert report.delivered == 1 and report.pending == 0 and report.errors == {}
    [up] = webhook_health(service.engine, config.webhooks).to_dict(orient="records")
    assert (up["delivered"], up["waiting"], up["last_error"]) == (1, 0, None)
    assert service.check_alerts() == []  # the same surge never alerts twice
    assert service.deliver(now + timedelta(hours=3)).delivered == 0
    posted = [json.loads(r["body"]) for path, r in server.requests if path == "/hook"]
    assert len(posted) == 2 and "$ACME" in posted[1]["text"]
    alert = raised[0]
    assert service.acknowledge(alert.id) and not service.acknowledge(alert.id)
    assert alerts(service.engine) == []
    with session_scope(make_engine()) as session:
        by = session.scalar(select(AlertRow.acknowledged_by).where(AlertRow.id == alert.id))
        assert by == "analyst"


def alert_with_deliveries(service: FinanceService, urls: list[str]) -> None:
    """A stored Macro surge alert with one pending webhook delivery per URL."""
    when = datetime(2026, 3, 2, 6)
    with session_scope(service.engine) as session:
        alert = AlertRow(key="topic:Macro", window_start=when, window_end=when, negatives=8,
                         total=9, baseline=1.0, score=7.0)
        session.add(alert)
        session.flush()
        session.add_all([Delivery(alert_id=alert.id, url=url) for url in urls])


def test_a_webhook_removed_from_the_config_is_not_retried(home, server) -> None:
    server.routes["/hook"] = Route(status=200)
    service = FinanceService(make_config([], webhooks=(WebhookConfig(server.url("/hook")),)))
    alert_with_deliveries(service, [server.url("/hook"), "http://gone.test/hook"])
    report = service.deliver()
    assert (report.delivered, report.failed, report.pending, report.held) == (1, 0, 0, 1)
    assert [path for path, _ in server.requests] == ["/hook"]
    assert service.deliver().held == 1  # kept, never sent: it goes out if the URL comes back


def test_resend_sends_a_held_alert_to_the_webhooks_configured_now(home, server) -> None:
    """Alerts raised while a webhook's URL had a typo were held for good once it was mended."""
    from apps.finance_monitor.outbox import resend

    server.routes["/hook"] = Route(status=200)
    hooks = (WebhookConfig(server.url("/hook")),)
    service = FinanceService(make_config([], webhooks=hooks))
    alert_with_deliveries(service, ["http://typo.test/hook"])
    assert (service.deliver().delivered, service.deliver().held) == (0, 1)  # not guessed onward
    assert resend(service.engine, [1, 99], hooks) == [99]  # no alert 99
    report = service.deliver()
    assert (report.delivered, report.held) == (1, 1)  # the typo's row stays, kept in case it comes back
    assert resend(service.engine, [1], hooks) == [] and service.deliver().delivered == 1  # sent again
    assert [path for path, _ in server.requests] == ["/hook", "/hook"]


def test_a_failing_webhook_is_tried_once_a_pass_and_the_others_still_get_theirs(home, server) -> None:
    """A timing-out hook took its full timeout for each waiting alert in turn, every pass."""
    server.routes["/down"] = Route(status=503)
    server.routes["/up"] = Route(status=200)
    hooks = (WebhookConfig(server.url("/down")), WebhookConfig(server.url("/up")))
    service = FinanceService(make_config([], webhooks=hooks))
    with session_scope(service.engine) as session:
        for hour in range(3):
            when = datetime(2026, 3, 2, hour)
            alert = AlertRow(key="topic:Macro", window_start=when, window_end=when, negatives=8, total=9,
                             baseline=1.0, score=7.0)
            session.add(alert)
            session.flush()
            session.add_all([Delivery(alert_id=alert.id, url=server.url(path)) for path in ("/down", "/up")])
    report = service.deliver()
    assert (report.delivered, report.failed, report.pending) == (3, 1, 3)
    assert [path for path, _ in server.requests].count("/down") == 1
    health = webhook_health(service.engine, hooks)  # both on one host: told apart by number and format
    assert list(zip(health["number"], health["format"], health["waiting"])) == [(1, "json", 3), (2, "json", 0)]


def test_a_webhook_at_a_private_address_needs_allow_private(home, server) -> None:
    """Alerts carry scraped headlines: a hook at 127.0.0.1 (or a cloud metadata address) is
    refused as a source would be."""
    server.routes["/hook"] = Route(status=200)
    hooks = (WebhookConfig(server.url("/hook")),)
    service = FinanceService(make_config([], webhooks=hooks, allow_private=False))
    alert_with_deliveries(service, [server.url("/hook")])
    assert service.deliver().failed == 1 and server.requests == []
    with session_scope(service.engine) as session:
        assert "not public" in session.scalar(select(Delivery.last_error))
    allowed = FinanceService(make_config([], webhooks=hooks, allow_private=True))
    assert allowed.deliver(datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)).delivered == 1


def test_the_running_service_classifies_with_a_newly_promoted_version(home, server,
                                                                      models) -> None:
    from apps.finance_monitor.config import ModelConfig
    from shared import Registry

    registry = Registry()
    for name, target in (("finance-sentiment", models.sentiment), ("finance-topic", models.topic)):
        (registry.root / name).mkdir(parents=True)
        (registry.root / name / "v1").symlink_to(target)
    # stands in for a retrained topic model: its labels show which version classified
    (registry.root / "finance-topic" / "v2").symlink_to(models.sentiment)
    registry.promote("finance-topic", "v1")
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", STORY, "")]))
    service = FinanceService(make_config([("a", server.url("/a.xml"))], ModelConfig()))
    service.poll_once()
    registry.promote("finance-topic", "v2")  # what the nightly retrain does in this process
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/2", "Atlas Motors profit up",
                                               "")]))
    service.poll_once()
    with session_scope(service.engine) as session:
        topics = session.scalars(select(Article.topic).order_by(Article.id)).all()
    assert topics[0] in registry.card("finance-topic", "v1")["labels"]
    assert topics[1] in ("negative", "neutral", "positive")


def test_feed_dates_far_off_cost_no_windows(home, server, models) -> None:
    server.routes["/future.xml"] = Route(body=rss([("http://news.test/f", STORY, "")],
                                                  when=datetime(2099, 1, 1, tzinfo=UTC)))
    server.routes["/epoch.xml"] = Route(body=rss([("http://news.test/e", "Atlas Motors profit up",
                                                   "")], when=datetime(1970, 1, 1, tzinfo=UTC)))
    config = make_config([("future", server.url("/future.xml")),
                          ("epoch", server.url("/epoch.xml"))], models)
    service = FinanceService(config)
    service.poll_once()
    with session_scope(service.engine) as session:
        future = session.scalar(select(Article).where(Article.title == STORY))
        assert future.published == future.fetched_at  # clamped: nothing comes from the future
    windows = service.trends()[f"topic:{future.topic}"]
    assert len(windows) == 1 and windows[0].start <= future.fetched_at
    assert all(len(w) <= config.alerts.horizon_windows for w in service.trends().values())


def test_corrections_change_the_article_and_feed_retraining(home, server, models) -> None:
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", STORY, "")]))
    service = FinanceService(make_config([("a", server.url("/a.xml"))], models))
    service.poll_once()
    service.correct(1, "sentiment", "negative")
    service.correct(1, "topic", "Legal | Regulation")
    from apps.finance_monitor.corrections import corrections_frame, corrections_path

    frame = corrections_frame(service.engine)
    assert set(frame["analyst_says"]) == {"negative", "Legal | Regulation"}
    assert corrections_path("sentiment").read_text().splitlines() == \
        ["text,label", f"{STORY},negative"]
    from shared import VerticalsError

    with pytest.raises(VerticalsError, match="sentiment must be one of"):
        service.correct(1, "sentiment", "furious")
    with pytest.raises(VerticalsError, match=r"topic must be one of .* got 'Dividend' — a new topic takes a "
                                             r"topic model trained with it: .*`verticals finance train --topics FILE`"):
        service.correct(1, "topic", "Dividend")
    service.correct(1, "topic", "legal | regulation")  # one label in any case: an audit's was refused
    assert set(corrections_frame(service.engine)["analyst_says"]) == {"negative", "Legal | Regulation"}


def test_a_headline_gets_the_same_verdict_alone_and_in_any_batch(home, models) -> None:
    """int8 scales each batch by its own range: a headline near a tie was "neutral" alone and
    "positive" among four others, and the dashboard's explanation contradicted the stored label."""
    from apps.finance_monitor.classify import ArticleClassifier

    headlines = [STORY, "Pioneer Rail opens inland terminal near Denver", "Atlas Motors recalls cars",
                 "Helios Energy cuts its outlook as demand slows", "Northwind Bank names a new chief financial officer"]
    classifier = ArticleClassifier(models.sentiment, models.topic)
    together = classifier.classify(headlines)
    assert {classifier._sentiment.backend_name, classifier._topic.backend_name} <= {"model.onnx", "torch"}
    for headline, verdict in zip(headlines, together, strict=True):
        [alone] = classifier.classify([headline])
        assert (alone.sentiment, alone.topic) == (verdict.sentiment, verdict.topic)
        assert abs(alone.sentiment_score - verdict.sentiment_score) < 1e-4


def test_a_stopping_service_leaves_the_rest_stored_for_the_next_poll(home, server, models) -> None:
    """Ctrl-C on `finance run` stops classification after its batch; the rest waits, stored."""
    server.routes["/a.xml"] = Route(body=rss([(f"http://news.test/{i}", f"{STORY} ({i})", "") for i in range(3)]))
    service = FinanceService(make_config([("a", server.url("/a.xml"))], models))
    service.poll_source("a")
    service.stopping.set()
    assert service.classify_pending(batch=2) == (0, None)
    # nor does it judge surges on the part it classified, or post webhooks, after the stop
    service.check_alerts = lambda: pytest.fail("alerts judged while stopping")
    assert service.process().new_alerts == []
    del service.check_alerts
    service.stopping.clear()
    assert service.classify_pending(batch=2) == (3, None)


def test_a_correction_before_classification_is_kept(home, server, models) -> None:
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", STORY, "")]))
    service = FinanceService(make_config([("a", server.url("/a.xml"))], models))
    service.poll_source("a")  # stored, not yet classified
    [verdict] = service.classifier.classify([STORY])
    labels = service.model_cards()[models.topic]["labels"]
    topic = next(label for label in labels if label != verdict.topic)
    service.correct(1, "topic", topic)
    assert service.classify_pending() == (1, None)
    with session_scope(service.engine) as session:
        article = session.get(Article, 1)
        assert article.topic == topic and article.sentiment == verdict.sentiment
        assert article.classified_at is not None


def test_a_bad_link_skips_its_entry_not_the_feed(home, server) -> None:
    items = [("http://news.test:99999/1", "Atlas Motors recalls cars", ""),
             ("http://[::1/2", "Helios Energy cuts its outlook", ""),
             ("http://news.test/3", STORY, "")]
    server.routes["/a.xml"] = Route(body=rss(items))
    service = FinanceService(make_config([("a", server.url("/a.xml"))]))
    report = service.poll_source("a")
    assert report.ok and report.ingest.new == 1 and report.ingest.bad_link == 2
    health = health_frame(service.engine).set_index("source")
    assert health.loc["a", "note"] == "skipped 2 entries with bad or no links"
    assert health.loc["a", "failures_in_a_row"] == 0
    server.routes["/a.xml"] = Route(body=rss(items[2:]))  # a clean poll: the note goes, and is no error either
    assert service.poll_source("a").ok
    health = health_frame(service.engine).set_index("source")
    assert pd.isna(health.loc["a", "note"]) and pd.isna(health.loc["a", "last_error"])


def test_a_feed_cut_short_is_noted_and_read_whole_next_time(home, server) -> None:
    """An audit's feed cut off mid-item polled as "ok" with nothing said; kept, its ETag would have
    had the next poll answered 304 and its lost entries never read."""
    items = [(f"http://news.test/{i}", f"Company {i} files report number {i}", "") for i in range(6)]
    whole = rss(items)
    server.routes["/a.xml"] = Route(body=whole[: len(whole) // 2], headers={"ETag": '"cut"'})
    service = FinanceService(make_config([("a", server.url("/a.xml"))]))
    report = service.poll_source("a")
    assert report.ok and 0 < report.ingest.new < 6
    assert re.search(r"the feed breaks off \(.*\): read up to there; the next poll reads it whole again$",
                        health_frame(service.engine).set_index("source").loc["a", "note"])
    def etag() -> str | None:
        with session_scope(service.engine) as session:
            return session.get(SourceHealth, "a").etag

    assert etag() is None  # not the cut document's
    server.routes["/a.xml"] = Route(body=whole, headers={"ETag": '"whole"'})
    assert service.poll_source("a").ingest.new + report.ingest.new == 6
    assert etag() == '"whole"'


def test_a_feed_with_no_entries_is_noted_not_ok(home, server) -> None:
    """A wrong url serving a valid but empty feed read "ok" for good."""
    server.routes["/a.xml"] = Route(body=rss([]))
    service = FinanceService(make_config([("a", server.url("/a.xml"))]))
    assert service.poll_source("a").ok
    health = health_frame(service.engine).set_index("source")
    assert health.loc["a", "note"] == "the feed holds no entries: check the url"
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/3", STORY, "")]))
    assert service.poll_source("a").ok
    assert pd.isna(health_frame(service.engine).set_index("source").loc["a", "note"])


def test_a_relative_link_is_read_against_its_feed_and_no_web_address_is_stored(home, server) -> None:
    """A relative link was stored as "/news/1", and another site's story with that path dropped."""
    items = [("/news/1", STORY, ""), ("javascript:alert(1)", "Atlas Motors recalls cars", ""),
             ("urn:2", "Helios Energy cuts its outlook", "")]
    guid = '<item><title>Northwind Bank names a new CFO</title><guid isPermaLink="false">a1b2-3</guid></item>'
    server.routes["/a.xml"] = Route(body=rss(items).replace(b"</channel>", guid.encode() + b"</channel>"))
    service = FinanceService(make_config([("a", server.url("/a.xml"))]))
    report = service.poll_source("a")  # the guid is no address: not made one under the feed's folder
    assert report.ingest.new == 1 and report.ingest.bad_link == 3
    with session_scope(service.engine) as session:
        assert [u.url for u in session.scalars(select(ArticleUrl))] == [server.url("/news/1")]


def test_a_section_front_page_gives_each_headline_it_links_to(home, server, models) -> None:
    """Fetched as one page, a front page of twenty headlines was one article of all of them."""
    front = (b'<html><body><nav><a href="/markets">Markets</a> <a href="/economy">Economy</a></nav>'
             b'<script>var a = "<a href=/x>not a link at all here</a>";</script>'
             b'<h2><a href="/news/1">Atlas Motors recalls forty thousand cars</a></h2>'
             b'<a href="/news/1#comments">Atlas Motors recalls forty thousand cars</a>'
             b'<h2><a href="/news/2"><span>Helios Energy</span> cuts its outlook</a></h2>'
             b'<a href="http://elsewhere.test/ad">Win a cruise with our partner today</a>'
             b'<a href="/news/3">Read more</a></body></html>')
    server.routes["/front"] = Route(body=front, ctype="text/html; charset=utf-8")
    config = make_config([("front", server.url("/front"))])
    config = replace(config, sources=(replace(config.sources[0], kind=SourceKind.LINKS),),
                     models=models)
    service = FinanceService(config)
    first = service.poll_source("front").ingest
    titles = set(articles_frame(service.engine)["title"])
    assert titles == {"Atlas Motors recalls forty thousand cars", "Helios Energy cuts its outlook"}
    assert service.poll_source("front").ingest.new == 0  # the same headlines again: already stored
    # the first poll's headlines may be days old: out of trends; later ones are dated when first seen
    assert (first.new, first.backlog) == (2, 2)
    server.routes["/front"] = Route(body=front.replace(b"Read more", b"Atlas Motors names a new chief"),
                                    ctype="text/html; charset=utf-8")
    assert service.poll_source("front").ingest.new == 1
    service.process()  # classified, all three; counted, the new one
    assert [o.article_id for o in service.observations()] == [max(articles_frame(service.engine)["id"])]
    with session_scope(service.engine) as session:  # and no poll after the first has a note to make of it
        assert session.scalars(select(Poll.error).order_by(Poll.id)).all()[1:] == [None, None]


def test_the_demo_models_cards_say_their_scores_say_little(models) -> None:
    """They scored 1.000 on test headlines that fill the training headlines' templates, and the
    dashboard showed it as a measurement; a test text the training rows hold is named too."""
    from pathlib import Path

    from apps.finance_monitor.demo import DEMO_CAVEAT

    warning = json.loads((Path(models.sentiment) / "card.json").read_text())["warning"]
    assert warning.startswith(DEMO_CAVEAT + "; ")
    assert warning.endswith("test rows have a text the training rows hold too: their scores are not held out")


def test_a_source_that_moved_for_good_says_where(home, server) -> None:
    """A 301 was followed at every poll, and nothing told the operator to update the config."""
    server.routes["/new.xml"] = Route(body=rss([("http://n.test/1", "Acme recalls cars", "")]))
    server.routes["/old.xml"] = Route(status=301, headers={"Location": "/new.xml"})
    server.routes["/for-now.xml"] = Route(status=302, headers={"Location": "/new.xml"})
    service = FinanceService(make_config([("old", server.url("/old.xml")), ("for-now", server.url("/for-now.xml"))]))
    reports, _ = service.poll_once()
    assert [r.ok for r in reports] == [True, True]
    health = health_frame(service.engine).set_index("source")
    moved = f"moved permanently to {server.url('/new.xml')}: put that url in the config"
    assert health.loc["old", "note"] == moved
    assert pd.isna(health.loc["for-now", "last_error"])  # a temporary redirect is the server's business


def test_entries_without_a_readable_date_are_counted_and_said(home, server, caplog) -> None:
    """Dated when fetched, they count in today's window: health says how many, and the text
    view says it too (only the JSON had); a skipped entry is logged once, not every poll. A
    source's first poll's undated entries may be old: kept, but out of trends and alerts."""
    from typer.testing import CliRunner

    from apps.finance_monitor.cli import app
    from apps.finance_monitor.config import render_config

    doc = (b'<rss version="2.0"><channel><title>t</title>'
           b"<item><title>Acme recalls cars</title><link>http://n.test/1</link><pubDate>03/03/2026</pubDate></item>"
           b"<item><title>Bank fined</title><link>http://n.test/2</link>"
           b"<pubDate>Tue, 03 Mar 2026 10:00:00</pubDate></item>"
           b"<item><title>no link at all</title></item></channel></rss>")
    server.routes["/a.xml"] = Route(body=doc)
    config = make_config([("a", server.url("/a.xml"))])
    service = FinanceService(config)
    report = service.poll_source("a")
    assert (report.ingest.new, report.ingest.backlog, report.ingest.undated, report.ingest.bad_link) == (2, 1, 0, 1)
    note = ("skipped 1 entry with bad or no links; 1 entry of the first poll had no readable date: kept, "
            "but left out of trends and alerts (they may be old)")
    row = health_frame(service.engine).set_index("source").loc["a"]
    assert row["note"] == note and row["last_error"] is None and row["last_error_at"] is None  # it worked
    with session_scope(service.engine) as session:
        session.execute(update(Article).values(topic="Macro", sentiment="negative", classified_at=datetime(2026, 3, 3)))
        dated = session.scalar(select(Article.id).where(Article.title == "Bank fined"))
    assert [o.article_id for o in service.observations()] == [dated]
    assert articles_frame(service.engine)["title"].tolist() == ["Bank fined", "Acme recalls cars"]  # backlog last
    assert [article(service.engine, i)["backlog"] for i in articles_frame(service.engine)["id"]] == [False, True]
    server.routes["/a.xml"] = Route(body=doc.replace(b"<item><title>no link", b"<item><title>Mill shuts</title>"
                                                     b"<link>http://n.test/3</link></item><item><title>no link"))
    later = service.poll_source("a").ingest
    assert (later.backlog, later.undated) == (0, 1)  # a later poll's undated entry is that hour's news
    note = "skipped 1 entry with bad or no links; 1 new entry had no readable date: dated when fetched"
    assert health_frame(service.engine).set_index("source").loc["a", "note"] == note
    path = home / "sources.toml"
    path.write_text(render_config(config))
    line = CliRunner().invoke(app, ["sources", "--config", str(path)]).output.strip()
    assert line.startswith("a: ok; last success ") and line.endswith(f"3 in 2 polls; {note}")
    listed = CliRunner().invoke(app, ["articles", "--config", str(path)]).output.splitlines()
    assert [("backlog: undated" in line) for line in listed] == [False, False, True]  # marked, and last
    shown = json.loads(CliRunner().invoke(app, ["articles", "--config", str(path), "--json"]).stdout)["articles"]
    assert [a["backlog"] for a in shown] == [False, False, True]
    assert [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()] == [
        "source a: skipped 'no link at all', a bad link (not a web address)"]  # at the first poll only
    caplog.clear()
    assert service.poll_source("a").ingest.bad_link == 1  # counted at each poll, logged once
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]


def test_an_article_in_another_language_is_skipped_and_counted(home, server) -> None:
    items = [("http://news.test/1", "Aktienkurs von Acme bricht nach der Gewinnwarnung ein", "Die Aktie fiel um 9 %."),
             ("http://news.test/2", "Acme shares slump after a profit warning", "The stock fell 9%."),
             ("http://news.test/3", "Banco de la Nación raises its rates", "")]  # a name's small words: English
    server.routes["/a.xml"] = Route(body=rss(items))
    service = FinanceService(make_config([("a", server.url("/a.xml"))]))
    report = service.poll_source("a")
    assert (report.ingest.new, report.ingest.other_language) == (2, 1)
    health = health_frame(service.engine).set_index("source")
    assert health.loc["a", "note"] == "skipped 1 in another language than English (the models read no other)"
    assert service.poll_source("a").ingest.same_url == 2  # the stored ones are known stories, not counted again
    everything = replace(service.config, models=replace(service.config.models, language=""))
    assert FinanceService(everything).poll_source("a").ingest.new == 1  # "" stores every article


@pytest.mark.slow
def test_retrain_on_corrections_promotes_only_if_not_worse(home, server, models) -> None:
    import shutil
    from pathlib import Path

    from apps.finance_monitor.config import ModelConfig

    registry_root = Path(models.sentiment).parents[1]  # <root>/<name>/<version>
    shutil.copytree(registry_root, home / "models")
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", STORY, "")]))
    service = FinanceService(make_config([("a", server.url("/a.xml"))], ModelConfig()))
    service.poll_once()
    service.correct(1, "sentiment", "negative")
    report = service.retrain("sentiment")
    assert report.version == "v2" and report.promoted == (report.current == "v2")
    assert "macro_f1" in report.reason
    from apps.finance_monitor.corrections import pending_corrections

    # promoted: the correction lives in v2's train.csv; rejected: it waits for the next one
    assert bool(pending_corrections(service.engine, "sentiment").rows) == (not report.promoted)
    assert service.retrain("sentiment", nightly=True) is None  # nothing new either way


def test_a_correction_of_an_evaluation_headline_is_set_aside_once_not_failed_each_night(
        home, server, models) -> None:
    """An audit's correction of a headline in the fixed evaluation set stayed pending, and every
    retrain refused it ("every new row's text is in ... evaluation set"), the nightly one too."""
    import shutil
    from pathlib import Path
    from xml.sax.saxutils import escape

    from apps.finance_monitor.config import ModelConfig
    from apps.finance_monitor.corrections import pending_corrections

    registry_root = Path(models.sentiment).parents[1]
    shutil.copytree(registry_root, home / "models")
    headline = pd.read_csv(Path(models.sentiment) / "eval.csv")["text"].iloc[0]
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", escape(headline), "")]))
    service = FinanceService(make_config([("a", server.url("/a.xml"))], ModelConfig()))
    service.poll_once()
    service.correct(1, "sentiment", "negative")
    with pytest.raises(VerticalsError, match=r"the 1 pending sentiment correction\(s\) are set aside.*evaluation set"):
        service.retrain("sentiment")
    assert not pending_corrections(service.engine, "sentiment").rows
    assert service.retrain("sentiment", nightly=True) is None  # nothing left to fail on
    assert service.model_cards()["finance-sentiment"]["version"] == "v1"


def test_trained_models_serve_their_exported_form(models) -> None:
    """Training exports both models, checked against torch on the test texts; classification
    then runs the fastest form that agreed (ONNX, int8 or bf16: which one depends on the CPU)."""
    from pathlib import Path

    from shared import load_classifier
    from shared.backends import FILES, best_form

    for path in (models.sentiment, models.topic):
        report = json.loads((Path(path) / "export" / "report.json").read_text())
        assert report["check_texts"] > 0 and report["onnx_agreement"] == 1.0
        form = best_form(Path(path))
        assert form is not None
        assert load_classifier(path).backend_name == (FILES[form] or f"torch-{form}")


def test_two_deliverers_at_once_post_an_alert_once(home, server) -> None:
    """The poller's process() and the deliver job (or a poll-once beside the poller) run
    delivery at the same time: each due alert is still POSTed once."""
    import threading

    import httpx

    from apps.finance_monitor.outbox import deliver_due

    server.routes["/hook"] = Route(handler=slow_ok(0.5))
    hooks = (WebhookConfig(server.url("/hook")),)
    service = FinanceService(make_config([], webhooks=hooks))
    add_alert(service, server.url("/hook"))
    reports = []

    def deliver() -> None:
        with httpx.Client(timeout=5) as client:
            reports.append(deliver_due(service.engine, client, webhooks=hooks))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [path for path, _ in server.requests] == ["/hook"]
    assert sorted(r.delivered for r in reports) == [0, 1]
    assert service.deliver().delivered == 0  # delivered rows are never claimed again


def test_train_replaces_the_serving_model_only_when_judged_not_worse(home, tmp_path, caplog) -> None:
    from apps.finance_monitor.config import ModelConfig
    from apps.finance_monitor.training import TrainPlan, train_models
    from shared import Registry, TrainConfig

    registry, names = Registry(tmp_path / "models"), ModelConfig()
    lines = (DATA / "train.csv").read_text().splitlines()
    some, three = tmp_path / "some.csv", tmp_path / "three.csv"
    some.write_text("\n".join(lines[:61]) + "\n")
    three.write_text("text,sentiment\nShares soar,positive\nBank fined,negative\nBoard meets,neutral\n")
    config = TrainConfig(epochs=1, max_length=32, batch_size=16)
    first, = train_models(TrainPlan(some, None, DATA / "test.csv"), config, names, registry)
    assert first["promoted"] and first["reason"] == "no version was serving: promoted"
    # three rows: no holdout to judge the new version on, so the serving one stays
    second, = train_models(TrainPlan(three, None, None), config, names, registry)
    assert not second["promoted"] and registry.current(names.sentiment) == first["version"]
    # what the rows lack is said before training, and in the result (it reached the card only)
    thin = "3 label(s) have fewer than 3 training rows: negative (1), neutral (1), positive (1)"
    assert second["notes"][0].startswith(thin)
    assert f"note: {names.sentiment} (sentiment): {thin}" in caplog.text
    assert second["reason"] == (f"no test rows to compare it with {first['version']}, which keeps serving "
                                f"(`verticals models promote {names.sentiment} {second['version']}` serves it anyway)")


def test_a_claim_is_leased_from_the_clock_not_from_the_batch_start(home) -> None:
    """Behind slow hooks a batch runs for minutes: a lease counted from its start had run out
    before the POST began, and another deliverer posted the same alert again."""
    from apps.finance_monitor.outbox import CLAIM_LEASE, _claim
    from apps.finance_monitor.store import utcnow

    service = FinanceService(make_config([]))
    add_alert(service, "http://hook.test/x")
    started = utcnow() - timedelta(minutes=30)
    with session_scope(service.engine) as session:
        session.execute(update(Delivery).values(next_attempt_at=started))
    with session_scope(service.engine) as session:
        delivery_id = session.scalars(select(Delivery.id)).one()
    assert _claim(service.engine, delivery_id, started)
    with session_scope(service.engine) as session:
        lease = session.get(Delivery, delivery_id).next_attempt_at
    assert lease > utcnow() + CLAIM_LEASE - timedelta(minutes=1)


def test_a_sentiment_correction_outside_our_labels_is_one_line(home) -> None:
    """A sentiment model with labels of its own (bearish/bullish) left nothing to check
    against, and the correction crashed on the score of an unknown label."""
    from apps.finance_monitor.corrections import correct
    from shared.errors import VerticalsError

    service = FinanceService(make_config([]))
    with pytest.raises(VerticalsError, match="sentiment must be one of"):
        correct(service.engine, 1, "sentiment", "whatever", ["bearish", "bullish"])


def slow_ok(seconds: float):  # noqa: ANN201
    def handler(request: BaseHTTPRequestHandler, _hit: int) -> None:
        time.sleep(seconds)
        request.send_response(200)
        request.send_header("Content-Length", "0")
        request.end_headers()
    return handler


def add_alert(service: FinanceService, url: str) -> int:
    when = datetime(2026, 3, 2, 6)
    with session_scope(service.engine) as session:
        alert = AlertRow(key="topic:Macro", window_start=when, window_end=when, negatives=8,
                         total=9, baseline=1.0, score=7.0)
        session.add(alert)
        session.flush()
        session.add(Delivery(alert_id=alert.id, url=url))
        return alert.id


def test_alerts_are_checked_only_when_something_changed(home, server, models, monkeypatch) -> None:
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", STORY, "")]))
    service = FinanceService(make_config([("a", server.url("/a.xml"))], models))
    checks = []
    real = service.check_alerts
    monkeypatch.setattr(service, "check_alerts", lambda: checks.append(1) or real())
    service.process()  # the first pass of a process checks, whatever it classified
    service.poll_source("a")
    service.process()  # one new article
    service.process()  # nothing new: no window changed
    service.correct(1, "sentiment", "negative")
    service.process()  # a correction changes the trends
    analyst = FinanceService(make_config([("a", server.url("/a.xml"))], models))
    analyst.correct(1, "sentiment", "positive")  # in another process: the dashboard's
    service.process()
    service.process()
    assert len(checks) == 4


def test_a_sentiment_correction_sets_the_score_trends_and_the_table_use(home, server,
                                                                        models) -> None:
    """Corrected to neutral, an article no longer reads -0.9 in the table (an analyst's label
    shows no model score there) nor pulls its topic's net sentiment down (trends use the label's
    score); corrected before classification, the label stays."""
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", STORY, ""),
                                              ("http://news.test/2", "Atlas Motors profit up",
                                               "")]))
    service = FinanceService(make_config([("a", server.url("/a.xml"))], models))
    service.poll_source("a")
    service.correct(2, "sentiment", "positive")  # before the first classification
    service.process()
    service.correct(1, "sentiment", "neutral")
    service.correct(1, "topic", "Macro")  # a topic correction leaves the score alone
    table = articles_frame(service.engine).set_index("id")
    assert table.loc[1, "sentiment"] == "neutral" and math.isnan(table.loc[1, "score"])
    assert table.loc[2, "sentiment"] == "positive" and math.isnan(table.loc[2, "score"])
    [window] = service.trends()["topic:Macro"]
    assert window.negatives == 0 and window.net_sentiment == 0.0


def test_an_alerts_article_whose_sentiment_an_analyst_set_shows_no_model_sentences(home) -> None:
    service = FinanceService(make_config([("a", "http://127.0.0.1:9/a.xml")]))
    with session_scope(service.engine) as session:
        for i in (1, 2):
            session.add(Article(id=i, content_hash=f"h{i}", url=f"http://n.test/{i}", source="a",
                                title=f"Acme story {i}", published=datetime(2026, 3, 2), sentiment="negative",
                                topic="Macro", driving=json.dumps([f"Acme story {i}.", "Investors sold heavily."])))
        session.add(AlertRow(key="ticker:ACME", window_start=datetime(2026, 3, 2), window_end=datetime(2026, 3, 2, 6),
                             negatives=2, total=2, baseline=0.0, score=5.0, article_ids="[1, 2]"))
    service.correct(2, "sentiment", "positive")
    [alert] = alerts(service.engine)
    assert [a["driving"] for a in alert.articles] == ["Investors sold heavily.", "set by an analyst"]


def test_trends_read_only_the_horizon_and_match_reading_everything(home) -> None:
    """Two months of stories (one dated 2099 by an old row, one from 1970): the trends equal
    those computed from every stored article, while only the horizon's articles are read."""
    from apps.finance_monitor.horizon import _keys
    from apps.finance_monitor.ingest import plausible_published
    from apps.finance_monitor.trends import Observation, window_stats

    service = FinanceService(make_config([]))
    start, rows = datetime(2026, 1, 1), []
    for i in range(240):  # every 6 hours for 60 days, tickers on some
        when = start + timedelta(hours=6 * i + i % 5)
        rows.append((when, when + timedelta(minutes=5), "ACME" if i % 3 else ""))
    rows += [(datetime(2099, 1, 1), start + timedelta(days=59, hours=23), "ACME"),
             (datetime(1970, 1, 1), start, "")]
    with session_scope(service.engine) as session:
        session.add_all(Article(content_hash=str(i), url=f"http://n.test/{i}", source="a",
                                title=f"story {i}", published=published, fetched_at=fetched,
                                tickers=tickers, topic="Macro", classified_at=fetched,
                                sentiment=("negative", "neutral", "positive")[i % 3],
                                sentiment_score=(i % 7 - 3) / 3)
                        for i, (published, fetched, tickers) in enumerate(rows))
        everything = [Observation(a.id, plausible_published(a.published, a.fetched_at),
                                  _keys(a.topic, a.tickers), a.sentiment, a.sentiment_score)
                      for a in session.scalars(select(Article))]
    alerts_config = service.config.alerts
    assert service.trends() == window_stats(everything, alerts_config.window_hours,
                                            max_windows=alerts_config.horizon_windows)
    assert 115 < len(service.observations()) < 130  # 30 days of the 60 stored


def _add_stories(service: FinanceService, when: datetime, n: int, sentiment: str) -> None:
    with session_scope(service.engine) as session:
        first = session.query(Article).count()
        session.add_all(Article(content_hash=f"h{first + i}", url=f"http://n.test/{first + i}",
                                source="a", title=f"story {first + i}", published=when,
                                fetched_at=when, topic="Macro", sentiment=sentiment,
                                sentiment_score=-0.9 if sentiment == "negative" else 0.9,
                                classified_at=when) for i in range(n))


def test_an_alert_raised_early_in_its_window_shows_the_whole_surge(home) -> None:
    service = FinanceService(make_config([], webhooks=(WebhookConfig("http://127.0.0.1:9/x"),)))
    start = datetime(2026, 3, 1)
    for window in range(10):  # quiet history: no negatives
        _add_stories(service, start + timedelta(hours=6 * window), 4, "positive")
    _add_stories(service, start + timedelta(hours=60, minutes=5), 6, "negative")
    [alert_id] = service.check_alerts()
    _add_stories(service, start + timedelta(hours=60, minutes=20), 3, "negative")
    assert service.check_alerts() == []  # the same alert, not a new one
    # it counts 9 now; Slack carried 6, and the views say so
    assert alerts(service.engine)[0].announced_note == "announced with 6 negative articles: its window has grown since"
    with session_scope(service.engine) as session:  # 9 of its first 6: not announced again
        session.execute(update(Delivery).values(delivered_at=datetime(2026, 3, 3)))
    assert service.acknowledge(alert_id, by="alice")
    _add_stories(service, start + timedelta(hours=60, minutes=30), 37, "negative")
    assert service.check_alerts() == []
    [alert] = alerts(service.engine)  # 46: twice and more what it was announced with
    assert (alert.id, alert.negatives, alert.total, len(alert.articles)) == (alert_id, 46, 46, 46)
    assert not alert.acknowledged and alert.growth_note == ("announced again: it grew from 6 negative "
                                                            "articles (acknowledged by alice before)")
    assert alert.announced_note == ""  # announced again with what it counts
    with session_scope(service.engine) as session:  # its one webhook is due again, with the new figures
        [delivery] = session.scalars(select(Delivery)).all()
        assert delivery.delivered_at is None and delivery.attempts == 0


def test_a_surge_that_goes_on_while_its_alert_cools_down_is_shown_on_that_alert(home) -> None:
    """The demo's $NWB window after its alert (10 negative of 13) had been in no alert and
    shown nowhere: one surge, one alert, but the analyst must see that it went on."""
    service = FinanceService(make_config([]))
    start = datetime(2026, 3, 1)
    for window in range(10):
        _add_stories(service, start + timedelta(hours=6 * window), 4, "positive")
    _add_stories(service, start + timedelta(hours=60, minutes=5), 6, "negative")
    [alert_id] = service.check_alerts()
    _add_stories(service, start + timedelta(hours=66, minutes=5), 5, "negative")
    _add_stories(service, start + timedelta(hours=66, minutes=6), 2, "positive")
    assert service.check_alerts() == []  # cooling down: no second alert, no second webhook
    _add_stories(service, start + timedelta(hours=66, minutes=30), 2, "negative")  # its window fills
    assert service.check_alerts() == []
    [alert] = alerts(service.engine)
    assert alert.id == alert_id and alert.went_on_note == (
        "its surge went on: 7 negative of 9 articles in 2026-03-03 18:00 to 2026-03-04 00:00 UTC; "
        "no new alert while it cools down")
    _add_stories(service, start + timedelta(hours=72, minutes=5), 5, "negative")  # and the window after it
    assert service.check_alerts() == [] and len(alerts(service.engine)[0].went_on) == 2
    _add_stories(service, start + timedelta(hours=66, minutes=40), 5, "negative")  # 12: twice the alert's 6
    [escalated] = service.check_alerts()  # the window is an alert of its own now, no longer the first's,
    went_on = {v.id: [w["window_start"].hour for w in v.went_on] for v in alerts(service.engine)}
    assert went_on == {alert_id: [], escalated: [0]}  # and the window after it is the new alert's alone


def test_an_alert_from_before_notices_is_announced_again_with_its_growth(home, server) -> None:
    """Without a notice row, its count crept up with each poll and it was never announced again."""
    server.routes["/hook"] = Route(ctype="text/plain")

    def received() -> list[dict]:
        return [json.loads(r["body"]) for path, r in server.requests if path == "/hook"]

    service = FinanceService(make_config([], webhooks=(WebhookConfig(server.url("/hook")),)))
    start = datetime(2026, 3, 1)
    for window in range(10):
        _add_stories(service, start + timedelta(hours=6 * window), 4, "positive")
    _add_stories(service, start + timedelta(hours=60, minutes=5), 6, "negative")
    [alert_id] = service.check_alerts()
    with session_scope(service.engine) as session:  # as a database from before the table
        session.execute(delete(AlertNotice))
    assert service.deliver().delivered == 1 and received()[-1]["grew_from"] is None
    for minute in (10, 20):  # 6 -> 9 -> 12, twice the 6 it was announced with
        _add_stories(service, start + timedelta(hours=60, minutes=minute), 3, "negative")
        service.check_alerts()
    assert service.deliver().delivered == 1
    last = received()[-1]
    assert (len(received()), last["alert_id"], last["negatives"], last["grew_from"]) == (2, alert_id, 12, 6)
    # each story's link beside its headline: a receiver had ids and headlines, no way to open them
    assert len(last["urls"]) == len(last["headlines"]) and all(u.startswith("http://n.test/") for u in last["urls"])


def test_a_delivery_announced_again_during_its_post_stays_due(home, server, monkeypatch) -> None:
    from apps.finance_monitor import outbox

    server.routes["/hook"] = Route(ctype="text/plain")
    service = FinanceService(make_config([], webhooks=(WebhookConfig(server.url("/hook")),)))
    start = datetime(2026, 3, 1)
    for window in range(10):
        _add_stories(service, start + timedelta(hours=6 * window), 4, "positive")
    _add_stories(service, start + timedelta(hours=60, minutes=5), 6, "negative")
    service.check_alerts()
    posted = outbox.post_webhook

    def announced_meanwhile(client, url, payload):  # as _announce_growth in another process
        problem = posted(client, url, payload)
        with session_scope(service.engine) as session:
            session.execute(update(Delivery).values(next_attempt_at=datetime(2026, 3, 3), attempts=0))
        return problem

    monkeypatch.setattr(outbox, "post_webhook", announced_meanwhile)
    service.deliver()
    with session_scope(service.engine) as session:  # the new figures go out in the next pass
        [delivery] = session.scalars(select(Delivery)).all()
        assert delivery.delivered_at is None and delivery.attempts == 0


def test_corrections_alone_leave_an_alert_as_it_was_raised(home) -> None:
    service = FinanceService(make_config([]))
    start = datetime(2026, 3, 1)
    for window in range(10):
        _add_stories(service, start + timedelta(hours=6 * window), 4, "positive")
    _add_stories(service, start + timedelta(hours=60, minutes=5), 6, "negative")
    _add_stories(service, start + timedelta(hours=60, minutes=6), 2, "positive")
    [alert_id] = service.check_alerts()
    with session_scope(service.engine) as session:
        raised_with = set(session.get(AlertRow, alert_id).driver_ids())
        positive, negative = (session.scalar(select(Article.id).where(
            Article.id.not_in(raised_with), Article.published > start + timedelta(hours=60)).limit(1)),
            min(raised_with))
    added = service.correct(positive, "sentiment", "negative")  # the analyst is told what each means for it
    assert added.note == (f"it falls in open alert #{alert_id}'s window (Macro), which keeps the 6 negative "
                          "headlines it was raised with until news lands there again; the trends count it now")
    taken = service.correct(negative, "sentiment", "neutral")
    assert taken.note == (f"open alert #{alert_id} (Macro) counted it among its 6 negative headlines and stands "
                          f"until news lands in its window again: `verticals finance alerts ack {alert_id}` if it no "
                          "longer holds")
    assert service.correct(negative, "topic", "Earnings").note == ""
    assert service.check_alerts() == []
    [alert] = alerts(service.engine)
    assert (alert.negatives, alert.total, {a["id"] for a in alert.articles}) == (6, 8, raised_with)
    assert alert.correction_note == "1 of its 6 negative articles since corrected to another sentiment"


def test_a_quiet_start_of_the_horizon_does_not_let_an_old_window_alert_again(home) -> None:
    """Hour 9's 20 negatives were judged against busy hours 0-4 and did not surge. Once the
    horizon starts at the quiet hour 5, hour 9 has lost that baseline: it must not alert then,
    while a fresh surge still does."""
    from dataclasses import replace

    config = make_config([])
    config = replace(config, alerts=replace(config.alerts, window_hours=1, baseline_windows=8,
                                            min_baseline_windows=3, cooldown_windows=1,
                                            horizon_windows=10, min_volume=3))
    service = FinanceService(config)
    start = datetime(2026, 3, 1)

    def add(hour: int, n: int, sentiment: str) -> None:
        _add_stories(service, start + timedelta(hours=hour, minutes=1), n, sentiment)

    for hour in range(5):
        add(hour, 20, "negative")
    for hour in (6, 7, 8):  # hour 5: nothing at all
        add(hour, 5, "positive")
    add(9, 20, "negative")
    assert service.check_alerts() == []
    add(14, 5, "positive")  # the horizon now starts at hour 5
    assert service.check_alerts() == []
    add(15, 20, "negative")  # against hours 7-14: a surge
    assert len(service.check_alerts()) == 1
    assert [a.window_start for a in alerts(service.engine)] == ["2026-03-01 15:00"]


def test_the_same_headline_weeks_later_is_a_new_story(home) -> None:
    """Within a day a repeated text is one story told twice; weeks apart it is news again."""
    from apps.finance_monitor.sources import RawArticle

    ingest = Ingestor(FinanceService(make_config([])).engine).ingest  # its tables made
    oil = "Oil prices fall"

    def told(url: str, title: str, when: datetime) -> dict:
        report = ingest([RawArticle(url, title, "", when.replace(tzinfo=UTC), "wire")])
        return {k: v for k, v in vars(report).items() if v}

    assert told("http://w.test/1", oil, datetime(2026, 1, 5, 9)) == {"new": 1}
    assert told("http://o.test/1", oil, datetime(2026, 1, 5, 17)) == {"same_text": 1}
    assert told("http://w.test/2", oil, datetime(2026, 3, 2, 9)) == {"new": 1}
    assert told("http://o.test/2", oil + ".", datetime(2026, 3, 3, 8)) == {"same_text": 1}
    assert told("http://w.test/3", oil, datetime(2026, 4, 20, 9)) == {"new": 1}
    probe = "Northwind Bank shares fall 9% after regulators open a probe"
    assert told("http://w.test/4", probe, datetime(2026, 3, 2, 9)) == {"new": 1}
    assert told("http://o.test/4", probe + " into loans", datetime(2026, 3, 2, 11)) == {"near_dup": 1}
    assert told("http://w.test/5", probe + " into loans", datetime(2026, 5, 2, 9)) == {"new": 1}
    with session_scope() as session:
        assert session.query(Article).count() == 5


def test_one_page_linked_under_either_scheme_with_or_without_www_is_one_story(home) -> None:
    """Two feeds linked one story as https://www.… and http://…/: it was stored twice, and the
    copy without a summary read neutral beside the other's negative."""
    from apps.finance_monitor.sources import RawArticle

    ingestor = Ingestor(FinanceService(make_config([])).engine)
    when = datetime(2026, 3, 2, 9, tzinfo=UTC)
    first = RawArticle("https://www.n.test/story/guidance?utm_source=rss", "Acme cuts guidance", "Shares fell.",
                       when, "a")
    assert ingestor.ingest([first]).new == 1
    again = [RawArticle(url, "Acme cuts guidance", "", when, "b")
             for url in ("http://n.test/story/guidance/", "https://n.test/story/guidance",
                         "http://www.n.test/story/guidance")]
    assert ingestor.ingest(again).same_url == 3
    other = RawArticle("https://n.test/story/other", "Acme cuts guidance again", "", when, "b")
    assert ingestor.ingest([other]).new == 1


def test_a_backlog_story_told_again_now_counts_in_the_trends(home) -> None:
    """A first poll's undated story is left out of trends; another source telling it now makes
    it news (its copy is a duplicate, not a story of its own, so it had never counted)."""
    from apps.finance_monitor.sources import RawArticle
    from apps.finance_monitor.store import Backlog

    engine = FinanceService(make_config([])).engine
    ingestor, now = Ingestor(engine), datetime.now(UTC)
    old = RawArticle("http://a.test/1", "Acme recalls forty thousand cars", "", now, "a", dated=False)
    assert ingestor.ingest([old], first_poll=True).backlog == 1
    yesterday = now - timedelta(days=1)
    told = RawArticle("http://b.test/9", "Acme recalls forty thousand cars", "", yesterday, "b")
    assert ingestor.ingest([told]).duplicates == 1
    with session_scope(engine) as session:
        assert session.scalars(select(Backlog)).all() == []
        # the backlog's date was its fetch; the telling's is earlier, and the story counts then
        assert session.scalars(select(Article.published)).all() == [yesterday.replace(tzinfo=None)]


def test_a_dated_rewording_merged_into_a_backlog_story_dates_it(home) -> None:
    """An audit's: the undated backlog story kept its fetch time, and a rewording dated
    yesterday, merged into it, counted in today's window."""
    from apps.finance_monitor.rewordings import _merge_into
    from apps.finance_monitor.store import Backlog

    engine, now = FinanceService(make_config([])).engine, datetime(2026, 12, 6, 12)
    with session_scope(engine) as session:
        backlog = Article(content_hash="a", url="http://a.test/1", source="a", title="Corvid fined", published=now)
        told = Article(content_hash="b", url="http://b.test/1", source="b", title="Corvid hit with fine",
                       published=now - timedelta(hours=19))
        session.add_all([backlog, told])
        session.flush()
        session.add(Backlog(article_id=backlog.id, source="a"))
        session.flush()
        _merge_into(session, told, backlog)
        assert backlog.published == now - timedelta(hours=19) and session.scalars(select(Backlog)).all() == []


def test_a_rewording_stored_by_another_process_is_a_near_duplicate(home) -> None:
    """Two pollers of one home (``run`` and a ``poll-once``): each one's in-memory index learns
    what the other stored, and their batches do not interleave (``ingest.lock``)."""
    from apps.finance_monitor.sources import RawArticle

    engine = FinanceService(make_config([])).engine
    first, second = Ingestor(engine), Ingestor(engine)
    when = datetime(2026, 3, 2, 9, tzinfo=UTC)
    probe = "Northwind Bank shares fall 9% after regulators open a probe"
    second.ingest([RawArticle("http://o.test/0", "Atlas Motors recalls 3,000 vans", "", when, "a")])
    assert first.ingest([RawArticle("http://w.test/1", probe, "", when, "wire")]).new == 1
    report = second.ingest([RawArticle("http://o.test/1", probe + " into loans", "", when, "daily")])
    assert report.near_dup == 1 and report.new == 0


def test_rewordings_are_sought_among_stories_naming_the_same_tickers(home) -> None:
    """Candidates are narrowed in SQL by each ticker's text; the sets still decide: "NWB" merges
    with "NWB", not with "NWB,HLX" nor a story naming no ticker."""
    from apps.finance_monitor.rewordings import RewordingFinder

    engine = FinanceService(make_config([])).engine
    when = datetime(2026, 3, 5, 9)
    told = [("wire", "Northwind Bank chair steps down as accounting scandal deepens", "NWB"),
            ("wire", "Northwind Bank chair steps down as accounting scandal deepens in Helix deal", "NWB,HLX"),
            ("blog", "Northwind Bank chair steps down as accounting scandal deepens!", ""),
            ("daily", "Northwind Bank chairman resigns as accounting scandal deepens", "NWB")]
    with session_scope(engine) as session:
        stories = [Article(content_hash=str(n), url=f"http://{src}.test/{n}", source=src, title=title,
                           published=when, tickers=tickers, topic="Legal | Regulation" if n else "Macro",
                           sentiment="negative", classified_at=when) for n, (src, title, tickers) in enumerate(told)]
        session.add_all(stories)
        session.flush()
        assert RewordingFinder().merge(session, stories[3:]) == 1
        kept = {a.tickers: a.duplicates for a in session.scalars(select(Article))}
    assert kept == {"NWB": 1, "NWB,HLX": 0, "": 0}  # merged into the first telling, its topic kept


def test_headline_vectors_are_kept_for_the_next_process(home) -> None:
    """A `poll-once` (a new process each time) reads the headline vectors an earlier one stored,
    and embeds only the headlines it has not seen; a stored vector of another headline under the
    same id (an id given again) is not used."""
    from apps.finance_monitor.rewordings import RewordingFinder
    from apps.finance_monitor.store import HeadlineVector

    engine = FinanceService(make_config([])).engine
    when = datetime(2026, 3, 5, 9)
    told = [("wire", "Northwind Bank chair steps down as accounting scandal deepens"),
            ("daily", "Northwind Bank chairman resigns as accounting scandal deepens"),
            ("blog", "Northwind Bank chairman quits as accounting scandal deepens")]
    stories = [Article(content_hash=str(n), url=f"http://{src}.test/{n}", source=src, title=title, published=when,
                       tickers="NWB", topic="Legal", sentiment="negative", classified_at=when)
               for n, (src, title) in enumerate(told)]

    def embedded(finder: RewordingFinder) -> list[str]:
        seen, encode = [], finder.embedder.encode
        finder.embedder.encode = lambda texts: seen.extend(texts) or encode(texts)
        return seen

    with session_scope(engine) as session:
        session.add_all(stories[:2])
        session.flush()
        first = RewordingFinder()
        assert embedded(first) is not None and first.merge(session, stories[1:2]) == 1
        assert {v.title for v in session.scalars(select(HeadlineVector))} == {told[0][1]}  # the merged one: not kept
    with session_scope(engine) as session:
        session.add(stories[2])
        session.flush()
        second = RewordingFinder()
        texts = embedded(second)
        assert second.merge(session, [stories[2]]) == 1
        assert texts == [told[2][1]]  # the first telling's vector was read, not embedded again
        session.execute(update(HeadlineVector).values(title="another headline"))
    with session_scope(engine) as session:
        third = RewordingFinder()
        texts = embedded(third)
        third._embed(session, [(1, told[0][1])])
        assert texts == [told[0][1]]


def test_a_story_reworded_by_another_outlet_counts_once(home, server, monkeypatch) -> None:
    """Few shared words, so ingest stores both; once classified (pinned here, as an analyst
    would), the second outlet's headline joins the first story as one more URL. A different
    fact about the same bank, and one outlet's two tellings of a story (an update), stay apart."""
    from apps.finance_monitor.classify import Verdict

    when = datetime(2026, 3, 2, 9, tzinfo=UTC)
    server.routes["/wire.xml"] = Route(body=rss([("http://wire.test/1", "Northwind Bank CEO resigns", "")], when))
    server.routes["/daily.xml"] = Route(body=rss([
        ("http://daily.test/2", "Northwind Bank CFO resigns", ""),
        ("http://daily.test/3", "Vesta Telecom CEO resigns", ""),
        ("http://daily.test/4", "Vesta Telecom chief executive quits", ""),
        ("http://daily.test/1", "Northwind Bank chief executive steps down", "")], when))
    service = first = FinanceService(make_config([("wire", server.url("/wire.xml")),
                                                  ("daily", server.url("/daily.xml"))]))
    monkeypatch.setattr(service.classifier, "refresh", lambda: False)
    # the topic model may file two tellings under two topics: one story all the same
    monkeypatch.setattr(service.classifier, "classify", lambda texts: [
        Verdict("Personnel Change" if "chief" in t else "Company | News", 0.9, "negative", -0.6) for t in texts])
    service.poll_source("wire")
    service.poll_source("daily")
    with session_scope(service.engine) as session:
        merged = session.get(ArticleUrl, "http://daily.test/1").article_id
        assert merged == max(session.scalars(select(Article.id)))  # the newest: its id is at stake
    assert service.process().reworded == 1
    with session_scope(service.engine) as session:
        stories = {a.title: a.duplicates for a in session.scalars(select(Article))}
        urls = {u.url: (u.article_id, u.reason) for u in session.scalars(select(ArticleUrl))}
    assert stories == {"Northwind Bank CEO resigns": 1, "Northwind Bank CFO resigns": 0,
                       "Vesta Telecom CEO resigns": 0, "Vesta Telecom chief executive quits": 0}
    assert urls["http://daily.test/1"][1] == "reworded"
    assert urls["http://daily.test/1"][0] == urls["http://wire.test/1"][0]
    story = urls["http://wire.test/1"][0]
    assert article(service.engine, story)["also"] == [
        {"source": "daily", "reason": "reworded", "url": "http://daily.test/1",
         "title": "Northwind Bank chief executive steps down"}]
    # the merged-away headline, URL and id still find the story (a search found nothing)
    for words in ("chief executive steps down", "daily.test/1"):
        assert articles_frame(service.engine, search=words)["id"].tolist() == [story]
    assert article(service.engine, merged)["id"] == story and article(service.engine, merged)["merged_from"] == merged
    assert article(service.engine, story)["merged_from"] is None and article(service.engine, 999) is None
    with pytest.raises(VerticalsError, match=f"article {merged} was merged into article {story}.*correct {story}"):
        service.correct(merged, "sentiment", "positive")
    assert service.process().reworded == 0  # nothing left to merge; a rerun changes nothing
    # a merged story's id is never handed to the next one: the stale near-duplicate entry of the
    # merged headline must not make a third outlet's copy a duplicate of an unrelated story
    server.routes["/third.xml"] = Route(body=rss([
        ("http://third.test/1", "Helios Energy wins $3 billion wind farm contract", ""),
        ("http://third.test/2", "Report: Northwind Bank chief executive steps down, sources say", "")], when))
    service = FinanceService(make_config([("third", server.url("/third.xml"))]))
    monkeypatch.setattr(service.classifier, "refresh", lambda: False)
    monkeypatch.setattr(service.classifier, "classify", lambda texts: [
        Verdict("Company | News", 0.9, "negative", -0.6) for _ in texts])
    service.ingestor = first.ingestor  # the index that saw the merged headline
    assert service.poll_source("third").ingest.new == 2
    assert service.process().reworded == 1
    with session_scope(service.engine) as session:
        helios = session.scalars(select(Article).where(Article.title.like("Helios%"))).one()
        assert helios.id != merged and helios.duplicates == 0
        assert session.get(ArticleUrl, "http://third.test/2").article_id == urls["http://wire.test/1"][0]
