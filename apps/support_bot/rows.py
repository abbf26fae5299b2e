"""Table rows in the knowledge base: a Markdown table's row is a sentence ("Vehicle: Car up to 5 m;
Skerrin Island: £42; Haverby: £68."), and a question can name one by its first cell and a column.
Which rows a question names, and the chunk that holds them, for the answers quoting them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

from shared.language import STOP_WORDS, parts_of_speech

from .asking import gives_what_is_asked
from .knowledge import ROW, Chunk, split_sentences
from .places import EU, EUROPE, REST, also_called, countries_in
from .ranking import singular, word_set
from .retrieval import Passage

# a size limit in a row's name: "Car up to 5 m", "Van over 3.5 t"
_LIMIT = re.compile(r"\b(up\s+to|under|over|below|above|less\s+than|more\s+than|at\s+most)\s+"
                    r"(\d[\d.,]*)\s*[a-z]{0,6}\b", re.I)
_BRACKETED = re.compile(r"\([^()]*\)")
_UPPER = ("up", "under", "below", "less", "at")  # the first word of a limit from above: "up to 5 m"
# a cell that is an amount of money, and the words that ask one: "how much is a cat spay?" names
# the row "Procedure: Cat spay; Price: £165." without saying "price"
_MONEY = re.compile(r"[£$€¥₹]\s?\d|\d\s?(?:[£$€¥₹]|(?:EUR|USD|GBP|CHF|JPY|INR)\b)", re.I)
_PRICE_HEADERS = frozenset("price prices cost costs fee fees fare fares charge charges".split())
# words that ask for a row's price, not for something beyond the row
_ROW_ASKING = frozenset("much many cost costs price prices fee fees charge per".split())
# not "how much notice do I need?" or "how much pain is normal?": a price asked, not an amount of something
_ASKS_PRICE = re.compile(r"\bhow much(?:\s+(?:is|are|was|does|do|did|will|would|for|to|it|they|money)\b|'s|\s*\?|$)"
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
# a table's cell that says a row lacks what its column names: "5G: No", "Driving credit included: None"
_NO = frozenset({"no", "none", "nil", "n/a", "-", "–", "—", "✗", "✘", "×", "0", "not included", "not available"})
# a cell that says only whether a row has its column's thing, which a template says in words of its own
_YES_OR_NO = _NO | {"yes", "✓", "✔", "included", "available"}
# words of a column's name that say a row has it: "Driving credit included"
_HAVING = frozenset("include included includes available offered allowed".split())
# a superlative, and whether it asks for the most: "the most free miles", "the cheapest"; not "at least 24
# hours" nor "most of my things"
_SUPERLATIVE = re.compile(r"(?<!\bat )\b(?:(most|highest|biggest|largest|longest|maximum|greatest|priciest|dearest|"
                          r"fastest|heaviest)|(least|fewest|lowest|smallest|shortest|minimum|cheapest|slowest|"
                          r"lightest))\b(?! of\b)", re.I)
# a superlative of money: "the cheapest", "the most expensive", "the lowest weekend price"
_OF_MONEY = re.compile(r"\b(?:cheapest|priciest|dearest|expensive|prices?|costs?|fees?|fares?)\b", re.I)
# the column a superlative speaks of when the question names none: "the longest boat" -> "Bay length"
_MEASURES = {"longest": "length", "shortest": "length", "fastest": "speed", "slowest": "speed", "heaviest": "weight",
             "lightest": "weight", "biggest": "size area space capacity", "largest": "size area space capacity",
             "smallest": "size area space capacity"}
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# words of column names that name no one column: "Price per month", "Data per month"
_ANY_COLUMN = frozenset("day days week weeks month months year years hour hours price prices cost fee".split())


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
    lists = [items for _, value in _cells(sentence) if len(items := value.split(", ")) >= 3
             and all(len(item.split()) <= 3 and item[:1].isupper() for item in items)]
    asked |= also_called(query)
    if any(REST.match(value) and word_set(value) <= asked for _, value in _cells(sentence)):
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
            first_cell = _first_cell(sentence)
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
    if not (_ASKS_PRICE.search(query) or _ASKS_FOR_ONE.search(query)):
        return ()  # "I want to cancel my 100 GB plan" names no row to quote: it asks to cancel
    if (extreme := _extreme(query, [sentences[i] for i in keys])) is not None:
        return tuple(list(keys)[i] for i in extreme)  # a superlative asks nothing else: "which ... has the most"
    if which := _ASKS_WHICH_HAVE.search(query):  # from "which" on: not "I'm not sure, which plans have 5G?"
        asked, subject = query[which.start():], which.group("subject") or which.group("thing")
        if having := [i for i in keys if _has_asked(asked, sentences[i], subject)]:
            return tuple(having)
    valued = [i for i in names if any(words <= word_set(query) for words in _quantities(sentences[i]))]
    return tuple(valued) if len(valued) == 1 else ()


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
    """Whether the table row ``sentence`` has something (no :data:`_NO`) in each column ``query``
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
    if not word_set(subject) & word_set(_first_column(sentence)):
        return False
    lacking = bool(_LACKING.search(query))
    named = [value.strip().lower() in _NO for header, value in _cells(sentence) if _names_column(query, header)]
    return bool(named) and all(lack == lacking for lack in named)


