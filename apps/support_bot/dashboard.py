"""Support bot dashboard: chat with citations, feedback, KB admin, hand-off queue, gaps and the
intent model's card. Runs alone (``verticals support dashboard``) or as a page of the suite."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from apps.support_bot.chat import chat, chat_only
from apps.support_bot.desk import QUEUE_POLL_S, gaps, handoffs
from apps.support_bot.knowledge import KB_SUFFIXES
from apps.support_bot.service import SupportService, serving_stamp, unlinked_note
from apps.support_bot.ticket_queue import open_tickets_line
from shared import atomic_write_bytes, get_settings
from shared.errors import VerticalsError
from shared.output import count_of
from shared.ui import page_title, show_model_card


@st.cache_resource(show_spinner="Loading the support bot…", max_entries=1)
def get_service(home: str, stamp: tuple) -> SupportService:
    """One warm service (models and index load once); ``stamp`` (:func:`serving_stamp`) makes
    a CLI ``train`` or ``kb add/remove`` load a fresh one on the next rerun."""
    return SupportService()


def describe_kb_change(name: str, result: dict) -> str:
    """What adding a file did, in words:

    >>> describe_kb_change("kb_small.md", {"added": 1, "updated": 0, "unchanged": 0, "removed": 0,
    ...                                    "chunks_indexed": 1, "chunks_removed": 0})
    'kb_small.md: 1 document added, 1 chunk indexed'
    """
    docs = [f"{count_of(result.get(key, 0), 'document')} {key}" for key in ("added", "updated", "removed")
            if result.get(key)]
    if not docs:
        return f"{name}: nothing new ({count_of(result.get('unchanged', 0), 'document')} already up to date)"
    if result.get("unchanged"):
        docs.append(f"{count_of(result['unchanged'], 'document')} unchanged")
    chunks = [f"{count_of(result.get(key, 0), 'chunk')} {word}" for key, word in
              (("chunks_indexed", "indexed"), ("chunks_removed", "removed from the index")) if result.get(key)]
    return f"{name}: " + ", ".join(docs + chunks)


def _without_server_paths(message: str, path: Path, name: str) -> str:
    """An error about an upload names the file the user picked, not where the server keeps it."""
    for shown in (str(path.resolve()), str(path)):
        message = message.replace(shown, name)
    for folder in (str(path.parent.resolve()), str(path.parent)):
        message = message.replace(folder + "/", "")
    return message


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
                result = service.kb_add(path)
            except VerticalsError as err:  # a bad file is refused and the earlier one kept
                if before is None:
                    path.unlink()
                else:
                    atomic_write_bytes(path, before)
                st.error(_without_server_paths(str(err), path, path.name))
                continue
            st.success(describe_kb_change(path.name, result))
            if before is not None and result["removed"]:  # uploads are kept by file name
                st.warning(f"{path.name} replaced the earlier upload of that name: the {result['removed']} "
                           "document(s) it held and this file lacks are gone. Give a different file its own name.")
            if taken := result.get("replaced_from_other_files"):
                st.warning(f"{path.name} replaced documents first added from another file: " + ", ".join(
                    f"{doc} (from {Path(source).name})" for doc, source in taken.items()))
            for kind, text in kb_notes(result):
                getattr(st, kind)(text)
    if st.button("Re-index everything"):
        with st.spinner("Re-embedding all chunks…"):
            try:
                st.success(f"Re-indexed {service.reindex()} chunks")
            except VerticalsError as err:  # e.g. no retriever model trained yet
                st.error(str(err))
    if flash := st.session_state.pop("support_kb_flash", None):
        for kind, text in flash:
            getattr(st, kind)(text)
    docs = service.kb_list()
    st.caption(f"{len(docs)} documents, {sum(d['chunks'] for d in docs)} chunks")
    if docs:
        st.dataframe(pd.DataFrame(docs), hide_index=True)
        columns = st.columns([3, 1], vertical_alignment="bottom")
        gone = columns[0].multiselect("Remove documents", [d["id"] for d in docs], key="kb-remove",
                                      placeholder="Pick document ids")
        columns[1].button("Remove", key="kb-remove-button", disabled=not gone, on_click=_remove,
                          args=(service, gone))


def kb_notes(result: dict) -> list[tuple[str, str]]:
    """What a ``kb_add`` / ``kb_remove`` result asks of the admin, as ``(st method, sentence)``:
    templates it took away (a warning), a knowledge base changed enough to train again (info)."""
    notes = [("warning", unlinked_note(unlinked))] if (unlinked := result.get("templates_unlinked")) else []
    notes += [("info", drift)] if (drift := result.get("retrain_note")) else []
    return [(kind, text[0].upper() + text[1:] + ".") for kind, text in notes]


def _remove(service: SupportService, doc_ids: list[str]) -> None:
    """Button callback: remove the picked documents and their vectors, and say what it did."""
    try:
        result = service.kb_remove(doc_ids)
    except VerticalsError as err:
        st.session_state["support_kb_flash"] = [("error", str(err))]
        return
    st.session_state["kb-remove"] = []
    flash = [("success", f"Removed {count_of(len(doc_ids), 'document')} "
                         f"({count_of(result['removed_chunks'], 'chunk')} taken out of the index)")]
    st.session_state["support_kb_flash"] = flash + kb_notes(result)


def model(service: SupportService) -> None:
    card = service.intent_card()
    if card is None:
        st.info("No intent model yet: run `verticals support train --intents FILE` or the demo.")
        return
    show_model_card(card)
    st.subheader("How the bot decides")
    st.dataframe(pd.DataFrame(decision_rows(card)), hide_index=True, width="stretch")
    if held := card.get("calibration"):
        st.caption("On the calibration split of the intents file (held out from training):")
        tiles = st.columns(len(held))
        for tile, (key, value) in zip(tiles, held.items(), strict=True):
            tile.metric(key.replace("_", " "), f"{value:.3f}" if isinstance(value, float) else value)
    if templates := card.get("bot", {}).get("templates"):
        st.caption("Each intent's answer template: the FAQ it was linked to. A template no longer in the "
                   "knowledge base is answered by search until the bot is trained again.")
        in_kb = {d["id"] for d in service.kb_list()}
        st.dataframe(pd.DataFrame({"intent": list(templates), "answers with": list(templates.values()),
                                   "in the knowledge base": ["yes" if doc in in_kb else "no: removed"
                                                             for doc in templates.values()]}),
                     hide_index=True)
    with st.expander("The whole calibration record (JSON)"):
        st.json({"thresholds": card.get("thresholds"), "calibration": held, "bot": card.get("bot"),
                 "retrieval": card.get("retrieval_calibration"), "trained_on": card.get("trained_on")},
                expanded=False)


def decision_rows(card: dict) -> list[dict]:
    """The calibrated settings in words, as the bot applies them, for the Intent model tab."""
    thresholds, bot = card.get("thresholds", {}), card.get("bot", {})
    retrieval = card.get("retrieval_calibration", {})
    rows = [("intent confidence", thresholds.get("confidence"),
             "an intent answers with its template at or above this probability"),
            ("intent margin", thresholds.get("margin"),
             "... and this far ahead of the next intent; closer, the bot counts itself unsure"),
            ("answer floor", bot.get("threshold"),
             "a passage is quoted only at or above this cosine with the question; below it, a hand-off"),
            ("template margin", bot.get("template_margin"),
             "a template gives way to another document this much closer to the question"),
            ("BM25 weight", bot.get("alpha"), "keyword search's share beside the dense one"),
            ("reranker", "used" if bot.get("use_reranker") else "not used",
             f"held-out MRR@10 hybrid {retrieval.get('mrr_hybrid', float('nan')):.3f}, reranked "
             f"{retrieval.get('mrr_reranked', float('nan')):.3f}" if "mrr_hybrid" in retrieval else "")]
    return [{"setting": name, "value": f"{value:.3f}" if isinstance(value, float) else str(value),
             "meaning": meaning} for name, value, meaning in rows if value is not None]


def handoff_line(service: SupportService) -> None:
    """The open hand-offs above the tabs, counted again every ``QUEUE_POLL_S`` seconds on its own.

    subtle: not in the tab's label: a label that changes is a new tab, and the page jumped to
    Chat; and always a line: one coming or going moved the tabs, which reopened on Chat. Drawn
    with the page only, it still said "8 open hand-offs" after the queue had told of a 9th."""
    line = open_tickets_line(service.store.engine)  # the tab's own count: answered ones wait for the customer
    st.caption(f"{line}: the Hand-offs tab" if line else "No open hand-offs: the bot answers every chat.")


page_title("Support bot")
try:
    service = get_service(str(get_settings().home), serving_stamp())
except VerticalsError as err:  # e.g. a database that cannot be opened
    st.error(str(err))
    st.stop()
if chat_only():  # the page customers get: no admin, agents' or model tabs
    chat(service)
    st.stop()
st.fragment(handoff_line, run_every=QUEUE_POLL_S)(service)
tabs = st.tabs(["Chat", "Admin", "Hand-offs", "Gaps", "Intent model"])
for tab, page in zip(tabs, (chat, admin, handoffs, gaps, model), strict=True):
    with tab:
        page(service)
