"""The dashboard as a user sees it: AppTest in-process, and once in a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

SCRIPT = Path(__file__).resolve().parents[3] / "apps" / "recommender" / "dashboard.py"


@pytest.fixture
def dashboard_env(rec_home: Path, tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict:
    env = {"VERTICALS_REC_ITEMS": str(tiny["items"]),
           "VERTICALS_REC_INTERACTIONS": str(tiny["interactions"]),
           "VERTICALS_HOME": str(rec_home)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def chart_data(at: AppTest) -> pd.DataFrame:
    """The data behind the page's first chart, as a DataFrame."""
    import pyarrow as pa

    chart = next(e for e in at.main if getattr(e, "type", "") == "vega_lite_chart")
    return pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()


def test_dashboard_shows_history_reranked_list_and_cards(dashboard_env: dict) -> None:
    from apps.recommender.features import FEATURE_NAMES
    from shared.ui import markdown_text

    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert not at.exception, at.exception
    assert at.selectbox[0].value.startswith("U"), "a user with history is picked first"
    headers = [h.value for h in at.subheader]
    assert {"History", "Top 10, reranked", "Models"} <= set(headers)
    recs = at.dataframe[0].value
    assert len(recs) == 10
    # what explains a pick comes first: in view on an 800px screen; the baseline is one number
    assert list(recs.columns)[:6] == ["rank", "title", "score", "text interest", "other features",
                                      "because"]
    assert "baseline" not in recs.columns
    caption = next(c.value for c in at.caption if "logit (log-odds) = baseline" in c.value)
    baseline = float(re.search(r"baseline (-?\d+\.\d+) \(an average", caption).group(1))
    # the parts shown add up to the score's logit (parts rounded to 0.01, the score in percent)
    parts = baseline + recs["text interest"] + recs["other features"]
    assert np.allclose(100 / (1 + np.exp(-parts)), recs["score"], atol=0.5), (parts, recs["score"])
    # history titles explain a pick only where text interest raised its score
    assert all(t > 0 or not b.startswith("you liked")
               for t, b in zip(recs["text interest"], recs["because"]))
    from shared import get_registry

    coef = get_registry().card("rec-ranker")["params"]["coef"]  # the caption says when text weighs 0
    assert ("gives the text scores no weight" in caption) == (coef["bi_score"] == coef["cross_score"] == 0)
    why = next(m.value for m in at.markdown if m.value.startswith("**Why"))
    assert why.endswith(f"Because {markdown_text(recs['because'][0])}\\.")
    # the chart: what each feature added to the first pick's logit, by readable names
    bars = chart_data(at)
    # the two text bars, named by their models, add up to the table's "text interest"
    text = {"text: bi-encoder", "text: cross-encoder"}
    assert set(bars["feature"]) == set(FEATURE_NAMES.values()) and text <= set(FEATURE_NAMES.values())
    assert len(bars) == 7
    chart = next(e for e in at.main if getattr(e, "type", "") == "vega_lite_chart")
    # the biggest push on top: Chromium drew a data-ordered chart in a fixed order
    assert json.loads(chart.proto.spec)["encoding"]["y"]["sort"] == {"field": "added to the logit",
                                                                       "order": "descending"}
    added = bars.set_index("feature")["added to the logit"]
    assert added[list(text)].sum() == pytest.approx(recs["text interest"][0], abs=0.01)
    logit = np.log(recs["score"][0] / (100 - recs["score"][0]))
    assert baseline + bars["added to the logit"].sum() == pytest.approx(logit, abs=0.01)
    assert [e.label for e in at.expander][:1] == ["rec-ranker v1 (ranker)"]
    assert any("rests on" in w.value for w in at.warning)  # the thin validation, on the card
    user = at.selectbox[0].value
    at.selectbox(key=f"why-item-{user}").set_value(2).run()  # any item's breakdown, not only the first's
    why = next(m.value for m in at.markdown if m.value.startswith("**Why"))
    assert markdown_text(recs["title"][2]) in why
    logit = np.log(recs["score"][2] / (100 - recs["score"][2]))
    assert baseline + chart_data(at)["added to the logit"].sum() == pytest.approx(logit, abs=0.01)
    # another user's "Why this one?" opens on their own first item, not the last user's pick
    took = pd.read_csv(dashboard_env["VERTICALS_REC_INTERACTIONS"], dtype=str).query("label == '1'")
    other = next(u for u in at.selectbox[0].options if u != user and u in set(took["user_id"]))
    at.selectbox[0].select(other).run()
    assert not at.exception, at.exception
    first = at.dataframe[0].value["title"][0]
    picker = at.selectbox(key=f"why-item-{other}")
    assert picker.value == 0 and picker.options[picker.index] == f"1. {first}"
    why = next(m.value for m in at.markdown if m.value.startswith("**Why"))
    assert why.startswith(f"**Why “{markdown_text(first)}”?**")


