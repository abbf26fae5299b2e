"""Countries a question names, for the tables that price by zone ("Zone 2; Countries: USA,
Canada, Australia"): the other names people write for them ("the States"), which are in the EU,
and the row for the rest of the world that a country no row lists falls in."""

from __future__ import annotations

import re
from functools import cache, lru_cache

from .ranking import word_set

# the names people write for a country a table lists otherwise ("wats roaming in the states": the
# row lists "USA"); "US" only in capitals, where "us" is a pronoun. The first is the one kept.
ALSO_CALLED = (("united states", "usa", "america", "the states", "US", "U.S.", "U.S.A."),
               ("united kingdom", "uk", "britain", "great britain"), ("netherlands", "holland"),
               ("united arab emirates", "uae", "emirates"), ("czechia", "czech republic"), ("turkey", "türkiye"))
EU = frozenset("austria belgium bulgaria croatia cyprus czechia denmark estonia finland france germany greece "
               "hungary ireland italy latvia lithuania luxembourg malta netherlands poland portugal romania "
               "slovakia slovenia spain sweden".split())
# Europe's other countries: a table's "Europe" may hold them, so they do not fall to the rest of the world
EUROPE = EU | {"norway", "iceland", "switzerland", "liechtenstein", "united kingdom", "albania", "andorra",
               "belarus", "bosnia & herzegovina", "moldova", "monaco", "montenegro", "north macedonia", "russia",
               "san marino", "serbia", "ukraine", "vatican city", "turkey", "gibraltar", "kosovo",
               "faroe islands", "guernsey", "jersey", "isle of man"}
# a row's cell for every country the others leave out
REST = re.compile(r"^(?:the\s+)?(?:rest\s+of\s+(?:the\s+)?world|everywhere\s+else|(?:all\s+)?other\s+(?:countries|"
                  r"destinations)|worldwide|international)$", re.I)


def _pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    """One name of ``names`` as a whole word: in capitals only where it is written so ("US")."""
    spelled = [re.escape(n) if n.isupper() else f"(?i:{re.escape(n)})" for n in sorted(names, key=len, reverse=True)]
    return re.compile(r"(?<![\w.])(?:" + "|".join(spelled) + r")(?!\w)")


_CALLED = [(names, _pattern(names)) for names in ALSO_CALLED]
# before a country written in lower case: "roaming in japan" names one, "can I return a jersey?" not
_AS_A_PLACE = re.compile(r"\b(?:in|to|from|into|visiting|around|across|within|via)\s+$", re.I)


def _names(pattern: re.Pattern[str], text: str) -> bool:
    """Whether ``pattern`` finds a country in ``text``: written with a capital, or as a place."""
    return any(m.group()[0].isupper() or _AS_A_PLACE.search(text[:m.start()]) for m in pattern.finditer(text))


@cache
def _countries() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Each country's English name (CLDR, through babel), lower case, with the pattern that finds
    it or another of its names in a text."""
    from babel import Locale

    territories = {n.lower() for code, n in Locale("en").territories.items() if code.isalpha()}
    aliases = {names[0]: names for names in ALSO_CALLED}
    return tuple((name, _pattern(aliases.get(name, (name,)))) for name in sorted(territories | set(aliases)))


@lru_cache(maxsize=1024)
def also_called(text: str) -> frozenset[str]:
    """The words of every name of the countries ``text`` names by one of ``ALSO_CALLED``:
    ``{"usa", "united", "states", "america", "us"}`` for "roaming in the States". Read once per
    question: it is asked of every table row search finds."""
    return frozenset(w for names, pattern in _CALLED if _names(pattern, text) for name in names
                     for w in word_set(name) if len(w) > 1)


@lru_cache(maxsize=1024)
def countries_in(text: str) -> frozenset[str]:
    """The countries ``text`` names (:func:`_names`), by their English names: ``{"united states"}``
    for "roaming in the states?". Kept for the last texts: a document's is asked again for each
    question naming a country."""
    return frozenset(name for name, pattern in _countries() if _names(pattern, text))
