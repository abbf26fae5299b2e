"""The dashboard page with streamlit.testing: what a user sees, and no exceptions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apps.support_bot.answer import WAITING_TEXT
from apps.support_bot.other_languages import RELEASED_TEXTS

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
    text = " ".join(m.value for m in at.markdown).replace("\\[", "[").replace("\\]", "]")
    assert "[1]" in text and "3 years" in text  # the markers are escaped: no link can form
    assert any("confidence" in c.value for c in at.caption)
    assert any("Gift cards" in e.label for e in at.expander)
    assert not [b for b in at.button if b.label in ("👍", "👎")]  # emoji drew empty boxes
    at.get("feedback")[0].set_value(0).run()  # thumbs down
    assert not at.exception, at.exception
    assert any("unhelpful" in c.value for c in at.caption)
    assert at.get("feedback")[0].value == 0
    assert "thumbs down" in set(_gaps_table(at)["feedback"])
    at.get("feedback")[0].set_value(1).run()  # a change of mind replaces the vote
    assert any("helpful — thanks" in c.value for c in at.caption)
    assert not any("unhelpful" in c.value for c in at.caption)
    assert all(row != "thumbs down" for row in _gaps_table(at).get("feedback", []))
    at.chat_input[0].set_value("can I speak to a human please").run()  # not judged: no confidence
    assert [c.value for c in at.caption if c.value.startswith("handed off")] == ["handed off"]


def _gaps_table(at: AppTest):
    """The Gaps tab's table (empty when the tab shows its 'No gaps yet' note)."""
    import pandas as pd

    tables = [d.value for d in at.get("dataframe") if "what happened" in d.value.columns]
    return tables[0] if tables else pd.DataFrame()


def _button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no {label!r} button; buttons: {[b.label for b in at.button]}"
    return found[0]


def _agent_messages(at: AppTest) -> list[str]:
    return [" ".join(m.value for m in c.markdown) for c in at.chat_message if c.name == "agent"]


def test_a_new_chat_greets_and_offers_questions_to_click(bot_home: Path) -> None:
    at = _app()
    assert any(m.value.startswith("Hello! I answer from the shop's help pages") for m in at.markdown)
    examples = [b for b in at.button if b.key and b.key.startswith("example-")]
    assert 1 <= len(examples) <= 4 and all(b.label.endswith("?") for b in examples)
    first = examples[0].label
    at.button(key="example-0").click().run()
    assert not at.exception, at.exception
    assert first in [t.value for t in at.text]  # asked as if typed
    assert any("confidence" in c.value for c in at.caption)  # and answered
    assert not [b for b in at.button if b.key and b.key.startswith("example-")]  # the greeting is gone


def test_a_blank_message_shows_the_refusal_and_no_empty_bubble(bot_home: Path) -> None:
    at = _app()
    at.chat_input[0].set_value("   ").run()
    assert not at.exception, at.exception
    assert [c.name for c in at.chat_message] == ["assistant"]
    assert any("Please type a question" in m.value for m in at.chat_message[0].markdown)


def test_handoff_queue_and_release(bot_home: Path) -> None:
    at = _app()
    at.chat_input[0].set_value("who won the football match yesterday?").run()
    assert any("not sure" in m.value for m in at.markdown)
    assert "1 open hand-off (1 waiting for an agent's reply): the Hand-offs tab" in [c.value for c in at.caption]
    assert [t.label for t in at.tabs][2] == "Hand-offs"  # a label that changed was a new tab: back to Chat
    assert "Something else to ask meanwhile? Press New conversation." in [c.value for c in at.caption]
    where = _tabs_slot(at)
    # whose turn it is: the ticket's line and the queue's caption
    assert any(re.match(r"\*\*#1\*\* · waiting for a reply since 20\S+ \d\d:\d\d UTC \((just now|\d+ min)\)", m.value)
               for m in at.markdown)  # how long, besides since when
    assert "1 open hand-off: 1 waiting for a reply (the longest wait first), 0 answered, waiting for the " \
           "customer." in [c.value for c in at.caption]
    _button(at, "Release").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Released #1: the bot answers that conversation again."]
    assert any("No open hand-offs" in i.value for i in at.info)
    assert not any("waiting for an agent" in c.value for c in at.caption)
    assert _tabs_slot(at) == where  # the line went, the tabs stayed: moved, they reopened on Chat


