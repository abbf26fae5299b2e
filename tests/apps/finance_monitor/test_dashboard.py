"""The dashboard: streamlit.testing for behaviour, one real headless Chromium for the look."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from apps.finance_monitor.config import render_config
from apps.finance_monitor.service import FinanceService
from apps.finance_monitor.store import Article
from apps.finance_monitor.views import alerts
from shared import session_scope

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
    service.check_alerts()
    return service


def test_dashboard_shows_alerts_and_acknowledges(filled) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    assert not at.exception, at.exception
    shown = " ".join(t.value for t in at.text)
    assert "$ACME: 8 negative of 8 articles" in shown
    assert len(at.tabs) == 6
    before = len(alerts(filled.engine))
    ack = [b for b in at.button if b.label == "Acknowledge"][0]
    ack.click().run()
    assert not at.exception
    assert len(alerts(filled.engine)) == before - 1


def test_scraped_html_is_shown_as_text(filled) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(SCRIPT), default_timeout=120).run()
    at.text_input(key="f-search").input("Bold").run()
    assert not at.exception
    [table] = [d.value for d in at.dataframe if "tickers" in getattr(d.value, "columns", [])]
    assert list(table["title"]) == [EVIL]
    assert all("<script>" not in m.value for m in at.markdown)  # never rendered as markup
    assert any(EVIL == t.value for t in at.text)


def test_dashboard_without_config_says_what_to_do(home, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VERTICALS_FINANCE_CONFIG", str(home / "nope.toml"))
    at = AppTest.from_file(str(SCRIPT), default_timeout=60).run()
    assert not at.exception
    assert "verticals finance demo" in at.info[0].value


@pytest.mark.browser
def test_dashboard_in_headless_chromium(filled, home, streamlit_server, browser, wait_for_text,
                                        tmp_path) -> None:
    import os

    env = {"VERTICALS_HOME": str(home),
           "VERTICALS_FINANCE_CONFIG": os.environ["VERTICALS_FINANCE_CONFIG"]}
    browser.get(streamlit_server(SCRIPT, env))
    assert wait_for_text(browser, "$ACME: 8 negative of 8 articles", timeout=120)
    shot = tmp_path / "finance-dashboard.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    assert "<script>" not in browser.find_element("tag name", "body").get_attribute("innerHTML")