def _names_column(query: str, header: str) -> bool:
    """Whether ``query`` says each word of a column's name but those of any column, those that
    say a row has it and those in brackets: "free miles" names "Free miles per day", "driving
    credit" "Driving credit included", "weekend" "Weekend (Friday 17:00 to Monday 09:00)"."""
    words = word_set(re.sub(r"\([^)]*\)", " ", header)) - _ANY_COLUMN - _HAVING - {"per"}
    return bool(words) and words <= word_set(query)


def _extreme(query: str, rows: list[str]) -> list[int] | None:
    """The indices of the rows of ``rows`` with the most (or least) in the column a superlative of
    ``query`` asks about: one it names or measures (:data:`_MEASURES`: "the longest boat" and
    "Bay length"), or for one of money ("cheapest") the money column that shares most words
    with it, else the first (:func:`_amount`), all of them where they tie; None where the query
    has no superlative or there is no such column, none where fewer than two rows have a number in it.

    >>> rows = ["Car type: City; Free miles per day: 40.", "Car type: Electric; Free miles per day: 60.",
    ...         "Car type: Premium; Free miles per day: 30.", "Car type: Van; Free miles per day: 60."]
    >>> _extreme("Which car type gets the most free miles?", rows), _extreme("which has the fewest free miles?", rows)
    ([1, 3], [2])
    >>> _extreme("which car is the most fun?", rows) is None
    True

    subtle: "Which car type gets the most free miles?" was quoted the Premium's 30 a day, the row of
    the chunk search found; the Electric's 60 was in the chunk before."""
    if not (superlative := _SUPERLATIVE.search(query)):
        return None
    word = superlative.group().lower()
    measures = set(_MEASURES.get(word, "").split())
    values: dict[str, dict[int, float]] = {}
    for i, row in enumerate(rows):
        for header, value in _cells(row):
            if word in word_set(header):
                continue  # "is there a minimum term?" names the column "Minimum term"
            if _names_column(query, header) or measures & word_set(header) or _OF_MONEY.search(query) \
                    and (_MONEY.search(value) or word_set(header) & _PRICE_HEADERS):  # "Price: Free" too
                if (amount := _amount(value)) is not None:
                    values.setdefault(header, {})[i] = amount
    if not values:
        return None
    asked = word_set(query)  # "cheapest car for a day": the "Per day" column of several priced ones
    header = max(values, key=lambda h: (_names_column(query, h) or bool(measures & word_set(h)),
                                        len(word_set(h) & asked)))
    column = values[header]
    best = (max if superlative.group(1) else min)(column.values())
    return [i for i, amount in column.items() if amount == best] if len(column) > 1 else []


def _amount(value: str) -> float | None:
    """A cell's number: 60 for "60", 1350 for "£1,350 a year", infinity for "Unlimited", 0 for a
    :data:`_NO` or "Free"; None for a cell with none."""
    if (text := value.strip().lower()) in _NO or text == "free":
        return 0.0
    if text.startswith("unlimited"):
        return float("inf")
    return float(number.group().replace(",", "")) if (number := _NUMBER.search(text)) else None


