"""The dashboard: streamlit.testing for behaviour, one real headless Chromium for the look."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from apps.finance_monitor.config import SourceConfig, render_config
from apps.finance_monitor.health import health_frame
from apps.finance_monitor.service import FinanceService
from apps.finance_monitor.store import AlertFollowUp, AlertRow, Article, ArticleUrl, Base, Delivery, SourceHealth
from apps.finance_monitor.views import alerts, articles_frame, count_articles
from shared import make_engine, session_scope

from .conftest import Route, make_config, rss
from .test_service import set_labels, surge_feed

SCRIPT = Path(__file__).resolve().parents[3] / "apps" / "finance_monitor" / "dashboard.py"
EVIL = "<script>alert('x')</script> <b>Bold</b> Bank"


@pytest.fixture
def filled(home, server, models, monkeypatch) -> FinanceService:
    """A home with a config, polled articles (one with HTML in its title) and open alerts."""
    body, truth = surge_feed()
    server.routes["/feed.xml"] = Route(body=body)
    server.routes["/evil.xml"] = Route(body=rss([("http://evil.test/1", "Evil Bank", "")]))
    config = make_config([("feed", server.url("/feed.xml")), ("evil", server.url("/evil.xml"))],
                         models)
    path = home / "finance" / "sources.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_config(config))
    monkeypatch.setenv("VERTICALS_FINANCE_CONFIG", str(path))
    service = FinanceService(config)
    service.poll_once()
    set_labels(service, truth)
    with session_scope(service.engine) as session:
        # subtle: the feed parser strips tags, so markup-like text reaches the database only
        # as literal text (say an article *about* HTML); put it there directly, newest.
        session.execute(update(Article).where(Article.title == "Evil Bank")
                        .values(title=EVIL, published=datetime(2030, 1, 1), topic="Macro"))
        evil = session.scalars(select(Article.id).where(Article.title == EVIL)).one()
        session.add(ArticleUrl(url="http://other.test/evil", article_id=evil, source="wire", reason="reworded"))
    service.check_alerts()
    return service


def test_dashboard_shows_alerts_and_acknowledges(filled) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    assert not at.exception, at.exception
    assert any(re.match(r"#\d+ \$ACME: 8 negative of 8 articles", t.value) for t in at.text)
    assert len(at.tabs) == 6
    # the models tab says what the test figures rest on (the demo's 1.000: 72 synthetic headlines)
    assert any(c.value.startswith("Measured on ") and "a rough guide" in c.value for c in at.caption)
    assert any("baseline: the median count of negative articles" in c.value and
               "robust standard deviations" in c.value for c in at.caption)
    table = at.dataframe[0]
    published = list(table.value["published"])
    assert published == sorted(published)  # the surge reads in the order it happened
    assert "driving" not in table.value.columns  # headline-only: no title repeated as "driving"
    assert "sentiment" not in table.value.columns and not any("since corrected" in c.value for c in at.caption)
    first = alerts(filled.engine)[0]
    filled.correct(first.articles[0]["id"], "sentiment", "neutral")
    scores = articles_frame(filled.engine).set_index("id")["score"]  # the analyst's label has no score
    assert scores.isna()[first.articles[0]["id"]] and scores.notna().sum() == len(scores) - 1
    at.run()
    assert any(re.match(r"#\d+ \$ACME: 8 negative of 8 articles", t.value) for t in at.text), "counts as raised"
    assert "1 of its 8 negative articles since corrected to another sentiment: see each article's " \
        "sentiment now." in [c.value for c in at.caption]
    assert list(at.dataframe[0].value["sentiment"]) == ["neutral"] + ["negative"] * 7
    assert json.loads(table.proto.columns)["url"]["type_config"]["type"] == "link"
    before = len(alerts(filled.engine))
    at.text_input(key="ack-by").input("alice").run()
    ack = [b for b in at.button if b.label == "Acknowledge"][0]
    ack.click().run()
    assert not at.exception
    assert len(alerts(filled.engine)) == before - 1
    [toast] = at.toast
    assert "acknowledged" in toast.value and "Show acknowledged" in toast.value
    assert len([b for b in at.button if b.label == "Acknowledge"]) == before - 1
    at.toggle(key="alerts-all").set_value(True).run()
    assert not at.exception
    assert sum(bool(re.search(r"\(acknowledged by alice at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$", t.value))
               for t in at.text) == 1
    assert len([b for b in at.button if b.label == "Acknowledge"]) == before - 1


def test_articles_are_chosen_by_title_and_corrected_in_sight(filled) -> None:
    """The detail choice reads "id — title", the table leads with title and labels, and the
    Corrections tab shows the article and its labels before and after a correction."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    [table] = [d for d in at.dataframe if "tickers" in getattr(d.value, "columns", [])]
    assert list(table.proto.column_order)[:4] == ["title", "topic", "sentiment", "score"]
    assert json.loads(table.proto.columns)["duplicates"]["label"] == "also told"  # "duplicat…" was clipped
    detail = at.selectbox(key="f-detail")
    assert detail.options[0] == f"{detail.value} — {EVIL}"
    # the sentiment model's words behind its verdict on the lead sentence, shown as text, not markup
    assert "also told by wire (in other words): http://other.test/evil" in [t.value for t in at.text]
    [why] = [t.value for t in at.text if t.value.startswith("Sentiment model on ")]
    assert EVIL in why and "read as '" in why
    # Corrections opens on the article detailed in the Articles tab
    assert at.number_input(key="c-id").value is None
    assert f"Article {detail.value}: the one detailed in the Articles tab" in " ".join(c.value for c in at.caption)
    assert at.selectbox(key=f"c-value-{detail.value}-sentiment").options
    target = int(table.value["id"].iloc[1])
    title = table.value["title"].iloc[1]
    at.number_input(key="c-id").set_value(target).run()
    texts = [t.value for t in at.text]
    assert title in texts and any(t.startswith("topic: Macro · sentiment: ") for t in texts)
    label = at.selectbox(key=f"c-value-{target}-sentiment")
    assert label.value == table.value["sentiment"].iloc[1], "opens on the article's own label"
    [save] = [b for b in at.button if b.label == "Save correction"]
    save.click().run()
    assert f"Article {target}'s sentiment is already {label.value}: choose another label." in \
        [i.value for i in at.info], "saving its own label changes nothing"
    at.selectbox(key=f"c-value-{target}-sentiment").set_value("positive")
    [save] = [b for b in at.button if b.label == "Save correction"]
    save.click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith(f"Article {target}: sentiment set to positive") for s in at.success)
    assert "topic: Macro · sentiment: positive (set by an analyst)" in [t.value for t in at.text]
    at.number_input(key="c-id").set_value(9999).run()
    assert "No article with id 9999." in [i.value for i in at.info]
    # a search that finds nothing details no article: Corrections offers none either (it kept the last)
    at.number_input(key="c-id").set_value(None).run()
    at.text_input(key="f-search").input("zzqx nothing").run()
    assert "Choose an article in the Articles tab, or type its id." in [i.value for i in at.info]
    assert not [b for b in at.button if b.label == "Save correction"]


