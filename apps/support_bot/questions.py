"""How a customer's message is read as questions: follow-ups that lean on earlier turns, a long
message's question, a message of several questions."""

from __future__ import annotations

import re

from shared.errors import VerticalsError

from .answer import Answer, answer_words
from .ranking import singular, tokenize, word_set
from .tables import Turn

MAX_CHARS = 2000  # a longer message is read by its start and end
FOCUS_WORDS = 50  # longer messages are read by their questions: the intent model reads ~25 words, search ~100
# words that point back at an earlier turn, and openings that continue one ("and for kids?")
_ANAPHORA = frozenset("it its that this they them their those these one ones there mine yours".split())
# "how much is it to ship a bike?", "how long does it take to deliver": an "it" after its verb
# that points ahead to a "to ..." clause refers to nothing said before. Not "can it be delivered
# to spain?" or "is it shipped to ...": a passive "it" is the thing asked about
_DUMMY_IT = re.compile(r"\b(?:is|does|do|would|will|was|can|could)\s+it\s+"
                       r"(?:(?!(?:be|been|being|get|got)\b)\w+(?<!ed)\s+){0,2}?to\s+"
                       r"(?!(?:a|an|the|my|your|our|his|her|their|me|us|you|him|them|it|this|that)\b)"
                       r"(?=[a-z])", re.I)
# "Can I take my e-bike and how much is it?", "I bought a kettle, can I return it?": a thing of the
# customer's own named before a later clause, whose pronouns of its number point at it, not back
# (not "Thanks for the answer, and does it come in blue?" or "I see the price, but is it cheaper?")
_OWN_ANTECEDENT = re.compile(r"\b(?:(?:my|our)|i (?:bought|ordered|have|got|own) (?:a|an|the|my|our|this|two|some))"
                             r"\s+(?!(?:question|problem|issue|query|thing|few|couple|bit|lot)s?\b)([a-z][\w-]*)\b"
                             r".*?(?:[,;]|\band\b|\bbut\b|\bso\b)", re.I)
# a thing the message brings in ("an e-bike") and then a clause on doing something to it: "can I
# return an e-bike after riding it for a week?". Not what the customer gets or pays ("can I get a
# refund after returning it?", "do you charge a fee after opening it?": the earlier item), nor "can
# I add a bell to it?" (no such clause)
_NEW_ANTECEDENT = re.compile(
    r"\b(?<!get )(?<!receive )(?<!have )(?<!want )(?<!need )(?<!for )(?:a|an|my|our|this)\s+"
    r"(?:(?:pair|set|couple|box|bag)\s+of\s+)?"
    r"(?!(?:question|problem|issue|query|thing|few|couple|bit|lot|week|day|month|year|while|refund|fee|charge|cost"
    r"|deposit|warranty|guarantee|discount|credit|voucher|replacement|repair|exchange|receipt|invoice|quote"
    r"|restocking|penalty|payment)s?\b)"
    r"([a-z][\w-]*)\b[^,;.?!]*?\b(?:after|before|while|without|when|since|until|till|once)\s+[a-z]+ing\b", re.I)
_PRONOUNS_OF = {False: re.compile(r"\b(?:it|its)\b", re.I), True: re.compile(r"\b(?:they|them|their)\b", re.I)}
_ELLIPTICAL = r"^\W*(?:(?:and|also|or|but)\s+)?(?:same for|what about|how about|what if)\b"
# "and what about Safari?": its subject is Safari
_ELLIPSIS = re.compile(_ELLIPTICAL + r"|^\W*(?:and|also|or)\b", re.I)
# a question that stands on its own: opens with a question word or an auxiliary, after an
# optional connective ("Also, can I change the address?"); "And for kids?" leans on the one before
_CONNECTIVE = re.compile(r"^\W*(?:(?:and|also|plus|oh|btw|by the way|secondly|second|another thing)\b\W*)*", re.I)
_ASKS = re.compile(r"^(?:what|where|when|which|who|whom|whose|why|how|can|could|do|does|did|is|are|was|were|will|"
                   r"would|should|shall|may|have|has)(?:'?s)?\b", re.I)  # "whats the max"
# "..., and do you ...?": a second question joined to the first
# (an auxiliary with a subject of its own: "which plan includes roaming and is the cheapest?" is one question)
_AND_ASKS = re.compile(r",?\s+(?:and|also|plus)\s+(?=(?:how|what|where|when|which|who|why)\b|(?:do|does|can|could|is|"
                       r"are|will|would|should)\s+(?:you|i|we|they|there|it|this|that|your|my|our)\b)", re.I)