def _quantities(sentence: str) -> list[set[str]]:
    """The words of a row's cells (the first left out) that state a quantity, a number with its
    unit and no money: ``[{"100", "gb"}]`` for "SIM plan: Plus; Data per month: 100 GB; Price per
    month: £15." A question stating one names the one row that has it.

    subtle: "Do you have a SIM plan with 100 GB?" named no row (the plan is "Plus"), and "how much
    is it?" after it quoted the rows not said yet, the Lite's £7 and the Everyday's £11."""
    cells = [value for _, value in _cells(sentence) if not _MONEY.search(value)]
    return [words for value in cells for words in [word_set(value)]
            if any(w.isdigit() for w in words) and any(w.isalpha() for w in words)]


def _row_words(sentence: str, query: str) -> tuple[set[str], set[str], set[str]]:
    """A table row's first-cell words (a size limit left out, unless the query states another),
    the query's words and the row's column-name words, each with :data:`PRICE` where the query
    asks a price and the row has a price column (by its name, or an amount of money in it)."""
    first = _first_cell(sentence)
    # a note in brackets is no part of the name: "the first N12" names "N12 (bus)"
    key = word_set(_BRACKETED.sub(" ", _LIMIT.sub(" ", first))) or word_set(first)
    if (limit := _LIMIT.search(first)) and (stated := _LIMIT.search(query)) and _bound(limit) != _bound(stated):
        key = key | {limit.group()}  # subtle: "a car over 5 m?" had named "Car up to 5 m": a limit stated is matched
    columns = _column_words(sentence)
    priced = bool(columns & _PRICE_HEADERS) or any(_MONEY.search(value) for _, value in _cells(sentence))
    asked = word_set(query) | ({PRICE} if _ASKS_PRICE.search(query) else set())
    return key, asked, columns | ({PRICE} if priced else set())


def row_name(sentence: str) -> str | None:
    """A table row as a customer names it, by its second column and its first cell (less the
    heading a table's first row carries); None for a sentence that is no row of two named cells.

    >>> row_name("Neutering: Procedure: Cat spay; Price: £165."), row_name("Hello there.")
    ('Price of Cat spay', None)
    """
    cells = sentence.rstrip(".").split("; ") if ROW.match(sentence) else []
    if len(cells) < 2 or ": " not in cells[0] or ": " not in cells[1]:
        return None
    return f"{cells[1].partition(': ')[0]} of {_first_cell(sentence)}"


def _first_cell(sentence: str) -> str:
    """A table row's first cell, less the heading a table's first row carries before it:
    "Neutering: Procedure: Cat spay; Price: £165." -> "Cat spay"."""
    return sentence.partition("; ")[0].rsplit(": ", 1)[-1]


def _first_column(sentence: str) -> str:
    """A table row's first column's name, less a table's heading as :func:`_first_cell`: "Neutering:
    Procedure: Cat spay; Price: £165." -> "Procedure"."""
    return sentence.partition("; ")[0].rsplit(": ", 1)[0].rsplit(": ", 1)[-1]


def columns_said(text: str) -> set[str]:
    """The column-name words of the table rows ``text`` quotes, plurals folded, the first column's
    and words of any column ("per", "month") left out: ``{"weekday", "saturday"}`` for "Line:
    Billing; Weekdays: 9:00-17:30; Saturday: Closed."."""
    return {singular(w) for sentence in split_sentences(text) if ROW.match(sentence)
            for header, _ in _cells(sentence) for w in word_set(header) if w not in STOP_WORDS and w not in _ANY_COLUMN}


def _cells(sentence: str) -> list[tuple[str, str]]:
    """A table row's cells after the first, as (column name, value): ``[("Price", "£165")]`` for
    "Procedure: Cat spay; Price: £165."."""
    return [(header, value) for cell in sentence.rstrip(".").split("; ")[1:]
            for header, colon, value in [cell.partition(": ")] if colon]