def test_the_customers_page_is_the_chat_alone(bot_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`support dashboard --chat-only`: no admin, hand-offs, gaps or model for customers to open."""
    monkeypatch.setenv("VERTICALS_SUPPORT_CHAT_ONLY", "1")
    at = _app()
    assert not at.tabs and not at.get("file_uploader")
    at.chat_input[0].set_value("How long are gift cards valid?").run()
    assert not at.exception, at.exception
    assert "3 years" in at.session_state["support_messages"][-1]["text"] and not at.tabs
    shown = [c.value for c in at.caption]  # what only staff read is left out: kinds, confidence, chunks
    assert not [c for c in shown if "confidence" in c or "chunk" in c or "answered from" in c], shown
    assert [e.label for e in at.expander if e.label.startswith("[1]")] and at.get("feedback")


def test_a_restored_hand_off_reads_its_tickets_reason(bot_home: Path) -> None:
    """A hand-off of a message no model read (an out-of-scope row of the intents file) shows no
    confidence after a reload either: its reason is its ticket's. It had read "confidence 0.00"."""
    from apps.support_bot.chat import restored
    from apps.support_bot.service import SupportService

    service = SupportService()
    handed = service.ask("who won the football match yesterday?")
    [message] = [m for m in restored(service, handed.conversation_id) if m["role"] == "assistant"]
    assert message["reason"] == service.agents.handoffs()[0].reason == handed.reason
    assert handed.reason.endswith(": not answered")


def test_the_address_brings_a_conversation_back(bot_home: Path) -> None:
    """A reload (or a customer back later) finds the chat and the agent's reply since, by the
    ``?c=`` the page's address carries."""
    from apps.support_bot.service import SupportService

    at = _app()
    at.chat_input[0].set_value("How long are gift cards valid?").run()
    at.chat_input[0].set_value("who won the football game last night?").run()
    cid = at.session_state["support_conversation"]
    assert at.query_params["c"] == cid
    service = SupportService()
    service.agents.reply(service.agents.handoffs()[0].id, "The final ended 2-1.")

    again = AppTest.from_file(SCRIPT, default_timeout=120)
    again.query_params["c"] = cid
    again.run()
    assert not again.exception, again.exception
    assert [m.name for m in again.chat_message] == ["user", "assistant", "user", "assistant", "agent"]
    assert _agent_messages(again) == ["The final ended 2-1."]
    assert [e.label for e in again.expander if e.label.startswith("[1]")]  # the citation, rebuilt
    # the unsure hand-off keeps its confidence, as before the reload
    assert [c.value for c in again.caption if c.value.startswith("handed off")] == \
        [c.value for c in at.caption if c.value.startswith("handed off")] != ["handed off"]
    _button(again, "New conversation").click().run()
    assert "c" not in again.query_params and [m.name for m in again.chat_message] == ["assistant"]


def test_a_template_answer_brought_back_quotes_its_whole_faq(bot_home: Path) -> None:
    """A template cites its FAQ once; its record keeps every chunk, so a reload quotes them all."""
    from apps.support_bot.answer import template_answer
    from apps.support_bot.service import SupportService

    service = SupportService()
    chunks = service.retriever.document_chunks("kb-delivery")  # a document of several chunks
    answer = template_answer(chunks, 0.9, "shipping")
    cid = "c" * 32
    service.store.add_turn(cid, "how long does delivery take?", answer.text, "template", "shipping", 0.9,
                           [c.chunk_id for c in chunks])
    at = AppTest.from_file(SCRIPT, default_timeout=120)
    at.query_params["c"] = cid
    at.run()
    assert not at.exception, at.exception
    [cited] = [e for e in at.expander if e.label.startswith("[")]
    quoted = " ".join(m.value for m in cited.markdown)
    assert len(chunks) > 1 and chunks[-1].text.split(". ")[-1].rstrip(".")[:40] in quoted.replace("\\", "")


def test_agent_replies_and_the_customer_sees_it(bot_home: Path) -> None:
    at = _app()
    at.chat_input[0].set_value("who won the football match yesterday?").run()
    at.chat_input[0].set_value("hello? is anyone there?").run()  # written while waiting
    assert any(WAITING_TEXT in m.value for m in at.markdown)
    conversation = [e for e in at.expander if e.label.startswith("Conversation")]
    assert conversation and "1 written while waiting" in conversation[0].label
    assert "hello? is anyone there?" in [t.value for t in conversation[0].text]

    at.text_area[0].set_value("Sorry, we only help with orders — but the final was 2-1.").run()
    _button(at, "Send").click().run()
    assert not at.exception, at.exception
    assert _agent_messages(at) == ["Sorry, we only help with orders — but the final was 2-1."]
    assert any("Replied to #" in s.value for s in at.success)
    assert at.text_area[0].value == ""  # emptied for the next reply
    assert any("A colleague has this conversation" in c.value for c in at.caption)
    assert "A colleague replied" in [c.value for c in at.caption]

    at.chat_input[0].set_value("and do you sell helmets?").run()  # written while waiting
    at.text_area[0].set_value("Anything else, just ask the bot.").run()
    _button(at, "Send and release").click().run()
    assert not at.exception, at.exception
    assert any("No open hand-offs" in i.value for i in at.info)
    # the reply may not have answered it: the agent is told, and the customer asked to write it again
    assert any("The customer wrote 1 message while waiting (“and do you sell helmets?”)" in w.value
               for w in at.warning)
    assert len(_agent_messages(at)) == 2
    at.chat_input[0].set_value("How long are gift cards valid?").run()
    assert "3 years" in at.session_state["support_messages"][-1]["text"]  # the bot answers again
    roles = [c.name for c in at.chat_message]
    assert roles.index("agent") < len(roles) - 2  # replies stay where they were written


def test_a_colleagues_reply_is_labelled_in_the_customers_language(bot_home: Path) -> None:
    """It read "A colleague replied" in English to a customer who wrote German."""
    at = _app()
    at.chat_input[0].set_value("Wie lange dauert die Lieferung nach Berlin?").run()
    at.text_area[0].set_value("Zwei bis drei Werktage.").run()
    _button(at, "Send").click().run()
    assert not at.exception, at.exception
    assert _agent_messages(at) == ["Zwei bis drei Werktage."]
    captions = [c.value for c in at.caption]
    assert "Ein Kollege hat geantwortet" in captions and "A colleague replied" not in captions


def test_a_message_sent_while_the_first_is_answered_joins_its_conversation(bot_home: Path) -> None:
    """A second message sent while the first was answered stopped that run after it asked and
    before it kept the conversation: the second began another one, and the first question's
    ticket was where the customer could not follow. The id is now chosen before asking."""
    from apps.support_bot.service import SupportService

    at = _app()
    at.chat_input[0].set_value("   ").run()  # refused: no conversation begins, the id waits
    pending = at.session_state["support_new_conversation"]
    assert "support_conversation" not in at.session_state or not at.session_state["support_conversation"]
    SupportService().ask("How long are gift cards valid?", pending)  # the stopped run's question, stored
    at.chat_input[0].set_value("and can I pay with PayPal?").run()
    assert not at.exception, at.exception
    assert at.session_state["support_conversation"] == pending == at.query_params["c"]
    assert [m["text"] for m in at.session_state["support_messages"] if m["role"] == "user"] == \
        ["How long are gift cards valid?", "and can I pay with PayPal?"]  # rebuilt from the record


def test_reply_sent_elsewhere_appears_when_the_chat_reruns(bot_home: Path) -> None:
    from apps.support_bot.service import SupportService

    at = _app()
    at.chat_input[0].set_value("who won the football match yesterday?").run()
    ticket = at.session_state["support_messages"][-1]["ticket_id"]
    SupportService().agents.reply(ticket, "Write to returns@shop.example today.")  # another agent
    at.run()
    assert not at.exception, at.exception
    assert _agent_messages(at) == ["Write to returns@shop.example today."]  # the shop's words, as written
    SupportService().agents.release(ticket)
    at.run()
    assert not at.exception, at.exception
    assert any(RELEASED_TEXTS["English"] in m.value for m in at.markdown)  # the chat says the bot has it again
    assert not any("A colleague has this conversation" in c.value for c in at.caption)


def test_empty_or_stale_reply_is_refused_in_words(bot_home: Path) -> None:
    at = _app()
    at.chat_input[0].set_value("who won the football match yesterday?").run()
    _button(at, "Send").click().run()
    assert not at.exception, at.exception
    assert any("is empty: write some text first" in e.value for e in at.error)
    assert not _agent_messages(at)


def test_new_conversation_after_a_handoff(bot_home: Path) -> None:
    at = _app()
    at.chat_input[0].set_value("who won the football match yesterday?").run()
    _button(at, "New conversation").click().run()
    assert not at.exception, at.exception
    assert "support_conversation" not in at.session_state
    assert [m.name for m in at.chat_message] == ["assistant"]  # only the greeting of a new chat
    at.chat_input[0].set_value("How long are gift cards valid?").run()
    assert "3 years" in at.session_state["support_messages"][-1]["text"]  # not "a colleague has…"


def _tabs_slot(at: AppTest) -> int:
    """Where the tabs sit on the page: a tab block that moves is a new one, opened on its first tab."""
    return next(i for i, node in at.main.children.items() if node.type == "tab_container")


def test_a_gap_in_another_language_is_not_offered_for_teaching(bot_home: Path) -> None:
    at = _app()
    at.chat_input[0].set_value("Wie kann ich meine Bestellung stornieren?").run()
    row = _gaps_table(at).iloc[0]
    assert row["taught as"] == "(not taught: German)"
    assert not at.get("selectbox") or "teach-turn" not in [b.key for b in at.selectbox]
    assert ("1 question in another language than the knowledge base's cannot be taught: the intent model "
            "would learn words the bot never reads.") in [c.value for c in at.caption]


def test_gaps_are_described_in_words(bot_home: Path) -> None:
    from apps.support_bot.service import SupportService

    SupportService().ask("is it going to rain tomorrow?")  # another customer's gap
    at = _app()
    at.chat_input[0].set_value("who won the football match yesterday?").run()
    row = _gaps_table(at).iloc[0]
    assert (row["what happened"], row["feedback"]) == ("handed off", "no vote")
    assert _button(at, "Teach").disabled  # no intent preselected for a careless click
    taught = int(row["turn"])
    at.selectbox(key="teach-turn").set_value(taught)
    at.selectbox(key="teach-intent").set_value("oos").run()
    _button(at, "Teach").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success][0].startswith(
        "Taught as oos: the same question is answered so from now on, and 1 lesson(s) wait for the next retrain")
    assert _gaps_table(at).iloc[0]["taught as"] == "oos"  # the table says so at once
    assert at.selectbox(key="teach-intent").value is None  # the next question is judged afresh
    assert at.selectbox(key="teach-turn").value != taught  # ... and the picker is on the one not taught yet
    assert _button(at, "Forget it").disabled  # no lesson preselected either
    at.selectbox(key="unteach-turn").set_value(int(_gaps_table(at).iloc[0]["turn"])).run()
    _button(at, "Forget it").click().run()  # taken back before the next retrain
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [
        "Forgot 'who won the football match yesterday?' → oos: the next retrain leaves it out."]
    assert _gaps_table(at).iloc[0]["taught as"] == ""
    assert not [b for b in at.button if b.label == "Forget it"]  # no lessons left to list