def test_corrections_stay_on_the_corrected_article(filled) -> None:
    """Corrected to neutral, the article leaves the Articles tab's "negative" filter and that
    tab details another one; the Corrections tab stays on the corrected article (it followed,
    and a second save changed the other article)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    at.selectbox(key="f-sentiment").set_value("negative").run()
    chosen = at.selectbox(key="f-detail").value
    assert at.number_input(key="c-id").value is None  # on the Articles tab's article
    at.selectbox(key=f"c-value-{chosen}-sentiment").set_value("neutral")
    [save] = [b for b in at.button if b.label == "Save correction"]
    save.click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith(f"Article {chosen}: sentiment set to neutral") for s in at.success)
    assert at.selectbox(key="f-detail").value != chosen, "it left the filter"
    assert at.number_input(key="c-id").value == chosen
    assert at.selectbox(key=f"c-value-{chosen}-sentiment").value == "neutral"
    assert any(t.value.endswith("sentiment: neutral (set by an analyst)") for t in at.text)
    at.run()  # and it stays there, the field showing its id
    assert at.number_input(key="c-id").value == chosen
    assert at.selectbox(key=f"c-value-{chosen}-sentiment").value == "neutral"


def test_a_correction_against_an_open_alert_points_to_its_acknowledge_button(home, monkeypatch) -> None:
    """The dashboard's note names the Alerts tab's button, not the CLI's `alerts ack`."""
    from streamlit.testing.v1 import AppTest

    engine = _configured(home, monkeypatch)
    now = datetime.now(UTC).replace(tzinfo=None)
    with session_scope(engine) as session:
        session.add_all(Article(id=i, content_hash=str(i), url=f"http://n.test/{i}", source="a", title=f"story {i}",
                                published=now, fetched_at=now, topic="Macro", sentiment="negative",
                                sentiment_score=-0.8, classified_at=now) for i in (1, 2, 3))
        session.add(AlertRow(key="topic:Macro", window_start=now, window_end=now, negatives=3, total=3,
                             baseline=0.0, score=5.0, article_ids="[1, 2, 3]"))
        session.flush()
        session.add(AlertFollowUp(alert_id=1, window_start=datetime(2026, 3, 2, 6), window_end=datetime(2026, 3, 2, 12),
                                  negatives=4, total=5))
    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    assert ("Its surge went on: 4 negative of 5 articles in 2026-03-02 06:00 to 2026-03-02 12:00 UTC; no new alert "
            "while it cools down.") in [c.value for c in at.caption]  # the window after the alert's, on the Alerts tab
    at.number_input(key="c-id").set_value(1).run()
    at.selectbox(key="c-value-1-sentiment").set_value("neutral")
    [save] = [b for b in at.button if b.label == "Save correction"]
    save.click().run()
    assert not at.exception, at.exception
    [saved] = [s.value for s in at.success if s.value.startswith("Article 1: sentiment set to neutral")]
    assert saved.endswith("stands until news lands in its window again: press Acknowledge on the Alerts tab "
                          "if it no longer holds"), saved
    assert "verticals finance alerts ack" not in saved