def _column_words(sentence: str) -> set[str]:
    """A table row's column-name words, the first cell's header too."""
    return {w for cell in sentence.rstrip(".").split("; ") for header, colon, _ in [cell.partition(": ")] if colon
            for w in word_set(header)}


def _bound(limit: re.Match[str]) -> tuple[bool, str]:
    """A size limit as (from above?, number): "up to 5 m" and "under 5m" alike, "under 1" not
    "under 12"."""
    return limit.group(1).split()[0].lower() in _UPPER, limit.group(2).replace(",", "").rstrip(".")


def names_a_row(query: str, chunk: Chunk) -> bool:
    # every grounded answer asks this of its passages' documents, nearly all without a table:
    # a chunk with no row separator is not split into sentences
    return "; " in chunk.text and bool(named_rows(query, split_sentences(chunk.text)))


def row_namer(texts: list[str], passages: list[Passage], chunks_of: Callable[[str], list[Chunk]]) -> str | None:
    """The first of ``texts`` that names a table row (:func:`names_row`) of the passages'
    documents (those search found); None when none does. A follow-up names rows with its own words, else with the
    question it follows: "how much will it cost per day?" after "will my phone work in Canada?"
    quoted Zone 3's "£9 per day", the row its own words came nearest."""
    chunks = _table_chunks(passages, chunks_of)
    if named := next((text for text in texts if any(names_a_row(text, c) for c in chunks)), None):
        return named
    docs = dict.fromkeys(c.doc_id for c in chunks)
    return next((zoned for text in texts[:1] for doc in docs if (zoned := _zoned(text, chunks_of(doc)))), None)


def _zoned(query: str, chunks: list[Chunk]) -> str | None:
    """``query`` with the row a country it names falls in, where the document (``chunks``) names
    the country nowhere: the EU's row for an EU country ("Countries: EU countries, Norway"), else
    the row for the rest of the world (``REST``: "Countries: Rest of the world"); None where
    there is none, or the country is in Europe and the document speaks of Europe.

    subtle: "How much does roaming cost in Japan?" was quoted the in-flight calls passage; the
    zones table's "Rest of the world" row has the answer."""
    if not (named := countries_in(query)):
        return None  # most questions: the document is not read
    text = " ".join(c.text for c in chunks)
    unlisted = sorted(named - countries_in(text))
    if not unlisted:
        return None
    cells = [value.strip() for c in chunks for sentence in split_sentences(c.text) if ROW.match(sentence)
             for _, value in _cells(sentence)]
    country = unlisted[0]
    if country in EU and (eu := next((item for value in cells for item in value.split(", ")
                                      if "eu" in word_set(item)), None)):
        return f"{query} ({eu})"
    if country in EUROPE and re.search(r"\b(?:EU|Europe|European)\b", text):
        return None
    rest = next((value for value in cells if REST.match(value)), None)
    return f"{query} ({rest})" if rest else None


def named_columns(query: str, passages: list[Passage], chunks_of: Callable[[str], list[Chunk]]) -> set[str]:
    """The column-name words of the table rows ``query`` names (:func:`named_rows`) in the
    passages' documents, the first cell's header too: ``{"vehicle", "skerrin", "island",
    "haverby"}`` for "a car to Skerrin Island?"."""
    return {w for chunk in _table_chunks(passages, chunks_of) for sentences in [split_sentences(chunk.text)]
            for i in named_rows(query, sentences) for w in _column_words(sentences[i])}


def named_cells(query: str, passages: list[Passage], chunks_of: Callable[[str], list[Chunk]]) -> set[str]:
    """The first cells of the table rows ``query`` names (:func:`named_rows`) in the passages'
    documents: ``{"Day Pass"}`` for "how much is a day pass?"."""
    return _first_cells_named(query, _table_chunks(passages, chunks_of))


def _first_cells_named(query: str, chunks: list[Chunk]) -> set[str]:
    """The first cells of the table rows ``query`` names (:func:`named_rows`) in ``chunks``."""
    return {cell for chunk in chunks for sentences in [split_sentences(chunk.text)]
            for i in named_rows(query, sentences) if (cell := _first_cell(sentences[i]).strip())}


