"""The agents' side of the support dashboard: the hand-off queue (reply, release) and the gaps
(questions the bot could not answer or users down-voted) with the lessons taught from them."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from apps.support_bot.agents import MAX_REPLY_CHARS, waiting_note
from apps.support_bot.service import SupportService
from apps.support_bot.tables import when as _when
from shared.errors import VerticalsError, first_few
from shared.output import count_of
from shared.ui import markdown_text

HANDOFF_PAGE = 20  # open hand-offs drawn at a time
QUEUE_POLL_S = 10  # how often the Hand-offs tab looks for new (or closed) tickets
KIND_WORDS = {"template": "answered from a template", "grounded": "answered from the knowledge base",
              "handoff": "handed off", "unsure": "handed off", "waiting": "waiting for a colleague",
              "courtesy": "greeting or thanks", "agent": "answered by a colleague", "invalid": "not a question",
              "released": "after the release"}
VOTE_WORDS = {1: "thumbs up", -1: "thumbs down", None: "no vote"}


def handoffs(service: SupportService) -> None:
    if flash := st.session_state.pop("support_agent_flash", None):
        getattr(st, flash[0])(flash[1])
    tickets = service.agents.handoffs(guesses=False)
    waiting = sum(t.waiting_since is not None for t in tickets)
    st.fragment(queue_changes, run_every=QUEUE_POLL_S)(
        service, {t.id for t in tickets}, {t.id for t in tickets if t.waiting_since is not None})
    if not tickets:
        st.info("No open hand-offs.")
        return
    st.caption(f"{count_of(len(tickets), 'open hand-off')}: {waiting} waiting for a reply (the longest wait "
               f"first), {len(tickets) - waiting} answered, waiting for the customer.")
    for t in service.agents.guessed(handoff_page(tickets)):  # the page shown only: 1,000 open cost 0.4 s a rerun
        with st.container(border=True):
            guess = f"the bot's guess: {markdown_text(t.intent)}, " if t.intent else ""
            sure = f" · {guess}confidence {t.confidence:.2f}" if t.confidence is not None else ""
            turn = f"waiting for a reply since {_when(t.waiting_since)} ({waited(t.waiting_since)})" \
                if t.waiting_since else \
                f"answered {_when(t.replied)}: the customer's turn"
            st.markdown(f"**#{t.id}** · {turn} · opened {_when(t.created)} · {markdown_text(t.reason)}{sure}")
            if t.contact:  # unmasked for this ticket only: gone at its release
                st.markdown(f"Reach the customer at: {markdown_text(t.contact)}")
            st.caption(f"conversation {t.conversation_id}")
            # subtle: the customer's own words; as Markdown they could show the agent an image
            # fetched from anywhere or a disguised link
            st.text(t.question)
            show_turns(service.conversation(t.conversation_id))
            st.text_area("Reply to the customer", key=f"reply-{t.id}", max_chars=MAX_REPLY_CHARS,
                         placeholder="Appears in the customer's chat")
            send, both, release = st.columns(3)
            send.button("Send", key=f"send-{t.id}", on_click=_reply, args=(service, t.id, False))
            both.button("Send and release", key=f"send-release-{t.id}", on_click=_reply,
                        args=(service, t.id, True))
            release.button("Release", key=f"release-{t.id}", on_click=_release, args=(service, t.id))


def waited(stamp: str, now: datetime | None = None) -> str:
    """How long ago a stored ISO time was, as an agent reads a wait: ``"just now"``, ``"7 min"``,
    ``"2 h 5 min"``, ``"3 days"``.

    subtle: every ticket showed only "since 2026-12-06 00:02 UTC": to the minute, and all of them
    looked equally old.

    >>> waited("2026-12-06T00:02:00+00:00", datetime(2026, 12, 6, 2, 7, tzinfo=UTC))
    '2 h 5 min'
    """
    minutes = int(((now or datetime.now(UTC)) - datetime.fromisoformat(stamp)).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} days"


def queue_changes(service: SupportService, shown: set[int], waiting: set[int]) -> None:
    """Every ``QUEUE_POLL_S`` seconds, on its own (the tickets and the reply being typed stay as
    they are): which tickets came, went, or have their customer waiting again since the page
    showed ``shown`` (``waiting`` of them waiting for a reply), and a way to see them.

    subtle: it had said only "7 open hand-offs, 7 waiting for a reply (this page shows 7 and
    6)": the agent could not tell which customer had written again."""
    tickets = service.agents.handoffs(guesses=False)
    now = {t.id for t in tickets}
    again = {t.id for t in tickets if t.waiting_since is not None} - waiting - (now - shown)
    changes = [f"#{i} new" for i in sorted(now - shown)] + [f"#{i} closed" for i in sorted(shown - now)] + \
        [f"#{i}: the customer wrote again" for i in sorted(again)]
    if changes:
        st.info(f"The queue has changed: {first_few(changes, shown=5)}.")
        if st.button("Show the queue as it is now", key="queue-refresh"):
            st.rerun()


