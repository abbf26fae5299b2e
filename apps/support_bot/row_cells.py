"""How a table row reads: a Markdown table's row is a sentence ("Vehicle: Car up to 5 m; Skerrin
Island: £42; Haverby: £68."); its cells, first cell and column names, and the amounts and clock
times its cells give. Which rows a question names is :mod:`.rows`'."""

from __future__ import annotations

import re

from shared.language import STOP_WORDS

from .knowledge import ROW, split_sentences
from .ranking import singular, word_set

# a cell that is an amount of money: "Price: £165", "Fee: 20 EUR"
MONEY = re.compile(r"[£$€¥₹]\s?\d|\d\s?(?:[£$€¥₹]|(?:EUR|USD|GBP|CHF|JPY|INR)\b)", re.I)
# a table's cell that says a row lacks what its column names: "5G: No", "Driving credit included: None"
NO = frozenset({"no", "none", "nil", "n/a", "-", "–", "—", "✗", "✘", "×", "0", "not included", "not available"})
# a cell that says only whether a row has its column's thing, which a template says in words of its own
YES_OR_NO = NO | {"yes", "✓", "✔", "included", "available"}
# a clock time in a cell: "05:15", "9.30", "7:30pm", "9am"; not "£9.30" nor a bare number. In a column that
# also holds evening times (from EVENING on), one before SMALL_HOURS is the next morning's
_CLOCK = re.compile(r"(?<![£$€¥₹\d.])\b(\d{1,2})(?:[:.]([0-5]\d))?(?![.,]?\d)\s?([ap])?(?(3)\.?m\b)", re.I)
_ROUND_THE_CLOCK = re.compile(r"\b(?:24\s*(?:hours|hrs|h)|24/7|round the clock)\b", re.I)
SMALL_HOURS, EVENING = 6, 18
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# words of column names that name no one column: "Price per month", "Data per month"
ANY_COLUMN = frozenset("day days week weeks month months year years hour hours price prices cost fee".split())


def clock_of(value: str, latest: bool) -> float | None:
    """A cell's latest clock time in minutes after midnight (a time before the cell's first counts
    as the next day's: "06:00 to 00:30" closes at 24:30), or for the earliest its earliest; for a
    cell open "24 hours", the latest and earliest of all; None for a cell with none.

    >>> clock_of("05:30 to 00:30", latest=True), clock_of("05:30 to 00:30", latest=False)
    (1470, 330)
    >>> clock_of("Every 5 minutes", latest=True) is None
    True
    >>> clock_of("Mon-Fri 06:00-22:00, Sat-Sun 08:00-18:00", latest=True), clock_of("9:00 to midnight", latest=True)
    (1320, 1440)
    >>> clock_of("24 hours", latest=True), clock_of("Open 24/7", latest=False)
    (inf, -inf)
    >>> clock_of("7:00am - 9:00pm", latest=True), clock_of("9am-4pm", latest=False), clock_of("£9.30", latest=True)
    (1260, 540, None)
    """
    if _ROUND_THE_CLOCK.search(value):
        return float("inf") if latest else float("-inf")
    spoken = re.sub(r"\bmidnight\b", "00:00", re.sub(r"\bnoon\b", "12:00", value, flags=re.I), flags=re.I)
    times = [(int(hours) % 12 + (12 if half.lower() == "p" else 0) if half else int(hours)) * 60 + int(minutes or 0)
             for hours, minutes, half in _CLOCK.findall(spoken)
             if (minutes or half) and int(hours) <= (12 if half else 24)]
    if not times:
        return None
    times = [m + (24 * 60 if m < times[0] else 0) for m in times]
    return max(times) if latest else min(times)


def overnight(column: dict[int, float]) -> dict[int, float]:
    """A column of clock times (minutes) that runs through the night: where it holds evening
    times too, those before ``SMALL_HOURS`` count as the next day's. ``{0: 30, 1: 1410}`` (00:30
    and 23:30) -> ``{0: 1470, 1: 1410}``; ``{0: 330, 1: 360}`` (05:30 and 06:00) as it is."""
    if not any(m >= EVENING * 60 for m in column.values()):
        return column
    return {i: m + (24 * 60 if m < SMALL_HOURS * 60 else 0) for i, m in column.items()}


def amount_of(value: str) -> float | None:
    """A cell's number: 60 for "60", 1350 for "£1,350 a year", infinity for "Unlimited", 0 for a
    :data:`NO` or "Free"; None for a cell with none."""
    if (text := value.strip().lower()) in NO or text == "free":
        return 0.0
    if text.startswith("unlimited"):
        return float("inf")
    return float(number.group().replace(",", "")) if (number := NUMBER.search(text)) else None


def row_name(sentence: str) -> str | None:
    """A table row as a customer names it, by its second column and its first cell (less the
    heading a table's first row carries); None for a sentence that is no row of two named cells.

    >>> row_name("Neutering: Procedure: Cat spay; Price: £165."), row_name("Hello there.")
    ('Price of Cat spay', None)
    """
    cells = sentence.rstrip(".").split("; ") if ROW.match(sentence) else []
    if len(cells) < 2 or ": " not in cells[0] or ": " not in cells[1]:
        return None
    return f"{cells[1].partition(': ')[0]} of {first_cell_of(sentence)}"


def first_cell_of(sentence: str) -> str:
    """A table row's first cell, less the heading a table's first row carries before it:
    "Neutering: Procedure: Cat spay; Price: £165." -> "Cat spay"."""
    return sentence.partition("; ")[0].rsplit(": ", 1)[-1]


def first_column_of(sentence: str) -> str:
    """A table row's first column's name, less a table's heading as :func:`first_cell_of`: "Neutering:
    Procedure: Cat spay; Price: £165." -> "Procedure"."""
    return sentence.partition("; ")[0].rsplit(": ", 1)[0].rsplit(": ", 1)[-1]


def columns_said(text: str) -> set[str]:
    """The column-name words of the table rows ``text`` quotes, plurals folded, the first column's
    and words of any column ("per", "month") left out: ``{"weekday", "saturday"}`` for "Line:
    Billing; Weekdays: 9:00-17:30; Saturday: Closed."."""
    return {singular(w) for sentence in split_sentences(text) if ROW.match(sentence)
            for header, _ in cells_of(sentence) for w in word_set(header)
            if w not in STOP_WORDS and w not in ANY_COLUMN}


def cells_of(sentence: str) -> list[tuple[str, str]]:
    """A table row's cells after the first, as (column name, value): ``[("Price", "£165")]`` for
    "Procedure: Cat spay; Price: £165."."""
    return [(header, value) for cell in sentence.rstrip(".").split("; ")[1:]
            for header, colon, value in [cell.partition(": ")] if colon]


def column_words_of(sentence: str) -> set[str]:
    """A table row's column-name words, the first cell's header too."""
    return {w for cell in sentence.rstrip(".").split("; ") for header, colon, _ in [cell.partition(": ")] if colon
            for w in word_set(header)}
