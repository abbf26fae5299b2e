"""Names a message brings that the shop's own texts never use: "how do I cancel my Netflix
subscription" names Netflix, which no article and no intent example mentions, so any answer
the bot has is about something else. The intent model read "cancel ... subscription" and was
0.97 sure of the cancel FAQ; search finds the nearest passage for anything.

A name is a capitalised word inside a sentence ("Netflix", "PayPal"), not its first word.
Left out: "I", days and months (dates, not subjects), the words of a whole message typed in
capitals, people introducing themselves or signing ("I'm Sarah", "thanks, Tom"), and typos of
the shop's words ("Matercard", "ApplePay"). A word in capitals ("DHL", "PIN") is not taken for
a name: too many are common nouns.

>>> unknown_names("how do I cancel my Netflix subscription", {"cancel", "subscription"})
['Netflix']
>>> unknown_names("Hi, I'm Sarah Jones. Can I pay with PayPal on Sunday?", {"paypal", "pay"})
[]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from .masking import mask_pii
from .ranking import singular

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_CAPITALISED = re.compile(r"[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:'s)?")  # "Netflix", "PayPal", "Halfords's"
_SENTENCE_BREAK = re.compile(r"[.!?;:\n\"(\[]")  # what lies between a sentence's first word and the word before
_LINKS = re.compile(r"\S+://\S+|www\.\S+|\[[A-Z]+\]")  # URLs, and mask_pii's "[EMAIL]"
_DATES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june "
    "july august september october november december christmas easter".split())
# a person's name follows these: an introduction, a greeting, a sign-off, a title
_BEFORE_A_PERSON = re.compile(
    r"(?:\b(?:i'?m|i am|this is|name is|name's|hi|hello|hey|dear|thanks|thank you|cheers|mr|mrs|ms|miss|dr)[\s,.]*"
    r"|\b(?:best|regards|sincerely|wishes)\s*[,\n]\s*)$", re.IGNORECASE)


def vocabulary(texts: Iterable[str]) -> set[str]:
    """The words of the shop's own texts (articles, intent examples), lower case, plurals folded."""
    return {singular(w) for text in texts for w in re.findall(r"[a-z]+", text.lower())}


def _glued(word: str, known: set[str]) -> bool:
    """Whether ``word`` is two known words of 3 letters or more typed as one: ``"applepay"``."""
    return any(word[:i] in known and word[i:] in known for i in range(3, len(word) - 2))


def unknown_names(message: str, known: set[str], correct: Callable[[str], str] | None = None) -> list[str]:
    """The names in ``message`` (see the module's docstring) whose words ``known`` (from
    :func:`vocabulary`) lacks, in order, each once. ``correct``: a lower-case word's correction
    (the bot's speller); a name it corrects is a typo of a known word, not a name."""
    text = _LINKS.sub(" ", mask_pii(message.replace("\u2019", "'")))
    words = list(_WORD.finditer(text))
    capitals = [w for w in words if len(w.group()) > 1 and w.group().isupper()]
    if len(capitals) * 2 > len(words):  # "WHY HASN'T MY ORDER ARRIVED": shouting, not names
        return []
    found: list[str] = []
    person, end = False, 0
    for i, match in enumerate(words):
        word, between = match.group(), text[end:match.start()]
        first = i == 0 or bool(_SENTENCE_BREAK.search(between))
        # a run of capitalised words after "I'm" ("I'm Sarah Jones") is one person's name
        person = _CAPITALISED.fullmatch(word) is not None and (
            bool(_BEFORE_A_PERSON.search(text[:match.start()])) or (person and not between.strip()))
        end = match.end()
        if first or person or not _CAPITALISED.fullmatch(word):
            continue
        lower = word.lower().removesuffix("'s")
        if lower in _DATES or singular(lower) in known or singular(lower) in _DATES or _glued(lower, known) \
                or (correct is not None and correct(lower) != lower):
            continue
        if word.removesuffix("'s") not in found:
            found.append(word.removesuffix("'s"))
    return found
