"""Table rows across a document's chunks: which text names a row of the documents search found
(:func:`row_namer`), the chunks that hold the rows a question names, leading the passages an
answer quotes (:func:`with_named_row`), and whether a text (a template's) lacks what they give
(:func:`lacks_named_rows`). How one sentence is read as a row, and which rows a question names,
is :mod:`.rows`'."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from .knowledge import ROW, Chunk, split_sentences
from .places import EU, EUROPE, REST, countries_in
from .ranking import word_set
from .retrieval import Passage
from .row_cells import ANY_COLUMN, MONEY, NUMBER, YES_OR_NO, cells_of, column_words_of, first_cell_of
from .rows import ASKS_PRICE, ROW_ASKING, SUPERLATIVE, named_rows, names_a_row


def row_namer(texts: list[str], passages: list[Passage], chunks_of: Callable[[str], list[Chunk]]) -> str | None:
    """The first of ``texts`` that names a table row (:func:`.rows.names_row`) of the passages'
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
             for _, value in cells_of(sentence)]
    country = unlisted[0]
    if country in EU and (eu := next((item for value in cells for item in value.split(", ")
                                      if "eu" in word_set(item)), None)):
        return f"{query} ({eu})"
    if country in EUROPE and re.search(r"\b(?:EU|Europe|European)\b", text):
        return None
    rest = next((value for value in cells if REST.match(value)), None)
    return f"{query} ({rest})" if rest else None


def named_columns(query: str, passages: list[Passage], chunks_of: Callable[[str], list[Chunk]]) -> set[str]:
    """The column-name words of the table rows ``query`` names (:func:`.rows.named_rows`) in the
    passages' documents, the first cell's header too: ``{"vehicle", "skerrin", "island",
    "haverby"}`` for "a car to Skerrin Island?"."""
    return {w for chunk in _table_chunks(passages, chunks_of) for sentences in [split_sentences(chunk.text)]
            for i in named_rows(query, sentences) for w in column_words_of(sentences[i])}


def names_another_row(words: set[str], query: str, passages: list[Passage],
                      chunks_of: Callable[[str], list[Chunk]]) -> bool:
    """Whether ``words`` hold the whole first cell of a table row of the passages' documents other
    than those ``query`` names (:func:`.rows.named_rows`), where it names one: ``{"sunday"}`` holds
    "Sunday" of a timetable whose rows open with the day, ``{"pause", "day"}`` not "Day Pass"."""
    if not words:
        return False
    rows = [(named_rows(query, sentences), sentences)
            for sentences in (split_sentences(chunk.text) for chunk in _table_chunks(passages, chunks_of))]
    named = {first_cell_of(sentences[i]) for found, sentences in rows for i in found}
    return bool(named) and any(cell not in named and (key := word_set(cell)) and key <= words
                               for _, sentences in rows for s in sentences if ROW.match(s)
                               for cell in [first_cell_of(s)])


def named_cells(query: str, passages: list[Passage], chunks_of: Callable[[str], list[Chunk]]) -> set[str]:
    """The first cells of the table rows ``query`` names (:func:`.rows.named_rows`) in the passages'
    documents: ``{"Day Pass"}`` for "how much is a day pass?"."""
    return _first_cells_named(query, _table_chunks(passages, chunks_of))


def _first_cells_named(query: str, chunks: list[Chunk]) -> set[str]:
    """The first cells of the table rows ``query`` names (:func:`.rows.named_rows`) in ``chunks``."""
    return {cell for chunk in chunks for sentences in [split_sentences(chunk.text)]
            for i in named_rows(query, sentences) if (cell := first_cell_of(sentences[i]).strip())}


def lacks_named_rows(message: str, query: str, text: str, found: list[Passage],
                     chunks_of: Callable[[str], list[Chunk]]) -> bool:
    """Whether ``text`` (an answer template's) may lack what the table rows ``query`` names give
    ``message``: it names them by a superlative ("Which site is the biggest?") and ``text`` names
    other rows of their table too (a list of them all), asks for their cells in the columns it
    names and ``text`` does not hold them all, or asks a price and ``text`` holds none of theirs
    (:func:`asked_cells`)."""
    if SUPERLATIVE.search(message):
        tables = _table_chunks(found, chunks_of)
        named = named_cells(query, found, chunks_of)
        others = {cell for chunk in tables for sentence in split_sentences(chunk.text) if ROW.match(sentence)
                  and (cell := first_cell_of(sentence).strip()) and cell not in named}
        said = word_set(text)
        return not all(word_set(c) <= said for c in named) or any(word_set(c) <= said for c in others)
    named, money = asked_cells(query, found, chunks_of)
    return not all(_holds(text, value) for value in named) or (
        bool(money) and not any(MONEY.search(value) for value in named) and not any(_holds(text, m) for m in money))


def _holds(text: str, value: str) -> bool:
    """Whether ``text`` gives a cell's ``value``: each of its numbers ("£18 per day" in "costs £18",
    "9:00 to 17:00" in "9:00-17:00"; not "06:30" in "6.30am"), else its words.

    >>> _holds("A Day Pass costs £18 (plus VAT).", "£18 per day"), _holds("Fenwick (£2.50)", "420")
    (True, False)
    """
    def numbers(words: str) -> set[float]:
        return {float(n.replace(",", "")) for n in NUMBER.findall(words)}

    if wanted := numbers(value):
        return wanted <= numbers(text)
    return word_set(value) <= word_set(text)


def asked_cells(query: str, passages: list[Passage], chunks_of: Callable[[str], list[Chunk]]
                ) -> tuple[set[str], set[str]]:
    """The cells of the table rows ``query`` names (:func:`.rows.named_rows`) in the passages' documents:
    those in the columns it names, and where it asks a price those of money: ``({"420"}, {"£2.50"})``
    for "How many spaces are there at Fenwick, and how much is it?" ("Site: Fenwick; Spaces: 420;
    Daily price: £2.50.")."""
    asked, price = word_set(query) - ANY_COLUMN - ROW_ASKING, bool(ASKS_PRICE.search(query))  # not "per"
    cells = [(header, value) for chunk in _table_chunks(passages, chunks_of)
             for sentences in [split_sentences(chunk.text)] for i in named_rows(query, sentences)
             for header, value in cells_of(sentences[i])]
    return ({value for header, value in cells if word_set(header) & asked and value.lower() not in YES_OR_NO},
            {value for _, value in cells if price and MONEY.search(value)})


def asks_beyond_rows(message: str, query: str, passages: list[Passage],
                     chunks_of: Callable[[str], list[Chunk]]) -> bool:
    """Whether ``message`` has a word beyond the first cells and column names of the table rows
    ``query`` names (:func:`.rows.named_rows`) and the words that ask a price: "Is there a fair use limit
    on the Unlimited SIM?" names the Unlimited row, which says nothing of fair use; "How much is a
    locker per month?" asks nothing beyond the Locker row."""
    said = {w for chunk in _table_chunks(passages, chunks_of) for sentences in [split_sentences(chunk.text)]
            for i in named_rows(query, sentences)
            for w in column_words_of(sentences[i]) | word_set(first_cell_of(sentences[i]))}
    return bool(word_set(message) - said - ROW_ASKING)


def _row_chunks(query: str, chunks: list[Chunk]) -> list[Chunk]:
    """The chunks of a document (``chunks``) that hold the table rows ``query`` names, the rows
    named in the whole document (:func:`.rows.named_rows`; a chunk naming others is left out): "Which SIM
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
    (:func:`.rows.asks_of_rows`); a passage of prose that speaks of a named row's thing then keeps the
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
