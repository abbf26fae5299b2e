from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

HOME = Path(__file__).resolve().parents[1] / "apps" / "home.py"


def test_home_shows_the_registry(home):
    from shared.registry import Registry

    Registry().save("toy", lambda d: None, {"kind": "classifier", "metrics": {"accuracy": 0.9, "macro_f1": 0.8}})
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "verticals"
    assert any("toy" in str(df.value) for df in at.dataframe)


def test_home_with_an_empty_registry_says_what_to_do(home):
    at = AppTest.from_file(str(HOME), default_timeout=60).run()
    assert not at.exception
    assert any("No models in the registry yet" in i.value for i in at.info)
