"""A hand-off as the agents' queue shows it: the reason, the intent and how sure the bot was; and
the two readings of an intent decision the answer path asks for (:func:`confident`,
:func:`named_intent`)."""

from __future__ import annotations

from .answer import Answer, AnswerKind
from .escalation import UNJUDGED
from .intents import IntentDecision, Status

NOT_READ = ": not answered"  # ends the reason of a hand-off of a message the bot did not read


def was_judged(reason: str) -> bool:
    """Whether the bot judged the hand-off with this reason, so that its confidence means
    something: not a request for a person or a complaint, nor a message it did not read (another
    language, a name the shop never uses, a question taught out of scope).

    subtle: those showed "confidence 0.00" in the agents' queue: noise about a message no model read.

    >>> was_judged("no confident intent, and nothing in the knowledge base matched")
    True
    >>> was_judged("written in German; the bot reads English only: not answered; then asked for a person")
    False
    """
    first = reason.split("; then ")[0]
    return first not in UNJUDGED and not first.endswith(NOT_READ)


def confident(decision: IntentDecision | None) -> bool:
    """Whether the intent model is sure of an intent with an answer template."""
    return decision is not None and decision.status is Status.CONFIDENT


def named_intent(decision: IntentDecision | None) -> str | None:
    """The intent a turn records: none for out of scope or the knowledge base's class."""
    return decision.intent if decision and decision.status not in (Status.OOS, Status.KB) else None


def handoff(decision: IntentDecision | None, searched: bool = True, reason: str = "",
            found: list | None = None) -> Answer:
    """A hand-off after judging: what the agent's queue shows (reason, intent, confidence).

    ``found``: what search found (none over the answer floor). Where the intent model only said
    "search" (or there is none), the confidence is the best of it, the measure a grounded answer
    shows. subtle: it showed P(knowledge base) instead, so "how lng does delivary take", which
    found nothing, was handed off "0.96 sure".
    """
    confidence = in_scope_confidence(decision)
    if found is not None and (decision is None or decision.status is Status.KB):
        confidence = max((p.dense for p in found), default=0.0)
    return Answer("", AnswerKind.HANDOFF, confidence, named_intent(decision),
                  reason=reason or handoff_reason(decision, searched))


def handoff_reason(decision: IntentDecision | None, searched: bool = True) -> str:
    """Why the bot handed off, for the agent's queue (the customer reads "I'm not sure ...").

    >>> handoff_reason(None)
    'nothing in the knowledge base matched'

    subtle: in words the agents read: "out of scope (p 0.41: not searched)" beside the queue's
    "confidence 0.59" looked contradictory.
    """
    if decision is not None and decision.status is Status.OOS:
        return ("out of scope, and nothing in the knowledge base matched" if searched else
                "out of scope (the intent model is sure)")
    if decision is not None and decision.status is Status.UNSURE:
        return "no confident intent, and nothing in the knowledge base matched"
    return "nothing in the knowledge base matched"


def in_scope_confidence(decision: IntentDecision | None) -> float:
    """How sure the bot was of some answer: the best intent's probability; for an out-of-scope
    verdict, ``1 - P(out of scope)`` (a hand-off at P(oos) = 0.98 shows 0.02, not 0.98)."""
    if decision is None:
        return 0.0
    return 1.0 - decision.confidence if decision.status is Status.OOS else decision.confidence


def listed(names: list[str]) -> str:
    """``["Netflix"] -> "Netflix"``, ``["A", "B", "C"] -> "A, B and C"``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
