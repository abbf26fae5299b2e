"""The support dashboard's chat, the customers' side (the agents' is :mod:`.desk`): the
conversation with its citations and thumbs, the welcome with example questions, a chat kept at
its ``?c=`` address and rebuilt from the record, the agents' replies slotted in. With
``--chat-only`` (:func:`chat_only`) it is the whole page customers get."""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import replace
from urllib.parse import quote, urlsplit

import streamlit as st

from apps.support_bot.answer import Answer, Citation
from apps.support_bot.desk import KIND_WORDS
from apps.support_bot.handoff import was_judged
from apps.support_bot.other_languages import replied_label, written_in
from apps.support_bot.service import BotSettings, SupportService, serving_stamp
from apps.support_bot.store import VOTED_KINDS
from shared import get_settings
from shared.errors import VerticalsError
from shared.ui import markdown_text

SAFE_IN_LINK = ":/?#@$&'*+,;=%~-._"  # kept as they are in a link's address; the rest is percent-encoded
REPLY_POLL_S = 5  # how often a handed-off chat looks for an agent's reply
STAFF_KINDS = ("agent", "released")  # turns the support team's actions store: no question of the customer's


def chat_only() -> bool:
    """Whether this is the customers' page (`support dashboard --chat-only`): the chat alone,
    without what only staff read."""
    return os.environ.get("VERTICALS_SUPPORT_CHAT_ONLY") == "1"


def source_link(url: str) -> str:
    """A document's address as Markdown: a link for http(s) addresses, whose ``(``, ``)`` and
    spaces are percent-encoded so the address cannot close the link and add its own Markdown;
    anything else as plain text."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return markdown_text(url)
    return f"[{markdown_text(url)}]({quote(url, safe=SAFE_IN_LINK)})"


def show_answer(message: dict, service: SupportService) -> None:
    """An assistant message: text, citations with their quotes, confidence, thumbs. The
    customers' page (``--chat-only``) leaves out what only staff read: kinds, confidence, chunks."""
    st.markdown(markdown_text(message["text"], keep_formatting=True))
    for c in message.get("citations", []):
        link = f" — {source_link(c['url'])}" if c.get("url") else ""
        with st.expander(f"[{c['n']}] {markdown_text(c['title'], keep_formatting=True)}"):
            if chat_only():
                if link:
                    st.caption(link.removeprefix(" — "))
            else:
                st.caption(f"source {markdown_text(c['doc_id'])} · chunk {c['chunk_id']}{link}")
            st.markdown(f"> {markdown_text(c['quote'], keep_formatting=True)}")
    if message.get("notice"):
        st.warning(message["notice"])
    turn = message.get("turn_id")
    votable = bool(turn) and message["kind"] in VOTED_KINDS
    if chat_only():
        if votable:
            vote_buttons(service, turn, message.get("feedback"))
        return
    judged = message["kind"] in ("template", "grounded", "handoff") and was_judged(message.get("reason") or "")
    # a request for a person, a complaint, a message no model read, a greeting or a wait: no confidence
    st.caption(KIND_WORDS.get(message["kind"], message["kind"])
               + (f" · confidence {message['confidence']:.2f}" if judged else ""))
    if votable:
        vote_buttons(service, turn, message.get("feedback"))


def vote_buttons(service: SupportService, turn: int, stored: int | None) -> None:
    """Thumbs (Material icons, not emoji: Chromium without emoji fonts drew empty boxes); one
    vote at a time, shown once cast, and taken back by clicking it again."""
    key = f"vote-{turn}"
    if key not in st.session_state and stored is not None:
        st.session_state[key] = 1 if stored > 0 else 0  # st.feedback: 0 = down, 1 = up
    st.feedback("thumbs", key=key, on_change=_vote, args=(service, turn, key))
    vote = st.session_state.get(key)
    if vote == 1:
        st.caption("You found this helpful — thanks for the feedback.")
    elif vote == 0:
        st.caption("You found this unhelpful — thanks: we use it to improve our answers." if chat_only() else
                   "You found this unhelpful — the question goes on the gaps list.")


def _vote(service: SupportService, turn: int, key: str) -> None:
    vote = st.session_state[key]
    if vote is None:
        service.unvote(turn)
    else:
        service.feedback(turn, vote == 1)


