"""Config, dedupe, trends and the surge detector: pure functions checked by hand."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from apps.finance_monitor.alerts import Surge, detect_surges, driven_by, next_attempt, robust_z, webhook_payload
from apps.finance_monitor.classify import aggregate_sentiment, mentioned_tickers, said, split_sentences
from apps.finance_monitor.config import (
    AlertConfig,
    MonitorConfig,
    SourceConfig,
    load_config,
    parse_config,
    render_config,
)
from apps.finance_monitor.dedupe import NearDuplicateIndex, canonical_url, content_hash
from apps.finance_monitor.ingest import plausible_published
from apps.finance_monitor.same_event import same_event
from apps.finance_monitor.sources import article_body
from apps.finance_monitor.trends import Observation, WindowStat, window_stats
from shared import DataError

from .conftest import DATA

T0 = datetime(2026, 3, 2)


def test_config_round_trips_and_names_bad_values(tmp_path) -> None:
    config = MonitorConfig(sources=(SourceConfig("wire", "https://n.example/rss", interval_s=60),),
                           tickers={"NWB": ("Northwind Bank",)})
    path = tmp_path / "sources.toml"
    path.write_text(render_config(config))
    assert load_config(path) == config
    with pytest.raises(DataError, match=r"\[\[sources\]\] 1 .*interval_s must be between 1 and 2678400 \(31 days\)"):
        parse_config({"sources": [{"name": "a", "url": "http://a", "interval_s": 0}]}, "x.toml")
    with pytest.raises(DataError, match="unknown keys"):
        parse_config({"fetch": {"timeout": 3}}, "x.toml")
    with pytest.raises(DataError, match="repeated: a"):
        parse_config({"sources": [{"name": "a", "url": "http://a"}] * 2}, "x.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[fetch\n")
    with pytest.raises(DataError, match="not valid TOML"):
        load_config(bad)


def test_canonical_url_and_content_hash() -> None:
    assert canonical_url("HTTP://A.example:80/x/?utm_medium=rss&id=2#frag") == \
        "http://a.example/x?id=2"
    assert content_hash("Profit  jumps, 5%!") == content_hash("profit jumps 5%")
    assert content_hash("Profit jumps 5%") != content_hash("Profit jumps 6%")


def test_near_duplicates_on_the_demo_stream() -> None:
    """Every reworded copy in the demo stream is caught, read as ingest reads it (title and
    summary), whichever copy has a body; no two different stories merge."""
    with (DATA / "stream.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    index, caught, wrong = NearDuplicateIndex(), 0, 0
    for i, row in enumerate(rows):
        body = article_body(row["title"], row["summary"])
        match = index.match(body)
        reworded = row["title"].startswith("Report:")
        caught += match is not None and reworded
        wrong += match is not None and not reworded
        index.add(i, body)
    assert caught == sum(r["title"].startswith("Report:") for r in rows) and wrong == 0


@pytest.mark.parametrize("first, second", [
    ("Bluefin Foods to add 700 jobs at Oslo plant", "Bluefin Foods to cut 700 jobs at Oslo plant"),
    ("Atlas Motors profit rises 5%", "Atlas Motors profit falls 5%"),
    ("Corvid Pharma beats estimates for quarterly sales", "Corvid Pharma misses estimates for quarterly sales"),
    ("Corvid Pharma wins approval for cancer drug", "Corvid Pharma loses approval for cancer drug"),
    ("Corvid Pharma wins approval for cancer drug", "Corvid Pharma does not win approval for cancer drug"),
    ("Atlas Motors profit rises 5% in first quarter", "Atlas Motors profit rises 5% in second quarter"),
    ("Atlas Motors buys Helios Energy", "Helios Energy buys Atlas Motors"),
    ("Northwind Bank shares fell 5% after loan losses", "Northwind Bank shares rose 5% after loan losses"),
    ("Bluefin Foods to add 700 jobs at Oslo plant. The company did not comment further.",
     "Bluefin Foods to cut 700 jobs at Oslo plant. The company did not comment further."),
])
def test_near_duplicates_keep_stories_with_a_different_fact_apart(first: str, second: str) -> None:
    for seen, new in ((first, second), (second, first)):
        index = NearDuplicateIndex()
        index.add(1, seen)
        assert index.match(new) is None, (seen, new)


@pytest.mark.parametrize("first, second", [
    ("Vesta Telecom cuts 2,000 jobs after subscriber slump",
     "Report: Vesta Telecom to cut 2,000 jobs following a subscriber slump, sources say"),
    ("Vesta Telecom cuts 2000 jobs after subscriber slump", "Vesta Telecom cuts 2,000 jobs after subscriber slump"),
    ("Northwind Bank shares fell 5% after loan losses", "Northwind Bank shares fall 5% after loan losses"),
    ("Corvid Pharma sold its vaccine unit", "Report: Corvid Pharma sells its vaccine unit, sources say"),
])
def test_near_duplicates_merge_rewordings_both_ways(first: str, second: str) -> None:
    for seen, new in ((first, second), (second, first)):
        index = NearDuplicateIndex()
        index.add(1, seen)
        assert index.match(new) == 1, (seen, new)


@pytest.mark.parametrize("first, second", [
    ("Northwind Bank CEO resigns", "Northwind Bank chief executive steps down"),
    ("Atlas Motors to acquire Helios Energy for $2 billion",
     "Atlas Motors agrees to buy Helios Energy in $2 billion deal"),
    ("Regulator fines Northwind Bank $50 million over money laundering failures",
     "Northwind Bank hit with $50 million fine for anti-money-laundering lapses"),
    ("Bluefin Foods names new chief financial officer", "Bluefin Foods appoints new CFO"),
    ("Helios Energy cuts dividend", "Helios Energy slashes its dividend payout"),
    ("Vesta Telecom unveils $1bn buyback", "Vesta Telecom announces $1 billion share repurchase"),
    ("Atlas Motors buys Helios Energy", "Helios Energy acquired by Atlas Motors"),  # a passive's agent first
    ("Regulators fine Northwind Bank", "Northwind Bank fined by regulators"),
    ("Atlas Motors recalls 1,000 vehicles over brake fault", "Atlas Motors recalls 1,000 cars over brake fault"),
    ("Atlas Motors to cut 500 workers", "Atlas Motors to cut 500 employees"),  # a review's
    ("Quanta Chips Q2 sales beat forecasts", "Quanta Chips Q2 revenue beat forecasts"),
    ("Hong Kong raises taxi fares, first increase in 5 years",
     "Hong Kong raises taxi fares, first increase in five years"),
    ("Russia nears gas shutdown as Germany rejects claims it can't fulfil contracts",
     "Russia nears gas shutdown as Germany rejects claims it can't fulfill contracts"),  # real tweets
    ("A crisis focused on Italy might usher in the worst turmoil in the euro's history",
     "A crisis focused on Italy might augur the worst turmoil in the euro's history"),  # real tweets
])
def test_same_event_accepts_a_paraphrase(first: str, second: str) -> None:
    assert same_event(first, second) and same_event(second, first)


def test_the_demo_streams_paraphrases_are_left_to_rewordings() -> None:
    """The three surge stories the other outlet tells in other words: ingest's shingles keep
    them apart, ``same_event`` accepts them (the monitor merges them once classified alike)."""
    with (DATA / "stream.csv").open() as handle:
        titles = {row["title"] for row in csv.DictReader(handle)}
    pairs = [("Northwind Bank chair steps down as accounting scandal deepens",
              "Northwind Bank chairman resigns as accounting scandal deepens"),
             ("Ratings agency downgrades Northwind Bank to junk on probe fears",
              "Northwind Bank cut to junk by ratings agency over probe fears"),
             ("Auditor resigns from Northwind Bank citing unreliable accounts",
              "Northwind Bank's auditor quits, citing unreliable accounts")]
    for told, retold in pairs:
        index = NearDuplicateIndex()
        index.add(1, told)
        assert {told, retold} <= titles and index.match(retold) is None and same_event(told, retold)


@pytest.mark.parametrize("first, second", [
    ("Atlas Motors profit rises 5% in first quarter", "Atlas Motors profit rises 5% in second quarter"),
    ("Atlas Motors buys Helios Energy", "Helios Energy buys Atlas Motors"),
    ("Northwind Bank CEO resigns", "Vesta Telecom CEO resigns"),
    ("Atlas Motors profit rises 5%", "Atlas Motors profit rises 12%"),
    ("Quanta Chips raises full-year forecast", "Quanta Chips cuts full-year forecast"),
    ("Bluefin Foods names new chief financial officer", "Bluefin Foods names new chief executive"),
    ("Atlas Motors halts production at Berlin plant", "Atlas Motors resumes production at Berlin plant"),
    ("Helios Energy wins $3 billion wind farm contract", "Helios Energy loses $3 billion wind farm contract"),
    ("Quanta Chips quarterly sales miss estimates", "Quanta Chips annual sales miss estimates"),
    ("Citibank UK Regulatory Announcement: FRN Variable Rate Fix",
     "Deutsche Bank AG UK Regulatory Announcement: FRN Variable Rate Fix"),  # real tweets, cosine 0.865
    ("Northwind Bank CEO resigns", "Northwind Bank CEO will not resign"),  # cosine 0.961
    ("Northwind Bank CEO to resign", "Northwind Bank CEO denies plan to resign"),
    ("Regulator approves Atlas Motors merger", "Regulator blocks Atlas Motors merger"),
    ("Atlas Motors buys Helios Energy", "Helios Energy acquires Atlas Motors"),  # cosine 0.953
    ("Atlas Motors buys Helios Energy", "Atlas Motors acquired by Helios Energy"),
    ("Helios Energy acquired by Atlas Motors", "Atlas Motors acquired by Helios Energy"),
    ("Ford cut to junk by Moody's", "Ford cuts Moody's to junk"),  # a review's: not who cut whom
    ("Tesla sues Ford", "Tesla sued by Ford"),
    ("Atlas Motors buys Helios Energy for $2 billion", "Atlas Motors buys Helios Energy for $2 million"),
    ("Atlas Motors cuts 700 jobs", "Atlas Motors cuts a thousand jobs"),
    ("Fed raises rates", "Fed holds rates"),
    ("Ørsted wins wind farm deal", "Equinor wins wind farm deal"),
    ("$OPTNX: Unusual Options Activity", "$OPTNX: Early Options Activity"),  # real tweets
    ("$NFLX after earnings", "How will $NFLX react to earnings?"),  # real tweets
    ("Atlas Motors recalls 1,000 vehicles over brake fault", "Atlas Motors recalls 1,000 vehicles over airbag fault"),
    ("Four contenders now compete for the backing of Tory MPs",
     "Five contenders now compete for the backing of Tory MPs"),  # real tweets
])
def test_same_event_keeps_a_different_fact_apart(first: str, second: str) -> None:
    assert not same_event(first, second) and not same_event(second, first)


def test_near_duplicate_index_forgets_the_oldest_past_its_size() -> None:
    index = NearDuplicateIndex(max_size=8)
    for i in range(20):
        index.add(i, f"Company{i} agrees to buy plant number {i} in region {i}")
    assert len(index) <= 8 and index.ids[-1] == 19
    assert index.match("Report: Company19 agrees to buy plant number 19 in region 19") == 19
    assert index.match("Report: Company0 agrees to buy plant number 0 in region 0") is None


def test_sentences_tickers_and_aggregation() -> None:
    assert split_sentences("Mr. Lee left. Shares fell 3.5%! Why?") == \
        ["Mr. Lee left.", "Shares fell 3.5%!", "Why?"]
    assert mentioned_tickers("northwind bank and $QNTC", {"NWB": ("Northwind Bank",)}) == \
        ["QNTC", "NWB"]
    probs = [[0.05, 0.9, 0.05], [0.1, 0.1, 0.8], [0.1, 0.2, 0.7]]
    import numpy as np

    label, net, driving = aggregate_sentiment(["a", "b", "c"], np.array(probs),
                                              ["negative", "neutral", "positive"])
    assert label == "positive" and driving == ["b", "c"] and net > 0.3
    label, net, driving = aggregate_sentiment(["Results due.", "No comment."], np.array(probs[:1] * 2),
                                              ["negative", "neutral", "positive"])
    assert (label, net, driving) == ("neutral", 0.0, []), "nothing drove a neutral verdict"
    # the headline outweighs a body sentence that disagrees; a near-tie is mixed: neutral
    headline_negative = np.array([[0.95, 0.03, 0.02], [0.03, 0.02, 0.95], [0.05, 0.05, 0.9]])
    assert aggregate_sentiment(["Acme CFO arrested on fraud charges.", "Investors sold the stock heavily.",
                                "Buyers returned."], headline_negative,
                               ["negative", "neutral", "positive"])[0] == "negative"  # equal weights: positive
    tie = np.array([[0.45, 0.1, 0.45], [0.4, 0.2, 0.4]])
    assert aggregate_sentiment(["a", "b"], tie, ["negative", "neutral", "positive"]) == ("neutral", 0.0, [])
    assert said(["Acme recalls cars", "$ACME", "Read more.", "Shares fell 9% in early trade."]) == \
        ["Acme recalls cars", "Read more.", "Shares fell 9% in early trade."]


def _obs(hour: float, sentiment: str, key: str = "topic:Macro", i: int = 0) -> Observation:
    score = {"negative": -0.8, "neutral": 0.0, "positive": 0.8}[sentiment]
    return Observation(i, T0 + timedelta(hours=hour), (key,), sentiment, score)


def test_window_stats_fill_quiet_windows() -> None:
    stats = window_stats([_obs(1, "negative"), _obs(2, "positive"), _obs(19, "negative")], 6)
    windows = stats["topic:Macro"]
    assert [(w.count, w.negatives) for w in windows] == [(2, 1), (0, 0), (0, 0), (1, 1)]
    assert windows[0].net_sentiment == pytest.approx(0.0)
    assert windows[3].start == T0 + timedelta(hours=18)


def test_quiet_windows_are_gaps_in_the_chart_not_zero_sentiment() -> None:
    """A ticker line must not zigzag to 0 through hours without news: the shares of an empty
    window are NaN (a gap), its counts 0, and a surge after quiet windows still alerts."""
    import math

    from apps.finance_monitor.views import trends_frame

    observations = [_obs(1, "negative"), _obs(19, "negative")]
    frame = trends_frame(window_stats(observations, 6), "topic")
    assert list(frame["count"]) == [1, 0, 0, 1] and list(frame["negatives"]) == [1, 0, 0, 1]
    assert [math.isnan(v) for v in frame["net_sentiment"]] == [False, True, True, False]
    assert [math.isnan(v) for v in frame["negative_share"]] == [False, True, True, False]
    quiet = series([1, 0, 1, 0, 1, 12], totals=[2, 0, 3, 0, 2, 12])
    assert [s.negatives for s in detect_surges(quiet, AlertConfig(min_volume=5))] == [12]


def test_window_stats_look_back_a_bounded_horizon() -> None:
    stray = Observation(9, datetime(1970, 1, 1), ("topic:Macro",), "negative", -0.8)
    observations = [stray, _obs(1, "negative"), _obs(19, "negative")]
    stats = window_stats(observations, 6, max_windows=4)
    assert [(w.start, w.count) for w in stats["topic:Macro"]] == \
        [(T0 + timedelta(hours=h), n) for h, n in ((0, 1), (6, 0), (12, 0), (18, 1))]
    stats = window_stats(observations, 6, max_windows=3)
    assert [(w.start, w.count) for w in stats["topic:Macro"]] == [(T0 + timedelta(hours=18), 1)]
    assert window_stats([stray], 6, until=T0, max_windows=3) == {}
    with pytest.raises(ValueError, match="horizon_windows must be greater than"):
        AlertConfig(baseline_windows=8, cooldown_windows=4, horizon_windows=12)
    assert plausible_published(T0 + timedelta(minutes=10), T0) == T0 + timedelta(minutes=10)
    assert plausible_published(datetime(2099, 1, 1), T0) == T0


def series(negatives: list[int], totals: list[int] | None = None) -> list[WindowStat]:
    totals = totals or [max(n, 1) for n in negatives]
    return [WindowStat("topic:Macro", T0 + timedelta(hours=6 * i), T0 + timedelta(hours=6 * i + 6),
                       count=t, negatives=n, negative_ids=tuple(range(n)))
            for i, (n, t) in enumerate(zip(negatives, totals, strict=True))]


def test_robust_z_by_hand() -> None:
    # median 2, |deviations| = 1, 0, 0, 1, 2 -> MAD 1 -> scale max(1.4826, sqrt 2) = 1.4826
    baseline, z = robust_z(10, [1, 2, 2, 3, 4])
    assert baseline == 2 and z == pytest.approx(8 / 1.4826)


def test_surge_is_one_alert_with_cooldown_and_thin_windows_stay_silent() -> None:
    config = AlertConfig(min_volume=5, cooldown_windows=3)
    surges = detect_surges(series([1, 0, 2, 1, 1, 12, 15, 1, 0]), config)
    assert [(s.start, s.negatives) for s in surges] == [(T0 + timedelta(hours=30), 12)]
    assert detect_surges(series([0, 0, 0, 0, 0, 4]), config) == []  # under min_volume
    assert detect_surges(series([0, 9]), config) == []  # no baseline yet
    mixed = series([1, 1, 1, 1, 8], totals=[4, 4, 4, 4, 40])  # negatives rose, share did not
    assert detect_surges(mixed, config) == []


def test_a_topic_surge_one_company_drove_is_that_company_s_alert_alone() -> None:
    config = AlertConfig(min_volume=5, cooldown_windows=3)
    topic = series([1, 0, 2, 1, 1, 8, 9])  # surges in windows 5 and 6
    topic[5] = replace(topic[5], negative_ids=tuple(range(8)))  # all of it NWB's
    topic[6] = replace(topic[6], negative_ids=tuple(range(100, 109)))  # other companies'
    nwb = Surge("ticker:NWB", topic[5].start, topic[5].end, 9, 10, 1.0, 4.0, tuple(range(9)))
    surges = detect_surges(topic, config, skip=driven_by([nwb]))
    # window 5 was NWB's alert; it started no cooldown, so the topic's own surge in 6 alerts
    assert [s.start for s in surges] == [topic[6].start]
    assert [s.start for s in detect_surges(topic, config)] == [topic[5].start]  # alone: 5, then cooling
    spread = replace(topic[5], negative_ids=tuple(range(20, 30)))  # 4 of 10 from one company
    hlx = Surge("ticker:HLX", spread.start, spread.end, 4, 4, 1.0, 4.0, tuple(range(26, 30)))
    assert not driven_by([hlx])(spread) and driven_by([hlx])(replace(spread, negative_ids=(26, 27, 28)))
    assert not driven_by([nwb])(replace(topic[5], negative_ids=()))


def test_a_company_surge_still_cooling_down_keeps_its_topic_quiet() -> None:
    """The demo's scandal surged as NWB in two windows running (10 negatives each; the second
    cooling down, no alert) and as its topic in the second: one story, one alert."""
    config = AlertConfig(min_volume=5, cooldown_windows=3)
    nwb = [replace(w, key="ticker:NWB") for w in series([0, 1, 0, 1, 0, 10, 10])]
    nwb[6] = replace(nwb[6], negative_ids=tuple(range(100, 110)))
    topic = series([1, 0, 1, 0, 1, 2, 9])
    topic[6] = replace(topic[6], negative_ids=tuple(range(100, 109)))  # all among NWB's
    assert [s.start for s in detect_surges(nwb, config)] == [nwb[5].start]  # then cooling
    assert [s.start for s in detect_surges(nwb, config, cooldown=False)] == [nwb[5].start, nwb[6].start]
    assert detect_surges(topic, config, skip=driven_by(detect_surges(nwb, config, cooldown=False))) == []
    assert [s.start for s in detect_surges(topic, config, skip=driven_by(detect_surges(nwb, config)))] == \
        [topic[6].start]  # what the cooling window alone let through


def test_a_second_surge_after_cooldown_alerts_again() -> None:
    config = AlertConfig(min_volume=5, cooldown_windows=2, baseline_windows=4)
    surges = detect_surges(series([1, 0, 1, 1, 10, 0, 1, 0, 1, 11]), config)
    assert [s.negatives for s in surges] == [10, 11]


def test_a_much_bigger_surge_breaks_through_the_cooldown() -> None:
    config = AlertConfig(min_volume=5, cooldown_windows=4)
    surges = detect_surges(series([1, 0, 1, 1, 0, 1, 6, 2, 16, 1]), config)
    assert [s.negatives for s in surges] == [6, 16]


def test_webhook_payloads_and_backoff() -> None:
    surge = detect_surges(series([1, 0, 2, 1, 1, 12]), AlertConfig())[0]
    slack = webhook_payload(surge, 7, ["Bank probed"], "slack")
    assert set(slack) == {"text"} and "Bank probed" in slack["text"]
    assert "Negative surge on Macro (alert #7): " in slack["text"]
    hostile = webhook_payload(surge, 7, ["<!channel> AT&T <http://evil.test|Reuters>"], "slack")
    assert "- &lt;!channel&gt; AT&amp;T &lt;http://evil.test|Reuters&gt;" in hostile["text"]
    assert "<" not in hostile["text"] and ">" not in hostile["text"]
    nine = webhook_payload(surge, 7, [f"Bank probed {i}" for i in range(9)], "slack")["text"].splitlines()
    assert nine[-2:] == ["- Bank probed 4", "- and 4 more"]  # none dropped unsaid
    plain = webhook_payload(surge, 7, ["Bank probed"], "json")
    assert plain["alert_id"] == 7 and plain["negatives"] == 12
    assert plain["window_start"].endswith("Z") and "T" in plain["window_start"]  # ISO 8601 UTC, as --json writes
    many = replace(surge, article_ids=tuple(range(1, 13)))  # an audit's 12 ids had come with 10 headlines
    cut = webhook_payload(many, 7, [f"Bank probed {i}" for i in range(12)], "json", urls=[f"u{i}" for i in range(12)])
    assert (len(cut["article_ids"]), len(cut["headlines"]), len(cut["urls"]), cut["more_articles"]) == (10, 10, 10, 2)
    few = webhook_payload(replace(surge, article_ids=(1, 2)), 7, ["a", "b"], "json", urls=["u1", "u2"])
    assert (few["article_ids"], few["headlines"], few["more_articles"]) == ([1, 2], ["a", "b"], 0)
    nwb, companies = replace(surge, key="ticker:NWB"), {"NWB": ("Northwind Bank", "Northwind")}
    slack = webhook_payload(nwb, 7, ["a"], "slack", companies=companies)["text"]
    assert "Negative surge on $NWB (Northwind Bank) (alert #7)" in slack
    assert webhook_payload(nwb, 7, ["a"], "json", companies=companies)["label"] == "$NWB (Northwind Bank)"
    assert webhook_payload(nwb, 7, ["a"], "json")["label"] == "$NWB"
    assert next_attempt(T0, 0) == T0 + timedelta(seconds=30)
    assert next_attempt(T0, 20) == T0 + timedelta(hours=1)


@pytest.mark.parametrize("data, message", [
    ({"source": [{"name": "a", "url": "http://a"}]}, r"unknown top-level keys \['source'\] — use only \['sources'"),
    ({"foo": 1}, r"unknown top-level keys \['foo'\]"),
    ({"sources": "x"}, r"sources must be an array of tables — write each one as a \[\[sources\]\] table"),
    ({"tickers": 5}, r"tickers must be a table, got 5"),
    ({"fetch": {"timeout_s": "fast"}}, r"\[fetch\] timeout_s must be a number, got 'fast'"),
    ({"fetch": {"allow_private": "yes"}}, r"\[fetch\] allow_private must be true or false"),
    ({"sources": [{"name": "a", "url": "http://a", "interval_s": "10"}]},
     r"\[\[sources\]\] 1 \('a'\) interval_s must be an integer, got '10'"),
    ({"sources": [{"name": "a"}]}, r"\[\[sources\]\] 1 \('a'\) is missing url"),
    ({"sources": [{"name": "a", "url": "http://"}]}, r"source url needs a host name"),
    ({"sources": [{"name": "a", "url": "http://a:99999/x"}]}, r"source url has an invalid host or port"),
    ({"models": {"language": "Klingon"}}, r": \[models\] language must be one of English, German"),
    ({"sources": [{"name": "a", "url": "http://a", "kind": "rss"}]},
     r"kind must be one of feed, page, links, got"),
    ({"sources": [{"name": "a ", "url": "http://a"}]}, r"must not start or end with spaces"),
    ({"fetch": {"backoff_s": -1}}, r"\[fetch\] backoff_s must be between 0 and 3600.0, got -1"),
    ({"fetch": {"max_redirects": -1}}, r"\[fetch\] max_redirects must be 0 or more"),
    ({"fetch": {"min_host_interval_s": -3}}, r"\[fetch\] min_host_interval_s must be between 0 and 3600"),
    ({"fetch": {"timeout_s": float("inf")}}, r"\[fetch\] timeout_s must be a finite number, got inf"),
    ({"fetch": {"timeout_s": 1e9}}, r"\[fetch\] timeout_s must be greater than 0 and at most 3600.0"),
    ({"alerts": {"window_hours": float("nan")}}, r"\[alerts\] window_hours must be a finite number, got nan"),
    ({"alerts": {"window_hours": 1e7}}, r"\[alerts\] window_hours must be .* at most 8784 \(a year\)"),
    ({"sources": [{"name": "a", "url": "http://a", "interval_s": 99999999999999}]},
     r"\[\[sources\]\] 1 \('a'\) interval_s must be between 1 and 2678400"),
    ({"fetch": {"retries": 1000000}}, r"\[fetch\] retries must be between 0 and 10, got 1000000"),
    ({"alerts": {"min_volume": -1}}, r"\[alerts\] min_volume must be at least 1, got -1"),
    ({"alerts": {"cooldown_windows": -5}}, r"\[alerts\] cooldown_windows must be 0 or more, got -5"),
    ({"sources": [{"name": "a", "url": "http://a/x"}, {"name": "b", "url": "http://a/x"}]},
     r"two sources have the same url 'http://a/x' — keep one of them"),
    ({"webhooks": [{"url": "http://h/x"}, {"url": "http://h/x", "format": "slack"}]}, r"two webhooks have the same"),
    ({"webhooks": [{"url": "ftp://x"}]}, r"\[\[webhooks\]\] 1 webhook url must start with http:// or https://"),
])
def test_bad_config_values_are_one_line_errors_naming_the_key(data: dict, message: str) -> None:
    with pytest.raises(DataError, match=message) as caught:
        parse_config(data, "x.toml")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("x.toml: ")


def test_links_leave_no_markdown_remnants_in_the_text_the_models_read() -> None:
    from apps.finance_monitor.classify import clean_text

    assert clean_text("Atlas Motors recalls cars. [click](https://n.example/a?b=1) for more") == \
        "Atlas Motors recalls cars. click for more"
    assert clean_text("Profit up (https://t.co/x) today https://t.co/q2f") == "Profit up today"


def test_a_demo_feed_port_in_use_is_one_line(tmp_path) -> None:
    from apps.finance_monitor.demo_feeds import DemoFeedServer
    from shared.errors import VerticalsError

    first = DemoFeedServer(port=0).start()
    try:
        with pytest.raises(VerticalsError, match=f"cannot serve the demo feeds on 127.0.0.1:{first.port}"):
            DemoFeedServer(port=first.port)
    finally:
        first.stop()


def test_a_config_saved_with_a_bom_loads(tmp_path) -> None:
    from apps.finance_monitor.config import load_config

    path = tmp_path / "s.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[[sources]]\nname = "a"\nurl = "http://a.test/x"\n')
    assert [s.name for s in load_config(path).sources] == ["a"]


def test_train_defaults_to_the_public_sets_where_they_are(tmp_path, monkeypatch) -> None:
    from apps.finance_monitor import training

    mine = tmp_path / "mine.csv"
    assert training.default_plan(mine, None, None) == (training.TrainPlan(mine, None, None), "")
    plan, note = training.default_plan(None, None, None)
    if training.PUBLIC_SENTIMENT.is_file():  # ../shared/datasets beside this checkout
        assert (plan.sentiment, plan.topics) == (training.PUBLIC_SENTIMENT, training.PUBLIC_TOPICS)
        assert note.startswith("training on the public sets")
    monkeypatch.setattr(training, "PUBLIC_SENTIMENT", tmp_path / "none.csv")
    plan, note = training.default_plan(None, None, None)
    assert plan.sentiment == plan.topics == training.DEMO_DIR / "train.csv" and note.startswith("no public sets")


@pytest.mark.parametrize("stamp", ["2025-13-45T10:00:00", "2025-02-30T10:00:00Z", "2025-11-31T10:00:00"])
def test_a_feed_date_that_does_not_exist_is_no_date(stamp: str) -> None:
    """feedparser rolls an impossible day over into a real one ("2025-13-45" -> 2026-01-01): the
    story left the trends' window, counted nowhere. It is undated: dated when fetched, and counted."""
    import feedparser

    from apps.finance_monitor.dates import entry_time

    def entry(when: str) -> dict:
        [one] = feedparser.parse(f'<rss version="2.0"><channel><item><title>t</title><link>http://n.test/1</link>'
                                 f"<pubDate>{when}</pubDate></item></channel></rss>").entries
        return one

    assert entry(stamp).get("published_parsed") is not None  # feedparser's own reading: a day that is not
    assert entry_time(entry(stamp)) is None
    assert entry_time(entry("Thu, 29 Feb 2024 10:00:00 GMT")) == datetime(2024, 2, 29, 10, tzinfo=UTC)


