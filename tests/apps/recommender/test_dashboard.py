"""The dashboard as a user sees it: AppTest in-process, and once in a real headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
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


def test_dashboard_shows_history_reranked_list_and_cards(dashboard_env: dict) -> None:
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    assert not at.exception, at.exception
    assert at.selectbox[0].value.startswith("U"), "a user with history is picked first"
    headers = [h.value for h in at.subheader]
    assert {"History", "Top 10, reranked", "Models"} <= set(headers)
    assert any("Because you liked" in m.value for m in at.markdown)
    recs = at.dataframe[0].value
    assert len(recs) == 10 and {"baseline", "text interest", "other features",
                                "because you liked"} <= set(recs.columns)
    # the parts shown add up to the score's logit (parts rounded to 0.01, the score to 0.001)
    parts = recs["baseline"] + recs["text interest"] + recs["other features"]
    assert np.allclose(1 / (1 + np.exp(-parts)), recs["score"], atol=0.005), (parts, recs["score"])
    assert any("logit (log-odds) = baseline" in c.value for c in at.caption)
    assert [e.label for e in at.expander][:1] == ["rec-ranker v1 (ranker)"]
    assert any("rests on" in w.value for w in at.warning)  # the thin validation, on the card


def test_dashboard_new_user_falls_back_to_popularity(dashboard_env: dict) -> None:
    at = AppTest.from_file(str(SCRIPT), default_timeout=180).run()
    at.selectbox[0].select(at.selectbox[0].options[-1]).run()
    assert not at.exception
    assert any("no history yet" in w.value for w in at.warning)
    recs = at.dataframe[0].value
    assert (recs["text interest"] == 0).all() and recs["score"].between(0, 1).all()


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
    monkeypatch.setattr(shared.cli.os, "execve", lambda path, args, env: started.append(env))
    result = CliRunner().invoke(cli.app, ["dashboard", "--items", str(tiny["items"]),
                                          "--interactions", str(tiny["interactions"]),
                                          "--prefix", "mine"])
    assert result.exit_code == 0, result.output
    assert {k: v for k, v in started[0].items() if k.startswith("VERTICALS_REC_")} == {
        "VERTICALS_REC_ITEMS": str(tiny["items"].resolve()),
        "VERTICALS_REC_INTERACTIONS": str(tiny["interactions"].resolve()),
        "VERTICALS_REC_PREFIX": "mine"}
    alone = CliRunner().invoke(cli.app, ["dashboard", "--items", str(tiny["items"])])
    assert "--items and --interactions go together" in str(alone.exception)
    assert len(started) == 1, "nothing is started on a bad call"


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