# words that ask for nothing in particular: "Can you help?", "Could you please advise?", "What is going on?"
_GENERIC = frozenset("help advise know let tell check going happening sure possible ok okay please could would "
                     "can should any idea ideas anything something suggest suggestions".split())
# what a question asks of a subject it does not name: "how much?", "how long do I have?", "when?"
_ASKING = frozenset("much many long soon fast far often cost costs take takes have has get need needs extra "
                    "more expensive cheap cheaper quick quickly minimum maximum min max limit price fee fees "
                    "charge".split())
# a rate asks a price of nothing named: "how much per month?" after a parking answer had "month" for its
# subject, and a lesson on it answered a desk plan's "how much per month?" with the parking fees
_RATE = re.compile(r"\b(?:per|a|an|each)\s+(?:hour|day|night|week|month|year)s?\b", re.I)


def names_inside(text: str) -> set[str]:
    """The capitalised words inside its sentences (not opening one), lower case: names.

    >>> sorted(names_inside("Where is your Northfield site? Is it open?"))
    ['northfield']
    """
    return {w.lower() for w in re.findall(r"(?<=\w[\s,;:])\s*([A-Z][a-z]+)", text)}


def same_words(text: str) -> str:
    """A question as lessons compare it, with each other, with asked questions and with the
    intents file's rows: its words, lower case (``"What cards, do you take?"`` and ``"what cards
    do you take"`` are one)."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def clean(message: str) -> tuple[str, str]:
    """``message`` stripped, and truncated when very long, with a notice saying so ("" if not)."""
    if not isinstance(message, str):
        raise VerticalsError(f"message must be text, got {type(message).__name__}")
    # subtle: bytes that are not UTF-8 reach us as lone surrogates (a shell argument) and crash
    # the tokenizer; they become "?" like any undecodable byte
    message = message.encode("utf-8", "replace").decode("utf-8").replace("\x00", "").strip()
    if len(message) > MAX_CHARS:
        # subtle: the question often closes a long message ("... so where is my order?")
        half = (MAX_CHARS - 3) // 2  # room for " … "
        return f"{message[:half]} … {message[-half:]}", \
            f"Your message was {len(message):,} characters; I read the first and last {half:,}."
    return message, ""


def is_follow_up(message: str) -> bool:
    """Whether a message may lean on an earlier turn: a pronoun ("how much is it?"), an
    elliptical opening ("what about e-bikes?", "and for kids?") or a question without a subject
    of its own (:func:`leans_wholly`); not an "it" that points ahead ("how much is it to ship a
    bike?", ``_DUMMY_IT``). Being short is no sign: "Where is my order?" and "Tell me a joke"
    stand alone.
    """
    words = set(re.findall(r"[a-z]+", _DUMMY_IT.sub(" ", _own_pronouns_left_out(message)).lower()))
    return bool(_ANAPHORA & words) or bool(_ELLIPSIS.match(message)) or leans_wholly(message)


def _own_pronouns_left_out(message: str) -> str:
    """``message`` without the pronouns that point at a thing of the customer's own named in an
    earlier clause (``_OWN_ANTECEDENT``), or at one it brings in before a clause that takes it up
    (``_NEW_ANTECEDENT``): "it" at a singular one, "they" at a plural one; as it is when a pronoun
    points back before it.

    >>> _own_pronouns_left_out("Can I take my e-bike and how much is it?")
    'Can I take my e-bike and how much is  ?'
    >>> _own_pronouns_left_out("my kids, can they ride it?")
    'my kids, can   ride it?'
    >>> _own_pronouns_left_out("Can I return an e-bike after riding it for a week?")
    'Can I return an e-bike after riding   for a week?'

    subtle: that question, after one on parking, was searched with the parking question and
    quoted the parking fees."""
    own = _OWN_ANTECEDENT.search(message) or _NEW_ANTECEDENT.search(message)
    if own is None or _ANAPHORA & set(re.findall(r"[a-z]+", message[:own.start()].lower())):
        return message
    plural = singular(own[1].lower()) != own[1].lower()
    return message[:own.end()] + _PRONOUNS_OF[plural].sub(" ", message[own.end():])


def leans_wholly(message: str) -> bool:
    """Whether a message means nothing without the turns before it: an elliptical opening
    ("and to Switzerland?") or a question that names no subject ("how much?", "how long do I
    have?"; not "why?", which asks nothing it could search). The intent model's verdict on such
    a message alone says nothing: "and to Switzerland?" after a shipping question was handed off
    as surely out of scope.
    """
    if re.match(_ELLIPTICAL, message, re.I):
        return True
    if _ELLIPSIS.match(message):  # "and to Switzerland?"; not "And can you recommend a restaurant?"
        return not _ASKS.match(_CONNECTIVE.sub("", message))
    # a question by its mark or its first word ("how long do i have"); "what's" leaves an "s"
    asking = {t for t in tokenize(_RATE.sub(" ", message))
              if len(t) > 1 and t not in _ANAPHORA and t not in ("whats", "hows", "wheres", "whens")}
    return ("?" in message or bool(_ASKS.match(message.strip()))) and bool(asking) and asking <= _ASKING


def new_subject(message: str) -> set[str]:
    """The words a follow-up brings in, plurals folded: for an elliptical one, the subject it
    asks the earlier question of instead; for one with a pronoun, which keeps the earlier
    subject, what it asks of it beyond what any question asks ("who can manage it?": "manage";
    "and how long does it take?": nothing). Empty for any other message.

    >>> sorted(new_subject("what about store credit?")), new_subject("and what about Safari?")
    (['credit', 'store'], {'safari'})
    >>> new_subject("and how much is it?"), new_subject("who can manage it?")
    (set(), {'manage'})
    """
    if points_back(message):
        # subtle: "who can manage it?" after a plan question quoted the plan answer again at 0.91,
        # though the FAQ "Who can manage edge cache?" was found too
        return word_set(message) - _ANAPHORA - _ASKING - _GENERIC
    opening = _ELLIPSIS.match(message)
    return word_set(message[opening.end():]) if opening else set()


def points_back(message: str) -> bool:
    """Whether a message has a pronoun that points back ("who can manage it?")."""
    return bool(_ANAPHORA & set(re.findall(r"[a-z]+", _own_pronouns_left_out(message).lower())))


def says_nothing_new(answer: Answer, message: str, earlier: list[Turn]) -> bool:
    """Whether ``answer`` to a follow-up only repeats quotes the conversation already gave and
    names none of the follow-up's new subject (:func:`new_subject`): the words of it the earlier
    questions did not use ("what about store credit?" after a gift-card answer got the gift-card
    quote again; "what about the Plus plan?" after a Team plan question the Team plan's, which
    says "plan" but never "Plus").

    subtle: a pronoun's follow-up that asks only what questions ask ("and how long does it
    take?") has no new subject: after a service answer it rightly repeats its "2 working days"
    without a word of the question.
    """
    if not new_subject(message) or not answer.citations:
        return False
    said = [t.answer for t in earlier]
    repeated = all(any(c.quote in text for text in said) for c in answer.citations)
    return repeated and not names_new_subject(answer, message, earlier)


def names_new_subject(answer: Answer, message: str, earlier: list[Turn]) -> bool:
    """Whether ``answer`` names the follow-up's new subject (:func:`new_subject`; the words of it
    the earlier questions did not use, else all of it); False when it has none."""
    subject = new_subject(message)
    asked = set().union(*(word_set(t.question) for t in earlier))
    named = {singular(w) for w in answer_words(answer.text)}
    # subtle: "unridden" names "ridden": "what if it was ridden?" after "Bikes must be unridden"
    # was answered from the passage naming it, "test-ridden by our mechanics before pickup"
    # (a participle after it only: "uninstall" does not name "install")
    named |= {w[len(negation):] for w in named for negation in ("un", "non")
              if w.startswith(negation) and w.endswith(("ed", "en", "d"))}
    return bool((subject - asked or subject) & named)


def separate_questions(message: str) -> list[str]:
    """The questions of a message that asks two or three on their own, in order; [] for a
    message with one (or more than three: a list to read whole, or an agent's). Text after the
    last question stays with it; text before a question, with it.

    >>> separate_questions("Where is my order? Also, can I change the delivery address?")
    ['Where is my order?', 'can I change the delivery address?']
    >>> separate_questions("Do you sell e-bikes? And for kids?")
    []
    >>> separate_questions("Do you sell e-bikes? How much are they?")  # "they" leans on the first
    []
    """
    parts: list[str] = []
    for piece in re.split(r"(?<=\?)\s+", message.strip()):
        if parts and "?" not in piece:
            parts[-1] += " " + piece  # "... ? Thanks!"
        else:
            parts.append(piece)
    if len(joined := [q for part in parts for q in _joined_questions(part)]) <= 3:
        parts = joined  # questions joined by "and" apart, unless that makes more than three
    if not 2 <= len(parts) <= 3:
        return []
    parts = [_CONNECTIVE.sub("", part) or part for part in parts]  # "Also, can I ...?" -> "can I ...?"
    asked = [re.split(r"(?<=[.!])\s+", part)[-1] for part in parts]  # the questions themselves
    # each a whole question of three words or more with a subject of its own ("Hi?", "what time?",
    # "Why not?", "Can you help?" are not)
    whole = all(_ASKS.match(q) and len(q.split()) >= 3 and set(tokenize(q)) - _GENERIC for q in asked)
    return parts if whole and not any(is_follow_up(q) for q in asked[1:]) else []  # quoted as written


def _joined_questions(piece: str) -> list[str]:
    """A question that joins two with "and" split in two, each with its question mark; else as it is:

    >>> _joined_questions("How long are gift cards valid and do you ship to Norway?")
    ['How long are gift cards valid?', 'do you ship to Norway?']

    subtle: one sentence asking two things got one answer: the Norway question went unanswered."""
    if not piece.rstrip().endswith("?"):
        return [piece]
    halves = _AND_ASKS.split(piece)
    return [half.rstrip(" ,") + "?" for half in halves[:-1]] + [halves[-1]]


def focus(message: str) -> str:
    """What a long message asks: its questions, when they name a subject of their own, else its
    last ``FOCUS_WORDS`` words (the story a "Can you help?" leans on); a short message whole.

    subtle: the encoders read a message's first words only, and "Hello, I have been a loyal
    customer ... Anyway, my question is: how long does standard delivery take?" was answered
    with the shop's Sunday hours.

    >>> focus("I love your shop. " * 20 + "Anyway: how long does delivery take? Thanks!")
    'Anyway: how long does delivery take?'
    """
    if len(message.split()) <= FOCUS_WORDS:
        return message
    sentences = re.split(r"(?<=[.!?])\s+", message)
    asked = " ".join(s for s in sentences if s.rstrip().endswith("?"))
    # subtle: by a count of two words, "Where is my order?" after a story was no question of its own
    if names_a_subject(asked) and not is_follow_up(asked):
        return asked
    return " ".join(message.split()[-FOCUS_WORDS:])


def contextual_query(earlier: list[str], message: str) -> str:
    """``message`` preceded by the earlier questions it leans on, back to the last one that
    stands alone, so a chain of follow-ups keeps its subject:

    >>> contextual_query(["Where is my order?", "What does a Full Service include?",
    ...                   "how much is it?"], "and how long does it take?")
    'What does a Full Service include? how much is it? and how long does it take?'
    """
    chain = [message]
    for question in reversed(earlier):
        chain.insert(0, question)
        if not is_follow_up(question):
            break
    return " ".join(chain)


# "a large one", "the cheaper ones": "one" standing for a noun of an earlier turn
# (not "the one I bought", "one of your plans", "a one-off fee": no noun of an earlier turn)
_ONE_FOR_A_NOUN = re.compile(r"\b(?:a|an|the|this|that|these|those)\s+(?:[a-z]+\s+)?ones?\b"
                             r"(?!-|\s+(?:of|i|you|we|they|he|she|that|which|who|my|your|our)\b)", re.I)


def stands_for_a_noun(message: str) -> bool:
    """Whether ``message`` says "one" for a thing an earlier turn named: "how much is a large
    one?" after "Do you sell boxes?" asks about a large box.

    >>> stands_for_a_noun("how much is a large one?"), stands_for_a_noun("is one month enough?")
    (True, False)
    """
    return bool(_ONE_FOR_A_NOUN.search(message))


# "and the other one?", "what about the other site?": the counterpart of what the earlier answer
# named (not "the other day", "the other way round")
_THE_OTHER = re.compile(r"\bthe other\b(?!\s+(?:day|week|month|time|times|way|hand)\b)", re.I)
OTHER_WORDS = 8  # a longer message asks more than for the other one


def asks_for_the_other(message: str) -> bool:
    """Whether a short follow-up asks the earlier question of the other thing of its kind: "and
    the other one?" after the Northfield site's address asks for the second site's.

    >>> asks_for_the_other("and the other one?"), asks_for_the_other("I rang the other day")
    (True, False)
    """
    return len(message.split()) <= OTHER_WORDS and bool(_THE_OTHER.search(message))


def swaps_subject(message: str) -> bool:
    """Whether a follow-up puts a subject of its own in the earlier one's place: an ellipsis that
    names one ("and for the family plan?", "what about Safari?"; not "and how much is it?").

    >>> swaps_subject("and for the family plan?"), swaps_subject("and how much is it?")
    (True, False)
    """
    return bool(_ELLIPSIS.match(message)) and bool(new_subject(message) - _ASKING - _GENERIC)


def names_a_subject(message: str) -> bool:
    """Whether ``message`` names something beyond pronouns and what a question asks of a subject
    ("how do I return it then": "return"; not "how much are they?")."""
    return bool(set(tokenize(message)) - _ANAPHORA - _ASKING - _GENERIC)