def with_agent_replies(messages: list[dict], turns: list) -> list[dict]:
    """The chat's messages with the agents' stored replies and releases (``STAFF_KINDS``) slotted
    in by turn id (a reply comes after the turns stored before it); the vote stored for a turn
    rides along as ``feedback``:
    messages of turns 1 and 3 + stored agent turn 2 -> user 1, bot 1, agent 2, user 3, bot 3.
    """
    replies = [{"role": "agent", "text": t.answer, "turn_id": t.id} if t.kind == "agent" else
               {"role": "assistant", "text": t.answer, "kind": t.kind, "turn_id": t.id, "confidence": 1.0}
               for t in turns if t.kind in STAFF_KINDS]
    votes = {t.id: t.feedback for t in turns}
    merged: list[dict] = []
    for message in messages:
        turn = message.get("turn_id")
        while turn is not None and replies and replies[0]["turn_id"] < turn:
            merged.append(replies.pop(0))
        merged.append({**message, "feedback": votes.get(turn)} if turn in votes else message)
    return merged + replies


def conversation(service: SupportService, cid: str | None, waiting: bool = False) -> None:
    """The chat so far; re-read from the store (on a timer while a colleague has it, ``waiting``)
    so an agent's reply, or the release, shows up without the customer doing anything."""
    turns = service.conversation(cid) if cid else []
    label = None  # above a colleague's reply, in the customer's language
    for message in with_agent_replies(st.session_state["support_messages"], turns):
        if message["role"] == "agent":
            label = label or replied_label(written_in(turns), service.agents.kb_language())
            with st.chat_message("agent", avatar=":material/support_agent:"):
                st.caption(label)
                st.markdown(markdown_text(message["text"], keep_formatting=True))
            continue
        with st.chat_message(message["role"]):
            if message["role"] == "user":
                st.text(message["text"])  # what a user typed is never rendered as Markdown
            else:
                show_answer(message, service)
    if cid and service.conversation_status(cid) == "handed_off":
        st.caption("A colleague has this conversation: their reply appears here by itself, and this page's "
                   "address brings you back to it.")  # what else to do meanwhile: below, by the input
    elif waiting:  # released since the page was drawn: redrawn whole, it stops polling and the waiting lines go
        st.rerun()


def restored(service: SupportService, cid: str) -> list[dict]:
    """The chat's messages rebuilt from the record, for a page opened on its ``?c=`` address (a
    reload, or a customer back for an agent's reply): stored masked, and citing whole chunks (a
    template, its whole FAQ).

    subtle: the chat lived in the browser session only; a reload while waiting for a colleague
    lost the conversation, and with it the reply."""
    turns = [t for t in service.conversation(cid) if t.kind not in STAFF_KINDS]  # with_agent_replies adds them
    chunks = {c.chunk_id: c for c in service.chunks({i for t in turns for i in t.sources})}
    tickets = service.tickets(cid)
    messages = []
    for t in turns:
        if t.question:
            messages.append({"role": "user", "text": t.question, "turn_id": t.id})
        # [n] as the answer's text numbers it: a chunk removed since leaves its number out, not shifted
        cited = [(n, chunks[i]) for n, i in enumerate(t.sources, 1) if i in chunks]
        if t.kind == "template" and cited and "[2]" not in t.answer:  # its one citation quotes it all: the answer
            cited = [(1, replace(cited[0][1], text=t.answer.removesuffix(" [1]")))]  # (older turns cited each chunk)
        # a hand-off's reason is its ticket's (the ticket for that question opened at or before its turn)
        reason = next((k.reason for k in reversed(tickets) if k.question == t.question and k.created <= t.created),
                      None) if t.kind == "handoff" else None
        messages.append({"role": "assistant", "text": t.answer, "kind": t.kind, "confidence": t.confidence,
                         "intent": t.intent, "turn_id": t.id, "reason": reason,
                         "citations": [
                             vars(Citation(n, c.chunk_id, c.doc_id, c.title, c.url, c.text)) for n, c in cited]})
    return messages