def test_scraped_html_is_shown_as_text(filled) -> None:
    from streamlit.testing.v1 import AppTest

    from shared.ui import markdown_text

    body = "<img src=x onerror=alert(1)> *not bold* and $5 to $9"
    with session_scope(filled.engine) as session:
        session.execute(update(Article).where(Article.title == EVIL).values(text=body))
    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    at.text_input(key="f-search").input("Bold").run()
    assert not at.exception
    [table] = [d.value for d in at.dataframe if "tickers" in getattr(d.value, "columns", [])]
    assert list(table["title"]) == [EVIL]
    assert not any(re.search(r"(?<!\\)<", m.value) for m in at.markdown)  # every "<" escaped: no markup
    assert any(EVIL == t.value for t in at.text)
    assert markdown_text(body) in [m.value for m in at.markdown], "the body as prose, every mark escaped"


def _configured(home: Path, monkeypatch) -> object:
    """The engine of a home with a one-source config and the finance tables."""
    path = home / "finance" / "sources.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_config(make_config([("a", "http://127.0.0.1:9/a.xml")])))
    monkeypatch.setenv("VERTICALS_FINANCE_CONFIG", str(path))
    engine = make_engine()
    Base.metadata.create_all(engine)
    return engine


def test_ticker_trends_open_with_tickers_and_the_table_says_what_it_leaves_out(home, monkeypatch) -> None:
    """503 classified articles of this hour: the table shows the newest 500 and says so; the
    ticker view, opened after the topic view, charts the tickers (it opened empty)."""
    from streamlit.testing.v1 import AppTest

    engine = _configured(home, monkeypatch)
    now = datetime.now(UTC).replace(tzinfo=None)
    with session_scope(engine) as session:
        session.add_all(Article(content_hash=str(i), url=f"http://n.test/{i}", source="a",
                                title=f"$ACME story {i}", published=now - timedelta(seconds=i),
                                fetched_at=now, tickers="ACME", topic="Macro", sentiment="negative",
                                sentiment_score=-0.8, classified_at=now) for i in range(503))
    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    assert not at.exception, at.exception
    assert "the newest 500 of 503 articles" in [c.value for c in at.caption]
    assert at.multiselect(key="trend-keys-topic").value == ["Macro"]
    at.radio(key="trend-kind").set_value("ticker").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="trend-keys-ticker").value == ["ACME"]
    at.multiselect(key="trend-keys-ticker").set_value([]).run()  # an empty chart said nothing
    assert "Pick one or more tickers above to chart them." in [i.value for i in at.info]


