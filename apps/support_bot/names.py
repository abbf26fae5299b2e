"""Names a message brings that the shop's own texts never use: "how do I cancel my Netflix
subscription" names Netflix, which no article and no intent example mentions, so any answer
the bot has is about something else. The intent model read "cancel ... subscription" and was
0.97 sure of the cancel FAQ; search finds the nearest passage for anything.

A name is a run of capitalised words inside a sentence ("Netflix", "Royal Mail"), not its
first word. Left out: "I", dates ("Sunday", "Black Friday"), words a chat capitalises ("Dear
Sir/Madam"), the words of a whole message typed in capitals, people introducing themselves or
signing ("I'm Sarah", "Thanks in advance, Maria"), and typos of the shop's words ("Matercard",
"ApplePay"). A word in capitals ("DHL", "PIN") is not taken for a name: too many are common nouns.

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
    "july august september october november december christmas easter day eve".split())
# words a chat capitalises that name nothing: "Dear Sir/Madam", "OK, Thanks"
_CHAT = frozenset("thanks thank please sorry hello hi hey yes no ok okay sir madam team everyone all regards "
                  "cheers".split())
# a person's name follows these: an introduction, a greeting, a sign-off, a title
_BEFORE_A_PERSON = re.compile(
    r"(?:\b(?:i'?m|i am|this is|name is|name's|hi|hello|hey|dear|thanks|thank you|cheers|regards|mr|mrs|ms|miss"
    r"|dr)[\s,.]*|\b(?:best|sincerely|wishes)\s*[,\n]\s*)$", re.IGNORECASE)
# a signature closes the message, on its own line or after thanks: "Thanks in advance, Maria"
_SIGNATURE = (re.compile(r"(?:\n|\b(?:thanks|thank you|cheers|best)\b[^.!?\n]*,)\s*$", re.IGNORECASE),
              re.compile(r"^\W*$"))


def vocabulary(texts: Iterable[str]) -> set[str]:
    """The words of the shop's own texts (articles, intent examples), lower case, plurals folded."""
    return {singular(w) for text in texts for w in re.findall(r"[a-z]+", text.lower())}


def _glued(word: str, known: set[str]) -> bool:
    """Whether ``word`` is two known words of 3 letters or more typed as one: ``"applepay"``."""
    return any(word[:i] in known and word[i:] in known for i in range(3, len(word) - 2))


def _runs(text: str) -> list[tuple[list[str], str, str]]:
    """Capitalised words standing together inside sentences, each run with the text before and
    after it: ``"do you use Royal Mail?" -> [(["Royal", "Mail"], "do you use ", "?")]``. A
    sentence's first word is no part of a run."""
    runs: list[tuple[list[str], str, str]] = []
    words, start, end, last = [], 0, 0, None
    for match in _WORD.finditer(text):
        between = text[end:match.start()]
        first = last is None or bool(_SENTENCE_BREAK.search(between))
        capitalised = _CAPITALISED.fullmatch(match.group()) is not None and not first
        if words and not (capitalised and between == " "):
            runs.append((words, text[:start], text[end:]))
            words = []
        if capitalised:
            start = match.start() if not words else start
            words.append(match.group())
        end, last = match.end(), match
    if words:
        runs.append((words, text[:start], text[end:]))
    return runs


def unknown_names(message: str, known: set[str], correct: Callable[[str], str] | None = None) -> list[str]:
    """The names in ``message`` (see the module's docstring) with a word ``known`` (from
    :func:`vocabulary`) lacks, in order, each once. ``correct``: a lower-case word's correction
    (the bot's speller); a name it corrects is a typo of a known word, not a name."""
    text = _LINKS.sub(" ", mask_pii(message.replace("\u2019", "'")))
    words = _WORD.findall(text)
    if sum(len(w) > 1 and w.isupper() for w in words) * 2 > len(words):  # "WHY HASN'T IT ARRIVED": shouting
        return []

    def unknown(word: str) -> bool:
        lower = singular(word.lower().removesuffix("'s"))
        return not (lower in known or lower in _CHAT or _glued(lower, known)
                    or (correct is not None and correct(lower) != lower))

    found: list[str] = []
    for run, before, after in _runs(text):
        lower = {singular(w.lower().removesuffix("'s")) for w in run}
        if lower & _DATES or _BEFORE_A_PERSON.search(before) \
                or (_SIGNATURE[0].search(before) and _SIGNATURE[1].match(after)):
            continue  # "Black Friday", "I'm Sarah Jones", "Thanks in advance, Maria"
        name = " ".join(run).removesuffix("'s")
        if any(unknown(w) for w in run) and name not in found:
            found.append(name)
    return found