def lacks_named_rows(message: str, query: str, text: str, found: list[Passage],
                     chunks_of: Callable[[str], list[Chunk]]) -> bool:
    """Whether ``text`` (an answer template's) may lack what the table rows ``query`` names give
    ``message``: it names them by a superlative ("Which site is the biggest?") and ``text`` names
    other rows of their table too (a list of them all), asks for their cells in the columns it
    names and ``text`` does not hold them all, or asks a price and ``text`` holds none of theirs
    (:func:`asked_cells`)."""
    if _SUPERLATIVE.search(message):
        tables = _table_chunks(found, chunks_of)
        named = named_cells(query, found, chunks_of)
        others = {cell for chunk in tables for sentence in split_sentences(chunk.text) if ROW.match(sentence)
                  and (cell := _first_cell(sentence).strip()) and cell not in named}
        said = word_set(text)
        return not all(word_set(c) <= said for c in named) or any(word_set(c) <= said for c in others)
    named, money = asked_cells(query, found, chunks_of)
    return not all(_holds(text, value) for value in named) or (
        bool(money) and not any(_MONEY.search(value) for value in named) and not any(_holds(text, m) for m in money))


def _holds(text: str, value: str) -> bool:
    """Whether ``text`` gives a cell's ``value``: each of its numbers ("£18 per day" in "costs £18",
    "9:00 to 17:00" in "9:00-17:00"; not "06:30" in "6.30am"), else its words.

    >>> _holds("A Day Pass costs £18 (plus VAT).", "£18 per day"), _holds("Fenwick (£2.50)", "420")
    (True, False)
    """
    def numbers(words: str) -> set[float]:
        return {float(n.replace(",", "")) for n in _NUMBER.findall(words)}

    if wanted := numbers(value):
        return wanted <= numbers(text)
    return word_set(value) <= word_set(text)


def asked_cells(query: str, passages: list[Passage], chunks_of: Callable[[str], list[Chunk]]
                ) -> tuple[set[str], set[str]]:
    """The cells of the table rows ``query`` names (:func:`named_rows`) in the passages' documents:
    those in the columns it names, and where it asks a price those of money: ``({"420"}, {"£2.50"})``
    for "How many spaces are there at Fenwick, and how much is it?" ("Site: Fenwick; Spaces: 420;
    Daily price: £2.50.")."""
    asked, price = word_set(query) - _ANY_COLUMN - _ROW_ASKING, bool(_ASKS_PRICE.search(query))  # not "per"
    cells = [(header, value) for chunk in _table_chunks(passages, chunks_of)
             for sentences in [split_sentences(chunk.text)] for i in named_rows(query, sentences)
             for header, value in _cells(sentences[i])]
    return ({value for header, value in cells if word_set(header) & asked and value.lower() not in _YES_OR_NO},
            {value for _, value in cells if price and _MONEY.search(value)})


def asks_beyond_rows(message: str, query: str, passages: list[Passage],
                     chunks_of: Callable[[str], list[Chunk]]) -> bool:
    """Whether ``message`` has a word beyond the first cells and column names of the table rows
    ``query`` names (:func:`named_rows`) and the words that ask a price: "Is there a fair use limit
    on the Unlimited SIM?" names the Unlimited row, which says nothing of fair use; "How much is a
    locker per month?" asks nothing beyond the Locker row."""
    said = {w for chunk in _table_chunks(passages, chunks_of) for sentences in [split_sentences(chunk.text)]
            for i in named_rows(query, sentences)
            for w in _column_words(sentences[i]) | word_set(_first_cell(sentences[i]))}
    return bool(word_set(message) - said - _ROW_ASKING)