def test_a_new_topic_joins_the_chart_unless_the_reader_chose_topics(home, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    engine = _configured(home, monkeypatch)
    now = datetime.now(UTC).replace(tzinfo=None)

    def story(n: int, topic: str) -> None:
        with session_scope(engine) as session:
            session.add(Article(content_hash=f"h{n}", url=f"http://n.test/{n}", source="a",
                                title=f"story {n}", published=now, fetched_at=now, topic=topic,
                                sentiment="negative", sentiment_score=-0.8, classified_at=now))

    story(1, "Earnings")
    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    at.radio(key="trend-kind").set_value("ticker").run()  # no article names a ticker
    assert "No classified article mentions a ticker yet." in [i.value for i in at.info]
    at.radio(key="trend-kind").set_value("topic").run()
    assert at.multiselect(key="trend-keys-topic").value == ["Earnings"]
    story(2, "Energy | Oil")  # the poller classifies a story on a new topic
    at.run()
    assert at.multiselect(key="trend-keys-topic").value == ["Earnings", "Energy | Oil"]
    at.multiselect(key="trend-keys-topic").set_value(["Energy | Oil"]).run()  # the reader's
    story(3, "Macro")
    at.run()
    assert not at.exception, at.exception
    assert at.multiselect(key="trend-keys-topic").value == ["Energy | Oil"]


def test_the_chosen_topics_stay_chosen_after_a_look_at_the_tickers(home, monkeypatch) -> None:
    """Streamlit forgets a widget it does not draw: back from the ticker view, the topics the
    reader had removed were back in the chart."""
    from streamlit.testing.v1 import AppTest

    engine = _configured(home, monkeypatch)
    now = datetime.now(UTC).replace(tzinfo=None)
    with session_scope(engine) as session:
        session.add_all(Article(content_hash=topic, url=f"http://n.test/{i}", source="a", title=f"$ACME {topic}",
                                published=now, fetched_at=now, tickers="ACME", topic=topic, sentiment="negative",
                                sentiment_score=-0.8, classified_at=now)
                        for i, topic in enumerate(["Earnings", "Legal | Regulation", "Macro"]))
    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    assert at.multiselect(key="trend-keys-topic").value == ["Earnings", "Legal | Regulation", "Macro"]
    at.multiselect(key="trend-keys-topic").unselect("Legal | Regulation").run()
    at.radio(key="trend-kind").set_value("ticker").run()
    assert at.multiselect(key="trend-keys-ticker").value == ["ACME"]
    at.radio(key="trend-kind").set_value("topic").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="trend-keys-topic").value == ["Earnings", "Macro"]
    at.run()  # and on the next rerun too
    assert at.multiselect(key="trend-keys-topic").value == ["Earnings", "Macro"]


def test_ticker_trends_open_on_the_alerted_and_most_negative_tickers(home, monkeypatch) -> None:
    """Seven tickers: the chart opens on ZZZ (open alert, last alphabetically), then the most
    negative; measures and the y axis have readable names."""
    from streamlit.testing.v1 import AppTest

    engine = _configured(home, monkeypatch)
    now = datetime.now(UTC).replace(tzinfo=None)
    negatives = {"AAA": 1, "BBB": 3, "CCC": 1, "DDD": 1, "EEE": 0, "FFF": 0, "ZZZ": 0}
    with session_scope(engine) as session:
        session.add_all(Article(content_hash=f"{ticker}{i}", url=f"http://n.test/{ticker}/{i}",
                                source="a", title=f"${ticker} story {i}", published=now,
                                fetched_at=now, tickers=ticker, topic="Macro",
                                sentiment="negative" if i < count else "neutral",
                                sentiment_score=-0.8 if i < count else 0.0, classified_at=now)
                        for ticker, count in negatives.items() for i in range(3))
        session.add(AlertRow(key="ticker:ZZZ", window_start=now, window_end=now, negatives=5,
                             total=5, baseline=0.0, score=5.0))
    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    at.radio(key="trend-kind").set_value("ticker").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="trend-keys-ticker").value == ["ZZZ", "BBB", "AAA", "CCC", "DDD"]
    measure = at.selectbox(key="trend-metric")
    assert "net sentiment" in measure.options and "negative share" in measure.options
    measure.set_value("net_sentiment").run()
    [chart] = [c for c in at.tabs[1].children.values() if hasattr(c.proto, "spec")]
    assert '"title": "net sentiment"' in chart.proto.spec