def test_upload_reports_in_words_and_names_the_uploaded_file(bot_home: Path) -> None:
    at = _app()
    good = ("kb_small.md", b"# Bike bells\n\nEvery bike we sell comes with a free bell fitted.\n", "text/markdown")
    at.get("file_uploader")[0].set_value([good]).run()
    _button(at, "Add to knowledge base").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["kb_small.md: 1 document added, 1 chunk indexed"]
    faq = ("faq_upload.csv", b"question,answer\nDo you rent kayaks?,No.\nIs there insurance?,Yes.\n", "text/csv")
    other = ("faq_upload.csv", b"question,answer\nDo you sell roller skates?,No.\n", "text/csv")
    for upload in (faq, other):  # another file of the same name: uploads are kept by file name
        at.get("file_uploader")[0].set_value([upload]).run()
        _button(at, "Add to knowledge base").click().run()
    assert any(w.value.startswith("faq_upload.csv replaced the earlier upload of that name: the 2 document(s)")
               for w in at.warning)

    bad = ("kb_bad.csv", b"foo,bar\n1,2\n", "text/csv")
    at.get("file_uploader")[0].set_value([bad]).run()
    _button(at, "Add to knowledge base").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert errors and errors[0].startswith("kb_bad.csv: ") and "uploads" not in errors[0]