def test_the_batch_jobs_scores_for_the_user_are_shown_beside_the_live_list(
        dashboard_env: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert any(c.value.startswith("No batch output to show") for c in at.caption)
    user = at.selectbox[0].value
    items = pd.read_csv(dashboard_env["VERTICALS_REC_ITEMS"])
    first, second = items["item_id"][:2]
    out = tmp_path / "scores.parquet"
    pd.DataFrame({"user_id": [user, user, "someone else"], "item_id": [second, first, first],
                  "score": [0.02, 0.05, 0.5], "rank": [2, 1, 1]}).to_parquet(out)
    monkeypatch.setenv("VERTICALS_REC_SCORES", str(out))
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert not at.exception, at.exception
    assert "From the batch job" in [h.value for h in at.subheader]
    assert any(c.value.startswith("scores.parquet, written ") and ": 3 rows for 2 users." in c.value
               for c in at.caption)
    [batch] = [d.value for d in at.dataframe if list(d.value.columns) == ["rank", "title", "score"]]
    titles = dict(zip(items["item_id"], items["title"]))
    assert list(batch["title"]) == [titles[first], titles[second]] and list(batch["score"]) == [5.0, 2.0]
    assert not any("this catalogue lacks" in w.value for w in at.warning)
    other = tmp_path / "other.parquet"  # scored on a catalogue with an item this one lacks
    pd.concat([pd.read_parquet(out), pd.DataFrame({"user_id": [user], "item_id": ["I-NEW"], "score": [0.9],
                                                   "rank": [3]})]).to_parquet(other)
    monkeypatch.setenv("VERTICALS_REC_SCORES", str(other))
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert any(w.value.startswith("1 rows of other.parquet name items this catalogue lacks") for w in at.warning)
    monkeypatch.setenv("VERTICALS_REC_SCORES", str(out))
    as_csv = tmp_path / "scores.csv"  # `recommend score --out scores.csv` writes CSV: shown the same
    pd.read_parquet(out).to_csv(as_csv, index=False)
    monkeypatch.setenv("VERTICALS_REC_SCORES", str(as_csv))
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert not at.exception, at.exception
    [batch] = [d.value for d in at.dataframe if list(d.value.columns) == ["rank", "title", "score"]]
    assert list(batch["score"]) == [5.0, 2.0]
    out.write_text("user_id,item_id\n")  # not Parquet after all: a one-line error, not a traceback
    monkeypatch.setenv("VERTICALS_REC_SCORES", str(out))
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert not at.exception, at.exception
    assert any("Batch output not shown" in e.value and "scores.parquet" in e.value for e in at.error)


def test_dashboard_new_user_falls_back_to_popularity(dashboard_env: dict) -> None:
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    at.selectbox[0].select(at.selectbox[0].options[-1]).run()
    assert not at.exception
    headers = [h.value for h in at.subheader]
    assert "Top 10, most popular" in headers and "Top 10, reranked" not in headers
    assert at.info[0].value.startswith("No items taken yet, so these are the most popular items you have not "
                                       "seen, each item scored by the share of users who took it")
    assert not any("history" in w.value for w in at.warning)
    recs = at.dataframe[0].value
    # text interest (0 throughout), the other features (the ranker scored nothing) and the
    # baseline (one number, in the caption) are not columns
    assert list(recs.columns)[:4] == ["rank", "title", "score", "because"]
    assert (recs["because"] == "it is among the most popular items you have not seen").all()
    assert {"text interest", "other features", "baseline"}.isdisjoint(recs.columns)
    assert recs["score"].between(0, 100).all()
    shown = json.loads(at.dataframe[0].proto.columns)["score"]["type_config"]["format"]
    assert shown == "%.2f%%", "in percent to 0.01: 0.009 and 0.008 read 0.90% and 0.80%, not tied"
    assert list(recs["score"]) == sorted(recs["score"], reverse=True), "the most taken first"
    assert any(c.value.startswith("Score = the share of users who took the item") for c in at.caption)


def test_a_user_shown_items_but_taking_none_is_said_to_have_taken_nothing(dashboard_env: dict) -> None:
    """U001 was only shown items of these shelves: "No history yet" sat above a history of them."""
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    at.selectbox[0].select("U001").run()
    assert not at.exception
    assert at.info[0].value.startswith("No items taken yet, so these are the most popular items")
    history = at.dataframe[1].value
    assert len(history) >= 1 and set(history["taken"]) == {"shown only"}
    assert any("with nothing taken yet" in c.value for c in at.caption)


def test_a_history_without_timestamps_has_no_when_column(dashboard_env: dict, tiny: dict[str, Path],
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interactions without a timestamp have no dates: the history's "when" column showed blank."""
    untimed = tmp_path / "untimed.csv"
    pd.read_csv(tiny["interactions"], dtype=str).drop(columns=["timestamp"]).to_csv(untimed, index=False)
    monkeypatch.setenv("VERTICALS_REC_INTERACTIONS", str(untimed))
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert not at.exception
    history = at.dataframe[1].value
    assert len(history) >= 1 and list(history.columns) == ["title", "category", "taken"]


def test_dashboard_bi_encoder_card_that_kept_the_base_says_which_figure_serves(
        dashboard_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the demo's: its tuning lowered the held-out MRR, so the version serves the base's weights;
    the tiles name the serving figures and the rejected tuning's, with no 'before' repeating them."""
    from apps.recommender.service import RecommenderService

    cards = RecommenderService.cards
    metrics = {"recall_at_1_before": 0.1562, "mrr_before": 0.3165, "recall_at_1_after": 0.1562,
               "mrr_after": 0.3165, "n_train_pairs": 293, "n_heldout_pairs": 32,
               "recall_at_1_tuned": 0.125, "mrr_tuned": 0.2732}
    kept_base = {"kept": "base", "metrics": metrics, "warning": "tuning lowered the held-out MRR "
                 "(0.317 -> 0.273): this version keeps the base model's weights"}
    monkeypatch.setattr(RecommenderService, "cards", lambda self: [
        c | kept_base if c["kind"] == "biencoder" else c for c in cards(self)])
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert not at.exception
    card = next(e for e in at.expander if e.label.endswith("(biencoder)"))
    tiles = {m.label: (m.value, m.help) for m in card.metric}
    assert {k: v for k, (v, _) in tiles.items()} == {
        "Recall@1 (base, serving)": "0.156", "MRR (base, serving)": "0.317", "Recall@1 (rejected tuning)": "0.125",
        "MRR (rejected tuning)": "0.273", "Training pairs": "293", "Held-out pairs": "32"}
    helps = " ".join(h for _, h in tiles.values())
    assert "after tuning" not in helps and "passage" not in helps
    assert "the base model's" in tiles["MRR (base, serving)"][1]
    assert "did not keep" in tiles["MRR (rejected tuning)"][1]


def test_dashboard_scores_a_user_once_whatever_the_slider(dashboard_env: dict,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Going back to a user or a slider position shows the list at once (nothing is rescored),
    and the list is the one ``recommend(user, n)`` gives, as the batch job writes it."""
    import streamlit as st

    from apps.recommender.service import RecommenderService

    st.cache_data.clear()
    scored: list[str] = []
    recommend = RecommenderService.recommend
    monkeypatch.setattr(RecommenderService, "recommend",
                        lambda self, user, n=10: scored.append(user) or recommend(self, user, n))
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    first = at.selectbox[0].value
    other = next(u for u in at.selectbox[0].options if u != first)
    at.slider[0].set_value(5).run()
    top5 = list(at.dataframe[0].value["title"])
    at.selectbox[0].select(other).run()
    at.selectbox[0].select(first).run()
    assert not at.exception
    assert list(at.dataframe[0].value["title"]) == top5
    assert scored == [first, first, other]  # the first user's 10, then 5: each scored once


def test_dashboard_shows_titles_literally(dashboard_env: dict, tiny: dict[str, Path],
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dollars, stars and underscores in a title are text, not LaTeX or emphasis."""
    markdown_it = pytest.importorskip("markdown_it")
    items = pd.read_csv(tiny["items"], dtype=str, keep_default_na=False)
    items["title"] = items["title"] + " for $5 or $9 *signed* _new_"
    items.to_csv(tmp_path / "items.csv", index=False)
    monkeypatch.setenv("VERTICALS_REC_ITEMS", str(tmp_path / "items.csv"))
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert not at.exception
    why = next(m.value for m in at.markdown if m.value.startswith("**Why"))
    assert not re.search(r"(?<!\\)\$", why), "a lone $ starts LaTeX"
    shown = markdown_it.MarkdownIt().render(why)
    assert "for $5 or $9 *signed* _new_" in shown and "<em>" not in shown


def test_dashboard_runs_from_the_installed_package(tiny: dict[str, Path], tmp_path: Path) -> None:
    """As `streamlit run` starts it from anywhere: its imports need no path set by hand."""
    env = {**os.environ, "VERTICALS_HOME": str(tmp_path / "home"), "PYTHONPATH": "",
           "VERTICALS_REC_ITEMS": str(tiny["items"]),
           "VERTICALS_REC_INTERACTIONS": str(tiny["interactions"])}
    code = ("from streamlit.testing.v1 import AppTest; "
            f"at = AppTest.from_file({str(SCRIPT)!r}, default_timeout=60).run(); "
            "print(at.exception or at.info[0].value)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=120)
    assert "No models under the prefix `rec`" in done.stdout, done.stdout + done.stderr


def test_dashboard_without_models_says_what_to_run(home: Path, tiny: dict[str, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERTICALS_REC_ITEMS", str(tiny["items"]))
    monkeypatch.setenv("VERTICALS_REC_INTERACTIONS", str(tiny["interactions"]))
    at = AppTest.from_file(str(SCRIPT), default_timeout=60).run()
    assert not at.exception
    assert "No models under the prefix `rec`" in at.info[0].value
    assert f"verticals recommend train --items {tiny['items']}" in at.info[0].value


def test_dashboard_on_the_demo_data_reads_the_demo_models(home: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("ITEMS", "INTERACTIONS", "PREFIX"):
        monkeypatch.delenv(f"VERTICALS_REC_{key}", raising=False)
    at = AppTest.from_file(str(SCRIPT), default_timeout=60).run()
    assert not at.exception
    assert at.info[0].value == "No demo models yet: run `verticals recommend demo`."


def test_cli_dashboard_passes_your_files_and_prefix(tiny: dict[str, Path],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import apps.recommender.cli as cli
    import shared.cli

    started: list[dict] = []
    commands: list[list[str]] = []
    monkeypatch.setattr(shared.cli.os, "execve",
                        lambda path, args, env: (started.append(env), commands.append(args)))
    result = CliRunner().invoke(cli.app, ["dashboard", "--items", str(tiny["items"]),
                                          "--interactions", str(tiny["interactions"]),
                                          "--prefix", "mine"])
    assert result.exit_code == 0, result.output
    # a dashboard has no login: this machine only, unless told to serve the network
    assert commands[0][commands[0].index("--server.address") + 1] == "127.0.0.1"
    far = CliRunner().invoke(cli.app, ["dashboard", "--port", "99999"])
    assert str(far.exception) == "--port must be between 1 and 65535, got 99999"
    nowhere = CliRunner().invoke(cli.app, ["dashboard", "--address", "nope.invalid"])  # had been a traceback
    assert str(nowhere.exception).startswith("--address 'nope.invalid' is no address of this machine — use 127.0.0.1")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        busy = CliRunner().invoke(cli.app, ["dashboard", "--port", str(port)])
    assert str(busy.exception) == (f"--port {port} is in use on 127.0.0.1 (another dashboard?) — choose another "
                                   "--port or stop that one")
    assert {k: v for k, v in started[0].items() if k.startswith("VERTICALS_REC_")} == {
        "VERTICALS_REC_ITEMS": str(tiny["items"].resolve()),
        "VERTICALS_REC_INTERACTIONS": str(tiny["interactions"].resolve()),
        "VERTICALS_REC_PREFIX": "mine"}
    alone = CliRunner().invoke(cli.app, ["dashboard", "--items", str(tiny["items"])])
    assert "--items and --interactions go together" in str(alone.exception)
    # a wrong path is the one line every other command gives, not a boxed usage error
    missing = CliRunner().invoke(cli.app, ["dashboard", "--items", "nope.csv", "--interactions",
                                           str(tiny["interactions"])])
    assert str(missing.exception) == "nope.csv: file not found — check the path"
    folder = CliRunner().invoke(cli.app, ["dashboard", "--items", str(tiny["items"]),
                                          "--interactions", str(tiny["folder"])])
    assert "is a directory, expected a file" in str(folder.exception)
    assert len(started) == 1, "nothing is started on a bad call"


def test_a_text_model_the_ranker_weighs_at_0_is_said_and_why_still_shows(
        dashboard_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """A review: the caption's note took the name of the cold-start note, and the "Why this one?"
    panel vanished for every user whenever one text model weighed 0."""
    from apps.recommender import ranker

    said = "the ranker gives the cross-encoder's score no weight: on the validation period it added nothing"
    monkeypatch.setattr(ranker, "unweighted_text_note", lambda coef: said)
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert not at.exception, at.exception
    assert any(f"{said[:1].upper()}{said[1:]}." in c.value for c in at.caption)
    assert any(m.value.startswith("**Why") for m in at.markdown)


@pytest.mark.browser
def test_dashboard_in_headless_chromium(dashboard_env: dict, streamlit_server, browser,
                                        wait_for_text, tmp_path: Path) -> None:
    url = streamlit_server(SCRIPT, {**os.environ, **dashboard_env})
    browser.get(url)
    assert wait_for_text(browser, "reranked", timeout=180), browser.page_source[-2000:]
    # subtle: st.dataframe draws on a canvas, so wait for the caption printed under it
    assert wait_for_text(browser, "Score = the ranker", timeout=180)
    assert wait_for_text(browser, "rec-ranker v1", timeout=60)
    shot = Path(os.environ.get("REC_SCREENSHOT", tmp_path / "recommender.png"))
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
