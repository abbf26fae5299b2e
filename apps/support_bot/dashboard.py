"""Support bot dashboard: chat with citations, feedback, KB admin, hand-off queue, gaps and the
intent model's card. Runs alone (``verticals support dashboard``) or as a page of the suite."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from apps.support_bot.knowledge import KB_SUFFIXES
from apps.support_bot.service import SupportService, serving_stamp
from shared import atomic_write_bytes, get_settings
from shared.errors import VerticalsError
from shared.ui import show_model_card


@st.cache_resource(show_spinner="Loading the support bot…", max_entries=1)
def get_service(home: str, stamp: tuple) -> SupportService:
    """One warm service (models and index load once); ``stamp`` (:func:`serving_stamp`) makes
    a CLI ``train`` or ``kb add/remove`` load a fresh one on the next rerun."""
    return SupportService()


def kb_markdown(text: str) -> str:
    """KB text keeps its Markdown, but ``$`` and ``~`` stay literal: ``"$4.99 or $9.99"`` is
    prices, not LaTeX, and ``"3~5 days"`` no strike-through."""
    return text.replace("$", r"\$").replace("~", r"\~")


def show_answer(message: dict, service: SupportService) -> None:
    """An assistant message: text, citations with their quotes, confidence, thumbs."""
    st.markdown(kb_markdown(message["text"]))
    for c in message.get("citations", []):
        link = f" — [{c['url']}]({c['url']})" if c.get("url") else ""
        with st.expander(f"[{c['n']}] {kb_markdown(c['title'])}"):
            st.caption(f"source `{c['doc_id']}` · chunk {c['chunk_id']}{link}")
            st.markdown(f"> {kb_markdown(c['quote'])}")
    if message.get("notice"):
        st.warning(message["notice"])
    st.caption(f"{message['kind']} · confidence {message['confidence']:.2f}")
    turn = message.get("turn_id")
    if turn and message["kind"] in ("template", "grounded"):
        up, down, _ = st.columns([1, 1, 8])
        if up.button("👍", key=f"up-{turn}"):
            service.feedback(turn, True)
            st.toast("Thanks for the feedback")
        if down.button("👎", key=f"down-{turn}"):
            service.feedback(turn, False)
            st.toast("Noted — this question goes on the gaps list")


def chat(service: SupportService) -> None:
    state = st.session_state
    state.setdefault("support_messages", [])
    if not service.kb_list():
        st.info("The knowledge base is empty: run `verticals support demo` or upload files "
                "in the Admin tab.")
    for message in state["support_messages"]:
        with st.chat_message(message["role"]):
            if message["role"] == "user":
                st.text(message["text"])  # what a user typed is never rendered as Markdown
            else:
                show_answer(message, service)
    question = st.chat_input("Ask about orders, delivery, returns…")
    if not question:
        return
    try:
        answer = service.ask(question, state.get("support_conversation"))
    except VerticalsError as err:
        st.error(str(err))
        return
    state["support_conversation"] = answer.conversation_id
    state["support_messages"] += [{"role": "user", "text": question},
                                  {"role": "assistant", **answer.to_dict()}]
    st.rerun()


def admin(service: SupportService) -> None:
    files = st.file_uploader("Add KB files (FAQ CSV, KB CSV/JSONL, Markdown)",
                             type=[s.lstrip(".") for s in KB_SUFFIXES], accept_multiple_files=True)
    if files and st.button("Add to knowledge base"):
        # kept under the home: re-uploading an edited file replaces what it held before
        uploads = get_settings().home / "support" / "uploads"
        for f in files:
            path = uploads / Path(f.name).name
            before = path.read_bytes() if path.exists() else None
            atomic_write_bytes(path, f.getvalue())
            try:
                st.success(f"{path.name}: {service.kb_add(path)}")
            except VerticalsError as err:  # a bad file is refused and the earlier one kept
                if before is None:
                    path.unlink()
                else:
                    atomic_write_bytes(path, before)
                st.error(str(err))
    if st.button("Re-index everything"):
        with st.spinner("Re-embedding all chunks…"):
            st.success(f"Re-indexed {service.reindex()} chunks")
    docs = service.kb_list()
    st.caption(f"{len(docs)} documents, {sum(d['chunks'] for d in docs)} chunks")
    if docs:
        st.dataframe(pd.DataFrame(docs), hide_index=True)


def handoffs(service: SupportService) -> None:
    tickets = service.handoffs()
    if not tickets:
        st.info("No open hand-offs.")
        return
    for t in tickets:
        left, right = st.columns([5, 1])
        left.markdown(f"**#{t.id}** · `{t.conversation_id[:8]}` · {t.created}")
        # subtle: the customer's own words; as Markdown they could show the agent an image
        # fetched from anywhere or a disguised link
        left.text(t.question)
        if right.button("Release", key=f"release-{t.id}"):
            service.release(t.id)
            st.rerun()


def gaps(service: SupportService) -> None:
    rows = [{"question": t.question, "kind": t.kind, "feedback": t.feedback,
             "confidence": round(t.confidence, 3), "when": t.created} for t in service.gaps()]
    if not rows:
        st.info("No gaps yet: unanswered and down-voted questions show up here.")
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def model(service: SupportService) -> None:
    card = service.intent_card()
    if card is None:
        st.info("No intent model yet: run `verticals support train --intents FILE` or the demo.")
        return
    show_model_card(card)
    st.subheader("Calibration")
    st.json({"thresholds": card.get("thresholds"), "calibration": card.get("calibration"),
             "bot": card.get("bot"), "retrieval": card.get("retrieval_calibration")})


st.title("Support bot")
service = get_service(str(get_settings().home), serving_stamp())
tabs = st.tabs(["Chat", "Admin", "Hand-offs", "Gaps", "Intent model"])
for tab, page in zip(tabs, (chat, admin, handoffs, gaps, model), strict=True):
    with tab:
        page(service)