@pytest.mark.parametrize(("stamp", "when"), [
    ("Dec 5, 2026 11:06 PM EST", datetime(2026, 12, 6, 4, 6, tzinfo=UTC)),  # "PM" had been read as the zone
    ("Sun, 06 Dec 2026 01:06 PM GMT", datetime(2026, 12, 6, 13, 6, tzinfo=UTC)),
    ("Sun, 06 Dec 2026 12:30 am GMT", datetime(2026, 12, 6, 0, 30, tzinfo=UTC)),
    ("2026-12-07T15:15:00 EST", datetime(2026, 12, 7, 20, 15, tzinfo=UTC)),  # the zone had been dropped
    ("Sun, 06 Dec 2026 10:00:00 IST", None),  # India's, Ireland's or Israel's: undated, not UTC
    ("2026-03-03T03:15:00 PM", datetime(2026, 3, 3, 15, 15, tzinfo=UTC)),  # its "T" is no word break
    ("Tue, 03 Mar 2026 25:00:00 PM GMT", None),  # no such hour
])
def test_a_feed_date_on_a_12_hour_clock_or_with_a_zone_name_is_read_in_its_zone(stamp: str, when) -> None:
    import feedparser

    from apps.finance_monitor.dates import entry_time

    [entry] = feedparser.parse(f'<rss version="2.0"><channel><item><title>t</title><link>http://n.test/1</link>'
                               f"<pubDate>{stamp}</pubDate></item></channel></rss>").entries
    assert entry_time(entry) == when


