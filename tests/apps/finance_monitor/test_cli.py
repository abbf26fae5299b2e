"""``verticals finance ...`` through typer's runner: JSON on stdout, one-line errors."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from apps.finance_monitor.cli import app
from apps.finance_monitor.config import render_config
from apps.finance_monitor.store import AlertFollowUp, AlertRow, Base, utcnow
from apps.finance_monitor.training import read_column
from apps.finance_monitor.views import alerts
from shared import make_engine, session_scope
from shared.errors import DataError

from .conftest import DATA, Route, make_config, rss

runner = CliRunner()


def error_lines(args: list[str]) -> list[str]:
    """What a command that must fail printed, line by line (it exits 1)."""
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    return result.output.strip().splitlines()


def home_with_db(home, tmp_path, sources: list[tuple[str, str]]) -> tuple:
    """A sources config with ``sources`` and the home's database with its tables: (path, engine)."""
    path = tmp_path / "sources.toml"
    path.write_text(render_config(make_config(sources)))
    home.mkdir(parents=True, exist_ok=True)
    engine = make_engine()
    Base.metadata.create_all(engine)
    return path, engine


def test_poll_once_alerts_and_eval(home, server, models) -> None:
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", "Northwind Bank fined", ""),
                                              ("http://news.test/2", "Atlas Motors profit up",
                                               "")]))
    path = home / "sources.toml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(render_config(make_config([("a", server.url("/a.xml"))], models)))
    result = runner.invoke(app, ["poll-once", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["sources"]["a"]["new"] == 2 and out["classified"] == 2
    again = json.loads(runner.invoke(app, ["poll-once", "--config", str(path), "--json"]).stdout)
    assert again["sources"]["a"]["new"] == 0 and again["new_alerts"] == []  # ids
    text = runner.invoke(app, ["poll-once", "--config", str(path)]).stdout
    assert "new_alerts: 0\n" in text  # a count as text ("1 (#2)"), not the ids
    listed = runner.invoke(app, ["alerts", "list", "--config", str(path), "--json"])
    assert json.loads(listed.stdout) == {"alerts": []}
    missing = runner.invoke(app, ["alerts", "ack", "99", "--config", str(path)])
    assert missing.exit_code == 1 and "alert 99 does not exist" in missing.output
    evaluated = runner.invoke(app, ["eval", "--test", str(DATA / "test.csv"),
                                    "--config", str(path), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.stdout)
    notes = metrics.pop("notes", [])
    assert set(metrics) == {"sentiment_accuracy", "sentiment_macro_f1", "topic_accuracy",
                            "topic_macro_f1"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    # the models' own training rows, kept in their versions: scored, they are said to be
    learnt = runner.invoke(app, ["eval", "--test", str(DATA / "train.csv"), "--config", str(path), "--json"])
    said = json.loads(learnt.stdout)["notes"]
    assert any(n.startswith("sentiment: ") and "test rows have a text the training rows hold too" in n
               for n in said), said
    assert len(said) >= len(notes)


def test_poll_once_says_when_it_polls_nothing_and_which_model_to_train(home, tmp_path) -> None:
    from apps.finance_monitor.store import Article

    path, engine = home_with_db(home, tmp_path, [])
    with session_scope(engine) as session:  # stored, never classified: no model trained yet
        session.add(Article(content_hash="h", url="http://n.test/1", source="a", title="Bank fined",
                            published=datetime(2026, 3, 2)))
    result = runner.invoke(app, ["poll-once", "--json", "--config", str(path)])
    assert result.exit_code == 1  # a cron job must see that no story was judged for alerts
    assert json.loads(result.stdout)["models_missing"] == (
        "model 'finance-sentiment' not found: train it with `verticals finance demo` (small demo models, "
        "minutes) or `verticals finance train`; stored articles wait unclassified until then")
    assert f"note: {path} names no sources, so nothing was polled" in result.output
    assert "error: nothing was classified or judged for alerts: model 'finance-sentiment' not found" in result.output
    evaluated = runner.invoke(app, ["eval", "--test", str(DATA / "test.csv"), "--config", str(path)])
    assert evaluated.exit_code == 1 and evaluated.output.strip() == (
        "error: model 'finance-sentiment' not found: train it with `verticals finance demo` (small demo "
        "models, minutes) or `verticals finance train`")


def test_a_mistyped_model_name_names_the_models_the_registry_holds(home) -> None:
    """It sent the user to `finance demo`, which trains finance-sentiment: still not the name."""
    from apps.finance_monitor.classify import untrained
    from shared import ModelNotFoundError, Registry

    registry = Registry(home / "models")
    for name in ("finance-sentiment", "support-intents"):
        registry.save(name, lambda d: (d / "w").write_text("x"), {"kind": "classifier"})
    assert untrained(ModelNotFoundError("gone", name="finance-topic")).endswith(
        "train it with `verticals finance demo` (small demo models, minutes) or `verticals finance train`")
    assert untrained(ModelNotFoundError("gone", name="finance-sentimnet")) == (
        "model 'finance-sentimnet' not found (the registry holds finance-sentiment): check the name in the "
        "config's [models], or train it with `verticals finance train`")


def test_trends_per_topic_and_ticker(home, tmp_path) -> None:
    from apps.finance_monitor.store import Article

    path, engine = home_with_db(home, tmp_path, [])
    stories = [(datetime(2026, 3, 2, 1), "Macro", "negative", -0.9, "NWB"),
               (datetime(2026, 3, 2, 2), "Macro", "positive", 0.5, ""),
               (datetime(2026, 3, 2, 13), "Macro", "negative", -0.7, "NWB"),
               (datetime(2026, 3, 2, 14), "Earnings", "neutral", -0.14, "")]  # neutral nets 0
    with session_scope(engine) as session:
        session.add_all(Article(content_hash=str(i), url=f"http://n.test/{i}", source="a", title=f"story {i}",
                                published=when, fetched_at=when, classified_at=when, topic=topic,
                                sentiment=sentiment, sentiment_score=score, tickers=tickers)
                        for i, (when, topic, sentiment, score, tickers) in enumerate(stories))
        session.add(AlertRow(key="topic:Macro", window_start=datetime(2026, 3, 2, 12), negatives=1, total=1,
                             window_end=datetime(2026, 3, 2, 18), baseline=0.0, score=3.0))
    shown = runner.invoke(app, ["trends", "--config", str(path)])
    assert shown.exit_code == 0 and shown.stdout.splitlines() == [  # open alerts first, then the most negative
        "Macro (open alert) — windows of 6 h, UTC:",
        "    2026-03-02 00:00     2 articles     1 negative (50%)  net +0.00",
        "    2026-03-02 06:00     0 articles",
        "    2026-03-02 12:00     1 article      1 negative (100%)  net -1.00",
        "Earnings — windows of 6 h, UTC:",
        "    2026-03-02 00:00     0 articles",
        "    2026-03-02 06:00     0 articles",
        "    2026-03-02 12:00     1 article      0 negative (0%)  net +0.00"]
    one = runner.invoke(app, ["trends", "--windows", "1", "--config", str(path)]).stdout.splitlines()
    assert one[0] == "Macro (open alert) — windows of 6 h, UTC:"  # its window is the one shown
    with session_scope(engine) as session:  # an alert in an older window than the one shown
        session.add(AlertRow(key="topic:Macro", window_start=datetime(2026, 3, 2), negatives=1, total=2,
                             window_end=datetime(2026, 3, 2, 6), baseline=0.0, score=3.0))
    one = runner.invoke(app, ["trends", "--windows", "1", "--config", str(path)]).stdout.splitlines()
    assert one[0] == ("Macro (open alert, in the window of 2026-03-02 00:00: --windows 3 shows it) — windows of 6 h, "
                      "UTC:")
    picked = json.loads(runner.invoke(app, ["trends", "--key", "Macro", "--key", "Earnings", "--windows", "1",
                                            "--json", "--config", str(path)]).stdout, parse_constant=pytest.fail)
    assert [row["key"] for row in picked["trends"]] == ["Macro", "Earnings"]  # in the order asked
    ticker = json.loads(runner.invoke(app, ["trends", "--by", "ticker", "--windows", "1", "--json",
                                            "--config", str(path)]).stdout, parse_constant=pytest.fail)
    assert ticker == {"trends": [{"key": "NWB", "window": "2026-03-02T12:00:00Z", "count": 1, "negatives": 1,
                                  "positives": 0, "negative_share": 1.0, "net_sentiment": -1.0}]}
    spelled = json.loads(runner.invoke(app, ["trends", "--by", "ticker", "--key", "$nwb", "--windows", "1", "--json",
                                             "--config", str(path)]).stdout)
    assert spelled == ticker  # any case, with or without its $
    unknown = runner.invoke(app, ["trends", "--key", "Crypto", "--config", str(path)])
    assert unknown.exit_code == 1 and "no topic 'Crypto' in the trends — they hold: Earnings, Macro" in unknown.output


def test_articles_and_sources_list_what_the_dashboard_shows(home, tmp_path) -> None:
    from apps.finance_monitor.store import Article, ArticleUrl, Delivery, SourceHealth, UrlTitle

    path, engine = home_with_db(home, tmp_path, [("a", "http://127.0.0.1:9/a.xml"), ("b", "http://127.0.0.1:9/b.xml")])
    with session_scope(engine) as session:
        session.add(Article(id=7, content_hash="h1", url="http://n.test/1", source="a", title="Bank fined",
                            published=datetime(2026, 3, 2, 9, 30), topic="Macro", sentiment="negative",
                            sentiment_score=-0.91))
        session.add(Article(id=8, content_hash="h2", url="http://n.test/2", source="a", title="Board meets",
                            published=datetime(2026, 3, 2, 10)))
        session.flush()
        session.add(ArticleUrl(url="http://b.test/9", article_id=7, source="b", reason="near_dup"))
        session.flush()
        session.add(UrlTitle(url="http://b.test/9", title="Regulator fines the bank"))
        session.add(SourceHealth(source="a", url="http://127.0.0.1:9/a.xml", last_success=datetime(2026, 3, 2, 10),
                                 last_attempt=utcnow() - timedelta(minutes=2), polls=3, articles_last_poll=2,
                                 total_new=2))
        session.add(SourceHealth(source="b", url="http://127.0.0.1:9/b.xml", last_success=datetime(2026, 3, 2, 10),
                                 last_attempt=utcnow() - timedelta(hours=30), polls=1))
        session.add(SourceHealth(source="old", url="http://127.0.0.1:9/b.xml", consecutive_failures=2,
                                 last_error="HTTP 404", polls=2))
        alert = AlertRow(key="topic:Macro", window_start=datetime(2026, 3, 2, 6), window_end=datetime(2026, 3, 2, 12),
                         negatives=8, total=9, baseline=1.0, score=7.0)
        session.add(alert)
        session.flush()
        session.add(Delivery(alert_id=alert.id, url="https://hooks.slack.test/services/T0/B0/secret", attempts=2,
                             last_error="HTTP 500", next_attempt_at=datetime(2026, 3, 2, 12, 5)))
    listed = runner.invoke(app, ["articles", "--config", str(path)])
    assert listed.stdout.splitlines() == [
        "[8] 2026-03-02 10:00 UTC a: Board meets (-; not classified yet)",
        "[7] 2026-03-02 09:30 UTC a: Bank fined (Macro; negative -0.91)"]
    negative = runner.invoke(app, ["articles", "--sentiment", "negative", "--json", "--config", str(path)])
    [found] = json.loads(negative.stdout)["articles"]
    assert (found["id"], found["published"]) == (7, "2026-03-02T09:30:00Z")
    earnings = runner.invoke(app, ["articles", "--topic", "Earnings", "--config", str(path)])
    assert earnings.stdout == "no articles match (no article has the topic 'Earnings'; stored topics: Macro)\n"
    any_case = runner.invoke(app, ["articles", "--topic", "macro", "--sentiment", "Negative", "--source", "A",
                                   "--config", str(path)])
    assert any_case.stdout.splitlines() == ["[7] 2026-03-02 09:30 UTC a: Bank fined (Macro; negative -0.91)"]
    searched = runner.invoke(app, ["articles", "--search", "regulator", "--config", str(path)])  # says which source
    assert searched.stdout.splitlines() == ["[7] 2026-03-02 09:30 UTC a: Bank fined (Macro; negative -0.91)",
                                            "    found as told by b: Regulator fines the bank"]
    elsewhere = runner.invoke(app, ["articles", "--source", "nope", "--config", str(path)])
    assert elsewhere.stdout == "no articles match (no article came from a source 'nope'; sources: a)\n"
    typo = runner.invoke(app, ["articles", "--sentiment", "bad", "--config", str(path)])
    assert typo.exit_code == 1 and "sentiment 'bad' is not one of negative, neutral, positive" in typo.output
    args = ["articles", "--sentiment", "bad", "--json", "--config", str(path)]
    with pytest.MonkeyPatch.context() as patch:  # as `verticals finance ...` is called
        patch.setattr("sys.argv", ["verticals", "finance", *args])
        typo = runner.invoke(app, args)
    assert typo.exit_code == 1 and json.loads(typo.stdout)["error"].startswith("sentiment 'bad' is not one of")
    as_json = runner.invoke(app, ["sources", "--json", "--config", str(path)]).stdout
    never = {s["source"]: s for s in json.loads(as_json, parse_constant=pytest.fail)["sources"]}["old"]
    assert never["last_success"] is None  # null, not NaN (which is no JSON)
    health = runner.invoke(app, ["sources", "--config", str(path)])
    assert health.stdout.splitlines() == [
        "webhook https://hooks.slack.test/… (#47c64f) (not in the config: its alerts are held; `verticals finance "
        "alerts resend ID` sends one to the webhooks configured now): 0 alerts delivered, "
        "1 waiting; failing: HTTP 500 (2 attempts, next at 2026-03-02 12:05 UTC)",  # the token is not shown
        "a: ok; last success 2026-03-02 10:00 UTC; 2 new in the last poll, 2 in 3 polls",
        "b: stale: no poll for 30 h (every 1 s) — is `verticals finance run` running?; last success "
        "2026-03-02 10:00 UTC; 0 new in the last poll, 0 in 1 polls",
        "old (not in the config): failing 2x: HTTP 404; last success never; 0 new in the last poll, 0 in 2 polls"]
    forgot = runner.invoke(app, ["sources", "--forget", "old", "--config", str(path)])
    assert forgot.exit_code == 0 and not any(line.startswith("old") for line in forgot.stdout.splitlines())
    kept = runner.invoke(app, ["sources", "--forget", "a", "--config", str(path)])
    assert kept.exit_code == 1 and "source 'a' is in the config: remove it there first" in kept.output


def test_bad_config_and_bad_data_are_one_line_errors(home, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[sources]]\nname = "x"\nurl = "ftp://x"\n')
    assert error_lines(["poll-once", "--config", str(bad)]) == [
        f"error: {bad}: [[sources]] 1 ('x') source url must start with http:// or https://, "
        "got 'ftp://x' — fix the value in the config"]
    latin = tmp_path / "latin.toml"
    latin.write_bytes('# sources\n[[sources]]\nname = "Café"\n'.encode("latin-1"))
    assert error_lines(["poll-once", "--config", str(latin)]) == [
        f"error: {latin}, line 3: not valid UTF-8 — re-save the file as UTF-8"]  # not "fix the syntax"
    latin.write_bytes(b"\xef\xbb\xbf#\n\xe9\n")  # a BOM first: still the line the byte is on
    assert error_lines(["poll-once", "--config", str(latin)])[0].endswith("line 2: not valid UTF-8 — re-save "
                                                                          "the file as UTF-8")
    data = tmp_path / "t.csv"
    data.write_text("text,sentiment\nfine,positive\n,negative\n")
    result = runner.invoke(app, ["train", "--sentiment", str(data)])
    assert result.exit_code == 1 and "t.csv, row 3: empty 'text'" in result.output
    result = runner.invoke(app, ["train", "--lora", "--adversarial"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "drop --lora or --adversarial" in result.output
    result = runner.invoke(app, ["train", "--layers", "7"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "--layers 7: the base 'minilm' has only 6 layers" in result.output
    result = runner.invoke(app, ["train", "--val-fraction", "0.5", "--mlm"])  # refused before adapting
    assert result.exit_code == 1 and "--val-fraction must be in [0, 0.5), got 0.5" in result.output


def test_alerts_list_on_stdout_and_mistakes_fail_before_any_work(home, tmp_path) -> None:
    path, engine = home_with_db(home, tmp_path, [("a", "http://127.0.0.1:9/a.xml")])
    with session_scope(engine) as session:
        session.add(AlertRow(key="topic:Macro", window_start=datetime(2026, 3, 2),
                             window_end=datetime(2026, 3, 2, 6), negatives=6, total=8,
                             baseline=1.0, score=5.2))
        session.flush()
        session.add(AlertFollowUp(alert_id=1, window_start=datetime(2026, 3, 2, 6),
                                  window_end=datetime(2026, 3, 2, 12), negatives=5, total=7))
    listed = runner.invoke(app, ["alerts", "list", "--config", str(path)])
    assert listed.exit_code == 0 and listed.stdout.startswith("#1 Macro: 6/8 negative")
    assert listed.stdout.rstrip().endswith("; its surge went on: 5 negative of 7 articles in 2026-03-02 06:00 to "
                                           "2026-03-02 12:00 UTC; no new alert while it cools down")
    [record] = json.loads(runner.invoke(app, ["alerts", "list", "--config", str(path), "--json"]).stdout)["alerts"]
    assert record["went_on"] == [{"window_start": "2026-03-02T06:00:00Z", "window_end": "2026-03-02T12:00:00Z",
                                  "negatives": 5, "total": 7}]
    nothing = runner.invoke(app, ["correct", "1", "--config", str(path)])
    assert nothing.exit_code == 1
    assert nothing.output.strip() == "error: nothing to correct: pass --topic and/or --sentiment"
    labels_only = tmp_path / "test.csv"  # a sentiment test file cannot test the topics too
    labels_only.write_text("text,label\nShares soar,positive\nShares sink,negative\n")
    trained = runner.invoke(app, ["train", "--sentiment", str(DATA / "train.csv"), "--topics",
                                  str(DATA / "train.csv"), "--test", str(labels_only),
                                  "--config", str(path)])
    assert trained.exit_code == 1
    assert trained.output.strip().splitlines() == [
        f"error: {labels_only}, row 1: no 'sentiment' column — a file used for both tasks "
        "needs text,sentiment,topic columns; or train one task at a time"]
    assert not (home / "models").exists()  # refused before any training


def test_alerts_list_shows_the_ids_correct_takes_and_correct_says_what_it_did(home, tmp_path) -> None:
    from apps.finance_monitor.store import Article

    path = tmp_path / "sources.toml"
    path.write_text(render_config(make_config([("a", "http://127.0.0.1:9/a.xml")])))
    empty = runner.invoke(app, ["alerts", "list", "--config", str(path)])
    assert empty.exit_code == 0 and empty.stdout == "no open alerts\n"
    assert runner.invoke(app, ["alerts", "list", "--all", "--config", str(path)]).stdout == "no alerts\n"
    as_json = runner.invoke(app, ["alerts", "list", "--json", "--config", str(path)])
    assert json.loads(as_json.stdout) == {"alerts": []}
    engine = make_engine()
    with session_scope(engine) as session:
        session.add(Article(id=263, content_hash="h", url="http://n.test/1", source="a",
                            title="Bank fined", published=datetime(2026, 3, 2),
                            sentiment="positive", topic="Macro"))
        session.add(AlertRow(key="ticker:NWB", window_start=datetime(2026, 3, 2),
                             window_end=datetime(2026, 3, 2, 6), negatives=6, total=8,
                             baseline=1.0, score=5.2, article_ids="[263]"))
    fixed = runner.invoke(app, ["correct", "263", "--sentiment", "negative", "--config", str(path)])
    assert fixed.exit_code == 0, fixed.output
    assert fixed.output.splitlines() == [
        "article 263: sentiment positive -> negative (queued for the next retrain)"]
    listed = runner.invoke(app, ["alerts", "list", "--config", str(path)])
    raised = f"raised {alerts(engine)[0].raised_at} UTC"  # when the monitor raised it
    assert listed.stdout.splitlines() == [
        f"#1 $NWB: 6/8 negative in 2026-03-02 00:00 to 2026-03-02 06:00 UTC (baseline 1, z=5.2), {raised}",
        "    - [263] Bank fined"]
    both = runner.invoke(app, ["correct", "263", "--sentiment", "neutral", "--topic", "Earnings",
                               "--config", str(path)])
    assert both.stdout.splitlines() == [
        "article 263: topic Macro -> Earnings (queued for the next retrain)",
        "article 263: sentiment negative -> neutral (queued for the next retrain)"]
    # a driver of the open alert, its topic corrected in the same call: the alert is still named
    assert "note: open alert #1 ($NWB) counted it among its 6 negative headlines" in both.stderr
    as_json = runner.invoke(app, ["correct", "263", "--sentiment", "negative", "--json", "--config", str(path)])
    assert json.loads(as_json.stdout) == {"changes": [{"article_id": 263, "field": "sentiment", "before": "neutral",
                                                       "after": "negative", "note": ""}]}
    runner.invoke(app, ["correct", "263", "--sentiment", "neutral", "--config", str(path)])
    # the alert keeps the counts it was raised with, and says what was corrected since
    listed = runner.invoke(app, ["alerts", "list", "--config", str(path)])
    assert listed.stdout.splitlines() == [
        f"#1 $NWB: 6/8 negative in 2026-03-02 00:00 to 2026-03-02 06:00 UTC (baseline 1, z=5.2), {raised}; "
        "1 of its 1 negative articles since corrected to another sentiment",
        "    - [263] Bank fined (now neutral)"]
    articles = runner.invoke(app, ["articles", "--config", str(path)])  # no "+nan" for the analyst's label
    assert articles.stdout.splitlines() == ["[263] 2026-03-02 00:00 UTC a: Bank fined (Earnings; neutral, set by "
                                            "an analyst)"]
    # a ticker the config names is listed with its company (an analyst with many tickers asked)
    path.write_text(render_config(replace(make_config([("a", "http://127.0.0.1:9/a.xml")]),
                                          tickers={"NWB": ("Northwind Bank", "Northwind")})))
    listed = runner.invoke(app, ["alerts", "list", "--json", "--config", str(path)])
    assert json.loads(listed.stdout)["alerts"][0]["label"] == "$NWB (Northwind Bank)"
    noted = runner.invoke(app, ["correct", "263", "--sentiment", "negative", "--config", str(path)])
    noted = runner.invoke(app, ["correct", "263", "--sentiment", "neutral", "--config", str(path)])
    assert "note: open alert #1 ($NWB (Northwind Bank)) counted it" in noted.stderr


def test_eval_takes_text_label_files_and_refuses_labels_the_model_lacks(home, models, tmp_path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(render_config(make_config([], models)))
    sentiment = tmp_path / "sentiment.csv"  # the layout `train --sentiment` accepts
    sentiment.write_text("text,label\nShares soar on record profit,positive\n"
                         "Bank fined for fraud,negative\nBoard meets on Tuesday,neutral\n")
    result = runner.invoke(app, ["eval", "--test", str(sentiment), "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) == {"sentiment_accuracy", "sentiment_macro_f1"}
    bad_day = tmp_path / "bad_day.csv"  # a test set may hold one class: eval trains nothing
    bad_day.write_text("text,sentiment\nShares fell,negative\nShares fell hard,negative\n")
    result = runner.invoke(app, ["eval", "--test", str(bad_day), "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    capital = tmp_path / "capital.csv"
    capital.write_text("text,sentiment\nShares soar,Positive\nBank fined,negative\n")
    cased = runner.invoke(app, ["eval", "--test", str(capital), "--config", str(path), "--json"])
    assert cased.exit_code == 0, cased.output  # the three names in any case are the three names
    short = tmp_path / "short.csv"  # an eval file, so no hint about training data
    short.write_text("text,label\nShares soar,pos\nBank fined,neg\n")
    assert error_lines(["eval", "--test", str(short), "--config", str(path)]) == [
        f"error: {short}, row 2: sentiment must be negative, neutral or positive, got 'pos' — a 'label' "
        "column is scored by the model that knows the most of its labels (sentiment when neither "
        "does); name the column sentiment or topic to choose"]
    helped = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "200"})
    assert "a label column is read as sentiment" in " ".join(helped.output.split())
    phrasebank = tmp_path / "Sentences_AllAgree.txt"  # Financial PhraseBank's own layout
    phrasebank.write_text("Shares soar on record profit .@positive\nBank fined for fraud .@negative\n")
    result = runner.invoke(app, ["eval", "--test", str(phrasebank), "--config", str(path), "--json"])
    scored = json.loads(result.stdout)
    assert result.exit_code == 0 and set(scored) == {"sentiment_accuracy", "sentiment_macro_f1", "notes"}
    assert scored["notes"] == ["sentiment: the test set has no rows labelled neutral: macro-F1 counts such a "
                               "label as F1 0 wherever the model predicts it"]
    with pytest.raises(DataError, match="a .txt file is read as Financial PhraseBank sentences .* which name no topic"):
        read_column(phrasebank, "topic")


def test_numeric_labels_beyond_classes_txt_are_a_one_line_error(home, tmp_path) -> None:
    (tmp_path / "classes.txt").write_text("Macro\nEarnings\n")
    data = tmp_path / "num.csv"
    data.write_text("text,label\nfoo,0\nbar,1\nbaz,99\n")
    assert error_lines(["train", "--topics", str(data)]) == [
        f"error: {data}, row 4: label 99 has no name in {tmp_path / 'classes.txt'} (2 names, "
        "labels 0-1) — fix the label or add its name to classes.txt"]
    bare = tmp_path / "bare"  # no classes.txt: topics would be named "0" and "1"
    bare.mkdir()
    (bare / "num.csv").write_text("text,label\nfoo,0\nbar,1\n")
    assert error_lines(["train", "--topics", str(bare / "num.csv")]) == [
        f"error: {bare / 'num.csv'}: every label is a number and no classes.txt is beside the file — put "
        "classes.txt there (one topic name per line, label 0 first) or write the names"]


def test_a_classes_txt_that_is_not_utf8_is_a_one_line_error(home, tmp_path) -> None:
    (tmp_path / "classes.txt").write_bytes("n\xe9gative\npositive\n".encode("latin-1"))
    data = tmp_path / "num.csv"
    data.write_text("text,label\nfoo,0\nbar,1\n")
    assert error_lines(["train", "--sentiment", str(data)]) == [
        f"error: {tmp_path / 'classes.txt'}, line 1: not valid UTF-8 — re-save the file as UTF-8"]


def test_a_bad_model_name_in_the_config_is_refused_before_any_training(home, tmp_path) -> None:
    data = tmp_path / "both.csv"
    data.write_text("text,sentiment,topic\nShares soar,positive,Markets\nBank fined,negative,Legal\n")
    config = tmp_path / "sources.toml"
    config.write_text('[models]\ntopic = "a/b"\n')
    result = runner.invoke(app, ["train", "--sentiment", str(data), "--topics", str(data),
                                 "--config", str(config)])
    assert result.exit_code == 1 and "got 'a/b'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (home / "models").exists() or not list((home / "models").iterdir())


def test_sentiment_labels_other_than_negative_neutral_positive_are_refused(home, tmp_path) -> None:
    data = tmp_path / "bullish.csv"
    data.write_text("text,label\nShares soar,bullish\nBank fined,bearish\nMeeting held,neutral\n")
    assert error_lines(["train", "--sentiment", str(data)]) == [
        f"error: {data}, row 2: sentiment labels must be negative, neutral, positive (trends and alerts "
        "count 'negative'), got ['bearish', 'bullish'] — rename them (e.g. bearish -> "
        "negative, bullish -> positive)"]
    one_off = tmp_path / "typo.csv"
    one_off.write_text("text,sentiment\nShares soar,positive\nBank fined,awful\nMeeting held,neutral\n")
    assert error_lines(["train", "--sentiment", str(one_off)])[0].startswith(
        f"error: {one_off}, row 3: sentiment labels must be negative, neutral, positive (trends and alerts "
        "count 'negative'), got ['awful']")
    from apps.finance_monitor.training import read_column

    moods = tmp_path / "moods.csv"  # both columns named at once, not one a run
    moods.write_text("headline,mood\nShares soar,positive\nBank fined,negative\n")
    assert error_lines(["train", "--sentiment", str(moods)]) == [
        f"error: {moods}, row 1: missing columns text and sentiment or label (found: headline, mood) — "
        "name them in the header"]
    cased = tmp_path / "cased.csv"  # the three names in any case are the three names
    cased.write_text("text,sentiment\nShares soar,Positive\nBank fined,NEGATIVE\nMeeting held,Neutral\n")
    assert [r.label for r in read_column(cased, "sentiment")] == ["positive", "negative", "neutral"]
    upbeat = tmp_path / "upbeat.csv"
    upbeat.write_text("text,sentiment\nShares soar,positive\nMeeting held,neutral\n")
    assert error_lines(["train", "--sentiment", str(upbeat)]) == [
        f"error: {upbeat}: sentiment labels must be negative, neutral, positive (trends and alerts "
        "count 'negative'), got ['neutral', 'positive'] — add rows of both negative and positive"]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert error_lines(["train", "--sentiment", str(empty)]) == [
        f"error: {empty}: is empty (0 bytes) — write the header text,sentiment and rows below it"]
    assert not (home / "models").exists() or not list((home / "models").iterdir())


def test_alerts_need_no_config(home) -> None:
    result = runner.invoke(app, ["alerts", "list"])
    assert result.exit_code == 0, result.output
    ack = runner.invoke(app, ["alerts", "ack", "1"])
    assert "alert 1 does not exist" in ack.output and "config file not found" not in ack.output


def test_a_directory_as_config_is_one_line_everywhere(home, tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from .test_dashboard import SCRIPT

    for command in (["poll-once"], ["alerts", "list"], ["alerts", "ack", "1"]):
        result = runner.invoke(app, [*command, "--config", str(tmp_path)])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # no traceback
        assert result.output.strip().splitlines() == [
            f"error: {tmp_path}: is a directory, not a config file — pass --config with the "
            "sources TOML file inside it"]
    monkeypatch.setenv("VERTICALS_FINANCE_CONFIG", str(tmp_path))
    at = AppTest.from_file(str(SCRIPT), default_timeout=60).run()
    assert not at.exception
    assert "is a directory, not a config file" in at.error[0].value


def test_alert_commands_open_no_http_client_and_others_close_theirs(home, tmp_path,
                                                                    monkeypatch) -> None:
    """`alerts list/ack` only touch the database; `correct` closes the service it opens."""
    from apps.finance_monitor import service as service_module
    from apps.finance_monitor.store import Article

    path = tmp_path / "sources.toml"
    path.write_text(render_config(make_config([("a", "http://127.0.0.1:9/a.xml")])))
    engine = make_engine()
    Base.metadata.create_all(engine)
    with session_scope(engine) as session:
        session.add(AlertRow(key="topic:Macro", window_start=datetime(2026, 3, 2),
                             window_end=datetime(2026, 3, 2, 6), negatives=6, total=8,
                             baseline=1.0, score=5.2))
        session.add(Article(content_hash="h", url="http://n.test/1", source="a", title="Bank fined",
                            published=datetime(2026, 3, 2)))
    opened, closed = [], []
    monkeypatch.setattr(service_module.Fetcher, "__init__",
                        lambda self, *a, **k: opened.append(1) or None)
    monkeypatch.setattr(service_module.Fetcher, "close", lambda self: closed.append(1))
    assert runner.invoke(app, ["alerts", "list", "--config", str(path)]).exit_code == 0
    acked = runner.invoke(app, ["alerts", "ack", "1", "--by", "alice", "--config", str(path)])
    assert acked.exit_code == 0 and acked.stdout == "acknowledged alert 1\n"  # a result: on stdout
    twice = runner.invoke(app, ["alerts", "ack", "1", "--config", str(path)])
    assert twice.exit_code == 1 and re.search(r"alert 1 was acknowledged already, by alice at \d{4}-", twice.output)
    listed = runner.invoke(app, ["alerts", "list", "--all", "--config", str(path)]).stdout.splitlines()
    assert re.fullmatch(r"#1 Macro: 6/8 negative in 2026-03-02 00:00 to 2026-03-02 06:00 UTC \(baseline 1, "
                        r"z=5.2\), raised \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, acknowledged by alice at "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", listed[0])
    as_json = runner.invoke(app, ["alerts", "list", "--all", "--json", "--config", str(path)])
    [shown] = json.loads(as_json.stdout)["alerts"]
    assert shown["acknowledged"] and shown["acknowledged_by"] == "alice" and shown["acknowledged_at"]
    with session_scope(engine) as session:  # to the second, as stored (an audit's were cut to the minute)
        stored = session.get(AlertRow, 1)
        assert (shown["raised_at"], shown["acknowledged_at"]) == \
            (f"{stored.created_at:%Y-%m-%dT%H:%M:%SZ}", f"{stored.acknowledged_at:%Y-%m-%dT%H:%M:%SZ}")
    assert (shown["window_start"], shown["window_end"]) == ("2026-03-02T00:00:00Z", "2026-03-02T06:00:00Z")
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t)
               for t in [shown["acknowledged_at"], *(a["published"] for a in shown["articles"])])
    assert opened == []
    fixed = runner.invoke(app, ["correct", "1", "--sentiment", "negative", "--config", str(path)])
    assert fixed.exit_code == 0, fixed.output
    assert opened == closed == [1]


def test_the_mlm_corpus_is_the_text_the_models_classify(home, monkeypatch) -> None:
    """`train --mlm` adapts the encoder on exactly the strings classification reads: a text
    that starts with its title does not get the title twice."""
    import shared
    from apps.finance_monitor import cli
    from apps.finance_monitor.config import MonitorConfig
    from apps.finance_monitor.service import FinanceService
    from apps.finance_monitor.store import Article
    from shared import ModelNotFoundError

    engine = make_engine()
    Base.metadata.create_all(engine)
    texts = [f"Bank {i} fined by the regulator." if i % 2 else "Profit up." for i in range(50)]
    with session_scope(engine) as session:
        session.add_all(Article(content_hash=str(i), url=f"http://n.test/{i}", source="a",
                                title=f"Bank {i} fined", text=text, published=datetime(2026, 3, 2))
                        for i, text in enumerate(texts))
    corpus, classified, depth = [], [], []
    monkeypatch.setattr(shared, "pretrain_mlm",
                        lambda found, _name, layers: corpus.extend(found) or depth.append(layers))

    class Recorder:
        def refresh(self) -> bool:
            return False

        def classify(self, found: list[str]) -> list:
            classified.extend(found)
            raise ModelNotFoundError("no models in this test")

    assert cli._mlm_base(None, 3) == "finance-encoder" and depth == [3]  # adapted at the depth kept
    service = FinanceService(MonitorConfig())
    service.classifier = Recorder()
    service.classify_pending()
    assert sorted(corpus) == sorted(classified)
    assert "Bank 1 fined by the regulator." in corpus and "Bank 0 fined. Profit up." in corpus


def test_poll_once_says_which_sources_failed_and_fails_when_all_did(home, server, models) -> None:
    server.routes["/a.xml"] = Route(body=rss([("http://news.test/1", "Northwind Bank fined", "")]))
    home.mkdir(parents=True, exist_ok=True)
    path = home / "sources.toml"
    path.write_text(render_config(make_config([("a", server.url("/a.xml")),
                                               ("gone", server.url("/gone.xml"))], models)))
    path.with_name("both.toml").write_text(path.read_text())
    partial = runner.invoke(app, ["poll-once", "--config", str(path), "--json"])
    assert partial.exit_code == 0, partial.output  # the pass did its work for source a
    assert json.loads(partial.stdout)["sources"]["a"]["new"] == 1
    assert partial.stderr.strip().splitlines() == [
        "warning: 1 of 2 sources failed (gone): see each source's error above and check its URL "
        "in the sources config"]
    path.write_text(render_config(make_config([("gone", server.url("/gone.xml"))], models)))
    failed = runner.invoke(app, ["poll-once", "--config", str(path), "--json"])
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["sources"]["gone"]["ok"] is False
    assert "error: 1 of 1 sources failed (gone)" in failed.stderr
    again = json.loads(runner.invoke(app, ["poll-once", "--config", str(path.with_name("both.toml")), "--json"]).stdout)
    assert (again["sources"]["a"]["new"], again["sources"]["a"]["known"]) == (0, 1)  # every entry counted
    server.routes["/empty.xml"] = Route(body=rss([]))  # a wrong url serving a valid feed: said, not only "ok"
    path.write_text(render_config(make_config([("empty", server.url("/empty.xml"))], models)))
    empty = runner.invoke(app, ["poll-once", "--config", str(path), "--json"])
    assert json.loads(empty.stdout)["sources"]["empty"]["note"] == "the feed holds no entries: check the url"
    assert "note: empty: the feed holds no entries: check the url" in empty.stderr


def test_alerts_resend_needs_webhooks_and_names_unknown_alerts(home, tmp_path) -> None:
    from apps.finance_monitor.config import WebhookConfig
    from apps.finance_monitor.store import Delivery

    path, engine = home_with_db(home, tmp_path, [])
    with session_scope(engine) as session:
        session.add(AlertRow(key="topic:Macro", window_start=datetime(2026, 3, 2, 6),
                             window_end=datetime(2026, 3, 2, 12), negatives=8, total=9, baseline=1.0, score=7.0))
    assert error_lines(["alerts", "resend", "1", "--config", str(path)])[0].startswith(
        f"error: {path} names no webhooks: add [[webhooks]] entries")
    path.write_text(render_config(make_config([], webhooks=(WebhookConfig("http://127.0.0.1:9/hook"),))))
    assert error_lines(["alerts", "resend", "7", "--config", str(path)]) == [
        "error: no alert #7: `verticals finance alerts list --all` lists them (nothing was resent)"]
    sent = runner.invoke(app, ["alerts", "resend", "1", "--config", str(path)])
    assert sent.exit_code == 0 and sent.stdout.startswith("#1 due again for 1 webhook")
    with session_scope(engine) as session:
        assert session.scalars(select(Delivery.url)).all() == ["http://127.0.0.1:9/hook"]


def test_dashboard_with_a_missing_config_fails_at_once(tmp_path, monkeypatch) -> None:
    import shared.cli

    monkeypatch.setattr(shared.cli.os, "execve", lambda *a: pytest.fail("the dashboard was started"))
    result = runner.invoke(app, ["dashboard", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code != 0 and "nope.toml: config file not found" in str(result.exception)
