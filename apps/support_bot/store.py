"""The support bot's SQL (:class:`SupportStore`), over its tables (:mod:`.tables`): the KB text,
conversations and turns, hand-off tickets, lessons; a KB change's writes are :mod:`.kb_changes`'s,
and what the agents' queue reads of the tickets :mod:`.ticket_queue`'s. Everything a user typed is
masked before it reaches a table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared import create_tables, make_engine, session_scope
from shared.errors import VerticalsError

from .kb_changes import drop_chunks, drop_gone, write_document
from .knowledge import Chunk, Document, chunk_document
from .masking import mask_payment, mask_pii
from .tables import (
    Base,
    ChunkRow,
    ContactRow,
    ConversationRow,
    DocumentRow,
    KbChange,
    Lesson,
    LessonRow,
    Ticket,
    TicketRow,
    Turn,
    TurnRow,
    utc_now,
)

MAX_CONTACTS = 10  # a ticket's kept contacts: enough to reach a customer, no store of everything they typed
TAUGHT_KINDS = ("template", "grounded", "handoff", "unsure")  # turns whose question the bot judged
VOTED_KINDS = ("template", "grounded")  # the bot's answers, which a customer votes on


def _conversation(s: Session, cid: str) -> ConversationRow:
    """The conversation's row in session ``s``, added when this is its first record."""
    row = s.get(ConversationRow, cid)
    if row is None:
        row = ConversationRow(id=cid, status="bot")
        s.add(row)
    return row


def _turn(row: TurnRow) -> Turn:
    return Turn(row.id, row.conversation_id, row.question, row.answer, row.kind, row.intent,
                row.confidence, json.loads(row.sources), row.feedback, row.created)


def _ticket(row: TicketRow) -> Ticket:
    return Ticket(row.id, row.conversation_id, row.question, row.reason, row.status, row.created)


def _open_ticket_of(s, cid: str) -> TicketRow | None:
    """Conversation ``cid``'s open ticket (the newest), if any."""
    return s.scalars(select(TicketRow).where(TicketRow.conversation_id == cid, TicketRow.status == "open")
                     .order_by(TicketRow.id.desc())).first()


def _keep_contacts(s, ticket_id: int, found: list[str]) -> None:
    """Add the contacts ``found`` to the ticket's, once each and ``MAX_CONTACTS`` at most."""
    if not found:
        return
    row = s.get(ContactRow, ticket_id) or ContactRow(ticket_id=ticket_id, contacts="")
    known = [c for c in row.contacts.split(" · ") if c]
    row.contacts = " · ".join(list(dict.fromkeys(known + found))[:MAX_CONTACTS])
    s.add(row)