def test_a_bare_ampersand_in_a_feed_is_kept_as_written() -> None:
    """Invalid XML, common in real feeds: feedparser read "&T" as an entity ("AT&T; shares")."""
    from apps.finance_monitor.sources import parse_feed

    doc = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>AT&T shares slide, '
           b"R&amp;D &#8364;5m</title><link>http://n.test/a?x=1&y=2</link><description><![CDATA[<p>M&S &amp; "
           b"Next</p>]]></description></item></channel></rss>")
    [article] = parse_feed(doc, "s").articles
    assert (article.title, article.url, article.text) == ("AT&T shares slide, R&D €5m", "http://n.test/a?x=1&y=2",
                                                          "M&S & Next")
    utf16 = ('<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><item><title>R&amp;D up at M&amp;S'
             "</title><link>http://n.test/b</link></item></channel></rss>").encode("utf-16")
    assert [a.title for a in parse_feed(utf16, "s").articles] == ["R&D up at M&S"]  # its "&" bytes stand beside NULs


def test_a_correction_that_keeps_the_label_reads_as_confirmed() -> None:
    from apps.finance_monitor.corrections import Change

    assert str(Change(16, "topic", "Legal", "Legal")) == "article 16: topic Legal confirmed"
    assert str(Change(16, "topic", None, "Legal")) == "article 16: topic (unclassified) -> Legal"


def test_a_window_of_neutral_articles_nets_zero_whatever_their_model_scores() -> None:
    """The net counts labels: a neutral article the model scored -0.14 moves it no more than one
    scored 0 (an audit's "0 negative (0%) net -0.14"); one positive and one negative of three net 0."""
    neutral = [Observation(i, T0 + timedelta(hours=1), ("topic:Macro",), "neutral", -0.14) for i in range(3)]
    [window] = window_stats(neutral, 6)["topic:Macro"]
    assert (window.negatives, window.positives, window.net_sentiment) == (0, 0, 0.0)
    mixed = [_obs(1, "negative"), _obs(2, "positive", i=1), _obs(3, "neutral", i=2), _obs(4, "negative", i=3)]
    [window] = window_stats(mixed, 6)["topic:Macro"]
    assert window.net_sentiment == pytest.approx(-0.25)
