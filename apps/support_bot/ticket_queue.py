"""What the agents' hand-off queue reads of the tickets, read only: who has the next word
(:func:`with_waits`), the bot's guess at each hand-off (:func:`with_guesses`), and the counts
above the dashboard's tabs (:func:`count_open_tickets`, :func:`count_waiting_tickets`). One query
each, over :class:`~.store.SupportStore`'s engine."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine

from shared import session_scope
from shared.output import count_of

from .tables import Ticket, TicketRow, TurnRow


def count_open_tickets(engine: Engine) -> int:
    """Open hand-offs, read only (the suite's home counts them without creating the tables)."""
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(TicketRow).where(TicketRow.status == "open"))


def open_tickets_line(engine: Engine) -> str:
    """"2 open hand-offs (1 waiting for an agent's reply)"; "" when none is open. The support
    page's line above its tabs and the suite home's (which had counted the ones an agent had
    answered as waiting for an agent)."""
    opened = count_open_tickets(engine)
    return f"{count_of(opened, 'open hand-off')} ({count_waiting_tickets(engine)} waiting for an agent's reply)" \
        if opened else ""


def count_waiting_tickets(engine: Engine) -> int:
    """Open tickets whose customer waits for an agent, as :func:`with_waits` tells them: the
    last turn since the ticket opened is none or not an agent's. One count query (the
    dashboard's top line asks on every rerun)."""
    last_kind = select(TurnRow.kind).where(
        TurnRow.conversation_id == TicketRow.conversation_id, TurnRow.created >= TicketRow.created,
    ).order_by(TurnRow.id.desc()).limit(1).correlate(TicketRow).scalar_subquery()
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(TicketRow).where(
            TicketRow.status == "open", or_(last_kind.is_(None), last_kind != "agent")))


def with_guesses(engine: Engine, tickets: list[Ticket]) -> list[Ticket]:
    """``tickets`` with the intent and confidence of the turn that opened each: the hand-off
    turn storing its question in its conversation at or after it (``SupportService._record``
    opens the ticket, then stores the turn). One query for them all."""
    if not tickets:
        return tickets
    with session_scope(engine) as s:
        rows = s.execute(select(TurnRow.conversation_id, TurnRow.question, TurnRow.created, TurnRow.intent,
                                TurnRow.confidence).where(
            TurnRow.conversation_id.in_({t.conversation_id for t in tickets}),
            TurnRow.kind.in_(("handoff", "unsure"))).order_by(TurnRow.id)).all()
    by_conversation: dict[str, list] = {}
    for row in rows:
        by_conversation.setdefault(row.conversation_id, []).append(row)
    guessed = []
    for t in tickets:
        turn = next((r for r in by_conversation.get(t.conversation_id, [])
                     if r.question == t.question and r.created >= t.created), None)
        guessed.append(replace(t, intent=turn.intent, confidence=turn.confidence) if turn else t)
    return guessed


def with_waits(engine: Engine, tickets: list[Ticket]) -> list[Ticket]:
    """``tickets`` with who has the next word. ``waiting_since``: when the customer wrote
    the oldest message no agent has answered since the ticket opened (the ticket's own time
    until an agent replies); None, with ``replied`` the agent's last reply, once the agent
    wrote last. One query for them all.

    subtle: a ticket an agent had answered and one nobody had read looked the same in the
    queue, oldest first: the customer who wrote again after a reply waited behind both."""
    if not tickets:
        return tickets
    with session_scope(engine) as s:
        rows = s.execute(select(TurnRow.conversation_id, TurnRow.kind, TurnRow.created).where(
            TurnRow.conversation_id.in_({t.conversation_id for t in tickets}),
            TurnRow.created >= min(t.created for t in tickets)).order_by(TurnRow.id)).all()
    by_conversation: dict[str, list] = {}
    for row in rows:
        by_conversation.setdefault(row.conversation_id, []).append(row)
    waited = []
    for t in tickets:
        since, replied = t.created, None
        for row in by_conversation.get(t.conversation_id, []):
            if row.created < t.created:
                continue
            if row.kind == "agent":
                since, replied = None, row.created
            elif since is None:  # the customer wrote after the agent's reply
                since = row.created
        waited.append(replace(t, waiting_since=since, replied=None if since else replied))
    return waited
