"""The support bot's tables (``support_*``): documents and chunks (the KB text), conversations,
turns, hand-off tickets with the contacts kept for them, and lessons; and the records
:class:`.store.SupportStore` reads from them. Everything a user typed is masked before it
reaches a table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .knowledge import Chunk


def utc_now() -> str:
    """Now, as the tables store times (ISO 8601, UTC, to the second)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def when(stamp: str) -> str:
    """A stored ISO time as people read it: ``"2026-12-03T03:40:25+00:00" -> "2026-12-03 03:40 UTC"``."""
    return f"{stamp[:10]} {stamp[11:16]} UTC" if len(stamp) >= 16 and stamp[10] == "T" else stamp


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    __tablename__ = "support_documents"
    doc_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="article")
    content_hash: Mapped[str] = mapped_column(String(16))
    updated: Mapped[str] = mapped_column(String(32), default=utc_now)


class ChunkRow(Base):
    __tablename__ = "support_chunks"
    __table_args__ = {"sqlite_autoincrement": True}  # subtle: FAISS ids must never be reused
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(
        ForeignKey("support_documents.doc_id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class ConversationRow(Base):
    __tablename__ = "support_conversations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="bot")  # bot | handed_off
    created: Mapped[str] = mapped_column(String(32), default=utc_now)


class TurnRow(Base):
    __tablename__ = "support_turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("support_conversations.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(100), nullable=True)
    confidence: Mapped[float] = mapped_column(default=0.0)
    sources: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of chunk ids
    feedback: Mapped[int | None] = mapped_column(Integer, nullable=True)  # +1 / -1
    created: Mapped[str] = mapped_column(String(32), default=utc_now)


class TicketRow(Base):
    __tablename__ = "support_tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("support_conversations.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | released
    created: Mapped[str] = mapped_column(String(32), default=utc_now)
    released: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ContactRow(Base):
    """The e-mail addresses and phone numbers an open ticket's customer wrote, unmasked, for the
    agent who calls or writes back; deleted when the ticket is released.

    subtle: "Please call me back on +44 7700 900123" reached the agent as "[PHONE]": masked
    everywhere, the number was nowhere."""

    __tablename__ = "support_contacts"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"), primary_key=True)
    contacts: Mapped[str] = mapped_column(Text)  # " · "-joined, in the order written


class LessonRow(Base):
    """A question from the gaps that an admin labelled with an intent: training data for the
    intent model's retrain (``support teach``, ``support retrain``)."""

    __tablename__ = "support_lessons"
    turn_id: Mapped[int] = mapped_column(ForeignKey("support_turns.id", ondelete="CASCADE"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)  # the stored (masked) question
    intent: Mapped[str] = mapped_column(String(100))
    created: Mapped[str] = mapped_column(String(32), default=utc_now)


@dataclass
class KbChange:
    """What an upsert did: the index applies ``new_chunks`` and ``removed_chunk_ids``."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    new_chunks: list[Chunk] = field(default_factory=list)
    removed_chunk_ids: list[int] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # gone from the file or folder re-added
    taken_over: dict[str, str] = field(default_factory=dict)  # id -> the other file it came from


@dataclass
class Turn:
    """One stored exchange (already masked)."""

    id: int
    conversation_id: str
    question: str
    answer: str
    kind: str
    intent: str | None
    confidence: float
    sources: list[int]
    feedback: int | None
    created: str


@dataclass
class Ticket:
    """A hand-off waiting for (or released by) a human agent."""

    id: int
    conversation_id: str
    question: str
    reason: str
    status: str
    created: str
    intent: str | None = None  # the bot's best guess at the hand-off, and its confidence
    confidence: float | None = None
    contact: str | None = None  # what the customer wrote to be reached at, unmasked (ContactRow)
    waiting_since: str | None = None  # the customer's oldest message no agent has answered (with_waits)
    replied: str | None = None  # the agent's last reply, when the agent wrote last (with_waits)


@dataclass
class Lesson:
    """A customer question an admin labelled with an intent (``support teach``)."""

    turn_id: int
    question: str  # as stored (masked)
    intent: str
    created: str
