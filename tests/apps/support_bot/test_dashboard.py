"""The dashboard page with streamlit.testing: what a user sees, and no exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

SCRIPT = str(Path(__file__).resolve().parents[3] / "apps" / "support_bot" / "dashboard.py")


def _app() -> AppTest:
    at = AppTest.from_file(SCRIPT, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_chat_shows_cited_answer_and_confidence(bot_home: Path) -> None:
    at = _app()
    at.chat_input[0].set_value("How long are gift cards valid?").run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "[1]" in text and "3 years" in text
    assert any("confidence" in c.value for c in at.caption)
    assert any("Gift cards" in e.label for e in at.expander)
    thumbs_down = [b for b in at.button if b.label == "👎"]
    thumbs_down[0].click().run()
    assert not at.exception


def test_handoff_queue_and_release(bot_home: Path) -> None:
    at = _app()
    at.chat_input[0].set_value("who won the football match yesterday?").run()
    assert any("not sure" in m.value for m in at.markdown)
    release = [b for b in at.button if b.label == "Release"]
    assert release, "the hand-off should be listed in the queue"
    release[0].click().run()
    assert not at.exception
    assert any("No open hand-offs" in i.value for i in at.info)


def test_intent_card_and_kb_table_render(bot_home: Path) -> None:
    at = _app()
    assert any("support-intents" in m.value for m in at.markdown)
    assert any("documents" in c.value for c in at.caption)


@pytest.mark.usefixtures("empty_home")
def test_empty_home_explains_what_to_do() -> None:
    at = _app()
    assert any("knowledge base is empty" in i.value for i in at.info)
    assert any("No intent model yet" in i.value for i in at.info)