def test_admin_removes_documents_and_says_what_went(bot_home: Path) -> None:
    from apps.support_bot.service import SupportService

    at = _app()
    template = "faq-what-are-your-store-opening-hours"
    at.multiselect(key="kb-remove").set_value([template, "guides/gift-cards"]).run()
    _button(at, "Remove").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success][0].startswith("Removed 2 documents (")
    assert any(w.value.startswith("The answer template of store_hours is no longer in the knowledge base")
               for w in at.warning)
    assert at.multiselect(key="kb-remove").value == []
    ids = {d["id"] for d in SupportService().kb_list()}
    assert template not in ids and "guides/gift-cards" not in ids
    templates = [d.value for d in at.get("dataframe") if "in the knowledge base" in d.value.columns][0]
    assert templates.set_index("intent").loc["store_hours", "in the knowledge base"] == "no: removed"


def test_intent_card_and_kb_table_render(bot_home: Path) -> None:
    at = _app()
    assert any("support-intents" in m.value for m in at.markdown)
    assert any("documents" in c.value for c in at.caption)
    [decides] = [d.value for d in at.dataframe if "setting" in getattr(d.value, "columns", [])]
    assert {"intent confidence", "answer floor", "reranker"} <= set(decides["setting"])
    assert all(v.count(".") <= 1 and len(v) <= 9 for v in decides["value"]), "rounded, in words"
    assert any("in scope accuracy" == m.label for m in at.metric)