def _row_chunks(query: str, chunks: list[Chunk]) -> list[Chunk]:
    """The chunks of a document (``chunks``) that hold the table rows ``query`` names, the rows
    named in the whole document (:func:`named_rows`; a chunk naming others is left out): "Which SIM
    plans have 5G?" names three rows, in two chunks. subtle: read a chunk at a time, "price of an
    extra large unit?" named the Large row in a chunk without the Extra Large one."""
    tables = [c for c in chunks if "; " in c.text]
    sentences = list(dict.fromkeys(s for c in tables for s in split_sentences(c.text)))  # chunks overlap
    named = {sentences[i] for i in named_rows(query, sentences)}
    holding = {c.ordinal: rows for c in tables for own in [split_sentences(c.text)]
               if (rows := {own[i] for i in named_rows(query, own)}) and rows <= named}
    chosen, left = set(), set().union(*holding.values())
    while left:  # the fewest chunks that hold them all: "Fibre 500 and Fibre 900" from one where one has both
        best = max(holding, key=lambda ordinal: (len(holding[ordinal] & left), -ordinal))
        chosen.add(best)
        left -= holding[best]
    return [c for c in tables if c.ordinal in chosen]


def asks_of_rows(message: str) -> bool:
    """Whether ``message`` asks what a table's rows give: clock times, a price, how long, a contact
    (:func:`.asking.gives_what_is_asked`), the rows that have something, or the extreme one.

    >>> asks_of_rows("What time does the gate close on Sunday?"), asks_of_rows("Can I challenge a cleaning fee?")
    (True, False)
    """
    return (not gives_what_is_asked(message, "") or bool(_ASKS_WHICH_HAVE.search(message))
            or bool(_SUPERLATIVE.search(message)))


def _speaks_of(chunk: Chunk, rows: list[Chunk], query: str) -> bool:
    """Whether a sentence of ``chunk`` that is no table row (a chunk after a table opens with its
    last row) holds every word of the first cell of a row ``query`` names in ``rows``: "You can
    dispute a cleaning fee within 14 days" speaks of the Cleaning row."""
    prose = [word_set(s) for s in split_sentences(chunk.text) if not ROW.match(s)]
    return any(word_set(cell) <= words for cell in _first_cells_named(query, rows) for words in prose)


def _table_chunks(passages: list[Passage], chunks_of: Callable[[str], list[Chunk]]) -> list[Chunk]:
    """The chunks with a row separator of the passages' documents, each document once."""
    return [c for doc in dict.fromkeys(p.chunk.doc_id for p in passages) for c in chunks_of(doc) if "; " in c.text]


def with_named_row(query: str, passages: list[Passage], chunks_of: Callable[[str], list[Chunk]],
                   found: list[Passage] = (), prose_first: bool = False) -> list[Passage]:
    """``passages``, led by the chunks that hold the table rows ``query`` names in the document of
    the first passage that holds one (:func:`_row_chunks`), in its place; when none of them holds
    one, by those of the first of their documents, else of the ``found`` passages' (the caller's:
    those above its floor), that has them. subtle: a table is chunked like prose, and "how many
    projects on the Free plan?" found the chunk with the Team and Business rows: it quoted "Max
    projects: Unlimited". "What's the fee if I don't return a Mesh
    Booster?" led with the returns FAQ's "£60 for the Hub 3", the booster's row (£35) second.

    ``prose_first``: the message asks beyond the rows, and not what rows give
    (:func:`asks_of_rows`); a passage of prose that speaks of a named row's thing then keeps the
    lead, the rows after it: "Can I challenge a cleaning fee?" was quoted the Cleaning row (£35),
    not the sentence on disputing one. Not another passage search found: "Can I end my trip
    anywhere in Cardiff?" was then quoted the Flex Zone's map before the Cardiff row."""
    if not passages:
        return passages
    holding = next((p for p in passages if names_a_row(query, p.chunk)), None)
    for passage in [holding] if holding else [*passages, *found]:
        if rows := _row_chunks(query, chunks_of(passage.chunk.doc_id)):
            # in its passage's place: "wats roaming in the states" was quoted the zones row, then the
            # passage on calls from planes that search had found in the roaming article
            # other chunks of that table go: read alone, each names its own extreme
            kept = [passage] if prose_first and _speaks_of(passage.chunk, rows, query) else []
            return [*kept, *(replace(passage, chunk=c) for c in rows),
                    *(p for p in passages if p is not passage and p.chunk not in rows
                      and not (p.chunk.doc_id == passage.chunk.doc_id and names_a_row(query, p.chunk)))]
    return passages
