"""The dashboard page with streamlit.testing: what a user sees, and no exceptions."""

from __future__ import annotations

import json
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


def test_customer_text_is_shown_as_typed(bot_home: Path) -> None:
    at = _app()
    question = "who won the football match yesterday? ![x](http://evil.example/p.png)"
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    shown = [t.value for t in at.text]
    assert shown.count(question) == 2  # in the chat and in the agents' hand-off queue
    assert not any("evil.example" in m.value for m in at.markdown)


def test_dashboard_follows_kb_changes_made_elsewhere(bot_home: Path, tmp_path: Path) -> None:
    from apps.support_bot.service import SupportService

    at = _app()
    doc = tmp_path / "wrap.jsonl"
    doc.write_text(json.dumps({"id": "kb-gift-wrapping", "title": "Gift wrapping", "text":
                               "Gift wrapping costs $4.99 per item, or $9.99 for a whole order."}))
    SupportService().kb_add(doc)  # what `verticals support kb add` does in another process
    at.chat_input[0].set_value("How much is gift wrapping?").run()
    assert not at.exception, at.exception
    answers = [m.value for m in at.markdown if "Gift wrapping costs" in m.value]
    assert answers and r"\$4.99 per item, or \$9.99" in answers[0]  # prices, not LaTeX
    assert any(e.label.endswith("Gift wrapping") for e in at.expander)
    SupportService().kb_remove(["kb-gift-wrapping"])
    at.chat_input[0].set_value("How much is gift wrapping?").run()
    last = at.session_state["support_messages"][-1]
    assert all(c["doc_id"] != "kb-gift-wrapping" for c in last["citations"])