@pytest.mark.usefixtures("empty_home")
def test_empty_home_explains_what_to_do() -> None:
    at = _app()
    assert any("knowledge base is empty" in i.value for i in at.info)
    assert any("No intent model yet" in i.value for i in at.info)


def test_a_failed_reindex_is_one_error(empty_home: Path, monkeypatch) -> None:
    from apps.support_bot.service import SupportService
    from shared.errors import ModelNotFoundError

    def missing(self) -> int:  # what a home whose retriever model was deleted raises
        raise ModelNotFoundError("no model 'support-retriever' in the registry")

    monkeypatch.setattr(SupportService, "reindex", missing)
    at = _app()
    next(b for b in at.button if b.label == "Re-index everything").click().run()
    assert not at.exception, at.exception
    assert any("support-retriever" in e.value for e in at.error)


def test_a_database_that_cannot_be_opened_is_one_error(empty_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("VERTICALS_DB_URL", f"sqlite:///{empty_home}/no_such_dir/verticals.db")
    at = AppTest.from_file(SCRIPT, default_timeout=120).run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] and "cannot open the SQLite database" in at.error[0].value


def test_customer_text_is_shown_as_typed(bot_home: Path) -> None:
    at = _app()
    question = "who won the football match yesterday? ![x](http://evil.example/p.png)"
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    shown = [t.value for t in at.text]
    assert shown.count(question) == 3  # in the chat, the agents' queue and its transcript
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


def test_knowledge_base_markdown_loads_nothing_and_links_show_their_address(bot_home: Path,
                                                                           tmp_path: Path) -> None:
    """A KB file's images would load from their address for every reader, and a link's words
    can hide where it goes: both show as words with the address after them."""
    import re

    from apps.support_bot.service import SupportService

    evil = "http://evil.example"
    doc = tmp_path / "saddle.jsonl"
    doc.write_text(json.dumps({
        "id": "kb-saddle` ![d](http://evil.example/d.png) `", "title": f"Saddle care ![t]({evil}/t.png)",
        "url": f"http://x.example/)![u]({evil}/u.png",  # one word: a web address to the KB's check
        "text": f"Clean the Quokka leather saddle with saddle soap. ![pix]({evil}/p.png) "
                f"[Book a service]({evil}/login) or see [the guide][g].\n\n[g]: {evil}/g.png"}))
    SupportService().kb_add(doc)
    at = _app()
    at.chat_input[0].set_value("How do I clean the Quokka leather saddle?").run()
    assert not at.exception, at.exception
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.label for e in at.expander]
    assert any("Clean the Quokka leather saddle" in s for s in shown)
    for text in shown:
        assert not re.search(r"(?<!\\)!\[", text), text  # no image syntax left
        assert f"]({evil}" not in text, text  # no link whose words hide the address
    assert any(f"Book a service ({evil}/login)" in s.replace("\\", "") for s in shown)


def test_open_hand_offs_are_drawn_a_page_at_a_time(bot_home: Path) -> None:
    from apps.support_bot.desk import HANDOFF_PAGE
    from apps.support_bot.store import SupportStore

    store = SupportStore()
    for n in range(HANDOFF_PAGE + 5):
        cid, _ = store.open_conversation()
        store.open_ticket(cid, f"question number {n}", "out of scope")
    at = _app()
    assert len([b for b in at.button if b.label == "Release"]) == HANDOFF_PAGE
    assert "question number 0" in [t.value for t in at.text]
    at.number_input(key="handoff-page").set_value(2).run()
    assert not at.exception, at.exception
    assert len([b for b in at.button if b.label == "Release"]) == 5
    assert "question number 24" in [t.value for t in at.text]
    assert any(f"21–25 of {HANDOFF_PAGE + 5} shown" in c.value for c in at.caption)
    for ticket in store.tickets()[:HANDOFF_PAGE]:  # agents closed most of them elsewhere
        store.release(ticket.id)
    at.run()
    assert not at.exception, at.exception
    assert len([b for b in at.button if b.label == "Release"]) == 5


def test_a_wait_reads_as_agents_count_it() -> None:
    from datetime import UTC, datetime

    from apps.support_bot.desk import waited

    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert [waited(stamp, now) for stamp in ("2026-12-06T11:59:30+00:00", "2026-12-06T11:53:00+00:00",
                                             "2026-12-05T09:00:00+00:00", "2026-12-01T12:00:00+00:00")] == \
        ["just now", "7 min", "27 h 0 min", "5 days"]