@st.cache_data(max_entries=4, show_spinner=False)
def example_questions(_service: SupportService, stamp: tuple, n: int = 4) -> list[str]:
    """Questions to start with: the FAQs the intent model answers with, else any FAQs (read
    once per ``stamp``: another KB or model, other examples)."""
    faqs = [d for d in _service.kb_list() if d["kind"] == "faq"]
    linked = set(BotSettings.from_card(_service.intent_card() or {}).templates.values())
    return [d["title"] for d in sorted(faqs, key=lambda d: d["id"] not in linked)][:n]


def welcome(examples: list[str]) -> str | None:
    """The bot's first message, before anything is asked, with example questions to click;
    returns the one clicked. subtle: a first-time customer met an empty page and a text box."""
    with st.chat_message("assistant"):
        st.markdown("Hello! I answer from the shop's help pages and show the sources I quote. When I'm "
                    "not sure, I pass you to a colleague.")
        if examples:
            st.caption("For example:")
        picked = [st.button(q, key=f"example-{i}") for i, q in enumerate(examples)]
    return next((q for q, clicked in zip(examples, picked, strict=True) if clicked), None)


def chat(service: SupportService) -> None:
    state = st.session_state
    state.setdefault("support_messages", [])
    state.setdefault("support_asking", threading.Lock())  # one question of this chat at a time: see below
    if not service.kb_count():  # every rerun: a count, not the whole KB listed
        st.info("The help pages are not loaded yet: please try again later." if chat_only() else
                "The knowledge base is empty: run `verticals support demo` or upload files in the Admin tab.")
    linked = st.query_params.get("c")
    if "support_conversation" not in state and linked and service.has_conversation(linked):
        state["support_conversation"], state["support_messages"] = linked, restored(service, linked)
    cid = state.get("support_conversation")
    if cid and st.button("New conversation", icon=":material/add_comment:"):
        state.pop("support_conversation")
        state.pop("support_new_conversation", None)
        state["support_messages"] = []
        st.query_params.pop("c", None)
        st.rerun()
    waiting = bool(cid) and service.conversation_status(cid) == "handed_off"
    picked = None
    if not cid and not state["support_messages"] and service.kb_count():
        picked = welcome(example_questions(service, (str(get_settings().home), *serving_stamp())))
    st.fragment(conversation, run_every=REPLY_POLL_S if waiting else None)(service, cid, waiting)
    if waiting:  # the bot stays quiet here until a colleague releases it
        st.caption("Something else to ask meanwhile? Press New conversation.")
    question = st.chat_input("Ask about orders, delivery, returns…") or picked
    if not question:
        return
    if question.strip():  # theirs, shown while the bot works (a blank one: only the refusal is shown)
        with st.chat_message("user"):
            st.text(question)
    # subtle: a message sent while the one before is answered starts a run beside that one, which
    # stops at its next page call: the second had begun another conversation, and on a cold server
    # the first question was lost or shown after the second. It waits for the first to be answered
    # and kept, and asks in the same conversation (its id chosen before the first answer).
    try:
        with st.spinner("Looking it up…"), state["support_asking"]:  # the first question loads the models
            asking = state.get("support_conversation") or \
                state.setdefault("support_new_conversation", uuid.uuid4().hex)
            answer = service.ask(question, asking)
            keep_answer(service, question, answer)  # no page call in between: nothing stops the run here
    except VerticalsError as err:
        st.error(str(err))
        return
    if answer.turn_id is not None:  # the address leads back to the chat after a reload
        st.query_params["c"] = answer.conversation_id
    st.rerun()


def keep_answer(service: SupportService, question: str, answer: Answer) -> None:
    """The question and its answer added to the chat's messages; once one is stored, the chat is
    its conversation's. Where the record holds more of it than the chat shows (another tab of
    the same conversation), the chat is rebuilt from the record."""
    state = st.session_state
    asked = [{"role": "user", "text": question, "turn_id": answer.turn_id}] if question.strip() else []
    state["support_messages"] += asked + [{"role": "assistant", **answer.to_dict()}]
    if answer.turn_id is None:  # refused: nothing stored, no conversation begun
        return
    state["support_conversation"] = answer.conversation_id
    state.pop("support_new_conversation", None)
    stored = [t for t in service.conversation(answer.conversation_id) if t.kind not in STAFF_KINDS]
    if len(stored) > sum(m["role"] == "assistant" and m.get("turn_id") is not None for m in state["support_messages"]):
        state["support_messages"] = restored(service, answer.conversation_id)