def handoff_page(tickets: list) -> list:
    """The tickets of the page the agent chose, ``HANDOFF_PAGE`` at a time, in the queue's order.

    subtle: each ticket draws its conversation, a reply box and three buttons; with 1,000 open
    every click took 12 s to redraw them all."""
    if len(tickets) <= HANDOFF_PAGE:
        return tickets
    pages = -(-len(tickets) // HANDOFF_PAGE)
    if st.session_state.get("handoff-page", 1) > pages:  # tickets were closed meanwhile
        st.session_state["handoff-page"] = pages
    page = st.number_input(f"Page, of {pages}", min_value=1, max_value=pages, key="handoff-page")
    start = (int(page) - 1) * HANDOFF_PAGE
    shown = tickets[start:start + HANDOFF_PAGE]
    st.caption(f"{start + 1}–{start + len(shown)} of {len(tickets)} shown")
    return shown


def show_turns(turns: list) -> None:
    """The conversation as the agent needs it, in an expander that scrolls to the newest turn.

    subtle: a fixed-height container scrolls itself only around ``st.chat_message`` elements;
    without ``autoscroll`` the box opened on the oldest turn."""
    waited = sum(t.kind == "waiting" for t in turns)
    label = f"Conversation · {count_of(len(turns), 'turn')}" + (f" · {waited} written while waiting" if waited else "")
    with st.expander(label, expanded=waited > 0), st.container(height=360 if len(turns) > 3 else "content",
                                                               autoscroll=True):
        for turn in turns:
            if turn.question:
                st.caption(f"Customer · {_when(turn.created)}")
                st.text(turn.question)
            who = "Agent" if turn.kind == "agent" else f"Bot ({KIND_WORDS.get(turn.kind, turn.kind)})"
            st.caption(f"{who} · {_when(turn.created)}")
            st.markdown(markdown_text(turn.answer, keep_formatting=True))


def _reply(service: SupportService, ticket_id: int, release: bool) -> None:
    """Button callback: runs before the page, so the reply box can be emptied after sending."""
    key = f"reply-{ticket_id}"
    try:
        left = service.agents.unanswered_of_ticket(ticket_id) if release else []
        service.agents.reply(ticket_id, st.session_state.get(key) or "", release)
    except VerticalsError as err:
        st.session_state["support_agent_flash"] = ("error", str(err))
        return
    st.session_state[key] = ""
    done = f"Replied to #{ticket_id}" + (" and released the conversation to the bot." if release else ".")
    if not left:
        st.session_state["support_agent_flash"] = ("success", done)
        return
    note = waiting_note(left, markdown_text)  # the customer's own words: escaped, never Markdown
    st.session_state["support_agent_flash"] = ("warning", f"{done} {note[0].upper()}{note[1:]}.")


def _release(service: SupportService, ticket_id: int) -> None:
    try:
        conversation_id = service.agents.release(ticket_id)
    except VerticalsError as err:
        st.session_state["support_agent_flash"] = ("error", str(err))
        return
    released = f"Released #{ticket_id}: the bot answers that conversation again."
    left = service.agents.unanswered(conversation_id)
    # the customer's own words: escaped, never Markdown (an image fetched from anywhere, a disguised link)
    st.session_state["support_agent_flash"] = ("warning", f"{released} No reply answered what the customer wrote "
                                               f"while waiting ({count_of(len(left), 'message')}; the last: "
                                               f"“{markdown_text(left[-1])}”), and the bot will not answer it: the "
                                               "customer's chat asks them to write it again.") \
        if left else ("success", released)


def gaps(service: SupportService) -> None:
    """The gaps table, the box that teaches one of them, and the lessons so far.

    subtle: Teach and Forget act in callbacks, before the page draws: acting where the button
    is drawn left the table above it saying "taught as" nothing."""
    for kind, text in st.session_state.pop("support_lesson_flash", []):
        getattr(st, kind)(text)
    found, taught = service.agents.gaps(), service.agents.lessons()
    taught_as = {lesson.turn_id: lesson.intent for lesson in taught}
    elsewhere = service.agents.other_language({t.id: t.question for t in found})
    # subtle: "how much per month?" was listed alone, and taught parking: a question with no subject
    # of its own shows the one it followed, and is not offered to teach (teach refuses it)
    leaning = service.agents.leaning(found)
    untaught = {t.id: f"(not taught: {elsewhere[t.id]})" for t in found if t.id in elsewhere} | {
        i: f"(not taught: follows “{before}”)" if before else "(not taught: no subject of its own)"
        for i, before in leaning.items()}
    rows = [{"turn": t.id, "question": t.question, "what happened": KIND_WORDS.get(t.kind, t.kind),
             "intent": t.intent or "", "feedback": VOTE_WORDS[t.feedback], "confidence": t.confidence,
             "when": _when(t.created), "taught as": taught_as.get(t.id, untaught.get(t.id, ""))}
            for t in found]
    if not rows:
        st.info("No gaps yet: unanswered and down-voted questions show up here.")
    else:
        # the chat and the hand-offs show confidence to 2 places: so does this table. subtle: a long
        # question took the table's width, and the intent column was cut off on a laptop screen;
        # then "when" and "taught as" were past the right edge at 1400 px, and Teach changed
        # nothing in sight: "taught as" comes after the question
        st.dataframe(pd.DataFrame(rows), hide_index=True,
                     column_order=["turn", "question", "taught as", "what happened", "feedback", "confidence",
                                   "intent", "when"],
                     column_config={"turn": st.column_config.NumberColumn(width="small"),
                                    "question": st.column_config.TextColumn(width="medium"),
                                    "confidence": st.column_config.NumberColumn(format="%.2f", width="small")})
        # subtle: one in another language was offered, then refused after the click
        # the untaught first: after a lesson the picker opens on the next one (it stayed on the
        # question just taught, and a second click taught it again)
        teach(service, {t.id: f"turn {t.id} · {_when(t.created)} · {t.question[:80]}"
                        for t in sorted(found, key=lambda t: t.id in taught_as) if t.id not in untaught})
        if elsewhere:
            st.caption(f"{count_of(len(elsewhere), 'question')} in another language than the knowledge base's "
                       "cannot be taught: the intent model would learn words the bot never reads.")
    lessons(service, taught)


def teach(service: SupportService, questions: dict[int, str]) -> None:
    """Label a gap's question with an intent: a lesson for the intent model's next retrain
    (`verticals support retrain`, or nightly with `support schedule`)."""
    intents = service.intents
    if intents is None or not questions:
        return
    st.subheader("Teach the intent model")
    columns = st.columns(2)
    turn = columns[0].selectbox("Question", list(questions), key="teach-turn", format_func=questions.get)
    # subtle: no label until one is picked; the first label, preselected, was taught by a careless click
    intent = columns[1].selectbox("Is", list(intents.labels), key="teach-intent", index=None,
                                  placeholder="Pick the right intent",
                                  help="oos: out of scope; knowledge_base: answered by search")
    st.button("Teach", key="teach-button", disabled=intent is None, on_click=_teach, args=(service, turn, intent))


def _teach(service: SupportService, turn_id: int, intent: str) -> None:
    try:
        lesson = service.agents.teach(int(turn_id), intent)
    except VerticalsError as err:  # it may quote the customer's question: never as Markdown
        st.session_state["support_lesson_flash"] = [("error", markdown_text(str(err)))]
        return
    st.session_state["teach-intent"] = None  # the next question is judged afresh
    st.session_state.pop("teach-turn", None)  # ... on the first untaught one
    was = f" (it was taught as {lesson['was']})" if lesson["was"] and lesson["was"] != lesson["intent"] else ""
    st.session_state["support_lesson_flash"] = [("success", (
        f"Taught as {lesson['intent']}{was}: the same question is answered so from now on, and "
        f"{lesson['lessons']} lesson(s) wait for the next retrain "
        "(`verticals support retrain`, or nightly with `verticals support schedule`).")), *(
        [("info", markdown_text(f"Asked again now, it is {lesson['now']}."))]
        if lesson.get("now", "").startswith("answered") else []),
        *([("warning", markdown_text(lesson["note"]))] if lesson.get("note") else [])]


def lessons(service: SupportService, taught: list) -> None:
    """The lessons taught so far, and a way to take one back before the next retrain."""
    if not taught:
        return
    st.subheader(f"Lessons for the next retrain ({len(taught)})")
    st.dataframe(pd.DataFrame([{"question": lesson.question, "taught as": lesson.intent,
                                "when": _when(lesson.created)} for lesson in taught]), hide_index=True)
    questions = {lesson.turn_id: f"turn {lesson.turn_id} · {lesson.question[:80]} → {lesson.intent}"
                 for lesson in taught}
    columns = st.columns([3, 1], vertical_alignment="bottom")
    turn = columns[0].selectbox("Lesson to forget", list(questions), key="unteach-turn", index=None,
                                format_func=questions.get, placeholder="Pick a lesson")
    columns[1].button("Forget it", key="unteach-button", disabled=turn is None, on_click=_unteach,
                      args=(service, turn))


def _unteach(service: SupportService, turn_id: int) -> None:
    try:
        lesson = service.agents.unteach(int(turn_id))
    except VerticalsError as err:  # e.g. forgotten in another tab meanwhile
        st.session_state["support_lesson_flash"] = [("error", str(err))]
        return
    st.session_state["unteach-turn"] = None
    # subtle: the customer's words; as Markdown an "![x](http://...)" fetched an image in the agent's browser
    st.session_state["support_lesson_flash"] = [(
        "success", f"Forgot {markdown_text(repr(lesson['question'][:80]))} → {lesson['was']}: the next retrain "
                   "leaves it out.")]
