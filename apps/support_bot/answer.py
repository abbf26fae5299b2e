"""Composing what the bot says: an intent's answer template, a grounded answer built from the
best passages with numbered citations, or "I'm not sure" with a hand-off. (A courtesy's reply is
:mod:`.courtesy`'s; the optional rephrasing of a grounded answer, :mod:`.generator`'s.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from .asking import gives_what_is_asked
from .knowledge import Chunk, split_sentences
from .ranking import tokenize, word_set
from .retrieval import Passage
from .rows import ROW, named_rows, names_a_row

GROUNDED_LEAD = "Here is what I found:"
CITATION_MARK = re.compile(r"\[(\d+)\]")  # "[2]" after a quoted fact
_BARE_REPLY = re.compile(r"(?:yes|no)[.!]", re.I)
REPEATED = 0.7  # the share of a quote's words an earlier quote of the answer says that leaves it out
ROW_RUNS = 4  # the most runs of named table rows quoted from one chunk: "Which plans have 5G?" in a long table
# how far (quote cosine) a quote from the chunk beside a passage may fall below the passage's own
# to replace it, giving what the question asks where that one does not: an audit's phone booth
# "booked ... for up to 1 hour" was 0.13 below the passage's "cannot book one"
BESIDE_SLACK = 0.15
UNSURE_TEXT = ("I'm not sure I can answer that correctly, so I've passed your question to a "
               "colleague (ticket #{ticket}). They will reply in this conversation.")
WAITING_TEXT = "A colleague is looking after this conversation and will reply here."  # after their reply too
class AnswerKind(StrEnum):
    TEMPLATE = "template"  # a confident intent's linked answer
    GROUNDED = "grounded"  # composed from retrieved passages, with citations
    HANDOFF = "handoff"  # a human takes over: unsure, out of scope, or asked for a person
    WAITING = "waiting"  # already handed off: the bot stays quiet
    INVALID = "invalid"  # empty or unusable message
    COURTESY = "courtesy"  # only a greeting or thanks: greeted or thanked back


@dataclass
class Citation:
    """``[n]`` in the answer text: the chunk it quotes and where that chunk comes from."""

    n: int
    chunk_id: int
    doc_id: str
    title: str
    url: str
    quote: str


@dataclass
class Answer:
    """One bot reply, as the CLI and the dashboard show it."""

    text: str
    kind: AnswerKind
    confidence: float = 0.0
    intent: str | None = None
    citations: list[Citation] = field(default_factory=list)
    conversation_id: str = ""
    turn_id: int | None = None
    ticket_id: int | None = None
    notice: str = ""
    reason: str = ""  # why a hand-off happened (the agent's queue shows it)

    def to_dict(self) -> dict:
        return {
            "text": self.text, "kind": str(self.kind), "confidence": round(self.confidence, 4),
            "intent": self.intent, "conversation_id": self.conversation_id,
            "turn_id": self.turn_id, "ticket_id": self.ticket_id, "notice": self.notice,
            "reason": self.reason,
            "citations": [vars(c) for c in self.citations],
        }


def best_quote(query: str, text: str, max_sentences: int = 2,
               similarity: Callable[[list[str]], list[float]] | None = None, rows_elsewhere: bool = False,
               said: list[str] = (), quoted: Sequence[str] = ()) -> str:
    """The window of consecutive sentences closest to ``query``: by ``similarity`` (the
    service passes sentence-embedding cosines), else by the words they share. The table rows the
    query names (:func:`names_row`) are quoted alone, the first of them with those beside it (less
    those the answer's earlier ``quoted`` texts hold: chunks overlap by a sentence); with
    ``rows_elsewhere`` (another passage holds them) the rows that open or close the passage are
    left out. Sentences one of the texts ``said`` already says (``REPEATED`` of their words: the
    conversation's earlier answers) are left out where they open or close the passage, and a
    window with one is quoted only if all have one.

    The window is a substring of ``text`` (sentences are re-joined with single spaces, as
    chunks are), so a citation always points at words the chunk really contains.

    subtle: counting shared words, "do gift cards expire?" quoted the sentences with "gift
    card" in them, not "valid for 3 years"; a window that ends on a question ("When is my
    order ready?") leads into an answer it does not hold, so it is quoted only if all do. A
    bare "Yes." or "No." that opens an FAQ answer replies to the FAQ's question, not to this
    one: "do you sell electric bikes" was answered "No. Our e-bikes assist up to 25 km/h ...".
    """
    sentences = split_sentences(text)
    if len(sentences) > 1 and _BARE_REPLY.fullmatch(sentences[0]):
        sentences = sentences[1:]
    named = named_rows(query, sentences)
    named = [i for i in named if not any(sentences[i] in text for text in quoted)] or named
    if named:  # subtle: "storage on the Team plan?" quoted the Team and Business rows
        run = [i for n, i in enumerate(named) if i == named[0] + n][: max_sentences + 1]  # rows side by side
        return " ".join(sentences[run[0] : run[-1] + 1])
    while rows_elsewhere and len(sentences) > 1 and (ROW.match(sentences[0]) or ROW.match(sentences[-1])):
        sentences = sentences[1:] if ROW.match(sentences[0]) else sentences[:-1]  # rows that were not asked
    # subtle: "how long does that take?" after the refund FAQ quoted the refund policy's "refunded
    # in full within 14 days", which the FAQ had said; "take 5 to 10 working days" came after it
    repeats = _repeater(said)
    while said and len(sentences) > 1 and (repeats(sentences[0]) or repeats(sentences[-1])):
        sentences = sentences[1:] if repeats(sentences[0]) else sentences[:-1]
    # subtle: a passage one sentence longer than the window is quoted whole; a 3-sentence FAQ
    # answer cut to its best-matching 2 lost "Standard delivery takes 3-5 working days"
    if len(sentences) <= max_sentences + 1:
        return " ".join(sentences)
    windows = [" ".join(sentences[i : i + max_sentences]) for i in range(len(sentences) - max_sentences + 1)]
    windows = [w for w in windows if not w.endswith("?")] or windows
    windows = [w for w in windows if not any(map(repeats, split_sentences(w)))] or windows
    # subtle: "whats the winter timetable to haverby" quoted "There is no Skerrin Island to Haverby
    # service in winter" and not the sentence beside it with the times
    windows = [w for w in windows if gives_what_is_asked(query, w)] or windows
    if similarity is not None:
        scores = similarity(windows)
    else:
        wanted = set(tokenize(query))
        scores = [len(wanted & set(tokenize(w))) for w in windows]
    return windows[max(range(len(windows)), key=lambda i: scores[i])]


def _repeater(said: list[str]) -> Callable[[str], bool]:
    """Whether a sentence repeats one of the texts ``said``: ``REPEATED`` of its words, or, for a
    table row (whose words its neighbours share but for the key and values), the row itself."""
    earlier = [word_set(t) for t in said]

    def repeats(sentence: str) -> bool:
        if ROW.match(sentence):
            return any(sentence in text for text in said)
        words = word_set(sentence)
        return bool(words) and any(len(words & e) >= REPEATED * len(words) for e in earlier)
    return repeats


def mostly_said(text: str, said: list[str]) -> bool:
    """Whether half or more of ``text``'s sentences repeat one of the texts ``said``
    (:func:`_repeater`).

    >>> mostly_said("Refunds take 5 days. Yearly plans are refunded within 14 days.", ["Yearly plans: "
    ...             "refunded within 14 days."]), mostly_said("Refunds take 5 days. Cards only.", ["14 days."])
    (True, False)
    """
    sentences, repeats = split_sentences(text), _repeater(said)
    return 2 * sum(map(repeats, sentences)) >= len(sentences) > 0


def outranked(found: list[Passage], doc_id: str, own: float, margin: float, floor: float = -1.0) -> bool:
    """Whether search puts another document's passage ``margin`` (cosine) above ``own``, the
    best cosine of ``doc_id``'s chunks; only passages that clear the answer ``floor`` count.

    >>> from .knowledge import Chunk
    >>> hits = [Passage(Chunk("delete", 0, ""), 0.73, 0.73), Passage(Chunk("reset", 0, ""), 0.37, 0.37)]
    >>> outranked(hits, "reset", 0.37, 0.1), outranked(hits, "delete", 0.73, 0.1)
    (True, False)
    >>> outranked(hits, "reset", 0.1, 0.1, floor=0.8)  # the bot would cite neither: no better answer
    False

    subtle: without the floor, "I need a tune up" (its template 0.14 from the question) lost to
    a contact FAQ at 0.19, under the answer floor, and a sure intent was handed off.
    """
    others = [p.dense for p in found if p.chunk.doc_id != doc_id and p.dense >= floor]
    return bool(others) and max(others) - own >= margin


def template_answer(chunks: list[Chunk], confidence: float, intent: str) -> Answer:
    """The whole FAQ answer linked to ``intent`` (its chunks in order), citing it once: its
    first chunk, quoting all of it: ``"Sentences of chunk 1. New sentences of chunk 2. [1]"``.

    subtle: consecutive chunks repeat their overlap sentences; those are said once. Each chunk
    cited apart read "... [1] ... [2] ... [3]", three sources of one title for one answer.
    """
    said: list[str] = []
    for chunk in chunks:
        sentences = split_sentences(chunk.text)
        said += sentences[_overlap(said, sentences):]
    first, whole = chunks[0], " ".join(said)
    citation = Citation(1, first.chunk_id, first.doc_id, first.title, first.url, whole)
    return Answer(f"{whole} [1]", AnswerKind.TEMPLATE, confidence, intent, [citation])


def _overlap(said: list[str], sentences: list[str]) -> int:
    """How many leading ``sentences`` repeat the end of ``said``: ``[a, b], [b, c] -> 1``."""
    for k in range(min(len(said), len(sentences)), 0, -1):
        if said[-k:] == sentences[:k]:
            return k
    return 0


def relevance(passages: list[Passage]) -> float:
    """How close the KB comes to the question: the best dense cosine among the passages.

    Used to decide whether to answer at all; subtle: not the reranker's probability, which a
    cross-encoder trained on a few hundred pairs spreads too little to separate out-of-scope.
    """
    return max((p.dense for p in passages), default=0.0)


def select_passages(passages: list[Passage], threshold: float, limit: int = 3,
                    spread: float = 0.05, message: str = "") -> list[Passage]:
    """Passages worth citing: only those whose own dense cosine clears the calibrated
    ``threshold`` (none: hand off); the best of them and others close to it in final score,
    one per document: its best, or one within ``spread`` of it that gives the clock times,
    price, duration or contact ``message`` asks for where the best does not
    (:func:`gives_what_is_asked`).

    subtle: the top passage must clear the threshold too; a small reranker can lift a passage
    the question barely touches above the ones it is about.
    """
    eligible = [p for p in passages if p.dense >= threshold]
    if not eligible:
        return []
    top = eligible[0].score
    for i, passage in enumerate(eligible):  # subtle: a timetable's last chunk, without the times, led by 0.01
        if not gives_what_is_asked(message, passage.chunk.text):
            giving = next((j for j in range(i + 1, len(eligible)) if eligible[j].chunk.doc_id == passage.chunk.doc_id
                           and eligible[j].score >= passage.score - spread
                           and gives_what_is_asked(message, eligible[j].chunk.text)), None)
            if giving is not None:
                eligible[i], eligible[giving] = eligible[giving], passage
    chosen, docs = [eligible[0]], {eligible[0].chunk.doc_id}
    reranked = eligible[0].rerank is not None
    for passage in eligible[1:]:
        if len(chosen) == limit or (reranked and passage.rerank is None):
            break  # subtle: below the reranked head, scores are fused cosines (another scale)
        if passage.score >= top - spread and passage.chunk.doc_id not in docs:
            chosen.append(passage)
            docs.add(passage.chunk.doc_id)
    return chosen


def grounded_answer(query: str, passages: list[Passage], intent: str | None = None,
                    similarity: Callable[[list[str]], list[float]] | None = None,
                    named_by: str | None = None, said: list[str] = (),
                    chunks_of: Callable[[str], list[Chunk]] | None = None) -> Answer:
    """An extractive answer: the best sentences of each passage, each followed by ``[n]``
    (``similarity`` ranks candidate quotes, see :func:`best_quote`, which passes over what the
    conversation ``said`` before); a quote whose words an earlier one already says (``REPEATED``
    of them) is left out. Table rows are named by ``named_by`` (a follow-up's own words: its query
    leads with the earlier question's), else by ``query``. subtle: the password FAQ and the
    password guide were both quoted, saying the same thing twice.

    Where a passage's quote holds no clock time, price, duration or contact that ``query`` asks for
    (:func:`gives_what_is_asked`), a chunk beside it in its document (``chunks_of``) that holds one
    is quoted and cited instead, when near enough (:func:`_beside`). subtle: chunks are small
    (``CHUNK_WORDS``), and "how long will you hold a parcel for me?" was quoted the passage on
    parcel sizes and scanning; "We hold letters and parcels at reception for up to 30 days" opens
    the chunk before it."""
    citations = []
    rows = [names_a_row(named_by or query, p.chunk) for p in passages]
    for passage, row in zip(passages, rows, strict=True):
        chunk = passage.chunk
        if row:  # each run of the rows named, each row once (chunks overlap by a sentence)
            for _ in range(ROW_RUNS):
                quote = best_quote(named_by or query, chunk.text, quoted=[c.quote for c in citations])
                if all(any(sentence in c.quote for c in citations) for sentence in split_sentences(quote)):
                    break  # subtle: rows of one table share their column names, so words tell no repeat
                citations.append(Citation(len(citations) + 1, chunk.chunk_id, chunk.doc_id, chunk.title, chunk.url,
                                          quote))
            continue
        quote = best_quote(query, chunk.text, similarity=similarity, rows_elsewhere=any(rows), said=said)
        if chunks_of is not None and not gives_what_is_asked(query, quote):
            chunk, quote = _beside(query, chunk, quote, chunks_of(chunk.doc_id), similarity, any(rows), said)
        if any(rows) and all(ROW.match(s) for s in split_sentences(quote)):
            # subtle: "How much is Fibre 500?" was quoted its row's £32, then the installation
            # table's "New line from the street; Price: £120.", read as part of the answer
            continue
        words = word_set(quote)
        if not any(len(words & word_set(c.quote)) >= REPEATED * len(words) for c in citations):
            citations.append(Citation(len(citations) + 1, chunk.chunk_id, chunk.doc_id, chunk.title, chunk.url, quote))
    return Answer(_quoted(citations), AnswerKind.GROUNDED, relevance(passages), intent, citations)


def _beside(query: str, chunk: Chunk, quote: str, chunks: list[Chunk],
            similarity: Callable[[list[str]], list[float]] | None, rows_elsewhere: bool,
            said: list[str]) -> tuple[Chunk, str]:
    """The chunk next to ``chunk`` in its document whose best quote gives what ``query`` asks
    (:func:`gives_what_is_asked`), and that quote, where ``similarity`` puts it no more than
    ``BESIDE_SLACK`` below ``quote``; the nearer of two. ``chunk`` and its ``quote`` when none
    does, or nothing measures them. subtle: without a bound, "how long does delivery to Norway
    take?" was quoted the chunk before it, on bikes' "4-7 working days"."""
    if similarity is None:
        return chunk, quote
    beside = [c for c in chunks if abs(c.ordinal - chunk.ordinal) == 1]
    giving = [(c, q) for c in beside
              for q in [best_quote(query, c.text, similarity=similarity, rows_elsewhere=rows_elsewhere, said=said)]
              if gives_what_is_asked(query, q)]
    if not giving:
        return chunk, quote
    own, *scores = similarity([quote] + [q for _, q in giving])
    best = max(range(len(giving)), key=scores.__getitem__)
    return giving[best] if scores[best] >= own - BESIDE_SLACK else (chunk, quote)


def _quoted(citations: list[Citation]) -> str:
    return GROUNDED_LEAD + "\n\n" + "\n\n".join(f"{c.quote} [{c.n}]" for c in citations)


def closer(sentences: list[str], repeated: Answer, similarity: Callable[[list[str]], list[float]]) -> int | None:
    """The index of the sentence nearest the question (by ``similarity``) when it is nearer than
    every sentence the ``repeated`` answer quotes; None when none is, or nothing is to compare.
    For "do they expire?" after a gift-card answer: ``["Gift cards are valid for 3 years."]``
    -> 0 (cosine 0.43, the repeated "Unused balance stays on the card." 0.28).
    """
    old = [s for c in repeated.citations for s in split_sentences(c.quote)]
    if not sentences or not old:
        return None
    scores = similarity(sentences + old)
    best = max(range(len(sentences)), key=scores.__getitem__)
    return best if scores[best] > max(scores[len(sentences):]) else None


def without_repeats(answer: Answer, said: list[str], keep_first: bool = False) -> Answer:
    """``answer`` without the quotes an earlier answer in ``said`` already gave, when it has
    others: "how much is a new one?" after a battery-life answer led with that answer again,
    and the price came second. The rest are numbered again from 1. ``keep_first``: its first
    quote stays, said or not (a table row the question names)."""
    fresh = [c for i, c in enumerate(answer.citations)
             if (keep_first and i == 0) or not any(c.quote in text for text in said)]
    if not fresh or len(fresh) == len(answer.citations):
        return answer
    citations = [replace(c, n=n) for n, c in enumerate(fresh, start=1)]
    return replace(answer, text=_quoted(citations), citations=citations)


def combined(questions: list[str], answers: list[Answer]) -> Answer:
    """One reply to a message of several questions: each question, then its answer, citations
    numbered on across them. One the bot would hand off is left to a colleague: the reply is
    then a hand-off, the questions it leaves last, the ticket's sentence after them (see
    ``SupportService._record``), its reason which question it was. subtle: answered whole, as
    one message, "How long does delivery take? Also do you sell skateboards?" got the delivery
    answer and nothing on the skateboards."""
    texts, citations, unanswered = [], [], []
    for question, answer in zip(questions, answers, strict=True):
        sentence = re.split(r"(?<=[.!])\s+", question[:question.rfind("?") + 1])[-1]  # not "...? Thanks!"
        asked = f"“{sentence}”"
        if answer.kind is AnswerKind.HANDOFF:
            unanswered.append(asked)  # last, just before the ticket's sentence
            continue
        offset = len(citations)
        citations += [replace(c, n=c.n + offset) for c in answer.citations]
        text = CITATION_MARK.sub(lambda m, k=offset: f"[{int(m.group(1)) + k}]",
                                 answer.text.removeprefix(GROUNDED_LEAD))
        texts.append(f"{asked}\n\n{text.strip()}")
    kinds = {a.kind for a in answers}
    handed = [(n, a) for n, a in enumerate(answers, start=1) if a.kind is AnswerKind.HANDOFF]
    kind = AnswerKind.HANDOFF if handed else AnswerKind.GROUNDED if AnswerKind.GROUNDED in kinds \
        else AnswerKind.TEMPLATE
    reason = "; ".join(f"question {n} of {len(answers)}: {a.reason or 'low confidence'}" for n, a in handed)
    intent = next((a.intent for a in answers if a.intent), None)
    return Answer("\n\n".join(texts + unanswered), kind, min(a.confidence for a in answers), intent, citations,
                  reason=reason)


def answer_words(text: str) -> list[str]:
    """The words an answer says, without its lead-in and ``[n]`` markers:
    ``"Here is what I found:\n\nLinks last 60 minutes. [1]"`` -> ``["links", "last", "60", "minutes"]``."""
    return tokenize(CITATION_MARK.sub(" ", text.removeprefix(GROUNDED_LEAD)))