def test_article_table_says_how_many_it_leaves_out_and_search_is_literal(home) -> None:
    engine = make_engine()
    Base.metadata.create_all(engine)
    titles = [f"Story {i}" for i in range(7)] + ["Rates cut 50% today", "Rates cut 50 today",
                                                 "snake_case story", "snakeXcase story"]
    with session_scope(engine) as session:
        session.add_all(Article(content_hash=str(i), url=f"http://n.test/{i}", source="a",
                                title=t, published=datetime(2026, 3, 2, i)) for i, t in enumerate(titles))
        session.add_all([SourceHealth(source="a"), SourceHealth(source="gone")])
    assert len(articles_frame(engine, limit=5)) == 5 and count_articles(engine) == 11
    assert list(articles_frame(engine, search="50%")["title"]) == ["Rates cut 50% today"]
    assert list(articles_frame(engine, search="snake_")["title"]) == ["snake_case story"]
    assert count_articles(engine, search="50%") == 1
    health = health_frame(engine, [SourceConfig("a", "http://n.test/a.xml", interval_s=60),
                                   SourceConfig("new", "http://n.test/new.xml", interval_s=60)])
    assert dict(zip(health["source"], health["in_config"])) == {"a": True, "gone": False, "new": True}
    assert list(health["state"]) == ["never polled"] * 3  # not "stale": nothing says the poller stopped
    assert list(health["url"])[2] == "http://n.test/new.xml"


def test_a_source_not_polled_for_three_intervals_says_so() -> None:
    from apps.finance_monitor.health import source_state

    now = datetime(2026, 3, 2, 12)
    polled = SourceHealth(source="a", last_attempt=datetime(2026, 3, 2, 4), last_success=datetime(2026, 3, 2, 4))
    assert source_state(polled, 10, now) == "stale: no poll for 8 h (every 10 s)"
    assert source_state(polled, 3600, now) == "stale: no poll for 8 h (every 1 h)"
    assert source_state(polled, 3 * 3600, now) == "ok"
    assert source_state(polled, 10, datetime(2026, 3, 2, 4, 4)) == "ok", "five minutes at least"
    assert source_state(polled, None, now) == "ok", "not in the config: not expected to poll"
    failing = SourceHealth(source="b", consecutive_failures=2, last_error="HTTP 404")
    assert source_state(failing, 10, now) == "failing 2x: HTTP 404"


