"""Which table rows of a text a question names: by its first cell and a column, a listed name, a size
limit, a superlative, an age, its cells (how one row reads is :mod:`.row_cells`'; across a
document's chunks and the passages search found, :mod:`.row_chunks`')."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from shared.language import STOP_WORDS, parts_of_speech

from .asking import gives_what_is_asked
from .knowledge import ROW, Chunk, split_sentences
from .places import REST, also_called
from .ranking import word_set
from .row_cells import (
    ANY_COLUMN,
    MONEY,
    NO,
    amount_of,
    cells_of,
    clock_of,
    column_words_of,
    first_cell_of,
    first_column_of,
    overnight,
)

# a size limit in a row's name: "Car up to 5 m", "Van over 3.5 t"
_LIMIT = re.compile(r"\b(up\s+to|under|over|below|above|less\s+than|more\s+than|at\s+most)\s+"
                    r"(\d[\d.,]*)\s*[a-z]{0,6}\b", re.I)
_BRACKETED = re.compile(r"\([^()]*\)")
_UPPER = ("up", "under", "below", "less", "at")  # the first word of a limit from above: "up to 5 m"
# the names of a column of money; a question asking a price names a row of one without saying "price":
# "how much is a cat spay?" names "Procedure: Cat spay; Price: £165."
_PRICE_HEADERS = frozenset("price prices cost costs fee fees fare fares charge charges".split())
# words that ask for a row's price, not for something beyond the row
ROW_ASKING = frozenset("much many cost costs price prices fee fees charge per".split())
# not "how much notice do I need?" or "how much pain is normal?": a price asked, not an amount of something
ASKS_PRICE = re.compile(r"\bhow much(?:\s+(?:is|are|was|does|do|did|will|would|for|to|it|they|money)\b|'s|\s*\?|$)"
                         r"|\b(?:costs?|costing|prices?|priced|fees?|fares?)\b", re.I)
PRICE = "£price"  # no word: a column of money, and a question that asks a price
# a question for something with a quantity: "Do you have a SIM plan with 100 GB?"
_ASKS_FOR_ONE = re.compile(r"\b(?:do\s+you\s+(?:have|offer|sell|do)|is\s+there|are\s+there|have\s+you\s+got|"
                           r"got\s+any|which|what)\b", re.I)
# a question for the rows that have something: "Which SIM plans have 5G?", "do you have a plan with 5G?"
_ASKS_WHICH_HAVE = re.compile(r"\b(?:which|what)\s+(?P<subject>(?:[\w'-]+\s+){0,3}?)(?:have|has|include|includes|"
                              r"offer|offers|get|gets|give|gives|come\s+with|comes\s+with|with)\b|"
                              r"\b(?:do\s+you\s+(?:have|offer|sell)|is\s+there|are\s+there)\s+"
                              r"(?P<thing>(?:[\w'-]+\s+){1,4}?)with\b", re.I)
# a question for the rows that lack something: "which plans don't have 5G?"
_LACKING = re.compile(r"\b(?:don'?t|doesn'?t|do\s+not|does\s+not|without|no|not)\b", re.I)
# words of a column's name that say a row has it: "Driving credit included"
_HAVING = frozenset("include included includes available offered allowed".split())
# a superlative, and whether it asks for the most: "the most free miles", "the cheapest"; not "at least 24
# hours" nor "most of my things"
SUPERLATIVE = re.compile(r"(?<!\bat )(?<!\bat the )\b(?:(most|highest|biggest|largest|longest|maximum|greatest|"
                          r"priciest|dearest|fastest|heaviest|latest)|(least|fewest|lowest|smallest|shortest|minimum|"
                          r"cheapest|slowest|lightest|earliest))\b(?! of\b)(?!\s+(?:version|news|update|release|model|"
                          r"edition|offers?|deals?)\b)", re.I)  # not "at the latest", "the latest news"
# a superlative of money: "the cheapest", "the most expensive", "the lowest weekend price"
_OF_MONEY = re.compile(r"\b(?:cheapest|priciest|dearest|expensive|prices?|costs?|fees?|fares?)\b", re.I)
# the column a superlative speaks of when the question names none: "the longest boat" -> "Bay length"
_MEASURES = {"longest": "length", "shortest": "length", "fastest": "speed", "slowest": "speed", "heaviest": "weight",
             "lightest": "weight", "biggest": "size area space capacity", "largest": "size area space capacity",
             "smallest": "size area space capacity", "latest": "last close closing until hour",
             "earliest": "first open opening from hour"}  # as word_set reads them: "hours" -> "hour"
# an age a question states ("my 70 year old dad", "a 15-year-old", "aged 70"), and the age ranges a
# row's first cell gives ("Adult (16-65)", "Junior (3 to 15)", "Senior (66 and over)", "66+", "under 5")
_AGE = re.compile(r"\b(\d{1,3})[- ]?(?:years?|yrs?)[- ]?old\b|\baged (\d{1,3})\b", re.I)
_SPAN = re.compile(r"(?<![:.£$€\d])\b(\d{1,3}) ?(?:-|–|to) ?(\d{1,3})\b(?![:.]\d)")  # not "07:00-09:30"
_FROM_AGE = re.compile(r"\b(\d{1,3}) ?(?:\+|and over\b|or over\b|and above\b|and older\b|or older\b)", re.I)
_UNDER_AGE = re.compile(r"\b(?:under|below) (\d{1,3})\b", re.I)
_PAYS = re.compile(r"\bpay\b", re.I)
# a question for when something is: "When is yoga at Eastmoor?" (a table row's time)
_ASKS_WHEN = re.compile(r"\s*when\s+(?:is|are|was|does|do|can|will)\b", re.I)  # not "When I book yoga, ..."


def names_row(query: str, sentence: str) -> bool:
    """Whether ``sentence`` is a table row that ``query`` names: each word of its first cell (one
    of two letters or more, not a number alone; a size limit such as "up to 5 m" left out) and a
    word of a column's name; or every word of an item of a cell that lists three or more short
    names ("USA, Canada, Australia": a row's keys too).

    >>> row = "Plan: Free; Max projects: 3."
    >>> names_row("projects on the Free plan?", row), names_row("on the Team plan?", row)
    (True, False)
    >>> names_row("is there a free trial?", row)  # no column named: "free" is a word here
    False
    >>> spay = "Neutering: Procedure: Cat spay; Price: £165."  # a table's first row, after its heading
    >>> names_row("how much is a cat spay?", spay), names_row("how much pain is normal after a cat spay?", spay)
    (True, False)
    >>> names_row("roaming in Australia?", "Zone: Zone 2; Countries: USA, Canada, Australia; Charge: £5.")
    True
    >>> names_row("a car to Skerrin Island?", "Vehicle: Car up to 5 m; Skerrin Island: £42; Haverby: £68.")
    True
    >>> names_row("when is the last N12?", "Route: N12 (bus); Last departure: 04:30.")
    True
    """
    if not ROW.match(sentence):
        return False
    key, asked, columns = _row_words(sentence, query)
    if any(len(w) > 1 and not w.isdigit() for w in key) and key <= asked and bool(columns & asked):
        return True
    # subtle: "roaming in Australia per day?" quoted Zone 3's "Rest of the world; £9 per day":
    # the country sat in the row's second cell, and its first, "Zone 2", was not asked
    # a list of names: three items or more, each of three words or fewer and capitalised ("USA,
    # Canada, Australia"; not "Free, uses your UK allowance", nor "calls, texts, data": "how do I
    # buy more data?" names no row)
    lists = [items for _, value in cells_of(sentence) if len(items := value.split(", ")) >= 3
             and all(len(item.split()) <= 3 and item[:1].isupper() for item in items)]
    asked |= also_called(query)
    if any(REST.match(value) and word_set(value) <= asked for _, value in cells_of(sentence)):
        return True  # "roaming in the rest of the world?"; a country no row lists (:func:`row_namer`)
    return any(words <= asked for items in lists for words in map(word_set, items)
               if any(len(w) > 2 and not w.isdigit() for w in words))


def named_rows(query: str, sentences: list[str]) -> list[int]:
    """The indices of the rows among ``sentences`` that ``query`` names (:func:`names_row`),
    less any whose first cell shares fewer of the query's words than another row's, in a column
    the query names: "a car to Skerrin Island?" names "Car up to 5 m", and "a car and caravan"
    names no row of "Car up to 5 m" and "Car with trailer or caravan". Where none is named, the
    one row whose first cell shares most names (capitalised inside it) is: "an annual season
    ticket for skerrin" names "Portcallow - Skerrin Island", not "Portcallow - Haverby"; where
    none is, the one row with a quantity the query states (:func:`_quantities`); for a question
    that asks for one (or a price), the row or rows a superlative asks for (:func:`_extreme`), else
    the rows that have what a "which ... have" question asks (:func:`_has_asked`).

    subtle: by any shared word, "a car to Skerrin Island?" named "Car with trailer or caravan",
    the one row of the chunk that ends the table."""
    return list(_named_rows(query, tuple(sentences)))


@lru_cache(maxsize=512)  # a key holds a document's sentences: a few MB at most
def _named_rows(query: str, sentences: tuple[str, ...]) -> tuple[int, ...]:
    """:func:`named_rows`, read once per question and text: an answer asks it of the same chunks
    and document several times (naming, leading, quoting; a 120-row table took 16 ms a question)."""
    shared, names, keys, whole = {}, {}, {}, {}
    for i, sentence in enumerate(sentences):
        if ROW.match(sentence):
            key, asked, columns = _row_words(sentence, query)
            keys[i] = key
            first_cell = first_cell_of(sentence)
            named_in_key = {w for w in word_set(" ".join(re.findall(r"(?<=\s)[A-Z][a-z]+", first_cell)))
                            if parts_of_speech(w) <= {"PROPN"}}  # a name, not "Island"
            asks = bool(columns & asked)
            whole[i] = word_set(_LIMIT.sub(" ", first_cell)) | key  # a bracketed note's words too
            shared[i] = len({w for w in whole[i] & asked if len(w) > 1 and not w.isdigit()}) if asks else 0
            names[i] = len(named_in_key & asked) if asks else 0
    most = max(shared.values(), default=0)
    named = [i for i in shared if shared[i] >= most and names_row(query, sentences[i])]
    if named:  # "an adult peak fare" names "Adult (peak)", not "Adult (off-peak)" too
        asked_words = word_set(query)
        return tuple([i for i in named if whole[i] <= asked_words] or named)
    top = max(names.values(), default=0)
    lone = [i for i in names if names[i] == top]
    if top and len(lone) == 1:
        return tuple(lone)
    if (closest := _closest_row(query, {i: keys[i] for i in shared if shared[i]})) is not None:
        return (closest,)
    # a row by an age or its cells, for a question asking what rows give ("what does my 8 year old pay?" too):
    # not "my 70 year old dad wants to cancel"
    asking, rows = asks_of_rows(query), {i: sentences[i] for i in keys}
    if (asking or _PAYS.search(query)) and (aged := _aged_row(query, rows)) is not None:
        return (aged,)
    if (asking or _ASKS_WHEN.match(query)) and (by_cells := _named_by_cells(query, rows)) is not None:
        return (by_cells,)
    if not (ASKS_PRICE.search(query) or _ASKS_FOR_ONE.search(query)):
        return ()  # "I want to cancel my 100 GB plan" names no row to quote: it asks to cancel
    if (extreme := _extreme(query, list(rows.values()))) is not None:
        return tuple(list(rows)[i] for i in extreme)  # a superlative asks nothing else: "which ... has the most"
    if which := _ASKS_WHICH_HAVE.search(query):  # from "which" on: not "I'm not sure, which plans have 5G?"
        asked, subject = query[which.start():], which.group("subject") or which.group("thing")
        if having := [i for i in keys if _has_asked(asked, sentences[i], subject)]:
            return tuple(having)
    valued = [i for i in names if any(words <= word_set(query) for words in _quantities(sentences[i]))]
    return tuple(valued) if len(valued) == 1 else ()


def _aged_row(query: str, rows: dict[int, str]) -> int | None:
    """Of ``rows`` (row index -> table row), the one whose first cell gives an age range holding
    the age ``query`` states ("a 70 year old", "aged 70"), where it is the one; else None.

    >>> rows = {0: "Ticket: Adult (16-65); Peak: £6.20.", 1: "Ticket: Junior (3-15); Peak: £3.40.",
    ...         2: "Ticket: Senior (66 and over); Peak: £3.90."}
    >>> _aged_row("How much is a swim for a 70 year old?", rows), _aged_row("and for my 15-year-old?", rows)
    (2, 1)

    subtle: "How much is an off-peak swim for a 70 year old?" was quoted the Adult and Junior rows."""
    if not (stated := _AGE.search(query)):
        return None
    age = int(stated.group(1) or stated.group(2))
    holding = [i for i, row in rows.items() if any(low <= age <= high for low, high in _age_ranges(first_cell_of(row)))]
    return holding[0] if len(holding) == 1 else None


def _age_ranges(cell: str) -> list[tuple[float, float]]:
    """The age ranges a cell gives: ``[(16, 65)]`` for "Adult (16-65)", ``[(66, inf)]`` for "Senior
    (66 and over)", ``[(0, 4)]`` for "Infant (under 5)"."""
    ranges = [(int(low), int(high)) for low, high in _SPAN.findall(cell)]
    ranges += [(int(low), float("inf")) for low in _FROM_AGE.findall(cell)]
    return ranges + [(0, int(high) - 1) for high in _UNDER_AGE.findall(cell)]


def _named_by_cells(query: str, rows: dict[int, str]) -> int | None:
    """Of ``rows`` (row index -> table row), the one whose cells' values hold most of the query's
    words (two or more, one outside its first cell; no stop word or number), where no other row
    holds as many and it gives what the query asks (:func:`.asking.gives_what_is_asked`): a row
    named by values outside its first cell. None where none does.

    >>> rows = {0: "Day: Monday; Class: Yoga; Site: Eastmoor.", 1: "Day: Thursday; Class: Yoga; Site: Central.",
    ...         2: "Day: Thursday; Class: Boxfit; Site: Eastmoor.", 3: "Day: Friday; Class: Spin; Site: Central."}
    >>> _named_by_cells("When is yoga at Eastmoor?", rows), _named_by_cells("When is yoga?", rows)
    (0, None)

    subtle: "When is yoga at Eastmoor?" was quoted Thursday's Boxfit at Eastmoor and Yoga at Central."""
    values = {i: (word_set(first_cell_of(row)), {w for _, value in cells_of(row) for w in word_set(value)})
              for i, row in rows.items()}
    # a word most rows hold names none of them: "line" in "Tram line: Red Line", "Tram line: Blue Line"
    common = Counter(w for first, rest in values.values() for w in first | rest)
    asked = {w for w in word_set(query) if len(w) > 2 and not w.isdigit() and w not in STOP_WORDS
             and common[w] <= max(len(rows) / 2, 2)}
    fit = {i: (len(asked & first), len(asked & rest - first)) for i, (first, rest) in values.items()}
    ranked = sorted(fit, key=lambda i: sum(fit[i]), reverse=True)
    if not ranked or sum(fit[best := ranked[0]]) < 2 or not fit[best][1] \
            or (len(ranked) > 1 and sum(fit[ranked[1]]) == sum(fit[best])):
        return None
    return best if gives_what_is_asked(query, rows[best]) else None


def _closest_row(query: str, keys: dict[int, set[str]]) -> int | None:
    """Of the rows ``keys`` gives (row index -> its first cell's words, as :func:`_row_words` reads
    them), the one whose first cell shares most words with ``query`` and leaves fewest out, where
    each word it leaves out is in another row's first cell too: a family's name, which a customer
    drops ("the Hub 3 Pro" for "Brightline Hub 3 Pro"); None where two rows tie or none shares a
    word. subtle: "How much is the Hub 3 Pro?" named no row, and the Mesh Booster's was quoted."""
    words = word_set(query)
    fit = {i: (len(key & words), len(key - words)) for i, key in keys.items()}
    ranked = sorted(fit, key=lambda i: (-fit[i][0], fit[i][1]))
    if not ranked or not fit[ranked[0]][0] or (len(ranked) > 1 and fit[ranked[1]] == fit[ranked[0]]):
        return None
    best = ranked[0]
    families = {w for i, key in keys.items() if i != best for w in key}
    return best if keys[best] - words <= families else None


def _has_asked(query: str, sentence: str, subject: str) -> bool:
    """Whether the table row ``sentence`` has something (no :data:`NO`) in each column ``query``
    names (lacks it, where the query asks what lacks it: :data:`_LACKING`), where the ``subject``
    asked for ("SIM plans" in "Which SIM plans have 5G?", "a plan" in "do you have a plan with
    5G?") shares a word with the table's first column: "Which SIM plans have 5G?" asks for the
    rows with "5G: Yes", "Which plan includes driving credit?" those with an amount in "Driving
    credit included", and "What data do I get when roaming?" no rows of the SIM plans.

    >>> plus, lite = ("SIM plan: Plus; Data per month: 100 GB; 5G: Yes; Price per month: £15.",
    ...               "SIM plan: Lite; Data per month: 5 GB; 5G: No; Price per month: £7.")
    >>> [_has_asked("Which SIM plans have 5G?", row, "SIM plans ") for row in (plus, lite)]
    [True, False]
    >>> _has_asked("which plans don't have 5G?", lite, "plans "), _has_asked("what phones have 5G?", plus, "phones ")
    (True, False)

    subtle: it was quoted the table's first chunk, whose one row is the Lite's "5G: No"."""
    if not word_set(subject) & word_set(first_column_of(sentence)):
        return False
    lacking = bool(_LACKING.search(query))
    named = [value.strip().lower() in NO for header, value in cells_of(sentence) if _names_column(query, header)]
    return bool(named) and all(lack == lacking for lack in named)


def _names_column(query: str, header: str) -> bool:
    """Whether ``query`` says each word of a column's name but those of any column, those that
    say a row has it and those in brackets: "free miles" names "Free miles per day", "driving
    credit" "Driving credit included", "weekend" "Weekend (Friday 17:00 to Monday 09:00)"."""
    words = word_set(re.sub(r"\([^)]*\)", " ", header)) - ANY_COLUMN - _HAVING - {"per"}
    return bool(words) and words <= word_set(query)


def _extreme(query: str, rows: list[str]) -> list[int] | None:
    """The indices of the rows of ``rows`` with the most (or least) in the column a superlative of
    ``query`` asks about: one it names or measures (:data:`_MEASURES`: "the longest boat" and
    "Bay length"), or for one of money ("cheapest") the money column that shares most words
    with it, else the first (:func:`amount_of`), all of them where they tie; None where the query
    has no superlative or there is no such column, none where fewer than two rows have a number in it.

    >>> rows = ["Car type: City; Free miles per day: 40.", "Car type: Electric; Free miles per day: 60.",
    ...         "Car type: Premium; Free miles per day: 30.", "Car type: Van; Free miles per day: 60."]
    >>> _extreme("Which car type gets the most free miles?", rows), _extreme("which has the fewest free miles?", rows)
    ([1, 3], [2])
    >>> _extreme("which car is the most fun?", rows) is None
    True
    >>> buses = ["Route: N1; First departure: 00:30; Last departure: 05:15.",
    ...          "Route: N7; First departure: 23:45; Last departure: 04:15.",
    ...          "Route: 12; First departure: 05:30; Last departure: 23:30."]
    >>> _extreme("Which bus runs latest?", buses), _extreme("which one starts earliest?", buses)
    ([0], [0])

    subtle: "Which car type gets the most free miles?" was quoted the Premium's 30 a day, the row of
    the chunk search found; the Electric's 60 was in the chunk before."""
    if not (superlative := SUPERLATIVE.search(query)):
        return None
    word = superlative.group().lower()
    measures = set(_MEASURES.get(word, "").split())
    values: dict[str, dict[int, float]] = {}
    for i, row in enumerate(rows):
        for header, value in cells_of(row):
            if word in word_set(header):
                continue  # "is there a minimum term?" names the column "Minimum term"
            if _names_column(query, header) or measures & word_set(header) or _OF_MONEY.search(query) \
                    and (MONEY.search(value) or word_set(header) & _PRICE_HEADERS):  # "Price: Free" too
                if (amount := _measured(value, word)) is not None:
                    values.setdefault(header, {})[i] = amount
    if not values:
        return None
    asked = word_set(query)  # "cheapest car for a day": the "Per day" column of several priced ones
    header = max(values, key=lambda h: (_names_column(query, h) or bool(measures & word_set(h)),
                                        len(word_set(h) & asked)))
    column = values[header]
    if word == "latest":
        column = overnight(column)
    best = (max if superlative.group(1) else min)(column.values())
    return [i for i, amount in column.items() if amount == best] if len(column) > 1 else []


def _measured(value: str, superlative: str) -> float | None:
    """A cell as a superlative reads it: for "latest" or "earliest" its clock time (none in a cell
    of money: :func:`.row_cells.clock_of`), else its amount (:func:`.row_cells.amount_of`)."""
    if superlative not in ("latest", "earliest"):
        return amount_of(value)
    return None if MONEY.search(value) else clock_of(value, latest=superlative == "latest")


def _quantities(sentence: str) -> list[set[str]]:
    """The words of a row's cells (the first left out) that state a quantity, a number with its
    unit and no money: ``[{"100", "gb"}]`` for "SIM plan: Plus; Data per month: 100 GB; Price per
    month: £15." A question stating one names the one row that has it.

    subtle: "Do you have a SIM plan with 100 GB?" named no row (the plan is "Plus"), and "how much
    is it?" after it quoted the rows not said yet, the Lite's £7 and the Everyday's £11."""
    cells = [value for _, value in cells_of(sentence) if not MONEY.search(value)]
    return [words for value in cells for words in [word_set(value)]
            if any(w.isdigit() for w in words) and any(w.isalpha() for w in words)]


def _row_words(sentence: str, query: str) -> tuple[set[str], set[str], set[str]]:
    """A table row's first-cell words (a size limit left out, unless the query states another),
    the query's words and the row's column-name words, each with :data:`PRICE` where the query
    asks a price and the row has a price column (by its name, or an amount of money in it)."""
    first = first_cell_of(sentence)
    # a note in brackets is no part of the name: "the first N12" names "N12 (bus)"
    key = word_set(_BRACKETED.sub(" ", _LIMIT.sub(" ", first))) or word_set(first)
    if (limit := _LIMIT.search(first)) and (stated := _LIMIT.search(query)) and _bound(limit) != _bound(stated):
        key = key | {limit.group()}  # subtle: "a car over 5 m?" had named "Car up to 5 m": a limit stated is matched
    columns = column_words_of(sentence)
    priced = bool(columns & _PRICE_HEADERS) or any(MONEY.search(value) for _, value in cells_of(sentence))
    asked = word_set(query) | ({PRICE} if ASKS_PRICE.search(query) else set())
    return key, asked, columns | ({PRICE} if priced else set())


def _bound(limit: re.Match[str]) -> tuple[bool, str]:
    """A size limit as (from above?, number): "up to 5 m" and "under 5m" alike, "under 1" not
    "under 12"."""
    return limit.group(1).split()[0].lower() in _UPPER, limit.group(2).replace(",", "").rstrip(".")


def names_a_row(query: str, chunk: Chunk) -> bool:
    # every grounded answer asks this of its passages' documents, nearly all without a table:
    # a chunk with no row separator is not split into sentences
    return "; " in chunk.text and bool(named_rows(query, split_sentences(chunk.text)))


def asks_of_rows(message: str) -> bool:
    """Whether ``message`` asks what a table's rows give: clock times, a price, how long, a contact
    (:func:`.asking.gives_what_is_asked`), the rows that have something, or the extreme one.

    >>> asks_of_rows("What time does the gate close on Sunday?"), asks_of_rows("Can I challenge a cleaning fee?")
    (True, False)
    """
    return (not gives_what_is_asked(message, "") or bool(_ASKS_WHICH_HAVE.search(message))
            or bool(SUPERLATIVE.search(message)))
