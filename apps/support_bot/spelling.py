"""Typo correction before the bot reads a message: a word that neither the bot's own vocabulary
(its knowledge base and intent examples) nor the encoder's word list knows is replaced by the
closest word of the bot's vocabulary, one edit away (two for words of seven letters or more),
the most frequent of equally close ones.

subtle: the encoder's WordPiece list only says which words are real ("wife" is; "wnat" is not),
it never supplies a correction: corrected towards any English word, "wnat" has a dozen
neighbours. And without it a real word the shop never uses becomes one it does: on the demo,
"can my wife pick up my order" read "can my life pick up my order" ("life" is in an
out-of-scope example).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from .ranking import singular

_WORD = re.compile(r"[a-z]+")
_COMPOUND = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b")
# contractions typed without their apostrophe are words, not typos: "i cant login" became
# "i can login"
UNAPOSTROPHED = frozenset("cant dont wont doesnt isnt arent wasnt werent didnt hasnt havent hadnt "
                          "couldnt shouldnt wouldnt aint im ive id youre youve theyre thats whats "
                          "theres wheres hows lets".split())

# chat shorthand, read as the words it stands for; subtle: "wat r ur opening hrs" was handed off
# (store_hours at 0.37): "r" and "ur" are too short to correct, and "wat" and "hrs" are tokens
# of the encoder's list, so real words
SHORTHAND = {"u": "you", "ya": "you", "ur": "your", "r": "are", "wat": "what", "wot": "what", "whr": "where",
             "wen": "when", "abt": "about", "pls": "please", "plz": "please", "thx": "thanks", "hr": "hour",
             "hrs": "hours", "mins": "minutes", "wk": "week", "wks": "weeks", "yr": "year",
             "yrs": "years", "acct": "account", "addr": "address", "pwd": "password", "msg": "message",
             "cuz": "because", "coz": "because", "tmrw": "tomorrow", "sth": "something", "smth": "something",
             "ppl": "people", "rly": "really", "bday": "birthday", "hw": "how", "hwo": "how", "da": "the",
             "dat": "that", "dis": "this", "cn": "can", "ma": "my"}  # not "wats": watts
# shorthand that opens a question only: "wats roaming in the states" (an audit's, handed off as about
# "wats"), not "how many wats is the charger?"
OPENING = {"wats": "what's", "whats": "what's", "wots": "what's", "hows": "how's", "wheres": "where's",
           "whos": "who's"}
# what may come before it in its sentence: "hi, wats roaming?" (an audit's, handed off as about "wats")
_BEFORE_OPENING = frozenset("hi hey hello hiya ok okay so and but um erm oh also yes yeah no right well then".split())


def edit_distance(a: str, b: str, limit: int) -> int:
    """Insertions, deletions, substitutions and swaps of two neighbours (optimal string
    alignment) turning ``a`` into ``b``; ``limit + 1`` once it must exceed ``limit``.

    >>> edit_distance("wnat", "want", 2), edit_distance("delivary", "delivery", 2), edit_distance("lng", "long", 2)
    (1, 1, 1)
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, row = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (ca != cb))
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]


def _limit(word: str) -> int:
    """The edits a word may be away from its correction: 2 from seven letters on, else 1."""
    return 2 if len(word) >= 7 else 1


def _deletes(word: str, depth: int) -> set[str]:
    """``word`` and every string up to ``depth`` deleted letters make of it."""
    found, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _within(short: str, long: str) -> bool:
    """Whether ``short`` is ``long`` with letters left out: ``_within("ordr", "order") -> True``."""
    letters = iter(long)
    return all(c in letters for c in short)


class Speller:
    """``Speller(texts, known).correct("i wnat to retrun my bike") -> "i want to return my bike"``.

    ``texts``: the bot's own texts (KB chunks, intent examples): its vocabulary and word counts.
    ``known``: other real words (the encoder's whole-word tokens), left as they are.
    """

    def __init__(self, texts: Iterable[str], known: Iterable[str] = ()) -> None:
        texts = [text.lower() for text in texts]
        self.counts = Counter(w for text in texts for w in _WORD.findall(text))
        # the shop's hyphenated words typed as one: "ebike" is its "e-bike" (it read "bike")
        self.compounds = {c.replace("-", ""): c for text in texts for c in _COMPOUND.findall(text)}
        self.known = set(known) | set(self.counts) | UNAPOSTROPHED
        # subtle: comparing an unknown word with every word took 2-4 ms a message on the demo's
        # 800 words, and grows with the KB; two words within a few edits share a string that
        # deleting letters makes of both (SymSpell): 0.1 ms on 10k Banking77 texts' 2,312 words
        self._by_delete: dict[str, list[str]] = {}
        for word in self.counts:
            for variant in _deletes(word, _limit(word)):
                self._by_delete.setdefault(variant, []).append(word)
        self._done: dict[str, str] = {}

    def word(self, word: str) -> str:
        """``word`` itself when known or too short to judge (under 3 letters), else its correction
        (itself when nothing in the vocabulary is close enough)."""
        if word in self.compounds or (word.endswith("s") and word[:-1] in self.compounds):
            return self.compounds.get(word) or self.compounds[word[:-1]] + "s"
        if len(word) < 3 or word in self.known or singular(word) in self.known:
            return word  # subtle: the encoder's list lacks many plurals ("discounts")
        if word not in self._done:
            limit = _limit(word)
            candidates = {c for variant in _deletes(word, limit) for c in self._by_delete.get(variant, ())}
            best, best_key = word, (limit + 1,)
            for candidate in candidates:
                distance = edit_distance(word, candidate, limit)
                if distance > limit:
                    continue
                # equally close: a swap ("wnat" -> "want", not "what") or a dropped letter
                # ("wher" -> "where", not "when") first, the typos people make most, then the commoner word
                key = (distance, sorted(word) != sorted(candidate), not _within(word, candidate),
                       -self.counts[candidate], candidate)
                if key < best_key:
                    best, best_key = candidate, key
            if len(self._done) >= 10_000:  # a long-running bot meets endless new strings
                self._done.clear()
            self._done[word] = best
        return self._done[word]

    def correct(self, message: str) -> str:
        """``message`` with chat shorthand spelt out (``SHORTHAND``, known words or not: "ur" ->
        "your"; not a piece of "u-lock" or "u.k.") and each other unknown lower-case word
        corrected; capitals, digits and punctuation kept ("Klarna" stays: a name the shop may not
        know is no typo)."""
        return re.sub(r"(?<![\w'])[a-z]+(?![\w'])", self._read, message)

    def _read(self, match: re.Match[str]) -> str:
        """One word of :meth:`correct`: its shorthand's words, or its correction."""
        word, text, start, end = match.group(), match.string, match.start(), match.end()
        # subtle: not a piece of "u-lock", "u.k." or "u.s.", which read "you.k."
        glued = text[start - 1:start] in ("-", ".") or text[end:end + 1] == "-" or \
            (text[end:end + 1] == "." and text[end + 1:end + 2].isalpha())
        if word in OPENING and set(re.findall(r"\w+", re.split(r"[.?!]", text[:start])[-1].lower())) <= _BEFORE_OPENING:
            return OPENING[word]
        return SHORTHAND[word] if word in SHORTHAND and not glued else self.word(word)