def test_alerts_and_sources_read_like_the_rest_of_the_page(home, monkeypatch) -> None:
    """"driving" is blank where it only repeats the title (a wire story's comes back as
    "title."), a ticker reads by its cashtag as in the webhooks and the CLI, and source times
    say UTC."""
    from streamlit.testing.v1 import AppTest

    engine = _configured(home, monkeypatch)
    now = datetime.now(UTC).replace(tzinfo=None)
    title = "Northwind Bank chair steps down as accounting scandal deepens"
    stories = [  # (text, driving sentences as classification stored them)
        ("", [title]),  # headline only
        ("The board met on Monday.", [f"{title}."]),  # wire: "title. text"
        ("Shares fell 9% after the filing.", [f" {title.upper()}. ", "Shares fell 9% after the filing."]),
    ]
    with session_scope(engine) as session:
        session.add_all(Article(id=i + 1, content_hash=str(i), url=f"http://n.test/{i}", source="a",
                                title=title, text=text, published=now - timedelta(minutes=3 - i),
                                fetched_at=now, tickers="NWB", topic="Macro", sentiment="negative",
                                sentiment_score=-0.8, driving=json.dumps(driving), classified_at=now)
                        for i, (text, driving) in enumerate(stories))
        session.add(alert := AlertRow(key="ticker:NWB", window_start=now, window_end=now, negatives=3,
                                      total=3, baseline=0.0, score=5.0, article_ids="[1, 2, 3]"))
        session.flush()  # a webhook the config no longer names, its delivery failed before
        session.add(Delivery(alert_id=alert.id, url="https://hooks.example.test/gone", attempts=2,
                             last_error="HTTP 500"))
        session.add_all([SourceHealth(source="a", last_success=datetime(2026, 3, 2, 9, 0, 41),
                                      last_error_at=datetime(2026, 3, 2, 8, 30, 5), last_error="HTTP 503"),
                         SourceHealth(source="b")])
    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    assert not at.exception, at.exception
    assert any(re.match(r"#\d+ \$NWB: 3 negative of 3 articles", t.value) for t in at.text)
    assert list(at.dataframe[0].value["driving"]) == ["", "", "Shares fell 9% after the filing."]
    [health] = [d for d in at.dataframe if "failures_in_a_row" in getattr(d.value, "columns", [])]
    assert list(health.value["last_success"]) == ["2026-03-02 09:00", "never"]
    assert list(health.value["last_error_at"]) == ["2026-03-02 08:30", ""]
    labels = {name: column.get("label") for name, column in json.loads(health.proto.columns).items()}
    assert labels["last_success"] == "last success (UTC)" and labels["last_error_at"] == "last error at (UTC)"
    warnings = [w.value for w in at.warning]  # an audit's was called failing and "retried with backoff"
    assert any("not in the config: their alerts are held" in w for w in warnings), warnings
    assert not any("retried with backoff" in w for w in warnings), warnings
    # words, not the frame's names (which tests and the CLI's JSON keep)
    assert (labels["in_config"], labels["last_error"], labels["failures_in_a_row"]) == (
        "in config", "last error", "failures in a row")
    at.radio(key="trend-kind").set_value("ticker").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="trend-keys-ticker").options == ["NWB"]  # the alert's own label


def test_dashboard_without_config_says_what_to_do(home, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(SCRIPT), default_timeout=60).run()  # the home's own: the demo writes it
    assert not at.exception
    assert "verticals finance demo" in at.info[0].value
    monkeypatch.setenv("VERTICALS_FINANCE_CONFIG", str(home / "nope.toml"))  # another: the demo would not help
    at = AppTest.from_file(str(SCRIPT), default_timeout=60).run()
    assert not at.exception
    assert "nope.toml. Point VERTICALS_FINANCE_CONFIG at an existing file" in at.info[0].value


@pytest.mark.browser
def test_dashboard_in_headless_chromium(filled, home, streamlit_server, browser, wait_for_text,
                                        tmp_path) -> None:
    import os

    env = {"VERTICALS_HOME": str(home),
           "VERTICALS_FINANCE_CONFIG": os.environ["VERTICALS_FINANCE_CONFIG"]}
    browser.get(streamlit_server(SCRIPT, env))
    assert wait_for_text(browser, "ACME: 8 negative of 8 articles", timeout=120)
    shot = tmp_path / "finance-dashboard.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    assert "<script>" not in browser.find_element("tag name", "body").get_attribute("innerHTML")


def test_the_trend_chart_reads_its_times_as_utc_with_24_hour_labels() -> None:
    """The browser read naive times as its own zone's (the axis says UTC) and wrote "06 PM"."""
    import pandas as pd

    from apps.finance_monitor.views import trend_chart

    frame = pd.DataFrame({"key": ["Macro"] * 2, "window": pd.to_datetime(["2026-03-02 09:00", "2026-03-02 18:00"]),
                          "count": [1, 2], "negatives": [0, 1], "negative_share": [0.0, 0.5],
                          "net_sentiment": [0.0, -0.5]})
    spec = trend_chart(frame, "topic", "negatives").to_dict()
    x = spec["encoding"]["x"]
    assert x["scale"]["type"] == "utc" and x["axis"]["format"] == "%d %b %H:%M"
    assert [row["window"] for row in next(iter(spec["datasets"].values()))] == [
        "2026-03-02T09:00:00+00:00", "2026-03-02T18:00:00+00:00"]
    assert spec["encoding"]["y"]["title"] == "negative articles"
    # a temporal tooltip's format reads the browser's zone: the UTC time unit does not
    assert spec["encoding"]["tooltip"][1]["timeUnit"] == "utcyearmonthdatehoursminutes"