class SupportStore:
    """All SQL the bot does. ``SupportStore()`` uses the settings' database."""

    def __init__(self, url: str | None = None, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine(url)
        create_tables(Base.metadata, self.engine)

    # -- knowledge base -------------------------------------------------------------------
    def upsert_documents(
        self, docs: Iterable[Document], chunker: Callable[[Document], list[Chunk]] = chunk_document,
        scope: str | Path | None = None,
    ) -> KbChange:
        """Insert new documents, replace the chunks of changed ones, skip unchanged ones.

        With ``scope`` (the file or folder the documents were read from), documents that came
        from it earlier and are no longer in it are deleted: a FAQ whose question was edited
        gets a new id, and its old version must not stay answerable.
        """
        change, docs = KbChange(), list(docs)
        with session_scope(self.engine) as s:
            if scope is not None:
                drop_gone(s, {d.doc_id for d in docs}, Path(scope).resolve(), change)
            for doc in docs:
                write_document(s, doc, chunker, change)
        return change

    def remove_documents(self, doc_ids: Iterable[str]) -> list[int]:
        """Delete documents and their chunks; returns the removed chunk ids."""
        removed: list[int] = []
        with session_scope(self.engine) as s:
            for doc_id in doc_ids:
                if s.get(DocumentRow, doc_id) is None:
                    raise VerticalsError(f"no document {doc_id!r} in the knowledge base "
                                         "— see `verticals support kb list`")
                removed += drop_chunks(s, doc_id)
                s.execute(delete(DocumentRow).where(DocumentRow.doc_id == doc_id))
        return removed

    def documents(self) -> list[dict]:
        """One dict per document with its chunk count, ordered by id."""
        with session_scope(self.engine) as s:
            counts = dict(s.execute(
                select(ChunkRow.doc_id, func.count()).group_by(ChunkRow.doc_id)).all())
            rows = s.scalars(select(DocumentRow).order_by(DocumentRow.doc_id)).all()
            return [{"id": r.doc_id, "title": r.title, "kind": r.kind, "url": r.url,
                     "chunks": counts.get(r.doc_id, 0), "hash": r.content_hash,
                     "updated": r.updated} for r in rows]

    def markdown_sources(self) -> dict[str, tuple[str, str, str]]:
        """``{doc_id: (source file, title, text)}`` of every Markdown document."""
        with session_scope(self.engine) as s:
            rows = s.execute(select(DocumentRow.doc_id, DocumentRow.source, DocumentRow.title, DocumentRow.text)
                             .where(DocumentRow.kind == "markdown")).all()
            return {doc_id: (source, title, text) for doc_id, source, title, text in rows}

    def document_count(self) -> int:
        """How many documents the knowledge base holds, counted in the database (nothing loaded)."""
        with session_scope(self.engine) as s:
            return s.scalar(select(func.count()).select_from(DocumentRow))

    def faq_pairs(self) -> list[tuple[str, str, str]]:
        """``(doc_id, question, answer)`` for every FAQ document: templates and training pairs."""
        with session_scope(self.engine) as s:
            rows = s.scalars(select(DocumentRow).where(DocumentRow.kind == "faq")).all()
            return [(r.doc_id, r.title, r.text) for r in rows]

    def chunks(self, ids: Iterable[int] | None = None, limit: int | None = None) -> list[Chunk]:
        """Chunks with their document's title and url; all of them when ``ids`` is None (the
        first ``limit`` of them by id, with one)."""
        query = select(ChunkRow, DocumentRow.title, DocumentRow.url).join(
            DocumentRow, DocumentRow.doc_id == ChunkRow.doc_id)
        if ids is not None:
            query = query.where(ChunkRow.id.in_(list(ids)))
        with session_scope(self.engine) as s:
            return [Chunk(c.doc_id, c.ordinal, c.text, title, url, c.id)
                    for c, title, url in s.execute(query.order_by(ChunkRow.id).limit(limit)).all()]

    def chunk_stamp(self) -> tuple[int, int | None]:
        """``(count, newest id)`` of the chunks: changes with every knowledge-base change
        (a changed document's chunks are inserted anew, and ids are never reused)."""
        with session_scope(self.engine) as s:
            return tuple(s.execute(select(func.count(), func.max(ChunkRow.id))).one())

    def chunk_ids(self) -> set[int]:
        with session_scope(self.engine) as s:
            return set(s.scalars(select(ChunkRow.id)))

    # -- conversations ----------------------------------------------------------------------
    def open_conversation(self, cid: str | None = None) -> tuple[str, str]:
        """``(id, status)`` of a conversation; a new one (``cid`` None, "" or unknown) is stored with
        its first turn or ticket, in their transaction, and nothing is written here.

        subtle: creating it in a transaction of its own cost every new question ~0.5 ms of its
        ~6 ms answer, and a message refused as empty left an empty conversation behind
        """
        if not cid:
            return uuid.uuid4().hex, "bot"
        return cid, self.conversation_status(cid)

    def has_conversation(self, cid: str) -> bool:
        with session_scope(self.engine) as s:
            return s.get(ConversationRow, cid) is not None

    def conversation_status(self, cid: str) -> str:
        with session_scope(self.engine) as s:
            row = s.get(ConversationRow, cid)
            return row.status if row else "bot"

    def add_turn(self, cid: str, question: str, answer: str, kind: str, intent: str | None,
                 confidence: float, sources: list[int], keep: frozenset[str] = frozenset()) -> int:
        """Store one exchange with personal data masked (``keep``: the shop's own contacts, which
        the bot's answer may quote); returns the turn id."""
        with session_scope(self.engine) as s:
            _conversation(s, cid)
            row = TurnRow(conversation_id=cid, question=mask_pii(question),
                          answer=mask_pii(answer, keep), kind=kind, intent=intent,
                          confidence=float(confidence), sources=json.dumps(sources))
            s.add(row)
            s.flush()
            return row.id

    def history(self, cid: str, limit: int | None = 20) -> list[Turn]:
        """The conversation's last ``limit`` turns (all of them when None), oldest first."""
        with session_scope(self.engine) as s:
            rows = s.scalars(select(TurnRow).where(TurnRow.conversation_id == cid)
                             .order_by(TurnRow.id.desc()).limit(limit)).all()
            return [_turn(r) for r in reversed(rows)]

    def set_feedback(self, turn_id: int, value: int | None) -> None:
        """+1 or -1 for the turn; None takes a vote back."""
        if value not in (1, -1, None):
            raise VerticalsError(f"feedback must be 1, -1 or None, got {value}")
        with session_scope(self.engine) as s:
            row = s.get(TurnRow, turn_id)
            if row is None:
                raise VerticalsError(f"no turn {turn_id}")
            if value is not None and row.kind not in VOTED_KINDS:  # subtle: the CLI voted on an agent's reply
                raise VerticalsError(f"turn {turn_id} is a {row.kind} turn: only the bot's answers "
                                     f"({', '.join(VOTED_KINDS)}) take a vote")
            row.feedback = value

    # -- hand-off ---------------------------------------------------------------------------
    def open_ticket(self, cid: str, question: str, reason: str, reach: list[str] | None = None) -> int:
        """Hand the conversation to a human: the bot stays quiet until the ticket is released.
        ``reach``: the e-mail addresses and phone numbers the customer wrote, kept for the agent
        (:class:`ContactRow`)."""
        with session_scope(self.engine) as s:
            _conversation(s, cid).status = "handed_off"
            # subtle: a reason can quote the customer ("asks about ...", "names ..."): masked too
            row = TicketRow(conversation_id=cid, question=mask_pii(question), reason=mask_pii(reason))
            s.add(row)
            s.flush()
            _keep_contacts(s, row.id, reach or [])
            return row.id

    def add_contacts(self, cid: str, reach: list[str]) -> None:
        """Keep ``reach`` (contacts written while waiting) with conversation ``cid``'s open ticket."""
        with session_scope(self.engine) as s:
            if (row := _open_ticket_of(s, cid)) is not None:
                _keep_contacts(s, row.id, reach)

    def add_reason(self, cid: str, reason: str) -> None:
        """Add ``reason`` to the open ticket of conversation ``cid`` (once): the customer asked
        for a person while waiting, and the agents' queue still said "out of scope"."""
        with session_scope(self.engine) as s:
            row = _open_ticket_of(s, cid)
            reason = mask_pii(reason)
            if row is not None and reason not in row.reason:
                row.reason = f"{row.reason}; then {reason}" if row.reason else reason

    def tickets(self, status: str | None = "open", conversation_id: str | None = None) -> list[Ticket]:
        """The tickets of a ``status`` (None: any), of one conversation or all, oldest first."""
        query = select(TicketRow).order_by(TicketRow.id)
        if status:
            query = query.where(TicketRow.status == status)
        if conversation_id is not None:
            query = query.where(TicketRow.conversation_id == conversation_id)
        with session_scope(self.engine) as s:
            rows = s.scalars(query).all()
            kept = dict(s.execute(select(ContactRow.ticket_id, ContactRow.contacts).where(
                ContactRow.ticket_id.in_([r.id for r in rows]))).all()) if rows else {}
            return [replace(_ticket(r), contact=kept.get(r.id)) for r in rows]

    def conversation_of(self, ticket_id: int) -> str:
        """The conversation of ticket ``ticket_id`` (open or released)."""
        with session_scope(self.engine) as s:
            row = s.get(TicketRow, ticket_id)
            if row is None:
                raise VerticalsError(f"no hand-off ticket {ticket_id}")
            return row.conversation_id

    def release(self, ticket_id: int, notice: str = "") -> str:
        """Close a ticket and give the conversation back to the bot, its chat told so by a
        ``released`` turn saying ``notice``; returns its id."""
        with session_scope(self.engine) as s:
            row = self._open_ticket_row(s, ticket_id, "nothing to do")
            self._release(s, row, notice)
            return row.conversation_id

    def add_agent_reply(self, ticket_id: int, text: str, release: bool = False, notice: str = "") -> int:
        """A human agent's reply, stored as an ``agent`` turn of the ticket's conversation; with
        ``release`` the ticket closes in the same transaction (see :meth:`release`). Returns the
        reply's turn id.

        subtle: payment data masked only: it is the shop's own text, and the customer is shown
        this copy ("call us on [PHONE]" told them nothing); a card number an agent pasted was
        stored and shown whole."""
        with session_scope(self.engine) as s:
            ticket = self._open_ticket_row(s, ticket_id, "reply to an open one")
            row = TurnRow(conversation_id=ticket.conversation_id, question="",
                          answer=mask_payment(text), kind="agent", confidence=1.0)
            s.add(row)
            s.flush()
            if release:
                self._release(s, ticket, notice)
            return row.id

    @staticmethod
    def _open_ticket_row(s, ticket_id: int, what_now: str) -> TicketRow:
        row = s.get(TicketRow, ticket_id)
        if row is None:
            raise VerticalsError(f"no hand-off ticket {ticket_id}")
        if row.status != "open":
            raise VerticalsError(f"ticket {ticket_id} was already released at {row.released}"
                                 f" — {what_now}; `support handoffs` lists the open ones")
        return row

    @staticmethod
    def _release(s, row: TicketRow, notice: str) -> None:
        row.status, row.released = "released", utc_now()
        s.execute(delete(ContactRow).where(ContactRow.ticket_id == row.id))  # kept while the ticket is open only
        still_open = s.scalar(select(TicketRow.id).where(
            TicketRow.conversation_id == row.conversation_id, TicketRow.status == "open",
            TicketRow.id != row.id).limit(1))
        if still_open is None:  # the bot stays quiet while any ticket of the chat is open
            s.get(ConversationRow, row.conversation_id).status = "bot"
            if notice:
                s.add(TurnRow(conversation_id=row.conversation_id, question="", answer=notice, kind="released",
                              confidence=1.0))

    def question(self, turn_id: int) -> str:
        """Turn ``turn_id``'s question as stored (masked); "" for no such turn."""
        with session_scope(self.engine) as s:
            turn = s.get(TurnRow, turn_id)
            return turn.question if turn is not None else ""

    def teach(self, turn_id: int, intent: str) -> tuple[str, str | None]:
        """Label turn ``turn_id``'s question with ``intent`` (again: the new label replaces the
        old); returns the question, as stored (masked), and the label it had (None: none)."""
        with session_scope(self.engine) as s:
            turn = s.get(TurnRow, turn_id)
            if turn is None or turn.kind == "agent":
                raise VerticalsError(f"no customer question with turn id {turn_id} — the gaps list "
                                     "(`verticals support gaps` or the dashboard) shows their ids")
            if turn.kind not in TAUGHT_KINDS:  # written while waiting, thanks, "?????": never judged
                raise VerticalsError(f"turn {turn_id} ({turn.question[:60]!r}) was {turn.kind}, not a question "
                                     "the bot answered or handed off: teach the gaps' questions")
            lesson = s.get(LessonRow, turn_id) or LessonRow(turn_id=turn_id, text=turn.question)
            was, lesson.intent, lesson.created = lesson.intent, intent, utc_now()
            s.add(lesson)
            return turn.question, was

    def lessons(self) -> list[Lesson]:
        """Every labelled question, oldest first."""
        with session_scope(self.engine) as s:
            rows = s.scalars(select(LessonRow).order_by(LessonRow.created, LessonRow.turn_id)).all()
            return [Lesson(r.turn_id, r.text, r.intent, r.created) for r in rows]

    def forget_lesson(self, turn_id: int) -> Lesson:
        """Take back the label of turn ``turn_id``'s question; returns the lesson forgotten."""
        with session_scope(self.engine) as s:
            row = s.get(LessonRow, turn_id)
            if row is None:
                raise VerticalsError(f"no lesson for turn {turn_id}: `verticals support lessons` lists them")
            s.delete(row)
            return Lesson(row.turn_id, row.text, row.intent, row.created)

    def gaps(self, limit: int = 50, except_reasons: tuple[str, ...] = ()) -> list[Turn]:
        """Questions the bot could not answer or users down-voted, newest first: what the KB is
        missing; less hand-offs whose ticket opened with one of ``except_reasons`` (a later
        "; then ..." added while waiting does not make it a gap)."""
        query = select(TurnRow).where(TurnRow.kind.in_(("unsure", "handoff")) | (TurnRow.feedback == -1))
        if except_reasons:
            query = query.where(~exists().where(
                TicketRow.conversation_id == TurnRow.conversation_id,
                TicketRow.question == TurnRow.question,
                or_(TicketRow.reason.in_(except_reasons),
                    *[TicketRow.reason.startswith(f"{r}; then ", autoescape=True) for r in except_reasons])))
        with session_scope(self.engine) as s:
            rows = s.scalars(query.order_by(TurnRow.id.desc()).limit(limit)).all()
            return [_turn(r) for r in rows]
